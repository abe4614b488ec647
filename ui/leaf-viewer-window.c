/* leaf-viewer-window.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Walks through the Library grid's current list: ← and → move (and select the photo in the grid),
 * 1–9 label with the class in that place of the sidebar, 0 removes the label. The photo fits the
 * window until zoomed with +/− (about the centre), Ctrl+scroll (about the pointer) or a pinch
 * (about the fingers); the zoom label gives the scale the photo is drawn at, fitted or not. Over
 * the photo, under its label, is what the catalog's active model (the one Diagnose uses) predicts
 * for it, and whether it would refer it; H draws where that model found the evidence, naming the
 * model under the photo.
 */

#define G_LOG_DOMAIN "leaf-viewer-window"

#include "config.h"

#include <glib/gi18n.h>
#include <math.h>

#include "leaf-active-model.h"
#include "leaf-class-color.h"
#include "leaf-diagnosis-service.h"
#include "leaf-error.h"
#include "leaf-image.h"
#include "leaf-settings.h"
#include "leaf-toast.h"
#include "leaf-viewer-window.h"

#define MIN_ZOOM 0.1
#define MAX_ZOOM 16.0
#define ZOOM_STEP 1.25

/* LeafPhotoCanvas: draws a paintable at a given scale, centred, or fitted to its allocation.
 * GtkPicture cannot be drawn smaller than its allocation, which a scrolled window makes at least
 * as large as the window, nor report the scale it draws at. */
#define LEAF_TYPE_PHOTO_CANVAS (leaf_photo_canvas_get_type ())
G_DECLARE_FINAL_TYPE (LeafPhotoCanvas, leaf_photo_canvas, LEAF, PHOTO_CANVAS, GtkWidget)

struct _LeafPhotoCanvas
{
  GtkWidget     parent_instance;

  GdkPaintable *paintable;
  double        zoom;  /* 0: fit the allocation */
  double        scale; /* the scale drawn at, from the last allocation */
  guint         notify_tick;
};

G_DEFINE_FINAL_TYPE (LeafPhotoCanvas, leaf_photo_canvas, GTK_TYPE_WIDGET)

enum {
  CANVAS_PROP_0,
  CANVAS_PROP_SCALE,
  CANVAS_N_PROPS
};

static GParamSpec *canvas_properties[CANVAS_N_PROPS];

static int
canvas_intrinsic (LeafPhotoCanvas *self,
                  GtkOrientation   orientation)
{
  return orientation == GTK_ORIENTATION_HORIZONTAL
         ? gdk_paintable_get_intrinsic_width (self->paintable)
         : gdk_paintable_get_intrinsic_height (self->paintable);
}

static void
leaf_photo_canvas_measure (GtkWidget      *widget,
                           GtkOrientation  orientation,
                           int             for_size,
                           int            *minimum,
                           int            *natural,
                           int            *minimum_baseline,
                           int            *natural_baseline)
{
  LeafPhotoCanvas *self = LEAF_PHOTO_CANVAS (widget);

  *minimum = *natural = 0;
  if (self->paintable == NULL)
    return;
  *natural = canvas_intrinsic (self, orientation);
  if (self->zoom > 0)
    *minimum = *natural = (int) ceil (*natural * self->zoom);
}

static gboolean
notify_scale_cb (GtkWidget     *widget,
                 GdkFrameClock *clock,
                 gpointer       user_data)
{
  g_object_notify_by_pspec (G_OBJECT (widget), canvas_properties[CANVAS_PROP_SCALE]);
  return G_SOURCE_REMOVE;
}

static void
clear_notify_tick (gpointer data)
{
  LEAF_PHOTO_CANVAS (data)->notify_tick = 0;
}

