/* test-trainer.c: whole training runs on a small generated catalog
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "leaf-test.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "leaf-catalog.h"
#include "leaf-diagnosis-service.h"
#include "leaf-engine.h"
#include "leaf-error.h"
#include "leaf-evaluation.h"
#include "leaf-import.h"
#include "leaf-predictor.h"
#include "leaf-trainer.h"
#include "lt.h"

typedef struct
{
  char *dir;
  char *catalog_path;
  char *weights_path;
  char *sample_image;
} Fixture;

typedef struct
{
  GMainLoop *loop;
  GPtrArray *events;     /* LeafTrainEvent */
  LeafTrainer *trainer;
  gboolean stop_after_first_epoch;
} Collector;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(LeafImportSummary) summary = NULL;
  g_autofree char *photos = NULL;
  const char *classes[] = { "red", "green" };
  LtModel *model = NULL;
  char *msg = NULL;

  f->dir = g_dir_make_tmp ("leaf-trainer-XXXXXX", &error);
  g_assert_no_error (error);
  photos = g_build_filename (f->dir, "photos", NULL);
  for (guint c = 0; c < 2; c++)
    {
      g_autofree char *class_dir = g_build_filename (photos, classes[c], NULL);
      g_assert_cmpint (g_mkdir_with_parents (class_dir, 0755), ==, 0);
      for (guint i = 0; i < 12; i++)
        {
          g_autofree char *name = g_strdup_printf ("%s-%02u.png", classes[c], i);
          g_autofree char *path = g_build_filename (class_dir, name, NULL);
          leaf_test_write_class_photo (path, c, c * 100 + i, 72, 80);
          if (f->sample_image == NULL)
            f->sample_image = g_strdup (path);
        }
    }

  f->catalog_path = g_build_filename (f->dir, "test.leafscope", NULL);
  catalog = leaf_catalog_open (f->catalog_path, LEAF_CATALOG_OPEN_CREATE, &error);
  g_assert_no_error (error);
  summary = leaf_import_run (catalog, (const char *[]) { photos, NULL }, NULL, NULL, NULL, NULL,
                             &error);
  g_assert_no_error (error);
  g_assert_cmpuint (summary->n_added, ==, 24);
  g_assert_cmpuint (summary->n_labeled, ==, 24);

  /* Base weights: a seeded random network, as any torchvision-format file would be loaded. */
  g_assert_true (leaf_engine_init_torch (0, &error));
  lt_manual_seed (7);
  g_assert_cmpint (lt_model_new (10, &model, &msg), ==, LT_OK);
  f->weights_path = g_build_filename (f->dir, "base.safetensors", NULL);
  g_assert_cmpint (lt_model_save (model, f->weights_path, NULL, &msg), ==, LT_OK);
  lt_model_free (model);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  leaf_test_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->catalog_path);
  g_free (f->weights_path);
  g_free (f->sample_image);
}

static void
on_event_cb (LeafTrainer    *trainer,
             LeafTrainEvent *event,
             Collector      *c)
{
  g_ptr_array_add (c->events, leaf_train_event_copy (event));
  if (c->stop_after_first_epoch && event->kind == LEAF_TRAIN_EVENT_EPOCH)
    leaf_trainer_stop (trainer);
  if (event->kind == LEAF_TRAIN_EVENT_FINISHED)
    g_main_loop_quit (c->loop);
}

static void
small_recipe (LeafRecipe *recipe)
{
  leaf_recipe_init_preset (recipe, LEAF_PRESET_ARTICLE);
  recipe->image_size = 64;
  recipe->batch_size = 6;
  recipe->head_epochs = 2;
  recipe->finetune_epochs = 2;
  recipe->finetune_lr = recipe->finetune_head_lr = 1e-3;
  recipe->views = 2;
  recipe->seed = 3;
  recipe->val_fraction = 0.25;
}

/* Runs the trainer to its FINISHED event, with a feature cache bounded to cache_bound bytes;
 * returns the events. */
static GPtrArray *
train_bounded (Fixture          *f,
               const LeafRecipe *recipe,
               const char       *cache_dir,
               guint64           cache_bound,
               gboolean          stop_after_first_epoch)
{
  g_autoptr(LeafTrainer) trainer = leaf_trainer_new (f->catalog_path);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GError) error = NULL;
  g_autofree char *cache = g_build_filename (f->dir, cache_dir, NULL);
  Collector c = { loop, g_ptr_array_new_with_free_func ((GDestroyNotify) leaf_train_event_free),
                  trainer, stop_after_first_epoch };

  leaf_trainer_set_cache (trainer, cache, cache_bound);
  g_signal_connect (trainer, "event", G_CALLBACK (on_event_cb), &c);
  g_assert_true (leaf_trainer_start (trainer, recipe, f->weights_path, &error));
  g_assert_no_error (error);
  g_assert_true (leaf_trainer_is_running (trainer));
  /* A second start while one runs is refused. */
  g_assert_false (leaf_trainer_start (trainer, recipe, f->weights_path, NULL));
  g_main_loop_run (loop);
  g_assert_false (leaf_trainer_is_running (trainer));
  return c.events;
}

static GPtrArray *
train (Fixture          *f,
       const LeafRecipe *recipe,
       const char       *cache_dir,
       gboolean          stop_after_first_epoch)
{
  return train_bounded (f, recipe, cache_dir, 1 << 30, stop_after_first_epoch);
}

