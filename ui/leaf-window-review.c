/* leaf-window-review.c: the latest model's predictions for every photo of the catalog
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The Library's Disagreements and Uncertain filters, and the photos behind a confusion-matrix
 * cell, read predictions stored in the catalog. After a run, a worker thread diagnoses every
 * photo with the new model and stores the results in batches, so that the filters fill up while
 * it works; progress shows under the header bar, where it can be cancelled.
 */

#define G_LOG_DOMAIN "leaf-window"

#include "config.h"

#include <glib/gi18n.h>

#include "leaf-predictor.h"
#include "leaf-toast.h"
#include "leaf-window-private.h"

#define BATCH 32

typedef struct
{
  LeafWindow *window; /* progress reports take a reference; used on the main context only */
  LeafCatalog *catalog;
  char *model_path;
  gint64 model_id;
  guint done;
  guint total;
} Review;

static void
review_free (gpointer data)
{
  Review *review = data;

  g_clear_object (&review->window);
  g_clear_object (&review->catalog);
  g_free (review->model_path);
  g_free (review);
}

typedef struct
{
  LeafWindow *window;
  guint done;
  guint total;
} Progress;

static gboolean
show_progress_cb (gpointer data)
{
  Progress *progress = data;
  LeafWindow *self = progress->window;
  g_autofree char *text = NULL;

  text = g_strdup_printf (ngettext ("Reviewing photos with the new model… %u of %u",
                                    "Reviewing photos with the new model… %u of %u",
                                    progress->total),
                          progress->done, progress->total);
  gtk_label_set_text (self->task_label, text);
  gtk_progress_bar_set_fraction (self->task_progress,
                                 progress->total ? (double) progress->done / progress->total : 0);
  return G_SOURCE_REMOVE;
}

static void
progress_free (gpointer data)
{
  Progress *progress = data;

  g_object_unref (progress->window);
  g_free (progress);
}

static void
report (Review *review)
{
  Progress *progress = g_new0 (Progress, 1);

  progress->window = g_object_ref (review->window);
  progress->done = review->done;
  progress->total = review->total;
  g_main_context_invoke_full (NULL, G_PRIORITY_DEFAULT, show_progress_cb, progress,
                              progress_free);
}

static gboolean
store_batch (Review     *review,
             GArray     *ids,
             GArray     *probabilities,
             guint       n_classes,
             GError    **error)
{
  gboolean ok = TRUE;

  if (ids->len > 0)
    ok = leaf_catalog_add_predictions (review->catalog, review->model_id,
                                       (const gint64 *) (gpointer) ids->data, ids->len,
                                       (const float *) (gpointer) probabilities->data, n_classes,
                                       error);
  g_array_set_size (ids, 0);
  g_array_set_size (probabilities, 0);
  return ok;
}

static void
review_thread (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  Review *review = task_data;
  LeafImageQuery all = { 0 };
  g_autoptr(LeafPredictor) predictor = NULL;
  g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GArray) probabilities = g_array_new (FALSE, FALSE, sizeof (float));
  g_autofree float *scratch = NULL;
  GError *error = NULL;
  guint n_classes;

  predictor = leaf_predictor_new_from_model (review->model_path, &error);
  if (predictor == NULL || !leaf_catalog_count_images (review->catalog, &all, &review->total,
                                                       &error))
    {
      g_task_return_error (task, error);
      return;
    }
  n_classes = leaf_predictor_get_n_classes (predictor);
  scratch = g_new0 (float, n_classes);

  for (guint offset = 0; offset < review->total; offset += BATCH)
    {
      g_autoptr(GPtrArray) images = leaf_catalog_query_images (review->catalog, &all, offset,
                                                               BATCH, &error);

      if (images == NULL)
        {
          g_task_return_error (task, error);
          return;
        }
      for (guint i = 0; i < images->len; i++)
        {
          LeafCatalogImage *image = g_ptr_array_index (images, i);
          gint64 id = leaf_catalog_image_get_id (image);

          if (g_task_return_error_if_cancelled (task))
            return;
          /* A photo that went missing or cannot be read simply gets no prediction. */
          if (!leaf_catalog_image_get_missing (image)
              && leaf_predictor_predict_file (predictor, leaf_catalog_image_get_path (image),
                                              FALSE, scratch, NULL, NULL))
            {
              g_array_append_val (ids, id);
              g_array_append_vals (probabilities, scratch, n_classes);
            }
          review->done++;
        }
      if (!store_batch (review, ids, probabilities, n_classes, &error))
        {
          g_task_return_error (task, error);
          return;
        }
      report (review);
      if (images->len == 0)
        break;
    }
  g_task_return_boolean (task, TRUE);
}

static void
on_review_finished_cb (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(LeafWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  Review *review = g_task_get_task_data (G_TASK (result));

  gtk_revealer_set_reveal_child (self->task_revealer, FALSE);
  g_clear_object (&self->task_cancellable);
  _leaf_window_update_actions (self);
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      leaf_show_toast_error (GTK_WIDGET (self), error);
      return;
    }
  if (review->catalog == self->catalog)
    leaf_library_view_reload_models (self->library_view);
}

/**
 * _leaf_window_review_model:
 * @self: the window
 * @model_id: a model of the window's catalog
 *
 * Stores @model_id's prediction for every photo, in the background.
 */
void
_leaf_window_review_model (LeafWindow *self,
                           gint64      model_id)
{
  g_autoptr(LeafModelInfo) model = NULL;
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  Review *review;

  if (self->catalog == NULL || self->task_cancellable != NULL)
    return;
  model = leaf_catalog_get_model (self->catalog, model_id, &error);
  if (model == NULL)
    {
      leaf_show_toast_error (GTK_WIDGET (self), error);
      return;
    }

  review = g_new0 (Review, 1);
  review->window = g_object_ref (self);
  review->catalog = g_object_ref (self->catalog);
  review->model_path = g_strdup (model->path);
  review->model_id = model_id;
  self->task_cancellable = g_cancellable_new ();
  gtk_label_set_text (self->task_label, _("Reviewing photos with the new model…"));
  gtk_progress_bar_set_fraction (self->task_progress, 0);
  gtk_revealer_set_reveal_child (self->task_revealer, TRUE);
  _leaf_window_update_actions (self);

  task = g_task_new (NULL, self->task_cancellable, on_review_finished_cb, g_object_ref (self));
  g_task_set_source_tag (task, _leaf_window_review_model);
  g_task_set_task_data (task, review, review_free);
  g_task_run_in_thread (task, review_thread);
}
