/* leaf-evaluation.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-evaluation"

#include "config.h"

#include "leaf-calibration.h"
#include "leaf-catalog.h"
#include "leaf-evaluation.h"
#include "leaf-image.h"
#include "leaf-json.h"

#include <math.h>

void
leaf_evaluation_free (LeafEvaluation *evaluation)
{
  if (evaluation == NULL)
    return;
  g_clear_pointer (&evaluation->metrics, leaf_metrics_free);
  g_clear_pointer (&evaluation->unknown_classes, g_ptr_array_unref);
  g_clear_pointer (&evaluation->failures, g_ptr_array_unref);
  g_free (evaluation);
}

/* The model's index of class, or G_MAXUINT. */
static guint
class_index (LeafPredictor *predictor,
             const char    *name)
{
  const char * const *classes = leaf_predictor_get_classes (predictor);

  for (guint c = 0; c < leaf_predictor_get_n_classes (predictor); c++)
    if (g_str_equal (classes[c], name))
      return c;
  return G_MAXUINT;
}

/* A photo to diagnose and the model's index of its true class. */
typedef struct
{
  char *path;
  guint truth;
} Sample;

static void
sample_clear (gpointer data)
{
  g_free (((Sample *) data)->path);
}

static LeafEvaluation *
evaluation_new (LeafPredictor *predictor)
{
  LeafEvaluation *evaluation = g_new0 (LeafEvaluation, 1);

  evaluation->unknown_classes = g_ptr_array_new_with_free_func (g_free);
  evaluation->failures = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  evaluation->has_ood = leaf_predictor_get_meta (predictor)->ood != NULL;
  evaluation->temperature = leaf_predictor_get_meta (predictor)->temperature;
  return evaluation;
}

/* Diagnoses every sample and fills in the evaluation's metrics. */
static void
evaluate_samples (LeafPredictor  *predictor,
                  GArray         *samples,
                  gboolean        tta,
                  LeafEvaluation *evaluation)
{
  guint n_classes = leaf_predictor_get_n_classes (predictor);
  g_autofree guint *counts = g_new0 (guint, (gsize) n_classes * n_classes);
  g_autofree float *probabilities = g_new (float, n_classes);
  g_autofree float *logits = g_new (float, n_classes);
  g_autoptr(GArray) all_logits = g_array_new (FALSE, FALSE, sizeof (float));
  g_autoptr(GArray) all_labels = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(LeafConfusion) confusion = NULL;
  const LeafOod *ood = leaf_predictor_get_meta (predictor)->ood;
  guint n_familiar = 0, familiar_correct = 0;

  for (guint i = 0; i < samples->len; i++)
    {
      const Sample *sample = &g_array_index (samples, Sample, i);
      g_autoptr(GdkPixbuf) image = NULL;
      GError *failure = NULL;
      double ood_score;
      guint best;

      image = leaf_image_load (sample->path, LEAF_IMAGE_DEFAULT_MAX_PIXELS, &failure);
      if (image == NULL ||
          !leaf_predictor_predict_pixbuf_full (predictor, image, tta, probabilities, logits,
                                               &ood_score, &failure))
        {
          g_ptr_array_add (evaluation->failures, failure);
          continue;
        }
      leaf_predictor_top_k (probabilities, n_classes, &best, 1);
      counts[sample->truth * n_classes + best]++;
      if (ood != NULL && leaf_ood_is_unfamiliar (ood, ood_score))
        evaluation->n_ood++;
      else
        {
          n_familiar++;
          familiar_correct += best == sample->truth;
        }
      g_array_append_vals (all_logits, logits, n_classes);
      g_array_append_val (all_labels, sample->truth);
    }

  confusion = leaf_confusion_new (leaf_predictor_get_classes (predictor));
  leaf_confusion_set_counts (confusion, counts, (gsize) n_classes * n_classes);
  evaluation->metrics = leaf_metrics_new_from_confusion (confusion);
  evaluation->familiar_accuracy = n_familiar > 0 ? (double) familiar_correct / n_familiar : NAN;
  evaluation->ece_before = leaf_calibration_ece ((const float *) all_logits->data,
                                                 (const guint *) all_labels->data,
                                                 all_labels->len, n_classes, 1.0, NULL);
  evaluation->ece_after = leaf_calibration_ece ((const float *) all_logits->data,
                                                (const guint *) all_labels->data,
                                                all_labels->len, n_classes,
                                                evaluation->temperature, NULL);
}

static GArray *
samples_new (void)
{
  GArray *samples = g_array_new (FALSE, FALSE, sizeof (Sample));

  g_array_set_clear_func (samples, sample_clear);
  return samples;
}

/**
 * leaf_evaluation_run:
 * @predictor: the model, used on the calling thread only
 * @folder: an ImageFolder tree: one folder per class, named after it, of photos
 * @tta: whether to average each photo's prediction over flips and rotations
 * @error: where to report a @folder that cannot be read
 *
 * Diagnoses every photo (by the names import takes, leaf_image_is_photo_name()) in the class
 * folders of @folder and compares with the folder it is in. Folders of classes the model lacks
 * and photos that cannot be diagnosed are skipped and listed in the result; files directly
 * inside @folder are ignored.
 *
 * Returns: (transfer full): the evaluation, or %NULL with @error set
 */