/* The first message of the run that starts with prefix, or NULL */
static const char *
find_message (GPtrArray  *events,
              const char *prefix)
{
  for (guint i = 0; i < events->len; i++)
    {
      const LeafTrainEvent *e = events->pdata[i];
      if (e->kind == LEAF_TRAIN_EVENT_MESSAGE && g_str_has_prefix (e->message, prefix))
        return e->message;
    }
  return NULL;
}

static const LeafTrainEvent *
finished_event (GPtrArray *events)
{
  const LeafTrainEvent *last = events->pdata[events->len - 1];

  g_assert_cmpint (last->kind, ==, LEAF_TRAIN_EVENT_FINISHED);
  if (last->error != NULL)
    g_error ("training failed: %s", last->error->message);
  g_assert_nonnull (last->summary_json);
  return last;
}

static GArray *
epoch_events (GPtrArray *events)
{
  GArray *epochs = g_array_new (FALSE, FALSE, sizeof (LeafTrainEvent));

  for (guint i = 0; i < events->len; i++)
    {
      const LeafTrainEvent *e = events->pdata[i];
      if (e->kind == LEAF_TRAIN_EVENT_EPOCH)
        g_array_append_val (epochs, *e);
    }
  return epochs;
}

static JsonObject *
parse_summary (JsonParser           *parser,
               const LeafTrainEvent *finished)
{
  g_autoptr(GError) error = NULL;

  json_parser_load_from_data (parser, finished->summary_json, -1, &error);
  g_assert_no_error (error);
  return json_node_get_object (json_parser_get_root (parser));
}

