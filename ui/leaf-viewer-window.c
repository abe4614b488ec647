/* leaf-viewer-window.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Walks through the Library grid's current list: ← and → move (and select the photo in the grid),
 * 1–9 label with the class in that place of the sidebar, 0 removes the label. The photo fits the
 * window until zoomed with +/−, Ctrl+scroll or a pinch. H draws, when the catalog has an active
 * model (the one Diagnose uses), where it found the evidence for its diagnosis of the photo, and
 * names that model under the photo.
 */

#define G_LOG_DOMAIN "leaf-viewer-window"

#include "config.h"

#include <glib/gi18n.h>

#include "leaf-active-model.h"
#include "leaf-class-color.h"
#include "leaf-diagnosis-service.h"
#include "leaf-image.h"
#include "leaf-settings.h"
#include "leaf-toast.h"
#include "leaf-viewer-window.h"

#define MIN_ZOOM 0.1
#define MAX_ZOOM 16.0

struct _LeafViewerWindow
{
  AdwWindow parent_instance;

  LeafLibraryView *library;
  GListModel *model;
  LeafLibraryItem *item;
  guint position;
  GCancellable *cancellable;
  GdkPixbuf *pixbuf;   /* the photo as decoded, for its heatmap */
  GdkTexture *texture;
  GdkTexture *heatmap; /* the photo with its heatmap, once computed */
  GCancellable *heatmap_cancellable;
  LeafCatalog *catalog;
  LeafDiagnosisService *service;
  gint64 heatmap_model; /* the catalog's active model, which the heatmap explains */
  GSettings *settings;
  gboolean show_heatmap;
  double zoom; /* 0: fit the window */
  double zoom_at_gesture_start;

  /* Template widgets */
  AdwWindowTitle *window_title;
  GtkLabel *zoom_label;
  GtkScrolledWindow *scroller;
  GtkPicture *picture;
  GtkSpinner *spinner;
  GtkSpinner *heatmap_spinner;
  AdwStatusPage *error_page;
  GtkLabel *chip;
  GtkLabel *heatmap_label;
  GtkBox *label_buttons;
};

G_DEFINE_FINAL_TYPE (LeafViewerWindow, leaf_viewer_window, ADW_TYPE_WINDOW)

enum {
  PROP_0,
  PROP_SHOW_HEATMAP,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void show_position (LeafViewerWindow *self,
                           guint             position);

static double
fit_zoom (LeafViewerWindow *self)
{
  int width = gtk_widget_get_width (GTK_WIDGET (self->scroller));
  int height = gtk_widget_get_height (GTK_WIDGET (self->scroller));

  if (self->texture == NULL || width <= 0 || height <= 0)
    return 1.0;
  return MIN ((double) width / gdk_texture_get_width (self->texture),
              (double) height / gdk_texture_get_height (self->texture));
}

static void
apply_zoom (LeafViewerWindow *self)
{
  double shown = self->zoom > 0 ? self->zoom : fit_zoom (self);
  g_autofree char *text = g_strdup_printf ("%.0f%%", shown * 100);

  gtk_label_set_text (self->zoom_label, text);
  if (self->zoom <= 0 || self->texture == NULL)
    {
      gtk_scrolled_window_set_policy (self->scroller, GTK_POLICY_NEVER, GTK_POLICY_NEVER);
      gtk_widget_set_size_request (GTK_WIDGET (self->picture), -1, -1);
    }
  else
    {
      gtk_scrolled_window_set_policy (self->scroller, GTK_POLICY_AUTOMATIC, GTK_POLICY_AUTOMATIC);
      gtk_widget_set_size_request (GTK_WIDGET (self->picture),
                                   (int) (gdk_texture_get_width (self->texture) * self->zoom),
                                   (int) (gdk_texture_get_height (self->texture) * self->zoom));
    }
}

static void
set_zoom (LeafViewerWindow *self,
          double            zoom)
{
  self->zoom = zoom <= 0 ? 0 : CLAMP (zoom, MIN_ZOOM, MAX_ZOOM);
  apply_zoom (self);
}

static void
update_label (LeafViewerWindow *self)
{
  const char *name = self->item ? leaf_library_item_get_class_name (self->item) : NULL;

  gtk_label_set_text (self->chip, name ? name : _("Unlabelled"));
  leaf_widget_set_class_color (GTK_WIDGET (self->chip),
                               self->item ? leaf_library_item_get_class_color (self->item) : NULL);
  if (name == NULL)
    gtk_widget_add_css_class (GTK_WIDGET (self->chip), "unlabelled");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->chip), "unlabelled");
}

