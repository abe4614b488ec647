/* leaf-run.c: one training run, start to finish, on the training thread
 *
 * The run caches what is frozen. Stages before the cut run in inference mode (BatchNorm on its
 * running statistics, no stochastic depth), so their output for a photo and a training view is
 * a fixed function: it is computed once, kept as fp16 in memory and in the on-disk feature
 * cache, and every later epoch costs only the stages that train. The head phase goes one step
 * further: with the whole backbone frozen, the pooled 1280-value features of each view are
 * computed once, and a head epoch is a few small matrix products.
 *
 * A distributed run (several processes, started as torchrun starts them) is data-parallel
 * over c10d: each rank computes the frozen stages and the validation logits of its share of
 * the photos, and the ranks exchange them, so every rank holds every cached row. Each global
 * batch is drawn as one process draws it and split by position among the ranks; gradients
 * are summed with their shares of the batch, so a step equals one process's step on the whole
 * batch. Only rank 0 writes to the catalog.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-run"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "leaf-calibration.h"
#include "leaf-catalog.h"
#include "leaf-decode-pool.h"
#include "leaf-engine.h"
#include "leaf-error-private.h"
#include "leaf-feature-cache.h"
#include "leaf-file.h"
#include "leaf-image.h"
#include "leaf-json.h"
#include "leaf-metrics.h"
#include "leaf-model-file.h"
#include "leaf-ood.h"
#include "leaf-predictor.h"
#include "leaf-run-private.h"
#include "leaf-train-progress.h"
#include "leaf-weights-store.h"
#include "lt-dist.h"
#include "lt.h"

#define N_FEATURES 1280
#define POOLED_CUT LT_N_FEATURES

/* Views, in the order recipes take them: the first 4 are the flips. */
static const LeafImageView view_order[LEAF_IMAGE_N_VIEWS] = {
  LEAF_IMAGE_VIEW_IDENTITY, LEAF_IMAGE_VIEW_FLIP_HORIZONTAL, LEAF_IMAGE_VIEW_FLIP_VERTICAL,
  LEAF_IMAGE_VIEW_ROTATE_180, LEAF_IMAGE_VIEW_ROTATE_90, LEAF_IMAGE_VIEW_ROTATE_270,
  LEAF_IMAGE_VIEW_TRANSPOSE, LEAF_IMAGE_VIEW_ANTI_TRANSPOSE,
};

void
leaf_run_setup_free (LeafRunSetup *setup)
{
  g_free (setup->catalog_path);
  g_free (setup->weights_path);
  g_free (setup->models_dir);
  g_free (setup->cache_dir);
  leaf_dist_config_clear (&setup->dist);
  g_free (setup);
}

typedef struct
{
  guint image;  /* index into Run.images */
  guint view;   /* index into view_order */
} Row;

typedef struct
{
  LeafRunSetup *setup;
  const LeafRecipe *recipe;

  LeafCatalog *catalog;
  GPtrArray *classes;         /* LeafClassInfo */
  char **class_names;
  GPtrArray *images;          /* LeafCatalogImage, labelled and usable */
  guint *labels;              /* class index of each image */
  gboolean *unusable;         /* photos that failed to decode during this run */
  GArray *train;              /* image indices */
  GArray *val;
  float *class_weights;

  LtModel *model;
  LtOptim *optim;
  char *base_path;            /* NULL when training from scratch */
  char *base_sha256;
  char *base_note;            /* a warning about the base weights, for the run's record */
  gint64 run_id;
  GRand *rand;
  LeafDecodePool *decoder;
  guint image_size;
  guint cut;
  guint n_views;
  guint val_views;  /* views of each validation photo, averaged when the kept model is measured */

  /* The cache of frozen activations: rows of train images x views, then val images. Rows
   * are read where they lie: in the feature cache's tables, mapped, or in act_memory when the
   * cache's disk has no room for them. */
  gboolean cached;
  GArray *rows;               /* Row */
  guint *first_row;           /* per image */
  int64_t act_shape[3];
  gsize act_numel;
  LeafFeatureTable *tables[LEAF_IMAGE_N_VIEWS];   /* per view index, once opened */
  guint64 *slots;             /* per row: its slot in its view's table */
  gboolean *found;            /* per row, while extracting: already in its table */
  guint16 *act_memory;        /* rows x act_numel, fp16, when the tables have no room */
  const guint16 **act;        /* per row, once mapped */
  float *pooled;              /* rows x N_FEATURES, a mapping of a scratch file */
  gsize pooled_length;
  gboolean pooled_on_disk;
  guint64 mapped_read;        /* bytes read through the mappings since they were released */

  guint64 step;
  guint global_epoch;
  LeafTrainProgress progress; /* the training phases' bounds, for the progress events */
  GArray *step_metrics;       /* LeafMetric, names static */
  char *model_path;
  gboolean model_saved;
  GString *stop_reasons;
  GString *decisions;   /* what the recipe left to the data, and why */
  char *val_set_sha256;       /* which photos, with which labels, it validated on */
  gint64 model_id;            /* the kept model's row, once recorded */
  double best_val_loss;
  double kept_val_accuracy;
  guint kept_epoch;
  double temperature;         /* of the kept model, once calibrated */
  double refer_below;
  LeafOod *ood;               /* of the kept model: which photos are unlike the training photos */
  double plain_background;    /* share of the training photos on a plain background */
  char *metrics_json;         /* of the kept model, once evaluated */
  double head_seconds;
  double finetune_seconds;
  double extract_seconds;
  gint64 started_us;
  gboolean stopped;

  LtDist *dist;               /* NULL for an ordinary run */
  int rank;
  int world;
  guint *owner;               /* per image: the rank that computes its rows and logits */
  char *private_dir;          /* where a rank other than 0 keeps its copy of the model */
} Run;

static void
emit (Run            *run,
      LeafTrainEvent *event)
{
  event->run_id = run->run_id;
  run->setup->emit (event, run->setup->emit_data);
}

static void
emit_message (Run        *run,
              const char *format,
              ...) G_GNUC_PRINTF (2, 3);

static void
emit_message (Run        *run,
              const char *format,
              ...)
{
  LeafTrainEvent event = { .kind = LEAF_TRAIN_EVENT_MESSAGE };
  va_list args;

  va_start (args, format);
  event.message = g_strdup_vprintf (format, args);
  va_end (args);
  emit (run, &event);
  g_free (event.message);
}

static void
emit_progress (Run            *run,
               LeafTrainPhase  phase,
               double          fraction,
               double          images_per_second,
               double          eta_seconds)
{
  LeafTrainEvent event = {
    .kind = LEAF_TRAIN_EVENT_PROGRESS,
    .phase = phase,
    .fraction = CLAMP (fraction, 0.0, 1.0),
    .run_fraction = -1,
    .images_per_second = images_per_second,
    .eta_seconds = eta_seconds,
    .run_eta_seconds = -1,
  };
  emit (run, &event);
}

/* After a training epoch: what the bounds of its phase and of the run say. */
static void
emit_epoch_progress (Run            *run,
                     LeafTrainPhase  phase,
                     double          images_per_second)
{
  const LeafTrainProgress *p = &run->progress;
  LeafTrainEvent event = {
    .kind = LEAF_TRAIN_EVENT_PROGRESS,
    .phase = phase,
    .epoch = p->epoch,
    .global_epoch = p->global_epoch,
    .fraction = p->fraction,
    .run_fraction = p->run_fraction,
    .images_per_second = images_per_second,
    .eta_seconds = p->eta_seconds,
    .run_eta_seconds = p->run_eta_seconds,
    .last_epoch = p->last_epoch,
    .best_epoch = p->best_epoch,
    .patience = p->stop_patience,
  };
  emit (run, &event);
}

static void
emit_phase (Run            *run,
            LeafTrainPhase  phase,
            const char     *message)
{
  LeafTrainEvent event = { .kind = LEAF_TRAIN_EVENT_PHASE, .phase = phase,
                           .message = (char *) message };
  emit (run, &event);
}

/* Takes the message's address, never its value: C leaves the order of a call's arguments
 * unspecified, so in `shim_ok (lt_x (..., &msg), msg, error)` msg could be read before lt_x()
 * fills it, and every failure would say "unknown error". The body runs after the call. */
static gboolean
shim_ok (LtStatus   status,
         char     **message,
         GError   **error)
{
  if (status == LT_OK)
    return TRUE;
  return leaf_engine_error_from_shim (status, g_steal_pointer (message), error);
}

static double
seconds_since (gint64 start_us)
{
  return (g_get_monotonic_time () - start_us) / 1e6;
}

/* Preparation ------------------------------------------------------------------------------ */

static gboolean
load_images (Run     *run,
             GError **error)
{
  LeafImageQuery query = { .labels = LEAF_LABEL_FILTER_LABELED };
  LeafSplitOptions split = { .train = 1.0 - run->recipe->val_fraction,
                             .validation = run->recipe->val_fraction,
                             .seed = (guint32) run->recipe->seed };
  g_autoptr(GHashTable) class_index = g_hash_table_new (g_int64_hash, g_int64_equal);
  g_autoptr(GPtrArray) all = NULL;
  guint n_assigned = 0;

  run->classes = leaf_catalog_list_classes (run->catalog, error);
  if (run->classes == NULL)
    return FALSE;

  /* Splits are persisted: a later run validates on the same photos, and only photos labelled
   * since get a split of their own. */
  if (!leaf_catalog_assign_splits (run->catalog, &split, &n_assigned, error))
    return FALSE;

  all = leaf_catalog_query_images (run->catalog, &query, 0, G_MAXUINT, error);
  if (all == NULL)
    return FALSE;

  /* Only classes that have photos take part; their order is the catalog's. */
  {
    g_autoptr(GHashTable) used =
      g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
    g_autoptr(GPtrArray) names = g_ptr_array_new ();

    for (guint i = 0; i < all->len; i++)
      {
        gint64 id = leaf_catalog_image_get_class_id (all->pdata[i]);
        g_hash_table_add (used, g_memdup2 (&id, sizeof id));
      }
    for (guint i = 0; i < run->classes->len; i++)
      {
        LeafClassInfo *info = run->classes->pdata[i];
        if (g_hash_table_contains (used, &info->id))
          {
            g_hash_table_insert (class_index, &info->id, GUINT_TO_POINTER (names->len));
            g_ptr_array_add (names, g_strdup (info->name));
          }
      }
    g_ptr_array_add (names, NULL);
    run->class_names = (char **) g_ptr_array_free (g_steal_pointer (&names), FALSE);
  }

  if (g_strv_length (run->class_names) < 2)
    {
      g_set_error_literal (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                           _("Training needs labelled photos of at least two classes"));
      return FALSE;
    }

  run->images = g_ptr_array_new_with_free_func (g_object_unref);
  run->train = g_array_new (FALSE, FALSE, sizeof (guint));
  run->val = g_array_new (FALSE, FALSE, sizeof (guint));
  run->labels = g_new0 (guint, all->len);
  for (guint i = 0; i < all->len; i++)
    {
      LeafCatalogImage *image = all->pdata[i];
      gint64 class_id = leaf_catalog_image_get_class_id (image);
      guint index = run->images->len;

      if (leaf_catalog_image_get_missing (image))
        continue;
      run->labels[index] = GPOINTER_TO_UINT (g_hash_table_lookup (class_index, &class_id));
      g_ptr_array_add (run->images, g_object_ref (image));
      switch (leaf_catalog_image_get_split (image))
        {
        case LEAF_SPLIT_TRAIN:
          g_array_append_val (run->train, index);
          break;
        case LEAF_SPLIT_VALIDATION:
          g_array_append_val (run->val, index);
          break;
        case LEAF_SPLIT_NONE:
        case LEAF_SPLIT_TEST:
        default:
          break;
        }
    }
  run->unusable = g_new0 (gboolean, run->images->len);

  if (run->train->len == 0 || run->val->len == 0)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                   _("Training needs photos in both the training and the validation split "
                     "(%u and %u now); label more photos"), run->train->len, run->val->len);
      return FALSE;
    }
  return TRUE;
}

static void
compute_class_weights (Run *run)
{
  guint n_classes = g_strv_length (run->class_names);
  g_autofree guint *counts = g_new0 (guint, n_classes);
  guint lo = G_MAXUINT, hi = 0;
  gboolean balanced;

  for (guint i = 0; i < run->train->len; i++)
    counts[run->labels[g_array_index (run->train, guint, i)]]++;
  for (guint c = 0; c < n_classes; c++)
    {
      lo = MIN (lo, counts[c]);
      hi = MAX (hi, counts[c]);
    }

  balanced = run->recipe->class_weights == LEAF_CLASS_WEIGHTS_BALANCED ||
             (run->recipe->class_weights == LEAF_CLASS_WEIGHTS_AUTO && hi > 3 * (guint64) lo);
  if (run->recipe->class_weights == LEAF_CLASS_WEIGHTS_AUTO)
    g_string_append_printf (run->decisions, balanced
                            ? _("Classes weighted by inverse frequency: the largest has %u "
                                "training photos, more than 3 times the smallest's %u. ")
                            : _("Classes not weighted: the largest has %u training photos, "
                                "at most 3 times the smallest's %u. "), hi, lo);
  if (!balanced)
    return;

  /* sklearn's "balanced": n_samples / (n_classes * count). */
  run->class_weights = g_new (float, n_classes);
  for (guint c = 0; c < n_classes; c++)
    run->class_weights[c] = counts[c] > 0
                              ? (float) run->train->len / (float) (n_classes * counts[c]) : 0.0f;
}

