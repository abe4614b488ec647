/* leaf-decode-pool.c
 *
 * The training thread submits the next batch before it runs the model on the current one, so
 * decoding overlaps with libtorch's work.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-decode-pool"

#include "config.h"

#include <string.h>

#include "leaf-decode-pool.h"
#include "leaf-image.h"

struct _LeafDecodePool
{
  GThreadPool *threads;
  LeafImageTransform *transform;
  guint64 max_pixels;
};

struct _LeafDecodeBatch
{
  LeafDecodePool *pool;
  LeafDecodeRequest *requests;
  guint n_requests;
  gboolean *failed;
  char **messages;

  GMutex lock;
  GCond done;
  guint remaining;
};

typedef struct
{
  LeafDecodeBatch *batch;
  guint index;
} Job;

static void
decode_one (LeafDecodePool          *pool,
            const LeafDecodeRequest *request,
            GError                 **error)
{
  g_autoptr(GdkPixbuf) image = leaf_image_load (request->path, pool->max_pixels, error);
  gsize n_values = leaf_image_transform_get_n_values (pool->transform);
  guint crop = leaf_image_transform_get_crop_size (pool->transform);
  g_autofree float *base = NULL;

  if (image == NULL)
    return;

  base = g_new (float, n_values);
  if (request->has_region)
    leaf_image_transform_apply_region (pool->transform, image, &request->region, base);
  else
    leaf_image_transform_apply (pool->transform, image, base);
  if (request->has_jitter)
    leaf_color_jitter_apply (&request->jitter, base, crop);

  for (guint i = 0; i < request->n_outputs; i++)
    {
      if (request->views[i] == LEAF_IMAGE_VIEW_IDENTITY)
        memcpy (request->outputs[i], base, n_values * sizeof (float));
      else
        leaf_image_view_apply (request->views[i], base, request->outputs[i], 3, crop);
    }
}

static void
run_job (gpointer data,
         gpointer user_data)
{
  g_autofree Job *job = data;
  LeafDecodeBatch *batch = job->batch;
  g_autoptr(GError) error = NULL;

  decode_one (batch->pool, &batch->requests[job->index], &error);

  g_mutex_lock (&batch->lock);
  if (error != NULL)
    {
      batch->failed[job->index] = TRUE;
      batch->messages[job->index] = g_strdup (error->message);
    }
  if (--batch->remaining == 0)
    g_cond_signal (&batch->done);
  g_mutex_unlock (&batch->lock);
}

/**
 * leaf_decode_pool_new:
 * @n_threads: worker threads; 0 for half the cores, at least one
 */
LeafDecodePool *
leaf_decode_pool_new (LeafImageTransform *transform,
                      guint               n_threads,
                      guint64             max_pixels)
{
  LeafDecodePool *pool = g_new0 (LeafDecodePool, 1);

  if (n_threads == 0)
    n_threads = MAX (1, g_get_num_processors () / 2);
  pool->transform = g_object_ref (transform);
  pool->max_pixels = max_pixels;
  pool->threads = g_thread_pool_new (run_job, pool, (int) n_threads, FALSE, NULL);
  return pool;
}

void
leaf_decode_pool_free (LeafDecodePool *pool)
{
  if (pool == NULL)
    return;
  /* Waits for queued jobs: batches own memory the jobs write to. */
  g_thread_pool_free (pool->threads, FALSE, TRUE);
  g_object_unref (pool->transform);
  g_free (pool);
}

LeafImageTransform *
leaf_decode_pool_get_transform (LeafDecodePool *pool)
{
  return pool->transform;
}

LeafDecodeBatch *
leaf_decode_pool_submit (LeafDecodePool          *pool,
                         const LeafDecodeRequest *requests,
                         guint                    n_requests)
{
  LeafDecodeBatch *batch = g_new0 (LeafDecodeBatch, 1);

  batch->pool = pool;
  batch->requests = g_memdup2 (requests, sizeof *requests * n_requests);
  batch->n_requests = n_requests;
  batch->failed = g_new0 (gboolean, n_requests);
  batch->messages = g_new0 (char *, n_requests + 1);
  batch->remaining = n_requests;
  g_mutex_init (&batch->lock);
  g_cond_init (&batch->done);

  for (guint i = 0; i < n_requests; i++)
    {
      Job *job = g_new (Job, 1);
      job->batch = batch;
      job->index = i;
      g_thread_pool_push (pool->threads, job, NULL);
    }
  return batch;
}

void
leaf_decode_batch_wait (LeafDecodeBatch *batch,
                        gboolean        *failed,
                        GPtrArray       *errors)
{
  g_mutex_lock (&batch->lock);
  while (batch->remaining > 0)
    g_cond_wait (&batch->done, &batch->lock);
  g_mutex_unlock (&batch->lock);

  for (guint i = 0; i < batch->n_requests; i++)
    {
      if (failed != NULL)
        failed[i] = batch->failed[i];
      if (errors != NULL && batch->messages[i] != NULL)
        g_ptr_array_add (errors, g_steal_pointer (&batch->messages[i]));
    }

  g_mutex_clear (&batch->lock);
  g_cond_clear (&batch->done);
  g_strfreev (batch->messages);
  g_free (batch->failed);
  g_free (batch->requests);
  g_free (batch);
}
