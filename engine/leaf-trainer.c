/* leaf-trainer.c: the training thread
 *
 * One dedicated thread per trainer runs its training runs, and owns everything libtorch holds
 * for them: the run's model, its optimiser and its tensors, created when the run starts and
 * freed when it ends. It takes one command, start a run; pause, resume and stop are flags the
 * run checks between steps, so a step in flight always completes. The caller's main context
 * receives LeafTrainEvents through the "event" signal.
 *
 * Diagnoses are not made here but on the diagnosis service's thread (leaf-diagnosis-service.c),
 * which owns the models it diagnoses with. So libtorch runs on two threads at once while a
 * photo is diagnosed during training, each on objects no other thread touches, which libtorch
 * allows; they share its pool of compute threads. Served here between two steps instead, a
 * diagnosis would wait for the step in flight (seconds on a CPU) and for the parts of a run
 * that have no steps: loading the base weights, validation, calibration. (The weights store
 * also loads a file into a model of its own, on its import thread, to check it.)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-trainer"

#include "config.h"

#include <glib/gi18n.h>

#include "leaf-error.h"
#include "leaf-post.h"
#include "leaf-run-private.h"
#include "leaf-trainer.h"

G_DEFINE_BOXED_TYPE (LeafTrainEvent, leaf_train_event, leaf_train_event_copy, leaf_train_event_free)

LeafTrainEvent *
leaf_train_event_copy (const LeafTrainEvent *event)
{
  LeafTrainEvent *copy = g_memdup2 (event, sizeof *event);

  copy->message = g_strdup (event->message);
  copy->summary_json = g_strdup (event->summary_json);
  copy->activation_note = g_strdup (event->activation_note);
  copy->error = event->error != NULL ? g_error_copy (event->error) : NULL;
  return copy;
}

void
leaf_train_event_free (LeafTrainEvent *event)
{
  if (event == NULL)
    return;
  g_free (event->message);
  g_free (event->summary_json);
  g_free (event->activation_note);
  g_clear_error (&event->error);
  g_free (event);
}

const char *
leaf_train_phase_to_string (LeafTrainPhase phase)
{
  switch (phase)
    {
    case LEAF_TRAIN_PHASE_PREPARE: return "prepare";
    case LEAF_TRAIN_PHASE_EXTRACT: return "extract";
    case LEAF_TRAIN_PHASE_HEAD: return "head";
    case LEAF_TRAIN_PHASE_FINETUNE: return "finetune";
    case LEAF_TRAIN_PHASE_EVALUATE: return "evaluate";
    default: return "unknown";
    }
}

struct _LeafTrainer
{
  GObject parent_instance;

  char *catalog_path;
  char *models_dir;
  char *cache_dir;
  guint64 cache_max_bytes;
  LeafDistConfig dist;
  GMainContext *context;

  GThread *thread;
  gboolean running; /* from start until the FINISHED event reaches the main context */
  LeafRunControl control;
};

G_DEFINE_FINAL_TYPE (LeafTrainer, leaf_trainer, G_TYPE_OBJECT)