static void
test_run_records_metrics_and_model (Fixture       *f,
                                    gconstpointer  data)
{
  g_autoptr(GPtrArray) events = NULL;
  g_autoptr(GArray) epochs = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(LeafModelInfo) model = NULL;
  g_autoptr(GPtrArray) runs = NULL;
  g_autoptr(GArray) val_loss = NULL;
  g_autoptr(LeafPredictor) predictor = NULL;
  g_autoptr(GError) error = NULL;
  const LeafTrainEvent *finished;
  JsonObject *summary;
  LeafRecipe recipe;
  guint n_steps = 0;
  float probabilities[2];

  small_recipe (&recipe);
  events = train (f, &recipe, "cache", FALSE);
  finished = finished_event (events);
  epochs = epoch_events (events);
  g_assert_cmpuint (epochs->len, ==, 4);
  for (guint i = 0; i < events->len; i++)
    n_steps += ((LeafTrainEvent *) events->pdata[i])->kind == LEAF_TRAIN_EVENT_STEP;
  /* 18 training photos at 6 a batch: 3 steps an epoch. */
  g_assert_cmpuint (n_steps, ==, 12);
  for (guint i = 0; i < epochs->len; i++)
    {
      const LeafTrainEvent *e = &g_array_index (epochs, LeafTrainEvent, i);
      g_assert_cmpint (e->phase, ==, i < 2 ? LEAF_TRAIN_PHASE_HEAD : LEAF_TRAIN_PHASE_FINETUNE);
      g_assert_cmpuint (e->global_epoch, ==, i + 1);
      g_assert_true (isfinite (e->train_loss) && isfinite (e->val_loss));
      g_assert_cmpfloat (e->val_accuracy, >=, 0.0);
      g_assert_cmpfloat (e->val_accuracy, <=, 1.0);
    }

  summary = parse_summary (parser, finished);
  g_assert_cmpstr (json_object_get_string_member (summary, "status"), ==, "completed");
  g_assert_true (g_file_test (json_object_get_string_member (summary, "model"),
                              G_FILE_TEST_IS_REGULAR));
  g_assert_cmpint (json_object_get_int_member (summary, "val_images"), ==, 6);
  /* The article preset keeps its last epoch, and the summary's accuracy is that model's. */
  g_assert_cmpint (json_object_get_int_member (summary, "kept_epoch"), ==, 4);
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (summary, "val_accuracy"),
                                  g_array_index (epochs, LeafTrainEvent, 3).val_accuracy, 1e-6);

  /* The catalog keeps the run, its curves and the model. */
  catalog = leaf_catalog_open (f->catalog_path, LEAF_CATALOG_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  runs = leaf_catalog_list_runs (catalog, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (runs->len, ==, 1);
  g_assert_cmpint (((LeafRunInfo *) runs->pdata[0])->status, ==, LEAF_RUN_COMPLETED);
  val_loss = leaf_catalog_get_metric (catalog, finished->run_id, LEAF_METRIC_EPOCH, "val_loss",
                                      &error);
  g_assert_no_error (error);
  g_assert_cmpuint (val_loss->len, ==, 4);
  model = leaf_catalog_get_latest_model (catalog, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (model->path, ==, json_object_get_string_member (summary, "model"));

  predictor = leaf_predictor_new_from_model (model->path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (leaf_predictor_get_n_classes (predictor), ==, 2);
  g_assert_true (g_strv_contains (leaf_predictor_get_classes (predictor), "red"));
  g_assert_true (g_strv_contains (leaf_predictor_get_classes (predictor), "green"));
  g_assert_true (leaf_predictor_predict_file (predictor, f->sample_image, FALSE, probabilities,
                                              NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat_with_epsilon (probabilities[0] + probabilities[1], 1.0, 1e-5);
}

/* Two runs whose four epochs measured exactly the same */
static void
assert_same_epochs (GPtrArray *x,
                    GPtrArray *y)
{
  g_autoptr(GArray) a = epoch_events (x);
  g_autoptr(GArray) b = epoch_events (y);

  g_assert_cmpuint (a->len, ==, 4);
  g_assert_cmpuint (b->len, ==, 4);
  for (guint i = 0; i < 4; i++)
    {
      const LeafTrainEvent *ea = &g_array_index (a, LeafTrainEvent, i);
      const LeafTrainEvent *eb = &g_array_index (b, LeafTrainEvent, i);

      g_assert_cmpfloat (ea->train_loss, ==, eb->train_loss);
      g_assert_cmpfloat (ea->val_loss, ==, eb->val_loss);
      g_assert_cmpfloat (ea->val_accuracy, ==, eb->val_accuracy);
    }
}

/* Where the feature cache's folder cannot be made, the run keeps the frozen stages in memory,
 * says so, and trains exactly as it does from the cache's memory-mapped tables. */
static void
test_unusable_cache_keeps_rows_in_memory (Fixture       *f,
                                          gconstpointer  data)
{
  g_autoptr(GPtrArray) mapped = NULL;
  g_autoptr(GPtrArray) in_memory = NULL;
  g_autofree char *blocker = g_build_filename (f->dir, "blocker", NULL);
  LeafRecipe recipe;

  small_recipe (&recipe);
  mapped = train (f, &recipe, "cache", FALSE);
  finished_event (mapped);
  /* A file where the cache's parent folder should be. */
  g_assert_true (g_file_set_contents (blocker, "", 0, NULL));
  in_memory = train (f, &recipe, "blocker/cache", FALSE);
  finished_event (in_memory);
  g_assert_nonnull (find_message (in_memory, "The feature cache cannot be used"));
  g_assert_nonnull (find_message (in_memory, "Computed 42 views"));
  assert_same_epochs (mapped, in_memory);
}

/* With and without the cache, a seed gives the same run, up to the fp16 rounding of cached
 * activations; a second cached run reads the cache and repeats the first exactly. */
static void
test_cache_matches_streaming (Fixture       *f,
                              gconstpointer  data)
{
  g_autoptr(GPtrArray) cached = NULL;
  g_autoptr(GPtrArray) again = NULL;
  g_autoptr(GPtrArray) streamed = NULL;
  g_autoptr(GArray) a = NULL, s = NULL;
  gboolean reused = FALSE;
  LeafRecipe recipe;

  small_recipe (&recipe);
  cached = train (f, &recipe, "cache", FALSE);
  again = train (f, &recipe, "cache", FALSE);
  recipe.cache_features = FALSE;
  streamed = train (f, &recipe, "unused-cache", FALSE);
  finished_event (cached);
  finished_event (again);
  finished_event (streamed);

  for (guint i = 0; i < again->len; i++)
    {
      const LeafTrainEvent *e = again->pdata[i];
      reused |= e->kind == LEAF_TRAIN_EVENT_MESSAGE && strstr (e->message, "Reused 42") != NULL;
    }
  g_assert_true (reused);

  assert_same_epochs (cached, again);
  a = epoch_events (cached);
  s = epoch_events (streamed);
  g_assert_cmpuint (s->len, ==, 4);
  for (guint i = 0; i < 4; i++)
    {
      const LeafTrainEvent *ea = &g_array_index (a, LeafTrainEvent, i);
      const LeafTrainEvent *es = &g_array_index (s, LeafTrainEvent, i);

      /* fp16 keeps 11 significant bits: a relative error of about 5e-4 per activation. */
      g_assert_cmpfloat (fabs (ea->train_loss - es->train_loss), <=, 5e-3 * MAX (1.0, es->train_loss));
      g_assert_cmpfloat (fabs (ea->val_loss - es->val_loss), <=, 5e-3 * MAX (1.0, es->val_loss));
      g_assert_cmpfloat (fabs (ea->val_accuracy - es->val_accuracy), <=, 1.0 / 6 + 1e-9);
    }
}

static void
test_stop_keeps_best_so_far (Fixture       *f,
                             gconstpointer  data)
{
  g_autoptr(GPtrArray) events = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GArray) epochs = NULL;
  JsonObject *summary;
  LeafRecipe recipe;

  small_recipe (&recipe);
  recipe.head_epochs = 5;
  events = train (f, &recipe, "cache", TRUE);
  epochs = epoch_events (events);
  g_assert_cmpuint (epochs->len, ==, 1);
  summary = parse_summary (parser, finished_event (events));
  g_assert_cmpstr (json_object_get_string_member (summary, "status"), ==, "stopped");
  g_assert_true (g_file_test (json_object_get_string_member (summary, "model"),
                              G_FILE_TEST_IS_REGULAR));
  g_assert_nonnull (strstr (json_object_get_string_member (summary, "stop_reasons"), "user"));
}

/* The catalog's active model, or 0 when none is. */
static gint64
active_model_id (Fixture *f)
{
  g_autoptr(LeafCatalog) catalog = leaf_catalog_open (f->catalog_path, LEAF_CATALOG_OPEN_DEFAULT,
                                                      NULL);
  g_autoptr(LeafModelInfo) active = leaf_catalog_get_active_model (catalog, NULL);

  return active != NULL ? active->id : 0;
}

/* The model the run recorded: the newest. */
static LeafModelInfo *
run_model (Fixture              *f,
           const LeafTrainEvent *finished)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = leaf_catalog_open (f->catalog_path, LEAF_CATALOG_OPEN_DEFAULT,
                                                      &error);
  LeafModelInfo *model;

  g_assert_no_error (error);
  model = leaf_catalog_get_latest_model (catalog, &error);
  g_assert_no_error (error);
  g_assert_cmpint (model->run_id, ==, finished->run_id);
  /* The event, the summary `train --json` prints and the model's record say the same. */
  g_assert_cmpint (model->active, ==, finished->activated);
  g_assert_cmpstr (model->note, ==, finished->activation_note);
  return model;
}

/* A stopped run keeps its model but does not make it the one Diagnose uses, even when there is
 * none; the first run that completes does. */
static void
test_stopped_run_is_not_made_active (Fixture       *f,
                                     gconstpointer  data)
{
  g_autoptr(GPtrArray) stopped_events = NULL;
  g_autoptr(GPtrArray) events = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(LeafModelInfo) stopped = NULL;
  g_autoptr(LeafModelInfo) completed = NULL;
  const LeafTrainEvent *finished;
  JsonObject *summary;
  LeafRecipe recipe;

  small_recipe (&recipe);
  recipe.head_epochs = 5;
  stopped_events = train (f, &recipe, "cache", TRUE);
  finished = finished_event (stopped_events);
  g_assert_false (finished->activated);
  g_assert_nonnull (strstr (finished->activation_note, "stopped before the end"));
  summary = parse_summary (parser, finished);
  g_assert_false (json_object_get_boolean_member (summary, "activated"));
  g_assert_cmpstr (json_object_get_string_member (summary, "activation_note"), ==,
                   finished->activation_note);
  stopped = run_model (f, finished);
  g_assert_cmpint (stopped->run_status, ==, LEAF_RUN_CANCELLED);
  g_assert_cmpint (active_model_id (f), ==, 0);

  small_recipe (&recipe);
  events = train (f, &recipe, "cache", FALSE);
  finished = finished_event (events);
  g_assert_true (finished->activated);
  g_assert_true (g_str_has_prefix (finished->activation_note, "Diagnose now uses Run 2"));
  completed = run_model (f, finished);
  g_assert_cmpint (active_model_id (f), ==, completed->id);
}

/* Records a copy of the active model's row that claims another validation accuracy (and, when
 * val_set_sha256 is NULL, no record of its photos), and makes it the active model. */
static gint64
activate_claiming (Fixture             *f,
                   const LeafModelInfo *model,
                   double               val_accuracy,
                   const char          *val_set_sha256)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = leaf_catalog_open (f->catalog_path, LEAF_CATALOG_OPEN_DEFAULT,
                                                      &error);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *metrics = NULL;
  gint64 id;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "val_accuracy");
  json_builder_add_double_value (b, val_accuracy);
  if (val_set_sha256 != NULL)
    {
      json_builder_set_member_name (b, "val_set_sha256");
      json_builder_add_string_value (b, val_set_sha256);
    }
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  metrics = json_to_string (root, FALSE);
  id = leaf_catalog_add_model (catalog, 0, model->path, model->sha256,
                               (const char * const *) model->classes, metrics, &error);
  g_assert_no_error (error);
  g_assert_true (leaf_catalog_set_active_model (catalog, id, &error));
  g_assert_no_error (error);
  return id;
}

/* A completed run's model replaces the active one only when it is at least as accurate on the
 * same validation photos: by the accuracies recorded when both runs validated on the same
 * photos, else by measuring the active model on the new run's photos. */
static void
test_only_an_as_accurate_model_replaces_the_active (Fixture       *f,
                                                    gconstpointer  data)
{
  g_autoptr(GPtrArray) first_events = NULL;
  g_autoptr(GPtrArray) worse_events = NULL;
  g_autoptr(GPtrArray) events = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(LeafModelInfo) first = NULL;
  g_autoptr(LeafModelInfo) worse = NULL;
  g_autoptr(LeafModelInfo) measured = NULL;
  const LeafTrainEvent *finished;
  const char *val_set;
  gint64 claimed;
  LeafRecipe recipe;

  small_recipe (&recipe);
  first_events = train (f, &recipe, "cache", FALSE);
  finished = finished_event (first_events);
  g_assert_true (finished->activated);
  first = run_model (f, finished);
  val_set = json_object_get_string_member (parse_summary (parser, finished), "val_set_sha256");
  g_assert_cmpuint (strlen (val_set), ==, 64);

  /* The same photos, and an active model no run can beat. */
  claimed = activate_claiming (f, first, 1.5, val_set);
  worse_events = train (f, &recipe, "cache", FALSE);
  finished = finished_event (worse_events);
  g_assert_false (finished->activated);
  g_assert_nonnull (strstr (finished->activation_note, "but Diagnose still uses Model"));
  g_assert_nonnull (strstr (finished->activation_note, "(150 % on the same photos)"));
  worse = run_model (f, finished);
  g_assert_cmpint (worse->run_status, ==, LEAF_RUN_COMPLETED);
  g_assert_cmpint (active_model_id (f), ==, claimed);

  /* No record of its photos: the claim counts for nothing, the active model (run 1's file) is
   * measured on the new run's photos. The same recipe and seed train the same model again,
   * and a tie replaces it. */
  activate_claiming (f, first, 1.5, NULL);
  events = train (f, &recipe, "cache", FALSE);
  finished = finished_event (events);
  g_assert_true (finished->activated);
  g_assert_true (g_str_has_prefix (finished->activation_note, "Diagnose now uses Run 3"));
  measured = run_model (f, finished);
  g_assert_cmpint (active_model_id (f), ==, measured->id);
  g_assert_null (strstr (finished->activation_note, "150 %"));
}

static void
test_early_stopping_says_why (Fixture       *f,
                              gconstpointer  data)
{
  g_autoptr(GPtrArray) events = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GArray) epochs = NULL;
  JsonObject *summary;
  const char *reasons;
  LeafRecipe recipe;

  small_recipe (&recipe);
  recipe.preset = LEAF_PRESET_DEFAULT;
  recipe.head_epochs = 60;
  recipe.head_early_stopping = TRUE;
  recipe.finetune_early_stopping = TRUE;
  recipe.finetune_epochs = 3;
  recipe.patience = 2;
  /* A rate this high overshoots quickly, so validation loss stops improving. */
  recipe.head_lr = 0.5;
  events = train (f, &recipe, "cache", FALSE);
  summary = parse_summary (parser, finished_event (events));
  epochs = epoch_events (events);
  reasons = json_object_get_string_member (summary, "stop_reasons");
  g_test_message ("stop reasons: %s", reasons);
  g_assert_nonnull (strstr (reasons, "did not improve"));
  g_assert_cmpuint (epochs->len, <, 63);

  /* The kept model is the one with the lowest validation loss of the run. */
  {
    guint kept = json_object_get_int_member (summary, "kept_epoch");
    double best = INFINITY;
    guint best_epoch = 0;
    for (guint i = 0; i < epochs->len; i++)
      {
        const LeafTrainEvent *e = &g_array_index (epochs, LeafTrainEvent, i);
        if (e->val_loss < best)
          {
            best = e->val_loss;
            best_epoch = e->global_epoch;
          }
      }
    g_assert_cmpuint (kept, ==, best_epoch);
  }

  /* What the progress events after epochs say: the run's fraction against both phases' most
   * epochs never goes back, and jumps past the head phase's 60 when early stopping ends it;
   * the time left in a phase never grows; the best epoch is the kept one. */
  {
    const LeafTrainEvent *last = NULL;
    guint n_progress = 0;

    for (guint i = 0; i < events->len; i++)
      {
        const LeafTrainEvent *e = events->pdata[i];

        if (e->kind != LEAF_TRAIN_EVENT_PROGRESS || e->run_fraction < 0)
          continue;
        n_progress++;
        g_assert_cmpuint (e->patience, ==, 2);
        g_assert_cmpuint (e->global_epoch, <=, e->last_epoch);
        if (last != NULL)
          g_assert_cmpfloat (e->run_fraction, >=, last->run_fraction);
        if (last != NULL && last->phase == e->phase)
          g_assert_cmpfloat (e->eta_seconds, <=, last->eta_seconds);
        if (e->phase == LEAF_TRAIN_PHASE_FINETUNE)
          g_assert_cmpfloat (e->run_fraction, >, 60.0 / 63);
        last = e;
      }
    g_assert_cmpuint (n_progress, ==, epochs->len);
    g_assert_cmpuint (last->best_epoch, ==, json_object_get_int_member (summary, "kept_epoch"));
  }
}

