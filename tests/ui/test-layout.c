/* test-layout.c: every view works from the smallest window up, in the language of LANGUAGE
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The window shows each view (the Library with its sidebar, Train after a run, Diagnose with a
 * result) at 800×600 and at its default size, and then Preferences, its Weights page, the
 * comparison of models and the photo viewer. Every visible control must lie inside the window, or inside the content of a
 * scrolled window, where scrolling reaches it; a label cut short must say so with an ellipsis
 * and carry its whole text in a tooltip, and a wrapped one must keep its words whole. meson runs this program once in English and once in
 * Spanish, whose words are longer.
 */

#define G_LOG_DOMAIN "test-layout"

#include "config.h"

#include "leaf-test.h"

#include <adwaita.h>
#include <glib/gi18n.h>
#include <locale.h>

#include "leaf-application.h"
#include "leaf-model-compare-dialog.h"
#include "leaf-preferences-window.h"
#include "leaf-viewer-window.h"
#include "leaf-window-private.h"
#include "ui-test-util.h"

/* The smallest size the window must allow: a small laptop's screen, less panels. */
#define MIN_WIDTH 800
#define MIN_HEIGHT 600

static const char *const class_names[] = { "healthy", "early blight", "late blight", NULL };

/* A 1-pixel slack for fractional scaling of CSS sizes. */
static gboolean
inside (const graphene_rect_t *bounds,
        int                    width,
        int                    height)
{
  return bounds->origin.x >= -1 && bounds->origin.y >= -1
         && bounds->origin.x + bounds->size.width <= width + 1
         && bounds->origin.y + bounds->size.height <= height + 1;
}

static gboolean
is_control (GtkWidget *widget)
{
  return GTK_IS_LABEL (widget) || GTK_IS_BUTTON (widget) || GTK_IS_MENU_BUTTON (widget)
         || GTK_IS_DROP_DOWN (widget) || GTK_IS_EDITABLE (widget) || GTK_IS_SWITCH (widget)
         || GTK_IS_CHECK_BUTTON (widget) || GTK_IS_SCALE (widget)
         || ADW_IS_SPLIT_BUTTON (widget) || GTK_IS_SCROLLED_WINDOW (widget);
}

static char *
describe (GtkWidget *widget)
{
  GtkWidget *label = GTK_IS_LABEL (widget) ? widget : ui_test_find_type (widget, GTK_TYPE_LABEL);
  const char *text = label ? gtk_label_get_text (GTK_LABEL (label)) : NULL;

  return g_strdup_printf ("%s%s%s%s", G_OBJECT_TYPE_NAME (widget), text ? " “" : "",
                          text ? text : "", text ? "”" : "");
}

/* Where @widget is cut off, or %NULL: by the window, or by an ancestor that clips, up to the
 * content of the nearest scrolled window, which scrolling reaches whole. */
static char *
find_clip (GtkWidget *widget,
           GtkWidget *root)
{
  graphene_rect_t bounds;

  for (GtkWidget *a = gtk_widget_get_parent (widget); a != NULL; a = gtk_widget_get_parent (a))
    {
      GtkWidget *clip = a;

      /* Lists and grids scroll their own rows into view. */
      if (GTK_IS_SCROLLABLE (a) && !GTK_IS_VIEWPORT (a))
        return NULL;
      if (GTK_IS_VIEWPORT (a))
        clip = gtk_viewport_get_child (GTK_VIEWPORT (a));
      else if (a != root && gtk_widget_get_overflow (a) != GTK_OVERFLOW_HIDDEN)
        continue;
      if (!gtk_widget_compute_bounds (widget, clip, &bounds))
        return g_strdup ("not placed");
      if (!inside (&bounds, gtk_widget_get_width (clip), gtk_widget_get_height (clip)))
        return g_strdup_printf ("at %.0f,%.0f %.0f×%.0f, outside %s %d×%d",
                                bounds.origin.x, bounds.origin.y, bounds.size.width,
                                bounds.size.height, G_OBJECT_TYPE_NAME (clip),
                                gtk_widget_get_width (clip), gtk_widget_get_height (clip));
      if (GTK_IS_VIEWPORT (a) || a == root)
        return NULL;
    }
  return NULL;
}

/* A wrapped label squeezed so narrow that it breaks a word of under 10 characters (longer
 * ones, which a user may name a class with, may break). */
