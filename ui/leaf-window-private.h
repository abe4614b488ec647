/* leaf-window-private.h: shared by leaf-window.c and its -actions.c, -dnd.c, -review.c and
 * -weights.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "leaf-catalog.h"
#include "leaf-diagnose-view.h"
#include "leaf-library-view.h"
#include "leaf-thumbnailer.h"
#include "leaf-train-view.h"
#include "leaf-trainer.h"
#include "leaf-window.h"

G_BEGIN_DECLS

struct _LeafWindow
{
  AdwApplicationWindow parent_instance;

  GSettings *settings;
  LeafCatalog *catalog;
  GFile *catalog_file;
  LeafThumbnailer *thumbnailer;
  LeafTrainer *trainer;
  GCancellable *task_cancellable;
  gint64 reviewed_model;  /* the model the running review predicts with, or 0 */
  /* An import asked for during a review, which it cancelled: it starts when the review stops. */
  GFile *pending_import;
  char *pending_group_pattern;

  /* Template widgets */
  AdwToastOverlay *toast_overlay;
  AdwHeaderBar *header_bar;
  AdwViewSwitcherTitle *switcher_title;
  GtkToggleButton *sidebar_button;
  GtkToggleButton *search_button;
  GtkButton *undo_button;
  GtkButton *redo_button;
  GtkRevealer *task_revealer;
  GtkRevealer *read_only_revealer;
  GtkLabel *task_label;
  GtkProgressBar *task_progress;
  GtkStack *main_stack;
  AdwViewStack *view_stack;
  LeafLibraryView *library_view;
  LeafTrainView *train_view;
  LeafDiagnoseView *diagnose_view;
  AdwStatusPage *no_catalog_page;
  GtkWidget *drop_hint;

  AdwToast *undo_toast; /* weak: the toast of the last undo or redo, while it is shown */
};

void _leaf_window_class_actions_init (LeafWindowClass *klass);
void _leaf_window_update_actions     (LeafWindow      *self);
void _leaf_window_import_folder      (LeafWindow      *self,
                                      GFile           *folder,
                                      const char      *group_pattern);
void _leaf_window_start_pending_import (LeafWindow    *self);
void _leaf_window_dnd_init           (LeafWindow      *self);
void _leaf_window_review_active_model (LeafWindow     *self);
void _leaf_window_review_model       (LeafWindow      *self,
                                      gint64           model_id);
void _leaf_window_start_training     (LeafWindow      *self,
                                      const char      *weights_path,
                                      gboolean         from_scratch);
gboolean _leaf_window_has_weights (LeafWindow      *self);
void _leaf_window_ask_for_weights    (LeafWindow      *self);

G_END_DECLS
