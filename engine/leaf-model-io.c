/* leaf-model-io.c: models out of the catalog, and models trained elsewhere into it
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A model leaves as torchvision's state dict, so that PyTorch loads it into
 * torchvision.models.efficientnet_b0 without Leafscope (docs/model-format.md). A model trained
 * elsewhere comes in the same way: its state dict is read by the shim's restricted unpickler,
 * which never runs code from the file, loaded strictly into our EfficientNet-B0 (every
 * parameter and buffer, nothing more), written into the catalog's models folder as a model
 * file of our own, and calibrated on the catalog's validation photos as a trained one is.
 */

#define G_LOG_DOMAIN "leaf-model-io"

#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "leaf-catalog.h"
#include "leaf-engine.h"
#include "leaf-error-private.h"
#include "leaf-file.h"
#include "leaf-json.h"
#include "leaf-metrics.h"
#include "leaf-model-file.h"
#include "leaf-model-io.h"
#include "leaf-predictor.h"
#include "lt.h"

#define CLASSIFIER_WEIGHT "classifier.1.weight"

void
leaf_model_import_free (LeafModelImport *import)
{
  if (import == NULL)
    return;
  g_free (import->path);
  g_free (import->key_prefix);
  g_free (import);
}

/**
 * leaf_model_format_from_string:
 * @name: "safetensors" or "torch"
 *
 * Returns: whether @name is a format, stored in @format
 */
gboolean
leaf_model_format_from_string (const char      *name,
                               LeafModelFormat *format)
{
  g_return_val_if_fail (format != NULL, FALSE);

  if (g_strcmp0 (name, "safetensors") == 0)
    *format = LEAF_MODEL_FORMAT_SAFETENSORS;
  else if (g_strcmp0 (name, "torch") == 0)
    *format = LEAF_MODEL_FORMAT_TORCH;
  else
    return FALSE;
  return TRUE;
}

/**
 * leaf_model_format_for_path:
 *
 * Returns: %LEAF_MODEL_FORMAT_TORCH for the names PyTorch gives its files (.pth, .pt), else
 *   %LEAF_MODEL_FORMAT_SAFETENSORS
 */
LeafModelFormat
leaf_model_format_for_path (const char *path)
{
  g_return_val_if_fail (path != NULL, LEAF_MODEL_FORMAT_SAFETENSORS);

  return g_str_has_suffix (path, ".pth") || g_str_has_suffix (path, ".pt")
           ? LEAF_MODEL_FORMAT_TORCH
           : LEAF_MODEL_FORMAT_SAFETENSORS;
}

/* Takes the message's address: an argument read beside the call that fills it could be read
 * before it is filled. */
static gboolean
shim_ok (LtStatus   status,
         char     **message,
         GError   **error)
{
  return status == LT_OK || leaf_engine_error_from_shim (status, g_steal_pointer (message), error);
}

static LtStateDict *
load_state_dict (const char  *path,
                 GError     **error)
{
  LtStateDict *sd = NULL;
  char *message = NULL;

  if (!leaf_engine_init_torch (0, error) || !shim_ok (lt_state_dict_load (path, &sd, &message),
                                                      &message, error))
    return NULL;
  return sd;
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LtStateDict, lt_state_dict_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LtModel, lt_model_free)

/* Export ------------------------------------------------------------------------------------- */

/* The model's metadata as it leaves the catalog: the catalog's path means nothing elsewhere and
 * says more about the user's disk than they may want to share. */
static char *
exported_metadata (const char  *json,
                   const char  *display,
                   GError     **error)
{
  g_autoptr(LeafModelMeta) meta = leaf_model_meta_from_json (json, display, error);
  g_autoptr(JsonNode) root = NULL;

  if (meta == NULL)
    return NULL;
  root = json_from_string (json, NULL);
  json_object_remove_member (json_node_get_object (root), "catalog");
  return json_to_string (root, FALSE);
}

