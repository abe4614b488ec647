/* leaf-confusion-matrix.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Rows are true classes, columns predicted ones. Rows are numbered and named on the left; the
 * columns carry the same numbers, which keeps long class names readable at any width. A cell's
 * shade is its share of the row (the recall of that true class), green on the diagonal and red
 * elsewhere. Clicking a cell, or moving to it with the arrow keys and pressing Enter, emits
 * ::cell-activated so that the Library can show the photos behind it.
 */

#define G_LOG_DOMAIN "leaf-confusion-matrix"

#include "config.h"

#include <glib/gi18n.h>
#include <math.h>
#include <pango/pangocairo.h>

#include "leaf-confusion-matrix.h"

#define MIN_CELL 34
#define NAT_CELL 52
#define GAP 2

struct _LeafConfusionMatrix
{
  GtkWidget parent_instance;

  LeafConfusion *model;
  char *summary;
  int hover_row;
  int hover_col;
  guint focus_row;
  guint focus_col;
};

G_DEFINE_FINAL_TYPE (LeafConfusionMatrix, leaf_confusion_matrix, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_MODEL,
  N_PROPS
};

enum {
  CELL_ACTIVATED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

typedef struct
{
  double label_width; /* the column of row names */
  double header;      /* the row of column numbers */
  double cell;
} Geometry;

static PangoLayout *
create_layout (LeafConfusionMatrix *self,
               const char          *text,
               double               scale,
               PangoWeight          weight)
{
  PangoLayout *layout = gtk_widget_create_pango_layout (GTK_WIDGET (self), text);
  PangoAttrList *attrs = pango_attr_list_new ();

  pango_attr_list_insert (attrs, pango_attr_scale_new (scale));
  pango_attr_list_insert (attrs, pango_attr_weight_new (weight));
  pango_attr_list_insert (attrs, pango_attr_font_features_new ("tnum=1"));
  pango_layout_set_attributes (layout, attrs);
  pango_attr_list_unref (attrs);
  return layout;
}

static char *
row_label (LeafConfusionMatrix *self,
           guint                i)
{
  return g_strdup_printf ("%u  %s", i + 1, leaf_confusion_get_class_name (self->model, i));
}

static double
measure_label_width (LeafConfusionMatrix *self)
{
  guint n = self->model ? leaf_confusion_get_n_classes (self->model) : 0;
  int widest = 0;

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *text = row_label (self, i);
      g_autoptr(PangoLayout) layout = create_layout (self, text, 0.9, PANGO_WEIGHT_NORMAL);
      int w, h;

      pango_layout_get_pixel_size (layout, &w, &h);
      widest = MAX (widest, w);
    }
  return widest + 12;
}

static void
get_geometry (LeafConfusionMatrix *self,
              Geometry            *geometry)
{
  guint n = self->model ? leaf_confusion_get_n_classes (self->model) : 0;
  double width = gtk_widget_get_width (GTK_WIDGET (self));
  double height = gtk_widget_get_height (GTK_WIDGET (self));

  geometry->label_width = measure_label_width (self);
  geometry->header = 24;
  geometry->cell = n == 0 ? 0 : MIN ((width - geometry->label_width) / n,
                                     (height - geometry->header) / n);
  geometry->cell = CLAMP (geometry->cell, 1, NAT_CELL * 1.5);
}

static gboolean
cell_at (LeafConfusionMatrix *self,
         double               x,
         double               y,
         guint               *row,
         guint               *col)
{
  guint n = self->model ? leaf_confusion_get_n_classes (self->model) : 0;
  Geometry g;
  double c, r;

  if (n == 0)
    return FALSE;
  get_geometry (self, &g);
  c = floor ((x - g.label_width) / g.cell);
  r = floor ((y - g.header) / g.cell);
  if (c < 0 || r < 0 || c >= n || r >= n)
    return FALSE;
  *row = (guint) r;
  *col = (guint) c;
  return TRUE;
}