static char *
resolve_weights (Run     *run,
                 GError **error)
{
  g_autoptr(LeafWeightsStore) store = NULL;
  g_autoptr(LeafWeightsInfo) info = NULL;

  if (run->setup->weights_path != NULL)
    return g_strdup (run->setup->weights_path);

  store = leaf_weights_store_new (NULL);
  info = leaf_weights_store_find_default (store);
  if (info == NULL)
    {
      g_set_error_literal (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND,
                           _("No pretrained weights are available: fetch them with "
                             "“leafscope-cli weights fetch”, import a file with "
                             "“leafscope-cli weights import FILE”, or train from scratch"));
      return NULL;
    }
  if (!info->official)
    run->base_note = g_strdup_printf (_("Base weights are not torchvision's official ImageNet "
                                        "file (%s); results may differ"), info->path);
  return g_strdup (info->path);
}

/* Which weights the run starts from, and their SHA-256, which the run's row records: this
 * comes before the row, and so before any event. */
static gboolean
resolve_base (Run     *run,
              GError **error)
{
  if (run->recipe->from_scratch)
    {
      run->base_sha256 = g_strdup ("");
      return TRUE;
    }
  run->base_path = resolve_weights (run, error);
  if (run->base_path == NULL)
    return FALSE;
  run->base_sha256 = leaf_file_sha256 (run->base_path, NULL, error);
  return run->base_sha256 != NULL;
}

static gboolean
prepare_model (Run     *run,
               GError **error)
{
  const LeafRecipe *r = run->recipe;
  int64_t n_classes = g_strv_length (run->class_names);
  char *msg = NULL;

  if (!shim_ok (lt_model_new (n_classes, &run->model, &msg), &msg, error))
    return FALSE;

  if (r->from_scratch)
    {
      lt_model_set_batch_norm_mode (run->model, LT_BATCH_NORM_TRAIN);
      emit_message (run, _("Training from scratch: without pretrained weights, accuracy will be "
                           "far lower than with them"));
      return TRUE;
    }

  if (run->base_note != NULL)
    emit_message (run, "%s", run->base_note);
  if (!shim_ok (lt_model_load (run->model, run->base_path, LT_LOAD_SKIP_MISMATCHED_HEAD, NULL,
                               &msg), &msg, error))
    return FALSE;

  /* The checkpoint's head (ImageNet's, or another task's that happens to have as many
   * classes) knows nothing of these classes: start from a fresh one. */
  lt_manual_seed (r->seed);
  if (!shim_ok (lt_model_reset_head (run->model, n_classes, &msg), &msg, error))
    return FALSE;
  return TRUE;
}

/* Batches ---------------------------------------------------------------------------------- */

static LeafDecodeRequest
request_for_image (Run   *run,
                   guint  image)
{
  LeafDecodeRequest request = { 0 };

  request.path = leaf_catalog_image_get_path (run->images->pdata[image]);
  return request;
}

static void
report_decode_errors (Run        *run,
                      GPtrArray  *errors)
{
  for (guint i = 0; i < errors->len; i++)
    emit_message (run, _("Skipped a photo that could not be read: %s"),
                  (const char *) errors->pdata[i]);
  g_ptr_array_set_size (errors, 0);
}

/* Training images in streaming mode: decoded, augmented and pushed through the frozen prefix
 * for every batch. This is what the cache replaces; it is also the only way for augmentations
 * that differ at every epoch (random crops, colour jitter) and for training from scratch. */
static LtTensor *
stream_batch (Run          *run,
              const guint  *images,
              const guint  *views,
              guint         n,
              gboolean      augment,
              int           cut,
              gboolean     *failed,
              GError      **error)
{
  gsize n_values = leaf_image_transform_get_n_values (leaf_decode_pool_get_transform (run->decoder));
  g_autofree float *pixels = g_new (float, n_values * n);
  g_autofree LeafDecodeRequest *requests = g_new0 (LeafDecodeRequest, n);
  g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func (g_free);
  int64_t shape[4] = { n, 3, run->image_size, run->image_size };
  LtTensor *input = NULL;
  LtTensor *out = NULL;
  char *msg = NULL;

  for (guint i = 0; i < n; i++)
    {
      requests[i] = request_for_image (run, images[i]);
      requests[i].n_outputs = 1;
      requests[i].views[0] = view_order[views[i]];
      requests[i].outputs[0] = pixels + i * n_values;
      if (augment && run->recipe->random_resized_crop)
        {
          LeafCatalogImage *image = run->images->pdata[images[i]];
          guint w = leaf_catalog_image_get_width (image), h = leaf_catalog_image_get_height (image);
          requests[i].has_region = TRUE;
          leaf_image_sample_resized_crop (run->rand, w, h, 0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0,
                                          &requests[i].region);
        }
      if (augment && run->recipe->color_jitter)
        {
          requests[i].has_jitter = TRUE;
          leaf_color_jitter_sample (run->rand, 0.2, 0.2, 0.2, &requests[i].jitter);
        }
    }

  leaf_decode_batch_wait (leaf_decode_pool_submit (run->decoder, requests, n), failed, errors);
  report_decode_errors (run, errors);

  if (!shim_ok (lt_tensor_new_f32 (pixels, shape, 4, &input, &msg), &msg, error))
    return NULL;
  if (cut == 0)
    return input;

  if (!shim_ok (lt_model_forward_prefix (run->model, input, MIN (cut, LT_N_FEATURES), &out, &msg),
                &msg, error))
    {
      lt_tensor_free (input);
      return NULL;
    }
  lt_tensor_free (input);

  if (cut == POOLED_CUT)
    {
      LtTensor *pooled = NULL;
      if (!shim_ok (lt_tensor_mean_spatial (out, &pooled, &msg), &msg, error))
        pooled = NULL;
      lt_tensor_free (out);
      return pooled;
    }
  return out;
}

/* What the cached rows may keep resident before the pages read through their mappings are
 * let go: training memory stays this much above the model's, however many photos there are. */
#define MAPPED_RESIDENT_BYTES ((guint64) 64 << 20)
/* A row read through a mapping maps more than the row: on a fault the kernel also maps the
 * cached pages around it (fault_around_bytes, 64 KiB by default). */
#define FAULT_AROUND_BYTES ((guint64) 64 << 10)

static void
note_mapped_read (Run   *run,
                  guint  n_rows,
                  gsize  row_bytes)
{
  run->mapped_read += n_rows * (row_bytes + FAULT_AROUND_BYTES);
  if (run->mapped_read < MAPPED_RESIDENT_BYTES)
    return;
  for (guint v = 0; v < G_N_ELEMENTS (run->tables); v++)
    if (run->tables[v] != NULL)
      leaf_feature_table_release (run->tables[v]);
  /* Only a file-backed mapping gives its pages back unchanged; anonymous memory would be lost. */
  if (run->pooled_on_disk)
    madvise (run->pooled, run->pooled_length, MADV_DONTNEED);
  run->mapped_read = 0;
}

static LtTensor *
cached_batch (Run          *run,
              const guint  *rows,
              guint         n,
              int           cut,
              GError      **error)
{
  char *msg = NULL;
  LtTensor *out = NULL;

  if (cut == POOLED_CUT)
    {
      g_autofree float *data = g_new (float, (gsize) n * N_FEATURES);
      int64_t shape[4] = { n, N_FEATURES, 1, 1 };

      for (guint i = 0; i < n; i++)
        memcpy (data + (gsize) i * N_FEATURES, run->pooled + (gsize) rows[i] * N_FEATURES,
                N_FEATURES * sizeof (float));
      note_mapped_read (run, n, N_FEATURES * sizeof (float));
      if (!shim_ok (lt_tensor_new_f32 (data, shape, 4, &out, &msg), &msg, error))
        return NULL;
    }
  else
    {
      g_autofree guint16 *data = g_new (guint16, (gsize) n * run->act_numel);
      int64_t shape[4] = { n, run->act_shape[0], run->act_shape[1], run->act_shape[2] };

      for (guint i = 0; i < n; i++)
        memcpy (data + (gsize) i * run->act_numel, run->act[rows[i]],
                run->act_numel * sizeof (guint16));
      note_mapped_read (run, n, run->act_numel * sizeof (guint16));
      if (!shim_ok (lt_tensor_new_f16 (data, shape, 4, &out, &msg), &msg, error))
        return NULL;
    }
  return out;
}

/* One batch of photos as an epoch of training or a validation pass assembles it. */
typedef struct
{
  guint n;
  guint *images;     /* indices into Run.images */
  guint *views;      /* indices into view_order */
  guint *rows;       /* rows of the cache */
  int64_t *labels;   /* class indices */
  gboolean *failed;  /* photos that could not be decoded */
  /* A distributed step's share: where this rank's photos stand in the global batch */
  int64_t *positions;
  guint n_global;
  double share;      /* of the batch's loss weight */
  gboolean stand_in; /* no photo of this batch is this rank's: one stands in, with share 0 */
} Batch;

static void
batch_init (Batch *batch,
            guint  capacity)
{
  batch->n = 0;
  batch->images = g_new (guint, capacity);
  batch->views = g_new (guint, capacity);
  batch->rows = g_new (guint, capacity);
  batch->labels = g_new (int64_t, capacity);
  batch->failed = g_new0 (gboolean, capacity);
  batch->positions = g_new (int64_t, capacity);
}

static void
batch_clear (Batch *batch)
{
  g_free (batch->images);
  g_free (batch->views);
  g_free (batch->rows);
  g_free (batch->labels);
  g_free (batch->failed);
  g_free (batch->positions);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Batch, batch_clear)

/* Data parallel ---------------------------------------------------------------------------- */

/* The only process of an ordinary run, or rank 0 of a distributed one: the one that records
 * the run, its metrics and its model in the catalog. */
static gboolean
writes_catalog (const Run *run)
{
  return run->rank == 0;
}

static gboolean
owns (const Run *run,
      guint      image)
{
  return run->owner[image] == (guint) run->rank;
}

/* Photos are dealt out in turn: training photos, then validation photos. */
static void
assign_owners (Run *run)
{
  run->owner = g_new0 (guint, run->images->len);
  for (guint i = 0; i < run->train->len; i++)
    run->owner[g_array_index (run->train, guint, i)] = i % run->world;
  for (guint i = 0; i < run->val->len; i++)
    run->owner[g_array_index (run->val, guint, i)] = i % run->world;
}

static gboolean
dist_reduce (Run       *run,
             double    *values,
             gsize      n,
             LtDistOp   op,
             GError   **error)
{
  char *msg = NULL;

  return run->dist == NULL ||
         shim_ok (lt_dist_all_reduce_f64 (run->dist, values, n, op, &msg), &msg, error);
}

static gboolean
dist_barrier (Run     *run,
              GError **error)
{
  char *msg = NULL;

  return run->dist == NULL || shim_ok (lt_dist_barrier (run->dist, &msg), &msg, error);
}

static gboolean
join_group (Run     *run,
            GError **error)
{
  const LeafDistConfig *config = &run->setup->dist;
  char *msg = NULL;

  run->world = 1;
  if (config->world_size <= 1)
    return TRUE;
  if (!shim_ok (lt_dist_new (config->master_addr, config->master_port, config->rank,
                             config->world_size, config->agent_prefix, config->timeout_seconds,
                             &run->dist, &msg),
                &msg, error))
    return FALSE;
  run->rank = config->rank;
  run->world = config->world_size;
  return TRUE;
}

/* Ranks that trained on different photos, labels, splits, weights or recipes would average
 * gradients of different problems without an error: compare a digest of all of them first. */
static gboolean
check_same_run (Run         *run,
                const char  *config,
                GError     **error)
{
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  GArray *splits[] = { run->train, run->val };
  guint8 digest[32];
  gsize length = sizeof digest;
  double low[4], high[4];

  for (guint s = 0; s < G_N_ELEMENTS (splits); s++)
    for (guint i = 0; i < splits[s]->len; i++)
      {
        guint image = g_array_index (splits[s], guint, i);
        g_autofree char *line =
          g_strdup_printf ("%u %s %s\n", s, leaf_catalog_image_get_sha256 (run->images->pdata[image]),
                           run->class_names[run->labels[image]]);
        g_checksum_update (checksum, (const guchar *) line, -1);
      }
  g_checksum_update (checksum, (const guchar *) (run->base_sha256 != NULL ? run->base_sha256 : "-"),
                     -1);
  g_checksum_update (checksum, (const guchar *) config, -1);
  g_checksum_get_digest (checksum, digest, &length);
  /* 24 bits a value: exact in a double, whatever the reduction does. */
  for (guint k = 0; k < G_N_ELEMENTS (low); k++)
    low[k] = high[k] = (digest[3 * k] << 16) | (digest[3 * k + 1] << 8) | digest[3 * k + 2];
  if (!dist_reduce (run, low, G_N_ELEMENTS (low), LT_DIST_MIN, error) ||
      !dist_reduce (run, high, G_N_ELEMENTS (high), LT_DIST_MAX, error))
    return FALSE;
  for (guint k = 0; k < G_N_ELEMENTS (low); k++)
    if (low[k] != high[k])
      {
        g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                     _("Rank %d of %d does not see the same photos, labels, splits, base weights "
                       "or recipe as the others: give every rank a copy of the same catalog, "
                       "photos and weights, and the same options"), run->rank, run->world);
        return FALSE;
      }
  return TRUE;
}