LeafEvaluation *
leaf_evaluation_run (LeafPredictor  *predictor,
                     const char     *folder,
                     gboolean        tta,
                     GError        **error)
{
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GArray) samples = samples_new ();
  LeafEvaluation *evaluation;
  const char *name;

  g_return_val_if_fail (LEAF_IS_PREDICTOR (predictor), NULL);
  g_return_val_if_fail (folder != NULL, NULL);

  dir = g_dir_open (folder, 0, error);
  if (dir == NULL)
    return NULL;

  evaluation = evaluation_new (predictor);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *class_dir = g_build_filename (folder, name, NULL);
      g_autoptr(GDir) photos = NULL;
      const char *file;
      guint truth;

      if (!g_file_test (class_dir, G_FILE_TEST_IS_DIR))
        continue;
      truth = class_index (predictor, name);
      if (truth == G_MAXUINT)
        {
          g_ptr_array_add (evaluation->unknown_classes, g_strdup (name));
          continue;
        }
      photos = g_dir_open (class_dir, 0, NULL);
      while (photos != NULL && (file = g_dir_read_name (photos)) != NULL)
        {
          Sample sample = { NULL, truth };

          if (!leaf_image_is_photo_name (file))
            continue;
          sample.path = g_build_filename (class_dir, file, NULL);
          g_array_append_val (samples, sample);
        }
    }
  evaluate_samples (predictor, samples, tta, evaluation);
  return evaluation;
}

/**
 * leaf_evaluation_run_split:
 * @predictor: the model, used on the calling thread only
 * @catalog: the catalog whose labelled photos are compared with the model's diagnoses
 * @split: the photos of this split only (for example %LEAF_SPLIT_TEST, which training never
 *   sees), or %LEAF_SPLIT_NONE for every labelled photo
 * @tta: whether to average each photo's prediction over flips and rotations
 * @error: where to report a catalog that cannot be read
 *
 * Like leaf_evaluation_run(), with the catalog's labels as the truth. Classes the model lacks
 * are listed in the result's @unknown_classes; missing files among its failures.
 *
 * Returns: (transfer full): the evaluation, or %NULL with @error set
 */
LeafEvaluation *
leaf_evaluation_run_split (LeafPredictor  *predictor,
                           LeafCatalog    *catalog,
                           LeafSplit       split,
                           gboolean        tta,
                           GError        **error)
{
  LeafImageQuery query = { .labels = LEAF_LABEL_FILTER_LABELED, .split = split };
  g_autoptr(GArray) samples = samples_new ();
  g_autoptr(GPtrArray) classes = NULL;
  g_autoptr(GPtrArray) images = NULL;
  g_autoptr(GHashTable) truths = g_hash_table_new (g_int64_hash, g_int64_equal);
  g_autoptr(GHashTable) unknown = g_hash_table_new (g_int64_hash, g_int64_equal);
  LeafEvaluation *evaluation;

  g_return_val_if_fail (LEAF_IS_PREDICTOR (predictor), NULL);
  g_return_val_if_fail (LEAF_IS_CATALOG (catalog), NULL);

  if ((classes = leaf_catalog_list_classes (catalog, error)) == NULL ||
      (images = leaf_catalog_query_images (catalog, &query, 0, G_MAXUINT, error)) == NULL)
    return NULL;

  evaluation = evaluation_new (predictor);
  for (guint c = 0; c < classes->len; c++)
    {
      LeafClassInfo *info = classes->pdata[c];
      guint truth = class_index (predictor, info->name);

      if (truth != G_MAXUINT)
        g_hash_table_insert (truths, &info->id, GUINT_TO_POINTER (truth + 1));
      else
        g_hash_table_insert (unknown, &info->id, info->name);
    }
  for (guint i = 0; i < images->len; i++)
    {
      LeafCatalogImage *image = images->pdata[i];
      gint64 class_id = leaf_catalog_image_get_class_id (image);
      guint truth = GPOINTER_TO_UINT (g_hash_table_lookup (truths, &class_id));
      Sample sample = { NULL, truth - 1 };

      if (truth == 0)
        {
          /* Listed once, when one of its photos is in the split. */
          const char *name = g_hash_table_lookup (unknown, &class_id);

          if (name != NULL)
            g_ptr_array_add (evaluation->unknown_classes, g_strdup (name));
          g_hash_table_remove (unknown, &class_id);
          continue;
        }
      sample.path = g_strdup (leaf_catalog_image_get_path (image));
      g_array_append_val (samples, sample);
    }
  evaluate_samples (predictor, samples, tta, evaluation);
  return evaluation;
}

/**
 * leaf_evaluation_to_json:
 *
 * Returns: (transfer full): the metrics as leaf_metrics_to_json() writes them, with
 *   `"ece": {"temperature", "before", "after"}` and `"ood": {"flagged", "accuracy_rest"}` (how
 *   many photos the model found unlike its training photos, and its accuracy on the others), or
 *   `"ood": null` for a model without that check
 */
JsonNode *
leaf_evaluation_to_json (const LeafEvaluation *evaluation)
{
  JsonNode *root = leaf_metrics_to_json (evaluation->metrics);
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  leaf_json_add_double (b, "temperature", evaluation->temperature);
  leaf_json_add_double (b, "before", evaluation->ece_before);
  leaf_json_add_double (b, "after", evaluation->ece_after);
  json_builder_end_object (b);
  json_object_set_member (json_node_get_object (root), "ece", json_builder_get_root (b));
  if (evaluation->has_ood)
    {
      g_autoptr(JsonBuilder) ood = json_builder_new ();

      json_builder_begin_object (ood);
      leaf_json_add_int (ood, "flagged", evaluation->n_ood);
      if (isnan (evaluation->familiar_accuracy))
        leaf_json_add_node (ood, "accuracy_rest", NULL);
      else
        leaf_json_add_double (ood, "accuracy_rest", evaluation->familiar_accuracy);
      json_builder_end_object (ood);
      json_object_set_member (json_node_get_object (root), "ood", json_builder_get_root (ood));
    }
  else
    json_object_set_null_member (json_node_get_object (root), "ood");
  return root;
}