static void
rebuild_label_buttons (LeafViewerWindow *self)
{
  const GPtrArray *classes = leaf_library_view_get_classes (self->library);
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->label_buttons))) != NULL)
    gtk_box_remove (self->label_buttons, child);
  for (guint i = 0; classes && i < MIN (classes->len, 9); i++)
    gtk_box_append (self->label_buttons,
                    leaf_class_button_new (g_ptr_array_index (classes, i), i + 1,
                                           "viewer.label-class"));
}

static void
cancel_heatmap (LeafViewerWindow *self)
{
  if (self->heatmap_cancellable == NULL)
    return;
  g_cancellable_cancel (self->heatmap_cancellable);
  g_clear_object (&self->heatmap_cancellable);
  gtk_spinner_stop (self->heatmap_spinner);
}

static void update_heatmap (LeafViewerWindow *self);

static void
on_heatmap_ready_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(LeafViewerWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkPixbuf) heatmap = NULL;

  heatmap = leaf_diagnosis_service_heatmap_finish (LEAF_DIAGNOSIS_SERVICE (source), result,
                                                   &error);

  /* Cancelled: another photo or model replaced this one, or the window closed. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  g_clear_object (&self->heatmap_cancellable);
  gtk_spinner_stop (self->heatmap_spinner);
  if (heatmap == NULL)
    {
      leaf_show_toast_error (GTK_WIDGET (self), error);
      return;
    }
  g_clear_object (&self->heatmap);
  self->heatmap = gdk_texture_new_for_pixbuf (heatmap);
  update_heatmap (self);
}

/* Enables the heatmap when there is a model to explain, shows it when switched on, and starts
 * computing it for the photo when needed. */
static void
update_heatmap (LeafViewerWindow *self)
{
  g_autoptr(LeafModelInfo) model = self->catalog ? leaf_active_model_get (self->catalog) : NULL;
  gboolean shown;

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "viewer.show-heatmap", model != NULL);
  if (model == NULL || model->id != self->heatmap_model)
    {
      g_autofree char *description = model ? leaf_model_info_describe (model) : NULL;
      /* Translators: under a photo with a heatmap; %s describes a model, as in
       * “Run 3 · 87 % validation · 4 Dec” */
      g_autofree char *text = model ? g_strdup_printf (_("Where %s looked"), description) : NULL;

      cancel_heatmap (self);
      g_clear_object (&self->heatmap);
      self->heatmap_model = model ? model->id : 0;
      gtk_label_set_text (self->heatmap_label, text ? text : "");
    }
  shown = self->show_heatmap && self->heatmap != NULL;
  gtk_widget_set_visible (GTK_WIDGET (self->heatmap_label), shown);
  if (self->texture != NULL)
    gtk_picture_set_paintable (self->picture, GDK_PAINTABLE (shown ? self->heatmap
                                                                   : self->texture));
  if (model == NULL || !self->show_heatmap || self->heatmap != NULL || self->pixbuf == NULL
      || self->heatmap_cancellable != NULL)
    return;

  self->heatmap_cancellable = g_cancellable_new ();
  gtk_spinner_start (self->heatmap_spinner);
  leaf_diagnosis_service_heatmap_async (self->service, model->path, LEAF_DIAGNOSE_DEFAULT,
                                        self->pixbuf, -1, LEAF_HEATMAP_OVER_PHOTO,
                                        self->heatmap_cancellable, on_heatmap_ready_cb,
                                        g_object_ref (self));
}

static void
load_image_thread (GTask        *task,
                   gpointer      source_object,
                   gpointer      task_data,
                   GCancellable *cancellable)
{
  GError *error = NULL;
  GdkPixbuf *pixbuf = leaf_image_load (task_data, 0, &error);

  if (pixbuf == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, pixbuf, g_object_unref);
}

