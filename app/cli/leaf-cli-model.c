/* leaf-cli-model.c: `leafscope-cli train`, `predict`, `evaluate`, `split`, `next` and `model-card`
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "leaf-catalog.h"
#include "leaf-cli.h"
#include "leaf-diagnosis-service.h"
#include "leaf-engine.h"
#include "leaf-error.h"
#include "leaf-evaluation.h"
#include "leaf-image.h"
#include "leaf-json.h"
#include "leaf-model-card.h"
#include "leaf-next.h"
#include "leaf-predictor.h"
#include "leaf-trainer.h"

static void
print_json (JsonNode *node)
{
  g_autofree char *text = json_to_string (node, FALSE);
  printf ("%s\n", text);
  fflush (stdout);
}

/* Only records the choice: the device is set up, and found missing, when a command first needs
 * the network, so that commands which never compute (models list) work whatever --device says. */
gboolean
leaf_cli_use_device (LeafCli  *cli,
                     GError  **error)
{
  return leaf_engine_set_device (cli->device, LEAF_DEVICE_SOURCE_COMMAND_LINE, error);
}

/* train -------------------------------------------------------------------------------------- */

typedef struct
{
  GMainLoop *loop;
  LeafTrainer *trainer;
  gboolean json;
  gboolean progress_bar;
  int status;
  guint n_interrupts;
  LeafTrainPhase logged_phase; /* of the last progress line without a terminal */
  gint64 logged_at;            /* monotonic µs; 0 before the first */
} TrainState;

/* Without a terminal, progress goes to a log or a pipe, one line per report: the first of each
 * phase, its end, and one every few seconds between, so that a long feature pass shows it is
 * alive without flooding the log. */
#define PROGRESS_LINE_SECONDS 5

static gboolean
progress_line_due (TrainState           *state,
                   const LeafTrainEvent *e)
{
  gint64 now = g_get_monotonic_time ();

  if (state->logged_at != 0 && e->phase == state->logged_phase && e->fraction < 1.0 &&
      now - state->logged_at < PROGRESS_LINE_SECONDS * G_USEC_PER_SEC)
    return FALSE;
  state->logged_phase = e->phase;
  state->logged_at = now;
  return TRUE;
}

static void
clear_progress_line (TrainState *state)
{
  if (state->progress_bar)
    fprintf (stderr, "\r\033[K");
}

static void
print_event_json (const LeafTrainEvent *e)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  static const char *kinds[] = { "phase", "step", "epoch", "progress", "message", "finished" };

  if (e->kind == LEAF_TRAIN_EVENT_FINISHED && e->summary_json != NULL)
    {
      printf ("%s\n", e->summary_json);
      fflush (stdout);
      return;
    }

  json_builder_begin_object (b);
  leaf_json_add_string (b, "event",
                        e->kind == LEAF_TRAIN_EVENT_FINISHED ? "error" : kinds[e->kind]);
  leaf_json_add_string (b, "phase", leaf_train_phase_to_string (e->phase));
  leaf_json_add_int (b, "run_id", e->run_id);
  switch (e->kind)
    {
    case LEAF_TRAIN_EVENT_STEP:
      leaf_json_add_int (b, "step", e->step);
      leaf_json_add_double (b, "loss", e->loss);
      break;
    case LEAF_TRAIN_EVENT_EPOCH:
      leaf_json_add_int (b, "epoch", e->epoch);
      leaf_json_add_int (b, "global_epoch", e->global_epoch);
      leaf_json_add_double (b, "train_loss", e->train_loss);
      leaf_json_add_double (b, "train_accuracy", e->train_accuracy);
      leaf_json_add_double (b, "val_loss", e->val_loss);
      leaf_json_add_double (b, "val_accuracy", e->val_accuracy);
      leaf_json_add_double (b, "learning_rate", e->learning_rate);
      leaf_json_add_double (b, "seconds", e->epoch_seconds);
      break;
    case LEAF_TRAIN_EVENT_PROGRESS:
      leaf_json_add_double (b, "fraction", e->fraction);
      leaf_json_add_double (b, "images_per_second", e->images_per_second);
      leaf_json_add_double (b, "eta_seconds", e->eta_seconds);
      break;
    case LEAF_TRAIN_EVENT_PHASE:
    case LEAF_TRAIN_EVENT_MESSAGE:
    case LEAF_TRAIN_EVENT_FINISHED:
    default:
      leaf_json_add_string (b, "message", e->error != NULL ? e->error->message : e->message);
      break;
    }
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  print_json (root);
}

