/* leaf-catalog-models.h: trained models and their predictions
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

#include "leaf-catalog-runs.h"
#include "leaf-types.h"

G_BEGIN_DECLS

/**
 * LeafModelInfo:
 * @id: row id
 * @run_id: the run that produced it, or 0 for a model no run of this catalog trained
 * @name: (nullable): the name the user gave it
 * @path: (type filename): the model file, absolute. The catalog stores it relative to its own
 *   folder when it lies inside, so that a catalog copied with its models folder keeps them. On a
 *   machine without that file, a copy in the models folder of the bytes the catalog holds:
 *   leaf_catalog_get_model() and leaf_catalog_get_active_model() fetch it, lists do not.
 * @sha256: SHA-256 of the model file
 * @classes: (array zero-terminated=1): class names in output order
 * @metrics_json: (nullable): final metrics as a JSON object (for a trained model, its run's
 *   summary)
 * @created: when it was recorded (UTC)
 * @run_status: how its run ended (%LEAF_RUN_CANCELLED: stopped by the user); a model without a
 *   run counts as %LEAF_RUN_COMPLETED
 * @val_accuracy: its accuracy on its run's validation photos, 0..1, or NAN when unknown
 * @active: whether it is the catalog's active model, the one diagnoses use
 * @note: (nullable): why it was or was not made active when its run ended
 * @held: whether the catalog holds the file's bytes (a server's catalog holds every model
 *   trained or imported into it), so that members on other machines can use it
 */
struct _LeafModelInfo
{
  gint64 id;
  gint64 run_id;
  char *name;
  char *path;
  char *sha256;
  char **classes;
  char *metrics_json;
  GDateTime *created;
  LeafRunStatus run_status;
  double val_accuracy;
  gboolean active;
  char *note;
  gboolean held;
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
 * @referred: whether the model would refer the image to an expert (FALSE when the prediction
 *   was stored without saying)
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
  gboolean referred;
};

void            leaf_model_info_free             (LeafModelInfo   *info);
char           *leaf_model_info_get_title        (const LeafModelInfo *info);
char           *leaf_model_info_describe         (const LeafModelInfo *info);
void            leaf_prediction_free             (LeafPrediction  *prediction);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LeafModelInfo, leaf_model_info_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LeafPrediction, leaf_prediction_free)

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
char           *leaf_catalog_get_models_dir      (LeafCatalog            *self);

/* The active model: the one diagnoses use unless the user names another */
LeafModelInfo  *leaf_catalog_get_active_model    (LeafCatalog            *self,
                                                  GError                **error);
gboolean        leaf_catalog_set_active_model    (LeafCatalog            *self,
                                                  gint64                  model_id,
                                                  GError                **error);
gboolean        leaf_catalog_settle_model        (LeafCatalog            *self,
                                                  gint64                  model_id,
                                                  gboolean                activate,
                                                  gint64                  replaces,
                                                  const char             *note,
                                                  gboolean               *activated,
                                                  GError                **error);
gboolean        leaf_catalog_rename_model        (LeafCatalog            *self,
                                                  gint64                  model_id,
                                                  const char             *name,
                                                  GError                **error);
gboolean        leaf_catalog_remove_model        (LeafCatalog            *self,
                                                  gint64                  model_id,
                                                  GError                **error);

gboolean        leaf_catalog_add_predictions     (LeafCatalog            *self,
                                                  gint64                  model_id,
                                                  const gint64           *image_ids,
                                                  gsize                   n_images,
                                                  const float            *probabilities,
                                                  guint                   n_classes,
                                                  const gboolean         *referred,
                                                  GError                **error);
LeafPrediction *leaf_catalog_get_prediction      (LeafCatalog            *self,
                                                  gint64                  model_id,
                                                  gint64                  image_id,
                                                  GError                **error);

G_END_DECLS
