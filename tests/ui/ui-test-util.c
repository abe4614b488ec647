/* ui-test-util.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ui-test"

#include "config.h"

#include <adwaita.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>

#include "leaf-catalog.h"
#include "leaf-import.h"
#include "leaf-test.h"
#include "ui-test-util.h"

void
ui_test_init (int    *argc,
              char ***argv)
{
  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);
  leaf_test_init (argc, argv);
  gtk_init ();
  adw_init ();
}

static gboolean
quit_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  g_main_context_wakeup (NULL);
  return G_SOURCE_REMOVE;
}

/* Runs the default main context for @ms milliseconds. */
void
ui_test_iterate (guint ms)
{
  gboolean done = FALSE;

  g_timeout_add (ms, quit_cb, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

/* Runs the main context until @condition returns TRUE or @timeout_ms passes. */
gboolean
ui_test_wait_for (GSourceFunc condition,
                  gpointer    data,
                  guint       timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (!condition (data))
    {
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      ui_test_iterate (10);
    }
  return TRUE;
}

/* Puts @child in a window of the given size, shows it and lets it lay out and draw. */
GtkWidget *
ui_test_show (GtkWidget *child,
              int        width,
              int        height)
{
  GtkWidget *window = gtk_window_new ();

  gtk_window_set_default_size (GTK_WINDOW (window), width, height);
  gtk_window_set_child (GTK_WINDOW (window), child);
  gtk_window_present (GTK_WINDOW (window));
  ui_test_iterate (100);
  return window;
}

/* Draws @widget as it is now into a texture, through the renderer of its window. */
GdkTexture *
ui_test_render (GtkWidget *widget)
{
  GtkWidget *parent = gtk_widget_get_parent (widget);
  GtkSnapshot *snapshot = gtk_snapshot_new ();
  g_autoptr(GskRenderNode) node = NULL;
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);

  g_assert_cmpint (width, >, 0);
  g_assert_cmpint (height, >, 0);
  if (parent != NULL)
    {
      graphene_rect_t bounds;

      /* Through the parent, as GTK itself draws children; place the widget at the origin. */
      g_assert_true (gtk_widget_compute_bounds (widget, parent, &bounds));
      gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT (-bounds.origin.x, -bounds.origin.y));
      gtk_widget_snapshot_child (parent, widget, snapshot);
    }
  else
    {
      g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (widget);

      gdk_paintable_snapshot (paintable, snapshot, width, height);
    }
  node = gtk_snapshot_free_to_node (snapshot);
  g_assert_nonnull (node);
  return gsk_renderer_render_texture (gtk_native_get_renderer (gtk_widget_get_native (widget)),
                                      node, &GRAPHENE_RECT_INIT (0, 0, width, height));
}

/* Counts pixels within @tolerance (per channel, 0–255) of "#rrggbb" and at least 80% opaque. */
guint
ui_test_count_pixels (GdkTexture *texture,
                      const char *color,
                      int         tolerance)
{
  int width = gdk_texture_get_width (texture);
  int height = gdk_texture_get_height (texture);
  g_autofree guchar *data = g_malloc ((gsize) width * height * 4);
  GdkRGBA rgba;
  int r, g, b;
  guint count = 0;

  g_assert_true (gdk_rgba_parse (&rgba, color));
  r = (int) (rgba.red * 255 + 0.5), g = (int) (rgba.green * 255 + 0.5);
  b = (int) (rgba.blue * 255 + 0.5);
  gdk_texture_download (texture, data, (gsize) width * 4);
  for (gsize i = 0; i < (gsize) width * height; i++)
    {
      /* Premultiplied CAIRO_FORMAT_ARGB32 in native (little-endian) order: B, G, R, A. A widget
       * drawn alone has no background, so nearly opaque pixels count too, unpremultiplied. */
      const guchar *p = data + i * 4;

      if (p[3] >= 200 && ABS (p[2] * 255 / p[3] - r) <= tolerance
          && ABS (p[1] * 255 / p[3] - g) <= tolerance && ABS (p[0] * 255 / p[3] - b) <= tolerance)
        count++;
    }
  return count;
}

