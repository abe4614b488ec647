/* leaf-heatmap-job.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Grad-CAM needs a forward and a backward pass, and the overlay is blended at the photo's full
 * resolution: both take long enough to stutter the window, so Diagnose and the viewer run them
 * here, off the main thread.
 */

#define G_LOG_DOMAIN "leaf-heatmap-job"

#include "config.h"

#include "leaf-heatmap-job.h"
#include "leaf-heatmap.h"

typedef struct
{
  LeafPredictor *predictor; /* NULL until loaded from model_path */
  char *model_path;
  GdkPixbuf *photo;
  int class_index;          /* < 0: the most probable class */
} Job;

static void
job_free (gpointer data)
{
  Job *job = data;

  g_clear_object (&job->predictor);
  g_clear_pointer (&job->model_path, g_free);
  g_clear_object (&job->photo);
  g_free (job);
}

static void
heatmap_thread (GTask        *task,
                gpointer      source_object,
                gpointer      task_data,
                GCancellable *cancellable)
{
  Job *job = task_data;
  GError *error = NULL;
  g_autofree float *map = NULL;
  const LeafModelMeta *meta;
  guint class_index;

  if (job->predictor == NULL
      && (job->predictor = leaf_predictor_new_from_model (job->model_path, &error)) == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (job->class_index >= 0)
    class_index = (guint) job->class_index;
  else
    {
      guint n = leaf_predictor_get_n_classes (job->predictor);
      g_autofree float *probabilities = g_new0 (float, n);

      if (!leaf_predictor_predict_pixbuf (job->predictor, job->photo, FALSE, probabilities, NULL,
                                          &error))
        {
          g_task_return_error (task, error);
          return;
        }
      leaf_predictor_top_k (probabilities, n, &class_index, 1);
    }
  if (g_task_return_error_if_cancelled (task))
    return;

  map = leaf_predictor_grad_cam (job->predictor, job->photo, class_index, NULL, &error);
  if (map == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  meta = leaf_predictor_get_meta (job->predictor);
  g_task_return_pointer (task,
                         leaf_heatmap_overlay_photo (job->photo, map, meta->image_size,
                                                     meta->resize_size, LEAF_HEATMAP_OPACITY),
                         g_object_unref);
}

/**
 * leaf_heatmap_job_run_async:
 * @predictor: (nullable): the model to explain, or %NULL to load it from @model_path
 * @model_path: (nullable): where the model is, when @predictor is %NULL
 * @photo: the photo, as decoded for the model
 * @class_index: the class whose evidence to show, or -1 for the most probable one
 *
 * Draws where in @photo the model found the evidence for the class.
 */
void
leaf_heatmap_job_run_async (LeafPredictor       *predictor,
                            const char          *model_path,
                            GdkPixbuf           *photo,
                            int                  class_index,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  Job *job;

  g_return_if_fail (predictor == NULL || LEAF_IS_PREDICTOR (predictor));
  g_return_if_fail (predictor != NULL || model_path != NULL);
  g_return_if_fail (GDK_IS_PIXBUF (photo));

  job = g_new0 (Job, 1);
  job->predictor = predictor ? g_object_ref (predictor) : NULL;
  job->model_path = g_strdup (model_path);
  job->photo = g_object_ref (photo);
  job->class_index = class_index;
  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, leaf_heatmap_job_run_async);
  g_task_set_task_data (task, job, job_free);
  g_task_run_in_thread (task, heatmap_thread);
}

/**
 * leaf_heatmap_job_run_finish:
 * @predictor: (out) (optional) (transfer full): the model that was used, to keep it loaded
 *
 * Returns: (transfer full): the photo with the heatmap over the part the model saw, or %NULL
 *   with @error set
 */
GdkTexture *
leaf_heatmap_job_run_finish (GAsyncResult   *result,
                             LeafPredictor **predictor,
                             GError        **error)
{
  Job *job;
  g_autoptr(GdkPixbuf) overlay = NULL;

  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == leaf_heatmap_job_run_async,
                        NULL);

  job = g_task_get_task_data (G_TASK (result));
  if (predictor != NULL)
    *predictor = job->predictor ? g_object_ref (job->predictor) : NULL;
  overlay = g_task_propagate_pointer (G_TASK (result), error);
  return overlay ? gdk_texture_new_for_pixbuf (overlay) : NULL;
}
