/* leaf-calibration.h: temperature scaling, calibration error and the referral threshold
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define LEAF_CALIBRATION_N_BINS 15

/* One bin of a reliability diagram: photos whose top probability fell in the bin. */
typedef struct
{
  double confidence;  /* mean top probability of the bin's photos (0 when empty) */
  double accuracy;    /* share of them whose top class was right (0 when empty) */
  guint count;
} LeafReliabilityBin;

/* What leaf_calibration_fit() learns from a labelled set of logits. */
typedef struct
{
  double temperature;  /* the one kept: the fitted one, or 1 when that calibrates worse */
  double ece_before;   /* at temperature 1 */
  double ece_after;    /* at the kept temperature */
  double nll_before;
  double nll_after;
  double fitted_temperature; /* what temperature scaling found */
  double ece_fitted;   /* at the fitted temperature, whether kept or not */
  gboolean scaling_kept;
  double refer_below;  /* 0 when every diagnosis may stand */
  double coverage;     /* share of photos at or above refer_below */
  double covered_error;
  LeafReliabilityBin bins_before[LEAF_CALIBRATION_N_BINS];
  LeafReliabilityBin bins_after[LEAF_CALIBRATION_N_BINS];
} LeafCalibration;

/* logits is n x n_classes, row-major; labels holds n class indices. */
double    leaf_calibration_nll              (const float        *logits,
                                             const guint        *labels,
                                             gsize               n,
                                             guint               n_classes,
                                             double              temperature);
double    leaf_calibration_fit_temperature  (const float        *logits,
                                             const guint        *labels,
                                             gsize               n,
                                             guint               n_classes);
double    leaf_calibration_ece              (const float        *logits,
                                             const guint        *labels,
                                             gsize               n,
                                             guint               n_classes,
                                             double              temperature,
                                             LeafReliabilityBin *bins);
double    leaf_calibration_refer_threshold  (const float        *logits,
                                             const guint        *labels,
                                             gsize               n,
                                             guint               n_classes,
                                             double              temperature,
                                             double             *coverage,
                                             double             *covered_error);
void      leaf_calibration_fit              (const float        *logits,
                                             const guint        *labels,
                                             gsize               n,
                                             guint               n_classes,
                                             LeafCalibration    *out);
JsonNode *leaf_calibration_to_json          (const LeafCalibration *calibration);
gboolean  leaf_calibration_from_json        (JsonNode           *node,
                                             LeafCalibration    *out,
                                             GError            **error);
void      leaf_calibration_softmax          (const float        *logits,
                                             guint               n_classes,
                                             double              temperature,
                                             float              *probabilities);

G_END_DECLS
