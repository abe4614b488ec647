/* leaf-chart.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The chart keeps a normalised copy of its series: every time a series emits items-changed the
 * points are mapped into [0, 1]², dense series are thinned to what a screen can show, and the
 * tick labels are chosen. snapshot () only scales that copy to the allocation, so drawing stays
 * cheap however long training runs, and nothing is redrawn unless data arrived.
 */

#define G_LOG_DOMAIN "leaf-chart"

#include "config.h"

#include <glib/gi18n.h>
#include <math.h>
#include <pango/pangocairo.h>

#include "leaf-chart.h"

/* Series longer than this are reduced to the minimum and maximum of each of MAX_BUCKETS x
 * buckets, which keeps every spike visible on any screen. */
#define MAX_POINTS  2400
#define MAX_BUCKETS 1000
/* Dots are drawn on sample positions only while they stay apart. */
#define MAX_DOTS    60

typedef struct
{
  LeafChartSeries *series;
  GdkRGBA color;  /* the series' colour, parsed */
  GArray *points; /* graphene_point_t in [0, 1]², y growing upwards */
} Line;

typedef struct
{
  double pos; /* in [0, 1] */
  char label[32];
} Tick;

struct _LeafChart
{
  GtkWidget parent_instance;

  GListModel *model;
  GPtrArray *watched; /* LeafChartSeries we hold a signal connection on */

  char *title;
  char *x_title;
  char *placeholder_text;
  char *marker_label;
  char *summary;
  gboolean percent;
  double x_fixed[2];
  double y_fixed[2];
  double marker_x;

  /* Normalised data, rebuilt by leaf_chart_update (). */
  GPtrArray *lines; /* Line */
  GArray *x_ticks;  /* Tick */
  GArray *y_ticks;  /* Tick */
  double marker_pos; /* NAN when there is no marker inside the x range */
  guint n_points;
};