/* How exchange_rows() reads a row this rank computed and files one another rank sent. */
typedef gboolean (*RowGet) (Run *run, guint row, gpointer data, GError **error);
typedef gboolean (*RowPut) (Run *run, guint row, gconstpointer data, GError **error);

/* Rows that their photos' owners computed, copied to every rank a bounded chunk at a time. */
#define EXCHANGE_CHUNK_BYTES ((gsize) 64 << 20)

static gboolean
exchange_rows (Run      *run,
               gsize     row_bytes,
               RowGet    get_row,
               RowPut    put_row,
               GError  **error)
{
  guint n_rows = run->rows->len;
  guint chunk = MAX (1, EXCHANGE_CHUNK_BYTES / row_bytes);
  g_autofree guint8 *buffer = NULL;
  g_autofree guint *rows = NULL;

  if (run->dist == NULL)
    return TRUE;
  buffer = g_malloc ((gsize) chunk * row_bytes);
  rows = g_new (guint, chunk);
  for (int root = 0; root < run->world; root++)
    for (guint r = 0; r < n_rows;)
      {
        guint n = 0;
        char *msg = NULL;

        for (; r < n_rows && n < chunk; r++)
          if (run->owner[g_array_index (run->rows, Row, r).image] == (guint) root &&
              !run->unusable[g_array_index (run->rows, Row, r).image])
            rows[n++] = r;
        if (n == 0)
          continue;
        for (guint i = 0; root == run->rank && i < n; i++)
          if (!get_row (run, rows[i], buffer + i * row_bytes, error))
            return FALSE;
        if (!shim_ok (lt_dist_broadcast (run->dist, buffer, n * row_bytes, root, &msg), &msg,
                      error))
          return FALSE;
        for (guint i = 0; root != run->rank && i < n; i++)
          if (!put_row (run, rows[i], buffer + i * row_bytes, error))
            return FALSE;
      }
  return TRUE;
}

/* Every rank leaves out the photos any rank could not read. */
static gboolean
share_unusable (Run     *run,
                GError **error)
{
  guint n = run->images->len;
  g_autofree double *flags = g_new (double, MAX (n, 1));

  if (run->dist == NULL)
    return TRUE;
  for (guint i = 0; i < n; i++)
    flags[i] = run->unusable[i];
  if (!dist_reduce (run, flags, n, LT_DIST_MAX, error))
    return FALSE;
  for (guint i = 0; i < n; i++)
    run->unusable[i] = flags[i] > 0;
  return TRUE;
}

/* Keeps this rank's part of a global training batch: the photos at positions rank, rank +
 * world, ... and their share of the batch's loss weight (class weights count). */
static void
shard_batch (Run   *run,
             Batch *batch)
{
  double total = 0, mine = 0;
  guint k = 0;

  batch->n_global = batch->n;
  for (guint i = 0; i < batch->n; i++)
    {
      double weight = run->class_weights != NULL ? run->class_weights[batch->labels[i]] : 1.0;

      total += weight;
      if (i % run->world != (guint) run->rank)
        continue;
      mine += weight;
      batch->images[k] = batch->images[i];
      batch->views[k] = batch->views[i];
      batch->rows[k] = batch->rows[i];
      batch->labels[k] = batch->labels[i];
      batch->positions[k++] = i;
    }
  batch->stand_in = k == 0;
  if (batch->stand_in)
    {
      /* The first photo, whose gradient counts for nothing: the collective step needs every
       * rank, and the noise of dropout and stochastic depth is drawn the same on each. */
      batch->positions[0] = 0;
      k = 1;
    }
  batch->n = k;
  batch->share = total > 0 ? mine / total : 0;
}

/* Makes the input of the stages from cut on for images[0..n_images), which the batch can hold.
 * For training each photo is seen in a training view drawn at random, and augmented when
 * streamed; otherwise in @view. Photos that cannot be used are left out, and one that
 * cannot be read now is left out of every later batch too. *input is NULL (and the batch empty)
 * when none was usable. */
static gboolean
batch_load (Run          *run,
            Batch        *batch,
            const guint  *images,
            guint         n_images,
            gboolean      training,
            guint         view,
            int           cut,
            LtTensor    **input,
            GError      **error)
{
  *input = NULL;
  batch->n = 0;
  for (guint i = 0; i < n_images; i++)
    {
      guint image = images[i];
      /* Drawn for every photo, usable or not, so that a run repeats exactly. */
      if (training)
        view = run->n_views > 1 ? g_rand_int_range (run->rand, 0, run->n_views) : 0;

      if (run->unusable[image])
        continue;
      batch->images[batch->n] = image;
      batch->views[batch->n] = view;
      batch->rows[batch->n] = run->first_row[image] + view;
      batch->labels[batch->n] = run->labels[image];
      batch->n++;
    }
  if (batch->n == 0)
    return TRUE;
  if (training && run->dist != NULL)
    shard_batch (run, batch);

  if (run->cached)
    *input = cached_batch (run, batch->rows, batch->n, cut, error);
  else
    {
      *input = stream_batch (run, batch->images, batch->views, batch->n, training, cut,
                             batch->failed, error);
      for (guint i = 0, k = 0; *input != NULL && i < batch->n; i++)
        if (batch->failed[i])
          run->unusable[batch->images[i]] = TRUE;
        else
          {
            batch->images[k] = batch->images[i];
            batch->labels[k++] = batch->labels[i];
          }
    }
  if (*input == NULL)
    return FALSE;
  batch->n = lt_tensor_dim (*input, 0);
  if (batch->n == 0)
    g_clear_pointer (input, lt_tensor_free);
  return TRUE;
}

/* Extraction ------------------------------------------------------------------------------- */

static gboolean
probe_activation_shape (Run     *run,
                        GError **error)
{
  gsize n_values = 3 * (gsize) run->image_size * run->image_size;
  g_autofree float *zeros = g_new0 (float, n_values);
  int64_t shape[4] = { 1, 3, run->image_size, run->image_size };
  LtTensor *input = NULL, *out = NULL;
  char *msg = NULL;
  gboolean ok;

  if (!shim_ok (lt_tensor_new_f32 (zeros, shape, 4, &input, &msg), &msg, error))
    return FALSE;
  ok = shim_ok (lt_model_forward_prefix (run->model, input, run->cut, &out, &msg), &msg, error);
  lt_tensor_free (input);
  if (!ok)
    return FALSE;
  for (int i = 0; i < 3; i++)
    run->act_shape[i] = lt_tensor_dim (out, i + 1);
  run->act_numel = run->act_shape[0] * run->act_shape[1] * run->act_shape[2];
  lt_tensor_free (out);
  return TRUE;
}

static void
build_rows (Run *run)
{
  run->rows = g_array_new (FALSE, FALSE, sizeof (Row));
  run->first_row = g_new0 (guint, run->images->len);
  for (guint i = 0; i < run->train->len; i++)
    {
      guint image = g_array_index (run->train, guint, i);
      run->first_row[image] = run->rows->len;
      for (guint v = 0; v < run->n_views; v++)
        {
          Row row = { image, v };
          g_array_append_val (run->rows, row);
        }
    }
  for (guint i = 0; i < run->val->len; i++)
    {
      guint image = g_array_index (run->val, guint, i);
      run->first_row[image] = run->rows->len;
      for (guint v = 0; v < run->val_views; v++)
        {
          Row row = { image, v };
          g_array_append_val (run->rows, row);
        }
    }
}

typedef struct
{
  guint image;
  guint first_row;
  guint n_views;
} PendingImage;

static LeafFeatureTable *
row_table (Run   *run,
           guint  r)
{
  return run->tables[g_array_index (run->rows, Row, r).view];
}

static gboolean
put_act_row (Run           *run,
             guint          r,
             gconstpointer  data,
             GError       **error)
{
  const Row *row = &g_array_index (run->rows, Row, r);
  gsize row_bytes = run->act_numel * sizeof (guint16);

  if (run->act_memory != NULL)
    {
      memcpy (run->act_memory + (gsize) r * run->act_numel, data, row_bytes);
      return TRUE;
    }
  /* Another rank's row that an earlier run already filed. */
  if (run->found[r])
    return TRUE;
  return leaf_feature_table_append (row_table (run, r),
                                    leaf_catalog_image_get_sha256 (run->images->pdata[row->image]),
                                    data, &run->slots[r], error);
}

static gboolean
get_act_row (Run       *run,
             guint      r,
             gpointer   data,
             GError   **error)
{
  if (run->act_memory != NULL)
    {
      memcpy (data, run->act_memory + (gsize) r * run->act_numel,
              run->act_numel * sizeof (guint16));
      return TRUE;
    }
  return leaf_feature_table_read (row_table (run, r), run->slots[r], data, error);
}

/* Runs one batch of decoded views through the frozen prefix and files the results. */
static gboolean
extract_flush (Run              *run,
               float            *pixels,
               const guint      *slot_rows,
               const gboolean   *slot_ok,
               guint             n_slots,
               GError          **error)
{
  gsize n_values = 3 * (gsize) run->image_size * run->image_size;
  g_autofree guint16 *half = NULL;
  int64_t shape[4] = { 0, 3, run->image_size, run->image_size };
  g_autofree guint *rows = g_new (guint, n_slots);
  LtTensor *input = NULL, *out = NULL;
  char *msg = NULL;
  guint n = 0;

  /* Slots of photos that failed to decode are left out. */
  for (guint s = 0; s < n_slots; s++)
    if (slot_ok[s])
      {
        if (n != s)
          memmove (pixels + n * n_values, pixels + s * n_values, n_values * sizeof (float));
        rows[n++] = slot_rows[s];
      }
  if (n == 0)
    return TRUE;

  shape[0] = n;
  if (!shim_ok (lt_tensor_new_f32 (pixels, shape, 4, &input, &msg), &msg, error))
    return FALSE;
  if (!shim_ok (lt_model_forward_prefix (run->model, input, run->cut, &out, &msg), &msg, error))
    {
      lt_tensor_free (input);
      return FALSE;
    }
  lt_tensor_free (input);

  half = g_new (guint16, n * run->act_numel);
  if (!shim_ok (lt_tensor_copy_f16 (out, half, n * run->act_numel, &msg), &msg, error))
    {
      lt_tensor_free (out);
      return FALSE;
    }
  lt_tensor_free (out);

  for (guint i = 0; i < n; i++)
    if (!put_act_row (run, rows[i], half + i * run->act_numel, error))
      return FALSE;
  return TRUE;
}

/* One batch of views on its way through the decoder and the frozen prefix. */
typedef struct
{
  float *pixels;
  guint *slot_rows;
  gboolean *slot_ok;
  guint n_slots;
  LeafDecodeRequest *requests;
  guint *request_slot;   /* first slot of each request */
  gboolean *failed;
  guint n_requests;
  guint max_slots;
  gsize n_values;
} ExtractBuffer;

static void
extract_buffer_init (ExtractBuffer *buffer,
                     guint          batch,
                     gsize          n_values)
{
  /* A photo's views always go in one batch, so a batch may overrun by up to 7 slots. */
  buffer->max_slots = batch + LEAF_IMAGE_N_VIEWS;
  buffer->n_values = n_values;
  buffer->pixels = g_new (float, n_values * buffer->max_slots);
  buffer->slot_rows = g_new (guint, buffer->max_slots);
  buffer->slot_ok = g_new (gboolean, buffer->max_slots);
  buffer->requests = g_new0 (LeafDecodeRequest, buffer->max_slots);
  buffer->request_slot = g_new (guint, buffer->max_slots);
  buffer->failed = g_new (gboolean, buffer->max_slots);
}

static void
extract_buffer_clear (ExtractBuffer *buffer)
{
  g_free (buffer->pixels);
  g_free (buffer->slot_rows);
  g_free (buffer->slot_ok);
  g_free (buffer->requests);
  g_free (buffer->request_slot);
  g_free (buffer->failed);
}

