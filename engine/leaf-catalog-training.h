/* leaf-catalog-training.h: splits, training runs, metrics, models and predictions
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

#include "leaf-types.h"
#include "leaf-catalog-image.h"

G_BEGIN_DECLS

/**
 * LeafSplitOptions:
 * @train: share of each class that goes to training
 * @validation: share for validation
 * @test: share for the test split; the three are normalised by their sum
 * @seed: the same seed, labels and group keys give the same assignment
 * @reassign: forget every earlier assignment; otherwise only labelled images without a split
 *   are assigned and the others keep theirs
 *
 * How leaf_catalog_assign_splits() divides labelled images. Images that share a group key
 * always land in the same split, joining the split their group already has.
 */
typedef struct
{
  double train;
  double validation;
  double test;
  guint32 seed;
  gboolean reassign;
} LeafSplitOptions;

typedef enum
{
  LEAF_RUN_RUNNING,
  LEAF_RUN_COMPLETED,
  LEAF_RUN_FAILED,
  LEAF_RUN_CANCELLED,
  LEAF_RUN_INTERRUPTED, /* the process died while the run was running */
} LeafRunStatus;

/**
 * LeafRunInfo:
 * @id: row id
 * @config_json: the training configuration, as given to leaf_catalog_begin_run()
 * @status: where the run stands
 * @started: when it began (UTC)
 * @finished: (nullable): when it ended
 * @base_weights_sha256: (nullable): SHA-256 of the pretrained weights it started from
 * @message: (nullable): why it failed or stopped
 */
struct _LeafRunInfo
{
  gint64 id;
  char *config_json;
  LeafRunStatus status;
  GDateTime *started;
  GDateTime *finished;
  char *base_weights_sha256;
  char *message;
};

typedef enum
{
  LEAF_METRIC_EPOCH,
  LEAF_METRIC_STEP,
} LeafMetricScope;

/**
 * LeafMetric:
 * @step: the epoch or the optimiser step the value belongs to
 * @name: (not nullable): for example `train_loss`, `val_accuracy`, `lr`
 * @value: the measurement
 */
typedef struct
{
  gint64 step;
  const char *name;
  double value;
} LeafMetric;

typedef struct
{
  gint64 step;
  double value;
} LeafMetricPoint;

/**
 * LeafModelInfo:
 * @id: row id
 * @run_id: the run that produced it, or 0
 * @path: the model file
 * @sha256: SHA-256 of the model file
 * @classes: (array zero-terminated=1): class names in output order
 * @metrics_json: (nullable): final metrics as a JSON object
 * @created: when it was recorded (UTC)
 */
struct _LeafModelInfo
{
  gint64 id;
  gint64 run_id;
  char *path;
  char *sha256;
  char **classes;
  char *metrics_json;
  GDateTime *created;
};

/**
 * LeafPrediction:
 * @model_id: the model that predicted
 * @image_id: the image it looked at
 * @n_classes: length of @probabilities; the model's class order
 * @probabilities: (array length=n_classes): one per class of the model
 * @top_index: index of the largest probability
 * @top_class_id: the catalog class named like the model's top class, or 0 when there is none
 * @entropy: Shannon entropy of @probabilities, in nats
 */
struct _LeafPrediction
{
  gint64 model_id;
  gint64 image_id;
  guint n_classes;
  float *probabilities;
  guint top_index;
  gint64 top_class_id;
  double entropy;
};

void            leaf_run_info_free               (LeafRunInfo     *info);
void            leaf_model_info_free             (LeafModelInfo   *info);
void            leaf_prediction_free             (LeafPrediction  *prediction);
const char     *leaf_run_status_to_string        (LeafRunStatus    status);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LeafRunInfo, leaf_run_info_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LeafModelInfo, leaf_model_info_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LeafPrediction, leaf_prediction_free)

/* Splits */
gboolean        leaf_catalog_assign_splits       (LeafCatalog            *self,
                                                  const LeafSplitOptions *options,
                                                  guint                  *n_assigned,
                                                  GError                **error);
gboolean        leaf_catalog_count_splits        (LeafCatalog            *self,
                                                  guint                   counts[4],
                                                  GError                **error);
gboolean        leaf_catalog_count_grouped       (LeafCatalog            *self,
                                                  guint                  *n_grouped,
                                                  GError                **error);

/* Runs and metrics */
gint64          leaf_catalog_begin_run           (LeafCatalog            *self,
                                                  const char             *config_json,
                                                  const char             *base_weights_sha256,
                                                  GError                **error);
gboolean        leaf_catalog_end_run             (LeafCatalog            *self,
                                                  gint64                  run_id,
                                                  LeafRunStatus           status,
                                                  const char             *message,
                                                  GError                **error);
LeafRunInfo    *leaf_catalog_get_run             (LeafCatalog            *self,
                                                  gint64                  run_id,
                                                  GError                **error);
GPtrArray      *leaf_catalog_list_runs           (LeafCatalog            *self,
                                                  GError                **error);
gboolean        leaf_catalog_add_metrics         (LeafCatalog            *self,
                                                  gint64                  run_id,
                                                  LeafMetricScope         scope,
                                                  const LeafMetric       *metrics,
                                                  gsize                   n_metrics,
                                                  GError                **error);
GArray         *leaf_catalog_get_metric          (LeafCatalog            *self,
                                                  gint64                  run_id,
                                                  LeafMetricScope         scope,
                                                  const char             *name,
                                                  GError                **error);
char          **leaf_catalog_list_metric_names   (LeafCatalog            *self,
                                                  gint64                  run_id,
                                                  LeafMetricScope         scope,
                                                  GError                **error);

/* Models and predictions */
gint64          leaf_catalog_add_model           (LeafCatalog            *self,
                                                  gint64                  run_id,
                                                  const char             *path,
                                                  const char             *sha256,
                                                  const char * const     *classes,
                                                  const char             *metrics_json,
                                                  GError                **error);
GPtrArray      *leaf_catalog_list_models         (LeafCatalog            *self,
                                                  GError                **error);
LeafModelInfo  *leaf_catalog_get_model           (LeafCatalog            *self,
                                                  gint64                  model_id,
                                                  GError                **error);
LeafModelInfo  *leaf_catalog_get_latest_model    (LeafCatalog            *self,
                                                  GError                **error);
gboolean        leaf_catalog_add_predictions     (LeafCatalog            *self,
                                                  gint64                  model_id,
                                                  const gint64           *image_ids,
                                                  gsize                   n_images,
                                                  const float            *probabilities,
                                                  guint                   n_classes,
                                                  GError                **error);
LeafPrediction *leaf_catalog_get_prediction      (LeafCatalog            *self,
                                                  gint64                  model_id,
                                                  gint64                  image_id,
                                                  GError                **error);

G_END_DECLS
