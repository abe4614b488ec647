/* leaf-window-review.c: a model's predictions for every photo of the catalog
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The Library's suggestions, its Disagreements and Uncertain filters, and the photos behind a
 * confusion-matrix cell, read predictions stored in the catalog. Whenever the active model has
 * photos it has not reviewed (it became active by its run or by the user's choice, the catalog
 * was opened, photos were added), the diagnosis service diagnoses them with it and stores the
 * results in batches, so that the grid fills up while it works; progress shows under the header
 * bar, where it can be cancelled.
 */

#define G_LOG_DOMAIN "leaf-window"

#include "config.h"

#include <glib/gi18n.h>

#include "leaf-active-model.h"
#include "leaf-diagnosis-service.h"
#include "leaf-toast.h"
#include "leaf-window-private.h"

typedef struct
{
  LeafWindow *window;
  LeafCatalog *catalog; /* the window may have opened another one since */
  gint64 model_id;
} Review;

static void
review_free (Review *review)
{
  g_clear_object (&review->window);
  g_clear_object (&review->catalog);
  g_free (review);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Review, review_free)

/* Called between two batches, before the review ends: the review holds the window. */
static void
on_review_progress_cb (guint    done,
                       guint    total,
                       gpointer user_data)
{
  LeafWindow *self = user_data;
  g_autofree char *text = NULL;

  text = g_strdup_printf (ngettext ("Predicting photos with the model Diagnose uses… %u of %u",
                                    "Predicting photos with the model Diagnose uses… %u of %u",
                                    total),
                          done, total);
  gtk_label_set_text (self->task_label, text);
  gtk_progress_bar_set_fraction (self->task_progress, total ? (double) done / total : 0);
}

static void
on_review_finished_cb (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(Review) review = user_data;
  LeafWindow *self = review->window;
  g_autoptr(LeafModelInfo) active = NULL;
  g_autoptr(GError) error = NULL;

  gtk_revealer_set_reveal_child (self->task_revealer, FALSE);
  g_clear_object (&self->task_cancellable);
  self->reviewed_model = 0;
  _leaf_window_update_actions (self);
  if (!leaf_diagnosis_service_review_catalog_finish (LEAF_DIAGNOSIS_SERVICE (source), result,
                                                     &error)
      && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      leaf_show_toast_error (GTK_WIDGET (self), error);
      return;
    }
  if (review->catalog == self->catalog && self->library_view != NULL)
    leaf_library_view_reload_models (self->library_view);
  if (self->pending_import != NULL)
    {
      /* The import this review made way for; the review resumes when it ends. */
      _leaf_window_start_pending_import (self);
      return;
    }
  /* Another catalog or another model, which turned up meanwhile and cancelled this review, has
   * its turn now; a review the user cancelled stays as it is. */
  active = self->catalog ? leaf_active_model_get (self->catalog) : NULL;
  if (review->catalog != self->catalog || (active != NULL && active->id != review->model_id))
    _leaf_window_review_active_model (self);
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
  Review *review;

  if (self->catalog == NULL || self->task_cancellable != NULL)
    return;

  review = g_new0 (Review, 1);
  review->window = g_object_ref (self);
  review->catalog = g_object_ref (self->catalog);
  review->model_id = model_id;
  self->task_cancellable = g_cancellable_new ();
  self->reviewed_model = model_id;
  gtk_label_set_text (self->task_label, _("Predicting photos with the model Diagnose uses…"));
  gtk_progress_bar_set_fraction (self->task_progress, 0);
  gtk_revealer_set_reveal_child (self->task_revealer, TRUE);
  _leaf_window_update_actions (self);

  leaf_diagnosis_service_review_catalog_async (leaf_diagnosis_service_get_default (),
                                               self->catalog, model_id, on_review_progress_cb,
                                               self, self->task_cancellable,
                                               on_review_finished_cb, review);
}

/**
 * _leaf_window_review_active_model:
 * @self: the window
 *
 * Reviews the photos the active model has not reviewed yet, if any can be: a photo that is
 * missing gets no prediction.
 */
void
_leaf_window_review_active_model (LeafWindow *self)
{
  g_autoptr(LeafModelInfo) model = NULL;
  LeafImageQuery unreviewed = { .unreviewed_only = TRUE };
  guint n_unreviewed = 0, n_missing = 0;

  /* A catalog this user may only read keeps the predictions its members stored. */
  if (self->catalog == NULL || leaf_catalog_is_read_only (self->catalog) ||
      (model = leaf_active_model_get (self->catalog)) == NULL)
    return;
  /* Predictions of a model no longer in use can wait: its review makes way, and this one starts
   * when it has stopped. */
  if (self->reviewed_model > 0 && self->reviewed_model != model->id)
    {
      g_cancellable_cancel (self->task_cancellable);
      return;
    }
  unreviewed.model_id = model->id;
  if (!leaf_catalog_count_images (self->catalog, &unreviewed, &n_unreviewed, NULL))
    return;
  unreviewed.missing_only = TRUE;
  if (n_unreviewed > 0 && leaf_catalog_count_images (self->catalog, &unreviewed, &n_missing, NULL)
      && n_unreviewed > n_missing)
    _leaf_window_review_model (self, model->id);
}