static LeafDecodeBatch *
extract_submit (Run           *run,
                GArray        *pending,
                guint         *next,
                ExtractBuffer *buffer)
{
  guint batch = buffer->max_slots - LEAF_IMAGE_N_VIEWS;

  buffer->n_slots = 0;
  buffer->n_requests = 0;
  while (*next < pending->len && buffer->n_slots < batch)
    {
      const PendingImage *p = &g_array_index (pending, PendingImage, (*next)++);
      LeafDecodeRequest *req = &buffer->requests[buffer->n_requests];

      *req = request_for_image (run, p->image);
      req->n_outputs = p->n_views;
      buffer->request_slot[buffer->n_requests++] = buffer->n_slots;
      for (guint v = 0; v < p->n_views; v++)
        {
          const Row *row = &g_array_index (run->rows, Row, p->first_row + v);
          req->views[v] = view_order[row->view];
          req->outputs[v] = buffer->pixels + (gsize) buffer->n_slots * buffer->n_values;
          buffer->slot_rows[buffer->n_slots++] = p->first_row + v;
        }
    }
  if (buffer->n_requests == 0)
    return NULL;
  return leaf_decode_pool_submit (run->decoder, buffer->requests, buffer->n_requests);
}

static gboolean
extract_finish (Run              *run,
                LeafDecodeBatch  *decoding,
                ExtractBuffer    *buffer,
                GPtrArray        *errors,
                GError          **error)
{
  leaf_decode_batch_wait (decoding, buffer->failed, errors);
  report_decode_errors (run, errors);

  for (guint q = 0; q < buffer->n_requests; q++)
    {
      guint first = buffer->request_slot[q];
      guint end = q + 1 < buffer->n_requests ? buffer->request_slot[q + 1] : buffer->n_slots;
      guint image = g_array_index (run->rows, Row, buffer->slot_rows[first]).image;

      if (buffer->failed[q])
        run->unusable[image] = TRUE;
      for (guint s = first; s < end; s++)
        buffer->slot_ok[s] = !buffer->failed[q];
    }
  return extract_flush (run, buffer->pixels, buffer->slot_rows, buffer->slot_ok,
                        buffer->n_slots, error);
}

/* Tables only grow, and some rows are never read again: those stored twice (ranks of one job
 * sharing a machine's cache each file every row) and those of photos the catalog no longer has
 * (a catalog made again at the same path shares its tables). Once a quarter of a table is such
 * rows, the run writes its tables again without them. Rank 0 alone does it; a rank that opened
 * the old files keeps reading them. */
static void
compact_tables (Run   *run,
                guint  n_views)
{
  g_autoptr(GHashTable) keep = NULL;
  g_autoptr(GError) error = NULL;
  guint64 stale, rows, removed = 0;

  if (run->rank > 0)
    return;
  if ((keep = leaf_catalog_list_sha256 (run->catalog, &error)) == NULL)
    {
      g_debug ("Not compacting the feature cache: %s", error->message);
      return;
    }
  stale = leaf_feature_table_count_stale (run->tables[0], keep);
  rows = leaf_feature_table_get_n_rows (run->tables[0]);
  if (stale == 0 || stale < rows / 4)
    return;
  for (guint v = 0; v < n_views; v++)
    {
      guint64 n = 0;

      if (!leaf_feature_table_compact (run->tables[v], keep, &n, &error))
        {
          emit_message (run, _("The feature cache could not be compacted (%s): it keeps rows "
                               "that no photo of the catalog needs"), error->message);
          return;
        }
      removed += n * leaf_feature_cache_row_size (run->act_numel * sizeof (guint16));
    }
  {
    g_autofree char *size = g_format_size (removed);

    emit_message (run, _("The feature cache gave back %s: rows stored twice, or of photos "
                         "the catalog no longer has"), size);
  }
}

/* Opens the table of each view the run uses. The cache's bound applies to what earlier runs
 * left behind: the run's own tables are open, so trimming never evicts this run's first views
 * while it stores its last ones, nor what the last run used when this run reuses it. Without a
 * usable cache folder the run keeps its rows in memory. */
static LeafFeatureCache *
open_tables (Run        *run,
             const char *cache_dir)
{
  g_autoptr(LeafFeatureCache) cache = leaf_feature_cache_new (cache_dir,
                                                              run->setup->cache_max_bytes);
  g_autofree char *catalog_key = g_canonicalize_filename (run->setup->catalog_path, NULL);
  g_autofree char *name_space = leaf_feature_cache_namespace (catalog_key, run->base_sha256,
                                                              run->image_size, run->cut);
  guint n_views = MAX (run->n_views, run->val_views);

  for (guint v = 0; v < n_views; v++)
    {
      g_autoptr(GError) local_error = NULL;

      run->tables[v] = leaf_feature_cache_open_table (cache, name_space, view_order[v],
                                                      run->act_numel * sizeof (guint16),
                                                      &local_error);
      if (run->tables[v] == NULL)
        {
          emit_message (run, _("The feature cache cannot be used (%s): this run keeps the "
                               "frozen stages in memory and the next run computes them again"),
                        local_error->message);
          for (guint k = 0; k < v; k++)
            g_clear_pointer (&run->tables[k], leaf_feature_table_free);
          return NULL;
        }
    }
  compact_tables (run, n_views);
  leaf_feature_cache_trim (cache);
  return g_steal_pointer (&cache);
}

/* The rows still to compute go to the feature cache as far as its disk has room (with a margin
 * for everything else that writes there); otherwise to memory, as the message says. */
static gboolean
place_new_rows (Run        *run,
                const char *cache_dir,
                guint       n_todo,
                GError    **error)
{
  guint64 need = n_todo * leaf_feature_cache_row_size (run->act_numel * sizeof (guint16));
  guint64 free_bytes = leaf_file_free_space (cache_dir);
  guint64 margin = MIN (free_bytes / 10, (guint64) 1 << 30);
  g_autofree char *need_text = g_format_size (need);
  g_autofree char *free_text = free_bytes == G_MAXUINT64 ? NULL : g_format_size (free_bytes);

  if (run->tables[0] != NULL && (free_text == NULL || need <= free_bytes - margin))
    {
      if (free_text != NULL && n_todo > 0)
        emit_message (run, _("The frozen stages of this run take %s in the feature cache (%s "
                             "free on its disk)"), need_text, free_text);
      return TRUE;
    }
  if (run->tables[0] != NULL)
    emit_message (run, _("The frozen stages of this run take %s on disk, but only %s is free "
                         "there (%s): this run keeps them in memory, and the next run computes "
                         "them again"), need_text, free_text, cache_dir);
  run->act_memory = g_try_malloc ((gsize) run->rows->len * run->act_numel * sizeof (guint16));
  if (run->act_memory == NULL)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FAILED,
                   _("Not enough memory to cache the activations of %u views"), run->rows->len);
      return FALSE;
    }
  return TRUE;
}

/* Every usable row's activations, wherever they lie. */
static gboolean
map_act_rows (Run     *run,
              GError **error)
{
  for (guint v = 0; v < G_N_ELEMENTS (run->tables); v++)
    if (run->tables[v] != NULL && !leaf_feature_table_map (run->tables[v], error))
      return FALSE;
  run->act = g_new0 (const guint16 *, run->rows->len);
  for (guint r = 0; r < run->rows->len; r++)
    {
      if (run->unusable[g_array_index (run->rows, Row, r).image])
        continue;
      if (run->act_memory != NULL)
        run->act[r] = run->act_memory + (gsize) r * run->act_numel;
      else
        run->act[r] = leaf_feature_table_row (row_table (run, r), run->slots[r]);
    }
  return TRUE;
}

static gboolean
extract_features (Run     *run,
                  GError **error)
{
  g_autoptr(LeafFeatureCache) cache = NULL;
  g_autofree char *cache_dir = NULL;
  g_autoptr(GArray) pending = g_array_new (FALSE, FALSE, sizeof (PendingImage));
  g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func (g_free);
  gsize n_values = 3 * (gsize) run->image_size * run->image_size;
  guint batch = run->recipe->batch_size;
  guint n_rows, n_hits = 0, n_todo = 0, n_done = 0;
  gint64 start = g_get_monotonic_time ();

  if (!probe_activation_shape (run, error))
    return FALSE;
  build_rows (run);
  n_rows = run->rows->len;
  run->slots = g_new0 (guint64, n_rows);
  run->found = g_new0 (gboolean, n_rows);

  cache_dir = run->setup->cache_dir != NULL ? g_strdup (run->setup->cache_dir)
                                            : leaf_feature_cache_default_dir ();
  cache = open_tables (run, cache_dir);

  /* Whatever an earlier run computed is found in the tables; the rest is grouped by photo so
   * each photo is decoded once for all its views. */
  for (guint r = 0; r < n_rows;)
    {
      const Row *row = &g_array_index (run->rows, Row, r);
      guint image = row->image;
      guint views = 1;
      const char *sha = leaf_catalog_image_get_sha256 (run->images->pdata[image]);
      gboolean all_hit = cache != NULL;

      while (r + views < n_rows && g_array_index (run->rows, Row, r + views).image == image)
        views++;
      for (guint v = 0; all_hit && v < views; v++)
        all_hit = leaf_feature_table_lookup (row_table (run, r + v), sha, &run->slots[r + v]);
      for (guint v = 0; all_hit && v < views; v++)
        run->found[r + v] = TRUE;
      /* Another rank's photo: its rows come in the exchange below. */
      if (!owns (run, image))
        ;
      else if (all_hit)
        n_hits += views;
      else
        {
          PendingImage p = { image, r, views };
          g_array_append_val (pending, p);
          n_todo += views;
        }
      r += views;
    }

  if (n_hits > 0)
    emit_message (run, _("Reused %u cached views of the frozen stages"), n_hits);
  /* Other ranks' rows are filed as this rank's own. */
  if (!place_new_rows (run, cache_dir, n_rows - n_hits, error))
    return FALSE;
  /* Rows found in the tables are copied to memory too when the rest must live there. */
  for (guint r = 0; run->act_memory != NULL && r < n_rows; r++)
    if (run->found[r] && !leaf_feature_table_read (row_table (run, r), run->slots[r],
                                              run->act_memory + (gsize) r * run->act_numel,
                                              error))
      return FALSE;

  {
    ExtractBuffer buffers[2];
    LeafDecodeBatch *in_flight;
    guint next = 0;
    int cur = 0;

    for (int i = 0; i < 2; i++)
      extract_buffer_init (&buffers[i], batch, n_values);

    /* Double buffering: while the model works on one batch, the pool decodes the next. */
    in_flight = extract_submit (run, pending, &next, &buffers[cur]);
    while (in_flight != NULL)
      {
        LeafDecodeBatch *following = extract_submit (run, pending, &next, &buffers[1 - cur]);
        gboolean ok = extract_finish (run, in_flight, &buffers[cur], errors, error);

        n_done += buffers[cur].n_slots;
        /* A distributed run stops at an epoch's end, where the ranks agree on it. */
        if (!ok || (run->dist == NULL && leaf_run_control_checkpoint (run->setup->control)))
          {
            if (following != NULL)
              leaf_decode_batch_wait (following, NULL, NULL);
            for (int i = 0; i < 2; i++)
              extract_buffer_clear (&buffers[i]);
            run->stopped = ok;
            return ok;
          }
        {
          double rate = n_done / MAX (seconds_since (start), 1e-6);
          emit_progress (run, LEAF_TRAIN_PHASE_EXTRACT, (double) n_done / MAX (n_todo, 1), rate,
                         (n_todo - n_done) / MAX (rate, 1e-6));
        }
        in_flight = following;
        cur = 1 - cur;
      }

    for (int i = 0; i < 2; i++)
      extract_buffer_clear (&buffers[i]);
  }

  if (n_todo > 0)
    emit_message (run, _("Computed %u views of the frozen stages at %.1f views/s"), n_todo,
                  n_todo / MAX (seconds_since (start), 1e-6));
  if (!share_unusable (run, error) ||
      !exchange_rows (run, run->act_numel * sizeof (guint16), get_act_row, put_act_row, error) ||
      !map_act_rows (run, error))
    return FALSE;
  g_clear_pointer (&run->found, g_free);
  run->extract_seconds = seconds_since (start);
  return TRUE;
}

/* The pooled features live in a scratch file beside the feature cache, mapped: like the cached
 * activations they take no resident memory beyond what is being read. Anonymous memory serves
 * when no file can be made. */
static gboolean
map_pooled (Run     *run,
            gsize    length,
            GError **error)
{
  g_autofree char *dir = run->setup->cache_dir != NULL ? g_strdup (run->setup->cache_dir)
                                                       : leaf_feature_cache_default_dir ();
  g_autofree char *template = g_build_filename (dir, "pooled-XXXXXX", NULL);
  int fd = g_mkdir_with_parents (dir, 0700) == 0 ? g_mkstemp (template) : -1;
  void *map = MAP_FAILED;

  if (fd >= 0)
    {
      /* Gone as soon as the run is, however it ends. */
      g_unlink (template);
      /* Blocks reserved now: a disk that fills later cannot fault a write through the map. */
      if (posix_fallocate (fd, 0, length) == 0)
        map = mmap (NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      close (fd);
    }
  run->pooled_on_disk = map != MAP_FAILED;
  if (map == MAP_FAILED)
    map = mmap (NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FAILED,
                   _("Not enough memory to pool the features of %u views"), run->rows->len);
      return FALSE;
    }
  run->pooled = map;
  run->pooled_length = length;
  return TRUE;
}

