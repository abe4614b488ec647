/* leaf-metrics-table.h: per-class precision, recall and F1 of one model, or of several side by
 * side
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

#include "leaf-metrics.h"

G_BEGIN_DECLS

/* Precision, recall, F1 and photos per model */
#define LEAF_METRICS_TABLE_COLUMNS_PER_MODEL 4

char *leaf_metrics_table_format_ratio (double                     ratio);
void  leaf_metrics_table_fill         (GtkGrid                   *grid,
                                       const LeafMetrics * const *metrics,
                                       const char * const        *titles,
                                       guint                      n_models);
void  leaf_metrics_table_add_cell     (GtkGrid                   *grid,
                                       const char                *text,
                                       int                        column,
                                       int                        row,
                                       int                        width,
                                       gboolean                   header);

G_END_DECLS
