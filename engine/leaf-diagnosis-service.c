/* leaf-diagnosis-service.c: every diagnosis, on the one thread that holds the models
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Diagnose, its heatmaps, the viewer's heatmap, the review of a catalog by a new model and the
 * command line's predict all come here. One worker thread serves their requests in order and
 * owns every LeafPredictor they use, with the libtorch model inside: the models stay loaded
 * between requests (loading one costs far more than a diagnosis), and no lock is needed around
 * them, because no other thread ever touches them. A training run has its own thread and its
 * own libtorch objects (see leaf-trainer.c), so a diagnosis never waits for a training step.
 *
 * A review of the whole catalog is served one batch of photos at a time, each batch queued
 * behind whatever was asked for meanwhile: a photo dropped on Diagnose waits at most one batch.
 */

#define G_LOG_DOMAIN "leaf-diagnosis-service"

#include "config.h"

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>

#include "leaf-catalog.h"
#include "leaf-diagnosis-service.h"
#include "leaf-error.h"
#include "leaf-heatmap.h"
#include "leaf-image.h"
#include "leaf-model-card.h"
#include "leaf-next.h"
#include "leaf-post.h"
#include "leaf-predictor.h"

/* The catalog's latest model and one more (another window's catalog, a model being reviewed). */
#define MAX_MODELS 2
/* Photos a review diagnoses and stores between two looks at the queue. */
#define REVIEW_BATCH 32

/* Results ------------------------------------------------------------------------------------ */

void
leaf_diagnosis_result_free (LeafDiagnosisResult *result)
{
  if (result == NULL)
    return;
  g_free (result->model_path);
  g_strfreev (result->classes);
  g_free (result->probabilities);
  g_free (result->logits);
  g_free (result->ranking);
  g_free (result->trained_on);
  g_clear_object (&result->image);
  g_free (result);
}

/**
 * leaf_diagnosis_result_get_referral:
 * @threshold: the calibrated probability below which to refer, or a negative value for the
 *   model's own threshold
 *
 * A photo unlike the training photos is referred whatever its probabilities say: a model asked
 * about what it never saw can be confidently wrong.
 *
 * Returns: why the diagnosis should go to an expert, or %LEAF_REFERRAL_NONE
 */
LeafReferral
leaf_diagnosis_result_get_referral (const LeafDiagnosisResult *result,
                                    double                     threshold)
{
  g_return_val_if_fail (result != NULL, LEAF_REFERRAL_NONE);
  g_return_val_if_fail (result->n_classes > 0, LEAF_REFERRAL_NONE);

  if (threshold < 0)
    threshold = result->refer_below;
  if (result->ood)
    return LEAF_REFERRAL_UNFAMILIAR;
  if (result->probabilities[result->ranking[0]] < threshold)
    return LEAF_REFERRAL_LOW_CONFIDENCE;
  return LEAF_REFERRAL_NONE;
}

/**
 * leaf_diagnosis_result_should_refer:
 * @threshold: as for leaf_diagnosis_result_get_referral()
 *
 * Returns: whether the diagnosis should go to an expert, for either reason
 */
gboolean
leaf_diagnosis_result_should_refer (const LeafDiagnosisResult *result,
                                    double                     threshold)
{
  return leaf_diagnosis_result_get_referral (result, threshold) != LEAF_REFERRAL_NONE;
}

/* The worker thread -------------------------------------------------------------------------- */

typedef struct
{
  char *path;
  gboolean raw_weights;
  GStatBuf stat;   /* of the file when it was loaded */
  LeafPredictor *predictor;
} Model;

static void
model_free (gpointer data)
{
  Model *model = data;

  g_free (model->path);
  g_clear_object (&model->predictor);
  g_free (model);
}

/* What the worker thread owns; it frees it when it ends. */
typedef struct
{
  GAsyncQueue *queue;  /* Work */
  GQueue models;       /* Model, the most recently used first */
} Worker;

typedef void (*WorkFunc) (GTask  *task,
                          Worker *worker);

typedef struct
{
  GTask *task;     /* NULL: the service is gone, end the thread */
  WorkFunc func;
} Work;

static gboolean
same_file (const GStatBuf *a,
           const GStatBuf *b)
{
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size
         && a->st_mtime == b->st_mtime;
}

/* Returns the worker's predictor for the file, loading it when it is not loaded yet, or when
 * the file was replaced since it was (a model rewritten after its calibration, a catalog made
 * again with the same names). */