static void
leaf_photo_canvas_size_allocate (GtkWidget *widget,
                                 int        width,
                                 int        height,
                                 int        baseline)
{
  LeafPhotoCanvas *self = LEAF_PHOTO_CANVAS (widget);
  double scale = self->zoom;

  if (self->paintable != NULL && scale <= 0)
    scale = MIN ((double) width / canvas_intrinsic (self, GTK_ORIENTATION_HORIZONTAL),
                 (double) height / canvas_intrinsic (self, GTK_ORIENTATION_VERTICAL));
  /* Notified at the next frame: what changes with the scale (the zoom label) must not be
   * resized in the middle of this frame's layout. */
  if (scale != self->scale)
    {
      self->scale = scale;
      if (self->notify_tick == 0)
        self->notify_tick = gtk_widget_add_tick_callback (widget, notify_scale_cb, self,
                                                          clear_notify_tick);
    }
}

static void
leaf_photo_canvas_snapshot (GtkWidget   *widget,
                            GtkSnapshot *snapshot)
{
  LeafPhotoCanvas *self = LEAF_PHOTO_CANVAS (widget);
  double width, height;

  if (self->paintable == NULL || self->scale <= 0)
    return;
  width = canvas_intrinsic (self, GTK_ORIENTATION_HORIZONTAL) * self->scale;
  height = canvas_intrinsic (self, GTK_ORIENTATION_VERTICAL) * self->scale;
  gtk_snapshot_save (snapshot);
  gtk_snapshot_translate (snapshot,
                          &GRAPHENE_POINT_INIT ((gtk_widget_get_width (widget) - width) / 2,
                                                (gtk_widget_get_height (widget) - height) / 2));
  gdk_paintable_snapshot (self->paintable, snapshot, width, height);
  gtk_snapshot_restore (snapshot);
}