static gboolean
trigger_matches (GtkShortcutTrigger *trigger,
                 guint               keyval,
                 GdkModifierType     modifiers)
{
  if (GTK_IS_KEYVAL_TRIGGER (trigger))
    return gtk_keyval_trigger_get_keyval (GTK_KEYVAL_TRIGGER (trigger)) == keyval
           && gtk_keyval_trigger_get_modifiers (GTK_KEYVAL_TRIGGER (trigger)) == modifiers;
  if (GTK_IS_ALTERNATIVE_TRIGGER (trigger))
    return trigger_matches (gtk_alternative_trigger_get_first (GTK_ALTERNATIVE_TRIGGER (trigger)),
                            keyval, modifiers)
           || trigger_matches (gtk_alternative_trigger_get_second (GTK_ALTERNATIVE_TRIGGER (trigger)),
                               keyval, modifiers);
  return FALSE;
}

static gboolean
activate_in (GtkWidget          *widget,
             guint               keyval,
             GdkModifierType     modifiers,
             GtkPropagationPhase phase)
{
  g_autoptr(GListModel) controllers = gtk_widget_observe_controllers (widget);

  for (guint i = 0; i < g_list_model_get_n_items (controllers); i++)
    {
      g_autoptr(GtkEventController) controller = g_list_model_get_item (controllers, i);

      if (!GTK_IS_SHORTCUT_CONTROLLER (controller)
          || gtk_event_controller_get_propagation_phase (controller) != phase)
        continue;
      for (guint j = 0; j < g_list_model_get_n_items (G_LIST_MODEL (controller)); j++)
        {
          g_autoptr(GtkShortcut) shortcut = g_list_model_get_item (G_LIST_MODEL (controller), j);

          if (trigger_matches (gtk_shortcut_get_trigger (shortcut), keyval, modifiers)
              && gtk_shortcut_action_activate (gtk_shortcut_get_action (shortcut),
                                               GTK_SHORTCUT_ACTION_EXCLUSIVE, widget,
                                               gtk_shortcut_get_arguments (shortcut)))
            return TRUE;
        }
    }
  return FALSE;
}

/*
 * Delivers a key press to @widget the way GTK propagates it to shortcuts: capture-phase shortcut
 * controllers from the window down to @widget, then bubble-phase ones (where class key bindings
 * live) from @widget up. GTK has no public way to synthesise input events, so this walks the same
 * binding tables a real key press consults.
 */
gboolean
ui_test_press_key (GtkWidget       *widget,
                   guint            keyval,
                   GdkModifierType  modifiers)
{
  g_autoptr(GPtrArray) chain = g_ptr_array_new ();

  for (GtkWidget *w = widget; w != NULL; w = gtk_widget_get_parent (w))
    g_ptr_array_insert (chain, 0, w);
  for (guint i = 0; i < chain->len; i++)
    if (activate_in (g_ptr_array_index (chain, i), keyval, modifiers, GTK_PHASE_CAPTURE))
      return TRUE;
  for (guint i = chain->len; i > 0; i--)
    if (activate_in (g_ptr_array_index (chain, i - 1), keyval, modifiers, GTK_PHASE_BUBBLE))
      return TRUE;
  return FALSE;
}

GtkWidget *
ui_test_find_label (GtkWidget  *root,
                    const char *substring)
{
  if (GTK_IS_LABEL (root) && gtk_widget_get_mapped (root)
      && strstr (gtk_label_get_text (GTK_LABEL (root)), substring) != NULL)
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = ui_test_find_label (child, substring);

      if (found != NULL)
        return found;
    }
  return NULL;
}

GtkWidget *
ui_test_find_actionable (GtkWidget  *root,
                         const char *action_name)
{
  if (GTK_IS_ACTIONABLE (root) &&
      g_strcmp0 (gtk_actionable_get_action_name (GTK_ACTIONABLE (root)), action_name) == 0)
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = ui_test_find_actionable (child, action_name);

      if (found != NULL)
        return found;
    }
  return NULL;
}

/* @widget's first event controller of @type, or %NULL. */
GtkEventController *
ui_test_find_controller (GtkWidget *widget,
                         GType      type)
{
  g_autoptr(GListModel) controllers = gtk_widget_observe_controllers (widget);

  for (guint i = 0; i < g_list_model_get_n_items (controllers); i++)
    {
      g_autoptr(GtkEventController) controller = g_list_model_get_item (controllers, i);

      if (g_type_is_a (G_OBJECT_TYPE (controller), type))
        return controller;
    }
  return NULL;
}

GtkWidget *
ui_test_find_type (GtkWidget *root,
                   GType      type)
{
  if (g_type_is_a (G_OBJECT_TYPE (root), type))
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = ui_test_find_type (child, type);

      if (found != NULL)
        return found;
    }
  return NULL;
}