static LeafPredictor *
worker_get_predictor (Worker             *worker,
                      const char         *path,
                      LeafDiagnoseFlags   flags,
                      GError            **error)
{
  gboolean raw_weights = (flags & LEAF_DIAGNOSE_RAW_WEIGHTS) != 0;
  GStatBuf st;
  gboolean found = g_stat (path, &st) == 0;
  Model *model;

  for (GList *l = worker->models.head; l != NULL; l = l->next)
    {
      model = l->data;
      if (model->raw_weights != raw_weights || strcmp (model->path, path) != 0)
        continue;
      g_queue_unlink (&worker->models, l);
      /* A file deleted since: what it held is still loaded, and still explains its diagnoses. */
      if (!found || same_file (&model->stat, &st))
        {
          g_queue_push_head_link (&worker->models, l);
          return model->predictor;
        }
      model_free (model);
      g_list_free_1 (l);
      break;
    }

  model = g_new0 (Model, 1);
  model->predictor = raw_weights ? leaf_predictor_new_from_weights (path, error)
                                 : leaf_predictor_new_from_model (path, error);
  if (model->predictor == NULL)
    {
      g_free (model);
      return NULL;
    }
  model->path = g_strdup (path);
  model->raw_weights = raw_weights;
  model->stat = st;
  g_queue_push_head (&worker->models, model);
  while (worker->models.length > MAX_MODELS)
    model_free (g_queue_pop_tail (&worker->models));
  return model->predictor;
}

static gpointer
worker_thread (gpointer data)
{
  Worker *worker = data;
  Work *work;

  while ((work = g_async_queue_pop (worker->queue))->task != NULL)
    {
      if (!g_task_return_error_if_cancelled (work->task))
        work->func (work->task, worker);
      /* This may drop the service's last reference: its dispose then tells this thread to end
       * without waiting for it. */
      g_object_unref (work->task);
      g_free (work);
    }
  g_free (work);
  g_queue_clear_full (&worker->models, model_free);
  g_async_queue_unref (worker->queue);
  g_free (worker);
  return NULL;
}

/* The service ------------------------------------------------------------------------------- */

struct _LeafDiagnosisService
{
  GObject parent_instance;

  GMutex lock;         /* guards thread: requests may come from any thread */
  GThread *thread;     /* started by the first request */
  GAsyncQueue *queue;  /* Work, shared with the worker */
};

G_DEFINE_FINAL_TYPE (LeafDiagnosisService, leaf_diagnosis_service, G_TYPE_OBJECT)

static void
leaf_diagnosis_service_dispose (GObject *object)
{
  LeafDiagnosisService *self = LEAF_DIAGNOSIS_SERVICE (object);

  /* Every queued request holds a reference to the service, so none is left. */
  if (self->thread != NULL)
    {
      g_async_queue_push (self->queue, g_new0 (Work, 1));
      if (g_thread_self () == self->thread)
        g_thread_unref (g_steal_pointer (&self->thread));
      else
        g_thread_join (g_steal_pointer (&self->thread));
    }

  G_OBJECT_CLASS (leaf_diagnosis_service_parent_class)->dispose (object);
}

static void
leaf_diagnosis_service_finalize (GObject *object)
{
  LeafDiagnosisService *self = LEAF_DIAGNOSIS_SERVICE (object);

  g_async_queue_unref (self->queue);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (leaf_diagnosis_service_parent_class)->finalize (object);
}

static void
leaf_diagnosis_service_class_init (LeafDiagnosisServiceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = leaf_diagnosis_service_dispose;
  object_class->finalize = leaf_diagnosis_service_finalize;
}

static void
leaf_diagnosis_service_init (LeafDiagnosisService *self)
{
  g_mutex_init (&self->lock);
  self->queue = g_async_queue_new ();
}

/**
 * leaf_diagnosis_service_new:
 *
 * Returns: (transfer full): a service with a worker thread of its own, started by its first
 *   request
 */
LeafDiagnosisService *
leaf_diagnosis_service_new (void)
{
  return g_object_new (LEAF_TYPE_DIAGNOSIS_SERVICE, NULL);
}

/**
 * leaf_diagnosis_service_get_default:
 *
 * The application's service: every window and view shares its thread and its loaded models.
 *
 * Returns: (transfer none): the process's service
 */
LeafDiagnosisService *
leaf_diagnosis_service_get_default (void)
{
  static LeafDiagnosisService *service;

  if (g_once_init_enter (&service))
    g_once_init_leave (&service, leaf_diagnosis_service_new ());
  return service;
}

