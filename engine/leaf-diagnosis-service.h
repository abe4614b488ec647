/* leaf-diagnosis-service.h: every diagnosis, on the one thread that holds the models
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <gio/gio.h>

#include "leaf-types.h"

G_BEGIN_DECLS

typedef enum
{
  LEAF_DIAGNOSE_DEFAULT     = 0,
  LEAF_DIAGNOSE_TTA         = 1 << 0, /* average the logits of the eight flips and rotations */
  LEAF_DIAGNOSE_RAW_WEIGHTS = 1 << 1, /* the model is a torchvision weight file with its own
                                       * head: classes named by index, no calibration */
} LeafDiagnoseFlags;

typedef enum
{
  LEAF_HEATMAP_OVER_PHOTO, /* the whole photo, what the model did not see dimmed */
  LEAF_HEATMAP_OVER_CROP,  /* the centre crop the model saw, at the model's input size */
} LeafHeatmapCanvas;

/**
 * LeafDiagnosisResult:
 * @model_path: the model that made the diagnosis, as it was asked for
 * @classes: the model's classes, in output order
 * @n_classes: how many
 * @probabilities: @n_classes values, calibrated by the model's temperature
 * @logits: @n_classes raw logits
 * @ranking: every class index, most probable first (ties: the lower index first)
 * @refer_below: the model's referral threshold, chosen on its validation photos; 0 = never
 * @ood_score: how unlike the photos the model was trained on the photo is (leaf-ood.h); NAN
 *   when the model has no such check (models trained before it, imported ones)
 * @ood: whether the score is above the model's threshold, so that the diagnosis is referred
 * @trained_on: (nullable): what the model was trained on, in a sentence or two for the user
 *   (leaf_model_card_describe_training()); %NULL for a raw weight file
 * @image: the photo as decoded, for its heatmap
 */
typedef struct
{
  char *model_path;
  char **classes;
  guint n_classes;
  float *probabilities;
  float *logits;
  guint *ranking;
  double refer_below;
  double ood_score;
  gboolean ood;
  char *trained_on;
  GdkPixbuf *image;
} LeafDiagnosisResult;

/* Why a diagnosis goes to an expert; the first that applies. */
typedef enum
{
  LEAF_REFERRAL_NONE,
  LEAF_REFERRAL_UNFAMILIAR,     /* the photo is unlike the photos the model was trained on */
  LEAF_REFERRAL_LOW_CONFIDENCE, /* the most probable class is below the threshold */
} LeafReferral;

void         leaf_diagnosis_result_free         (LeafDiagnosisResult       *result);
gboolean     leaf_diagnosis_result_should_refer (const LeafDiagnosisResult *result,
                                                 double                     threshold);
LeafReferral leaf_diagnosis_result_get_referral (const LeafDiagnosisResult *result,
                                                 double                     threshold);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LeafDiagnosisResult, leaf_diagnosis_result_free)

typedef void (*LeafDiagnosisProgressFunc) (guint    done,
                                           guint    total,
                                           gpointer user_data);

#define LEAF_TYPE_DIAGNOSIS_SERVICE (leaf_diagnosis_service_get_type ())

G_DECLARE_FINAL_TYPE (LeafDiagnosisService, leaf_diagnosis_service, LEAF, DIAGNOSIS_SERVICE,
                      GObject)

LeafDiagnosisService *leaf_diagnosis_service_new         (void);
LeafDiagnosisService *leaf_diagnosis_service_get_default (void);

gboolean leaf_diagnosis_service_load (LeafDiagnosisService  *self,
                                      const char            *model_path,
                                      LeafDiagnoseFlags      flags,
                                      GCancellable          *cancellable,
                                      GError               **error);

void leaf_diagnosis_service_diagnose_file_async (LeafDiagnosisService *self,
                                                 const char           *model_path,
                                                 LeafDiagnoseFlags     flags,
                                                 const char           *path,
                                                 GCancellable         *cancellable,
                                                 GAsyncReadyCallback   callback,
                                                 gpointer              user_data);
void leaf_diagnosis_service_diagnose_bytes_async (LeafDiagnosisService *self,
                                                  const char           *model_path,
                                                  LeafDiagnoseFlags     flags,
                                                  GBytes               *bytes,
                                                  const char           *display_name,
                                                  GCancellable         *cancellable,
                                                  GAsyncReadyCallback   callback,
                                                  gpointer              user_data);
LeafDiagnosisResult *leaf_diagnosis_service_diagnose_finish (LeafDiagnosisService  *self,
                                                             GAsyncResult          *result,
                                                             GError               **error);
LeafDiagnosisResult *leaf_diagnosis_service_diagnose_file (LeafDiagnosisService  *self,
                                                           const char            *model_path,
                                                           LeafDiagnoseFlags      flags,
                                                           const char            *path,
                                                           GCancellable          *cancellable,
                                                           GError               **error);

void leaf_diagnosis_service_heatmap_async (LeafDiagnosisService *self,
                                           const char           *model_path,
                                           LeafDiagnoseFlags     flags,
                                           GdkPixbuf            *photo,
                                           int                   class_index,
                                           LeafHeatmapCanvas     canvas,
                                           GCancellable         *cancellable,
                                           GAsyncReadyCallback   callback,
                                           gpointer              user_data);
GdkPixbuf *leaf_diagnosis_service_heatmap_finish (LeafDiagnosisService  *self,
                                                  GAsyncResult          *result,
                                                  GError               **error);
GdkPixbuf *leaf_diagnosis_service_heatmap (LeafDiagnosisService  *self,
                                           const char            *model_path,
                                           LeafDiagnoseFlags      flags,
                                           GdkPixbuf             *photo,
                                           int                    class_index,
                                           LeafHeatmapCanvas      canvas,
                                           GCancellable          *cancellable,
                                           GError               **error);

void leaf_diagnosis_service_review_catalog_async (LeafDiagnosisService      *self,
                                                  LeafCatalog               *catalog,
                                                  gint64                     model_id,
                                                  LeafDiagnosisProgressFunc  progress,
                                                  gpointer                   progress_data,
                                                  GCancellable              *cancellable,
                                                  GAsyncReadyCallback        callback,
                                                  gpointer                   user_data);
gboolean leaf_diagnosis_service_review_catalog_finish (LeafDiagnosisService  *self,
                                                       GAsyncResult          *result,
                                                       GError               **error);

void       leaf_diagnosis_service_rank_next_async  (LeafDiagnosisService      *self,
                                                    LeafCatalog               *catalog,
                                                    gint64                     model_id,
                                                    guint                      count,
                                                    LeafDiagnosisProgressFunc  progress,
                                                    gpointer                   progress_data,
                                                    GCancellable              *cancellable,
                                                    GAsyncReadyCallback        callback,
                                                    gpointer                   user_data);
GPtrArray *leaf_diagnosis_service_rank_next_finish (LeafDiagnosisService      *self,
                                                    GAsyncResult              *result,
                                                    GError                   **error);

G_END_DECLS
