/* leaf-chart.h: a line chart drawn from a list model of LeafChartSeries
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

#include "leaf-chart-series.h"

G_BEGIN_DECLS

#define LEAF_TYPE_CHART (leaf_chart_get_type ())
G_DECLARE_FINAL_TYPE (LeafChart, leaf_chart, LEAF, CHART, GtkWidget)

GtkWidget  *leaf_chart_new                  (void);
GListModel *leaf_chart_get_model            (LeafChart  *self);
void        leaf_chart_set_model            (LeafChart  *self,
                                             GListModel *model);
const char *leaf_chart_get_title            (LeafChart  *self);
void        leaf_chart_set_title            (LeafChart  *self,
                                             const char *title);
void        leaf_chart_set_x_title          (LeafChart  *self,
                                             const char *x_title);
void        leaf_chart_set_placeholder_text (LeafChart  *self,
                                             const char *text);
void        leaf_chart_set_percent          (LeafChart  *self,
                                             gboolean    percent);
void        leaf_chart_set_x_range          (LeafChart  *self,
                                             double      min,
                                             double      max);
void        leaf_chart_set_y_range          (LeafChart  *self,
                                             double      min,
                                             double      max);
void        leaf_chart_set_marker           (LeafChart  *self,
                                             double      x,
                                             const char *label);
double      leaf_chart_get_marker_x         (LeafChart  *self);
const char *leaf_chart_get_summary          (LeafChart  *self);

G_END_DECLS