/* Takes the task; the worker serves it after the requests already queued. */
static void
queue_work (LeafDiagnosisService *self,
            GTask                *task,
            WorkFunc              func)
{
  Work *work = g_new0 (Work, 1);

  work->task = task;
  work->func = func;
  g_mutex_lock (&self->lock);
  if (self->thread == NULL)
    {
      Worker *worker = g_new0 (Worker, 1);

      worker->queue = g_async_queue_ref (self->queue);
      g_queue_init (&worker->models);
      self->thread = g_thread_new ("leaf-diagnosis", worker_thread, worker);
    }
  g_mutex_unlock (&self->lock);
  g_async_queue_push (self->queue, work);
}

static void
on_sync_done_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

/* Serves the request on the worker while the calling thread waits, as the _finish function of
 * source_tag will read it. */
static GAsyncResult *
run_sync (LeafDiagnosisService *self,
          gpointer              source_tag,
          gpointer              request,
          GDestroyNotify        request_free,
          WorkFunc              func,
          GCancellable         *cancellable)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  GAsyncResult *result = NULL;
  GTask *task;

  g_assert (g_thread_self () != self->thread);

  g_main_context_push_thread_default (context);
  task = g_task_new (self, cancellable, on_sync_done_cb, &result);
  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, request, request_free);
  queue_work (self, task, func);
  while (result == NULL)
    g_main_context_iteration (context, TRUE);
  g_main_context_pop_thread_default (context);
  return result;
}

static void
queue_async (LeafDiagnosisService *self,
             gpointer              source_tag,
             gpointer              request,
             GDestroyNotify        request_free,
             WorkFunc              func,
             GCancellable         *cancellable,
             GAsyncReadyCallback   callback,
             gpointer              user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, request, request_free);
  queue_work (self, task, func);
}

/* What a _finish function returns, once it checked that the result is the service's, from the
 * request of source_tag. */