static void
test_refuses_a_bad_recipe (void)
{
  g_autoptr(LeafTrainer) trainer = leaf_trainer_new ("/nonexistent.leafscope");
  g_autoptr(GError) error = NULL;
  LeafRecipe recipe;

  leaf_recipe_init_preset (&recipe, LEAF_PRESET_DEFAULT);
  recipe.views = 3;
  g_assert_false (leaf_trainer_start (trainer, &recipe, NULL, &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID);
  g_assert_false (leaf_trainer_is_running (trainer));
}

/* A copy of the fixture's weights whose stem convolution claims the shape [32, 3, 9, 1]: the
 * same bytes as its [32, 3, 3, 3], so the file itself is sound and only the model refuses it. */
static char *
write_wrong_stem (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(JsonArray) shape = json_array_new ();
  g_autofree char *contents = NULL;
  g_autofree char *header = NULL;
  g_autoptr(GString) out = NULL;
  char *path = g_build_filename (f->dir, "wrong-stem.safetensors", NULL);
  const gint64 wrong[] = { 32, 3, 9, 1 };
  JsonObject *stem;
  guint64 n = 0;
  gsize length;

  g_assert_true (g_file_get_contents (f->weights_path, &contents, &length, &error));
  g_assert_no_error (error);
  for (int i = 7; i >= 0; i--)
    n = (n << 8) | (guint8) contents[i];
  g_assert_true (json_parser_load_from_data (parser, contents + 8, (gssize) n, &error));
  g_assert_no_error (error);
  stem = json_object_get_object_member (json_node_get_object (json_parser_get_root (parser)),
                                        "features.0.0.weight");
  g_assert_nonnull (stem);
  for (guint i = 0; i < G_N_ELEMENTS (wrong); i++)
    json_array_add_int_element (shape, wrong[i]);
  json_object_set_array_member (stem, "shape", g_steal_pointer (&shape));
  header = json_to_string (json_parser_get_root (parser), FALSE);

  out = g_string_new (NULL);
  for (int i = 0; i < 8; i++)
    g_string_append_c (out, (char) ((strlen (header) >> (8 * i)) & 0xff));
  g_string_append (out, header);
  g_string_append_len (out, contents + 8 + n, (gssize) (length - 8 - n));
  g_assert_true (g_file_set_contents (path, out->str, (gssize) out->len, &error));
  g_assert_no_error (error);
  return path;
}

/* The model library's own reason reaches the user (it was "unknown error in the model library"
 * for every failure: the message was read before the call that fills it). */
static void
test_wrong_shape_weights_say_why (Fixture       *f,
                                  gconstpointer  data)
{
  g_autoptr(GPtrArray) events = NULL;
  g_autofree char *wrong = write_wrong_stem (f);
  const LeafTrainEvent *finished;
  LeafRecipe recipe;

  small_recipe (&recipe);
  g_free (f->weights_path);
  f->weights_path = g_strdup (wrong);
  events = train (f, &recipe, "cache", FALSE);
  finished = events->pdata[events->len - 1];
  g_assert_cmpint (finished->kind, ==, LEAF_TRAIN_EVENT_FINISHED);
  g_assert_nonnull (finished->error);
  g_test_message ("%s", finished->error->message);
  g_assert_error (finished->error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_MISMATCH);
  g_assert_nonnull (strstr (finished->error->message, "wrong-stem.safetensors"));
  g_assert_nonnull (strstr (finished->error->message, "features.0.0.weight"));
  g_assert_nonnull (strstr (finished->error->message, "[32, 3, 9, 1]"));
  g_assert_null (strstr (finished->error->message, "unknown error"));
}

/* Fine-tuning at a rate this high overflows the activations within an epoch: the run fails and
 * says so, instead of training on NaN (with early stopping it kept the head phase's model and
 * reported success; with NaN from the first epoch, it claimed it stopped before that epoch). */
static void
test_diverging_loss_says_so (Fixture       *f,
                             gconstpointer  data)
{
  g_autoptr(GPtrArray) events = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(GPtrArray) runs = NULL;
  g_autoptr(GError) error = NULL;
  const LeafTrainEvent *finished;
  LeafRecipe recipe;

  small_recipe (&recipe);
  recipe.finetune_lr = recipe.finetune_head_lr = 1e6;
  recipe.finetune_early_stopping = TRUE;
  events = train (f, &recipe, "cache", FALSE);
  finished = events->pdata[events->len - 1];
  g_assert_cmpint (finished->kind, ==, LEAF_TRAIN_EVENT_FINISHED);
  g_assert_nonnull (finished->error);
  g_test_message ("%s", finished->error->message);
  g_assert_error (finished->error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID);
  g_assert_nonnull (strstr (finished->error->message, "The loss became"));
  /* The two head epochs went well; the first fine-tuning epoch is the third. */
  g_assert_nonnull (strstr (finished->error->message, "at epoch 3:"));
  g_assert_nonnull (strstr (finished->error->message, "learning rate"));
  for (guint i = 0; i < events->len; i++)
    {
      const LeafTrainEvent *e = events->pdata[i];
      if (e->kind == LEAF_TRAIN_EVENT_STEP)
        g_assert_true (isfinite (e->loss));
      if (e->kind == LEAF_TRAIN_EVENT_EPOCH)
        g_assert_cmpint (e->phase, ==, LEAF_TRAIN_PHASE_HEAD);
    }

  /* The run's record says why it failed. */
  catalog = leaf_catalog_open (f->catalog_path, LEAF_CATALOG_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  runs = leaf_catalog_list_runs (catalog, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (runs->len, ==, 1);
  g_assert_cmpint (((LeafRunInfo *) runs->pdata[0])->status, ==, LEAF_RUN_FAILED);
  g_assert_cmpstr (((LeafRunInfo *) runs->pdata[0])->message, ==, finished->error->message);
}

typedef struct
{
  GMainLoop *loop;
  LeafTrainer *trainer;
  LeafDiagnosisService *service;
  const char *model;
  const char *image;
  LeafDiagnosisResult *result;
  GError *error;
  gboolean asked;            /* a diagnosis was asked for during the run */
  gboolean served_while_paused;
  gboolean finished;
} DiagnosisProbe;

static void
on_diagnosed_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  DiagnosisProbe *p = user_data;

  p->result = leaf_diagnosis_service_diagnose_finish (LEAF_DIAGNOSIS_SERVICE (source), result,
                                                      &p->error);
  p->served_while_paused = leaf_trainer_is_running (p->trainer) &&
                           leaf_trainer_is_paused (p->trainer);
  leaf_trainer_resume (p->trainer);
}

static void
on_paused_run_event_cb (LeafTrainer    *trainer,
                        LeafTrainEvent *event,
                        DiagnosisProbe *p)
{
  if (event->kind == LEAF_TRAIN_EVENT_EPOCH && !p->asked)
    {
      /* The run waits at its next step while paused; the diagnosis must not wait for it. */
      leaf_trainer_pause (trainer);
      p->asked = TRUE;
      leaf_diagnosis_service_diagnose_file_async (p->service, p->model, LEAF_DIAGNOSE_DEFAULT,
                                                  p->image, NULL, on_diagnosed_cb, p);
    }
  if (event->kind == LEAF_TRAIN_EVENT_FINISHED)
    {
      p->finished = TRUE;
      g_main_loop_quit (p->loop);
    }
}

/* Training and diagnosis have threads of their own: a photo is diagnosed while a run is
 * paused, with the probabilities of a predictor of its own. */
static void
test_diagnosis_does_not_wait_for_a_paused_run (Fixture       *f,
                                               gconstpointer  data)
{
  g_autoptr(GPtrArray) events = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(LeafPredictor) predictor = NULL;
  g_autoptr(LeafTrainer) trainer = leaf_trainer_new (f->catalog_path);
  g_autoptr(LeafDiagnosisService) service = leaf_diagnosis_service_new ();
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GError) error = NULL;
  g_autofree char *cache = g_build_filename (f->dir, "cache", NULL);
  DiagnosisProbe p = { loop, trainer, service, NULL, f->sample_image };
  LeafRecipe recipe;
  float expected[2];

  small_recipe (&recipe);
  events = train (f, &recipe, "cache", FALSE);
  p.model = json_object_get_string_member (parse_summary (parser, finished_event (events)),
                                           "model");
  predictor = leaf_predictor_new_from_model (p.model, &error);
  g_assert_no_error (error);
  g_assert_true (leaf_predictor_predict_file (predictor, f->sample_image, FALSE, expected, NULL,
                                              &error));
  g_assert_no_error (error);

  leaf_trainer_set_cache (trainer, cache, 1 << 30);
  g_signal_connect (trainer, "event", G_CALLBACK (on_paused_run_event_cb), &p);
  g_assert_true (leaf_trainer_start (trainer, &recipe, f->weights_path, &error));
  g_assert_no_error (error);
  g_main_loop_run (loop);
  g_assert_true (p.finished);
  g_assert_true (p.asked);
  g_assert_no_error (p.error);
  g_assert_true (p.served_while_paused);
  g_assert_cmpstr (p.result->model_path, ==, p.model);
  for (guint c = 0; c < 2; c++)
    g_assert_cmpfloat_with_epsilon (p.result->probabilities[c], expected[c], 1e-6);
  leaf_diagnosis_result_free (p.result);
}

/* A model that diagnoses by averaging the eight flips and quarter turns is measured so at the
 * end of its run (from the cache, which then holds all eight views of the validation photos),
 * says so in its file, and diagnoses so in every path: one photo and a batch. The recipe's
 * automatic views are decided from the photos and the record says why. */
static void
test_diagnosis_views (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GPtrArray) events = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(LeafPredictor) predictor = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(LeafEvaluation) evaluation = NULL;
  g_autoptr(GdkPixbuf) photo = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *summary, *recipe;
  LeafRecipe r;
  float one[2], averaged[2], batch[2];
  double accuracy;

  small_recipe (&r);
  r.views = 0;
  r.diagnosis_views = 8;
  events = train (f, &r, "cache", FALSE);
  summary = parse_summary (parser, finished_event (events));
  recipe = json_object_get_object_member (summary, "recipe");
  g_assert_cmpint (json_object_get_int_member (recipe, "views"), ==, 4);
  g_assert_cmpint (json_object_get_int_member (recipe, "diagnosis_views"), ==, 8);
  g_assert_nonnull (strstr (json_object_get_string_member (recipe, "decisions"), "18"));
  /* 18 training photos with 4 views each, and 6 validation photos with 8 */
  g_assert_nonnull (find_message (events, "Computed 120 views"));

  predictor = leaf_predictor_new_from_model (json_object_get_string_member (summary, "model"),
                                             &error);
  g_assert_no_error (error);
  g_assert_cmpuint (leaf_predictor_get_meta (predictor)->diagnosis_views, ==, 8);
  photo = gdk_pixbuf_new_from_file (f->sample_image, &error);
  g_assert_no_error (error);
  g_assert_true (leaf_predictor_predict_pixbuf (predictor, photo, FALSE, one, NULL, &error));
  g_assert_true (leaf_predictor_predict_pixbuf (predictor, photo, TRUE, averaged, NULL, &error));
  g_assert_true (leaf_predictor_predict_batch (predictor, &photo, 1, batch, NULL, &error));
  g_assert_no_error (error);
  for (guint c = 0; c < 2; c++)
    {
      g_assert_cmpfloat_with_epsilon (one[c], averaged[c], 1e-6);
      g_assert_cmpfloat_with_epsilon (batch[c], averaged[c], 1e-5);
    }

  /* The run's figure is the model's on its validation photos as Diagnose sees them (within a
   * photo: the cache holds the frozen stages in half precision). */
  catalog = leaf_catalog_open (f->catalog_path, LEAF_CATALOG_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  evaluation = leaf_evaluation_run_split (predictor, catalog, LEAF_SPLIT_VALIDATION, FALSE,
                                          &error);
  g_assert_no_error (error);
  accuracy = json_object_get_double_member (summary, "val_accuracy");
  g_assert_cmpfloat (fabs (evaluation->metrics->accuracy - accuracy), <=, 1.0 / 6 + 1e-9);
}

/* A cache bound smaller than one run's views used to evict the run's first views while it
 * stored its last, so the next run computed them all again. The bound now follows the run,
 * and the run says what it takes on disk. */
static void
test_cache_keeps_the_last_run (Fixture       *f,
                               gconstpointer  data)
{
  g_autoptr(GPtrArray) first = NULL;
  g_autoptr(GPtrArray) second = NULL;
  LeafRecipe recipe;

  small_recipe (&recipe);
  first = train_bounded (f, &recipe, "cache", 1, FALSE);
  finished_event (first);
  g_assert_nonnull (find_message (first, "The frozen stages of this run take"));
  /* 18 training photos x 2 views and 6 validation photos */
  g_assert_nonnull (find_message (first, "Computed 42 views"));

  second = train_bounded (f, &recipe, "cache", 1, FALSE);
  finished_event (second);
  g_assert_nonnull (find_message (second, "Reused 42 cached views"));
  g_assert_null (find_message (second, "Computed"));
}

/* What the files below dir take. */
static guint64
tree_size (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  guint64 size = 0;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      GStatBuf st;

      if (g_lstat (path, &st) != 0)
        continue;
      size += S_ISDIR (st.st_mode) ? tree_size (path) : (guint64) st.st_size;
    }
  return size;
}