/**
 * leaf_model_export:
 * @catalog: the catalog that holds the model
 * @model_id: one of its models
 * @path: (type filename): the file to write; replaced atomically when it exists
 * @format: safetensors with the metadata, or a plain torch.save state dict
 *
 * Writes the model with torchvision's parameter names, so that
 * `torchvision.models.efficientnet_b0(num_classes=N).load_state_dict()` takes it as it is.
 *
 * Returns: whether it was written
 */
gboolean
leaf_model_export (LeafCatalog      *catalog,
                   gint64            model_id,
                   const char       *path,
                   LeafModelFormat   format,
                   GError          **error)
{
  g_autoptr(LeafModelInfo) model = NULL;
  g_autoptr(LtStateDict) sd = NULL;
  g_autofree char *display = NULL;
  g_autofree char *metadata = NULL;
  char *message = NULL;

  g_return_val_if_fail (LEAF_IS_CATALOG (catalog), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  model = leaf_catalog_get_model (catalog, model_id, error);
  if (model == NULL)
    return FALSE;
  sd = load_state_dict (model->path, error);
  if (sd == NULL)
    return FALSE;

  if (format == LEAF_MODEL_FORMAT_TORCH)
    return shim_ok (lt_state_dict_save_torch (sd, path, &message), &message, error);

  display = g_filename_display_name (model->path);
  metadata = exported_metadata (lt_state_dict_metadata (sd, LT_MODEL_METADATA_KEY), display,
                                error);
  /* "format": "pt" is what safetensors' own PyTorch writer records. */
  return metadata != NULL
         && shim_ok (lt_state_dict_set_metadata (sd, LT_MODEL_METADATA_KEY, metadata, &message),
                     &message, error)
         && shim_ok (lt_state_dict_set_metadata (sd, "format", "pt", &message), &message, error)
         && shim_ok (lt_state_dict_save_safetensors (sd, path, &message), &message, error);
}

typedef struct
{
  gint64 model_id;
  char *path;
  LeafModelFormat format;
  char **classes;
} IoJob;

static void
io_job_free (gpointer data)
{
  IoJob *job = data;

  g_free (job->path);
  g_strfreev (job->classes);
  g_free (job);
}

static void
export_thread (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  IoJob *job = task_data;
  GError *error = NULL;

  if (leaf_model_export (source_object, job->model_id, job->path, job->format, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

/**
 * leaf_model_export_async:
 *
 * leaf_model_export() on a worker thread.
 */
void
leaf_model_export_async (LeafCatalog         *catalog,
                         gint64               model_id,
                         const char          *path,
                         LeafModelFormat      format,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  IoJob *job;

  g_return_if_fail (LEAF_IS_CATALOG (catalog));
  g_return_if_fail (path != NULL);

  task = g_task_new (catalog, cancellable, callback, user_data);
  g_task_set_source_tag (task, leaf_model_export_async);
  job = g_new0 (IoJob, 1);
  job->model_id = model_id;
  job->path = g_strdup (path);
  job->format = format;
  g_task_set_task_data (task, job, io_job_free);
  g_task_run_in_thread (task, export_thread);
}

gboolean
leaf_model_export_finish (LeafCatalog   *catalog,
                          GAsyncResult  *result,
                          GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, catalog), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == leaf_model_export_async,
                        FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Import ------------------------------------------------------------------------------------- */

static gboolean
check_class_names (const char * const  *classes,
                   GError             **error)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  if (classes == NULL || classes[0] == NULL)
    {
      g_set_error_literal (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                           _("Give the model's class names, one per output of its classifier, "
                             "in order"));
      return FALSE;
    }
  for (const char * const *name = classes; *name != NULL; name++)
    {
      if (!leaf_class_name_is_valid (*name, error))
        return FALSE;
      if (!g_hash_table_add (seen, (gpointer) *name))
        {
          g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                       _("The class name “%s” is given twice; each output needs a name of its "
                         "own"), *name);
          return FALSE;
        }
    }
  return TRUE;
}

/* Whether prefix is made only of the segments the usual wrappers add: DataParallel and
 * DistributedDataParallel "module.", a Lightning module or a model wrapped by hand "model.". */
static gboolean
is_wrapper_prefix (const char *prefix,
                   gsize       length)
{
  while (length > 0)
    {
      gsize segment = g_str_has_prefix (prefix, "module.") ? strlen ("module.")
                      : g_str_has_prefix (prefix, "model.") ? strlen ("model.")
                                                             : 0;
      if (segment == 0 || segment > length)
        return FALSE;
      prefix += segment;
      length -= segment;
    }
  return TRUE;
}

/* Removes the wrappers' prefix from the names, keeping only the wrapped model's tensors (a
 * Lightning module saves its loss's weights and metrics beside them). The classifier tells
 * where the model is; the shortest prefix wins, so that a plain state dict stays as it is. */
static char *
strip_wrapper_prefix (LtStateDict  *sd,
                      const char   *display,
                      GError      **error)
{
  const char *best = NULL;
  gsize best_length = 0;
  char *message = NULL;
  g_autofree char *prefix = NULL;

  for (gsize i = 0; i < lt_state_dict_count (sd); i++)
    {
      const char *name = lt_state_dict_name (sd, i);
      gsize length = strlen (name);

      if (!g_str_has_suffix (name, CLASSIFIER_WEIGHT))
        continue;
      length -= strlen (CLASSIFIER_WEIGHT);
      if (is_wrapper_prefix (name, length) && (best == NULL || length < best_length))
        {
          best = name;
          best_length = length;
        }
    }
  if (best == NULL)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_MISMATCH,
                   _("%s is not a torchvision EfficientNet-B0 state dict: it has no %s. Save "
                     "model.state_dict() of torchvision.models.efficientnet_b0"), display,
                   CLASSIFIER_WEIGHT);
      return NULL;
    }
  prefix = g_strndup (best, best_length);
  if (best_length > 0 && !shim_ok (lt_state_dict_strip_prefix (sd, prefix, &message), &message,
                                   error))
    return NULL;
  return g_steal_pointer (&prefix);
}