static void
on_image_loaded_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(LeafViewerWindow) self = user_data;
  g_autoptr(GdkPixbuf) pixbuf = NULL;
  g_autoptr(GError) error = NULL;

  pixbuf = g_task_propagate_pointer (G_TASK (result), &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  gtk_spinner_stop (self->spinner);
  gtk_widget_set_visible (GTK_WIDGET (self->spinner), FALSE);
  if (pixbuf == NULL)
    {
      adw_status_page_set_description (self->error_page, error->message);
      gtk_widget_set_visible (GTK_WIDGET (self->error_page), TRUE);
      return;
    }
  g_clear_object (&self->texture);
  self->texture = gdk_texture_new_for_pixbuf (pixbuf);
  g_set_object (&self->pixbuf, pixbuf);
  gtk_picture_set_paintable (self->picture, GDK_PAINTABLE (self->texture));
  update_heatmap (self);
  apply_zoom (self);
}

static void
show_position (LeafViewerWindow *self,
               guint             position)
{
  guint n = g_list_model_get_n_items (self->model);
  LeafCatalogImage *image;
  g_autoptr(GTask) task = NULL;
  g_autofree char *subtitle = NULL;

  if (position >= n)
    return;

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->item != NULL)
    g_signal_handlers_disconnect_by_data (self->item, self);
  g_clear_object (&self->item);
  g_clear_object (&self->texture);
  g_clear_object (&self->pixbuf);
  g_clear_object (&self->heatmap);
  cancel_heatmap (self);
  gtk_picture_set_paintable (self->picture, NULL);
  gtk_widget_set_visible (GTK_WIDGET (self->error_page), FALSE);

  self->position = position;
  self->item = g_list_model_get_item (self->model, position);
  g_signal_connect_object (self->item, "notify::class-name", G_CALLBACK (update_label), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->item, "notify::class-color", G_CALLBACK (update_label), self,
                           G_CONNECT_SWAPPED);
  update_label (self);
  leaf_library_view_select_only (self->library, position);

  image = leaf_library_item_get_image (self->item);
  /* Translators: window subtitle: position of the photo in the list, then its size */
  subtitle = image ? g_strdup_printf (_("%u of %u · %u × %u"), position + 1, n,
                                      leaf_catalog_image_get_width (image),
                                      leaf_catalog_image_get_height (image))
                   : g_strdup_printf (_("%u of %u"), position + 1, n);
  adw_window_title_set_title (self->window_title,
                              image ? leaf_catalog_image_get_name (image) : _("Unknown Photo"));
  adw_window_title_set_subtitle (self->window_title, subtitle);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "viewer.previous", position > 0);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "viewer.next", position + 1 < n);

  if (image == NULL)
    return;
  gtk_widget_set_visible (GTK_WIDGET (self->spinner), TRUE);
  gtk_spinner_start (self->spinner);
  self->cancellable = g_cancellable_new ();
  task = g_task_new (NULL, self->cancellable, on_image_loaded_cb, g_object_ref (self));
  g_task_set_source_tag (task, show_position);
  g_task_set_task_data (task, g_strdup (leaf_catalog_image_get_path (image)), g_free);
  g_task_run_in_thread (task, load_image_thread);
}

static void
label (LeafViewerWindow *self,
       gint64            class_id)
{
  gint64 id = self->item ? leaf_library_item_get_id (self->item) : 0;

  if (id > 0)
    leaf_library_view_label (self->library, &id, 1, class_id);
}

static void
label_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  LeafViewerWindow *self = LEAF_VIEWER_WINDOW (widget);
  const GPtrArray *classes = leaf_library_view_get_classes (self->library);
  guint key = g_variant_get_uint32 (parameter);

  if (classes != NULL && key >= 1 && key <= classes->len)
    label (self, ((LeafClassInfo *) g_ptr_array_index (classes, key - 1))->id);
  else
    gtk_widget_error_bell (widget);
}

static void
label_class_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  label (LEAF_VIEWER_WINDOW (widget), g_variant_get_int64 (parameter));
}

static void
unlabel_action (GtkWidget  *widget,
                const char *action_name,
                GVariant   *parameter)
{
  label (LEAF_VIEWER_WINDOW (widget), 0);
}