static gpointer
propagate_pointer (LeafDiagnosisService  *self,
                   GAsyncResult          *result,
                   gpointer               source_tag,
                   GError               **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Requests ----------------------------------------------------------------------------------- */

typedef struct
{
  char *model_path;
  LeafDiagnoseFlags flags;
  /* Diagnoses: one of path and bytes */
  char *path;
  GBytes *bytes;
  char *display_name;
  /* Heatmaps */
  GdkPixbuf *photo;
  int class_index;     /* < 0: the most probable class */
  LeafHeatmapCanvas canvas;
} Request;

static void
request_free (gpointer data)
{
  Request *request = data;

  g_free (request->model_path);
  g_free (request->path);
  g_clear_pointer (&request->bytes, g_bytes_unref);
  g_free (request->display_name);
  g_clear_object (&request->photo);
  g_free (request);
}

static Request *
request_new (const char        *model_path,
             LeafDiagnoseFlags  flags)
{
  Request *request = g_new0 (Request, 1);

  request->model_path = g_strdup (model_path);
  request->flags = flags;
  return request;
}

static void
load_work (GTask  *task,
           Worker *worker)
{
  Request *request = g_task_get_task_data (task);
  GError *error = NULL;

  if (worker_get_predictor (worker, request->model_path, request->flags, &error) == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

/**
 * leaf_diagnosis_service_load:
 * @model_path: a model Leafscope trained, or a weight file with %LEAF_DIAGNOSE_RAW_WEIGHTS
 *
 * Loads the model now and keeps it loaded, so that a file that is not a usable model is
 * reported once, before any photo.
 *
 * Returns: %FALSE with @error set when the model cannot be loaded
 */
gboolean
leaf_diagnosis_service_load (LeafDiagnosisService  *self,
                             const char            *model_path,
                             LeafDiagnoseFlags      flags,
                             GCancellable          *cancellable,
                             GError               **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  g_return_val_if_fail (LEAF_IS_DIAGNOSIS_SERVICE (self), FALSE);
  g_return_val_if_fail (model_path != NULL, FALSE);

  result = run_sync (self, leaf_diagnosis_service_load, request_new (model_path, flags),
                     request_free, load_work, cancellable);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
diagnose_work (GTask  *task,
               Worker *worker)
{
  Request *request = g_task_get_task_data (task);
  g_autoptr(LeafDiagnosisResult) result = g_new0 (LeafDiagnosisResult, 1);
  const LeafModelMeta *meta;
  GError *error = NULL;
  LeafPredictor *predictor;
  guint n;

  predictor = worker_get_predictor (worker, request->model_path, request->flags, &error);
  if (predictor == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (request->bytes != NULL)
    result->image = leaf_image_load_from_bytes (request->bytes, request->display_name, 0, &error);
  else
    result->image = leaf_image_load (request->path, 0, &error);
  if (result->image == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (g_task_return_error_if_cancelled (task))
    return;

  n = leaf_predictor_get_n_classes (predictor);
  result->model_path = g_strdup (request->model_path);
  result->classes = g_strdupv ((char **) leaf_predictor_get_classes (predictor));
  result->n_classes = n;
  result->probabilities = g_new (float, n);
  result->logits = g_new (float, n);
  if (!leaf_predictor_predict_pixbuf_full (predictor, result->image,
                                           (request->flags & LEAF_DIAGNOSE_TTA) != 0,
                                           result->probabilities, result->logits,
                                           &result->ood_score, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  result->ranking = g_new (guint, n);
  leaf_predictor_top_k (result->probabilities, n, result->ranking, n);
  meta = leaf_predictor_get_meta (predictor);
  result->refer_below = meta->refer_below;
  result->ood = meta->ood != NULL && leaf_ood_is_unfamiliar (meta->ood, result->ood_score);
  if ((request->flags & LEAF_DIAGNOSE_RAW_WEIGHTS) == 0)
    result->trained_on = leaf_model_card_describe_training (meta);
  g_task_return_pointer (task, g_steal_pointer (&result),
                         (GDestroyNotify) leaf_diagnosis_result_free);
}

/**
 * leaf_diagnosis_service_diagnose_file_async:
 * @model_path: a model Leafscope trained, or a weight file with %LEAF_DIAGNOSE_RAW_WEIGHTS
 * @path: the photo
 *
 * Decodes the photo and diagnoses it on the service's thread, after the requests before it.
 */
void
leaf_diagnosis_service_diagnose_file_async (LeafDiagnosisService *self,
                                            const char           *model_path,
                                            LeafDiagnoseFlags     flags,
                                            const char           *path,
                                            GCancellable         *cancellable,
                                            GAsyncReadyCallback   callback,
                                            gpointer              user_data)
{
  Request *request;

  g_return_if_fail (LEAF_IS_DIAGNOSIS_SERVICE (self));
  g_return_if_fail (model_path != NULL);
  g_return_if_fail (path != NULL);

  request = request_new (model_path, flags);
  request->path = g_strdup (path);
  queue_async (self, leaf_diagnosis_service_diagnose_file_async, request, request_free,
               diagnose_work, cancellable, callback, user_data);
}

/**
 * leaf_diagnosis_service_diagnose_bytes_async:
 * @bytes: an encoded photo, for example a pasted image saved as PNG
 * @display_name: what to call it in error messages
 *
 * As leaf_diagnosis_service_diagnose_file_async(), for a photo held in memory.
 */
void
leaf_diagnosis_service_diagnose_bytes_async (LeafDiagnosisService *self,
                                             const char           *model_path,
                                             LeafDiagnoseFlags     flags,
                                             GBytes               *bytes,
                                             const char           *display_name,
                                             GCancellable         *cancellable,
                                             GAsyncReadyCallback   callback,
                                             gpointer              user_data)
{
  Request *request;

  g_return_if_fail (LEAF_IS_DIAGNOSIS_SERVICE (self));
  g_return_if_fail (model_path != NULL);
  g_return_if_fail (bytes != NULL);
  g_return_if_fail (display_name != NULL);

  request = request_new (model_path, flags);
  request->bytes = g_bytes_ref (bytes);
  request->display_name = g_strdup (display_name);
  /* The same tag as a file's: one _finish reads both. */
  queue_async (self, leaf_diagnosis_service_diagnose_file_async, request, request_free,
               diagnose_work, cancellable, callback, user_data);
}

/**
 * leaf_diagnosis_service_diagnose_finish:
 *
 * Returns: (transfer full): the diagnosis, or %NULL with @error set: the model or the photo
 *   could not be read, or the request was cancelled
 */
LeafDiagnosisResult *
leaf_diagnosis_service_diagnose_finish (LeafDiagnosisService  *self,
                                        GAsyncResult          *result,
                                        GError               **error)
{
  return propagate_pointer (self, result, leaf_diagnosis_service_diagnose_file_async, error);
}

/**
 * leaf_diagnosis_service_diagnose_file:
 *
 * leaf_diagnosis_service_diagnose_file_async() for a caller that may block, such as the
 * command line. Not to be called from a callback of the service.
 *
 * Returns: (transfer full): the diagnosis, or %NULL with @error set
 */
LeafDiagnosisResult *
leaf_diagnosis_service_diagnose_file (LeafDiagnosisService  *self,
                                      const char            *model_path,
                                      LeafDiagnoseFlags      flags,
                                      const char            *path,
                                      GCancellable          *cancellable,
                                      GError               **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  Request *request;

  g_return_val_if_fail (LEAF_IS_DIAGNOSIS_SERVICE (self), NULL);
  g_return_val_if_fail (model_path != NULL, NULL);
  g_return_val_if_fail (path != NULL, NULL);

  request = request_new (model_path, flags);
  request->path = g_strdup (path);
  result = run_sync (self, leaf_diagnosis_service_diagnose_file_async, request, request_free,
                     diagnose_work, cancellable);
  return leaf_diagnosis_service_diagnose_finish (self, result, error);
}

static void
heatmap_work (GTask  *task,
              Worker *worker)
{
  Request *request = g_task_get_task_data (task);
  g_autoptr(GdkPixbuf) crop = NULL;
  g_autofree float *map = NULL;
  const LeafModelMeta *meta;
  GError *error = NULL;
  LeafPredictor *predictor;
  guint class_index, n;

  predictor = worker_get_predictor (worker, request->model_path, request->flags, &error);
  if (predictor == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  n = leaf_predictor_get_n_classes (predictor);
  if (request->class_index >= (int) n)
    {
      g_task_return_new_error (task, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                               _("%s has %u classes, not a class number %d"),
                               leaf_predictor_get_path (predictor), n, request->class_index);
      return;
    }
  if (request->class_index >= 0)
    class_index = (guint) request->class_index;
  else
    {
      g_autofree float *probabilities = g_new (float, n);

      if (!leaf_predictor_predict_pixbuf (predictor, request->photo, FALSE, probabilities, NULL,
                                          &error))
        {
          g_task_return_error (task, error);
          return;
        }
      leaf_predictor_top_k (probabilities, n, &class_index, 1);
    }
  if (g_task_return_error_if_cancelled (task))
    return;

  map = leaf_predictor_grad_cam (predictor, request->photo, class_index,
                                 request->canvas == LEAF_HEATMAP_OVER_CROP ? &crop : NULL,
                                 &error);
  if (map == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  meta = leaf_predictor_get_meta (predictor);
  g_task_return_pointer (task,
                         request->canvas == LEAF_HEATMAP_OVER_CROP
                         ? leaf_heatmap_overlay (crop, map, LEAF_HEATMAP_OPACITY)
                         : leaf_heatmap_overlay_photo (request->photo, map, meta->image_size,
                                                       meta->resize_size,
                                                       LEAF_HEATMAP_OPACITY),
                         g_object_unref);
}

static Request *
heatmap_request_new (const char        *model_path,
                     LeafDiagnoseFlags  flags,
                     GdkPixbuf         *photo,
                     int                class_index,
                     LeafHeatmapCanvas  canvas)
{
  Request *request = request_new (model_path, flags);

  request->photo = g_object_ref (photo);
  request->class_index = class_index;
  request->canvas = canvas;
  return request;
}

/**
 * leaf_diagnosis_service_heatmap_async:
 * @model_path: the model to explain
 * @photo: the photo, as decoded for the model (a #LeafDiagnosisResult's image)
 * @class_index: the class whose evidence to show, or -1 for the most probable one
 * @canvas: what to draw the map over
 *
 * Grad-CAM: where in @photo the model found the evidence for the class, drawn in colour from
 * blue (none) to red (strong).
 */
void
leaf_diagnosis_service_heatmap_async (LeafDiagnosisService *self,
                                      const char           *model_path,
                                      LeafDiagnoseFlags     flags,
                                      GdkPixbuf            *photo,
                                      int                   class_index,
                                      LeafHeatmapCanvas     canvas,
                                      GCancellable         *cancellable,
                                      GAsyncReadyCallback   callback,
                                      gpointer              user_data)
{
  g_return_if_fail (LEAF_IS_DIAGNOSIS_SERVICE (self));
  g_return_if_fail (model_path != NULL);
  g_return_if_fail (GDK_IS_PIXBUF (photo));

  queue_async (self, leaf_diagnosis_service_heatmap_async,
               heatmap_request_new (model_path, flags, photo, class_index, canvas), request_free,
               heatmap_work, cancellable, callback, user_data);
}

/**
 * leaf_diagnosis_service_heatmap_finish:
 *
 * Returns: (transfer full): a new RGB image the size of the photo, or of the model's crop for
 *   %LEAF_HEATMAP_OVER_CROP; or %NULL with @error set
 */
GdkPixbuf *
leaf_diagnosis_service_heatmap_finish (LeafDiagnosisService  *self,
                                       GAsyncResult          *result,
                                       GError               **error)
{
  return propagate_pointer (self, result, leaf_diagnosis_service_heatmap_async, error);
}

/**
 * leaf_diagnosis_service_heatmap:
 *
 * leaf_diagnosis_service_heatmap_async() for a caller that may block.
 *
 * Returns: (transfer full): as leaf_diagnosis_service_heatmap_finish()
 */
GdkPixbuf *
leaf_diagnosis_service_heatmap (LeafDiagnosisService  *self,
                                const char            *model_path,
                                LeafDiagnoseFlags      flags,
                                GdkPixbuf             *photo,
                                int                    class_index,
                                LeafHeatmapCanvas      canvas,
                                GCancellable          *cancellable,
                                GError               **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  g_return_val_if_fail (LEAF_IS_DIAGNOSIS_SERVICE (self), NULL);
  g_return_val_if_fail (model_path != NULL, NULL);
  g_return_val_if_fail (GDK_IS_PIXBUF (photo), NULL);

  result = run_sync (self, leaf_diagnosis_service_heatmap_async,
                     heatmap_request_new (model_path, flags, photo, class_index, canvas),
                     request_free, heatmap_work, cancellable);
  return leaf_diagnosis_service_heatmap_finish (self, result, error);
}

/* Reviews ------------------------------------------------------------------------------------ */

typedef struct
{
  LeafCatalog *catalog;
  gint64 model_id;
  char *model_path;    /* NULL until the first batch */
  LeafDiagnosisProgressFunc progress;
  gpointer progress_data;
  guint done;
  guint total;
  guint skipped;       /* photos of `done` left without a prediction, the first of the query */
} Review;

static void
review_free (gpointer data)
{
  Review *review = data;

  g_clear_object (&review->catalog);
  g_free (review->model_path);
  g_free (review);
}

static void review_batch_work (GTask  *task,
                               Worker *worker);

/* Predicts one photo as Diagnose does, and says whether Diagnose would refer it, by the same
 * rule, so that the Library's Uncertain filter holds what Diagnose would send to an expert. */
static gboolean
predict_for_review (LeafPredictor *predictor,
                    const char    *path,
                    float         *probabilities,
                    gboolean      *referred)
{
  g_autoptr(GdkPixbuf) photo = leaf_image_load (path, LEAF_IMAGE_DEFAULT_MAX_PIXELS, NULL);
  const LeafModelMeta *meta = leaf_predictor_get_meta (predictor);
  LeafDiagnosisResult result = {
    .n_classes = leaf_predictor_get_n_classes (predictor),
    .probabilities = probabilities,
    .refer_below = meta->refer_below,
  };
  guint top = 0;

  if (photo == NULL
      || !leaf_predictor_predict_pixbuf_full (predictor, photo, FALSE, probabilities, NULL,
                                              &result.ood_score, NULL))
    return FALSE;
  leaf_predictor_top_k (probabilities, result.n_classes, &top, 1);
  result.ranking = &top;
  result.ood = meta->ood != NULL && leaf_ood_is_unfamiliar (meta->ood, result.ood_score);
  *referred = leaf_diagnosis_result_should_refer (&result, -1);
  return TRUE;
}

/* On the caller's context, between two batches. */
static gboolean
review_batch_done_cb (gpointer data)
{
  GTask *task = data;
  Review *review = g_task_get_task_data (task);

  if (review->progress != NULL)
    review->progress (review->done, review->total, review->progress_data);
  if (review->done >= review->total)
    g_task_return_boolean (task, TRUE);
  else
    queue_work (g_task_get_source_object (task), g_object_ref (task), review_batch_work);
  return G_SOURCE_REMOVE;
}

static void
review_batch_work (GTask  *task,
                   Worker *worker)
{
  Review *review = g_task_get_task_data (task);
  /* In import order, so that the photos skipped, which stay unreviewed, come first. */
  LeafImageQuery unreviewed = { .model_id = review->model_id, .unreviewed_only = TRUE };
  g_autoptr(GPtrArray) images = NULL;
  g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GArray) probabilities = g_array_new (FALSE, FALSE, sizeof (float));
  g_autoptr(GArray) referred = g_array_new (FALSE, FALSE, sizeof (gboolean));
  g_autofree float *scratch = NULL;
  GError *error = NULL;
  LeafPredictor *predictor;
  guint n_classes;

  if (review->model_path == NULL)
    {
      g_autoptr(LeafModelInfo) model = leaf_catalog_get_model (review->catalog, review->model_id,
                                                               &error);

      if (model == NULL || !leaf_catalog_count_images (review->catalog, &unreviewed,
                                                       &review->total, &error))
        {
          g_task_return_error (task, error);
          return;
        }
      review->model_path = g_strdup (model->path);
      if (review->total == 0)
        {
          g_task_return_boolean (task, TRUE);
          return;
        }
    }

  predictor = worker_get_predictor (worker, review->model_path, LEAF_DIAGNOSE_DEFAULT, &error);
  images = predictor ? leaf_catalog_query_images (review->catalog, &unreviewed, review->skipped,
                                                  REVIEW_BATCH, &error)
                     : NULL;
  if (images == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  n_classes = leaf_predictor_get_n_classes (predictor);
  scratch = g_new0 (float, n_classes);
  for (guint i = 0; i < images->len; i++)
    {
      LeafCatalogImage *image = g_ptr_array_index (images, i);
      gint64 id = leaf_catalog_image_get_id (image);
      gboolean refer;

      if (g_task_return_error_if_cancelled (task))
        return;
      /* A photo that went missing or cannot be read simply gets no prediction. */
      if (!leaf_catalog_image_get_missing (image)
          && predict_for_review (predictor, leaf_catalog_image_get_path (image), scratch,
                                 &refer))
        {
          g_array_append_val (ids, id);
          g_array_append_vals (probabilities, scratch, n_classes);
          g_array_append_val (referred, refer);
        }
      else
        review->skipped++;
    }
  if (ids->len > 0
      && !leaf_catalog_add_predictions (review->catalog, review->model_id,
                                        (const gint64 *) (gpointer) ids->data, ids->len,
                                        (const float *) (gpointer) probabilities->data,
                                        n_classes, (const gboolean *) (gpointer) referred->data,
                                        &error))
    {
      g_task_return_error (task, error);
      return;
    }
  /* Photos removed since the count end the review early. */
  review->done = images->len > 0 ? review->done + images->len : review->total;
  leaf_post (g_task_get_context (task), review_batch_done_cb, g_object_ref (task),
             g_object_unref, "[leafscope] review progress");
}

/**
 * leaf_diagnosis_service_review_catalog_async:
 * @catalog: the catalog whose photos to diagnose
 * @model_id: one of its models
 * @progress: (nullable) (scope call): called on the caller's thread-default main context after
 *   each batch of photos, before @callback
 * @progress_data: for @progress; it must live until @callback is called
 *
 * Stores @model_id's prediction, and whether it would refer the photo, for every photo of
 * @catalog it has not reviewed yet, in batches, so that the filters that read them fill up while
 * it works. Photos that are missing or cannot be read get no prediction.
 */
void
leaf_diagnosis_service_review_catalog_async (LeafDiagnosisService      *self,
                                             LeafCatalog               *catalog,
                                             gint64                     model_id,
                                             LeafDiagnosisProgressFunc  progress,
                                             gpointer                   progress_data,
                                             GCancellable              *cancellable,
                                             GAsyncReadyCallback        callback,
                                             gpointer                   user_data)
{
  Review *review;

  g_return_if_fail (LEAF_IS_DIAGNOSIS_SERVICE (self));
  g_return_if_fail (LEAF_IS_CATALOG (catalog));

  review = g_new0 (Review, 1);
  review->catalog = g_object_ref (catalog);
  review->model_id = model_id;
  review->progress = progress;
  review->progress_data = progress_data;
  queue_async (self, leaf_diagnosis_service_review_catalog_async, review, review_free,
               review_batch_work, cancellable, callback, user_data);
}

gboolean
leaf_diagnosis_service_review_catalog_finish (LeafDiagnosisService  *self,
                                              GAsyncResult          *result,
                                              GError               **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result))
                        == leaf_diagnosis_service_review_catalog_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Label Next --------------------------------------------------------------------------------- */

typedef struct
{
  LeafCatalog *catalog;
  gint64 model_id;
  guint count;
  LeafDiagnosisProgressFunc progress;
  gpointer progress_data;
  char *model_path;                 /* set by the first batch */
  LeafNextCandidates *candidates;   /* set by the first batch */
} NextRequest;

static void
next_request_free (gpointer data)
{
  NextRequest *request = data;

  g_clear_object (&request->catalog);
  g_free (request->model_path);
  g_clear_pointer (&request->candidates, leaf_next_candidates_free);
  g_free (request);
}

static void rank_next_batch_work (GTask  *task,
                                  Worker *worker);

/* On the caller's context, between two batches, as for a review. */
static gboolean
rank_next_batch_done_cb (gpointer data)
{
  GTask *task = data;
  NextRequest *request = g_task_get_task_data (task);
  guint done, total;

  leaf_next_candidates_get_progress (request->candidates, &done, &total);
  if (request->progress != NULL)
    request->progress (done, total, request->progress_data);
  queue_work (g_task_get_source_object (task), g_object_ref (task), rank_next_batch_work);
  return G_SOURCE_REMOVE;
}

/* One batch of photos per turn, so that a diagnosis asked for meanwhile waits for one batch only;
 * the ranking itself once every photo is predicted. */
static void
rank_next_batch_work (GTask  *task,
                      Worker *worker)
{
  NextRequest *request = g_task_get_task_data (task);
  LeafPredictor *predictor;
  GPtrArray *ranked;
  GError *error = NULL;

  if (request->candidates == NULL)
    {
      g_autoptr(LeafModelInfo) model = leaf_catalog_get_model (request->catalog,
                                                               request->model_id, &error);

      if (model == NULL
          || (request->candidates = leaf_next_candidates_new (request->catalog, &error)) == NULL)
        {
          g_task_return_error (task, error);
          return;
        }
      request->model_path = g_strdup (model->path);
    }
  predictor = worker_get_predictor (worker, request->model_path, LEAF_DIAGNOSE_DEFAULT, &error);
  if (predictor == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (leaf_next_candidates_get_progress (request->candidates, NULL, NULL))
    {
      if (!leaf_next_candidates_predict (request->candidates, predictor, NULL, NULL, &error))
        g_task_return_error (task, error);
      else
        leaf_post (g_task_get_context (task), rank_next_batch_done_cb,
                   g_object_ref (task), g_object_unref, "[leafscope] ranking progress");
      return;
    }
  /* The review stores this model's predictions with its referrals: left to it. */
  ranked = leaf_next_candidates_rank (request->candidates, 0, request->count,
                                      LEAF_NEXT_DEFAULT_MAX_SIMILARITY, &error);
  if (ranked == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, ranked, (GDestroyNotify) g_ptr_array_unref);
}

/**
 * leaf_diagnosis_service_rank_next_async:
 * @catalog: the catalog whose unlabelled photos to rank
 * @model_id: one of its models
 * @count: how many photos to rank
 * @progress: (nullable) (scope call): called on the caller's thread-default main context after
 *   each batch of photos, before @callback
 * @progress_data: for @progress; it must live until @callback is called
 *
 * Ranks the unlabelled photos of @catalog as leaf_next_rank_catalog() does with @model_id, a
 * batch of photos at a time, without storing the predictions. Photos that cannot be read are
 * left out.
 */
void
leaf_diagnosis_service_rank_next_async (LeafDiagnosisService      *self,
                                        LeafCatalog               *catalog,
                                        gint64                     model_id,
                                        guint                      count,
                                        LeafDiagnosisProgressFunc  progress,
                                        gpointer                   progress_data,
                                        GCancellable              *cancellable,
                                        GAsyncReadyCallback        callback,
                                        gpointer                   user_data)
{
  NextRequest *request;

  g_return_if_fail (LEAF_IS_DIAGNOSIS_SERVICE (self));
  g_return_if_fail (LEAF_IS_CATALOG (catalog));

  request = g_new0 (NextRequest, 1);
  request->catalog = g_object_ref (catalog);
  request->model_id = model_id;
  request->count = count;
  request->progress = progress;
  request->progress_data = progress_data;
  queue_async (self, leaf_diagnosis_service_rank_next_async, request, next_request_free,
               rank_next_batch_work, cancellable, callback, user_data);
}

/**
 * leaf_diagnosis_service_rank_next_finish:
 *
 * Returns: (transfer full) (element-type LeafNextItem): the ranked photos, in order
 */
GPtrArray *
leaf_diagnosis_service_rank_next_finish (LeafDiagnosisService  *self,
                                         GAsyncResult          *result,
                                         GError               **error)
{
  return propagate_pointer (self, result, leaf_diagnosis_service_rank_next_async, error);
}