static gint64
classifier_rows (const LtStateDict *sd)
{
  int64_t shape[2];

  for (gsize i = 0; i < lt_state_dict_count (sd); i++)
    if (g_str_equal (lt_state_dict_name (sd, i), CLASSIFIER_WEIGHT))
      return lt_state_dict_shape (sd, i, shape, 2) == 2 ? shape[0] : -1;
  return -1;
}

/* A name in the models folder that no file has yet: imported-<stem>.safetensors, numbered when
 * that one exists. */
static char *
new_model_path (LeafCatalog  *catalog,
                const char   *source,
                GError      **error)
{
  g_autofree char *dir = leaf_catalog_get_models_dir (catalog);
  g_autofree char *base = g_path_get_basename (source);
  char *dot = strrchr (base, '.');

  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      int saved = errno;
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                   _("Cannot create the models folder %s: %s"), dir, g_strerror (saved));
      return NULL;
    }
  if (dot != NULL && dot != base)
    *dot = '\0';
  for (guint n = 1;; n++)
    {
      g_autofree char *name = n == 1 ? g_strdup_printf ("imported-%s.safetensors", base)
                                     : g_strdup_printf ("imported-%s-%u.safetensors", base, n);
      char *path = g_build_filename (dir, name, NULL);

      if (!g_file_test (path, G_FILE_TEST_EXISTS))
        return path;
      g_free (path);
    }
}

/* What the model says about the catalog's validation photos of its classes. */
typedef struct
{
  GArray *logits;  /* float, n x n_classes */
  GArray *labels;  /* guint */
  guint *confusion;
} Validation;