static gboolean
get_pooled_row (Run       *run,
                guint      r,
                gpointer   data,
                GError   **error)
{
  memcpy (data, run->pooled + (gsize) r * N_FEATURES, N_FEATURES * sizeof (float));
  return TRUE;
}

static gboolean
put_pooled_row (Run           *run,
                guint          r,
                gconstpointer  data,
                GError       **error)
{
  memcpy (run->pooled + (gsize) r * N_FEATURES, data, N_FEATURES * sizeof (float));
  return TRUE;
}

/* The head phase trains on pooled features: features[cut:] of every cached training row, once,
 * and of each validation photo's first view, the only one its epochs validate on. */
static gboolean
pool_features (Run     *run,
               GError **error)
{
  guint n_rows = run->rows->len;
  guint n_train_rows = run->train->len * run->n_views;
  guint batch = MAX (run->recipe->batch_size, 64);
  g_autofree guint *rows = g_new (guint, batch);

  if (!map_pooled (run, (gsize) MAX (n_rows, 1) * N_FEATURES * sizeof (float), error))
    return FALSE;

  g_autofree float *values = g_new (float, (gsize) batch * N_FEATURES);

  for (guint next = 0; next < n_rows;)
    {
      guint n = 0;
      LtTensor *act, *features = NULL, *pooled = NULL;
      char *msg = NULL;
      gboolean ok;

      for (; next < n_rows && n < batch; next++)
        {
          const Row *row = &g_array_index (run->rows, Row, next);
          if (owns (run, row->image) && !run->unusable[row->image] &&
              (next < n_train_rows || row->view == 0))
            rows[n++] = next;
        }
      if (n == 0)
        continue;
      act = cached_batch (run, rows, n, run->cut, error);
      if (act == NULL)
        return FALSE;
      ok = shim_ok (lt_model_forward_range (run->model, act, run->cut, LT_N_FEATURES, &features,
                                            &msg), &msg, error) &&
           shim_ok (lt_tensor_mean_spatial (features, &pooled, &msg), &msg, error) &&
           shim_ok (lt_tensor_copy_f32 (pooled, values, (gsize) n * N_FEATURES, &msg), &msg,
                    error);
      lt_tensor_free (act);
      lt_tensor_free (features);
      lt_tensor_free (pooled);
      if (!ok)
        return FALSE;
      for (guint i = 0; i < n; i++)
        put_pooled_row (run, rows[i], values + (gsize) i * N_FEATURES, NULL);
      note_mapped_read (run, n, N_FEATURES * sizeof (float));
    }
  return exchange_rows (run, N_FEATURES * sizeof (float), get_pooled_row, put_pooled_row, error);
}

/* Epochs ----------------------------------------------------------------------------------- */

static void
flush_step_metrics (Run *run)
{
  g_autoptr(GError) error = NULL;

  if (run->step_metrics->len == 0)
    return;
  if (!writes_catalog (run))
    {
      g_array_set_size (run->step_metrics, 0);
      return;
    }
  if (!leaf_catalog_add_metrics (run->catalog, run->run_id, LEAF_METRIC_STEP,
                                 (LeafMetric *) (gpointer) run->step_metrics->data,
                                 run->step_metrics->len, &error))
    g_warning ("Could not record step metrics: %s", error->message);
  g_array_set_size (run->step_metrics, 0);
}

static void
shuffle (GRand *rand,
         guint *items,
         guint  n)
{
  for (guint i = n; i > 1; i--)
    {
      guint j = g_rand_int_range (rand, 0, i);
      guint t = items[i - 1];
      items[i - 1] = items[j];
      items[j] = t;
    }
}

/* One pass over the training photos, each in one training view drawn at random. */
static gboolean
train_epoch (Run            *run,
             LeafTrainPhase  phase,
             int             cut,
             double         *loss_out,
             double         *accuracy_out,
             GError        **error)
{
  guint n_train = run->train->len;
  g_autofree guint *order = g_memdup2 (run->train->data, n_train * sizeof (guint));
  guint batch_size = run->recipe->batch_size;
  g_auto(Batch) batch = { 0 };
  double loss_sum = 0;
  gint64 correct = 0, seen = 0;

  batch_init (&batch, batch_size);
  shuffle (run->rand, order, n_train);
  for (guint start = 0; start < n_train; start += batch_size)
    {
      LtTensor *input;
      float loss = 0;
      int64_t n_correct = 0;
      char *msg = NULL;
      gboolean ok;

      if (run->dist == NULL && leaf_run_control_checkpoint (run->setup->control))
        {
          run->stopped = TRUE;
          break;
        }
      if (!batch_load (run, &batch, order + start, MIN (batch_size, n_train - start), TRUE, 0,
                       cut, &input, error))
        return FALSE;
      if (input == NULL)
        continue;

      if (run->dist != NULL)
        ok = shim_ok (lt_dist_train_step (run->dist, run->model, run->optim, input, cut,
                                          batch.labels, batch.positions, batch.n,
                                          batch.n_global, batch.share,
                                          run->recipe->label_smoothing, run->class_weights,
                                          &loss, &n_correct, &msg), &msg, error);
      else
        ok = shim_ok (lt_model_train_step (run->model, run->optim, input, cut, batch.labels,
                                           run->recipe->label_smoothing, run->class_weights,
                                           &loss, &n_correct, &msg), &msg, error);
      lt_tensor_free (input);
      if (!ok)
        return FALSE;
      /* A loss that is not finite never recovers: every later step trains on NaN, early
       * stopping keeps nothing, and the run would end as if stopped before its first epoch. */
      if (!isfinite (loss))
        {
          g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                       _("The loss became %s at epoch %u: the base weights or the learning "
                         "rate are unusable. Lower the learning rate, or train from other "
                         "weights."),
                       isnan (loss) ? "NaN" : "∞", run->global_epoch + 1);
          return FALSE;
        }

      if (!batch.stand_in)
        {
          loss_sum += (double) loss * batch.n;
          correct += n_correct;
          seen += batch.n;
        }
      run->step++;
      {
        LeafMetric metric = { (gint64) run->step, "loss", loss };
        LeafTrainEvent event = { .kind = LEAF_TRAIN_EVENT_STEP, .phase = phase,
                                 .step = run->step, .loss = loss,
                                 .global_epoch = run->global_epoch + 1 };
        g_array_append_val (run->step_metrics, metric);
        emit (run, &event);
      }
    }

  if (run->dist != NULL)
    {
      /* The ranks also agree here on whether the user stopped the run on any of them. */
      double totals[] = { loss_sum, correct, seen,
                          leaf_run_control_checkpoint (run->setup->control) };

      if (!dist_reduce (run, totals, G_N_ELEMENTS (totals), LT_DIST_SUM, error))
        return FALSE;
      loss_sum = totals[0];
      correct = (gint64) totals[1];
      seen = (gint64) totals[2];
      run->stopped = totals[3] > 0;
    }
  *loss_out = seen > 0 ? loss_sum / seen : NAN;
  *accuracy_out = seen > 0 ? (double) correct / seen : NAN;
  return TRUE;
}

/* Cross-entropy of one photo's logits against its label, as the shim's eval step computes it */
static double
cross_entropy (const float *logits,
               guint        n_classes,
               guint        label)
{
  double top = logits[0], sum = 0;

  for (guint c = 1; c < n_classes; c++)
    top = MAX (top, logits[c]);
  for (guint c = 0; c < n_classes; c++)
    sum += exp (logits[c] - top);
  return top + log (sum) - logits[label];
}

/* Validation in inference mode, each photo's logits averaged over its first n_views views (as
 * the model will diagnose); confusion (may be NULL) is n_classes x n_classes, rows true.
 * all_logits and all_labels (may be NULL) receive every validation photo's logits (float)
 * and class index (guint), for calibration. Each rank computes the logits of its own photos and
 * every rank measures them all, so that the ranks take the same decisions. */
static gboolean
validate (Run     *run,
          int      cut,
          guint    n_views,
          double  *loss_out,
          double  *accuracy_out,
          guint   *confusion,
          GArray  *all_logits,
          GArray  *all_labels,
          GError **error)
{
  guint n_val = run->val->len;
  guint batch_size = MAX (run->recipe->batch_size, 64);
  guint n_classes = g_strv_length (run->class_names);
  /* A photo's mean logits, then 1 once they are known (a photo may be unreadable). */
  gsize stride = n_classes + 1;
  g_auto(Batch) batch = { 0 };
  g_autofree guint *mine = g_new (guint, batch_size);
  g_autofree guint *index = g_new (guint, batch_size);
  g_autofree float *logits = g_new (float, (gsize) batch_size * n_classes);
  g_autofree float *mean = g_new (float, (gsize) batch_size * n_classes);
  g_autofree double *photos = g_new0 (double, MAX ((gsize) n_val * stride, 1));
  double loss_sum = 0;
  gint64 correct = 0, seen = 0;

  batch_init (&batch, batch_size);
  for (guint start = 0; start < n_val; start += batch_size)
    {
      guint n_mine = 0, n = 0;

      for (guint j = start; j < MIN (start + batch_size, n_val); j++)
        if (owns (run, g_array_index (run->val, guint, j)))
          {
            mine[n_mine] = g_array_index (run->val, guint, j);
            index[n_mine++] = j;
          }
      for (guint v = 0; v < n_views && n_mine > 0; v++)
        {
          LtTensor *input, *out = NULL;
          char *msg = NULL;
          gboolean ok;

          if (!batch_load (run, &batch, mine, n_mine, FALSE, v, cut, &input, error))
            return FALSE;
          if (input == NULL)
            break;
          ok = shim_ok (lt_model_forward_rest (run->model, input, cut, &out, &msg), &msg, error) &&
               shim_ok (lt_tensor_copy_f32 (out, logits, (gsize) batch.n * n_classes, &msg),
                        &msg, error);
          lt_tensor_free (input);
          lt_tensor_free (out);
          if (!ok)
            return FALSE;
          if (v == 0)
            {
              n = batch.n;
              memcpy (mean, logits, (gsize) n * n_classes * sizeof (float));
            }
          else if (batch.n != n)
            {
              /* Streamed, a photo read for one view may fail for the next. */
              g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                           _("A validation photo could not be read again"));
              return FALSE;
            }
          else
            for (gsize k = 0; k < (gsize) n * n_classes; k++)
              mean[k] += logits[k];
        }

      /* The batch keeps its photos in order and leaves out those that could not be read. */
      for (guint i = 0, k = 0; i < n; i++, k++)
        {
          double *photo;

          while (mine[k] != batch.images[i])
            k++;
          photo = photos + (gsize) index[k] * stride;
          for (guint c = 0; c < n_classes; c++)
            photo[c] = n_views > 1 ? mean[(gsize) i * n_classes + c] / n_views
                                   : mean[(gsize) i * n_classes + c];
          photo[n_classes] = 1;
        }
    }
  if (!dist_reduce (run, photos, (gsize) n_val * stride, LT_DIST_SUM, error))
    return FALSE;

  for (guint j = 0; j < n_val; j++)
    {
      const double *photo = photos + (gsize) j * stride;
      guint label = run->labels[g_array_index (run->val, guint, j)];
      guint best = 0;

      if (photo[n_classes] == 0)
        continue;
      for (guint c = 0; c < n_classes; c++)
        {
          mean[c] = (float) photo[c];
          if (mean[c] > mean[best])
            best = c;
        }
      seen++;
      correct += best == label;
      loss_sum += cross_entropy (mean, n_classes, label);
      if (confusion != NULL)
        confusion[label * n_classes + best]++;
      if (all_logits != NULL)
        g_array_append_vals (all_logits, mean, n_classes);
      if (all_labels != NULL)
        g_array_append_val (all_labels, label);
    }

  *loss_out = seen > 0 ? loss_sum / seen : NAN;
  *accuracy_out = seen > 0 ? (double) correct / seen : NAN;
  return TRUE;
}

/* The recipe as the run used it, with what it decided from the data: for the run's record, the
 * model file (and so its card) and the summary. */
static JsonNode *
recipe_record_json (Run *run)
{
  JsonNode *node = leaf_recipe_to_json (run->recipe);

  if (run->decisions->len > 0)
    json_object_set_string_member (json_node_get_object (node), "decisions",
                                   g_strstrip (run->decisions->str));
  return node;
}

static char *
recipe_record (Run *run)
{
  g_autoptr(JsonNode) node = recipe_record_json (run);

  return json_to_string (node, FALSE);
}