G_DEFINE_FINAL_TYPE (LeafChart, leaf_chart, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_MODEL,
  PROP_TITLE,
  PROP_X_TITLE,
  PROP_PLACEHOLDER_TEXT,
  PROP_PERCENT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* g_set_str () arrives in GLib 2.76. */
static gboolean
replace_str (char       **str,
             const char  *value)
{
  if (g_strcmp0 (*str, value) == 0)
    return FALSE;
  g_free (*str);
  *str = g_strdup (value);
  return TRUE;
}

/* A colour the series' owner got wrong leaves the line as it was: GNOME's blue 3 at first. */
static void
line_parse_color (Line *line)
{
  GdkRGBA color;

  if (gdk_rgba_parse (&color, leaf_chart_series_get_color (line->series)))
    line->color = color;
}

static void
line_free (gpointer data)
{
  Line *line = data;

  g_array_unref (line->points);
  g_free (line);
}

static double
nice_step (double range,
           int    target)
{
  double raw = range / target;
  double magnitude = pow (10.0, floor (log10 (raw)));
  double fraction = raw / magnitude;
  double nice;

  if (fraction < 1.5)
    nice = 1.0;
  else if (fraction < 3.0)
    nice = 2.0;
  else if (fraction < 7.0)
    nice = 5.0;
  else
    nice = 10.0;
  return nice * magnitude;
}

static void
format_value (char     *buf,
              gsize     size,
              double    value,
              double    step,
              gboolean  percent)
{
  int decimals;

  if (percent)
    {
      value *= 100.0;
      step *= 100.0;
    }
  decimals = step >= 1.0 ? 0 : (int) ceil (-log10 (step) - 1e-9);
  decimals = CLAMP (decimals, 0, 4);
  /* Avoid "-0" for a tick that lands on zero through rounding. */
  if (fabs (value) < step * 1e-6)
    value = 0.0;
  g_snprintf (buf, size, percent ? "%.*f%%" : "%.*f", decimals, value);
}

/* Chooses ticks for [*lo, *hi], widening the range to whole steps when @extend is set. */
static void
make_ticks (GArray   *ticks,
            double   *lo,
            double   *hi,
            int       target,
            double    min_step,
            gboolean  extend,
            gboolean  percent)
{
  double step = MAX (nice_step (*hi - *lo, target), min_step);

  if (extend)
    {
      *lo = floor (*lo / step + 1e-9) * step;
      *hi = ceil (*hi / step - 1e-9) * step;
    }
  g_array_set_size (ticks, 0);
  for (double v = ceil (*lo / step - 1e-9) * step; v <= *hi + step * 1e-6; v += step)
    {
      Tick tick;

      tick.pos = (v - *lo) / (*hi - *lo);
      format_value (tick.label, sizeof tick.label, v, step, percent);
      g_array_append_val (ticks, tick);
    }
}

static void
normalise_series (Line           *line,
                  const LeafChartPoint *points,
                  guint           n,
                  double          x_lo,
                  double          x_hi,
                  double          y_lo,
                  double          y_hi)
{
  double sx = 1.0 / (x_hi - x_lo);
  double sy = 1.0 / (y_hi - y_lo);

  g_array_set_size (line->points, 0);
  if (n <= MAX_POINTS)
    {
      for (guint i = 0; i < n; i++)
        {
          graphene_point_t p = GRAPHENE_POINT_INIT ((points[i].x - x_lo) * sx,
                                                    (points[i].y - y_lo) * sy);
          g_array_append_val (line->points, p);
        }
      return;
    }

  /* Thin a dense trace: keep the extremes of each bucket, in the order they occurred. */
  for (guint i = 0; i < n;)
    {
      guint bucket = (guint) ((points[i].x - x_lo) * sx * (MAX_BUCKETS - 1));
      guint lo_i = i, hi_i = i, j = i;

      for (; j < n && (guint) ((points[j].x - x_lo) * sx * (MAX_BUCKETS - 1)) == bucket; j++)
        {
          if (points[j].y < points[lo_i].y)
            lo_i = j;
          if (points[j].y > points[hi_i].y)
            hi_i = j;
        }
      for (guint k = 0; k < 2; k++)
        {
          guint idx = (k == 0) == (lo_i < hi_i) ? lo_i : hi_i;
          graphene_point_t p = GRAPHENE_POINT_INIT ((points[idx].x - x_lo) * sx,
                                                    (points[idx].y - y_lo) * sy);

          g_array_append_val (line->points, p);
          if (lo_i == hi_i)
            break;
        }
      i = j;
    }
}

static void
update_summary (LeafChart *self)
{
  g_autoptr(GString) s = g_string_new (self->title ? self->title : "");

  if (self->n_points == 0)
    {
      if (s->len > 0)
        g_string_append (s, ". ");
      g_string_append (s, self->placeholder_text ? self->placeholder_text : _("No data"));
    }
  for (guint i = 0; i < self->lines->len; i++)
    {
      Line *line = g_ptr_array_index (self->lines, i);
      const LeafChartPoint *points;
      guint n;

      points = leaf_chart_series_peek_points (line->series, &n);
      if (n == 0)
        continue;
      if (s->len > 0)
        g_string_append (s, ". ");
      if (self->percent)
        /* Translators: chart summary for screen readers: series name, point count, value, x */
        g_string_append_printf (s, ngettext ("%s: %u point, latest %.1f%% at %g",
                                             "%s: %u points, latest %.1f%% at %g", n),
                                leaf_chart_series_get_title (line->series), n,
                                points[n - 1].y * 100.0, points[n - 1].x);
      else
        g_string_append_printf (s, ngettext ("%s: %u point, latest %.3g at %g",
                                             "%s: %u points, latest %.3g at %g", n),
                                leaf_chart_series_get_title (line->series), n,
                                points[n - 1].y, points[n - 1].x);
    }
  if (!isnan (self->marker_x) && self->marker_label != NULL)
    {
      if (s->len > 0)
        g_string_append (s, ". ");
      /* Translators: the marker label, then where it sits on the x axis */
      g_string_append_printf (s, _("%s at %g"), self->marker_label, self->marker_x);
    }

  g_free (self->summary);
  self->summary = g_string_free (g_steal_pointer (&s), FALSE);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, self->summary,
                                  -1);
}

