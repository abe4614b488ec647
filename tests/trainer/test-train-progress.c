/* test-train-progress.c: the progress and time left a run shows, on made-up epochs
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "leaf-test.h"

#include "leaf-train-progress.h"

/* Every figure a user sees, checked after each event never to go back. */
typedef struct
{
  double fraction;
  double run_fraction;
  double eta;
  double run_eta;
  LeafTrainPhase phase;
} Seen;

static void
check_forward (const LeafTrainProgress *p,
               LeafTrainPhase           phase,
               Seen                    *seen)
{
  g_assert_cmpfloat (p->run_fraction, >=, seen->run_fraction);
  g_assert_cmpfloat (p->run_fraction, <=, 1.0);
  if (phase == seen->phase)
    {
      g_assert_cmpfloat (p->fraction, >=, seen->fraction);
      if (seen->eta >= 0 && p->eta_seconds >= 0)
        g_assert_cmpfloat (p->eta_seconds, <=, seen->eta);
    }
  if (seen->run_eta >= 0 && p->run_eta_seconds >= 0)
    g_assert_cmpfloat (p->run_eta_seconds, <=, seen->run_eta);
  *seen = (Seen) { p->fraction, p->run_fraction, p->eta_seconds, p->run_eta_seconds, phase };
}

/* The phases of a run: their most epochs, and whether early stopping (after 10 epochs without
 * improvement) may end them sooner. */
static void
progress_init (LeafTrainProgress *p,
               guint              head_epochs,
               gboolean           head_early_stopping,
               guint              finetune_epochs,
               gboolean           finetune_early_stopping,
               gboolean           from_scratch)
{
  LeafRecipe recipe;

  leaf_recipe_init_preset (&recipe, LEAF_PRESET_DEFAULT);
  recipe.head_epochs = head_epochs;
  recipe.head_early_stopping = head_early_stopping;
  recipe.finetune_epochs = finetune_epochs;
  recipe.finetune_early_stopping = finetune_early_stopping;
  recipe.patience = 10;
  recipe.from_scratch = from_scratch;
  leaf_train_progress_init (p, &recipe);
}

/* The default preset as the issue saw it: 200 head epochs at most, stopped by early stopping at
 * epoch 23, then 10 fine-tuning epochs. The run's fraction went 46 % then 10 %; now it only
 * grows, and jumps forward when the head phase ends. */
static void
test_early_stopping_jumps_forward (void)
{
  LeafTrainProgress p;
  Seen seen = { 0, 0, -1, -1, LEAF_TRAIN_PHASE_HEAD };

  progress_init (&p, 200, TRUE, 10, TRUE, FALSE);
  g_assert_cmpuint (leaf_train_progress_max_epochs (&p, LEAF_TRAIN_PHASE_HEAD), ==, 200);
  g_assert_cmpuint (leaf_train_progress_max_epochs (&p, LEAF_TRAIN_PHASE_FINETUNE), ==, 10);

  leaf_train_progress_begin_phase (&p, LEAF_TRAIN_PHASE_HEAD);
  g_assert_cmpfloat (p.eta_seconds, <, 0);
  g_assert_cmpuint (p.last_epoch, ==, 200);
  g_assert_cmpuint (p.stop_patience, ==, 10);
  for (guint epoch = 1; epoch <= 23; epoch++)
    {
      /* Improves up to epoch 13; epochs slow down and speed up. */
      leaf_train_progress_add_epoch (&p, epoch % 3 == 0 ? 2.0 : 1.0, epoch <= 13);
      check_forward (&p, LEAF_TRAIN_PHASE_HEAD, &seen);
      g_assert_cmpuint (p.global_epoch, ==, epoch);
      g_assert_cmpfloat (p.eta_seconds, >=, 0);
    }
  g_assert_cmpuint (p.best_epoch, ==, 13);
  g_assert_cmpuint (p.since_best, ==, 10);
  g_assert_cmpfloat_with_epsilon (p.fraction, 23.0 / 200, 1e-12);
  g_assert_cmpfloat_with_epsilon (p.run_fraction, 23.0 / 210, 1e-12);
  /* At most 177 epochs left: the first epochs' 1 s each said 198 s after epoch 2, and the
   * slower epochs since, 4/3 s on average, would say more, so the bound stays. */
  g_assert_cmpfloat_with_epsilon (p.eta_seconds, 198.0, 1e-9);
  /* Fine-tuning's speed is not known yet: neither is the run's time. */
  g_assert_cmpfloat (p.run_eta_seconds, <, 0);

  leaf_train_progress_begin_phase (&p, LEAF_TRAIN_PHASE_FINETUNE);
  check_forward (&p, LEAF_TRAIN_PHASE_FINETUNE, &seen);
  g_assert_cmpfloat_with_epsilon (p.run_fraction, 200.0 / 210, 1e-12);
  g_assert_cmpfloat (p.fraction, ==, 0);
  g_assert_cmpuint (p.last_epoch, ==, 33);
  for (guint epoch = 1; epoch <= 10; epoch++)
    {
      leaf_train_progress_add_epoch (&p, 30.0 + epoch, epoch == 2);
      check_forward (&p, LEAF_TRAIN_PHASE_FINETUNE, &seen);
      g_assert_cmpfloat (p.run_eta_seconds, >=, 0);
      g_assert_cmpfloat (p.run_eta_seconds, ==, p.eta_seconds);
    }
  g_assert_cmpuint (p.best_epoch, ==, 25);
  g_assert_cmpfloat (p.run_fraction, ==, 1.0);
  g_assert_cmpfloat (p.eta_seconds, ==, 0);
}

