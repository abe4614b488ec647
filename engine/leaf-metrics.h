/* leaf-metrics.h: accuracy, per-class precision, recall and F1 from a confusion matrix
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* confusion is n_classes x n_classes, row = true class, column = predicted class. */
JsonNode *leaf_metrics_build (const guint        *confusion,
                              const char * const *class_names,
                              guint               n_classes);

G_END_DECLS