static gboolean
breaks_words (GtkWidget *widget)
{
  g_auto(GStrv) words = g_strsplit_set (gtk_label_get_text (GTK_LABEL (widget)), " \n", -1);

  for (guint i = 0; words[i] != NULL; i++)
    {
      g_autoptr(PangoLayout) layout = NULL;
      int width;

      if (g_utf8_strlen (words[i], -1) >= 10)
        continue;
      layout = gtk_widget_create_pango_layout (widget, words[i]);
      pango_layout_get_pixel_size (layout, &width, NULL);
      if (width > gtk_widget_get_width (widget) + 1)
        return TRUE;
    }
  return FALSE;
}

/* A label shorter than its text with neither an ellipsis nor a tooltip that gives it whole. */
static gboolean
truncated_silently (GtkWidget *widget)
{
  GtkLabel *label = GTK_LABEL (widget);
  int natural;
  GtkWidget *w = widget;

  if (gtk_label_get_wrap (label) || gtk_label_get_text (label)[0] == '\0')
    return FALSE;
  /* Both with padding and border, and the natural size with margins too. */
  gtk_widget_measure (widget, GTK_ORIENTATION_HORIZONTAL, -1, NULL, &natural, NULL, NULL);
  if (natural <= gtk_widget_get_allocated_width (widget) + gtk_widget_get_margin_start (widget)
                 + gtk_widget_get_margin_end (widget) + 1)
    return FALSE;
  if (gtk_label_get_ellipsize (label) == PANGO_ELLIPSIZE_NONE)
    return TRUE;
  /* The tooltip may be the label's or its button's. */
  for (guint level = 0; w != NULL && level < 4; w = gtk_widget_get_parent (w), level++)
    if (gtk_widget_get_tooltip_text (w) != NULL)
      return FALSE;
  return TRUE;
}

static void
check_widgets (GtkWidget  *widget,
               GtkWidget  *root,
               const char *where,
               GPtrArray  *problems)
{
  if (!gtk_widget_get_mapped (widget) || gtk_widget_get_width (widget) == 0
      || gtk_widget_get_height (widget) == 0)
    return;
  /* Popovers are windows of their own. */
  if (GTK_IS_NATIVE (widget) && widget != root)
    return;
  if (is_control (widget))
    {
      g_autofree char *clip = find_clip (widget, root);
      g_autofree char *name = NULL;

      if (clip != NULL)
        {
          name = describe (widget);
          g_ptr_array_add (problems, g_strdup_printf ("%s: %s %s", where, name, clip));
        }
      else if (GTK_IS_LABEL (widget) && gtk_label_get_wrap (GTK_LABEL (widget))
               && breaks_words (widget))
        {
          name = describe (widget);
          g_ptr_array_add (problems, g_strdup_printf ("%s: %s breaks its words (%d px)", where,
                                                      name, gtk_widget_get_width (widget)));
        }
      else if (GTK_IS_LABEL (widget) && truncated_silently (widget))
        {
          name = describe (widget);
          g_ptr_array_add (problems, g_strdup_printf ("%s: %s is cut short (%d px of %s)",
                                                      where, name, gtk_widget_get_width (widget),
                                                      gtk_label_get_ellipsize (GTK_LABEL (widget))
                                                      ? "its text, without a tooltip"
                                                      : "its text, without an ellipsis"));
        }
    }
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    check_widgets (child, root, where, problems);
}

typedef struct
{
  GtkWidget *window;
  int width, height;
} Size;


/* Revealers and flaps that are still opening or closing. */
static gboolean
settled (GtkWidget *widget)
{
  if (GTK_IS_REVEALER (widget) && gtk_widget_get_mapped (widget)
      && gtk_revealer_get_reveal_child (GTK_REVEALER (widget))
         != gtk_revealer_get_child_revealed (GTK_REVEALER (widget)))
    return FALSE;
  if (ADW_IS_FLAP (widget) && gtk_widget_get_mapped (widget)
      && adw_flap_get_reveal_progress (ADW_FLAP (widget))
         != (adw_flap_get_reveal_flap (ADW_FLAP (widget)) ? 1.0 : 0.0))
    return FALSE;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    if (!settled (child))
      return FALSE;
  return TRUE;
}

static gboolean
has_size (gpointer data)
{
  Size *size = data;

  return gtk_widget_get_width (size->window) == size->width
         && gtk_widget_get_height (size->window) == size->height;
}

