/* leaf-reliability-diagram.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A reliability diagram: validation photos are binned by the probability the model gave its
 * top class, and each bin's bar is the share of them it got right. A calibrated model's bars
 * reach the diagonal. Two bars per bin compare the raw probabilities with the probabilities
 * after temperature scaling. The bins come normalised (shares in 0..1), so snapshot () only
 * scales them to the allocation.
 */

#define G_LOG_DOMAIN "leaf-reliability-diagram"

#include "config.h"

#include <glib/gi18n.h>
#include <pango/pangocairo.h>

#include "leaf-reliability-diagram.h"

struct _LeafReliabilityDiagram
{
  GtkWidget parent_instance;

  gboolean has_data;
  LeafCalibration calibration;
  char *summary;
};

G_DEFINE_FINAL_TYPE (LeafReliabilityDiagram, leaf_reliability_diagram, GTK_TYPE_WIDGET)

/* The same pair of colours as the training charts' training and validation curves. */
static const GdkRGBA before_color = { 0.902, 0.380, 0.0, 1.0 };  /* #e66100 */
static const GdkRGBA after_color = { 0.208, 0.518, 0.894, 1.0 }; /* #3584e4 */

static void
update_summary (LeafReliabilityDiagram *self)
{
  GString *s = g_string_new (NULL);
  const LeafCalibration *c = &self->calibration;

  if (!self->has_data)
    g_string_append (s, _("No calibration record for this model"));
  else
    {
      /* Translators: reliability diagram summary for screen readers; the numbers are the
       * expected calibration error before and after temperature scaling, in percent */
      g_string_append_printf (s, _("Expected calibration error %.1f%% before temperature "
                                   "scaling, %.1f%% after (temperature %.2f)"),
                              100 * c->ece_before, 100 * c->ece_after, c->temperature);
      for (guint i = 0; i < LEAF_CALIBRATION_N_BINS; i++)
        {
          const LeafReliabilityBin *before = &c->bins_before[i];
          const LeafReliabilityBin *after = &c->bins_after[i];
          double lower = 100.0 * i / LEAF_CALIBRATION_N_BINS;
          double upper = 100.0 * (i + 1) / LEAF_CALIBRATION_N_BINS;

          if (before->count == 0 && after->count == 0)
            continue;
          g_string_append (s, ". ");
          /* Translators: one bin of the reliability diagram: the confidence range, then how
           * many photos fell in it and how many of them were right, before and after */
          g_string_append_printf (s, _("Confidence %.0f–%.0f%%: before, %u photos, %.0f%% right; "
                                       "after, %u photos, %.0f%% right"),
                                  lower, upper, before->count, 100 * before->accuracy,
                                  after->count, 100 * after->accuracy);
        }
    }
  g_free (self->summary);
  self->summary = g_string_free (s, FALSE);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION,
                                  self->summary, -1);
}

static PangoLayout *
small_layout (GtkWidget  *widget,
              const char *text)
{
  PangoLayout *layout = gtk_widget_create_pango_layout (widget, text);
  PangoAttrList *attrs = pango_attr_list_new ();

  pango_attr_list_insert (attrs, pango_attr_scale_new (0.82));
  pango_attr_list_insert (attrs, pango_attr_font_features_new ("tnum=1"));
  pango_layout_set_attributes (layout, attrs);
  pango_attr_list_unref (attrs);
  return layout;
}

static void
show_text (cairo_t     *cr,
           PangoLayout *layout,
           double       x,
           double       y,
           double       x_align,
           double       y_align)
{
  int w, h;

  pango_layout_get_pixel_size (layout, &w, &h);
  cairo_move_to (cr, x - x_align * w, y - y_align * h);
  pango_cairo_show_layout (cr, layout);
}

static void
draw_bars (cairo_t                  *cr,
           const graphene_rect_t    *plot,
           const LeafReliabilityBin *bins,
           const GdkRGBA            *color,
           double                    offset)
{
  double bin_width = plot->size.width / LEAF_CALIBRATION_N_BINS;

  gdk_cairo_set_source_rgba (cr, color);
  for (guint i = 0; i < LEAF_CALIBRATION_N_BINS; i++)
    {
      double height = bins[i].accuracy * plot->size.height;

      if (bins[i].count == 0)
        continue;
      cairo_rectangle (cr, plot->origin.x + i * bin_width + bin_width * offset + 1,
                       plot->origin.y + plot->size.height - height, bin_width * 0.5 - 2, height);
    }
  cairo_fill (cr);
}