/* Rebuilds the normalised copy of the data; called whenever the data or the ranges change. */
static void
leaf_chart_update (LeafChart *self)
{
  double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  gboolean x_integral = TRUE;

  self->n_points = 0;
  for (guint i = 0; i < self->lines->len; i++)
    {
      Line *line = g_ptr_array_index (self->lines, i);
      const LeafChartPoint *points;
      guint n;

      points = leaf_chart_series_peek_points (line->series, &n);
      self->n_points += n;
      for (guint j = 0; j < n; j++)
        {
          x_lo = MIN (x_lo, points[j].x);
          x_hi = MAX (x_hi, points[j].x);
          y_lo = MIN (y_lo, points[j].y);
          y_hi = MAX (y_hi, points[j].y);
          if (points[j].x != floor (points[j].x))
            x_integral = FALSE;
        }
    }

  if (self->n_points == 0)
    {
      x_lo = 0.0, x_hi = 1.0, y_lo = 0.0, y_hi = 1.0;
    }
  else if (y_lo >= 0.0 && !self->percent)
    {
      /* Losses and counts read best against zero. */
      y_lo = 0.0;
    }
  if (!isnan (self->x_fixed[0]))
    x_lo = self->x_fixed[0], x_hi = MAX (self->x_fixed[1], x_hi);
  if (!isnan (self->y_fixed[0]))
    y_lo = MIN (self->y_fixed[0], y_lo), y_hi = MAX (self->y_fixed[1], y_hi);
  if (x_hi - x_lo < 1e-9)
    x_lo -= 0.5, x_hi += 0.5;
  if (y_hi - y_lo < 1e-9)
    y_lo -= 0.5, y_hi += 0.5;

  make_ticks (self->x_ticks, &x_lo, &x_hi, 6,
              x_integral && x_hi - x_lo >= 2.0 ? 1.0 : 0.0,
              isnan (self->x_fixed[0]), FALSE);
  make_ticks (self->y_ticks, &y_lo, &y_hi, 4, 0.0, isnan (self->y_fixed[0]), self->percent);

  for (guint i = 0; i < self->lines->len; i++)
    {
      Line *line = g_ptr_array_index (self->lines, i);
      const LeafChartPoint *points;
      guint n;

      points = leaf_chart_series_peek_points (line->series, &n);
      normalise_series (line, points, n, x_lo, x_hi, y_lo, y_hi);
    }

  self->marker_pos = NAN;
  if (!isnan (self->marker_x) && self->marker_x >= x_lo && self->marker_x <= x_hi)
    self->marker_pos = (self->marker_x - x_lo) / (x_hi - x_lo);

  update_summary (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
on_series_items_changed_cb (GListModel *series,
                            guint       position,
                            guint       removed,
                            guint       added,
                            LeafChart  *self)
{
  leaf_chart_update (self);
}

static void
on_series_color_changed_cb (LeafChartSeries *series,
                            GParamSpec      *pspec,
                            LeafChart       *self)
{
  for (guint i = 0; i < self->lines->len; i++)
    {
      Line *line = g_ptr_array_index (self->lines, i);

      if (line->series == series)
        line_parse_color (line);
    }
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
unwatch_all (LeafChart *self)
{
  for (guint i = 0; i < self->watched->len; i++)
    g_signal_handlers_disconnect_by_data (g_ptr_array_index (self->watched, i), self);
  g_ptr_array_set_size (self->watched, 0);
  g_ptr_array_set_size (self->lines, 0);
}

static void
on_model_items_changed_cb (GListModel *model,
                           guint       position,
                           guint       removed,
                           guint       added,
                           LeafChart  *self)
{
  guint n = g_list_model_get_n_items (model);

  unwatch_all (self);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(LeafChartSeries) series = g_list_model_get_item (model, i);
      Line *line = g_new0 (Line, 1);

      line->series = series;
      line->color = (GdkRGBA) { 0.208, 0.518, 0.894, 1.0 };
      line_parse_color (line);
      line->points = g_array_new (FALSE, FALSE, sizeof (graphene_point_t));
      g_ptr_array_add (self->lines, line);
      g_ptr_array_add (self->watched, g_object_ref (series));
      g_signal_connect (series, "items-changed", G_CALLBACK (on_series_items_changed_cb), self);
      g_signal_connect (series, "notify::color", G_CALLBACK (on_series_color_changed_cb), self);
    }
  leaf_chart_update (self);
}

static PangoLayout *
create_layout (LeafChart  *self,
               const char *text,
               gboolean    bold)
{
  PangoLayout *layout = gtk_widget_create_pango_layout (GTK_WIDGET (self), text);
  PangoAttrList *attrs = pango_attr_list_new ();

  pango_attr_list_insert (attrs, pango_attr_scale_new (bold ? 1.0 : 0.82));
  if (bold)
    pango_attr_list_insert (attrs, pango_attr_weight_new (PANGO_WEIGHT_BOLD));
  else
    pango_attr_list_insert (attrs, pango_attr_font_features_new ("tnum=1"));
  pango_layout_set_attributes (layout, attrs);
  pango_attr_list_unref (attrs);
  return layout;
}

static void
set_source (cairo_t       *cr,
            const GdkRGBA *color,
            double         alpha)
{
  cairo_set_source_rgba (cr, color->red, color->green, color->blue, color->alpha * alpha);
}

static void
draw_line (cairo_t          *cr,
           Line             *line,
           graphene_rect_t  *plot)
{
  LeafChartStyle style = leaf_chart_series_get_style (line->series);
  const GdkRGBA *color = &line->color;
  static const double dash[] = { 6.0, 4.0 };
  guint n = line->points->len;

  if (n == 0)
    return;

  cairo_save (cr);
  cairo_set_line_join (cr, CAIRO_LINE_JOIN_ROUND);
  cairo_set_line_cap (cr, CAIRO_LINE_CAP_ROUND);
  for (guint i = 0; i < n; i++)
    {
      const graphene_point_t *p = &g_array_index (line->points, graphene_point_t, i);
      double x = plot->origin.x + p->x * plot->size.width;
      double y = plot->origin.y + (1.0 - p->y) * plot->size.height;

      if (i == 0)
        cairo_move_to (cr, x, y);
      else
        cairo_line_to (cr, x, y);
    }
  switch (style)
    {
    case LEAF_CHART_STYLE_TRACE:
      cairo_set_line_width (cr, 1.0);
      set_source (cr, color, 0.45);
      break;
    case LEAF_CHART_STYLE_DASHED:
      cairo_set_dash (cr, dash, G_N_ELEMENTS (dash), 0.0);
      G_GNUC_FALLTHROUGH;
    case LEAF_CHART_STYLE_LINE:
    default:
      cairo_set_line_width (cr, 2.0);
      set_source (cr, color, 1.0);
      break;
    }
  cairo_stroke (cr);

  if (style != LEAF_CHART_STYLE_TRACE && (n == 1 || n <= MAX_DOTS))
    {
      set_source (cr, color, 1.0);
      for (guint i = 0; i < n; i++)
        {
          const graphene_point_t *p = &g_array_index (line->points, graphene_point_t, i);

          cairo_new_sub_path (cr);
          cairo_arc (cr, plot->origin.x + p->x * plot->size.width,
                     plot->origin.y + (1.0 - p->y) * plot->size.height, 3.0, 0, 2 * G_PI);
        }
      cairo_fill (cr);
    }
  cairo_restore (cr);
}

static void
leaf_chart_snapshot (GtkWidget   *widget,
                     GtkSnapshot *snapshot)
{
  LeafChart *self = LEAF_CHART (widget);
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);
  static const GdkRGBA marker_color = { 0.902, 0.380, 0.0, 1.0 };
  static const double marker_dash[] = { 4.0, 3.0 };
  g_autoptr(PangoLayout) title = NULL;
  GdkRGBA fg;
  graphene_rect_t plot;
  double left = 0, bottom = 0, top, legend_x;
  int tw, th, label_h = 0;
  cairo_t *cr;

  if (width <= 0 || height <= 0)
    return;

  gtk_style_context_get_color (gtk_widget_get_style_context (widget), &fg);
  cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, width, height));

  /* Title on the left of the top row, legend on its right. */
  title = create_layout (self, self->title ? self->title : "", TRUE);
  pango_layout_get_pixel_size (title, &tw, &th);
  set_source (cr, &fg, 0.9);
  cairo_move_to (cr, 0, 0);
  pango_cairo_show_layout (cr, title);
  /* Each entry is a swatch, its name and a gap: right of the title when all fit there, else
   * in rows of their own below it, so that no series goes unnamed in a narrow chart. */
  {
    g_autoptr(GPtrArray) layouts = g_ptr_array_new_with_free_func (g_object_unref);
    int legend_w = 0, legend_y = 0, row_h = th;

    for (guint i = 0; i < self->lines->len; i++)
      {
        Line *line = g_ptr_array_index (self->lines, i);
        PangoLayout *layout = create_layout (self, leaf_chart_series_get_title (line->series),
                                             FALSE);
        int lw, lh;

        pango_layout_get_pixel_size (layout, &lw, &lh);
        legend_w += (i > 0 ? 12 : 0) + 18 + lw;
        g_ptr_array_add (layouts, layout);
      }
    legend_x = width - legend_w;
    if (legend_x < tw + 12)
      {
        legend_x = 0;
        legend_y = th + 4;
        row_h = 0;
      }
    for (guint i = 0; i < layouts->len; i++)
      {
        Line *line = g_ptr_array_index (self->lines, i);
        PangoLayout *layout = g_ptr_array_index (layouts, i);
        int lw, lh;

        pango_layout_get_pixel_size (layout, &lw, &lh);
        if (legend_y > 0 && legend_x > 0 && legend_x + 18 + lw > width)
          {
            legend_x = 0;
            legend_y += row_h + 2;
          }
        row_h = MAX (row_h, lh);
        set_source (cr, &line->color, 1.0);
        cairo_rectangle (cr, legend_x, legend_y + MAX (th, lh) / 2.0 - 1.5, 14, 3);
        cairo_fill (cr);
        set_source (cr, &fg, 0.7);
        cairo_move_to (cr, legend_x + 18, legend_y + (MAX (th, lh) - lh) / 2.0);
        pango_cairo_show_layout (cr, layout);
        legend_x += 18 + lw + 12;
      }
    top = legend_y + MAX (row_h, th) + 10;
  }

  /* Room for the tick labels. */
  for (guint i = 0; i < self->y_ticks->len; i++)
    {
      g_autoptr(PangoLayout) layout = create_layout (self, g_array_index (self->y_ticks, Tick, i).label,
                                                     FALSE);
      int lw, lh;

      pango_layout_get_pixel_size (layout, &lw, &lh);
      left = MAX (left, lw + 8);
      label_h = MAX (label_h, lh);
    }
  bottom = label_h + 6;
  if (self->x_title != NULL)
    bottom += label_h + 2;
  plot = GRAPHENE_RECT_INIT (left, top, MAX (width - left - 10, 1), MAX (height - top - bottom, 1));

  /* Grid and tick labels. */
  cairo_set_line_width (cr, 1.0);
  for (guint i = 0; i < self->y_ticks->len; i++)
    {
      Tick *tick = &g_array_index (self->y_ticks, Tick, i);
      g_autoptr(PangoLayout) layout = create_layout (self, tick->label, FALSE);
      double y = round (plot.origin.y + (1.0 - tick->pos) * plot.size.height) + 0.5;
      int lw, lh;

      set_source (cr, &fg, 0.1);
      cairo_move_to (cr, plot.origin.x, y);
      cairo_line_to (cr, plot.origin.x + plot.size.width, y);
      cairo_stroke (cr);
      pango_layout_get_pixel_size (layout, &lw, &lh);
      set_source (cr, &fg, 0.55);
      cairo_move_to (cr, left - 8 - lw, y - lh / 2.0);
      pango_cairo_show_layout (cr, layout);
    }
  for (guint i = 0; i < self->x_ticks->len; i++)
    {
      Tick *tick = &g_array_index (self->x_ticks, Tick, i);
      g_autoptr(PangoLayout) layout = create_layout (self, tick->label, FALSE);
      double x = round (plot.origin.x + tick->pos * plot.size.width) + 0.5;
      int lw, lh;

      set_source (cr, &fg, 0.25);
      cairo_move_to (cr, x, plot.origin.y + plot.size.height);
      cairo_line_to (cr, x, plot.origin.y + plot.size.height + 4);
      cairo_stroke (cr);
      pango_layout_get_pixel_size (layout, &lw, &lh);
      set_source (cr, &fg, 0.55);
      cairo_move_to (cr, CLAMP (x - lw / 2.0, 0, width - lw), plot.origin.y + plot.size.height + 5);
      pango_cairo_show_layout (cr, layout);
    }
  set_source (cr, &fg, 0.3);
  cairo_move_to (cr, plot.origin.x, plot.origin.y + plot.size.height + 0.5);
  cairo_line_to (cr, plot.origin.x + plot.size.width, plot.origin.y + plot.size.height + 0.5);
  cairo_stroke (cr);
  if (self->x_title != NULL)
    {
      g_autoptr(PangoLayout) layout = create_layout (self, self->x_title, FALSE);
      int lw, lh;

      pango_layout_get_pixel_size (layout, &lw, &lh);
      set_source (cr, &fg, 0.55);
      cairo_move_to (cr, plot.origin.x + (plot.size.width - lw) / 2.0, height - lh);
      pango_cairo_show_layout (cr, layout);
    }

  if (!isnan (self->marker_pos))
    {
      double x = round (plot.origin.x + self->marker_pos * plot.size.width) + 0.5;

      cairo_save (cr);
      set_source (cr, &marker_color, 0.9);
      cairo_set_dash (cr, marker_dash, G_N_ELEMENTS (marker_dash), 0.0);
      cairo_move_to (cr, x, plot.origin.y);
      cairo_line_to (cr, x, plot.origin.y + plot.size.height);
      cairo_stroke (cr);
      cairo_restore (cr);
      if (self->marker_label != NULL)
        {
          g_autoptr(PangoLayout) layout = create_layout (self, self->marker_label, FALSE);
          int lw, lh;

          pango_layout_get_pixel_size (layout, &lw, &lh);
          set_source (cr, &marker_color, 1.0);
          cairo_move_to (cr, MIN (x + 4, width - lw), plot.origin.y + 2);
          pango_cairo_show_layout (cr, layout);
        }
    }

  cairo_save (cr);
  cairo_rectangle (cr, plot.origin.x - 4, plot.origin.y - 4, plot.size.width + 8,
                   plot.size.height + 8);
  cairo_clip (cr);
  for (guint i = 0; i < self->lines->len; i++)
    draw_line (cr, g_ptr_array_index (self->lines, i), &plot);
  cairo_restore (cr);

  if (self->n_points == 0 && self->placeholder_text != NULL)
    {
      g_autoptr(PangoLayout) layout = create_layout (self, self->placeholder_text, FALSE);
      int lw, lh;

      pango_layout_get_pixel_size (layout, &lw, &lh);
      set_source (cr, &fg, 0.5);
      cairo_move_to (cr, plot.origin.x + (plot.size.width - lw) / 2.0,
                     plot.origin.y + (plot.size.height - lh) / 2.0);
      pango_cairo_show_layout (cr, layout);
    }

  cairo_destroy (cr);
}