static void
print_event_text (TrainState           *state,
                  const LeafTrainEvent *e)
{
  switch (e->kind)
    {
    case LEAF_TRAIN_EVENT_PHASE:
      clear_progress_line (state);
      if (e->message != NULL && *e->message != '\0')
        fprintf (stderr, "%s\n", e->message);
      fprintf (stderr, _("== %s ==\n"), leaf_train_phase_to_string (e->phase));
      break;
    case LEAF_TRAIN_EVENT_EPOCH:
      clear_progress_line (state);
      printf (_("%-8s epoch %3u  loss %.4f  acc %5.1f%%  val_loss %.4f  val_acc %5.1f%%  lr %.1e\n"),
              leaf_train_phase_to_string (e->phase), e->epoch, e->train_loss,
              100 * e->train_accuracy, e->val_loss, 100 * e->val_accuracy, e->learning_rate);
      fflush (stdout);
      break;
    case LEAF_TRAIN_EVENT_PROGRESS:
      if (state->progress_bar)
        {
          int width = 30, filled = (int) (e->fraction * width);
          char bar[31];
          for (int i = 0; i < width; i++)
            bar[i] = i < filled ? '#' : '.';
          bar[width] = '\0';
          fprintf (stderr, "\r\033[K%-8s [%s] %3.0f%%  %.1f img/s", leaf_train_phase_to_string (e->phase),
                   bar, 100 * e->fraction, e->images_per_second);
        }
      else if (progress_line_due (state, e))
        fprintf (stderr, "%-8s %3.0f%%  %.1f img/s", leaf_train_phase_to_string (e->phase),
                 100 * e->fraction, e->images_per_second);
      else
        break;
      if (e->eta_seconds >= 0)
        fprintf (stderr, _("  ETA %.0f s"), e->eta_seconds);
      if (!state->progress_bar)
        fprintf (stderr, "\n");
      break;
    case LEAF_TRAIN_EVENT_MESSAGE:
      clear_progress_line (state);
      fprintf (stderr, "%s\n", e->message);
      break;
    case LEAF_TRAIN_EVENT_FINISHED:
      clear_progress_line (state);
      if (e->summary_json != NULL)
        {
          g_autoptr(JsonParser) parser = json_parser_new ();
          JsonObject *o;
          if (json_parser_load_from_data (parser, e->summary_json, -1, NULL))
            {
              o = json_node_get_object (json_parser_get_root (parser));
              printf (_("Validation accuracy %.1f%% (model from epoch %u)\n"),
                      100 * json_object_get_double_member (o, "val_accuracy"),
                      (guint) json_object_get_int_member (o, "kept_epoch"));
              printf (_("Time: %.1f s (extract %.1f s, head %.1f s, fine-tune %.1f s)\n"),
                      json_object_get_double_member (o, "total_seconds"),
                      json_object_get_double_member (o, "extract_seconds"),
                      json_object_get_double_member (o, "head_seconds"),
                      json_object_get_double_member (o, "finetune_seconds"));
              printf ("%s\n", json_object_get_string_member (o, "stop_reasons"));
              printf (_("Model: %s\n"), json_object_get_string_member (o, "model"));
              if (e->activation_note != NULL)
                printf ("%s\n", e->activation_note);
            }
        }
      break;
    case LEAF_TRAIN_EVENT_STEP:
    default:
      break;
    }
}

static void
on_trainer_event_cb (LeafTrainer    *trainer,
                     LeafTrainEvent *event,
                     TrainState     *state)
{
  if (state->json)
    print_event_json (event);
  else
    print_event_text (state, event);

  if (event->kind == LEAF_TRAIN_EVENT_FINISHED)
    {
      if (event->error != NULL)
        {
          g_printerr ("leafscope-cli: %s\n", event->error->message);
          state->status = 1;
        }
      g_main_loop_quit (state->loop);
    }
}

static gboolean
on_interrupt_cb (gpointer user_data)
{
  TrainState *state = user_data;

  if (state->n_interrupts++ == 0)
    {
      clear_progress_line (state);
      g_printerr (_("Stopping after the current step; the best model so far is kept. Press "
                    "Ctrl+C again to quit at once.\n"));
      leaf_trainer_stop (state->trainer);
      return G_SOURCE_CONTINUE;
    }
  /* The catalog marks a run that never ended as interrupted when it is next opened. */
  _exit (130);
}

static char *
catalog_path (LeafCli *cli)
{
  return cli->catalog_path != NULL ? g_strdup (cli->catalog_path) : leaf_catalog_get_default_path ();
}

/* --recipe: JSON on the command line or in @FILE, on top of --preset when it is given. */
static gboolean
read_recipe_option (const char        *text,
                    const LeafPreset  *preset,
                    LeafRecipe        *recipe,
                    GError           **error)
{
  g_autofree char *contents = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonNode *root;

  leaf_recipe_init_preset (recipe, preset != NULL ? *preset : LEAF_PRESET_DEFAULT);
  if (text == NULL)
    return TRUE;
  if (text[0] == '@')
    {
      if (!g_file_get_contents (text + 1, &contents, NULL, error))
        return FALSE;
      text = contents;
    }
  if (!json_parser_load_from_data (parser, text, -1, error))
    {
      g_prefix_error (error, _("Invalid training recipe: "));
      return FALSE;
    }
  root = json_parser_get_root (parser);
  if (preset != NULL && root != NULL && JSON_NODE_HOLDS_OBJECT (root)
      && !json_object_has_member (json_node_get_object (root), "preset"))
    json_object_set_string_member (json_node_get_object (root), "preset",
                                   leaf_preset_to_string (*preset));
  return leaf_recipe_from_json (root, recipe, error);
}

