/* leaf-chart-series.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-chart-series"

#include "config.h"

#include <math.h>

#include "leaf-chart-series.h"

/* GNOME's blue 3, until the chart's owner gives the series a colour of its own. */
#define DEFAULT_COLOR "#3584e4"

G_DEFINE_ENUM_TYPE (LeafChartStyle, leaf_chart_style,
  G_DEFINE_ENUM_VALUE (LEAF_CHART_STYLE_LINE, "line"),
  G_DEFINE_ENUM_VALUE (LEAF_CHART_STYLE_DASHED, "dashed"),
  G_DEFINE_ENUM_VALUE (LEAF_CHART_STYLE_TRACE, "trace"))

/* LeafChartSample: the item type of the list model. Samples are made on demand by get_item,
 * because the chart itself reads the packed array and a series can hold many thousand points. */
struct _LeafChartSample
{
  GObject parent_instance;
  LeafChartPoint point;
};

G_DEFINE_FINAL_TYPE (LeafChartSample, leaf_chart_sample, G_TYPE_OBJECT)

static void
leaf_chart_sample_class_init (LeafChartSampleClass *klass)
{
}

static void
leaf_chart_sample_init (LeafChartSample *self)
{
}

double
leaf_chart_sample_get_x (LeafChartSample *self)
{
  g_return_val_if_fail (LEAF_IS_CHART_SAMPLE (self), NAN);
  return self->point.x;
}

double
leaf_chart_sample_get_y (LeafChartSample *self)
{
  g_return_val_if_fail (LEAF_IS_CHART_SAMPLE (self), NAN);
  return self->point.y;
}

struct _LeafChartSeries
{
  GObject parent_instance;
  char *title;
  LeafChartStyle style;
  char *color;
  GArray *points; /* LeafChartPoint */
};

static GType
leaf_chart_series_get_item_type (GListModel *model)
{
  return LEAF_TYPE_CHART_SAMPLE;
}

static guint
leaf_chart_series_get_n_items (GListModel *model)
{
  return LEAF_CHART_SERIES (model)->points->len;
}

static gpointer
leaf_chart_series_get_item (GListModel *model,
                            guint       position)
{
  LeafChartSeries *self = LEAF_CHART_SERIES (model);
  LeafChartSample *sample;

  if (position >= self->points->len)
    return NULL;
  sample = g_object_new (LEAF_TYPE_CHART_SAMPLE, NULL);
  sample->point = g_array_index (self->points, LeafChartPoint, position);
  return sample;
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = leaf_chart_series_get_item_type;
  iface->get_n_items = leaf_chart_series_get_n_items;
  iface->get_item = leaf_chart_series_get_item;
}