/* A catalog made again at the same path shares the feature cache's tables with the one before
 * it: the next run reuses the rows of the photos they share and writes the tables again without
 * the rest. */
static void
test_cache_compacts_rows_no_photo_needs (Fixture       *f,
                                         gconstpointer  data)
{
  g_autofree char *photos = g_build_filename (f->dir, "photos", NULL);
  g_autofree char *cache = g_build_filename (f->dir, "cache", NULL);
  g_autoptr(GPtrArray) first = NULL;
  g_autoptr(GPtrArray) second = NULL;
  g_autoptr(GError) error = NULL;
  guint64 before, after;
  LeafRecipe recipe;

  small_recipe (&recipe);
  first = train (f, &recipe, "cache", FALSE);
  finished_event (first);
  g_assert_null (find_message (first, "The feature cache gave back"));
  before = tree_size (cache);

  /* The same path, a third of the photos fewer. */
  g_assert_cmpint (g_unlink (f->catalog_path), ==, 0);
  for (guint c = 0; c < 2; c++)
    for (guint i = 8; i < 12; i++)
      {
        g_autofree char *name = g_strdup_printf ("%s-%02u.png", c == 0 ? "red" : "green", i);
        g_autofree char *path = g_build_filename (photos, c == 0 ? "red" : "green", name, NULL);

        g_assert_cmpint (g_unlink (path), ==, 0);
      }
  {
    g_autoptr(LeafCatalog) catalog = leaf_catalog_open (f->catalog_path, LEAF_CATALOG_OPEN_CREATE,
                                                        &error);
    g_autoptr(LeafImportSummary) summary = NULL;

    g_assert_no_error (error);
    summary = leaf_import_run (catalog, (const char *[]) { photos, NULL }, NULL, NULL, NULL, NULL,
                               &error);
    g_assert_no_error (error);
    g_assert_cmpuint (summary->n_added, ==, 16);
  }

  second = train (f, &recipe, "cache", FALSE);
  finished_event (second);
  g_assert_nonnull (find_message (second, "The feature cache gave back"));
  after = tree_size (cache);
  g_assert_cmpuint (after, <, before);
}