static void
validation_clear (Validation *v)
{
  g_clear_pointer (&v->logits, g_array_unref);
  g_clear_pointer (&v->labels, g_array_unref);
  g_clear_pointer (&v->confusion, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Validation, validation_clear)

static gboolean
validate (LeafCatalog   *catalog,
          LeafPredictor *predictor,
          Validation    *out,
          GCancellable  *cancellable,
          GError       **error)
{
  const char * const *classes = leaf_predictor_get_classes (predictor);
  guint n_classes = leaf_predictor_get_n_classes (predictor);
  LeafImageQuery query = { .labels = LEAF_LABEL_FILTER_LABELED, .split = LEAF_SPLIT_VALIDATION };
  g_autoptr(GPtrArray) catalog_classes = leaf_catalog_list_classes (catalog, error);
  g_autoptr(GHashTable) index = g_hash_table_new (g_int64_hash, g_int64_equal);
  g_autoptr(GPtrArray) images = NULL;
  g_autofree float *logits = g_new (float, n_classes);
  g_autofree float *probabilities = g_new (float, n_classes);

  if (catalog_classes == NULL)
    return FALSE;
  /* The catalog's classes by id, mapped to the model's output of the same name. */
  for (guint i = 0; i < catalog_classes->len; i++)
    {
      LeafClassInfo *info = catalog_classes->pdata[i];

      for (guint c = 0; c < n_classes; c++)
        if (g_str_equal (info->name, classes[c]))
          g_hash_table_insert (index, &info->id, GUINT_TO_POINTER (c));
    }
  images = leaf_catalog_query_images (catalog, &query, 0, G_MAXUINT, error);
  if (images == NULL)
    return FALSE;

  out->logits = g_array_new (FALSE, FALSE, sizeof (float));
  out->labels = g_array_new (FALSE, FALSE, sizeof (guint));
  out->confusion = g_new0 (guint, n_classes * n_classes);
  for (guint i = 0; i < images->len; i++)
    {
      LeafCatalogImage *image = images->pdata[i];
      gint64 class_id = leaf_catalog_image_get_class_id (image);
      gpointer value;
      guint label, best = 0;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      /* Photos of other classes say nothing about this model; missing or unreadable ones are
       * left out, as a review of the catalog leaves them out. */
      if (!g_hash_table_lookup_extended (index, &class_id, NULL, &value)
          || leaf_catalog_image_get_missing (image)
          || !leaf_predictor_predict_file (predictor, leaf_catalog_image_get_path (image), FALSE,
                                           probabilities, logits, NULL))
        continue;
      label = GPOINTER_TO_UINT (value);
      for (guint c = 1; c < n_classes; c++)
        if (logits[c] > logits[best])
          best = c;
      g_array_append_vals (out->logits, logits, n_classes);
      g_array_append_val (out->labels, label);
      out->confusion[label * n_classes + best]++;
    }
  return TRUE;
}

/* The catalog's record of the model, shaped as a run's summary is, so that what shows a run's
 * accuracy and calibration shows the imported model's too. */
static char *
build_summary (const LeafModelImport *import,
               const char            *source,
               JsonNode              *metrics)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *name = g_path_get_basename (source);

  json_builder_begin_object (b);
  leaf_json_add_string (b, "event", "summary");
  leaf_json_add_string (b, "status", "imported");
  leaf_json_add_string (b, "source", name);
  leaf_json_add_string (b, "key_prefix", import->key_prefix);
  leaf_json_add_int (b, "val_images", import->n_calibration);
  leaf_json_add_string (b, "model", import->path);
  if (metrics != NULL)
    {
      leaf_json_add_double (b, "val_accuracy", import->val_accuracy);
      leaf_json_add_node (b, "metrics", json_node_copy (metrics));
      leaf_json_add_node (b, "calibration", leaf_calibration_to_json (&import->calibration));
    }
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

static gboolean
save_model (LtModel              *model,
            const char           *path,
            const LeafModelMeta  *meta,
            GError              **error)
{
  g_autofree char *json = leaf_model_meta_to_json (meta);
  char *message = NULL;

  return shim_ok (lt_model_save (model, path, json, &message), &message, error);
}

/* Writes the model file, calibrates it on the validation photos and records it. */
static gboolean
import_model (LeafCatalog      *catalog,
              LtModel          *model,
              const char       *source,
              char            **classes,
              LeafModelImport  *import,
              GCancellable     *cancellable,
              GError          **error)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *created = g_date_time_format_iso8601 (now);
  g_autoptr(LeafPredictor) predictor = NULL;
  g_autoptr(JsonNode) metrics = NULL;
  g_autofree char *metrics_json = NULL;
  g_autofree char *summary = NULL;
  g_autofree char *sha = NULL;
  g_auto(Validation) validation = { 0 };
  g_autofree char *name = g_filename_display_basename (source);
  LeafModelMeta meta = {
    .classes = classes,
    .n_classes = import->n_classes,
    .image_size = 224,
    .resize_size = 256,
    .created = created,
    .temperature = 1.0,
  };

  import->val_accuracy = NAN;
  import->calibration.temperature = 1.0;
  if (!save_model (model, import->path, &meta, error))
    return FALSE;
  predictor = leaf_predictor_new_from_model (import->path, error);
  if (predictor == NULL || !validate (catalog, predictor, &validation, cancellable, error))
    return FALSE;

  import->n_calibration = validation.labels->len;
  if (import->n_calibration > 0)
    {
      guint correct = 0;

      for (guint c = 0; c < import->n_classes; c++)
        correct += validation.confusion[c * import->n_classes + c];
      import->val_accuracy = (double) correct / import->n_calibration;
      leaf_calibration_fit ((const float *) (gpointer) validation.logits->data,
                            (const guint *) (gpointer) validation.labels->data,
                            import->n_calibration, import->n_classes, &import->calibration);
      metrics = leaf_metrics_build (validation.confusion, (const char * const *) classes,
                                    import->n_classes);
      metrics_json = json_to_string (metrics, FALSE);
      meta.temperature = import->calibration.temperature;
      meta.refer_below = import->calibration.refer_below;
      meta.metrics_json = metrics_json;
      if (!save_model (model, import->path, &meta, error))
        return FALSE;
    }

  sha = leaf_file_sha256 (import->path, NULL, error);
  if (sha == NULL)
    return FALSE;
  summary = build_summary (import, source, metrics);
  import->model_id = leaf_catalog_add_model (catalog, 0, import->path, sha,
                                             (const char * const *) classes, summary, error);
  /* Named after its file, which says more than "Model 5" where models are listed. */
  return import->model_id > 0
         && leaf_catalog_rename_model (catalog, import->model_id, name, error);
}