/* Without early stopping every epoch is kept, the bounds are exact, and with both phases'
 * speeds known the run's time is the sum of both. */
static void
test_fixed_epochs (void)
{
  LeafTrainProgress p;

  progress_init (&p, 4, FALSE, 0, FALSE, FALSE);
  g_assert_cmpuint (leaf_train_progress_max_epochs (&p, LEAF_TRAIN_PHASE_FINETUNE), ==, 0);

  leaf_train_progress_begin_phase (&p, LEAF_TRAIN_PHASE_HEAD);
  g_assert_cmpuint (p.stop_patience, ==, 0);
  leaf_train_progress_add_epoch (&p, 5.0, FALSE);
  g_assert_cmpuint (p.best_epoch, ==, 1);
  g_assert_cmpfloat_with_epsilon (p.fraction, 0.25, 1e-12);
  g_assert_cmpfloat_with_epsilon (p.eta_seconds, 15.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (p.run_eta_seconds, 15.0, 1e-9);
  /* A slower epoch does not make the time left grow. */
  leaf_train_progress_add_epoch (&p, 25.0, FALSE);
  g_assert_cmpfloat_with_epsilon (p.eta_seconds, 15.0, 1e-9);
  leaf_train_progress_add_epoch (&p, 1.0, FALSE);
  g_assert_cmpfloat_with_epsilon (p.eta_seconds, 31.0 / 3, 1e-9);
  g_assert_cmpuint (p.best_epoch, ==, 3);
}

/* From scratch, one phase takes both phases' epochs, as the run trains it. */
static void
test_from_scratch (void)
{
  LeafTrainProgress p;

  progress_init (&p, 3, TRUE, 2, TRUE, TRUE);
  g_assert_cmpuint (leaf_train_progress_max_epochs (&p, LEAF_TRAIN_PHASE_HEAD), ==, 0);
  g_assert_cmpuint (leaf_train_progress_max_epochs (&p, LEAF_TRAIN_PHASE_FINETUNE), ==, 5);
  leaf_train_progress_begin_phase (&p, LEAF_TRAIN_PHASE_FINETUNE);
  leaf_train_progress_add_epoch (&p, 2.0, TRUE);
  g_assert_cmpfloat_with_epsilon (p.run_fraction, 0.2, 1e-12);
  g_assert_cmpfloat_with_epsilon (p.run_eta_seconds, 8.0, 1e-9);
}

int
main (int    argc,
      char **argv)
{
  leaf_test_init (&argc, &argv);

  g_test_add_func ("/train-progress/early-stopping-jumps-forward",
                   test_early_stopping_jumps_forward);
  g_test_add_func ("/train-progress/fixed-epochs", test_fixed_epochs);
  g_test_add_func ("/train-progress/from-scratch", test_from_scratch);
  return g_test_run ();
}