int
leaf_cli_train (LeafCli  *cli,
                int       argc,
                char    **argv)
{
  g_autofree char *preset = NULL;
  g_autofree char *recipe_text = NULL;
  g_autofree char *weights = NULL;
  g_autofree char *path = catalog_path (cli);
  gboolean from_scratch = FALSE, json = FALSE, no_cache = FALSE, rrc = FALSE, jitter = FALSE;
  int head_epochs, finetune_epochs, unfreeze, image_size, batch_size, views, patience;
  gint64 seed;
  double head_lr, finetune_lr, label_smoothing, val_fraction;
  GOptionEntry entries[] = {
    { "preset", 0, 0, G_OPTION_ARG_STRING, &preset, N_("article or default (the default)"), "NAME" },
    { "recipe", 0, 0, G_OPTION_ARG_STRING, &recipe_text, N_("Recipe as JSON (as train --json reports it), or @FILE; its members replace the preset's, the options below replace both"), "JSON" },
    { "weights", 0, 0, G_OPTION_ARG_FILENAME, &weights, N_("Base weights (torchvision .pth or safetensors)"), "FILE" },
    { "from-scratch", 0, 0, G_OPTION_ARG_NONE, &from_scratch, N_("Train every layer from random weights"), NULL },
    { "random-resized-crop", 0, 0, G_OPTION_ARG_NONE, &rrc, N_("Augment with random resized crops"), NULL },
    { "color-jitter", 0, 0, G_OPTION_ARG_NONE, &jitter, N_("Augment with colour jitter"), NULL },
    { "no-cache", 0, 0, G_OPTION_ARG_NONE, &no_cache, N_("Compute frozen stages anew at every batch"), NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("One JSON object per event; the last is the summary"), NULL },
    { NULL }
  };
  /* The ranges leaf_recipe_validate() accepts; 0 epochs skips a phase. */
  LeafCliNumber numbers[] = {
    { "head-epochs", LEAF_CLI_INT, &head_epochs, 0, INFINITY, FALSE, FALSE, N_("Epochs of the head phase (at most, with early stopping; 0 skips it)"), "N" },
    { "finetune-epochs", LEAF_CLI_INT, &finetune_epochs, 0, INFINITY, FALSE, FALSE, N_("Epochs of the fine-tuning phase (0 skips it)"), "N" },
    { "unfreeze", LEAF_CLI_INT, &unfreeze, 0, 8, FALSE, FALSE, N_("Last stages of features to fine-tune (default 3; the article preset 2)"), "N" },
    { "head-lr", LEAF_CLI_DOUBLE, &head_lr, 0, INFINITY, TRUE, FALSE, N_("Learning rate of the head phase"), "LR" },
    { "finetune-lr", LEAF_CLI_DOUBLE, &finetune_lr, 0, INFINITY, TRUE, FALSE, N_("Learning rate of fine-tuning"), "LR" },
    { "image-size", LEAF_CLI_INT, &image_size, 32, 1024, FALSE, FALSE, N_("Crop size in pixels (default 224)"), "N" },
    { "batch-size", LEAF_CLI_INT, &batch_size, 1, 4096, FALSE, FALSE, N_("Photos per step (default 32)"), "N" },
    { "views", LEAF_CLI_INT, &views, 0, 8, FALSE, FALSE, N_("Training views: 1, 2, 4 (flips), 8 (flips and rotations), or 0 to decide from the number of photos"), "N" },
    { "patience", LEAF_CLI_INT, &patience, 1, INFINITY, FALSE, FALSE, N_("Epochs without improvement before early stopping"), "N" },
    { "label-smoothing", LEAF_CLI_DOUBLE, &label_smoothing, 0, 1, FALSE, TRUE, N_("Label smoothing (0 to <1)"), "X" },
    { "val-fraction", LEAF_CLI_DOUBLE, &val_fraction, 0, 1, TRUE, TRUE, N_("Share of new photos put in validation"), "X" },
    { "seed", LEAF_CLI_INT64, &seed, 0, INFINITY, FALSE, FALSE, N_("Random seed (default 0)"), "N" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_("— fine-tune EfficientNet-B0 on the catalog"));
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafTrainer) trainer = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  LeafPreset p = LEAF_PRESET_DEFAULT;
  LeafRecipe recipe;
  LeafDistConfig dist;
  TrainState state = { 0 };
  guint sigint;

  leaf_cli_add_options (context, entries, numbers);
  if (!leaf_cli_parse (context, &argc, &argv))
    return 2;
  if (preset != NULL && !leaf_preset_from_string (preset, &p))
    {
      g_printerr (_("leafscope-cli: unknown preset “%s” (use article or default)\n"), preset);
      return 2;
    }
  if (from_scratch && weights != NULL)
    {
      g_printerr (_("leafscope-cli: --weights and --from-scratch exclude each other\n"));
      return 2;
    }

  /* Options given replace the recipe's values, which replace the preset's. */
  if (!read_recipe_option (recipe_text, preset != NULL ? &p : NULL, &recipe, &error))
    {
      g_printerr ("leafscope-cli: %s\n", error->message);
      return 2;
    }
#define SET_IF_GIVEN(variable, field) if (leaf_cli_given (numbers, &variable)) recipe.field = variable
  SET_IF_GIVEN (head_epochs, head_epochs);
  SET_IF_GIVEN (finetune_epochs, finetune_epochs);
  SET_IF_GIVEN (unfreeze, unfreeze);
  SET_IF_GIVEN (head_lr, head_lr);
  SET_IF_GIVEN (finetune_lr, finetune_lr);
  SET_IF_GIVEN (finetune_lr, finetune_head_lr);
  SET_IF_GIVEN (image_size, image_size);
  SET_IF_GIVEN (batch_size, batch_size);
  SET_IF_GIVEN (views, views);
  SET_IF_GIVEN (patience, patience);
  SET_IF_GIVEN (label_smoothing, label_smoothing);
  SET_IF_GIVEN (val_fraction, val_fraction);
  SET_IF_GIVEN (seed, seed);
#undef SET_IF_GIVEN
  recipe.from_scratch |= from_scratch;
  recipe.cache_features &= !no_cache;
  recipe.random_resized_crop |= rrc;
  recipe.color_jitter |= jitter;
  /* What the ranges above cannot say (views 0, 1, 2, 4 or 8; at least one epoch) is a usage error
   * too, before any work starts. */
  if (!leaf_recipe_validate (&recipe, &error))
    {
      g_printerr ("leafscope-cli: %s\n", error->message);
      return 2;
    }

  /* torchrun, a scheduler or a person starts each process of a distributed run with these. */
  if (!leaf_dist_config_from_environment (&dist, &error))
    {
      g_printerr ("leafscope-cli: %s\n", error->message);
      return 2;
    }

  if (dist.world_size > 1)
    leaf_engine_set_local_rank (dist.local_rank);

  loop = g_main_loop_new (NULL, FALSE);
  trainer = leaf_trainer_new (path);
  leaf_trainer_set_distributed (trainer, &dist);
  leaf_dist_config_clear (&dist);
  state.loop = loop;
  state.trainer = trainer;
  state.json = json;
  state.progress_bar = !json && isatty (STDERR_FILENO);
  g_signal_connect (trainer, "event", G_CALLBACK (on_trainer_event_cb), &state);
  if (!leaf_trainer_start (trainer, &recipe, weights, &error))
    return leaf_cli_fail (&error);

  sigint = g_unix_signal_add (SIGINT, on_interrupt_cb, &state);
  g_main_loop_run (loop);
  g_source_remove (sigint);
  return state.status;
}

