/* leaf-chart-series.h: one line of a chart, as a list model of samples
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum
{
  LEAF_CHART_STYLE_LINE,   /* a solid line with a dot on every sample */
  LEAF_CHART_STYLE_DASHED, /* a dashed line with a dot on every sample */
  LEAF_CHART_STYLE_TRACE,  /* a thin translucent line without dots, for dense series */
} LeafChartStyle;

#define LEAF_TYPE_CHART_STYLE (leaf_chart_style_get_type ())
GType leaf_chart_style_get_type (void);

#define LEAF_TYPE_CHART_SAMPLE (leaf_chart_sample_get_type ())
G_DECLARE_FINAL_TYPE (LeafChartSample, leaf_chart_sample, LEAF, CHART_SAMPLE, GObject)

double           leaf_chart_sample_get_x       (LeafChartSample *self);
double           leaf_chart_sample_get_y       (LeafChartSample *self);

#define LEAF_TYPE_CHART_SERIES (leaf_chart_series_get_type ())
G_DECLARE_FINAL_TYPE (LeafChartSeries, leaf_chart_series, LEAF, CHART_SERIES, GObject)

typedef struct
{
  double x;
  double y;
} LeafChartPoint;

LeafChartSeries      *leaf_chart_series_new          (const char      *title,
                                                      LeafChartStyle   style);
const char           *leaf_chart_series_get_title    (LeafChartSeries *self);
LeafChartStyle        leaf_chart_series_get_style    (LeafChartSeries *self);
const char           *leaf_chart_series_get_color    (LeafChartSeries *self);
void                  leaf_chart_series_set_color    (LeafChartSeries *self,
                                                      const char      *color);
void                  leaf_chart_series_append       (LeafChartSeries *self,
                                                      double           x,
                                                      double           y);
void                  leaf_chart_series_clear        (LeafChartSeries *self);
const LeafChartPoint *leaf_chart_series_peek_points  (LeafChartSeries *self,
                                                      guint           *n_points);

G_END_DECLS