static void
leaf_chart_measure (GtkWidget      *widget,
                    GtkOrientation  orientation,
                    int             for_size,
                    int            *minimum,
                    int            *natural,
                    int            *minimum_baseline,
                    int            *natural_baseline)
{
  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    *minimum = 240, *natural = 480;
  else
    *minimum = 160, *natural = 220;
}

static void
leaf_chart_dispose (GObject *object)
{
  LeafChart *self = LEAF_CHART (object);

  if (self->model != NULL)
    g_signal_handlers_disconnect_by_data (self->model, self);
  unwatch_all (self);
  g_clear_object (&self->model);
  G_OBJECT_CLASS (leaf_chart_parent_class)->dispose (object);
}

static void
leaf_chart_finalize (GObject *object)
{
  LeafChart *self = LEAF_CHART (object);

  g_clear_pointer (&self->watched, g_ptr_array_unref);
  g_clear_pointer (&self->lines, g_ptr_array_unref);
  g_clear_pointer (&self->x_ticks, g_array_unref);
  g_clear_pointer (&self->y_ticks, g_array_unref);
  g_clear_pointer (&self->title, g_free);
  g_clear_pointer (&self->x_title, g_free);
  g_clear_pointer (&self->placeholder_text, g_free);
  g_clear_pointer (&self->marker_label, g_free);
  g_clear_pointer (&self->summary, g_free);
  G_OBJECT_CLASS (leaf_chart_parent_class)->finalize (object);
}