static void
update_summary (LeafConfusionMatrix *self)
{
  g_autoptr(GString) s = g_string_new (NULL);
  guint n = self->model ? leaf_confusion_get_n_classes (self->model) : 0;
  guint worst = 0, worst_row = 0, worst_col = 0;

  if (n == 0 || leaf_confusion_get_total (self->model) == 0)
    g_string_append (s, _("No evaluated photos"));
  else
    {
      g_string_append_printf (s, _("%u photos, %.0f%% predicted correctly."),
                              leaf_confusion_get_total (self->model),
                              100.0 * leaf_confusion_get_accuracy (self->model));
      for (guint i = 0; i < n; i++)
        for (guint j = 0; j < n; j++)
          if (i != j && leaf_confusion_get_count (self->model, i, j) > worst)
            {
              worst = leaf_confusion_get_count (self->model, i, j);
              worst_row = i;
              worst_col = j;
            }
      if (worst > 0)
        /* Translators: %u photos, true class, predicted class */
        g_string_append_printf (s, ngettext (" Most frequent mistake: %u photo of %s predicted as %s.",
                                             " Most frequent mistake: %u photos of %s predicted as %s.",
                                             worst),
                                worst, leaf_confusion_get_class_name (self->model, worst_row),
                                leaf_confusion_get_class_name (self->model, worst_col));
    }

  g_free (self->summary);
  self->summary = g_string_free (g_steal_pointer (&s), FALSE);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, self->summary,
                                  -1);
}

static void
on_model_changed_cb (LeafConfusion       *model,
                     LeafConfusionMatrix *self)
{
  update_summary (self);
  gtk_widget_queue_resize (GTK_WIDGET (self));
}

static void
leaf_confusion_matrix_snapshot (GtkWidget   *widget,
                                GtkSnapshot *snapshot)
{
  LeafConfusionMatrix *self = LEAF_CONFUSION_MATRIX (widget);
  static const GdkRGBA good = { 0.180, 0.761, 0.494, 1.0 }; /* green 3 */
  static const GdkRGBA bad = { 0.878, 0.106, 0.141, 1.0 };  /* red 3 */
  guint n = self->model ? leaf_confusion_get_n_classes (self->model) : 0;
  gboolean focused = gtk_widget_has_visible_focus (widget);
  GdkRGBA fg;
  Geometry g;
  cairo_t *cr;

  if (n == 0)
    return;

  get_geometry (self, &g);
  gtk_style_context_get_color (gtk_widget_get_style_context (widget), &fg);
  cr = gtk_snapshot_append_cairo (snapshot,
                                  &GRAPHENE_RECT_INIT (0, 0, gtk_widget_get_width (widget),
                                                       gtk_widget_get_height (widget)));

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *text = row_label (self, i);
      g_autofree char *number = g_strdup_printf ("%u", i + 1);
      g_autoptr(PangoLayout) row = create_layout (self, text, 0.9, PANGO_WEIGHT_NORMAL);
      g_autoptr(PangoLayout) col = create_layout (self, number, 0.9, PANGO_WEIGHT_BOLD);
      guint row_total = leaf_confusion_get_row_total (self->model, i);
      int w, h;

      pango_layout_get_pixel_size (row, &w, &h);
      cairo_set_source_rgba (cr, fg.red, fg.green, fg.blue, 0.8);
      cairo_move_to (cr, g.label_width - 12 - w, g.header + i * g.cell + (g.cell - h) / 2);
      pango_cairo_show_layout (cr, row);
      pango_layout_get_pixel_size (col, &w, &h);
      cairo_set_source_rgba (cr, fg.red, fg.green, fg.blue, 0.6);
      cairo_move_to (cr, g.label_width + i * g.cell + (g.cell - w) / 2, (g.header - h) / 2);
      pango_cairo_show_layout (cr, col);

      for (guint j = 0; j < n; j++)
        {
          guint count = leaf_confusion_get_count (self->model, i, j);
          double share = row_total ? (double) count / row_total : 0.0;
          const GdkRGBA *tone = i == j ? &good : &bad;
          double x = g.label_width + j * g.cell + GAP / 2.0;
          double y = g.header + i * g.cell + GAP / 2.0;
          double side = g.cell - GAP;
          double alpha = count == 0 ? 0.0 : 0.15 + 0.85 * share;
          g_autofree char *label = g_strdup_printf ("%u", count);
          g_autoptr(PangoLayout) layout = create_layout (self, label, 0.9,
                                                         count ? PANGO_WEIGHT_BOLD
                                                               : PANGO_WEIGHT_NORMAL);

          cairo_new_sub_path (cr);
          cairo_arc (cr, x + side - 4, y + 4, 4, -G_PI / 2, 0);
          cairo_arc (cr, x + side - 4, y + side - 4, 4, 0, G_PI / 2);
          cairo_arc (cr, x + 4, y + side - 4, 4, G_PI / 2, G_PI);
          cairo_arc (cr, x + 4, y + 4, 4, G_PI, 3 * G_PI / 2);
          cairo_close_path (cr);
          if (count == 0)
            cairo_set_source_rgba (cr, fg.red, fg.green, fg.blue, 0.05);
          else
            cairo_set_source_rgba (cr, tone->red, tone->green, tone->blue, alpha);
          cairo_fill_preserve (cr);
          if ((int) i == self->hover_row && (int) j == self->hover_col)
            {
              cairo_set_source_rgba (cr, fg.red, fg.green, fg.blue, 0.5);
              cairo_set_line_width (cr, 1.5);
              cairo_stroke (cr);
            }
          else if (focused && i == self->focus_row && j == self->focus_col)
            {
              cairo_set_source_rgba (cr, 0.208, 0.518, 0.894, 1.0);
              cairo_set_line_width (cr, 2.0);
              cairo_stroke (cr);
            }
          else
            cairo_new_path (cr);

          pango_layout_get_pixel_size (layout, &w, &h);
          if (alpha > 0.55)
            cairo_set_source_rgba (cr, 1, 1, 1, 1);
          else
            cairo_set_source_rgba (cr, fg.red, fg.green, fg.blue, count ? 0.9 : 0.35);
          cairo_move_to (cr, x + (side - w) / 2, y + (side - h) / 2);
          pango_cairo_show_layout (cr, layout);
        }
    }
  cairo_destroy (cr);
}