G_DEFINE_FINAL_TYPE_WITH_CODE (LeafChartSeries, leaf_chart_series, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

enum {
  PROP_0,
  PROP_TITLE,
  PROP_STYLE,
  PROP_COLOR,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
leaf_chart_series_finalize (GObject *object)
{
  LeafChartSeries *self = LEAF_CHART_SERIES (object);

  g_clear_pointer (&self->title, g_free);
  g_clear_pointer (&self->color, g_free);
  g_clear_pointer (&self->points, g_array_unref);
  G_OBJECT_CLASS (leaf_chart_series_parent_class)->finalize (object);
}

static void
leaf_chart_series_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  LeafChartSeries *self = LEAF_CHART_SERIES (object);

  switch (prop_id)
    {
    case PROP_TITLE:
      g_value_set_string (value, self->title);
      break;
    case PROP_STYLE:
      g_value_set_enum (value, self->style);
      break;
    case PROP_COLOR:
      g_value_set_string (value, self->color);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
leaf_chart_series_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  LeafChartSeries *self = LEAF_CHART_SERIES (object);

  switch (prop_id)
    {
    case PROP_TITLE:
      g_free (self->title);
      self->title = g_value_dup_string (value);
      break;
    case PROP_STYLE:
      self->style = g_value_get_enum (value);
      break;
    case PROP_COLOR:
      leaf_chart_series_set_color (self, g_value_get_string (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
leaf_chart_series_class_init (LeafChartSeriesClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = leaf_chart_series_finalize;
  object_class->get_property = leaf_chart_series_get_property;
  object_class->set_property = leaf_chart_series_set_property;

  properties[PROP_TITLE] =
    g_param_spec_string ("title", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_STYLE] =
    g_param_spec_enum ("style", NULL, NULL, LEAF_TYPE_CHART_STYLE, LEAF_CHART_STYLE_LINE,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /* A colour as CSS writes it, which the chart parses: the engine knows no GDK. Changing it does
   * not emit items-changed; the chart listens to notify::color. */
  properties[PROP_COLOR] =
    g_param_spec_string ("color", NULL, NULL, DEFAULT_COLOR,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
leaf_chart_series_init (LeafChartSeries *self)
{
  self->points = g_array_new (FALSE, FALSE, sizeof (LeafChartPoint));
  self->color = g_strdup (DEFAULT_COLOR);
}

/**
 * leaf_chart_series_new:
 * @title: the name shown in the chart's legend and read by screen readers
 * @style: how the series is drawn
 *
 * Returns: (transfer full): a new, empty series
 */
LeafChartSeries *
leaf_chart_series_new (const char     *title,
                       LeafChartStyle  style)
{
  return g_object_new (LEAF_TYPE_CHART_SERIES, "title", title, "style", style, NULL);
}

const char *
leaf_chart_series_get_title (LeafChartSeries *self)
{
  g_return_val_if_fail (LEAF_IS_CHART_SERIES (self), NULL);
  return self->title;
}

LeafChartStyle
leaf_chart_series_get_style (LeafChartSeries *self)
{
  g_return_val_if_fail (LEAF_IS_CHART_SERIES (self), LEAF_CHART_STYLE_LINE);
  return self->style;
}

const char *
leaf_chart_series_get_color (LeafChartSeries *self)
{
  g_return_val_if_fail (LEAF_IS_CHART_SERIES (self), NULL);
  return self->color;
}

/**
 * leaf_chart_series_set_color:
 * @self: a series
 * @color: a colour as CSS writes it, for example `#3584e4`
 */
void
leaf_chart_series_set_color (LeafChartSeries *self,
                             const char      *color)
{
  g_return_if_fail (LEAF_IS_CHART_SERIES (self));
  g_return_if_fail (color != NULL);

  if (g_str_equal (self->color, color))
    return;
  g_free (self->color);
  self->color = g_strdup (color);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_COLOR]);
}

/**
 * leaf_chart_series_append:
 * @self: a series
 * @x: the sample's position, for example an epoch or a fractional epoch
 * @y: its value; samples that are not finite are ignored
 *
 * Adds one sample at the end and emits #GListModel::items-changed.
 */
void
leaf_chart_series_append (LeafChartSeries *self,
                          double           x,
                          double           y)
{
  LeafChartPoint point = { x, y };

  g_return_if_fail (LEAF_IS_CHART_SERIES (self));

  /* A diverging run reports inf or nan losses; they cannot be drawn and would spoil the axes. */
  if (!isfinite (x) || !isfinite (y))
    return;
  g_array_append_val (self->points, point);
  g_list_model_items_changed (G_LIST_MODEL (self), self->points->len - 1, 0, 1);
}

void
leaf_chart_series_clear (LeafChartSeries *self)
{
  guint removed;

  g_return_if_fail (LEAF_IS_CHART_SERIES (self));

  removed = self->points->len;
  if (removed == 0)
    return;
  g_array_set_size (self->points, 0);
  g_list_model_items_changed (G_LIST_MODEL (self), 0, removed, 0);
}

/**
 * leaf_chart_series_peek_points:
 * @self: a series
 * @n_points: (out): where to store the number of points
 *
 * Returns: (transfer none) (array length=n_points): the samples in the order they were added
 */
const LeafChartPoint *
leaf_chart_series_peek_points (LeafChartSeries *self,
                               guint           *n_points)
{
  g_return_val_if_fail (LEAF_IS_CHART_SERIES (self), NULL);
  g_return_val_if_fail (n_points != NULL, NULL);

  *n_points = self->points->len;
  return (const LeafChartPoint *) (gpointer) self->points->data;
}