static void
leaf_reliability_diagram_snapshot (GtkWidget   *widget,
                                   GtkSnapshot *snapshot)
{
  LeafReliabilityDiagram *self = LEAF_RELIABILITY_DIAGRAM (widget);
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);
  static const double dash[] = { 4.0, 3.0 };
  const struct { const char *text; const GdkRGBA *color; } legend[] = {
    { _("Before scaling"), &before_color },
    { _("After"), &after_color },
  };
  g_autoptr(PangoLayout) y_label = NULL;
  g_autoptr(PangoLayout) x_title = NULL;
  graphene_rect_t plot;
  GdkRGBA fg;
  double legend_x;
  int label_w, label_h;
  cairo_t *cr;

  if (width <= 0 || height <= 0)
    return;
  gtk_style_context_get_color (gtk_widget_get_style_context (widget), &fg);
  cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, width, height));

  y_label = small_layout (widget, "100%");
  pango_layout_get_pixel_size (y_label, &label_w, &label_h);
  /* Top row: legend; bottom rows: tick labels and the axis title. */
  plot = GRAPHENE_RECT_INIT (label_w + 8, label_h + 10, MAX (width - label_w - 18, 1),
                             MAX (height - 3 * label_h - 20, 1));

  legend_x = width;
  for (gsize i = G_N_ELEMENTS (legend); i > 0; i--)
    {
      g_autoptr(PangoLayout) layout = small_layout (widget, legend[i - 1].text);
      int lw, lh;

      pango_layout_get_pixel_size (layout, &lw, &lh);
      legend_x -= lw;
      cairo_set_source_rgba (cr, fg.red, fg.green, fg.blue, 0.7);
      show_text (cr, layout, legend_x, 0, 0, 0);
      gdk_cairo_set_source_rgba (cr, legend[i - 1].color);
      cairo_rectangle (cr, legend_x - 16, lh / 2.0 - 5, 10, 10);
      cairo_fill (cr);
      legend_x -= 30;
    }

  /* Grid at 0, 50 and 100%, on both axes. */
  cairo_set_line_width (cr, 1.0);
  for (guint i = 0; i <= 2; i++)
    {
      g_autofree char *text = g_strdup_printf ("%u%%", 50 * i);
      g_autoptr(PangoLayout) layout = small_layout (widget, text);
      double y = round (plot.origin.y + (1 - i / 2.0) * plot.size.height) + 0.5;
      double x = round (plot.origin.x + i / 2.0 * plot.size.width) + 0.5;

      cairo_set_source_rgba (cr, fg.red, fg.green, fg.blue, 0.1);
      cairo_move_to (cr, plot.origin.x, y);
      cairo_line_to (cr, plot.origin.x + plot.size.width, y);
      cairo_move_to (cr, x, plot.origin.y);
      cairo_line_to (cr, x, plot.origin.y + plot.size.height);
      cairo_stroke (cr);
      cairo_set_source_rgba (cr, fg.red, fg.green, fg.blue, 0.55);
      show_text (cr, layout, plot.origin.x - 6, y, 1, 0.5);
      show_text (cr, layout, x, plot.origin.y + plot.size.height + 4, i / 2.0, 0);
    }
  x_title = small_layout (widget, _("Confidence of the top class; bars: share right"));
  show_text (cr, x_title, plot.origin.x + plot.size.width / 2,
             plot.origin.y + plot.size.height + label_h + 8, 0.5, 0);

  if (self->has_data)
    {
      draw_bars (cr, &plot, self->calibration.bins_before, &before_color, 0.0);
      draw_bars (cr, &plot, self->calibration.bins_after, &after_color, 0.5);
    }

  /* Perfect calibration: accuracy equals confidence. */
  cairo_set_source_rgba (cr, fg.red, fg.green, fg.blue, 0.6);
  cairo_set_dash (cr, dash, G_N_ELEMENTS (dash), 0);
  cairo_move_to (cr, plot.origin.x, plot.origin.y + plot.size.height);
  cairo_line_to (cr, plot.origin.x + plot.size.width, plot.origin.y);
  cairo_stroke (cr);
  cairo_destroy (cr);
}

static void
leaf_reliability_diagram_measure (GtkWidget      *widget,
                                  GtkOrientation  orientation,
                                  int             for_size,
                                  int            *minimum,
                                  int            *natural,
                                  int            *minimum_baseline,
                                  int            *natural_baseline)
{
  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    *minimum = 240, *natural = 420;
  else
    *minimum = 180, *natural = 260;
}

static void
leaf_reliability_diagram_finalize (GObject *object)
{
  LeafReliabilityDiagram *self = LEAF_RELIABILITY_DIAGRAM (object);

  g_clear_pointer (&self->summary, g_free);
  G_OBJECT_CLASS (leaf_reliability_diagram_parent_class)->finalize (object);
}

static void
leaf_reliability_diagram_class_init (LeafReliabilityDiagramClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->finalize = leaf_reliability_diagram_finalize;
  widget_class->snapshot = leaf_reliability_diagram_snapshot;
  widget_class->measure = leaf_reliability_diagram_measure;

  gtk_widget_class_set_css_name (widget_class, "reliabilitydiagram");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
leaf_reliability_diagram_init (LeafReliabilityDiagram *self)
{
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Reliability diagram"), -1);
  update_summary (self);
}

GtkWidget *
leaf_reliability_diagram_new (void)
{
  return g_object_new (LEAF_TYPE_RELIABILITY_DIAGRAM, NULL);
}

/**
 * leaf_reliability_diagram_set_calibration:
 * @self: the diagram
 * @calibration: (nullable): the bins and calibration errors to show, or %NULL for none
 */
void
leaf_reliability_diagram_set_calibration (LeafReliabilityDiagram *self,
                                          const LeafCalibration  *calibration)
{
  g_return_if_fail (LEAF_IS_RELIABILITY_DIAGRAM (self));

  self->has_data = calibration != NULL;
  if (calibration != NULL)
    self->calibration = *calibration;
  update_summary (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

/**
 * leaf_reliability_diagram_get_summary:
 *
 * Returns: the text the diagram gives screen readers as its accessible description
 */
const char *
leaf_reliability_diagram_get_summary (LeafReliabilityDiagram *self)
{
  g_return_val_if_fail (LEAF_IS_RELIABILITY_DIAGRAM (self), NULL);
  return self->summary;
}