static void
leaf_confusion_matrix_measure (GtkWidget      *widget,
                               GtkOrientation  orientation,
                               int             for_size,
                               int            *minimum,
                               int            *natural,
                               int            *minimum_baseline,
                               int            *natural_baseline)
{
  LeafConfusionMatrix *self = LEAF_CONFUSION_MATRIX (widget);
  guint n = self->model ? leaf_confusion_get_n_classes (self->model) : 0;
  double extra = orientation == GTK_ORIENTATION_HORIZONTAL ? measure_label_width (self) : 24;

  *minimum = (int) ceil (extra + n * MIN_CELL);
  *natural = (int) ceil (extra + n * NAT_CELL);
}

static void
activate_cell (LeafConfusionMatrix *self,
               guint                row,
               guint                col)
{
  self->focus_row = row;
  self->focus_col = col;
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_signal_emit (self, signals[CELL_ACTIVATED], 0, row, col);
}

static void
on_click_released_cb (GtkGestureClick     *gesture,
                      int                  n_press,
                      double               x,
                      double               y,
                      LeafConfusionMatrix *self)
{
  guint row, col;

  if (cell_at (self, x, y, &row, &col))
    {
      gtk_widget_grab_focus (GTK_WIDGET (self));
      activate_cell (self, row, col);
    }
}

static void
on_motion_cb (GtkEventControllerMotion *motion,
              double                    x,
              double                    y,
              LeafConfusionMatrix      *self)
{
  guint row, col;
  int hover_row = -1, hover_col = -1;

  if (cell_at (self, x, y, &row, &col))
    hover_row = row, hover_col = col;
  if (hover_row != self->hover_row || hover_col != self->hover_col)
    {
      self->hover_row = hover_row;
      self->hover_col = hover_col;
      gtk_widget_set_cursor_from_name (GTK_WIDGET (self), hover_row >= 0 ? "pointer" : NULL);
      gtk_widget_queue_draw (GTK_WIDGET (self));
    }
}