static void
leaf_chart_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  LeafChart *self = LEAF_CHART (object);

  switch (prop_id)
    {
    case PROP_MODEL:
      g_value_set_object (value, self->model);
      break;
    case PROP_TITLE:
      g_value_set_string (value, self->title);
      break;
    case PROP_X_TITLE:
      g_value_set_string (value, self->x_title);
      break;
    case PROP_PLACEHOLDER_TEXT:
      g_value_set_string (value, self->placeholder_text);
      break;
    case PROP_PERCENT:
      g_value_set_boolean (value, self->percent);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
leaf_chart_set_property (GObject      *object,
                         guint         prop_id,
                         const GValue *value,
                         GParamSpec   *pspec)
{
  LeafChart *self = LEAF_CHART (object);

  switch (prop_id)
    {
    case PROP_MODEL:
      leaf_chart_set_model (self, g_value_get_object (value));
      break;
    case PROP_TITLE:
      leaf_chart_set_title (self, g_value_get_string (value));
      break;
    case PROP_X_TITLE:
      leaf_chart_set_x_title (self, g_value_get_string (value));
      break;
    case PROP_PLACEHOLDER_TEXT:
      leaf_chart_set_placeholder_text (self, g_value_get_string (value));
      break;
    case PROP_PERCENT:
      leaf_chart_set_percent (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
leaf_chart_class_init (LeafChartClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = leaf_chart_dispose;
  object_class->finalize = leaf_chart_finalize;
  object_class->get_property = leaf_chart_get_property;
  object_class->set_property = leaf_chart_set_property;

  widget_class->snapshot = leaf_chart_snapshot;
  widget_class->measure = leaf_chart_measure;

  properties[PROP_MODEL] =
    g_param_spec_object ("model", NULL, NULL, G_TYPE_LIST_MODEL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_TITLE] =
    g_param_spec_string ("title", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_X_TITLE] =
    g_param_spec_string ("x-title", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_PLACEHOLDER_TEXT] =
    g_param_spec_string ("placeholder-text", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_PERCENT] =
    g_param_spec_boolean ("percent", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_css_name (widget_class, "chart");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
leaf_chart_init (LeafChart *self)
{
  self->watched = g_ptr_array_new_with_free_func (g_object_unref);
  self->lines = g_ptr_array_new_with_free_func (line_free);
  self->x_ticks = g_array_new (FALSE, FALSE, sizeof (Tick));
  self->y_ticks = g_array_new (FALSE, FALSE, sizeof (Tick));
  self->x_fixed[0] = self->x_fixed[1] = NAN;
  self->y_fixed[0] = self->y_fixed[1] = NAN;
  self->marker_x = NAN;
  leaf_chart_update (self);
}

GtkWidget *
leaf_chart_new (void)
{
  return g_object_new (LEAF_TYPE_CHART, NULL);
}

/**
 * leaf_chart_get_model:
 *
 * Returns: (transfer none) (nullable): the list of #LeafChartSeries drawn
 */
GListModel *
leaf_chart_get_model (LeafChart *self)
{
  g_return_val_if_fail (LEAF_IS_CHART (self), NULL);
  return self->model;
}

/**
 * leaf_chart_set_model:
 * @self: a chart
 * @model: (nullable): a list of #LeafChartSeries
 *
 * The chart redraws whenever @model or one of its series emits items-changed.
 */
void
leaf_chart_set_model (LeafChart  *self,
                      GListModel *model)
{
  g_return_if_fail (LEAF_IS_CHART (self));
  g_return_if_fail (model == NULL || G_IS_LIST_MODEL (model));
  g_return_if_fail (model == NULL
                    || g_type_is_a (g_list_model_get_item_type (model), LEAF_TYPE_CHART_SERIES));

  if (self->model == model)
    return;
  if (self->model != NULL)
    g_signal_handlers_disconnect_by_data (self->model, self);
  unwatch_all (self);
  g_set_object (&self->model, model);
  if (model != NULL)
    {
      g_signal_connect (model, "items-changed", G_CALLBACK (on_model_items_changed_cb), self);
      on_model_items_changed_cb (model, 0, 0, 0, self);
    }
  else
    leaf_chart_update (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODEL]);
}

const char *
leaf_chart_get_title (LeafChart *self)
{
  g_return_val_if_fail (LEAF_IS_CHART (self), NULL);
  return self->title;
}

void
leaf_chart_set_title (LeafChart  *self,
                      const char *title)
{
  g_return_if_fail (LEAF_IS_CHART (self));

  if (!replace_str (&self->title, title))
    return;
  gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, title ? title : "",
                                  -1);
  update_summary (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TITLE]);
}

void
leaf_chart_set_x_title (LeafChart  *self,
                        const char *x_title)
{
  g_return_if_fail (LEAF_IS_CHART (self));

  if (!replace_str (&self->x_title, x_title))
    return;
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_X_TITLE]);
}

/**
 * leaf_chart_set_placeholder_text:
 * @self: a chart
 * @text: (nullable): what to show while no series has a point
 */
void
leaf_chart_set_placeholder_text (LeafChart  *self,
                                 const char *text)
{
  g_return_if_fail (LEAF_IS_CHART (self));

  if (!replace_str (&self->placeholder_text, text))
    return;
  update_summary (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PLACEHOLDER_TEXT]);
}