static void
previous_action (GtkWidget  *widget,
                 const char *action_name,
                 GVariant   *parameter)
{
  LeafViewerWindow *self = LEAF_VIEWER_WINDOW (widget);

  if (self->position > 0)
    show_position (self, self->position - 1);
}

static void
next_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  LeafViewerWindow *self = LEAF_VIEWER_WINDOW (widget);

  show_position (self, self->position + 1);
}

static void
zoom_in_action (GtkWidget  *widget,
                const char *action_name,
                GVariant   *parameter)
{
  LeafViewerWindow *self = LEAF_VIEWER_WINDOW (widget);

  set_zoom (self, (self->zoom > 0 ? self->zoom : fit_zoom (self)) * 1.25);
}

static void
zoom_out_action (GtkWidget  *widget,
                 const char *action_name,
                 GVariant   *parameter)
{
  LeafViewerWindow *self = LEAF_VIEWER_WINDOW (widget);

  set_zoom (self, (self->zoom > 0 ? self->zoom : fit_zoom (self)) / 1.25);
}

static void
zoom_fit_action (GtkWidget  *widget,
                 const char *action_name,
                 GVariant   *parameter)
{
  set_zoom (LEAF_VIEWER_WINDOW (widget), 0);
}

static void
zoom_original_action (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *parameter)
{
  set_zoom (LEAF_VIEWER_WINDOW (widget), 1.0);
}

static gboolean
on_scroll_cb (GtkEventControllerScroll *controller,
              double                    dx,
              double                    dy,
              LeafViewerWindow         *self)
{
  GdkModifierType state = gtk_event_controller_get_current_event_state (GTK_EVENT_CONTROLLER (controller));

  if (!(state & GDK_CONTROL_MASK) || dy == 0)
    return FALSE;
  gtk_widget_activate_action (GTK_WIDGET (self), dy < 0 ? "viewer.zoom-in" : "viewer.zoom-out",
                              NULL);
  return TRUE;
}

static void
on_zoom_begin_cb (GtkGesture       *gesture,
                  GdkEventSequence *sequence,
                  LeafViewerWindow *self)
{
  self->zoom_at_gesture_start = self->zoom > 0 ? self->zoom : fit_zoom (self);
}

static void
on_zoom_scale_changed_cb (GtkGestureZoom   *gesture,
                          double            scale,
                          LeafViewerWindow *self)
{
  set_zoom (self, self->zoom_at_gesture_start * scale);
}

static void
on_window_resized_cb (LeafViewerWindow *self)
{
  if (self->zoom <= 0)
    apply_zoom (self);
}

static void
on_classes_changed_cb (LeafViewerWindow *self)
{
  rebuild_label_buttons (self);
}

static void
on_runs_changed_cb (LeafViewerWindow *self)
{
  update_heatmap (self);
}

static void
leaf_viewer_window_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  LeafViewerWindow *self = LEAF_VIEWER_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SHOW_HEATMAP:
      g_value_set_boolean (value, self->show_heatmap);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
leaf_viewer_window_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  LeafViewerWindow *self = LEAF_VIEWER_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SHOW_HEATMAP:
      if (self->show_heatmap == g_value_get_boolean (value))
        break;
      self->show_heatmap = g_value_get_boolean (value);
      update_heatmap (self);
      g_object_notify_by_pspec (object, pspec);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
leaf_viewer_window_dispose (GObject *object)
{
  LeafViewerWindow *self = LEAF_VIEWER_WINDOW (object);

  cancel_heatmap (self);
  g_clear_object (&self->settings);
  g_clear_object (&self->pixbuf);
  g_clear_object (&self->heatmap);
  g_clear_object (&self->service);
  g_clear_object (&self->catalog);
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->item != NULL)
    g_signal_handlers_disconnect_by_data (self->item, self);
  g_clear_object (&self->item);
  g_clear_object (&self->texture);
  g_clear_object (&self->model);
  g_clear_object (&self->library);
  G_OBJECT_CLASS (leaf_viewer_window_parent_class)->dispose (object);
}