static void
on_leave_cb (GtkEventControllerMotion *motion,
             LeafConfusionMatrix      *self)
{
  self->hover_row = self->hover_col = -1;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static gboolean
leaf_confusion_matrix_query_tooltip (GtkWidget  *widget,
                                     int         x,
                                     int         y,
                                     gboolean    keyboard_tooltip,
                                     GtkTooltip *tooltip)
{
  LeafConfusionMatrix *self = LEAF_CONFUSION_MATRIX (widget);
  g_autofree char *text = NULL;
  guint row, col, count;

  if (keyboard_tooltip)
    row = self->focus_row, col = self->focus_col;
  else if (!cell_at (self, x, y, &row, &col))
    return FALSE;
  if (self->model == NULL || row >= leaf_confusion_get_n_classes (self->model))
    return FALSE;

  count = leaf_confusion_get_count (self->model, row, col);
  if (row == col)
    text = g_strdup_printf (ngettext ("%u photo of %s recognised correctly",
                                      "%u photos of %s recognised correctly", count),
                            count, leaf_confusion_get_class_name (self->model, row));
  else
    text = g_strdup_printf (ngettext ("%u photo of %s predicted as %s",
                                      "%u photos of %s predicted as %s", count),
                            count, leaf_confusion_get_class_name (self->model, row),
                            leaf_confusion_get_class_name (self->model, col));
  gtk_tooltip_set_text (tooltip, text);
  return TRUE;
}

static gboolean
move_focus_cb (GtkWidget *widget,
               GVariant  *args,
               gpointer   user_data)
{
  LeafConfusionMatrix *self = LEAF_CONFUSION_MATRIX (widget);
  guint n = self->model ? leaf_confusion_get_n_classes (self->model) : 0;
  int drow, dcol;

  if (n == 0)
    return FALSE;
  g_variant_get (args, "(ii)", &drow, &dcol);
  self->focus_row = CLAMP ((int) self->focus_row + drow, 0, (int) n - 1);
  self->focus_col = CLAMP ((int) self->focus_col + dcol, 0, (int) n - 1);
  gtk_widget_trigger_tooltip_query (widget);
  gtk_widget_queue_draw (widget);
  return TRUE;
}

static gboolean
activate_focus_cb (GtkWidget *widget,
                   GVariant  *args,
                   gpointer   user_data)
{
  LeafConfusionMatrix *self = LEAF_CONFUSION_MATRIX (widget);

  if (self->model == NULL || leaf_confusion_get_n_classes (self->model) == 0)
    return FALSE;
  activate_cell (self, self->focus_row, self->focus_col);
  return TRUE;
}

static void
leaf_confusion_matrix_dispose (GObject *object)
{
  LeafConfusionMatrix *self = LEAF_CONFUSION_MATRIX (object);

  if (self->model != NULL)
    g_signal_handlers_disconnect_by_data (self->model, self);
  g_clear_object (&self->model);
  G_OBJECT_CLASS (leaf_confusion_matrix_parent_class)->dispose (object);
}

static void
leaf_confusion_matrix_finalize (GObject *object)
{
  LeafConfusionMatrix *self = LEAF_CONFUSION_MATRIX (object);

  g_clear_pointer (&self->summary, g_free);
  G_OBJECT_CLASS (leaf_confusion_matrix_parent_class)->finalize (object);
}

static void
leaf_confusion_matrix_get_property (GObject    *object,
                                    guint       prop_id,
                                    GValue     *value,
                                    GParamSpec *pspec)
{
  LeafConfusionMatrix *self = LEAF_CONFUSION_MATRIX (object);

  switch (prop_id)
    {
    case PROP_MODEL:
      g_value_set_object (value, self->model);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
leaf_confusion_matrix_set_property (GObject      *object,
                                    guint         prop_id,
                                    const GValue *value,
                                    GParamSpec   *pspec)
{
  LeafConfusionMatrix *self = LEAF_CONFUSION_MATRIX (object);

  switch (prop_id)
    {
    case PROP_MODEL:
      leaf_confusion_matrix_set_model (self, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
leaf_confusion_matrix_class_init (LeafConfusionMatrixClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = leaf_confusion_matrix_dispose;
  object_class->finalize = leaf_confusion_matrix_finalize;
  object_class->get_property = leaf_confusion_matrix_get_property;
  object_class->set_property = leaf_confusion_matrix_set_property;

  widget_class->snapshot = leaf_confusion_matrix_snapshot;
  widget_class->measure = leaf_confusion_matrix_measure;
  widget_class->query_tooltip = leaf_confusion_matrix_query_tooltip;

  properties[PROP_MODEL] =
    g_param_spec_object ("model", NULL, NULL, LEAF_TYPE_CONFUSION,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * LeafConfusionMatrix::cell-activated:
   * @self: the matrix
   * @truth: the row: photos whose label is this class
   * @predicted: the column: photos the model predicted as this class
   */
  signals[CELL_ACTIVATED] =
    g_signal_new ("cell-activated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_UINT, G_TYPE_UINT);

  gtk_widget_class_set_css_name (widget_class, "confusionmatrix");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);

  gtk_widget_class_add_binding (widget_class, GDK_KEY_Up, 0, move_focus_cb, "(ii)", -1, 0);
  gtk_widget_class_add_binding (widget_class, GDK_KEY_Down, 0, move_focus_cb, "(ii)", 1, 0);
  gtk_widget_class_add_binding (widget_class, GDK_KEY_Left, 0, move_focus_cb, "(ii)", 0, -1);
  gtk_widget_class_add_binding (widget_class, GDK_KEY_Right, 0, move_focus_cb, "(ii)", 0, 1);
  gtk_widget_class_add_binding (widget_class, GDK_KEY_Return, 0, activate_focus_cb, NULL);
  gtk_widget_class_add_binding (widget_class, GDK_KEY_KP_Enter, 0, activate_focus_cb, NULL);
  gtk_widget_class_add_binding (widget_class, GDK_KEY_space, 0, activate_focus_cb, NULL);
}

static void
leaf_confusion_matrix_init (LeafConfusionMatrix *self)
{
  GtkGesture *click = gtk_gesture_click_new ();
  GtkEventController *motion = gtk_event_controller_motion_new ();

  self->hover_row = self->hover_col = -1;
  gtk_widget_set_focusable (GTK_WIDGET (self), TRUE);
  gtk_widget_set_has_tooltip (GTK_WIDGET (self), TRUE);

  g_signal_connect (click, "released", G_CALLBACK (on_click_released_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (click));
  g_signal_connect (motion, "motion", G_CALLBACK (on_motion_cb), self);
  g_signal_connect (motion, "leave", G_CALLBACK (on_leave_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), motion);

  gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, _("Confusion matrix"),
                                  -1);
  update_summary (self);
}

GtkWidget *
leaf_confusion_matrix_new (void)
{
  return g_object_new (LEAF_TYPE_CONFUSION_MATRIX, NULL);
}

/**
 * leaf_confusion_matrix_get_model:
 *
 * Returns: (transfer none) (nullable): the matrix shown
 */
LeafConfusion *
leaf_confusion_matrix_get_model (LeafConfusionMatrix *self)
{
  g_return_val_if_fail (LEAF_IS_CONFUSION_MATRIX (self), NULL);
  return self->model;
}

void
leaf_confusion_matrix_set_model (LeafConfusionMatrix *self,
                                 LeafConfusion       *model)
{
  g_return_if_fail (LEAF_IS_CONFUSION_MATRIX (self));
  g_return_if_fail (model == NULL || LEAF_IS_CONFUSION (model));

  if (self->model == model)
    return;
  if (self->model != NULL)
    g_signal_handlers_disconnect_by_data (self->model, self);
  g_set_object (&self->model, model);
  if (model != NULL)
    g_signal_connect (model, "changed", G_CALLBACK (on_model_changed_cb), self);
  self->focus_row = self->focus_col = 0;
  self->hover_row = self->hover_col = -1;
  on_model_changed_cb (model, self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODEL]);
}

const char *
leaf_confusion_matrix_get_summary (LeafConfusionMatrix *self)
{
  g_return_val_if_fail (LEAF_IS_CONFUSION_MATRIX (self), NULL);
  return self->summary;
}