static void
leaf_photo_canvas_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  switch (prop_id)
    {
    case CANVAS_PROP_SCALE:
      g_value_set_double (value, LEAF_PHOTO_CANVAS (object)->scale);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
leaf_photo_canvas_dispose (GObject *object)
{
  g_clear_object (&LEAF_PHOTO_CANVAS (object)->paintable);
  G_OBJECT_CLASS (leaf_photo_canvas_parent_class)->dispose (object);
}

static void
leaf_photo_canvas_class_init (LeafPhotoCanvasClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = leaf_photo_canvas_dispose;
  object_class->get_property = leaf_photo_canvas_get_property;
  widget_class->measure = leaf_photo_canvas_measure;
  widget_class->size_allocate = leaf_photo_canvas_size_allocate;
  widget_class->snapshot = leaf_photo_canvas_snapshot;

  canvas_properties[CANVAS_PROP_SCALE] =
    g_param_spec_double ("scale", NULL, NULL, 0, G_MAXDOUBLE, 0,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, CANVAS_N_PROPS, canvas_properties);
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
leaf_photo_canvas_init (LeafPhotoCanvas *self)
{
}

static void
leaf_photo_canvas_set_paintable (LeafPhotoCanvas *self,
                                 GdkPaintable    *paintable)
{
  if (!g_set_object (&self->paintable, paintable))
    return;
  gtk_widget_queue_resize (GTK_WIDGET (self));
}

static void
leaf_photo_canvas_set_zoom (LeafPhotoCanvas *self,
                            double           zoom)
{
  self->zoom = zoom;
  gtk_widget_queue_resize (GTK_WIDGET (self));
}

/* The viewer ---------------------------------------------------------------------------------- */

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
  GCancellable *prediction_cancellable;
  LeafCatalog *catalog;
  LeafDiagnosisService *service;
  gint64 heatmap_model; /* the catalog's active model, which the heatmap explains */
  GSettings *settings;
  gboolean show_heatmap;
  double zoom; /* 0: fit the window */
  double zoom_at_gesture_start;
  gboolean has_pointer;
  double pointer_x, pointer_y; /* over the scroller */

  /* Template widgets */
  AdwWindowTitle *window_title;
  GtkLabel *zoom_label;
  GtkScrolledWindow *scroller;
  LeafPhotoCanvas *picture;
  GtkSpinner *spinner;
  GtkSpinner *heatmap_spinner;
  AdwStatusPage *error_page;
  GtkLabel *chip;
  GtkLabel *heatmap_label;
  GtkLabel *prediction_label;
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

static void
update_zoom_label (LeafViewerWindow *self)
{
  double percent = self->picture->scale * 100;
  g_autofree char *text = NULL;

  if (self->texture == NULL)
    text = g_strdup ("");
  else if (self->zoom <= 0)
    /* Translators: the zoom of a photo fitted to the window, the scale it is drawn at */
    text = g_strdup_printf (_("Fit (%.0f %%)"), percent);
  else
    text = g_strdup_printf ("%.0f %%", percent);
  gtk_label_set_text (self->zoom_label, text);
}

static void
set_zoom (LeafViewerWindow *self,
          double            zoom)
{
  self->zoom = zoom <= 0 ? 0 : CLAMP (zoom, MIN_ZOOM, MAX_ZOOM);
  gtk_scrolled_window_set_policy (self->scroller,
                                  self->zoom > 0 ? GTK_POLICY_AUTOMATIC : GTK_POLICY_NEVER,
                                  self->zoom > 0 ? GTK_POLICY_AUTOMATIC : GTK_POLICY_NEVER);
  leaf_photo_canvas_set_zoom (self->picture, self->zoom);
  update_zoom_label (self);
}

/* Where the photo is drawn along one axis of the scrolled area, at @scale: the canvas is as
 * large as the photo or the page, whichever is larger, with the photo centred. */
static double
photo_offset (int    photo_size,
              double scale,
              double page)
{
  return (MAX (ceil (photo_size * scale), page) - photo_size * scale) / 2;
}

static int
photo_size (LeafViewerWindow *self,
            guint             axis)
{
  return axis == 0 ? gdk_texture_get_width (self->texture)
                   : gdk_texture_get_height (self->texture);
}

static GtkAdjustment *
scroller_adjustment (LeafViewerWindow *self,
                     guint             axis)
{
  return axis == 0 ? gtk_scrolled_window_get_hadjustment (self->scroller)
                   : gtk_scrolled_window_get_vadjustment (self->scroller);
}

/**
 * leaf_viewer_window_get_photo_point:
 * @self: a viewer
 * @x: a point of the photo's area, from its top left corner
 * @y:
 * @photo_x: (out): where it falls on the photo, in the photo's pixels
 * @photo_y: (out):
 *
 * Returns: %FALSE while no photo is shown
 */
gboolean
leaf_viewer_window_get_photo_point (LeafViewerWindow *self,
                                    double            x,
                                    double            y,
                                    double           *photo_x,
                                    double           *photo_y)
{
  double point[2] = { x, y };
  double *out[2] = { photo_x, photo_y };
  double scale;

  g_return_val_if_fail (LEAF_IS_VIEWER_WINDOW (self), FALSE);

  scale = self->picture->scale;
  if (self->texture == NULL || scale <= 0)
    return FALSE;
  for (guint axis = 0; axis < 2; axis++)
    {
      GtkAdjustment *adjustment = scroller_adjustment (self, axis);

      *out[axis] = (gtk_adjustment_get_value (adjustment) + point[axis]
                    - photo_offset (photo_size (self, axis), scale,
                                    gtk_adjustment_get_page_size (adjustment))) / scale;
    }
  return TRUE;
}

/**
 * leaf_viewer_window_zoom_at:
 * @self: a viewer
 * @zoom: the new scale, 1 for one photo pixel to one pixel of the window
 * @x: a point of the photo's area, from its top left corner, that stays in place
 * @y:
 *
 * Zooms so that the point of the photo under (@x, @y) stays there.
 */
void
leaf_viewer_window_zoom_at (LeafViewerWindow *self,
                            double            zoom,
                            double            x,
                            double            y)
{
  double point[2] = { x, y };
  double photo_point[2];

  g_return_if_fail (LEAF_IS_VIEWER_WINDOW (self));

  if (!leaf_viewer_window_get_photo_point (self, x, y, &photo_point[0], &photo_point[1]))
    {
      set_zoom (self, zoom);
      return;
    }
  set_zoom (self, zoom);

  /* The scrolled window learns the new size at its next allocation, and keeps the values it
   * has then: set them now, for the new size. */
  for (guint axis = 0; axis < 2; axis++)
    {
      GtkAdjustment *adjustment = scroller_adjustment (self, axis);
      double page = gtk_adjustment_get_page_size (adjustment);
      int size = photo_size (self, axis);
      double upper = MAX (ceil (size * self->zoom), page);
      double value = photo_point[axis] * self->zoom + photo_offset (size, self->zoom, page)
                     - point[axis];

      gtk_adjustment_configure (adjustment, CLAMP (value, 0, upper - page), 0, upper,
                                page * 0.1, page * 0.9, page);
    }
}

/* Buttons and keys zoom about the centre of the photo's area. */
static void
zoom_by (LeafViewerWindow *self,
         double            factor)
{
  leaf_viewer_window_zoom_at (self, self->picture->scale * factor,
                              gtk_widget_get_width (GTK_WIDGET (self->scroller)) / 2.0,
                              gtk_widget_get_height (GTK_WIDGET (self->scroller)) / 2.0);
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
show_prediction (LeafViewerWindow    *self,
                 const LeafModelInfo *model,
                 const char          *name,
                 double               probability,
                 LeafReferral         referral)
{
  g_autofree char *text = NULL;
  g_autofree char *description = leaf_model_info_describe (model);
  g_autofree char *tooltip = NULL;
  double percent = probability * 100;

  if (referral == LEAF_REFERRAL_UNFAMILIAR)
    /* Translators: over a photo in the viewer: the active model's most probable class and its
     * probability, for a photo unlike the photos the model was trained on */
    text = g_strdup_printf (_("Model says %s (%.0f %%), but the photo is unlike those it was "
                              "trained on: refer to an expert"), name, percent);
  else if (referral == LEAF_REFERRAL_LOW_CONFIDENCE)
    /* Translators: over a photo in the viewer: the active model's most probable class and its
     * probability, too low to trust */
    text = g_strdup_printf (_("Model says %s (%.0f %%): refer to an expert"), name, percent);
  else
    /* Translators: over a photo in the viewer: the active model's class and its probability */
    text = g_strdup_printf (_("Model says %s (%.0f %%)"), name, percent);
  /* Translators: tooltip of the prediction in the viewer; %s describes a model, as in
   * “Run 3 · 87 % validation · 4 Dec” */
  tooltip = g_strdup_printf (_("The prediction of %s, the model Diagnose uses"), description);
  gtk_label_set_text (self->prediction_label, text);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->prediction_label), tooltip);
  if (referral != LEAF_REFERRAL_NONE)
    gtk_widget_add_css_class (GTK_WIDGET (self->prediction_label), "warning");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->prediction_label), "warning");
  gtk_widget_set_visible (GTK_WIDGET (self->prediction_label), TRUE);
}