static void
leaf_viewer_window_class_init (LeafViewerWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = leaf_viewer_window_dispose;
  object_class->get_property = leaf_viewer_window_get_property;
  object_class->set_property = leaf_viewer_window_set_property;

  /**
   * LeafViewerWindow:show-heatmap:
   *
   * Whether the photo has the heatmap of the latest model's diagnosis drawn over it.
   */
  properties[PROP_SHOW_HEATMAP] =
    g_param_spec_boolean ("show-heatmap", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/leafscope/Leafscope/leaf-viewer-window.ui");
  gtk_widget_class_bind_template_child (widget_class, LeafViewerWindow, window_title);
  gtk_widget_class_bind_template_child (widget_class, LeafViewerWindow, zoom_label);
  gtk_widget_class_bind_template_child (widget_class, LeafViewerWindow, scroller);
  gtk_widget_class_bind_template_child (widget_class, LeafViewerWindow, picture);
  gtk_widget_class_bind_template_child (widget_class, LeafViewerWindow, spinner);
  gtk_widget_class_bind_template_child (widget_class, LeafViewerWindow, heatmap_spinner);
  gtk_widget_class_bind_template_child (widget_class, LeafViewerWindow, error_page);
  gtk_widget_class_bind_template_child (widget_class, LeafViewerWindow, chip);
  gtk_widget_class_bind_template_child (widget_class, LeafViewerWindow, heatmap_label);
  gtk_widget_class_bind_template_child (widget_class, LeafViewerWindow, label_buttons);

  gtk_widget_class_install_action (widget_class, "viewer.label", "u", label_action);
  gtk_widget_class_install_action (widget_class, "viewer.label-class", "x", label_class_action);
  gtk_widget_class_install_action (widget_class, "viewer.unlabel", NULL, unlabel_action);
  gtk_widget_class_install_action (widget_class, "viewer.previous", NULL, previous_action);
  gtk_widget_class_install_action (widget_class, "viewer.next", NULL, next_action);
  gtk_widget_class_install_action (widget_class, "viewer.zoom-in", NULL, zoom_in_action);
  gtk_widget_class_install_action (widget_class, "viewer.zoom-out", NULL, zoom_out_action);
  gtk_widget_class_install_action (widget_class, "viewer.zoom-fit", NULL, zoom_fit_action);
  gtk_widget_class_install_action (widget_class, "viewer.zoom-original", NULL,
                                   zoom_original_action);
  gtk_widget_class_install_property_action (widget_class, "viewer.show-heatmap", "show-heatmap");

  for (guint key = 1; key <= 9; key++)
    {
      gtk_widget_class_add_binding_action (widget_class, GDK_KEY_0 + key, 0,
                                           "viewer.label", "u", key);
      gtk_widget_class_add_binding_action (widget_class, GDK_KEY_KP_0 + key, 0,
                                           "viewer.label", "u", key);
    }
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_0, 0, "viewer.unlabel", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_KP_0, 0, "viewer.unlabel", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_plus, 0, "viewer.zoom-in", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_equal, 0, "viewer.zoom-in", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_KP_Add, 0, "viewer.zoom-in", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_minus, 0, "viewer.zoom-out", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_KP_Subtract, 0,
                                       "viewer.zoom-out", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_0, GDK_CONTROL_MASK,
                                       "viewer.zoom-fit", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_1, GDK_CONTROL_MASK,
                                       "viewer.zoom-original", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_h, 0, "viewer.show-heatmap", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_space, 0, "window.close", NULL);
}