static gboolean
save_model (Run     *run,
            GError **error)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *created = g_date_time_format_iso8601 (now);
  g_autofree char *recipe = recipe_record (run);
  LeafModelMeta meta = {
    .classes = run->class_names,
    .n_classes = g_strv_length (run->class_names),
    .image_size = run->image_size,
    .resize_size = leaf_recipe_resize_size (run->recipe),
    .base_weights_sha256 = run->base_sha256,
    .recipe_json = recipe,
    .catalog_path = run->setup->catalog_path,
    .run_id = run->run_id,
    .created = created,
    .metrics_json = run->metrics_json,
    .temperature = run->temperature,
    .refer_below = run->refer_below,
    .ood = run->ood,
    .train_photos = run->train->len,
    .val_photos = run->val->len,
    .plain_background = run->plain_background,
    .diagnosis_views = run->recipe->diagnosis_views,
  };
  g_autofree char *json = leaf_model_meta_to_json (&meta);
  char *msg = NULL;

  if (!shim_ok (lt_model_save (run->model, run->model_path, json, &msg), &msg, error))
    return FALSE;
  run->model_saved = TRUE;
  return TRUE;
}

typedef struct
{
  LeafTrainPhase phase;
  int cut;
  guint max_epochs;
  gboolean early_stopping;
  const char *name;
} PhasePlan;

static gboolean
run_phase (Run              *run,
           const PhasePlan  *plan,
           GError          **error)
{
  const LeafRecipe *r = run->recipe;
  gboolean improved;
  guint since_best = 0;
  gint64 start = g_get_monotonic_time ();
  guint epoch;

  leaf_train_progress_begin_phase (&run->progress, plan->phase);
  for (epoch = 1; epoch <= plan->max_epochs && !run->stopped; epoch++)
    {
      double train_loss = NAN, train_acc = NAN, val_loss, val_acc;
      gint64 t0 = g_get_monotonic_time ();
      double lr = lt_optim_get_lr (run->optim, 0);

      if (r->schedule != LEAF_SCHEDULE_CONSTANT && plan->max_epochs > 1)
        {
          double base = plan->phase == LEAF_TRAIN_PHASE_HEAD ? r->head_lr : r->finetune_lr;
          double head_base = plan->phase == LEAF_TRAIN_PHASE_HEAD ? r->head_lr : r->finetune_head_lr;
          double factor = r->schedule == LEAF_SCHEDULE_COSINE
                            ? 0.5 * (1 + cos (G_PI * (epoch - 1) / plan->max_epochs))
                            : pow (0.1, (epoch - 1) / MAX (1u, plan->max_epochs / 3));
          for (gsize g = 0; g < lt_optim_n_groups (run->optim); g++)
            lt_optim_set_lr (run->optim, g,
                             (g + 1 == lt_optim_n_groups (run->optim) ? head_base : base) * factor,
                             NULL);
          lr = lt_optim_get_lr (run->optim, 0);
        }

      if (!train_epoch (run, plan->phase, plan->cut, &train_loss, &train_acc, error))
        return FALSE;
      if (run->stopped)
        break;
      if (!validate (run, plan->cut, 1, &val_loss, &val_acc, NULL, NULL, NULL, error))
        return FALSE;

      run->global_epoch++;
      {
        LeafMetric metrics[] = {
          { run->global_epoch, "train_loss", train_loss },
          { run->global_epoch, "train_accuracy", train_acc },
          { run->global_epoch, "val_loss", val_loss },
          { run->global_epoch, "val_accuracy", val_acc },
          { run->global_epoch, "learning_rate", lr },
          { run->global_epoch, "phase", plan->phase == LEAF_TRAIN_PHASE_HEAD ? 1 : 2 },
          { run->global_epoch, "seconds", seconds_since (t0) },
        };
        g_autoptr(GError) db_error = NULL;
        LeafTrainEvent event = {
          .kind = LEAF_TRAIN_EVENT_EPOCH, .phase = plan->phase, .epoch = epoch,
          .global_epoch = run->global_epoch, .step = run->step, .train_loss = train_loss,
          .train_accuracy = train_acc, .val_loss = val_loss, .val_accuracy = val_acc,
          .learning_rate = lr, .epoch_seconds = seconds_since (t0),
        };
        double per_epoch = seconds_since (start) / epoch;

        improved = val_loss < run->best_val_loss;
        flush_step_metrics (run);
        if (writes_catalog (run) &&
            !leaf_catalog_add_metrics (run->catalog, run->run_id, LEAF_METRIC_EPOCH, metrics,
                                       G_N_ELEMENTS (metrics), &db_error))
          g_warning ("Could not record epoch metrics: %s", db_error->message);
        emit (run, &event);
        leaf_train_progress_add_epoch (&run->progress, event.epoch_seconds, improved);
        emit_epoch_progress (run, plan->phase, run->train->len / MAX (per_epoch, 1e-6));
      }

      /* Without early stopping the recipe keeps its last epoch, as the article does. With it,
       * the best epoch of the whole run by validation loss is kept, and written at once, so
       * that a stop or a crash still leaves the best model so far; if fine-tuning never beats
       * the head alone, the head alone is what is kept. */
      if (improved)
        since_best = 0;
      if (!plan->early_stopping || improved)
        {
          run->best_val_loss = MIN (run->best_val_loss, val_loss);
          run->kept_val_accuracy = val_acc;
          run->kept_epoch = run->global_epoch;
          if (!save_model (run, error))
            return FALSE;
        }
      else if (++since_best >= r->patience)
        {
          g_string_append_printf (run->stop_reasons,
                                  _("%s stopped after epoch %u: validation loss did not improve "
                                    "on %.4f for %u epochs. "),
                                  plan->name, epoch, run->best_val_loss, r->patience);
          break;
        }
    }

  if (run->stopped)
    g_string_append_printf (run->stop_reasons, _("%s stopped by the user at epoch %u. "),
                            plan->name, epoch);
  else if (epoch > plan->max_epochs)
    g_string_append_printf (run->stop_reasons, _("%s ran its %u epochs. "), plan->name,
                            plan->max_epochs);

  /* The next phase starts from the kept weights, not the last epoch's. */
  if (plan->early_stopping && run->model_saved)
    {
      char *msg = NULL;
      if (!shim_ok (lt_model_load (run->model, run->model_path, LT_LOAD_STRICT, NULL, &msg),
                    &msg, error))
        return FALSE;
    }

  if (plan->phase == LEAF_TRAIN_PHASE_HEAD)
    run->head_seconds = seconds_since (start);
  else
    run->finetune_seconds = seconds_since (start);
  return TRUE;
}

static gboolean
make_optimizer (Run     *run,
                int      first_stage,
                double   stage_lr,
                double   head_lr,
                GError **error)
{
  const LeafRecipe *r = run->recipe;
  LtOptimKind kind = r->optimizer == LEAF_OPTIMIZER_SGD ? LT_OPTIM_SGD
                     : r->optimizer == LEAF_OPTIMIZER_ADAMW ? LT_OPTIM_ADAMW : LT_OPTIM_ADAM;
  char *msg = NULL;

  g_clear_pointer (&run->optim, lt_optim_free);
  if (!shim_ok (lt_optim_new (run->model, kind, r->weight_decay, 0.9, &run->optim, &msg), &msg,
                error))
    return FALSE;
  if (first_stage < LT_STAGE_CLASSIFIER &&
      !shim_ok (lt_optim_add_group (run->optim, first_stage, LT_STAGE_CLASSIFIER - 1, stage_lr,
                                    NULL, &msg), &msg, error))
    return FALSE;
  /* Ranks built the same model from the same seed; rank 0's copy makes sure of it. */
  if (run->dist != NULL &&
      !shim_ok (lt_dist_broadcast_trainable (run->dist, run->model, &msg), &msg, error))
    return FALSE;
  return shim_ok (lt_optim_add_group (run->optim, LT_STAGE_CLASSIFIER, LT_STAGE_CLASSIFIER,
                                      head_lr, NULL, &msg), &msg, error);
}

static char *
models_dir_for (Run *run)
{
  if (run->setup->models_dir != NULL)
    return g_strdup (run->setup->models_dir);
  return leaf_catalog_get_models_dir (run->catalog);
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* Two runs that agree on this measured their validation accuracy on the same photos with the
 * same labels, so their accuracies compare as they are. */
static char *
compute_val_set_sha256 (Run *run)
{
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);

  for (guint i = 0; i < run->val->len; i++)
    {
      guint image = g_array_index (run->val, guint, i);
      LeafCatalogImage *photo = run->images->pdata[image];

      g_ptr_array_add (lines, g_strdup_printf ("%s %s\n", leaf_catalog_image_get_sha256 (photo),
                                               run->class_names[run->labels[image]]));
    }
  g_ptr_array_sort (lines, compare_strings);
  for (guint i = 0; i < lines->len; i++)
    g_checksum_update (checksum, lines->pdata[i], -1);
  return g_strdup (g_checksum_get_string (checksum));
}

static char *
build_summary (Run                   *run,
               JsonNode              *metrics_node,
               const LeafCalibration *calibration,
               double                 val_loss,
               double                 val_accuracy)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(JsonNode) recipe = recipe_record_json (run);
  g_autoptr(JsonNode) metrics = json_node_copy (metrics_node);
  g_autoptr(JsonNode) calibration_node = leaf_calibration_to_json (calibration);

  json_builder_begin_object (b);
  leaf_json_add_string (b, "event", "summary");
  leaf_json_add_int (b, "run_id", run->run_id);
  leaf_json_add_string (b, "status", run->stopped ? "stopped" : "completed");
  leaf_json_add_double (b, "val_accuracy", val_accuracy);
  leaf_json_add_double (b, "val_loss", val_loss);
  leaf_json_add_int (b, "kept_epoch", run->kept_epoch);
  leaf_json_add_double (b, "extract_seconds", run->extract_seconds);
  leaf_json_add_double (b, "head_seconds", run->head_seconds);
  leaf_json_add_double (b, "finetune_seconds", run->finetune_seconds);
  leaf_json_add_double (b, "total_seconds", seconds_since (run->started_us));
  leaf_json_add_int (b, "train_images", run->train->len);
  leaf_json_add_int (b, "val_images", run->val->len);
  leaf_json_add_string (b, "val_set_sha256", run->val_set_sha256);
  leaf_json_add_string (b, "model", run->model_saved && writes_catalog (run) ? run->model_path
                                                                             : NULL);
  if (run->dist != NULL)
    {
      leaf_json_add_int (b, "rank", run->rank);
      leaf_json_add_int (b, "world_size", run->world);
    }
  leaf_json_add_string (b, "base_weights_sha256", run->base_sha256);
  leaf_json_add_string (b, "base_weights_note", run->base_note);
  leaf_json_add_string (b, "stop_reasons", g_strstrip (run->stop_reasons->str));
  leaf_json_add_node (b, "metrics", g_steal_pointer (&metrics));
  leaf_json_add_node (b, "calibration", g_steal_pointer (&calibration_node));
  leaf_json_add_node (b, "recipe", g_steal_pointer (&recipe));
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

/* Photos unlike the training photos -------------------------------------------------------- */

/* The kept model's pooled features of images[] (each photo as it is, no flip), as a diagnosis
 * computes them, and their class indices; photos that cannot be read are left out. From the
 * cached activations at the cut when there are some: the stages after it may have been
 * fine-tuned since the head phase pooled them. */
static gboolean
pool_kept_features (Run     *run,
                    GArray  *images,
                    GArray  *features,
                    GArray  *labels,
                    GError **error)
{
  guint batch_size = MAX (run->recipe->batch_size, 64);
  int cut = (int) run->cut;
  g_auto(Batch) batch = { 0 };

  batch_init (&batch, batch_size);
  for (guint start = 0; start < images->len; start += batch_size)
    {
      LtTensor *input, *act = NULL, *pooled = NULL;
      char *msg = NULL;
      gboolean ok;

      if (!batch_load (run, &batch, &g_array_index (images, guint, start),
                       MIN (batch_size, images->len - start), FALSE, 0, cut, &input, error))
        return FALSE;
      if (input == NULL)
        continue;
      g_array_set_size (features, features->len + (gsize) batch.n * N_FEATURES);
      /* At the pooled cut the batch is pooled already. */
      ok = (cut == POOLED_CUT ||
            (shim_ok (lt_model_forward_range (run->model, input, cut, LT_N_FEATURES, &act, &msg),
                      &msg, error) &&
             shim_ok (lt_tensor_mean_spatial (act, &pooled, &msg), &msg, error))) &&
           shim_ok (lt_tensor_copy_f32 (pooled != NULL ? pooled : input,
                                        &g_array_index (features, float, features->len -
                                                        (gsize) batch.n * N_FEATURES),
                                        (gsize) batch.n * N_FEATURES, &msg), &msg, error);
      lt_tensor_free (input);
      lt_tensor_free (act);
      lt_tensor_free (pooled);
      if (!ok)
        return FALSE;
      for (guint i = 0; i < batch.n; i++)
        {
          guint label = batch.labels[i];
          g_array_append_val (labels, label);
        }
    }
  return TRUE;
}

/* How many photos of the plain-background heuristic's sample; spread over the training set. */
#define PLAIN_BACKGROUND_SAMPLE 100