/**
 * leaf_model_import:
 * @catalog: the catalog to add the model to
 * @path: (type filename): an EfficientNet-B0 state dict saved by PyTorch (torch.save or
 *   safetensors): plain, inside a checkpoint's "state_dict", "model_state_dict" or "model",
 *   its names prefixed by "module." or "model." or not
 * @classes: (array zero-terminated=1): one name per row of its classifier, in order
 * @cancellable: (nullable): stops the calibration
 *
 * Adds the model to @catalog as a model of no run, not made active. When the catalog has
 * labelled validation photos of the model's classes, the model is measured and calibrated on
 * them by temperature scaling, and gets a referral threshold, as a trained model does. The
 * photos are preprocessed as torchvision's IMAGENET1K_V1 preset does (resize 256, crop 224).
 *
 * Returns: (transfer full): what was imported, or %NULL with @error set
 *   (%LEAF_ENGINE_ERROR_MISMATCH when the file is not such a state dict or the class names do
 *   not fit its classifier)
 */
LeafModelImport *
leaf_model_import (LeafCatalog         *catalog,
                   const char          *path,
                   const char * const  *classes,
                   GCancellable        *cancellable,
                   GError             **error)
{
  g_autoptr(LeafModelImport) import = g_new0 (LeafModelImport, 1);
  g_autofree char *display = NULL;
  g_autoptr(LtStateDict) sd = NULL;
  g_autoptr(LtModel) model = NULL;
  g_auto(GStrv) names = NULL;
  char *message = NULL;
  gint64 rows;
  LtStatus status;

  g_return_val_if_fail (LEAF_IS_CATALOG (catalog), NULL);
  g_return_val_if_fail (path != NULL, NULL);

  if (!check_class_names (classes, error))
    return NULL;
  display = g_filename_display_name (path);
  sd = load_state_dict (path, error);
  if (sd == NULL)
    return NULL;
  import->key_prefix = strip_wrapper_prefix (sd, display, error);
  if (import->key_prefix == NULL)
    return NULL;

  names = g_strdupv ((char **) classes);
  import->n_classes = g_strv_length (names);
  rows = classifier_rows (sd);
  if (rows != import->n_classes)
    {
      g_autofree char *given = g_strjoinv (", ", names);
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_MISMATCH,
                   g_dngettext (GETTEXT_PACKAGE,
                                "%s has a classifier of %" PRId64 " classes, but %u "
                                "class name was given (%s); give one name per class, in the "
                                "order of its outputs",
                                "%s has a classifier of %" PRId64 " classes, but %u "
                                "class names were given (%s); give one name per class, in the "
                                "order of its outputs",
                                import->n_classes),
                   display, rows, import->n_classes, given);
      return NULL;
    }

  status = lt_model_new (import->n_classes, &model, &message);
  if (status == LT_OK)
    status = lt_model_load_state_dict (model, sd, LT_LOAD_STRICT, &message);
  if (status != LT_OK)
    {
      g_autoptr(GError) local = NULL;

      leaf_engine_error_from_shim (status, message, &local);
      g_set_error (error, local->domain, local->code,
                   _("%s is not a torchvision EfficientNet-B0 state dict: %s"), display,
                   local->message);
      return NULL;
    }

  import->path = new_model_path (catalog, path, error);
  if (import->path == NULL)
    return NULL;
  if (!import_model (catalog, model, path, names, import, cancellable, error))
    {
      g_unlink (import->path);
      return NULL;
    }
  return g_steal_pointer (&import);
}

