/* leaf-train-progress.c: how far a run is, and how long it may still take, from its epochs
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A phase with early stopping ends when it stops improving, which no one knows in advance: a
 * fraction against the epochs run so far plus the patience goes back whenever the phase
 * improves. Against the phase's most epochs it only goes forward, and when early stopping ends
 * the phase the epochs it skipped count as done, so the run's fraction jumps forward. The time
 * left is the same bound at the measured seconds per epoch: an upper bound, kept from growing
 * when an epoch is slower than the ones before, so that the user never sees it go back.
 */

#include "config.h"

#include "leaf-train-progress.h"

/* The phases leaf-run.c trains, with their most epochs: the head on the frozen backbone unless
 * training from scratch, then fine-tuning, which from scratch takes both phases' epochs. */
void
leaf_train_progress_init (LeafTrainProgress *self,
                          const LeafRecipe  *recipe)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (recipe != NULL);

  *self = (LeafTrainProgress) { .current = -1, .eta_seconds = -1, .run_eta_seconds = -1 };
  self->patience = recipe->patience;
  if (recipe->head_epochs > 0 && !recipe->from_scratch)
    {
      self->phases[self->n_phases] = LEAF_TRAIN_PHASE_HEAD;
      self->max_epochs[self->n_phases] = recipe->head_epochs;
      self->early_stopping[self->n_phases++] = recipe->head_early_stopping;
    }
  if (recipe->finetune_epochs > 0 || recipe->from_scratch)
    {
      self->phases[self->n_phases] = LEAF_TRAIN_PHASE_FINETUNE;
      self->max_epochs[self->n_phases] = recipe->from_scratch
                                         ? recipe->head_epochs + recipe->finetune_epochs
                                         : recipe->finetune_epochs;
      self->early_stopping[self->n_phases++] = recipe->finetune_early_stopping;
    }
  for (guint i = 0; i < self->n_phases; i++)
    self->total += self->max_epochs[i];
}

static int
phase_index (const LeafTrainProgress *self,
             LeafTrainPhase           phase)
{
  for (guint i = 0; i < self->n_phases; i++)
    if (self->phases[i] == phase)
      return i;
  return -1;
}

/* The most epochs the recipe gives @phase; 0 when the run skips it. */
guint
leaf_train_progress_max_epochs (const LeafTrainProgress *self,
                                LeafTrainPhase           phase)
{
  int index = phase_index (self, phase);

  return index >= 0 ? self->max_epochs[index] : 0;
}

/* At most this long for what is left of the run, or < 0 while a phase to come has no measured
 * speed: fine-tuning runs the unfrozen stages, far slower than the head alone. */
static double
run_bound (const LeafTrainProgress *self)
{
  double seconds = self->eta_seconds;

  if (seconds < 0)
    return -1;
  for (guint i = self->current + 1; i < self->n_phases; i++)
    {
      if (self->seconds_per_epoch[i] <= 0)
        return -1;
      seconds += self->max_epochs[i] * self->seconds_per_epoch[i];
    }
  return seconds;
}

static void
update (LeafTrainProgress *self)
{
  guint max = self->max_epochs[self->current];
  double phase_left = self->epoch > 0 ? (max - MIN (self->epoch, max))
                                        * self->seconds_per_epoch[self->current] : -1;
  double run_left;

  self->fraction = max > 0 ? (double) MIN (self->epoch, max) / max : 1.0;
  self->run_fraction = self->total > 0
                       ? (double) MIN (self->done_before + self->epoch, self->total) / self->total
                       : 1.0;
  self->eta_seconds = self->eta_seconds >= 0 && phase_left >= 0
                      ? MIN (self->eta_seconds, phase_left) : phase_left;
  run_left = run_bound (self);
  self->run_eta_seconds = self->run_eta_seconds >= 0 && run_left >= 0
                          ? MIN (self->run_eta_seconds, run_left) : run_left;
}

/**
 * leaf_train_progress_begin_phase:
 * @phase: %LEAF_TRAIN_PHASE_HEAD or %LEAF_TRAIN_PHASE_FINETUNE, one the recipe trains
 *
 * Whatever epochs the previous phase left unused, early stopping having ended it, count as done.
 */
void
leaf_train_progress_begin_phase (LeafTrainProgress *self,
                                 LeafTrainPhase     phase)
{
  int index = phase_index (self, phase);

  g_return_if_fail (index > self->current);

  for (int i = MAX (self->current, 0); i < index; i++)
    self->done_before += self->max_epochs[i];
  self->current = index;
  self->epoch = 0;
  self->since_best = 0;
  self->last_epoch = self->global_epoch + self->max_epochs[index];
  self->stop_patience = self->early_stopping[index] ? self->patience : 0;
  /* A new phase measures its own speed; the run's bound waits for it. */
  self->eta_seconds = -1;
  update (self);
}

/**
 * leaf_train_progress_add_epoch:
 * @seconds: how long the epoch took, validation included
 * @improved: whether its validation loss was the best of the run so far
 */
void
leaf_train_progress_add_epoch (LeafTrainProgress *self,
                               double             seconds,
                               gboolean           improved)
{
  int i = self->current;

  g_return_if_fail (i >= 0);

  self->seconds_per_epoch[i] = (self->seconds_per_epoch[i] * self->epoch + MAX (seconds, 0))
                               / (self->epoch + 1);
  self->epoch++;
  self->global_epoch++;
  /* Without early stopping the last epoch is the one kept. */
  if (improved || !self->early_stopping[i])
    {
      self->best_epoch = self->global_epoch;
      self->since_best = 0;
    }
  else
    self->since_best++;
  update (self);
}