/* predict ------------------------------------------------------------------------------------ */

/* The model to diagnose with: the file given, else the catalog's active model. */
static char *
resolve_model_path (LeafCli     *cli,
                    const char  *model,
                    const char  *weights,
                    GError     **error)
{
  g_autofree char *path = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(LeafModelInfo) info = NULL;

  if (weights != NULL)
    return g_strdup (weights);
  if (model != NULL)
    return g_strdup (model);

  path = catalog_path (cli);
  catalog = leaf_catalog_open (path, LEAF_CATALOG_OPEN_DEFAULT, error);
  if (catalog == NULL)
    return NULL;
  info = leaf_catalog_get_active_model (catalog, error);
  return info != NULL ? g_strdup (info->path) : NULL;
}

/* A predictor of the command's own, for the commands that diagnose on their own thread. */
static LeafPredictor *
open_predictor (LeafCli     *cli,
                const char  *model,
                GError     **error)
{
  g_autofree char *path = resolve_model_path (cli, model, NULL, error);

  return path != NULL ? leaf_predictor_new_from_model (path, error) : NULL;
}

/* Grad-CAM of the top class over the crop the model saw, as DIR/NAME.png. */
static char *
write_heatmap (LeafDiagnosisService       *service,
               LeafDiagnoseFlags           flags,
               const LeafDiagnosisResult  *result,
               const char                 *input,
               const char                 *dir,
               GError                    **error)
{
  g_autoptr(GdkPixbuf) overlay = NULL;
  g_autofree char *base = g_path_get_basename (input);
  g_autofree char *name = NULL;
  g_autofree char *path = NULL;
  char *dot = strrchr (base, '.');

  overlay = leaf_diagnosis_service_heatmap (service, result->model_path, flags, result->image,
                                            (int) result->ranking[0], LEAF_HEATMAP_OVER_CROP,
                                            NULL, error);
  if (overlay == NULL)
    return NULL;
  if (dot != NULL && dot != base)
    *dot = '\0';
  name = g_strconcat (base, ".png", NULL);
  path = g_build_filename (dir, name, NULL);
  if (!gdk_pixbuf_save (overlay, path, "png", error, NULL))
    return NULL;
  return g_steal_pointer (&path);
}

/* What predict prints for one photo. */
typedef struct
{
  const char *input;                  /* as given on the command line */
  const LeafDiagnosisResult *result;
  guint top;                          /* how many classes to show */
  const char *heatmap;                /* NULL: none written */
  double ms;                          /* < 0: not timed */
  gboolean logits;
} PredictReport;

/* By LeafReferral. */
static const char *const referral_names[] = { NULL, "unfamiliar", "low_confidence" };

