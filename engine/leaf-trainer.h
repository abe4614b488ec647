/* leaf-trainer.h: the thread that trains, and owns the libtorch objects of its runs
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "leaf-dist.h"
#include "leaf-recipe.h"

G_BEGIN_DECLS

typedef enum
{
  LEAF_TRAIN_PHASE_PREPARE,  /* reading the catalog and the base weights */
  LEAF_TRAIN_PHASE_EXTRACT,  /* computing (or loading) the frozen stages' activations */
  LEAF_TRAIN_PHASE_HEAD,     /* phase 1: the new head on the frozen backbone */
  LEAF_TRAIN_PHASE_FINETUNE, /* phase 2: the last stages and the head */
  LEAF_TRAIN_PHASE_EVALUATE, /* final metrics of the kept model */
} LeafTrainPhase;

typedef enum
{
  LEAF_TRAIN_EVENT_PHASE,    /* a phase starts; message says why the previous one stopped */
  LEAF_TRAIN_EVENT_STEP,     /* one optimisation step: loss */
  LEAF_TRAIN_EVENT_EPOCH,    /* one epoch: training and validation loss and accuracy */
  LEAF_TRAIN_EVENT_PROGRESS, /* fractions of the phase and run done, speed, time left */
  LEAF_TRAIN_EVENT_MESSAGE,  /* something the user should read (a skipped photo, a warning) */
  LEAF_TRAIN_EVENT_FINISHED, /* the run ended: summary_json, or error */
} LeafTrainEventKind;

#define LEAF_TYPE_TRAIN_EVENT (leaf_train_event_get_type ())

typedef struct
{
  LeafTrainEventKind kind;
  LeafTrainPhase phase;
  gint64 run_id;
  guint epoch;          /* within the phase, from 1 */
  guint global_epoch;   /* across phases, from 1 */
  guint64 step;         /* across the run, from 1 */
  double loss;
  double train_loss;
  double train_accuracy;
  double val_loss;
  double val_accuracy;
  double learning_rate;
  double epoch_seconds; /* EPOCH: how long the epoch took, validation included */
  double fraction;      /* of the current phase, 0..1 */
  double run_fraction;  /* PROGRESS: of the training phases, never going back; < 0 before them */
  double images_per_second;
  double eta_seconds;   /* at most this long left in the phase; < 0 before it is measured */
  double run_eta_seconds; /* at most this long left in the training phases; < 0 when unknown */
  guint last_epoch;     /* PROGRESS: global number of the phase's last possible epoch */
  guint best_epoch;     /* PROGRESS: global number of the epoch kept so far */
  guint patience;       /* PROGRESS: epochs without improvement that end the phase; 0: none */
  char *message;
  char *summary_json;   /* FINISHED: the run's summary */
  GError *error;        /* FINISHED: why the run failed, or NULL */
  gboolean activated;   /* FINISHED: whether its model became the catalog's active model */
  char *activation_note; /* FINISHED: why it did or did not, for the user; NULL without a model */
} LeafTrainEvent;

GType           leaf_train_event_get_type  (void) G_GNUC_CONST;
LeafTrainEvent *leaf_train_event_copy      (const LeafTrainEvent *event);
void            leaf_train_event_free      (LeafTrainEvent       *event);
const char     *leaf_train_phase_to_string (LeafTrainPhase        phase);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LeafTrainEvent, leaf_train_event_free)

#define LEAF_TYPE_TRAINER (leaf_trainer_get_type ())

G_DECLARE_FINAL_TYPE (LeafTrainer, leaf_trainer, LEAF, TRAINER, GObject)

LeafTrainer *leaf_trainer_new          (const char        *catalog_path);
gboolean     leaf_trainer_start        (LeafTrainer       *self,
                                        const LeafRecipe  *recipe,
                                        const char        *weights_path,
                                        GError           **error);
void         leaf_trainer_pause        (LeafTrainer       *self);
void         leaf_trainer_resume       (LeafTrainer       *self);
void         leaf_trainer_stop         (LeafTrainer       *self);
gboolean     leaf_trainer_is_running   (LeafTrainer       *self);
gboolean     leaf_trainer_is_paused    (LeafTrainer       *self);
void         leaf_trainer_set_models_dir (LeafTrainer     *self,
                                        const char        *models_dir);
void         leaf_trainer_set_cache    (LeafTrainer       *self,
                                        const char        *cache_dir,
                                        guint64            max_bytes);
void         leaf_trainer_set_distributed (LeafTrainer    *self,
                                        const LeafDistConfig *config);

G_END_DECLS