static double
share_plain_background (Run *run)
{
  guint step = MAX (run->train->len / PLAIN_BACKGROUND_SAMPLE, 1), plain = 0, seen = 0;

  for (guint i = 0; i < run->train->len; i += step)
    {
      LeafCatalogImage *image = run->images->pdata[g_array_index (run->train, guint, i)];
      g_autoptr(GdkPixbuf) pixbuf = leaf_image_load (leaf_catalog_image_get_path (image),
                                                     LEAF_IMAGE_DEFAULT_MAX_PIXELS, NULL);

      if (pixbuf == NULL)
        continue;
      plain += leaf_ood_plain_background (pixbuf);
      seen++;
    }
  return seen > 0 ? (double) plain / seen : NAN;
}

/* Photos the check is fitted on, at most: class means and 32 leading directions of 1280
 * features are well estimated from that many, and the features held while fitting (5 KiB a
 * photo) stay bounded however large the catalog. */
#define OOD_MAX_PHOTOS 4096

/* At most OOD_MAX_PHOTOS of images[], evenly spread over them. */
static GArray *
ood_sample (GArray *images)
{
  guint n = MIN (images->len, OOD_MAX_PHOTOS);
  GArray *sample = g_array_sized_new (FALSE, FALSE, sizeof (guint), n);

  for (guint i = 0; i < n; i++)
    g_array_append_val (sample, g_array_index (images, guint, (guint64) i * images->len / n));
  return sample;
}

/* Fits the kept model's check for photos unlike the training photos on the training photos, and
 * its threshold on the validation photos, so that about 5 % of them are flagged. Too few photos
 * leave the model without the check, which is said, not an error. */
static gboolean
fit_ood (Run     *run,
         GError **error)
{
  g_autoptr(GArray) train_features = g_array_new (FALSE, FALSE, sizeof (float));
  g_autoptr(GArray) train_labels = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(GArray) val_features = g_array_new (FALSE, FALSE, sizeof (float));
  g_autoptr(GArray) val_labels = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(GArray) train_sample = ood_sample (run->train);
  g_autoptr(GArray) val_sample = ood_sample (run->val);
  g_autoptr(GError) fit_error = NULL;
  GArray *threshold_features;

  run->plain_background = share_plain_background (run);
  if (!pool_kept_features (run, train_sample, train_features, train_labels, error) ||
      !pool_kept_features (run, val_sample, val_features, val_labels, error))
    return FALSE;
  run->ood = leaf_ood_fit ((const float *) (gpointer) train_features->data,
                           (const guint *) (gpointer) train_labels->data, train_labels->len,
                           N_FEATURES, g_strv_length (run->class_names), &fit_error);
  if (run->ood == NULL)
    {
      emit_message (run, "%s", fit_error->message);
      return TRUE;
    }
  /* Without validation photos the training photos stand in, which flags fewer photos later. */
  threshold_features = val_labels->len > 0 ? val_features : train_features;
  leaf_ood_choose_threshold (run->ood, (const float *) (gpointer) threshold_features->data,
                             threshold_features->len / N_FEATURES, LEAF_OOD_FLAGGED_SHARE);
  emit_message (run, _("Photos unlike the training photos will be referred to an expert: those "
                       "scoring above %.2f, as %.0f%% of the validation photos do"),
                leaf_ood_get_threshold (run->ood), 100 * LEAF_OOD_FLAGGED_SHARE);
  return TRUE;
}

static char *
train (Run     *run,
       GError **error)
{
  const LeafRecipe *r = run->recipe;
  g_autoptr(LeafImageTransform) transform = NULL;
  g_autofree char *models_dir = NULL;
  g_autofree char *config = NULL;
  g_autofree char *decided = NULL;
  g_autofree char *model_name = NULL;
  g_autofree guint *confusion = NULL;
  g_autoptr(GArray) val_logits = g_array_new (FALSE, FALSE, sizeof (float));
  g_autoptr(GArray) val_labels = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(JsonNode) metrics = NULL;
  LeafCalibration calibration;
  guint n_classes;
  double val_loss, val_acc;
  gboolean finetune;
  char *msg = NULL;

  /* Every event carries the run's id, so the row comes first: a process killed right after
   * its first event still leaves its run in the catalog. What cannot start at all (too few
   * photos, no weights) leaves no row and ends with run id 0. */
  if (!leaf_engine_init_torch (0, error) || !join_group (run, error))
    return NULL;
  run->catalog = leaf_catalog_open (run->setup->catalog_path, LEAF_CATALOG_OPEN_DEFAULT, error);
  /* Rank 0 gives new photos their splits before the other ranks read them. */
  if (run->catalog == NULL || (run->rank > 0 && !dist_barrier (run, error)) ||
      !load_images (run, error) || (run->rank == 0 && !dist_barrier (run, error)) ||
      !resolve_base (run, error))
    return NULL;
  if (run->dist != NULL && (!r->cache_features || r->from_scratch || r->random_resized_crop ||
                            r->color_jitter))
    {
      g_set_error_literal (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                           _("A distributed run trains from cached frozen stages: it cannot "
                             "train from scratch, without the feature cache, or with random "
                             "crops or colour jitter"));
      return NULL;
    }
  assign_owners (run);
  decided = leaf_recipe_decide (&run->setup->recipe, run->train->len);
  if (decided != NULL)
    g_string_append_printf (run->decisions, "%s ", decided);
  compute_class_weights (run);
  run->val_set_sha256 = compute_val_set_sha256 (run);
  config = recipe_record (run);
  if (!check_same_run (run, config, error))
    return NULL;
  if (writes_catalog (run))
    {
      run->run_id = leaf_catalog_begin_run (run->catalog, config, run->base_sha256, error);
      if (run->run_id <= 0)
        return NULL;
    }
  if (run->dist != NULL)
    {
      /* The other ranks' events carry rank 0's run id. */
      double id = run->run_id;

      if (!dist_reduce (run, &id, 1, LT_DIST_MAX, error))
        return NULL;
      run->run_id = (gint64) id;
      emit_message (run, _("Rank %d of %d: training on its share of %u photos, with %s as rank 0"),
                    run->rank, run->world, run->train->len + run->val->len,
                    run->setup->dist.master_addr);
    }

  emit_phase (run, LEAF_TRAIN_PHASE_PREPARE, NULL);
  if (run->decisions->len > 0)
    emit_message (run, "%s", g_strstrip (run->decisions->str));
  n_classes = g_strv_length (run->class_names);
  if (!prepare_model (run, error))
    return NULL;

  /* Only rank 0's model goes to the catalog; the others keep theirs to reload between phases. */
  if (!writes_catalog (run))
    {
      run->private_dir = g_dir_make_tmp ("leafscope-rank-XXXXXX", error);
      if (run->private_dir == NULL)
        return NULL;
    }
  models_dir = run->private_dir != NULL ? g_strdup (run->private_dir) : models_dir_for (run);
  if (g_mkdir_with_parents (models_dir, 0755) != 0)
    {
      int saved = errno;
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                   _("Cannot create the models folder %s: %s"), models_dir, g_strerror (saved));
      return NULL;
    }
  model_name = g_strdup_printf ("run-%" G_GINT64_FORMAT ".safetensors", run->run_id);
  run->model_path = g_build_filename (models_dir, model_name, NULL);

  run->image_size = r->image_size;
  run->n_views = r->views;
  run->val_views = r->diagnosis_views;
  run->rand = g_rand_new_with_seed ((guint32) r->seed);
  transform = leaf_image_transform_new (leaf_recipe_resize_size (r), r->image_size);
  run->decoder = leaf_decode_pool_new (transform, 0, LEAF_IMAGE_DEFAULT_MAX_PIXELS);
  lt_manual_seed (r->seed);

  finetune = r->finetune_epochs > 0;
  run->cut = r->from_scratch ? 0 : leaf_recipe_cut (r);
  run->cached = r->cache_features && !r->from_scratch && !r->random_resized_crop && !r->color_jitter;
  if (r->cache_features && !run->cached && !r->from_scratch)
    emit_message (run, _("Random crops and colour jitter change every epoch: the frozen stages "
                         "are computed anew for every batch"));

  if (run->cached)
    {
      emit_phase (run, LEAF_TRAIN_PHASE_EXTRACT, NULL);
      if (!extract_features (run, error))
        return NULL;
      if (!run->stopped && r->head_epochs > 0 && !pool_features (run, error))
        return NULL;
    }
  else
    {
      /* Streaming still needs the row layout for view draws. */
      build_rows (run);
    }

  if (!run->stopped && r->head_epochs > 0 && !r->from_scratch)
    {
      PhasePlan plan = { LEAF_TRAIN_PHASE_HEAD, POOLED_CUT,
                         leaf_train_progress_max_epochs (&run->progress, LEAF_TRAIN_PHASE_HEAD),
                         r->head_early_stopping, _("The head phase") };

      emit_phase (run, LEAF_TRAIN_PHASE_HEAD, NULL);
      if (!shim_ok (lt_model_set_trainable (run->model, 0, LT_N_FEATURES - 1, FALSE, &msg), &msg,
                    error) ||
          !make_optimizer (run, LT_STAGE_CLASSIFIER, r->head_lr, r->head_lr, error) ||
          !run_phase (run, &plan, error))
        return NULL;
    }

  if (!run->stopped && (finetune || r->from_scratch))
    {
      PhasePlan plan = { LEAF_TRAIN_PHASE_FINETUNE, (int) run->cut,
                         leaf_train_progress_max_epochs (&run->progress,
                                                         LEAF_TRAIN_PHASE_FINETUNE),
                         r->finetune_early_stopping, _("Fine-tuning") };
      double stage_lr = r->from_scratch ? r->head_lr : r->finetune_lr;
      double head_lr = r->from_scratch ? r->head_lr : r->finetune_head_lr;

      emit_phase (run, LEAF_TRAIN_PHASE_FINETUNE, run->stop_reasons->str);
      if (!shim_ok (lt_model_set_trainable (run->model, run->cut, LT_STAGE_CLASSIFIER, TRUE, &msg),
                    &msg, error) ||
          !make_optimizer (run, run->cut, stage_lr, head_lr, error) ||
          !run_phase (run, &plan, error))
        return NULL;
    }

  if (!run->model_saved)
    {
      g_set_error_literal (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_CANCELLED,
                           _("Training stopped before the first epoch ended: no model was kept"));
      return NULL;
    }

  /* Final metrics are those of the kept model, which is what the file holds. */
  emit_phase (run, LEAF_TRAIN_PHASE_EVALUATE, NULL);
  if (!shim_ok (lt_model_load (run->model, run->model_path, LT_LOAD_STRICT, NULL, &msg), &msg,
                error))
    return NULL;
  confusion = g_new0 (guint, n_classes * n_classes);
  if (!validate (run, (int) run->cut, run->val_views, &val_loss, &val_acc, confusion, val_logits,
                 val_labels, error))
    return NULL;

  /* Calibrate the kept model on its validation logits and write the temperature, the referral
   * threshold and the final metrics into its file (lt_model_save replaces it atomically). */
  leaf_calibration_fit ((const float *) val_logits->data, (const guint *) val_labels->data,
                        val_labels->len, n_classes, &calibration);
  run->temperature = calibration.temperature;
  run->refer_below = calibration.refer_below;
  metrics = leaf_metrics_build (confusion, (const char * const *) run->class_names, n_classes);
  run->metrics_json = json_to_string (metrics, FALSE);
  if (calibration.scaling_kept)
    emit_message (run, _("Calibration: temperature %.3f, expected calibration error %.1f%% → "
                         "%.1f%%"), calibration.temperature, 100 * calibration.ece_before,
                  100 * calibration.ece_after);
  else
    emit_message (run, _("Calibration: temperature scaling (%.3f) would raise the expected "
                         "calibration error from %.1f%% to %.1f%%, so the uncalibrated "
                         "probabilities are kept"), calibration.fitted_temperature,
                  100 * calibration.ece_before, 100 * calibration.ece_fitted);
  if (calibration.refer_below > 0)
    emit_message (run, _("Diagnoses below %.0f%% confidence will be referred to an expert: on "
                         "validation, %.0f%% of photos keep their diagnosis, with %.1f%% errors"),
                  100 * calibration.refer_below, 100 * calibration.coverage,
                  100 * calibration.covered_error);
  if (!writes_catalog (run))
    return build_summary (run, metrics, &calibration, val_loss, val_acc);
  if (!fit_ood (run, error) || !save_model (run, error))
    return NULL;

  {
    g_autofree char *summary = build_summary (run, metrics, &calibration, val_loss, val_acc);
    g_autofree char *sha = leaf_file_sha256 (run->model_path, NULL, error);
    gint64 model_id;

    if (sha == NULL)
      return NULL;
    model_id = leaf_catalog_add_model (run->catalog, run->run_id, run->model_path, sha,
                                       (const char * const *) run->class_names, summary, error);
    if (model_id <= 0)
      return NULL;
    run->model_id = model_id;
    return g_steal_pointer (&summary);
  }
}

