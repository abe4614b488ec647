/* leaf-catalog-runs.h: training runs and their metrics
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

#include "leaf-types.h"

G_BEGIN_DECLS

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

void            leaf_run_info_free               (LeafRunInfo     *info);
const char     *leaf_run_status_to_string        (LeafRunStatus    status);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LeafRunInfo, leaf_run_info_free)

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

G_END_DECLS
