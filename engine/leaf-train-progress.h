/* leaf-train-progress.h: how far a run is, and how long it may still take, from its epochs
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

#include "leaf-recipe.h"
#include "leaf-trainer.h"

G_BEGIN_DECLS

/**
 * LeafTrainProgress:
 *
 * What is known about a run's training phases as their epochs end. Early stopping may end a
 * phase at any epoch, so the bounds are the phase's most epochs: the fractions count the epochs
 * early stopping skipped as done (they jump forward, never back), and the times are upper
 * bounds at the seconds per epoch measured so far, which never grow. A plain struct: the run
 * keeps one on its thread and copies its figures into its progress events.
 */
typedef struct
{
  /*< private >*/
  guint n_phases;
  LeafTrainPhase phases[2];    /* HEAD, FINETUNE or both, in that order */
  guint max_epochs[2];
  gboolean early_stopping[2];
  double seconds_per_epoch[2]; /* measured; 0 before the phase's first epoch */
  guint patience;
  int current;                 /* index of the phase under way; -1 before the first */
  guint done_before;           /* the epochs of the finished phases, skipped ones included */
  guint total;

  /*< public >*/
  guint epoch;                 /* epochs ended in the current phase */
  guint global_epoch;          /* across phases, as the charts number them */
  guint best_epoch;            /* global number of the kept epoch, 0 before one is */
  guint since_best;            /* epochs without improvement, with early stopping */
  guint last_epoch;            /* global number of the phase's last possible epoch */
  guint stop_patience;         /* epochs without improvement that end the phase; 0 without */
  double fraction;             /* of the current phase, 0..1 */
  double run_fraction;         /* of the run's training phases, 0..1 */
  double eta_seconds;          /* at most this long left in the phase; < 0 when unknown */
  double run_eta_seconds;      /* at most this long left in the run; < 0 when unknown */
} LeafTrainProgress;

void leaf_train_progress_init        (LeafTrainProgress *self,
                                      const LeafRecipe  *recipe);
guint leaf_train_progress_max_epochs (const LeafTrainProgress *self,
                                      LeafTrainPhase           phase);
void leaf_train_progress_begin_phase (LeafTrainProgress *self,
                                      LeafTrainPhase     phase);
void leaf_train_progress_add_epoch   (LeafTrainProgress *self,
                                      double             seconds,
                                      gboolean           improved);

G_END_DECLS