/* The threshold Diagnose refers below: the model's own, or the one set in Preferences. */
static double
refer_threshold (LeafViewerWindow *self)
{
  if (self->settings == NULL || g_settings_get_boolean (self->settings,
                                                        "refer-use-model-threshold"))
    return -1;
  return g_settings_get_double (self->settings, "refer-threshold");
}

static void
on_diagnosed_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(LeafViewerWindow) self = user_data;
  g_autoptr(LeafDiagnosisResult) diagnosis = NULL;
  g_autoptr(LeafModelInfo) model = NULL;
  g_autoptr(GError) error = NULL;

  diagnosis = leaf_diagnosis_service_diagnose_finish (LEAF_DIAGNOSIS_SERVICE (source), result,
                                                      &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  g_clear_object (&self->prediction_cancellable);
  model = self->catalog ? leaf_active_model_get (self->catalog) : NULL;
  /* Diagnose says what went wrong with the model; here the photo is what matters. */
  if (diagnosis == NULL || model == NULL)
    {
      if (error != NULL)
        g_debug ("No prediction for the photo shown: %s", error->message);
      return;
    }
  show_prediction (self, model, diagnosis->classes[diagnosis->ranking[0]],
                   diagnosis->probabilities[diagnosis->ranking[0]],
                   leaf_diagnosis_result_get_referral (diagnosis, refer_threshold (self)));
}