/**
 * leaf_chart_set_percent:
 * @self: a chart
 * @percent: whether values are fractions to be labelled as percentages
 */
void
leaf_chart_set_percent (LeafChart *self,
                        gboolean   percent)
{
  g_return_if_fail (LEAF_IS_CHART (self));

  percent = !!percent;
  if (self->percent == percent)
    return;
  self->percent = percent;
  leaf_chart_update (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PERCENT]);
}

/**
 * leaf_chart_set_x_range:
 * @self: a chart
 * @min: the left end of the x axis, or NAN to fit the data
 * @max: the right end; the axis still grows to show points beyond it
 */
void
leaf_chart_set_x_range (LeafChart *self,
                        double     min,
                        double     max)
{
  g_return_if_fail (LEAF_IS_CHART (self));
  g_return_if_fail (isnan (min) || max > min);

  self->x_fixed[0] = min;
  self->x_fixed[1] = max;
  leaf_chart_update (self);
}

/**
 * leaf_chart_set_y_range:
 * @self: a chart
 * @min: the bottom of the y axis, or NAN to fit the data
 * @max: the top; the axis still grows to show points beyond [@min, @max]
 */
void
leaf_chart_set_y_range (LeafChart *self,
                        double     min,
                        double     max)
{
  g_return_if_fail (LEAF_IS_CHART (self));
  g_return_if_fail (isnan (min) || max > min);

  self->y_fixed[0] = min;
  self->y_fixed[1] = max;
  leaf_chart_update (self);
}

/**
 * leaf_chart_set_marker:
 * @self: a chart
 * @x: where to draw a vertical marker, or NAN for none
 * @label: (nullable): text drawn next to the marker
 */
void
leaf_chart_set_marker (LeafChart  *self,
                       double      x,
                       const char *label)
{
  g_return_if_fail (LEAF_IS_CHART (self));

  self->marker_x = x;
  replace_str (&self->marker_label, label);
  leaf_chart_update (self);
}

double
leaf_chart_get_marker_x (LeafChart *self)
{
  g_return_val_if_fail (LEAF_IS_CHART (self), NAN);
  return self->marker_x;
}

/**
 * leaf_chart_get_summary:
 *
 * Returns: the sentence the chart gives screen readers as its accessible description
 */
const char *
leaf_chart_get_summary (LeafChart *self)
{
  g_return_val_if_fail (LEAF_IS_CHART (self), NULL);
  return self->summary;
}