typedef struct
{
  GMainLoop *loop;
  GThread *owner;
  guint n_events;
  guint n_elsewhere;
} ThreadWatch;

static void
on_event_count_thread_cb (LeafTrainer    *trainer,
                          LeafTrainEvent *event,
                          ThreadWatch    *w)
{
  w->n_events++;
  w->n_elsewhere += g_thread_self () != w->owner;
  if (event->kind == LEAF_TRAIN_EVENT_FINISHED)
    g_main_loop_quit (w->loop);
}

/* Events reach their handlers in the thread that started the run, also while that thread is
 * not running its loop (a window being destroyed, say): handlers touch widgets. */
static void
test_events_on_the_starting_thread (Fixture       *f,
                                    gconstpointer  data)
{
  g_autoptr(LeafTrainer) trainer = leaf_trainer_new (f->catalog_path);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GError) error = NULL;
  ThreadWatch w = { loop, g_thread_self (), 0, 0 };
  LeafRecipe recipe;

  small_recipe (&recipe);
  g_signal_connect (trainer, "event", G_CALLBACK (on_event_count_thread_cb), &w);
  g_assert_true (leaf_trainer_start (trainer, &recipe, f->weights_path, &error));
  g_assert_no_error (error);
  /* The run posts its first events while this thread does other things than its loop. */
  for (guint i = 0; i < 40 && w.n_events == 0; i++)
    g_usleep (50000);
  g_main_loop_run (loop);
  g_assert_cmpuint (w.n_events, >, 0);
  g_assert_cmpuint (w.n_elsewhere, ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  leaf_test_init (&argc, &argv);

#define ADD(path, func) \
  g_test_add ("/trainer/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  g_test_add_func ("/trainer/refuses-a-bad-recipe", test_refuses_a_bad_recipe);
  ADD ("run-records-metrics-and-model", test_run_records_metrics_and_model);
  ADD ("events-on-the-starting-thread", test_events_on_the_starting_thread);
  ADD ("cache-matches-streaming", test_cache_matches_streaming);
  ADD ("diagnosis-views", test_diagnosis_views);
  ADD ("cache-keeps-the-last-run", test_cache_keeps_the_last_run);
  ADD ("cache-compacts-rows-no-photo-needs", test_cache_compacts_rows_no_photo_needs);
  ADD ("unusable-cache-keeps-rows-in-memory", test_unusable_cache_keeps_rows_in_memory);
  ADD ("stop-keeps-best-so-far", test_stop_keeps_best_so_far);
  ADD ("diagnosis-does-not-wait-for-a-paused-run", test_diagnosis_does_not_wait_for_a_paused_run);
  ADD ("early-stopping-says-why", test_early_stopping_says_why);
  ADD ("wrong-shape-weights-say-why", test_wrong_shape_weights_say_why);
  ADD ("diverging-loss-says-so", test_diverging_loss_says_so);
  ADD ("stopped-run-is-not-made-active", test_stopped_run_is_not_made_active);
  ADD ("only-an-as-accurate-model-replaces-the-active",
       test_only_an_as_accurate_model_replaces_the_active);

  return g_test_run ();
}