/* Choosing the model diagnoses use --------------------------------------------------------- */

#define COMPARE_BATCH 16

/* Adds to *correct how many photos of the batch the model names as labelled. */
static gboolean
count_correct (Run            *run,
               LeafPredictor  *predictor,
               GPtrArray      *pixbufs,
               GArray         *labels,
               guint          *correct,
               GError        **error)
{
  guint n_classes = leaf_predictor_get_n_classes (predictor);
  const char * const *classes = leaf_predictor_get_classes (predictor);
  g_autofree float *probabilities = g_new (float, (gsize) MAX (pixbufs->len, 1) * n_classes);

  if (!leaf_predictor_predict_batch (predictor, (GdkPixbuf **) pixbufs->pdata, pixbufs->len,
                                     probabilities, NULL, error))
    return FALSE;
  for (guint i = 0; i < pixbufs->len; i++)
    {
      guint top;

      leaf_predictor_top_k (probabilities + (gsize) i * n_classes, n_classes, &top, 1);
      /* By name: the two models may know other classes, or the same in another order. */
      if (g_str_equal (classes[top], run->class_names[g_array_index (labels, guint, i)]))
        (*correct)++;
    }
  return TRUE;
}

/* The accuracy of the active model on the run's validation photos. The run's own model was just
 * measured on the same photos, the same way (its views averaged as it diagnoses). */
static gboolean
compare_on_val (Run                 *run,
                const LeafModelInfo *active,
                double              *active_accuracy,
                GError             **error)
{
  g_autoptr(LeafPredictor) theirs = NULL;
  g_autoptr(GPtrArray) pixbufs = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GArray) labels = g_array_new (FALSE, FALSE, sizeof (guint));
  guint active_correct = 0, seen = 0;

  if ((theirs = leaf_predictor_new_from_model (active->path, error)) == NULL)
    return FALSE;
  for (guint i = 0; i <= run->val->len; i++)
    {
      if (i < run->val->len)
        {
          guint image = g_array_index (run->val, guint, i);
          GdkPixbuf *pixbuf;

          if (run->unusable[image] ||
              (pixbuf = leaf_image_load (leaf_catalog_image_get_path (run->images->pdata[image]),
                                         LEAF_IMAGE_DEFAULT_MAX_PIXELS, NULL)) == NULL)
            continue;
          g_ptr_array_add (pixbufs, pixbuf);
          g_array_append_val (labels, run->labels[image]);
          if (pixbufs->len < COMPARE_BATCH)
            continue;
        }
      if (!count_correct (run, theirs, pixbufs, labels, &active_correct, error))
        return FALSE;
      seen += pixbufs->len;
      g_ptr_array_set_size (pixbufs, 0);
      g_array_set_size (labels, 0);
    }
  if (seen == 0)
    {
      g_set_error_literal (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                           _("None of the validation photos could be read."));
      return FALSE;
    }
  *active_accuracy = (double) active_correct / seen;
  return TRUE;
}

/* The validation set a model's run recorded in its summary, or NULL. */
static char *
val_set_of (const LeafModelInfo *model)
{
  g_autoptr(JsonNode) root = model->metrics_json != NULL ? json_from_string (model->metrics_json,
                                                                              NULL)
                                                         : NULL;

  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  return g_strdup (json_object_get_string_member_with_default (json_node_get_object (root),
                                                               "val_set_sha256", NULL));
}

/* Makes the run's model active only when the run completed and the model is at least as
 * accurate as the active one on the same validation photos: a stopped or a worse run must
 * never change what Diagnose uses without the user's say. Returns the note that says why, which
 * the model's record keeps. */
static char *
settle_model (Run      *run,
              gboolean  completed,
              gboolean *activated)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafModelInfo) model = NULL;
  g_autoptr(LeafModelInfo) active = NULL;
  g_autofree char *title = NULL;
  g_autofree char *active_title = NULL;
  g_autofree char *active_val_set = NULL;
  g_autofree char *note = NULL;
  double accuracy, active_accuracy;
  gboolean activate = FALSE;

  *activated = FALSE;
  model = leaf_catalog_get_model (run->catalog, run->model_id, &error);
  if (model == NULL)
    {
      g_warning ("Could not read back model %" G_GINT64_FORMAT ": %s", run->model_id,
                 error->message);
      return NULL;
    }
  title = leaf_model_info_get_title (model);
  accuracy = model->val_accuracy;
  active = leaf_catalog_get_active_model (run->catalog, &error);
  if (active == NULL && !g_error_matches (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NO_MODEL))
    return g_strdup_printf (_("Kept %s, but could not tell which model Diagnose uses: %s"),
                            title, error->message);
  g_clear_error (&error);
  if (active != NULL)
    {
      active_title = leaf_model_info_get_title (active);
      active_val_set = val_set_of (active);
    }

  if (!completed && active != NULL)
    note = g_strdup_printf (_("Kept %s (%.0f %% on the validation photos), but its run was "
                              "stopped before the end, so Diagnose still uses %s."),
                            title, 100 * accuracy, active_title);
  else if (!completed)
    note = g_strdup_printf (_("Kept %s (%.0f %% on the validation photos), but its run was "
                              "stopped before the end, so Diagnose does not use it until it is "
                              "made active."), title, 100 * accuracy);
  else if (active == NULL)
    {
      activate = TRUE;
      note = g_strdup_printf (_("Diagnose now uses %s (%.0f %% on the validation photos)."),
                              title, 100 * accuracy);
    }
  else
    {
      if (g_strcmp0 (active_val_set, run->val_set_sha256) == 0 && !isnan (active->val_accuracy))
        active_accuracy = active->val_accuracy;
      else
        {
          emit_message (run, _("Comparing with %s, which Diagnose uses, on this run's "
                               "validation photos"), active_title);
          if (!compare_on_val (run, active, &active_accuracy, &error))
            return g_strdup_printf (_("Kept %s, but Diagnose still uses %s: the two could not "
                                      "be compared on the validation photos (%s)."),
                                    title, active_title, error->message);
        }
      activate = accuracy >= active_accuracy;
      if (activate)
        note = g_strdup_printf (_("Diagnose now uses %s (%.0f %% on the validation photos) in "
                                  "place of %s (%.0f %% on the same photos)."),
                                title, 100 * accuracy, active_title, 100 * active_accuracy);
      else
        note = g_strdup_printf (_("Kept %s (%.0f %% on the validation photos), but Diagnose "
                                  "still uses %s (%.0f %% on the same photos)."),
                                title, 100 * accuracy, active_title, 100 * active_accuracy);
    }

  if (!leaf_catalog_settle_model (run->catalog, run->model_id, activate,
                                  active != NULL ? active->id : 0, note, activated, &error))
    {
      g_warning ("Could not record the decision about model %" G_GINT64_FORMAT ": %s",
                 run->model_id, error->message);
      return g_steal_pointer (&note);
    }
  if (activate && !*activated)
    {
      /* The user chose a model while this run compared: that choice stands. */
      g_free (note);
      note = g_strdup_printf (_("Kept %s (%.0f %% on the validation photos); Diagnose uses the "
                                "model chosen while the run was finishing."),
                              title, 100 * accuracy);
      if (!leaf_catalog_settle_model (run->catalog, run->model_id, FALSE, 0, note, NULL, &error))
        g_warning ("Could not record the decision about model %" G_GINT64_FORMAT ": %s",
                   run->model_id, error->message);
    }
  return g_steal_pointer (&note);
}

/* The summary with the decision about the model, which `train --json` prints. */
static char *
add_decision (const char *summary,
              gboolean    activated,
              const char *note)
{
  g_autoptr(JsonNode) root = json_from_string (summary, NULL);
  JsonObject *object;

  g_assert (root != NULL && JSON_NODE_HOLDS_OBJECT (root));
  object = json_node_get_object (root);
  json_object_set_boolean_member (object, "activated", activated);
  if (note != NULL)
    json_object_set_string_member (object, "activation_note", note);
  else
    json_object_set_null_member (object, "activation_note");
  return json_to_string (root, FALSE);
}

static void
run_clear (Run *run)
{
  g_clear_pointer (&run->dist, lt_dist_free);
  if (run->private_dir != NULL)
    {
      if (run->model_path != NULL)
        g_unlink (run->model_path);
      g_rmdir (run->private_dir);
      g_clear_pointer (&run->private_dir, g_free);
    }
  g_clear_pointer (&run->owner, g_free);
  g_clear_pointer (&run->optim, lt_optim_free);
  g_clear_pointer (&run->model, lt_model_free);
  g_clear_pointer (&run->decoder, leaf_decode_pool_free);
  g_clear_pointer (&run->rand, g_rand_free);
  g_clear_pointer (&run->act, g_free);
  g_clear_pointer (&run->act_memory, g_free);
  g_clear_pointer (&run->slots, g_free);
  g_clear_pointer (&run->found, g_free);
  for (guint v = 0; v < G_N_ELEMENTS (run->tables); v++)
    g_clear_pointer (&run->tables[v], leaf_feature_table_free);
  if (run->pooled != NULL)
    munmap (run->pooled, run->pooled_length);
  run->pooled = NULL;
  g_clear_pointer (&run->rows, g_array_unref);
  g_clear_pointer (&run->first_row, g_free);
  g_clear_pointer (&run->train, g_array_unref);
  g_clear_pointer (&run->val, g_array_unref);
  g_clear_pointer (&run->labels, g_free);
  g_clear_pointer (&run->unusable, g_free);
  g_clear_pointer (&run->images, g_ptr_array_unref);
  g_clear_pointer (&run->classes, g_ptr_array_unref);
  g_clear_pointer (&run->class_names, g_strfreev);
  g_clear_pointer (&run->class_weights, g_free);
  g_clear_pointer (&run->base_path, g_free);
  g_clear_pointer (&run->base_sha256, g_free);
  g_clear_pointer (&run->base_note, g_free);
  g_clear_pointer (&run->model_path, g_free);
  g_clear_pointer (&run->metrics_json, g_free);
  g_clear_pointer (&run->ood, leaf_ood_free);
  g_clear_pointer (&run->val_set_sha256, g_free);
  g_clear_pointer (&run->step_metrics, g_array_unref);
  if (run->stop_reasons != NULL)
    g_string_free (g_steal_pointer (&run->stop_reasons), TRUE);
  if (run->decisions != NULL)
    g_string_free (g_steal_pointer (&run->decisions), TRUE);
  g_clear_object (&run->catalog);
}

void
leaf_run_execute (LeafRunSetup *setup)
{
  Run run = { 0 };
  g_autoptr(GError) error = NULL;
  g_autofree char *summary = NULL;
  LeafTrainEvent finished = { .kind = LEAF_TRAIN_EVENT_FINISHED };
  gboolean ended = FALSE;

  run.setup = setup;
  run.recipe = &setup->recipe;
  run.step_metrics = g_array_new (FALSE, FALSE, sizeof (LeafMetric));
  run.stop_reasons = g_string_new (NULL);
  run.decisions = g_string_new (NULL);
  run.best_val_loss = INFINITY;
  run.temperature = 1.0;
  run.started_us = g_get_monotonic_time ();
  leaf_train_progress_init (&run.progress, run.recipe);

  summary = train (&run, &error);

  if (run.run_id > 0 && run.catalog != NULL && writes_catalog (&run))
    {
      g_autoptr(GError) end_error = NULL;
      flush_step_metrics (&run);
      ended = leaf_catalog_end_run (run.catalog, run.run_id,
                                    summary == NULL ? LEAF_RUN_FAILED
                                    : run.stopped ? LEAF_RUN_CANCELLED : LEAF_RUN_COMPLETED,
                                    summary == NULL ? error->message
                                                    : g_strstrip (run.stop_reasons->str),
                                    &end_error);
      if (!ended)
        g_warning ("Could not record the end of run %" G_GINT64_FORMAT ": %s", run.run_id,
                   end_error->message);
    }
  /* Decided once the run's end is recorded: only a run known to have completed may replace
   * the model Diagnose uses. */
  if (summary != NULL && run.model_id > 0)
    {
      g_autofree char *decided = NULL;

      finished.activation_note = settle_model (&run, ended && !run.stopped, &finished.activated);
      decided = add_decision (summary, finished.activated, finished.activation_note);
      g_free (summary);
      summary = g_steal_pointer (&decided);
    }

  /* The other ranks end once rank 0 has recorded the run and its model, which they can then
   * read; rank 0's record stands whatever happens to them now. */
  if (run.dist != NULL && summary != NULL)
    {
      g_autoptr(GError) end_error = NULL;

      if (!dist_barrier (&run, &end_error) && !writes_catalog (&run))
        {
          g_clear_pointer (&summary, g_free);
          g_propagate_prefixed_error (&error, g_steal_pointer (&end_error),
                                      _("Rank 0 did not finish recording the run: "));
        }
    }

  finished.run_id = run.run_id;
  finished.summary_json = summary;
  finished.error = error;
  run_clear (&run);
  setup->emit (&finished, setup->emit_data);
  g_free (finished.activation_note);
}