static void
print_prediction_json (const PredictReport *report)
{
  const LeafDiagnosisResult *result = report->result;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *display = g_filename_display_name (report->input);

  json_builder_begin_object (b);
  leaf_json_add_string (b, "path", display);
  leaf_json_begin_array (b, "top");
  for (guint k = 0; k < report->top; k++)
    {
      guint c = result->ranking[k];

      json_builder_begin_object (b);
      leaf_json_add_int (b, "index", c);
      leaf_json_add_string (b, "class", result->classes[c]);
      leaf_json_add_double (b, "probability", result->probabilities[c]);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  leaf_json_add_boolean (b, "refer", leaf_diagnosis_result_should_refer (result, -1));
  leaf_json_add_string (b, "referral", referral_names[leaf_diagnosis_result_get_referral (result,
                                                                                          -1)]);
  /* A model without the check says neither yes nor no. */
  if (isnan (result->ood_score))
    {
      leaf_json_add_node (b, "ood", NULL);
      leaf_json_add_node (b, "ood_score", NULL);
    }
  else
    {
      leaf_json_add_boolean (b, "ood", result->ood);
      leaf_json_add_double (b, "ood_score", result->ood_score);
    }
  if (report->heatmap != NULL)
    {
      g_autofree char *heatmap_display = g_filename_display_name (report->heatmap);
      leaf_json_add_string (b, "heatmap", heatmap_display);
    }
  if (report->ms >= 0)
    {
      leaf_json_add_double (b, "ms", report->ms);
    }
  if (report->logits)
    {
      leaf_json_begin_array (b, "logits");
      for (guint c = 0; c < result->n_classes; c++)
        json_builder_add_double_value (b, result->logits[c]);
      json_builder_end_array (b);
    }
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  print_json (root);
}

static void
print_prediction_text (const PredictReport *report)
{
  const LeafDiagnosisResult *result = report->result;
  g_autofree char *escaped = leaf_cli_escape (report->input);

  if (report->ms >= 0)
    printf (_("%s (%.1f ms)\n"), escaped, report->ms);
  else
    printf ("%s\n", escaped);
  for (guint k = 0; k < report->top; k++)
    printf ("  %-24s %6.2f%%\n", result->classes[result->ranking[k]],
            100 * result->probabilities[result->ranking[k]]);
  switch (leaf_diagnosis_result_get_referral (result, -1))
    {
    case LEAF_REFERRAL_UNFAMILIAR:
      printf ("  %s\n", _("Unlike the photos this model was trained on: refer to an expert"));
      break;
    case LEAF_REFERRAL_LOW_CONFIDENCE:
      printf ("  %s\n", _("Uncertain: refer to an expert"));
      break;
    case LEAF_REFERRAL_NONE:
      break;
    }
  if (report->heatmap != NULL)
    printf (_("  heatmap: %s\n"), report->heatmap);
  if (report->logits)
    {
      printf ("  logits:");
      for (guint c = 0; c < result->n_classes; c++)
        printf (" %.6g", result->logits[c]);
      printf ("\n");
    }
}

int
leaf_cli_predict (LeafCli  *cli,
                  int       argc,
                  char    **argv)
{
  g_autofree char *weights = NULL;
  g_autofree char *model = NULL;
  g_autofree char *heatmap_dir = NULL;
  gboolean json = FALSE, with_logits = FALSE, tta = FALSE, timing = FALSE;
  int top = 5;
  GOptionEntry entries[] = {
    { "model", 0, 0, G_OPTION_ARG_FILENAME, &model, N_("A model Leafscope trained (default: the catalog's active model)"), "FILE" },
    { "weights", 0, 0, G_OPTION_ARG_FILENAME, &weights, N_("A raw torchvision weight file, with its own head"), "FILE" },
    { "logits", 0, 0, G_OPTION_ARG_NONE, &with_logits, N_("Also print the raw logits"), NULL },
    { "tta", 0, 0, G_OPTION_ARG_NONE, &tta, N_("Average over flips and rotations (models trained with the default preset always do)"), NULL },
    { "timing", 0, 0, G_OPTION_ARG_NONE, &timing, N_("Report each photo's diagnosis time (read, preprocess, model)"), NULL },
    { "heatmap", 0, 0, G_OPTION_ARG_FILENAME, &heatmap_dir, N_("Write where the model looked (Grad-CAM over the crop it saw) as DIR/NAME.png"), "DIR" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("One JSON object per image"), NULL },
    { NULL }
  };
  LeafCliNumber numbers[] = {
    { "top", LEAF_CLI_INT, &top, 1, INFINITY, FALSE, FALSE,
      N_("How many classes to show (default 5, at most all)"), "K" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_("IMAGE... — diagnose photos"));
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafDiagnosisService) service = NULL;
  g_autofree char *model_path = NULL;
  LeafDiagnoseFlags flags;
  int status = 0;

  leaf_cli_add_options (context, entries, numbers);
  if (!leaf_cli_parse (context, &argc, &argv))
    return 2;
  if (argc < 2)
    {
      g_printerr (_("leafscope-cli: predict needs at least one image\n"));
      return 2;
    }
  if (model != NULL && weights != NULL)
    {
      g_printerr (_("leafscope-cli: --model and --weights exclude each other\n"));
      return 2;
    }

  /* The model loads once, before any photo, so that a bad one is reported once. */
  flags = (weights != NULL ? LEAF_DIAGNOSE_RAW_WEIGHTS : 0) | (tta ? LEAF_DIAGNOSE_TTA : 0);
  service = leaf_diagnosis_service_new ();
  model_path = resolve_model_path (cli, model, weights, &error);
  if (model_path == NULL || !leaf_diagnosis_service_load (service, model_path, flags, NULL, &error))
    return leaf_cli_fail (&error);

  if (heatmap_dir != NULL && g_mkdir_with_parents (heatmap_dir, 0755) != 0)
    {
      int saved = errno;
      g_printerr (_("leafscope-cli: cannot create the heatmap folder %s: %s\n"), heatmap_dir,
                  g_strerror (saved));
      return 1;
    }

  for (int i = 1; i < argc; i++)
    {
      gint64 t0 = g_get_monotonic_time ();
      g_autoptr(LeafDiagnosisResult) result = NULL;
      g_autofree char *heatmap = NULL;
      PredictReport report = { argv[i], NULL, 0, NULL, -1, with_logits };

      result = leaf_diagnosis_service_diagnose_file (service, model_path, flags, argv[i], NULL,
                                                     &error);
      if (result == NULL)
        {
          g_printerr ("leafscope-cli: %s\n", error->message);
          g_clear_error (&error);
          status = 1;
          continue;
        }
      if (timing)
        report.ms = (g_get_monotonic_time () - t0) / 1000.0;
      if (heatmap_dir != NULL)
        {
          heatmap = write_heatmap (service, flags, result, argv[i], heatmap_dir, &error);
          if (heatmap == NULL)
            {
              g_printerr ("leafscope-cli: %s\n", error->message);
              g_clear_error (&error);
              status = 1;
            }
        }

      report.result = result;
      report.top = MIN ((guint) top, result->n_classes);
      report.heatmap = heatmap;
      if (json)
        print_prediction_json (&report);
      else
        print_prediction_text (&report);
    }
  return status;
}

/* evaluate ----------------------------------------------------------------------------------- */

/* One ratio of the table, in a column of width characters: "—" when undefined (leaf-metrics.h). */
static void
print_ratio (double value,
             int    width)
{
  if (isnan (value))
    printf (" %*s—", width - 1, "");
  else
    printf (" %*.3f", width, value);
}

static void
print_evaluation_text (const LeafEvaluation *evaluation)
{
  const LeafMetrics *metrics = evaluation->metrics;

  if (isnan (metrics->accuracy))
    printf (_("Accuracy — on %u photos (%u skipped)\n"), (guint) metrics->n,
            evaluation->failures->len);
  else
    printf (_("Accuracy %.2f%% on %u photos (%u skipped)\n"), 100 * metrics->accuracy,
            (guint) metrics->n, evaluation->failures->len);
  printf ("%-24s %9s %9s %9s %8s\n", _("class"), _("precision"), _("recall"), "F1", _("photos"));
  for (guint c = 0; c < metrics->n_classes; c++)
    {
      const LeafClassMetrics *pc = &metrics->per_class[c];

      printf ("%-24s", pc->name);
      print_ratio (pc->precision, 9);
      print_ratio (pc->recall, 9);
      print_ratio (pc->f1, 9);
      printf (" %8" G_GINT64_FORMAT "\n", pc->support);
    }
  printf (_("Expected calibration error %.2f%% before calibration, %.2f%% after "
            "(temperature %.3f)\n"), 100 * evaluation->ece_before, 100 * evaluation->ece_after,
          evaluation->temperature);
  if (!evaluation->has_ood)
    printf (_("The model has no check for photos unlike its training photos\n"));
  else if (isnan (evaluation->familiar_accuracy))
    printf (_("Unlike the training photos: all %u photos would be referred\n"), evaluation->n_ood);
  else
    printf (_("Unlike the training photos: %u of %u photos would be referred; accuracy on the "
              "other %u: %.2f%%\n"), evaluation->n_ood, (guint) metrics->n,
            (guint) metrics->n - evaluation->n_ood, 100 * evaluation->familiar_accuracy);
}

int
leaf_cli_evaluate (LeafCli  *cli,
                   int       argc,
                   char    **argv)
{
  g_autofree char *model = NULL;
  g_autofree char *split_name = NULL;
  gboolean json = FALSE, tta = FALSE;
  GOptionEntry entries[] = {
    { "model", 0, 0, G_OPTION_ARG_FILENAME, &model, N_("A model Leafscope trained (default: the catalog's active model)"), "FILE" },
    { "split", 0, 0, G_OPTION_ARG_STRING, &split_name, N_("Instead of a folder, the catalog's labelled photos of this split: train, val or test"), "SPLIT" },
    { "tta", 0, 0, G_OPTION_ARG_NONE, &tta, N_("Average over flips and rotations (models trained with the default preset always do)"), NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print the metrics as JSON"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context =
    g_option_context_new (_("[DIR] — accuracy on an ImageFolder tree (one folder per class) or on "
                            "a split of the catalog"));
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafPredictor) predictor = NULL;
  g_autoptr(LeafEvaluation) evaluation = NULL;
  LeafSplit split = LEAF_SPLIT_NONE;

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!leaf_cli_parse (context, &argc, &argv))
    return 2;
  if (split_name != NULL && !leaf_split_from_string (split_name, &split))
    {
      g_printerr (_("leafscope-cli: --split takes train, val or test, not “%s”\n"), split_name);
      return 2;
    }
  if (argc != (split_name != NULL ? 1 : 2))
    {
      g_printerr (split_name != NULL
                  ? _("leafscope-cli: evaluate --split takes no folder\n")
                  : _("leafscope-cli: evaluate needs one folder, or --split\n"));
      return 2;
    }
  predictor = open_predictor (cli, model, &error);
  if (predictor == NULL)
    return leaf_cli_fail (&error);
  if (split_name != NULL)
    {
      g_autofree char *path = catalog_path (cli);
      g_autoptr(LeafCatalog) catalog = leaf_catalog_open (path, LEAF_CATALOG_OPEN_DEFAULT,
                                                          &error);

      if (catalog != NULL)
        evaluation = leaf_evaluation_run_split (predictor, catalog, split, tta, &error);
    }
  else
    evaluation = leaf_evaluation_run (predictor, argv[1], tta, &error);
  if (evaluation == NULL)
    return leaf_cli_fail (&error);

  for (guint i = 0; i < evaluation->failures->len; i++)
    g_printerr ("leafscope-cli: %s\n", ((GError *) evaluation->failures->pdata[i])->message);
  for (guint i = 0; i < evaluation->unknown_classes->len; i++)
    g_printerr (_("leafscope-cli: skipping class “%s”: the model has no such class\n"),
                (const char *) evaluation->unknown_classes->pdata[i]);
  if (json)
    {
      g_autoptr(JsonNode) root = leaf_evaluation_to_json (evaluation);

      print_json (root);
    }
  else
    print_evaluation_text (evaluation);
  return 0;
}

/* split -------------------------------------------------------------------------------------- */

int
leaf_cli_split (LeafCli  *cli,
                int       argc,
                char    **argv)
{
  g_autofree char *export_path = NULL;
  g_autofree char *path = catalog_path (cli);
  gboolean reassign = FALSE;
  double val_fraction = 0.2, test_fraction = 0.0;
  gint64 seed = 0;
  GOptionEntry entries[] = {
    { "reassign", 0, 0, G_OPTION_ARG_NONE, &reassign, N_("Forget earlier assignments and split again"), NULL },
    { "export", 0, 0, G_OPTION_ARG_FILENAME, &export_path, N_("Write path, class and split of each labelled photo as TSV (backslashes, tabs and line breaks in paths written \\\\, \\t and \\n)"), "FILE" },
    { NULL }
  };
  /* The seed is 32 bits in the catalog's split. */
  LeafCliNumber numbers[] = {
    { "val-fraction", LEAF_CLI_DOUBLE, &val_fraction, 0, 1, TRUE, TRUE, N_("Share of photos for validation (default 0.2)"), "X" },
    { "test-fraction", LEAF_CLI_DOUBLE, &test_fraction, 0, 1, FALSE, TRUE, N_("Share of photos held out for testing (default 0)"), "X" },
    { "seed", LEAF_CLI_INT64, &seed, 0, G_MAXUINT32, FALSE, FALSE, N_("Random seed (default 0)"), "N" },
    { NULL }
  };
  g_autoptr(GOptionContext) context =
    g_option_context_new (_("— assign labelled photos to training, validation and test"));
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(GPtrArray) images = NULL;
  g_autoptr(GPtrArray) classes = NULL;
  g_autoptr(GHashTable) names = g_hash_table_new (g_int64_hash, g_int64_equal);
  LeafImageQuery query = { .labels = LEAF_LABEL_FILTER_LABELED };
  LeafSplitOptions options;
  guint counts[4] = { 0 }, n_assigned = 0;

  leaf_cli_add_options (context, entries, numbers);
  if (!leaf_cli_parse (context, &argc, &argv))
    return 2;
  if (argc != 1)
    {
      g_printerr (_("leafscope-cli: split takes options only\n"));
      return 2;
    }
  if (val_fraction + test_fraction >= 1)
    {
      g_printerr (_("leafscope-cli: --val-fraction and --test-fraction must add up to less than 1, "
                    "leaving photos to train on\n"));
      return 2;
    }

  options = (LeafSplitOptions) { .train = 1.0 - val_fraction - test_fraction,
                                 .validation = val_fraction, .test = test_fraction,
                                 .seed = (guint32) seed, .reassign = reassign };
  catalog = leaf_catalog_open (path, LEAF_CATALOG_OPEN_DEFAULT, &error);
  if (catalog == NULL ||
      !leaf_catalog_assign_splits (catalog, &options, &n_assigned, &error) ||
      !leaf_catalog_count_splits (catalog, counts, &error))
    return leaf_cli_fail (&error);
  printf (_("%u newly assigned; train %u, validation %u, test %u, unassigned %u\n"), n_assigned,
          counts[LEAF_SPLIT_TRAIN], counts[LEAF_SPLIT_VALIDATION], counts[LEAF_SPLIT_TEST],
          counts[LEAF_SPLIT_NONE]);

  if (export_path == NULL)
    return 0;

  classes = leaf_catalog_list_classes (catalog, &error);
  images = classes != NULL ? leaf_catalog_query_images (catalog, &query, 0, G_MAXUINT, &error) : NULL;
  if (images == NULL)
    return leaf_cli_fail (&error);
  for (guint i = 0; i < classes->len; i++)
    {
      LeafClassInfo *info = classes->pdata[i];
      g_hash_table_insert (names, &info->id, info->name);
    }
  {
    g_autoptr(GString) out = g_string_new (NULL);

    for (guint i = 0; i < images->len; i++)
      {
        LeafCatalogImage *image = images->pdata[i];
        gint64 class_id = leaf_catalog_image_get_class_id (image);
        g_autofree char *escaped = leaf_cli_escape (leaf_catalog_image_get_path (image));

        /* Class names hold no control characters or backslashes; paths may. */
        g_string_append_printf (out, "%s\t%s\t%s\n", escaped,
                                (const char *) g_hash_table_lookup (names, &class_id),
                                leaf_split_to_string (leaf_catalog_image_get_split (image))
                                  ?: "none");
      }
    if (!g_file_set_contents (export_path, out->str, out->len, &error))
      return leaf_cli_fail (&error);
  }
  return 0;
}

/* next --------------------------------------------------------------------------------------- */

/* The catalog's record of the model at path, or NULL (and no error) when it has none. */
static LeafModelInfo *
find_model (LeafCatalog  *catalog,
            const char   *path,
            GError      **error)
{
  g_autoptr(GPtrArray) models = leaf_catalog_list_models (catalog, error);
  g_autoptr(GFile) wanted = g_file_new_for_path (path);

  if (models == NULL)
    return NULL;
  for (guint i = 0; i < models->len; i++)
    {
      LeafModelInfo *info = models->pdata[i];
      g_autoptr(GFile) file = g_file_new_for_path (info->path);
      if (g_file_equal (file, wanted))
        return g_steal_pointer (&models->pdata[i]);
    }
  return NULL;
}

/* The model --model names (its catalog record, or NULL when the catalog does not know the file),
 * else the catalog's active model; fails when there is none, saying how to choose one. */
static gboolean
lookup_model (LeafCatalog    *catalog,
              const char     *model,
              LeafModelInfo **info,
              GError        **error)
{
  g_autoptr(GError) local = NULL;

  *info = model != NULL ? find_model (catalog, model, &local)
                        : leaf_catalog_get_active_model (catalog, &local);
  if (local != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  return TRUE;
}

static void
print_skipped (const GError *error,
               gpointer      user_data)
{
  g_printerr (_("leafscope-cli: skipping a photo: %s\n"), error->message);
}

int
leaf_cli_next (LeafCli  *cli,
               int       argc,
               char    **argv)
{
  g_autofree char *model = NULL;
  g_autofree char *path = catalog_path (cli);
  gboolean json = FALSE;
  int count = 20;
  double max_similarity = LEAF_NEXT_DEFAULT_MAX_SIMILARITY;
  GOptionEntry entries[] = {
    { "model", 0, 0, G_OPTION_ARG_FILENAME, &model, N_("A model Leafscope trained (default: the catalog's active model)"), "FILE" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("One JSON object per photo"), NULL },
    { NULL }
  };
  LeafCliNumber numbers[] = {
    { "count", LEAF_CLI_INT, &count, 1, INFINITY, FALSE, FALSE, N_("How many photos to list (default 20)"), "N" },
    { "max-similarity", LEAF_CLI_DOUBLE, &max_similarity, -1, 1, FALSE, FALSE, N_("Cosine similarity above which photos count as near-duplicates (default 0.95)"), "X" },
    { NULL }
  };
  g_autoptr(GOptionContext) context =
    g_option_context_new (_("— the unlabelled photos a label would teach the model most"));
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(LeafModelInfo) info = NULL;
  g_autoptr(LeafPredictor) predictor = NULL;
  g_autoptr(GPtrArray) ranked = NULL;
  const char * const *classes;

  leaf_cli_add_options (context, entries, numbers);
  if (!leaf_cli_parse (context, &argc, &argv))
    return 2;
  if (argc != 1)
    {
      g_printerr (_("leafscope-cli: next takes options only\n"));
      return 2;
    }

  catalog = leaf_catalog_open (path, LEAF_CATALOG_OPEN_DEFAULT, &error);
  if (catalog == NULL)
    return leaf_cli_fail (&error);
  if (!lookup_model (catalog, model, &info, &error))
    return leaf_cli_fail (&error);
  if (model != NULL && info == NULL)
    g_printerr (_("leafscope-cli: %s is not one of this catalog's models; its predictions are "
                  "not stored\n"), model);
  predictor = leaf_predictor_new_from_model (model != NULL ? model : info->path, &error);
  if (predictor == NULL)
    return leaf_cli_fail (&error);
  classes = leaf_predictor_get_classes (predictor);

  /* Stored, the predictions show in the catalog's views without being computed again. */
  ranked = leaf_next_rank_catalog (catalog, predictor, info != NULL ? info->id : 0, count,
                                   max_similarity, print_skipped, NULL, NULL, &error);
  if (ranked == NULL)
    return leaf_cli_fail (&error);
  if (ranked->len == 0)
    {
      g_printerr (_("leafscope-cli: the catalog has no unlabelled photos to rank\n"));
      return 0;
    }
  if (!json)
    printf ("%-4s %-8s %-8s %-24s %-64s %s\n", "#", _("score"), _("margin"), _("likeliest"),
            "SHA-256", _("path"));
  for (guint r = 0; r < ranked->len; r++)
    {
      LeafNextItem *item = ranked->pdata[r];
      LeafNextPick *pick = &item->pick;
      LeafCatalogImage *image = item->image;

      if (json)
        {
          g_autoptr(JsonBuilder) b = json_builder_new ();
          g_autoptr(JsonNode) root = NULL;
          g_autofree char *display = g_filename_display_name (leaf_catalog_image_get_path (image));

          json_builder_begin_object (b);
          leaf_json_add_int (b, "rank", r + 1);
          leaf_json_add_string (b, "path", display);
          leaf_json_add_string (b, "sha256", leaf_catalog_image_get_sha256 (image));
          leaf_json_add_double (b, "score", pick->score);
          leaf_json_add_double (b, "margin", pick->margin);
          leaf_json_add_string (b, "class", classes[item->top]);
          leaf_json_add_double (b, "probability", item->probability);
          leaf_json_add_boolean (b, "near_duplicate", pick->duplicate);
          json_builder_end_object (b);
          root = json_builder_get_root (b);
          print_json (root);
        }
      else
        {
          g_autofree char *path = leaf_cli_escape (leaf_catalog_image_get_path (image));

          printf ("%-4u %-8.4f %-8.4f %-24s %-64s %s%s\n", r + 1, pick->score, pick->margin,
                  classes[item->top], leaf_catalog_image_get_sha256 (image), path,
                  pick->duplicate ? _(" (near-duplicate)") : "");
        }
    }
  return 0;
}

/* model-card --------------------------------------------------------------------------------- */

int
leaf_cli_model_card (LeafCli  *cli,
                     int       argc,
                     char    **argv)
{
  g_autofree char *model = NULL;
  g_autofree char *path = catalog_path (cli);
  GOptionEntry entries[] = {
    { "model", 0, 0, G_OPTION_ARG_FILENAME, &model, N_("A model Leafscope trained (default: the catalog's active model)"), "FILE" },
    { NULL }
  };
  g_autoptr(GOptionContext) context =
    g_option_context_new (_("OUT.md — describe a model: data, recipe, metrics, calibration, limits"));
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(LeafModelInfo) info = NULL;
  g_autoptr(LeafPredictor) predictor = NULL;
  g_autofree char *card = NULL;
  const char *model_path;

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!leaf_cli_parse (context, &argc, &argv))
    return 2;
  if (argc != 2)
    {
      g_printerr (_("leafscope-cli: model-card needs one output file\n"));
      return 2;
    }

  catalog = leaf_catalog_open (path, LEAF_CATALOG_OPEN_DEFAULT, &error);
  if (catalog == NULL)
    return leaf_cli_fail (&error);
  if (!lookup_model (catalog, model, &info, &error))
    return leaf_cli_fail (&error);
  model_path = model != NULL ? model : info->path;
  predictor = leaf_predictor_new_from_model (model_path, &error);
  if (predictor == NULL)
    return leaf_cli_fail (&error);
  card = leaf_model_card_render (catalog, leaf_predictor_get_meta (predictor), model_path,
                                 info != NULL ? info->metrics_json : NULL, &error);
  if (card == NULL || !g_file_set_contents (argv[1], card, -1, &error))
    return leaf_cli_fail (&error);
  return 0;
}