static void
import_thread (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  IoJob *job = task_data;
  GError *error = NULL;
  LeafModelImport *import = leaf_model_import (source_object, job->path,
                                               (const char * const *) job->classes, cancellable,
                                               &error);

  if (import != NULL)
    g_task_return_pointer (task, import, (GDestroyNotify) leaf_model_import_free);
  else
    g_task_return_error (task, error);
}

/**
 * leaf_model_import_async:
 *
 * leaf_model_import() on a worker thread.
 */
void
leaf_model_import_async (LeafCatalog         *catalog,
                         const char          *path,
                         const char * const  *classes,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  IoJob *job;

  g_return_if_fail (LEAF_IS_CATALOG (catalog));
  g_return_if_fail (path != NULL);

  task = g_task_new (catalog, cancellable, callback, user_data);
  g_task_set_source_tag (task, leaf_model_import_async);
  job = g_new0 (IoJob, 1);
  job->path = g_strdup (path);
  job->classes = g_strdupv ((char **) classes);
  g_task_set_task_data (task, job, io_job_free);
  g_task_run_in_thread (task, import_thread);
}

/**
 * leaf_model_import_finish:
 *
 * Returns: (transfer full): what was imported, or %NULL with @error set
 */
LeafModelImport *
leaf_model_import_finish (LeafCatalog   *catalog,
                          GAsyncResult  *result,
                          GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, catalog), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == leaf_model_import_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