/* The message dialog on screen, if any. */
GtkWidget *
ui_test_find_message_dialog (void)
{
  GListModel *toplevels = gtk_window_get_toplevels ();

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GObject) window = g_list_model_get_item (toplevels, i);

      if (ADW_IS_MESSAGE_DIALOG (window) && gtk_widget_get_visible (GTK_WIDGET (window)))
        return GTK_WIDGET (window);
    }
  return NULL;
}

/* Focuses an item of @list (a grid or list view), as a click does, and returns the widget that
 * has the focus. */
GtkWidget *
ui_test_focus_item (GtkWidget *list)
{
  GtkWidget *focus;

  for (GtkWidget *child = gtk_widget_get_first_child (list); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    if (gtk_widget_get_mapped (child) && gtk_widget_grab_focus (child))
      break;
  focus = gtk_root_get_focus (gtk_widget_get_root (list));
  g_assert_nonnull (focus);
  g_assert_true (gtk_widget_is_ancestor (focus, list));
  return focus;
}

/* The first open window of @type, such as a viewer a key press opened. */
GtkWindow *
ui_test_find_toplevel (GType type)
{
  GListModel *toplevels = gtk_window_get_toplevels ();

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GObject) window = g_list_model_get_item (toplevels, i);

      if (g_type_is_a (G_OBJECT_TYPE (window), type))
        return GTK_WINDOW (window);
    }
  return NULL;
}

/*
 * Writes @per_class PNG photos into DIR/<class>/ for each class (or straight into @dir when
 * @classes is NULL), each a different flat colour with a few stripes, so that every file has its
 * own hash. Returns @dir's path.
 */
char *
ui_test_make_photos (const char         *dir,
                     const char * const *classes,
                     guint               per_class)
{
  const char *flat[] = { ".", NULL };
  const char * const *folders = classes ? classes : flat;
  static guint serial;

  for (guint c = 0; folders[c] != NULL; c++)
    {
      g_autofree char *folder = g_build_filename (dir, folders[c], NULL);

      g_assert_cmpint (g_mkdir_with_parents (folder, 0755), ==, 0);
      for (guint i = 0; i < per_class; i++)
        {
          g_autoptr(GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 48, 48);
          g_autofree char *name = g_strdup_printf ("photo-%03u.png", serial);
          g_autofree char *path = g_build_filename (folder, name, NULL);
          g_autoptr(GError) error = NULL;
          guchar *pixels = gdk_pixbuf_get_pixels (pixbuf);
          int stride = gdk_pixbuf_get_rowstride (pixbuf);

          serial++;
          for (int y = 0; y < 48; y++)
            for (int x = 0; x < 48; x++)
              {
                guchar *p = pixels + y * stride + x * 3;

                p[0] = (guchar) (40 + 50 * c + (x / 8 == (int) (serial % 6) ? 60 : 0));
                p[1] = (guchar) (120 + (serial * 7) % 100);
                p[2] = (guchar) (30 + (y * 3) % 40);
              }
          g_assert_true (gdk_pixbuf_save (pixbuf, path, "png", &error, NULL));
          g_assert_no_error (error);
        }
    }
  return g_strdup (dir);
}

/*
 * Makes the catalog DIR/test.leafscope of @per_class photos of each of @classes (see
 * ui_test_make_photos(), in DIR/photos), labelled by their folder. Returns its path.
 */
char *
ui_test_make_catalog (const char         *dir,
                      const char * const *classes,
                      guint               per_class)
{
  g_autofree char *photos = g_build_filename (dir, "photos", NULL);
  char *path = g_build_filename (dir, "test.leafscope", NULL);
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(LeafImportSummary) summary = NULL;
  g_autoptr(GError) error = NULL;
  LeafImportOptions options = { .folder_labels = LEAF_FOLDER_LABELS_ALWAYS };
  const char *paths[] = { photos, NULL };

  g_free (ui_test_make_photos (photos, classes, per_class));
  catalog = leaf_catalog_open (path, LEAF_CATALOG_OPEN_CREATE, &error);
  g_assert_no_error (error);
  summary = leaf_import_run (catalog, paths, &options, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  leaf_catalog_close (catalog);
  return path;
}

/* A run from scratch (no pretrained weights needed) of one epoch per phase on small images:
 * seconds on the photos of ui_test_make_photos(). */
void
ui_test_tiny_recipe (LeafRecipe *recipe)
{
  leaf_recipe_init_preset (recipe, LEAF_PRESET_ARTICLE);
  recipe->from_scratch = TRUE;
  recipe->head_epochs = 1;
  recipe->finetune_epochs = 1;
  recipe->image_size = 64;
  recipe->batch_size = 4;
  recipe->val_fraction = 0.25;
  recipe->seed = 7;
}
