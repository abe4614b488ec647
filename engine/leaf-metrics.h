/* leaf-metrics.h: accuracy, per-class precision, recall and F1, written and read as JSON
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * One definition everywhere (engine, command line, GUI, model card): a ratio whose denominator
 * is zero is undefined, not zero. The precision of a class no photo was predicted as, the recall
 * of a class without photos and the accuracy over no photos are NAN in C, `null` in JSON and
 * "—" where people read them. F1 is 2·TP / (2·TP + FP + FN), the harmonic mean of precision and
 * recall where both exist; it is 0 for a class with photos that is never predicted, or predicted
 * but without photos, and undefined only for a class that neither occurs nor is predicted. The
 * macro F1 averages the classes whose F1 is defined: a class absent from the photos evaluated
 * neither helps nor hurts it.
 */

#pragma once

#include <json-glib/json-glib.h>

#include "leaf-confusion.h"

G_BEGIN_DECLS

typedef struct
{
  char *name;       /* NULL when a file read lacks it */
  double precision; /* NAN: undefined or missing */
  double recall;    /* NAN: undefined or missing */
  double f1;        /* NAN: undefined or missing */
  gint64 support;   /* photos of the class */
} LeafClassMetrics;

typedef struct
{
  double accuracy;            /* NAN: undefined or missing */
  double macro_f1;            /* NAN: undefined or missing */
  gint64 n;                   /* photos evaluated */
  guint n_classes;            /* entries of per_class */
  LeafClassMetrics *per_class;
  LeafConfusion *confusion;   /* (nullable): rows true classes, columns predicted ones */
} LeafMetrics;

LeafMetrics *leaf_metrics_new_from_confusion (LeafConfusion      *confusion);
LeafMetrics *leaf_metrics_new_from_json      (JsonNode           *node);
LeafMetrics *leaf_metrics_parse              (const char         *json,
                                              GError            **error);
JsonNode    *leaf_metrics_to_json            (const LeafMetrics  *metrics);
void         leaf_metrics_free               (LeafMetrics        *metrics);

/* confusion is n_classes x n_classes, row = true class, column = predicted class. */
JsonNode    *leaf_metrics_build              (const guint        *confusion,
                                              const char * const *class_names,
                                              guint               n_classes);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LeafMetrics, leaf_metrics_free)

G_END_DECLS