enum {
  SIGNAL_EVENT,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
leaf_trainer_dispose (GObject *object)
{
  LeafTrainer *self = LEAF_TRAINER (object);

  /* Events hold a reference, so nothing is in flight now but a run's unwinding. The last
   * reference may be dropped on the training thread itself, which then ends on its own. */
  if (self->thread != NULL)
    {
      leaf_run_control_quit (&self->control);
      if (g_thread_self () == self->thread)
        g_thread_unref (g_steal_pointer (&self->thread));
      else
        g_thread_join (g_steal_pointer (&self->thread));
    }
  g_clear_pointer ((LeafRunSetup **) &self->control.job, leaf_run_setup_free);

  G_OBJECT_CLASS (leaf_trainer_parent_class)->dispose (object);
}

static void
leaf_trainer_finalize (GObject *object)
{
  LeafTrainer *self = LEAF_TRAINER (object);

  g_clear_pointer (&self->catalog_path, g_free);
  g_clear_pointer (&self->models_dir, g_free);
  g_clear_pointer (&self->cache_dir, g_free);
  leaf_dist_config_clear (&self->dist);
  g_clear_pointer (&self->context, g_main_context_unref);
  leaf_run_control_clear (&self->control);

  G_OBJECT_CLASS (leaf_trainer_parent_class)->finalize (object);
}

static void
leaf_trainer_class_init (LeafTrainerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = leaf_trainer_dispose;
  object_class->finalize = leaf_trainer_finalize;

  /**
   * LeafTrainer::event:
   * @event: what happened
   *
   * Emitted on the main context that was the thread default when the trainer was created.
   */
  signals[SIGNAL_EVENT] =
    g_signal_new ("event", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, LEAF_TYPE_TRAIN_EVENT | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
leaf_trainer_init (LeafTrainer *self)
{
  leaf_run_control_init (&self->control);
  self->context = g_main_context_ref_thread_default ();
  self->cache_max_bytes = G_GUINT64_CONSTANT (4) << 30;
  self->dist.world_size = 1;
}

/**
 * leaf_trainer_new:
 * @catalog_path: the catalog to train on; the training thread opens its own connection
 *
 * Returns: (transfer full): a trainer that reports to the current thread-default main context
 */
LeafTrainer *
leaf_trainer_new (const char *catalog_path)
{
  LeafTrainer *self;

  g_return_val_if_fail (catalog_path != NULL, NULL);

  self = g_object_new (LEAF_TYPE_TRAINER, NULL);
  self->catalog_path = g_strdup (catalog_path);
  return self;
}

/**
 * leaf_trainer_set_models_dir:
 * @models_dir: (nullable): where fine-tuned models are written; %NULL for the folder beside
 *   the catalog
 */
void
leaf_trainer_set_models_dir (LeafTrainer *self,
                             const char  *models_dir)
{
  g_return_if_fail (LEAF_IS_TRAINER (self));
  g_free (self->models_dir);
  self->models_dir = g_strdup (models_dir);
}

/**
 * leaf_trainer_set_cache:
 * @cache_dir: (nullable): the feature cache folder; %NULL for `$XDG_CACHE_HOME/leafscope/features`
 */
void
leaf_trainer_set_cache (LeafTrainer *self,
                        const char  *cache_dir,
                        guint64      max_bytes)
{
  g_return_if_fail (LEAF_IS_TRAINER (self));
  g_free (self->cache_dir);
  self->cache_dir = g_strdup (cache_dir);
  self->cache_max_bytes = max_bytes;
}

/**
 * leaf_trainer_set_distributed:
 * @config: this process's place in a data-parallel run; a world of 1 for an ordinary run
 */
void
leaf_trainer_set_distributed (LeafTrainer          *self,
                              const LeafDistConfig *config)
{
  g_return_if_fail (LEAF_IS_TRAINER (self));
  g_return_if_fail (config != NULL && config->world_size >= 1);
  leaf_dist_config_clear (&self->dist);
  leaf_dist_config_copy (&self->dist, config);
}

typedef struct
{
  LeafTrainer *self;
  LeafTrainEvent *event;
} PostedEvent;

static gboolean
emit_event_cb (gpointer data)
{
  PostedEvent *posted = data;

  if (posted->event->kind == LEAF_TRAIN_EVENT_FINISHED)
    posted->self->running = FALSE;

  g_signal_emit (posted->self, signals[SIGNAL_EVENT], 0, posted->event);
  return G_SOURCE_REMOVE;
}

static void
posted_event_free (gpointer data)
{
  PostedEvent *posted = data;

  g_object_unref (posted->self);
  leaf_train_event_free (posted->event);
  g_free (posted);
}

static void
post_event_cb (const LeafTrainEvent *event,
               gpointer              user_data)
{
  LeafTrainer *self = user_data;
  PostedEvent *posted = g_new0 (PostedEvent, 1);

  posted->self = g_object_ref (self);
  posted->event = leaf_train_event_copy (event);
  leaf_post (self->context, emit_event_cb, posted, posted_event_free,
             "[leafscope] training event");
}

/* Holds no reference: dispose ends the thread before the trainer goes. */
static gpointer
trainer_thread (gpointer data)
{
  LeafTrainer *self = data;
  LeafRunSetup *setup;

  while ((setup = leaf_run_control_next_job (&self->control)) != NULL)
    {
      leaf_run_execute (setup);
      leaf_run_setup_free (setup);
    }
  return NULL;
}

static void
ensure_thread (LeafTrainer *self)
{
  if (self->thread == NULL)
    self->thread = g_thread_new ("leaf-trainer", trainer_thread, self);
}

/**
 * leaf_trainer_start:
 * @recipe: how to train
 * @weights_path: (nullable): base weights; %NULL for the cached official file (ignored when the
 *   recipe trains from scratch)
 *
 * Starts a run on the training thread. Progress and the result arrive as events.
 *
 * Returns: %FALSE when a run is already going or the recipe is invalid
 */
gboolean
leaf_trainer_start (LeafTrainer       *self,
                    const LeafRecipe  *recipe,
                    const char        *weights_path,
                    GError           **error)
{
  LeafRunSetup *setup;

  g_return_val_if_fail (LEAF_IS_TRAINER (self), FALSE);
  g_return_val_if_fail (recipe != NULL, FALSE);

  if (self->running)
    {
      g_set_error_literal (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                           _("A training run is already in progress"));
      return FALSE;
    }
  if (!leaf_recipe_validate (recipe, error))
    return FALSE;

  leaf_run_control_reset (&self->control);
  setup = g_new0 (LeafRunSetup, 1);
  setup->recipe = *recipe;
  setup->catalog_path = g_strdup (self->catalog_path);
  setup->weights_path = g_strdup (weights_path);
  setup->models_dir = g_strdup (self->models_dir);
  setup->cache_dir = g_strdup (self->cache_dir);
  setup->cache_max_bytes = self->cache_max_bytes;
  leaf_dist_config_copy (&setup->dist, &self->dist);
  setup->control = &self->control;
  setup->emit = post_event_cb;
  setup->emit_data = self;

  self->running = TRUE;
  leaf_run_control_push_job (&self->control, setup);
  ensure_thread (self);
  return TRUE;
}

gboolean
leaf_trainer_is_running (LeafTrainer *self)
{
  g_return_val_if_fail (LEAF_IS_TRAINER (self), FALSE);
  return self->running;
}

gboolean
leaf_trainer_is_paused (LeafTrainer *self)
{
  g_return_val_if_fail (LEAF_IS_TRAINER (self), FALSE);
  return self->running && leaf_run_control_is_paused (&self->control);
}

void
leaf_trainer_pause (LeafTrainer *self)
{
  g_return_if_fail (LEAF_IS_TRAINER (self));
  leaf_run_control_set_paused (&self->control, TRUE);
}

void
leaf_trainer_resume (LeafTrainer *self)
{
  g_return_if_fail (LEAF_IS_TRAINER (self));
  leaf_run_control_set_paused (&self->control, FALSE);
}

/**
 * leaf_trainer_stop:
 *
 * Asks the run to stop after the step in flight. The best model so far is kept and the run
 * ends with a FINISHED event as usual.
 */
void
leaf_trainer_stop (LeafTrainer *self)
{
  g_return_if_fail (LEAF_IS_TRAINER (self));
  leaf_run_control_request_stop (&self->control);
}