/* Gives @window's widget, without the frame the window may draw around it, @width×@height. */
static void
resize (GtkWidget *window,
        int        width,
        int        height)
{
  Size size = { window, width, height };
  int default_width, default_height;

  gtk_window_get_default_size (GTK_WINDOW (window), &default_width, &default_height);
  gtk_window_set_default_size (GTK_WINDOW (window),
                               width + default_width - gtk_widget_get_width (window),
                               height + default_height - gtk_widget_get_height (window));
  if (!ui_test_wait_for (has_size, &size, 10000))
    g_error ("%s stayed %d×%d instead of %d×%d", G_OBJECT_TYPE_NAME (window),
             gtk_widget_get_width (window), gtk_widget_get_height (window), width, height);
  /* Revealers, flaps and stacks animate into place. */
  ui_test_iterate (400);
}

static void
check_window (GtkWidget  *window,
              const char *view,
              GPtrArray  *problems)
{
  g_assert_true (ui_test_wait_for ((GSourceFunc) settled, window, 10000));
  g_autofree char *where = g_strdup_printf ("%s %s at %d×%d", g_getenv ("LANGUAGE"), view,
                                            gtk_widget_get_width (window),
                                            gtk_widget_get_height (window));

  check_widgets (window, window, where, problems);
  /* To look at them: LEAF_LAYOUT_SHOTS=FOLDER. */
  if (g_getenv ("LEAF_LAYOUT_SHOTS") != NULL)
    {
      g_autoptr(GdkTexture) texture = ui_test_render (window);
      g_autofree char *name = g_strconcat (where, ".png", NULL);
      g_autofree char *path = g_build_filename (g_getenv ("LEAF_LAYOUT_SHOTS"), name, NULL);

      g_assert_true (gdk_texture_save_to_png (texture, path));
    }
}

/* Neither training nor diagnosing, and with a diagnosis when @data asks for one. */
static gboolean
idle (gpointer data)
{
  LeafWindow *window = data;
  GListModel *results = leaf_diagnose_view_get_results (window->diagnose_view);

  return !leaf_train_view_is_running (window->train_view)
         && !leaf_diagnose_view_is_busy (window->diagnose_view)
         && (!GPOINTER_TO_INT (g_object_get_data (data, "want-diagnosis"))
             || g_list_model_get_n_items (results) > 0);
}

static void
check_views (LeafWindow *window,
             GPtrArray  *problems)
{
  static const char *const views[] = { "library", "train", "diagnose" };

  for (guint i = 0; i < G_N_ELEMENTS (views); i++)
    {
      leaf_window_show_view (window, views[i]);
      ui_test_iterate (300);
      check_window (GTK_WIDGET (window), views[i], problems);
    }
  /* A narrow window folds the sidebar away; shown again, it lies over the grid. */
  leaf_window_show_view (window, "library");
  if (!gtk_toggle_button_get_active (window->sidebar_button))
    {
      gtk_toggle_button_set_active (window->sidebar_button, TRUE);
      ui_test_iterate (400);
      check_window (GTK_WIDGET (window), "library with its sidebar", problems);
    }
}

static void
check_dialog (GtkWidget  *dialog,
              const char *name,
              GPtrArray  *problems)
{
  gtk_window_present (GTK_WINDOW (dialog));
  ui_test_iterate (300);
  check_window (dialog, name, problems);
  resize (dialog, MIN_WIDTH, MIN_HEIGHT);
  check_window (dialog, name, problems);
}