/* What the active model predicted for the photo: as the catalog keeps it, or, before the
 * Library's review of the photos has reached it, asked of the diagnosis service. */
static void
update_prediction (LeafViewerWindow *self)
{
  g_autoptr(LeafModelInfo) model = self->catalog ? leaf_active_model_get (self->catalog) : NULL;
  g_autoptr(LeafPrediction) prediction = NULL;
  g_autoptr(GError) error = NULL;
  gint64 id = self->item ? leaf_library_item_get_id (self->item) : 0;
  LeafCatalogImage *image = self->item ? leaf_library_item_get_image (self->item) : NULL;

  g_cancellable_cancel (self->prediction_cancellable);
  g_clear_object (&self->prediction_cancellable);
  gtk_widget_set_visible (GTK_WIDGET (self->prediction_label), FALSE);
  if (model == NULL || id <= 0)
    return;

  prediction = leaf_catalog_get_prediction (self->catalog, model->id, id, &error);
  if (prediction != NULL && model->classes != NULL
      && prediction->top_index < g_strv_length (model->classes))
    {
      /* The catalog keeps whether the model would refer the photo, not why. */
      show_prediction (self, model, model->classes[prediction->top_index],
                       prediction->probabilities[prediction->top_index],
                       prediction->referred ? LEAF_REFERRAL_LOW_CONFIDENCE : LEAF_REFERRAL_NONE);
      return;
    }
  if (error != NULL && !g_error_matches (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND))
    g_debug ("No stored prediction for photo %" G_GINT64_FORMAT ": %s", id, error->message);
  if (image == NULL)
    return;

  self->prediction_cancellable = g_cancellable_new ();
  leaf_diagnosis_service_diagnose_file_async (self->service, model->path, LEAF_DIAGNOSE_DEFAULT,
                                              leaf_catalog_image_get_path (image),
                                              self->prediction_cancellable, on_diagnosed_cb,
                                              g_object_ref (self));
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
    leaf_photo_canvas_set_paintable (self->picture, GDK_PAINTABLE (shown ? self->heatmap
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
  /* Here, not on the main thread: the first look at a server's photo fetches it. */
  GdkPixbuf *pixbuf = leaf_image_load (leaf_catalog_image_get_path (task_data), 0, &error);

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
  leaf_photo_canvas_set_paintable (self->picture, GDK_PAINTABLE (self->texture));
  update_heatmap (self);
  update_zoom_label (self);
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
  leaf_photo_canvas_set_paintable (self->picture, NULL);
  update_zoom_label (self);
  gtk_widget_set_visible (GTK_WIDGET (self->error_page), FALSE);

  self->position = position;
  self->item = g_list_model_get_item (self->model, position);
  g_signal_connect_object (self->item, "notify::class-name", G_CALLBACK (update_label), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->item, "notify::class-color", G_CALLBACK (update_label), self,
                           G_CONNECT_SWAPPED);
  /* The list gives the item a new image when its row, predictions included, changes. */
  g_signal_connect_object (self->item, "notify::image", G_CALLBACK (update_prediction), self,
                           G_CONNECT_SWAPPED);
  update_label (self);
  update_prediction (self);
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
  g_task_set_task_data (task, g_object_ref (image), g_object_unref);
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
  zoom_by (LEAF_VIEWER_WINDOW (widget), ZOOM_STEP);
}

static void
zoom_out_action (GtkWidget  *widget,
                 const char *action_name,
                 GVariant   *parameter)
{
  zoom_by (LEAF_VIEWER_WINDOW (widget), 1 / ZOOM_STEP);
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
  LeafViewerWindow *self = LEAF_VIEWER_WINDOW (widget);

  zoom_by (self, 1.0 / self->picture->scale);
}

static gboolean
on_scroll_cb (GtkEventControllerScroll *controller,
              double                    dx,
              double                    dy,
              LeafViewerWindow         *self)
{
  GdkModifierType state = gtk_event_controller_get_current_event_state (GTK_EVENT_CONTROLLER (controller));

  double factor;

  if (!(state & GDK_CONTROL_MASK) || dy == 0)
    return FALSE;
  factor = dy < 0 ? ZOOM_STEP : 1 / ZOOM_STEP;
  if (self->has_pointer)
    leaf_viewer_window_zoom_at (self, self->picture->scale * factor,
                                self->pointer_x, self->pointer_y);
  else
    zoom_by (self, factor);
  return TRUE;
}

static void
on_pointer_motion_cb (GtkEventControllerMotion *controller,
                      double                    x,
                      double                    y,
                      LeafViewerWindow         *self)
{
  self->has_pointer = TRUE;
  self->pointer_x = x;
  self->pointer_y = y;
}

static void
on_pointer_leave_cb (LeafViewerWindow *self)
{
  self->has_pointer = FALSE;
}

static void
on_zoom_begin_cb (GtkGesture       *gesture,
                  GdkEventSequence *sequence,
                  LeafViewerWindow *self)
{
  self->zoom_at_gesture_start = self->picture->scale;
}

static void
on_zoom_scale_changed_cb (GtkGestureZoom   *gesture,
                          double            scale,
                          LeafViewerWindow *self)
{
  double x, y;

  if (gtk_gesture_get_bounding_box_center (GTK_GESTURE (gesture), &x, &y))
    leaf_viewer_window_zoom_at (self, self->zoom_at_gesture_start * scale, x, y);
  else
    set_zoom (self, self->zoom_at_gesture_start * scale);
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
  update_prediction (self);
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
  g_cancellable_cancel (self->prediction_cancellable);
  g_clear_object (&self->prediction_cancellable);
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

  g_type_ensure (LEAF_TYPE_PHOTO_CANVAS);
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
  gtk_widget_class_bind_template_child (widget_class, LeafViewerWindow, prediction_label);
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
  GtkEventController *motion;
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
  /* Ctrl+scroll zooms about the pointer. */
  motion = gtk_event_controller_motion_new ();
  g_signal_connect (motion, "enter", G_CALLBACK (on_pointer_motion_cb), self);
  g_signal_connect (motion, "motion", G_CALLBACK (on_pointer_motion_cb), self);
  g_signal_connect_swapped (motion, "leave", G_CALLBACK (on_pointer_leave_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self->scroller), motion);
  zoom = gtk_gesture_zoom_new ();
  g_signal_connect (zoom, "begin", G_CALLBACK (on_zoom_begin_cb), self);
  g_signal_connect (zoom, "scale-changed", G_CALLBACK (on_zoom_scale_changed_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self->scroller), GTK_EVENT_CONTROLLER (zoom));
  /* The zoom label shows the scale drawn at, which follows the window's size while fitted. */
  g_signal_connect_swapped (self->picture, "notify::scale", G_CALLBACK (update_zoom_label), self);
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
  /* A catalog this user may only read is looked at, not labelled. */
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "viewer.label",
                                 !leaf_catalog_is_read_only (catalog));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "viewer.label-class",
                                 !leaf_catalog_is_read_only (catalog));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "viewer.unlabel",
                                 !leaf_catalog_is_read_only (catalog));
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
  return self->heatmap != NULL && self->picture->paintable == GDK_PAINTABLE (self->heatmap);
}

/**
 * leaf_viewer_window_get_scale:
 *
 * Returns: the scale the photo is drawn at, fitted or zoomed; 0 while none is shown
 */
double
leaf_viewer_window_get_scale (LeafViewerWindow *self)
{
  g_return_val_if_fail (LEAF_IS_VIEWER_WINDOW (self), 0);
  return self->texture != NULL ? self->picture->scale : 0;
}
