/* leaf-train-view.h: the recipe, live training curves, and the results of past runs
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

#include "leaf-catalog.h"
#include "leaf-chart.h"
#include "leaf-confusion.h"
#include "leaf-recipe.h"
#include "leaf-trainer.h"

G_BEGIN_DECLS

#define LEAF_TYPE_TRAIN_VIEW (leaf_train_view_get_type ())
G_DECLARE_FINAL_TYPE (LeafTrainView, leaf_train_view, LEAF, TRAIN_VIEW, GtkWidget)

GtkWidget     *leaf_train_view_new           (void);
void           leaf_train_view_set_catalog   (LeafTrainView    *self,
                                              LeafCatalog      *catalog);
void           leaf_train_view_set_recipe    (LeafTrainView    *self,
                                              const LeafRecipe *recipe);
void           leaf_train_view_get_recipe    (LeafTrainView    *self,
                                              LeafRecipe       *recipe);

/* What a running trainer feeds the view with; leaf_train_view_handle_event() dispatches a
 * LeafTrainer::event to them. */
void           leaf_train_view_begin_run     (LeafTrainView    *self);
void           leaf_train_view_set_phase     (LeafTrainView    *self,
                                              LeafTrainPhase    phase,
                                              const char       *message);
void           leaf_train_view_add_step      (LeafTrainView    *self,
                                              guint64           step,
                                              double            loss);
void           leaf_train_view_add_epoch     (LeafTrainView    *self,
                                              guint             epoch,
                                              double            train_loss,
                                              double            train_accuracy,
                                              double            val_loss,
                                              double            val_accuracy);
void           leaf_train_view_set_progress  (LeafTrainView        *self,
                                              const LeafTrainEvent *event);
void           leaf_train_view_add_message   (LeafTrainView    *self,
                                              const char       *message);
void           leaf_train_view_set_paused    (LeafTrainView    *self,
                                              gboolean          paused);
void           leaf_train_view_end_run       (LeafTrainView    *self,
                                              gint64            run_id,
                                              const GError     *error);
void           leaf_train_view_handle_event  (LeafTrainView        *self,
                                              const LeafTrainEvent *event);

/* Export Model… and Import Model… of the history, once the user chose a file. */
void           leaf_train_view_export_model  (LeafTrainView    *self,
                                              gint64            model_id,
                                              GFile            *file);
void           leaf_train_view_import_model  (LeafTrainView    *self,
                                              GFile            *file);

/* What the view shows, for tests and accessibility checks. */
LeafChart     *leaf_train_view_get_chart     (LeafTrainView    *self,
                                              const char       *name);
LeafConfusion *leaf_train_view_get_confusion (LeafTrainView    *self);
gboolean       leaf_train_view_is_running    (LeafTrainView    *self);

G_END_DECLS