static void
leaf_viewer_window_init (LeafViewerWindow *self)
{
  GtkEventController *scroll;
  GtkEventController *arrows;
  GtkGesture *zoom;

  gtk_widget_init_template (GTK_WIDGET (self));
  self->service = g_object_ref (leaf_diagnosis_service_get_default ());

  /* GtkWindow binds the arrows to moving the focus; taken in the capture phase, they move
   * through the photos instead. */
  arrows = gtk_shortcut_controller_new ();
  gtk_event_controller_set_propagation_phase (arrows, GTK_PHASE_CAPTURE);
  gtk_shortcut_controller_add_shortcut (GTK_SHORTCUT_CONTROLLER (arrows),
                                        gtk_shortcut_new (gtk_keyval_trigger_new (GDK_KEY_Left, 0),
                                                          gtk_named_action_new ("viewer.previous")));
  gtk_shortcut_controller_add_shortcut (GTK_SHORTCUT_CONTROLLER (arrows),
                                        gtk_shortcut_new (gtk_keyval_trigger_new (GDK_KEY_Right, 0),
                                                          gtk_named_action_new ("viewer.next")));
  gtk_widget_add_controller (GTK_WIDGET (self), arrows);

  scroll = gtk_event_controller_scroll_new (GTK_EVENT_CONTROLLER_SCROLL_VERTICAL);
  gtk_event_controller_set_propagation_phase (scroll, GTK_PHASE_CAPTURE);
  g_signal_connect (scroll, "scroll", G_CALLBACK (on_scroll_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self->scroller), scroll);
  zoom = gtk_gesture_zoom_new ();
  g_signal_connect (zoom, "begin", G_CALLBACK (on_zoom_begin_cb), self);
  g_signal_connect (zoom, "scale-changed", G_CALLBACK (on_zoom_scale_changed_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self->scroller), GTK_EVENT_CONTROLLER (zoom));
  /* The zoom label shows the fitted scale, which follows the window's size. */
  g_signal_connect (self, "notify::default-width", G_CALLBACK (on_window_resized_cb), NULL);
  g_signal_connect (self, "notify::default-height", G_CALLBACK (on_window_resized_cb), NULL);
}

/**
 * leaf_viewer_window_new:
 * @library: the Library whose current list of photos the viewer walks through
 * @position: the photo to show first
 *
 * Returns: (transfer floating): a new viewer window
 */
GtkWidget *
leaf_viewer_window_new (LeafLibraryView *library,
                        guint            position)
{
  LeafViewerWindow *self;
  LeafCatalog *catalog;

  g_return_val_if_fail (LEAF_IS_LIBRARY_VIEW (library), NULL);
  g_return_val_if_fail (leaf_library_view_get_selection (library) != NULL, NULL);

  self = g_object_new (LEAF_TYPE_VIEWER_WINDOW, NULL);
  self->library = g_object_ref (library);
  self->model = g_object_ref (G_LIST_MODEL (leaf_library_view_get_selection (library)));
  catalog = leaf_image_list_get_catalog (
    LEAF_IMAGE_LIST (gtk_multi_selection_get_model (GTK_MULTI_SELECTION (self->model))));
  self->catalog = g_object_ref (catalog);
  g_signal_connect_object (catalog, "classes-changed", G_CALLBACK (on_classes_changed_cb), self,
                           G_CONNECT_SWAPPED | G_CONNECT_AFTER);
  g_signal_connect_object (catalog, "runs-changed", G_CALLBACK (on_runs_changed_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (catalog, "active-model-changed", G_CALLBACK (on_runs_changed_cb),
                           self, G_CONNECT_SWAPPED);
  self->settings = leaf_settings_new ();
  if (self->settings != NULL)
    g_settings_bind (self->settings, "show-heatmap", self, "show-heatmap",
                     G_SETTINGS_BIND_DEFAULT);
  update_heatmap (self);
  rebuild_label_buttons (self);
  show_position (self, position);
  set_zoom (self, 0);
  return GTK_WIDGET (self);
}

guint
leaf_viewer_window_get_position (LeafViewerWindow *self)
{
  g_return_val_if_fail (LEAF_IS_VIEWER_WINDOW (self), 0);
  return self->position;
}

/**
 * leaf_viewer_window_get_zoom:
 *
 * Returns: the zoom factor, or 0 while the photo fits the window
 */
double
leaf_viewer_window_get_zoom (LeafViewerWindow *self)
{
  g_return_val_if_fail (LEAF_IS_VIEWER_WINDOW (self), 0);
  return self->zoom;
}

/**
 * leaf_viewer_window_is_showing_heatmap:
 *
 * Returns: whether the photo shown has its heatmap drawn over it
 */
gboolean
leaf_viewer_window_is_showing_heatmap (LeafViewerWindow *self)
{
  g_return_val_if_fail (LEAF_IS_VIEWER_WINDOW (self), FALSE);
  return self->heatmap != NULL
         && gtk_picture_get_paintable (self->picture) == GDK_PAINTABLE (self->heatmap);
}