static void
test_layout (void)
{
  g_autofree char *dir = g_dir_make_tmp ("leafscope-layout-XXXXXX", NULL);
  g_autofree char *path = ui_test_make_catalog (dir, class_names, 6);
  g_autofree char *first_photo = g_build_filename (dir, "photos", "healthy", "photo-000.png",
                                                   NULL);
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFile) photo = NULL;
  /* The application, for its style sheet. */
  g_autoptr(LeafApplication) app = leaf_application_new (G_APPLICATION_NON_UNIQUE);
  LeafWindow *window;
  LeafRecipe recipe;
  GtkWidget *preferences, *viewer, *compare;
  g_autoptr(GPtrArray) models = NULL;
  int default_width, default_height, min_width, min_height;

  g_assert_true (g_application_register (G_APPLICATION (app), NULL, &error));
  g_assert_no_error (error);
  g_application_open (G_APPLICATION (app), &file, 1, "");
  ui_test_iterate (300);
  window = LEAF_WINDOW (gtk_application_get_active_window (GTK_APPLICATION (app)));
  g_assert_nonnull (window);
  gtk_window_get_default_size (GTK_WINDOW (window), &default_width, &default_height);

  /* The window allows the smallest size, and no less than what fits. */
  gtk_widget_measure (GTK_WIDGET (window), GTK_ORIENTATION_HORIZONTAL, -1, &min_width, NULL,
                      NULL, NULL);
  gtk_widget_measure (GTK_WIDGET (window), GTK_ORIENTATION_VERTICAL, min_width, &min_height,
                      NULL, NULL, NULL);
  g_test_message ("The window's minimum size: %d×%d", min_width, min_height);
  {
    GtkWidget *parts[] = { GTK_WIDGET (window->header_bar), GTK_WIDGET (window->library_view),
                           GTK_WIDGET (window->train_view), GTK_WIDGET (window->diagnose_view) };

    /* Which part asks for more, when the window does. */
    for (guint i = 0; i < G_N_ELEMENTS (parts); i++)
      {
        int part_width, part_height;

        gtk_widget_measure (parts[i], GTK_ORIENTATION_HORIZONTAL, -1, &part_width, NULL, NULL,
                            NULL);
        gtk_widget_measure (parts[i], GTK_ORIENTATION_VERTICAL, -1, &part_height, NULL, NULL,
                            NULL);
        g_test_message ("  %s: %d×%d", G_OBJECT_TYPE_NAME (parts[i]), part_width, part_height);
      }
  }
  g_assert_cmpint (min_width, <=, MIN_WIDTH);
  g_assert_cmpint (min_height, <=, MIN_HEIGHT);

  /* A tiny run, so that Train shows a run and Diagnose a result. */
  ui_test_tiny_recipe (&recipe);
  leaf_train_view_set_recipe (window->train_view, &recipe);
  leaf_window_show_view (window, "train");
  _leaf_window_start_training (window, NULL, TRUE);
  g_assert_true (ui_test_wait_for (idle, window, 300000));
  photo = g_file_new_for_path (first_photo);
  leaf_window_show_view (window, "diagnose");
  leaf_diagnose_view_open_files (window->diagnose_view, &photo, 1);
  g_object_set_data (G_OBJECT (window), "want-diagnosis", GINT_TO_POINTER (TRUE));
  g_assert_true (ui_test_wait_for (idle, window, 120000));

  resize (GTK_WIDGET (window), MIN_WIDTH, MIN_HEIGHT);
  check_views (window, problems);
  resize (GTK_WIDGET (window), min_width, MAX (min_height, 1));
  check_views (window, problems);
  resize (GTK_WIDGET (window), default_width, default_height);
  check_views (window, problems);

  preferences = leaf_preferences_window_new ();
  gtk_window_set_transient_for (GTK_WINDOW (preferences), GTK_WINDOW (window));
  check_dialog (preferences, "Preferences", problems);
  leaf_preferences_window_show_weights (LEAF_PREFERENCES_WINDOW (preferences));
  ui_test_iterate (300);
  check_window (preferences, "the Weights page", problems);
  gtk_window_destroy (GTK_WINDOW (preferences));

  /* The run's model beside itself: the dialog's layout does not depend on which. */
  models = leaf_catalog_list_models (window->catalog, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (models->len, >, 0);
  compare = leaf_model_compare_dialog_new (GTK_WINDOW (window), g_ptr_array_index (models, 0),
                                           g_ptr_array_index (models, models->len - 1));
  check_dialog (compare, "the comparison of models", problems);
  gtk_window_destroy (GTK_WINDOW (compare));

  leaf_window_show_view (window, "library");
  leaf_library_view_open_viewer (window->library_view, 0);
  ui_test_iterate (300);
  viewer = GTK_WIDGET (ui_test_find_toplevel (LEAF_TYPE_VIEWER_WINDOW));
  g_assert_nonnull (viewer);
  check_dialog (viewer, "the viewer", problems);
  gtk_window_destroy (GTK_WINDOW (viewer));

  for (guint i = 0; i < problems->len; i++)
    g_test_message ("%s", (const char *) g_ptr_array_index (problems, i));
  if (problems->len > 0)
    g_test_fail_printf ("%u controls cut off or cut short; see the messages above",
                        problems->len);

  gtk_window_destroy (GTK_WINDOW (window));
  ui_test_iterate (100);
  g_clear_object (&app);
  leaf_test_remove_tree (dir);
}

int
main (int   argc,
      char *argv[])
{
  ui_test_init (&argc, &argv);
  /* As app/main.c does; meson gives the build tree's catalogs and the language. */
  bindtextdomain (GETTEXT_PACKAGE, g_getenv ("LEAFSCOPE_LOCALEDIR"));
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  if (g_str_has_prefix (g_getenv ("LANGUAGE") ?: "", "es"))
    g_assert_cmpstr (_("No Catalog Open"), !=, "No Catalog Open");

  g_test_add_func ("/ui/layout/views", test_layout);
  return g_test_run ();
}
