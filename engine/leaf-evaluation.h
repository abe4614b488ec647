/* leaf-evaluation.h: how well a model does on labelled photos: an ImageFolder tree, or a split
 * of the catalog
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <json-glib/json-glib.h>

#include "leaf-catalog-image.h"
#include "leaf-metrics.h"
#include "leaf-predictor.h"

G_BEGIN_DECLS

typedef struct
{
  LeafMetrics *metrics;       /* over the photos the model diagnosed */
  double temperature;         /* the model's, from its file */
  double ece_before;          /* expected calibration error of the raw logits */
  double ece_after;           /* and of the logits divided by the temperature */
  gboolean has_ood;           /* whether the model checks for photos unlike its training photos */
  guint n_ood;                /* photos it found unlike them, which it would refer */
  double familiar_accuracy;   /* accuracy on the other photos; NAN when there are none */
  GPtrArray *unknown_classes; /* (element-type utf8): folders or classes the model lacks, skipped */
  GPtrArray *failures;        /* (element-type GError): photos that could not be diagnosed */
} LeafEvaluation;

LeafEvaluation *leaf_evaluation_run     (LeafPredictor         *predictor,
                                         const char            *folder,
                                         gboolean               tta,
                                         GError               **error);
LeafEvaluation *leaf_evaluation_run_split (LeafPredictor       *predictor,
                                           LeafCatalog         *catalog,
                                           LeafSplit            split,
                                           gboolean             tta,
                                           GError             **error);
JsonNode       *leaf_evaluation_to_json (const LeafEvaluation  *evaluation);
void            leaf_evaluation_free    (LeafEvaluation        *evaluation);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LeafEvaluation, leaf_evaluation_free)

G_END_DECLS
