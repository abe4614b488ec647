/* leaf-train-view.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The view does not own the trainer: it asks for runs through its ::start-requested, ::pause-
 * requested, ::resume-requested and ::stop-requested signals and is fed with what happens through
 * leaf_train_view_add_step() and friends (or leaf_train_view_handle_event()). The charts redraw
 * as those calls append points to their series, never on a timer.
 *
 * The recipe the controls set is saved in GSettings whenever the user changes one, and restored
 * when the view is made, so that the next start trains the same way.
 */

#define G_LOG_DOMAIN "leaf-train-view"

#include "config.h"

#include <inttypes.h>

#include <adwaita.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <math.h>

#include "leaf-active-model.h"
#include "leaf-chart.h"
#include "leaf-confusion-matrix.h"
#include "leaf-metrics-table.h"
#include "leaf-mnemonic.h"
#include "leaf-reliability-diagram.h"
#include "leaf-settings.h"
#include "leaf-toast.h"
#include "leaf-train-view-private.h"

typedef enum
{
  STATE_IDLE,
  STATE_RUNNING,
  STATE_PAUSED,
  STATE_STOPPING,
} State;

static const double learning_rates[] = {
  1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6, 1e-6,
};

static const guint views_choices[] = { 1, 2, 4, 8, 0 };

struct _LeafTrainView
{
  GtkWidget parent_instance;

  LeafCatalog *catalog;
  LeafRecipe recipe; /* fields without a control keep their value from here */
  State state;
  gboolean loading_recipe;
  GSettings *settings; /* NULL when the schema is not installed */

  LeafChartSeries *train_loss;
  LeafChartSeries *val_loss;
  LeafChartSeries *train_accuracy;
  LeafChartSeries *val_accuracy;
  LeafChartSeries *step_loss;
  guint last_epoch;
  guint64 last_step;

  LeafConfusion *confusion;
  gint64 results_model; /* the model whose confusion matrix is shown */
  gint64 live_run;      /* the run whose curves were drawn live, with its fine-tuning marker */
  gint64 decided_model; /* the model of the run that ended last, which the header tells of */
  gboolean decided_by_run; /* whether that run made it active, rather than the user later */
  char *not_ready;      /* why Train cannot start, or NULL when it can */

  /* Template widgets */
  GtkPaned *paned;
  GtkWidget *group_warning;
  AdwComboRow *preset_row;
  GtkSpinButton *head_epochs_spin;
  AdwComboRow *head_lr_row;
  GtkSwitch *head_early_switch;
  GtkSpinButton *finetune_epochs_spin;
  GtkSpinButton *unfreeze_spin;
  AdwComboRow *finetune_lr_row;
  GtkSwitch *finetune_early_switch;
  GtkSpinButton *image_size_spin;
  AdwComboRow *views_row;
  GtkSwitch *jitter_switch;
  GtkSpinButton *val_fraction_spin;
  GtkSpinButton *seed_spin;
  GtkListBox *history_list;
  GtkLabel *phase_label;
  GtkLabel *status_label;
  GtkProgressBar *progress_bar;
  GtkWidget *use_anyway_button;
  GtkLabel *not_ready_label;
  GtkWidget *train_button;
  GtkLabel *message_label;
  AdwButtonContent *pause_content;
  LeafChart *loss_chart;
  LeafChart *accuracy_chart;
  LeafChart *step_chart;
  GtkWidget *results_box;
  GtkLabel *results_title;
  GtkLabel *recipe_label;
  LeafConfusionMatrix *confusion_matrix;
  GtkGrid *per_class_grid;
  GtkWidget *calibration_box;
  GtkLabel *calibration_label;
  LeafReliabilityDiagram *reliability_diagram;
  GtkStringList *head_lr_choices;
  GtkStringList *finetune_lr_choices;
};

G_DEFINE_FINAL_TYPE (LeafTrainView, leaf_train_view, GTK_TYPE_WIDGET)

enum {
  START_REQUESTED,
  PAUSE_REQUESTED,
  RESUME_REQUESTED,
  STOP_REQUESTED,
  CONFUSION_CELL_ACTIVATED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* What a row of the history stands for */
typedef struct
{
  gint64 run_id;   /* 0 for a model no run of this catalog trained */
  gint64 model_id; /* 0 for a run that kept no model */
} RowIds;

#define ROW_IDS "leaf-history-ids"

static const RowIds *
row_ids (GtkListBoxRow *row)
{
  return row != NULL ? g_object_get_data (G_OBJECT (row), ROW_IDS) : NULL;
}

static void
update_actions (LeafTrainView *self)
{
  gboolean active = self->state != STATE_IDLE;

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "train.start",
                                 !active && self->not_ready == NULL);
  gtk_label_set_text (self->not_ready_label, self->not_ready ? self->not_ready : "");
  gtk_widget_set_visible (GTK_WIDGET (self->not_ready_label), !active && self->not_ready != NULL);
  gtk_widget_set_tooltip_text (self->train_button, self->not_ready ? self->not_ready
                                                                   : _("Train a model (Ctrl+T)"));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "train.pause",
                                 self->state == STATE_RUNNING || self->state == STATE_PAUSED);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "train.stop",
                                 self->state == STATE_RUNNING || self->state == STATE_PAUSED);
  adw_button_content_set_label (self->pause_content,
                                self->state == STATE_PAUSED ? _("_Resume") : _("_Pause"));
  adw_button_content_set_icon_name (self->pause_content,
                                    self->state == STATE_PAUSED ? "media-playback-start-symbolic"
                                                                : "media-playback-pause-symbolic");
}

static guint
closest_rate (double rate)
{
  guint best = 0;

  for (guint i = 1; i < G_N_ELEMENTS (learning_rates); i++)
    if (fabs (log (learning_rates[i] / rate)) < fabs (log (learning_rates[best] / rate)))
      best = i;
  return best;
}

static guint
views_index (guint views)
{
  for (guint i = 0; i < G_N_ELEMENTS (views_choices); i++)
    if (views_choices[i] == views)
      return i;
  return 0;
}

/* Recipe */

void
leaf_train_view_set_recipe (LeafTrainView    *self,
                            const LeafRecipe *recipe)
{
  g_return_if_fail (LEAF_IS_TRAIN_VIEW (self));
  g_return_if_fail (recipe != NULL);

  self->recipe = *recipe;
  self->loading_recipe = TRUE;
  adw_combo_row_set_selected (self->preset_row, recipe->preset == LEAF_PRESET_ARTICLE ? 1 : 0);
  gtk_spin_button_set_value (self->head_epochs_spin, recipe->head_epochs);
  adw_combo_row_set_selected (self->head_lr_row, closest_rate (recipe->head_lr));
  gtk_switch_set_active (self->head_early_switch, recipe->head_early_stopping);
  gtk_spin_button_set_value (self->finetune_epochs_spin, recipe->finetune_epochs);
  gtk_spin_button_set_value (self->unfreeze_spin, MAX (recipe->unfreeze, 1));
  adw_combo_row_set_selected (self->finetune_lr_row, closest_rate (recipe->finetune_lr));
  gtk_switch_set_active (self->finetune_early_switch, recipe->finetune_early_stopping);
  gtk_spin_button_set_value (self->image_size_spin, recipe->image_size);
  adw_combo_row_set_selected (self->views_row, views_index (recipe->views));
  gtk_switch_set_active (self->jitter_switch,
                         recipe->random_resized_crop || recipe->color_jitter);
  gtk_spin_button_set_value (self->val_fraction_spin, round (recipe->val_fraction * 100));
  gtk_spin_button_set_value (self->seed_spin, (double) recipe->seed);
  self->loading_recipe = FALSE;
}

/**
 * leaf_train_view_get_recipe:
 * @self: the view
 * @recipe: (out caller-allocates): the recipe as the controls set it
 */
void
leaf_train_view_get_recipe (LeafTrainView *self,
                            LeafRecipe    *recipe)
{
  double rate;

  g_return_if_fail (LEAF_IS_TRAIN_VIEW (self));
  g_return_if_fail (recipe != NULL);

  *recipe = self->recipe;
  recipe->head_epochs = gtk_spin_button_get_value_as_int (self->head_epochs_spin);
  recipe->head_lr = learning_rates[MIN (adw_combo_row_get_selected (self->head_lr_row),
                                        G_N_ELEMENTS (learning_rates) - 1)];
  recipe->head_early_stopping = gtk_switch_get_active (self->head_early_switch);
  recipe->finetune_epochs = gtk_spin_button_get_value_as_int (self->finetune_epochs_spin);
  recipe->unfreeze = gtk_spin_button_get_value_as_int (self->unfreeze_spin);
  rate = learning_rates[MIN (adw_combo_row_get_selected (self->finetune_lr_row),
                             G_N_ELEMENTS (learning_rates) - 1)];
  /* The head keeps the stages' ratio to their rate that the preset gave it. */
  recipe->finetune_head_lr = self->recipe.finetune_head_lr * rate / self->recipe.finetune_lr;
  recipe->finetune_lr = rate;
  recipe->finetune_early_stopping = gtk_switch_get_active (self->finetune_early_switch);
  recipe->image_size = gtk_spin_button_get_value_as_int (self->image_size_spin);
  recipe->views = views_choices[MIN (adw_combo_row_get_selected (self->views_row),
                                     G_N_ELEMENTS (views_choices) - 1)];
  recipe->random_resized_crop = recipe->color_jitter = gtk_switch_get_active (self->jitter_switch);
  recipe->val_fraction = gtk_spin_button_get_value (self->val_fraction_spin) / 100.0;
  recipe->seed = (guint64) gtk_spin_button_get_value (self->seed_spin);
}

static void
save_recipe (LeafTrainView *self)
{
  LeafRecipe recipe;
  g_autofree char *text = NULL;

  if (self->settings == NULL)
    return;
  leaf_train_view_get_recipe (self, &recipe);
  text = leaf_recipe_changes_to_string (&recipe);
  g_settings_set_string (self->settings, "recipe", text);
}

static void
on_control_changed_cb (LeafTrainView *self)
{
  if (!self->loading_recipe)
    save_recipe (self);
}

static void
on_preset_changed_cb (LeafTrainView *self)
{
  LeafRecipe recipe;

  if (self->loading_recipe)
    return;
  leaf_recipe_init_preset (&recipe, adw_combo_row_get_selected (self->preset_row) == 1
                                    ? LEAF_PRESET_ARTICLE : LEAF_PRESET_DEFAULT);
  leaf_train_view_set_recipe (self, &recipe);
  save_recipe (self);
}

/* The recipe saved by the last session, or the default preset when there is none or it does
 * not parse (a newer version may have written it). */
static void
restore_recipe (LeafTrainView *self)
{
  g_autofree char *text = self->settings ? g_settings_get_string (self->settings, "recipe")
                                         : NULL;
  g_autoptr(GError) error = NULL;
  LeafRecipe recipe;

  leaf_recipe_init_preset (&recipe, LEAF_PRESET_DEFAULT);
  if (text != NULL && text[0] != '\0' && !leaf_recipe_from_string (text, &recipe, &error))
    g_message ("Using the default training recipe, not the saved one: %s", error->message);
  leaf_train_view_set_recipe (self, &recipe);
}

/* Without group keys leaf_catalog_assign_splits() draws photo by photo. */
static void
update_group_warning (LeafTrainView *self)
{
  guint counts[4] = { 0 };
  guint n_grouped = 0;
  gboolean warn;

  warn = self->catalog != NULL
         && leaf_catalog_count_splits (self->catalog, counts, NULL)
         && counts[0] + counts[1] + counts[2] + counts[3] > 0
         && leaf_catalog_count_grouped (self->catalog, &n_grouped, NULL)
         && n_grouped == 0;
  gtk_widget_set_visible (self->group_warning, warn);
}

/* What training needs from the catalog, said before anything else (the base weights are asked
 * for only once it can start): labelled photos of two classes, as leaf-run.c checks. */
static char *
not_ready_reason (LeafTrainView *self)
{
  g_autoptr(GPtrArray) classes = NULL;
  g_autoptr(GError) error = NULL;
  const LeafClassInfo *labelled = NULL;
  guint n_labelled = 0;

  if (self->catalog == NULL)
    return g_strdup (_("Open a catalog to train on its photos."));
  if (leaf_catalog_is_read_only (self->catalog))
    return g_strdup (_("This catalog may only be read here: training records its runs and "
                       "models in it. Ask its owner for a role or a file you may change."));
  classes = leaf_catalog_list_classes (self->catalog, &error);
  if (classes == NULL)
    return g_strdup (error->message);
  for (guint i = 0; i < classes->len; i++)
    {
      const LeafClassInfo *info = g_ptr_array_index (classes, i);

      if (info->n_images > 0)
        {
          labelled = info;
          n_labelled++;
        }
    }
  if (n_labelled >= 2)
    return NULL;
  if (labelled == NULL)
    return g_strdup (_("Training needs labelled photos of at least two classes. Import photos "
                       "and label them in the Library first."));
  /* Translators: %s is the one class with labelled photos */
  return g_strdup_printf (_("Training needs labelled photos of at least two classes, and only "
                            "“%s” has some. Label photos of another class in the Library."),
                          labelled->name);
}

static void
update_readiness (LeafTrainView *self)
{
  g_free (self->not_ready);
  self->not_ready = not_ready_reason (self);
  update_actions (self);
}

static void
on_catalog_photos_changed_cb (LeafTrainView *self)
{
  update_group_warning (self);
  update_readiness (self);
}

/* Charts */

static LeafChartSeries *
add_series (LeafChart      *chart,
            GListStore     *store,
            const char     *title,
            LeafChartStyle  style,
            const char     *color)
{
  LeafChartSeries *series = leaf_chart_series_new (title, style);

  leaf_chart_series_set_color (series, color);
  g_list_store_append (store, series);
  return series;
}

static void
setup_charts (LeafTrainView *self)
{
  g_autoptr(GListStore) loss = g_list_store_new (LEAF_TYPE_CHART_SERIES);
  g_autoptr(GListStore) accuracy = g_list_store_new (LEAF_TYPE_CHART_SERIES);
  g_autoptr(GListStore) steps = g_list_store_new (LEAF_TYPE_CHART_SERIES);

  /* Training blue and solid, validation orange and dashed, in both charts. */
  self->train_loss = add_series (self->loss_chart, loss, _("Training"), LEAF_CHART_STYLE_LINE,
                                 "#3584e4");
  self->val_loss = add_series (self->loss_chart, loss, _("Validation"), LEAF_CHART_STYLE_DASHED,
                               "#e66100");
  self->train_accuracy = add_series (self->accuracy_chart, accuracy, _("Training"),
                                     LEAF_CHART_STYLE_LINE, "#3584e4");
  self->val_accuracy = add_series (self->accuracy_chart, accuracy, _("Validation"),
                                   LEAF_CHART_STYLE_DASHED, "#e66100");
  self->step_loss = add_series (self->step_chart, steps, _("Training loss"),
                                LEAF_CHART_STYLE_TRACE, "#3584e4");
  leaf_chart_set_model (self->loss_chart, G_LIST_MODEL (loss));
  leaf_chart_set_model (self->accuracy_chart, G_LIST_MODEL (accuracy));
  leaf_chart_set_model (self->step_chart, G_LIST_MODEL (steps));
  leaf_chart_set_y_range (self->accuracy_chart, 0.0, 1.0);
}

static void
clear_charts (LeafTrainView *self)
{
  leaf_chart_series_clear (self->train_loss);
  leaf_chart_series_clear (self->val_loss);
  leaf_chart_series_clear (self->train_accuracy);
  leaf_chart_series_clear (self->val_accuracy);
  leaf_chart_series_clear (self->step_loss);
  leaf_chart_set_marker (self->loss_chart, NAN, NULL);
  leaf_chart_set_marker (self->accuracy_chart, NAN, NULL);
  leaf_chart_set_marker (self->step_chart, NAN, NULL);
  self->last_epoch = 0;
  self->last_step = 0;
}

/* Results of a finished run */

/* Reads the calibration the trainer records next to the metrics: `{"calibration": {...}}`. */
static gboolean
calibration_from_metrics (const char      *metrics_json,
                          LeafCalibration *calibration)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonNode *root;

  if (metrics_json == NULL || !json_parser_load_from_data (parser, metrics_json, -1, NULL))
    return FALSE;
  root = json_parser_get_root (parser);
  if (!JSON_NODE_HOLDS_OBJECT (root))
    return FALSE;
  return leaf_calibration_from_json (json_object_get_member (json_node_get_object (root),
                                                             "calibration"),
                                     calibration, NULL);
}

static void
show_calibration (LeafTrainView *self,
                  const char    *metrics_json)
{
  LeafCalibration calibration;
  g_autofree char *text = NULL;

  if (!calibration_from_metrics (metrics_json, &calibration))
    {
      gtk_widget_set_visible (self->calibration_box, FALSE);
      leaf_reliability_diagram_set_calibration (self->reliability_diagram, NULL);
      return;
    }
  /* Translators: the numbers are percentages, then the fitted temperature */
  text = g_strdup_printf (_("Expected calibration error: %.1f%% before temperature scaling, "
                            "%.1f%% after (temperature %.2f). A calibrated model is right as "
                            "often as it says it is sure: its bars reach the diagonal."),
                          100 * calibration.ece_before, 100 * calibration.ece_after,
                          calibration.temperature);
  gtk_label_set_text (self->calibration_label, text);
  leaf_reliability_diagram_set_calibration (self->reliability_diagram, &calibration);
  gtk_widget_set_visible (self->calibration_box, TRUE);
}

/* The index in @models of the model @run_id kept, or -1. */
static int
find_model_of_run (GPtrArray *models,
                   gint64     run_id)
{
  for (guint i = 0; i < models->len; i++)
    if (((LeafModelInfo *) g_ptr_array_index (models, i))->run_id == run_id)
      return i;
  return -1;
}

static LeafModelInfo *
model_of_run (LeafTrainView *self,
              gint64         run_id)
{
  g_autoptr(GPtrArray) models = leaf_catalog_list_models (self->catalog, NULL);
  int index = models ? find_model_of_run (models, run_id) : -1;

  return index >= 0 ? g_ptr_array_steal_index (models, index) : NULL;
}

static void
load_run_curves (LeafTrainView *self,
                 gint64         run_id)
{
  static const char *names[] = { "train_loss", "val_loss", "train_accuracy", "val_accuracy" };
  LeafChartSeries *series[] = { self->train_loss, self->val_loss, self->train_accuracy,
                                self->val_accuracy };
  g_autoptr(GArray) steps = NULL;

  clear_charts (self);
  if (run_id == 0)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autoptr(GArray) points = leaf_catalog_get_metric (self->catalog, run_id, LEAF_METRIC_EPOCH,
                                                          names[i], NULL);

      for (guint j = 0; points && j < points->len; j++)
        {
          LeafMetricPoint *point = &g_array_index (points, LeafMetricPoint, j);

          leaf_chart_series_append (series[i], point->step, point->value);
        }
    }
  steps = leaf_catalog_get_metric (self->catalog, run_id, LEAF_METRIC_STEP, "loss", NULL);
  for (guint j = 0; steps && j < steps->len; j++)
    {
      LeafMetricPoint *point = &g_array_index (steps, LeafMetricPoint, j);

      leaf_chart_series_append (self->step_loss, point->step, point->value);
    }
}

/* The recipe the run used, as it recorded it: the data decide some of it. */
static void
show_recipe (LeafTrainView *self,
             gint64         run_id)
{
  g_autoptr(LeafRunInfo) run = run_id > 0 ? leaf_catalog_get_run (self->catalog, run_id, NULL)
                                          : NULL;
  g_autofree char *text = run != NULL ? leaf_recipe_describe_record (run->config_json) : NULL;

  gtk_label_set_text (self->recipe_label, text != NULL ? text : "");
  gtk_widget_set_visible (GTK_WIDGET (self->recipe_label), text != NULL);
}

/* Shows a history row's run curves and its model's results. */
static void
show_entry (LeafTrainView *self,
            const RowIds  *ids)
{
  g_autoptr(LeafModelInfo) model = NULL;
  g_autoptr(LeafMetrics) metrics = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *title = NULL;
  g_autofree char *heading = NULL;

  /* Curves drawn live know where fine-tuning began; the catalog does not record it. */
  if (self->state == STATE_IDLE && (ids->run_id != self->live_run || ids->run_id == 0))
    {
      self->live_run = 0;
      load_run_curves (self, ids->run_id);
    }

  if (ids->model_id > 0 && (model = leaf_catalog_get_model (self->catalog, ids->model_id,
                                                             &error)) != NULL)
    metrics = leaf_metrics_parse (model->metrics_json, &error);
  if (metrics == NULL || metrics->confusion == NULL)
    {
      if (error != NULL)
        g_debug ("No results for model %" G_GINT64_FORMAT ": %s", ids->model_id,
                 error->message);
      gtk_widget_set_visible (self->results_box, FALSE);
      return;
    }

  /* A model's results never change: when the list is read again under the model shown (a run
   * elsewhere, a rename), the matrix stays as it is, with the focus where the user left it. */
  if (model->id != self->results_model || self->confusion == NULL
      || !gtk_widget_get_visible (self->results_box))
    {
      g_set_object (&self->confusion, metrics->confusion);
      self->results_model = model->id;
      leaf_confusion_matrix_set_model (self->confusion_matrix, self->confusion);
      leaf_metrics_table_fill (self->per_class_grid, (const LeafMetrics * const[]) { metrics },
                               NULL, 1);
      show_calibration (self, model->metrics_json);
    }
  title = leaf_model_info_get_title (model);
  /* Translators: %s is a model's title (“Run 3”), %.1f%% the accuracy, %u the photo count */
  heading = g_strdup_printf (ngettext ("%s: %.1f%% of %u validation photo recognised",
                                       "%s: %.1f%% of %u validation photos recognised",
                                       leaf_confusion_get_total (self->confusion)),
                             title, leaf_confusion_get_accuracy (self->confusion) * 100,
                             leaf_confusion_get_total (self->confusion));
  gtk_label_set_text (self->results_title, heading);
  show_recipe (self, ids->run_id);
  gtk_widget_set_visible (self->results_box, TRUE);
}

static void
on_cell_activated_cb (LeafTrainView *self,
                      guint          truth,
                      guint          predicted)
{
  g_signal_emit (self, signals[CONFUSION_CELL_ACTIVATED], 0, self->results_model, truth,
                 predicted);
}

/* History */

static const char *
status_icon (LeafRunStatus status)
{
  switch (status)
    {
    case LEAF_RUN_COMPLETED:
      return "emblem-ok-symbolic";
    case LEAF_RUN_RUNNING:
      return "media-playback-start-symbolic";
    case LEAF_RUN_CANCELLED:
      return "media-playback-stop-symbolic";
    case LEAF_RUN_FAILED:
    case LEAF_RUN_INTERRUPTED:
    default:
      return "dialog-warning-symbolic";
    }
}

static const char *
status_text (LeafRunStatus status)
{
  switch (status)
    {
    case LEAF_RUN_COMPLETED:
      return _("Completed");
    case LEAF_RUN_RUNNING:
      return _("Running");
    case LEAF_RUN_CANCELLED:
      return _("Stopped");
    case LEAF_RUN_INTERRUPTED:
      return _("Interrupted");
    case LEAF_RUN_FAILED:
    default:
      return _("Failed");
    }
}

static void
menu_append_model_action (GMenu       *menu,
                          const char  *label,
                          const char  *action,
                          GVariant    *target)
{
  g_autoptr(GMenuItem) item = g_menu_item_new (label, NULL);

  g_menu_item_set_action_and_target_value (item, action, target);
  g_menu_append_item (menu, item);
}

/* What can be done with a kept model: the history row's menu. */
static GMenuModel *
model_menu_new (const LeafModelInfo *model,
                GPtrArray           *models)
{
  g_autoptr(GMenu) menu = g_menu_new ();
  g_autoptr(GMenu) use = g_menu_new ();
  g_autoptr(GMenu) others = g_menu_new ();
  g_autoptr(GMenu) edit = g_menu_new ();
  g_autoptr(GMenu) remove = g_menu_new ();

  if (!model->active)
    menu_append_model_action (use, _("_Use for Diagnosis"), "train.use-model",
                              g_variant_new_int64 (model->id));
  for (guint i = 0; i < models->len; i++)
    {
      const LeafModelInfo *other = g_ptr_array_index (models, i);
      g_autofree char *description = NULL;
      g_autofree char *label = NULL;

      if (other->id == model->id)
        continue;
      description = leaf_model_info_describe (other);
      label = leaf_mnemonic_escape (description);
      menu_append_model_action (others, label, "train.compare-models",
                                g_variant_new ("(xx)", model->id, other->id));
    }
  if (g_menu_model_get_n_items (G_MENU_MODEL (others)) > 0)
    g_menu_append_submenu (use, _("_Compare With"), G_MENU_MODEL (others));
  menu_append_model_action (edit, _("_Rename…"), "train.rename-model",
                            g_variant_new_int64 (model->id));
  menu_append_model_action (edit, _("_Export…"), "train.export-model",
                            g_variant_new_int64 (model->id));
  menu_append_model_action (remove, _("_Delete…"), "train.remove-model",
                            g_variant_new_int64 (model->id));
  g_menu_append_section (menu, NULL, G_MENU_MODEL (use));
  g_menu_append_section (menu, NULL, G_MENU_MODEL (edit));
  g_menu_append_section (menu, NULL, G_MENU_MODEL (remove));
  return G_MENU_MODEL (g_steal_pointer (&menu));
}

/* One run, with the model it kept if any, or one model no run of the catalog trained. */
static GtkWidget *
history_row_new (const LeafRunInfo   *run,
                 const LeafModelInfo *model,
                 GPtrArray           *models)
{
  GtkWidget *row = adw_action_row_new ();
  g_autoptr(GDateTime) local = g_date_time_to_local (run ? run->started : model->created);
  g_autofree char *when = g_date_time_format (local, "%x %R");
  g_autofree char *title = model ? leaf_model_info_get_title (model)
                                 : g_strdup_printf (_("Run %" PRId64), run->id);
  g_autoptr(GString) subtitle = g_string_new (when);
  const char *tooltip = model && model->note ? model->note : run ? run->message : NULL;
  RowIds ids = { run ? run->id : 0, model ? model->id : 0 };

  g_string_append_printf (subtitle, " · %s", run ? status_text (run->status) : _("Imported"));
  if (model != NULL && !isnan (model->val_accuracy))
    {
      g_string_append (subtitle, " · ");
      /* Translators: a model's accuracy on its validation photos, as in “87 % validation” */
      g_string_append_printf (subtitle, _("%.0f %% validation"), 100 * model->val_accuracy);
    }
  /* Names are the user's text, not markup. */
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle->str);
  if (tooltip != NULL && tooltip[0] != '\0')
    gtk_widget_set_tooltip_text (row, tooltip);
  adw_action_row_add_prefix (ADW_ACTION_ROW (row),
                             gtk_image_new_from_icon_name (run ? status_icon (run->status)
                                                               : "document-open-symbolic"));
  if (model != NULL && model->active)
    {
      GtkWidget *badge = gtk_label_new (_("In Use"));

      gtk_widget_set_valign (badge, GTK_ALIGN_CENTER);
      gtk_widget_set_tooltip_text (badge, _("Diagnose uses this model"));
      gtk_widget_add_css_class (badge, "caption-heading");
      gtk_widget_add_css_class (badge, "accent");
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), badge);
    }
  if (model != NULL)
    {
      g_autoptr(GMenuModel) menu = model_menu_new (model, models);
      GtkWidget *button = gtk_menu_button_new ();

      gtk_menu_button_set_icon_name (GTK_MENU_BUTTON (button), "view-more-symbolic");
      gtk_menu_button_set_menu_model (GTK_MENU_BUTTON (button), menu);
      gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
      gtk_widget_set_tooltip_text (button, _("Model Actions"));
      gtk_widget_add_css_class (button, "flat");
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), button);
    }
  g_object_set_data_full (G_OBJECT (row), ROW_IDS, g_memdup2 (&ids, sizeof ids), g_free);
  return row;
}

typedef struct
{
  const LeafRunInfo *run;
  const LeafModelInfo *model;
} HistoryEntry;

static GDateTime *
entry_time (const HistoryEntry *entry)
{
  return entry->run ? entry->run->started : entry->model->created;
}

/* Newest first. */
static int
compare_entries (gconstpointer a,
                 gconstpointer b)
{
  return g_date_time_compare (entry_time (b), entry_time (a));
}

/**
 * reload_history:
 * @select: (nullable): the row to select, by its run or its model
 */
static void
reload_history (LeafTrainView *self,
                const RowIds  *select)
{
  g_autoptr(GPtrArray) runs = NULL;
  g_autoptr(GPtrArray) models = NULL;
  g_autoptr(GArray) entries = g_array_new (FALSE, FALSE, sizeof (HistoryEntry));
  g_autoptr(GError) error = NULL;
  GtkListBoxRow *old;

  while ((old = gtk_list_box_get_row_at_index (self->history_list, 0)) != NULL)
    gtk_list_box_remove (self->history_list, GTK_WIDGET (old));
  if (self->catalog == NULL)
    return;

  runs = leaf_catalog_list_runs (self->catalog, &error);
  if (runs != NULL)
    models = leaf_catalog_list_models (self->catalog, &error);
  if (models == NULL)
    {
      leaf_show_toast_error (GTK_WIDGET (self), error);
      return;
    }
  if (runs->len == 0 && models->len == 0)
    {
      GtkWidget *row = adw_action_row_new ();

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), _("No runs yet"));
      gtk_widget_add_css_class (row, "dim-label");
      gtk_list_box_row_set_selectable (GTK_LIST_BOX_ROW (row), FALSE);
      gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), FALSE);
      gtk_list_box_append (self->history_list, row);
      return;
    }

  for (guint i = 0; i < runs->len; i++)
    {
      HistoryEntry entry = { g_ptr_array_index (runs, i), NULL };
      int index = find_model_of_run (models, entry.run->id);

      entry.model = index >= 0 ? g_ptr_array_index (models, index) : NULL;
      g_array_append_val (entries, entry);
    }
  for (guint i = 0; i < models->len; i++)
    {
      HistoryEntry entry = { NULL, g_ptr_array_index (models, i) };

      if (entry.model->run_id == 0)
        g_array_append_val (entries, entry);
    }
  g_array_sort (entries, compare_entries);

  for (guint i = 0; i < entries->len; i++)
    {
      HistoryEntry *entry = &g_array_index (entries, HistoryEntry, i);
      GtkWidget *row = history_row_new (entry->run, entry->model, models);
      const RowIds *ids = row_ids (GTK_LIST_BOX_ROW (row));

      gtk_list_box_append (self->history_list, row);
      if (select != NULL && ((select->run_id > 0 && ids->run_id == select->run_id) ||
                             (select->model_id > 0 && ids->model_id == select->model_id)))
        gtk_list_box_select_row (self->history_list, GTK_LIST_BOX_ROW (row));
    }
}

static void
on_history_row_selected_cb (LeafTrainView *self,
                            GtkListBoxRow *row)
{
  const RowIds *ids = row_ids (row);

  if (ids != NULL)
    show_entry (self, ids);
}

/* Actions */

static void
start_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  g_signal_emit (widget, signals[START_REQUESTED], 0);
}

static void
pause_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  LeafTrainView *self = LEAF_TRAIN_VIEW (widget);

  g_signal_emit (self, signals[self->state == STATE_PAUSED ? RESUME_REQUESTED : PAUSE_REQUESTED],
                 0);
}

static void
stop_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  LeafTrainView *self = LEAF_TRAIN_VIEW (widget);

  self->state = STATE_STOPPING;
  gtk_label_set_text (self->status_label, _("Stopping after the current step…"));
  update_actions (self);
  g_signal_emit (self, signals[STOP_REQUESTED], 0);
}

/* After a run: what its model became */

/* “58 %”, or words for an unknown accuracy. */
static char *
format_accuracy (double accuracy)
{
  /* Translators: a model's accuracy, as in “58 %” */
  return isnan (accuracy) ? g_strdup (_("accuracy unknown"))
                          : g_strdup_printf (_("%.0f %%"), 100 * accuracy);
}

/* For a run stopped before the end: how far it went. */
static char *
stopped_text (LeafTrainView *self,
              gint64         run_id)
{
  g_autoptr(GArray) epochs = leaf_catalog_get_metric (self->catalog, run_id, LEAF_METRIC_EPOCH,
                                                      "val_accuracy", NULL);
  guint n = epochs ? epochs->len : 0;

  if (n == 0)
    return g_strdup (_("Stopped before the first epoch ended."));
  return g_strdup_printf (ngettext ("Stopped after %u epoch.", "Stopped after %u epochs.", n), n);
}

/* Whether Diagnose uses the model of the run that ended last, and why; the run's own note
 * while it stands, as the run compared the two models on the same photos. */
static char *
decision_text (LeafTrainView       *self,
               const LeafModelInfo *model,
               const LeafModelInfo *active)
{
  gboolean stopped = model->run_status == LEAF_RUN_CANCELLED;
  g_autofree char *prefix = stopped ? stopped_text (self, model->run_id) : NULL;
  g_autofree char *accuracy = format_accuracy (model->val_accuracy);
  g_autofree char *active_title = active ? leaf_model_info_get_title (active) : NULL;
  g_autofree char *active_accuracy = active ? format_accuracy (active->val_accuracy) : NULL;
  g_autofree char *decision = NULL;

  if (model->active == self->decided_by_run && !stopped && model->note != NULL)
    return g_strdup (model->note);
  if (model->active)
    decision = g_strdup (_("Diagnose uses this model, as you chose."));
  else if (active != NULL)
    /* Translators: the first %s is an accuracy (“58 %”), then a model's title and accuracy */
    decision = g_strdup_printf (_("The model was kept (%s) but Diagnose still uses %s (%s)."),
                                accuracy, active_title, active_accuracy);
  else
    decision = g_strdup_printf (_("The model was kept (%s) but Diagnose uses no model until "
                                  "you choose one."), accuracy);
  return prefix ? g_strdup_printf ("%s %s", prefix, decision) : g_steal_pointer (&decision);
}

/* Tells, under the title of the run that ended last, what became of its model, and offers to
 * use it when Diagnose does not. */
static void
update_decision (LeafTrainView *self)
{
  g_autoptr(LeafModelInfo) model = NULL;
  g_autoptr(LeafModelInfo) active = NULL;
  g_autofree char *text = NULL;

  if (self->decided_model > 0 && self->state == STATE_IDLE && self->catalog != NULL)
    model = leaf_catalog_get_model (self->catalog, self->decided_model, NULL);
  gtk_widget_set_visible (self->use_anyway_button, model != NULL && !model->active);
  if (model == NULL)
    return;
  active = leaf_active_model_get (self->catalog);
  text = decision_text (self, model, active);
  gtk_label_set_text (self->status_label, text);
  gtk_actionable_set_action_target (GTK_ACTIONABLE (self->use_anyway_button), "x", model->id);
}

#define TOAST_MODEL "leaf-model-id"

static void
on_use_anyway_clicked_cb (AdwToast      *toast,
                          LeafTrainView *self)
{
  _leaf_train_view_use_model (self, *(gint64 *) g_object_get_data (G_OBJECT (toast),
                                                                   TOAST_MODEL));
}

/* A run kept a model Diagnose does not use: say so where the user may be, and offer it. */
static void
offer_model (LeafTrainView       *self,
             const LeafModelInfo *model)
{
  g_autoptr(LeafModelInfo) active = leaf_active_model_get (self->catalog);
  g_autofree char *title = leaf_model_info_get_title (model);
  g_autofree char *active_title = active ? leaf_model_info_get_title (active) : NULL;
  g_autofree char *text = NULL;
  AdwToast *toast;

  /* Translators: %s are models' titles: “Run 4 was kept, but Diagnose still uses Run 3” */
  text = active ? g_strdup_printf (_("%s was kept, but Diagnose still uses %s"), title,
                                   active_title)
                : g_strdup_printf (_("%s was kept, but Diagnose does not use it"), title);
  toast = leaf_show_toast_with_button (GTK_WIDGET (self), text, _("_Use Anyway"));
  if (toast == NULL)
    return;
  g_object_set_data_full (G_OBJECT (toast), TOAST_MODEL,
                          g_memdup2 (&model->id, sizeof model->id), g_free);
  g_signal_connect_object (toast, "button-clicked", G_CALLBACK (on_use_anyway_clicked_cb), self,
                           0);
}

/* GObject */

static void
leaf_train_view_dispose (GObject *object)
{
  LeafTrainView *self = LEAF_TRAIN_VIEW (object);

  leaf_train_view_set_catalog (self, NULL);
  g_clear_object (&self->settings);
  gtk_widget_dispose_template (GTK_WIDGET (self), LEAF_TYPE_TRAIN_VIEW);
  g_clear_object (&self->train_loss);
  g_clear_object (&self->val_loss);
  g_clear_object (&self->train_accuracy);
  g_clear_object (&self->val_accuracy);
  g_clear_object (&self->step_loss);
  g_clear_object (&self->confusion);
  g_clear_pointer (&self->not_ready, g_free);
  G_OBJECT_CLASS (leaf_train_view_parent_class)->dispose (object);
}

static void
leaf_train_view_class_init (LeafTrainViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = leaf_train_view_dispose;

  /**
   * LeafTrainView::start-requested:
   *
   * The user pressed Train; leaf_train_view_get_recipe() says how.
   */
  signals[START_REQUESTED] = g_signal_new ("start-requested", G_TYPE_FROM_CLASS (klass),
                                           G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                           G_TYPE_NONE, 0);
  signals[PAUSE_REQUESTED] = g_signal_new ("pause-requested", G_TYPE_FROM_CLASS (klass),
                                           G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                           G_TYPE_NONE, 0);
  signals[RESUME_REQUESTED] = g_signal_new ("resume-requested", G_TYPE_FROM_CLASS (klass),
                                            G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                            G_TYPE_NONE, 0);
  signals[STOP_REQUESTED] = g_signal_new ("stop-requested", G_TYPE_FROM_CLASS (klass),
                                          G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                          G_TYPE_NONE, 0);
  /**
   * LeafTrainView::confusion-cell-activated:
   * @self: the view
   * @model_id: the model whose results are shown
   * @truth: index of the true class in the model's classes
   * @predicted: index of the predicted class
   */
  signals[CONFUSION_CELL_ACTIVATED] =
    g_signal_new ("confusion-cell-activated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_INT64, G_TYPE_UINT, G_TYPE_UINT);

  g_type_ensure (LEAF_TYPE_CHART);
  g_type_ensure (LEAF_TYPE_CONFUSION_MATRIX);
  g_type_ensure (LEAF_TYPE_RELIABILITY_DIAGRAM);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/leafscope/Leafscope/leaf-train-view.ui");
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, paned);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, group_warning);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, preset_row);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, head_epochs_spin);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, head_lr_row);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, head_early_switch);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, finetune_epochs_spin);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, unfreeze_spin);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, finetune_lr_row);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, finetune_early_switch);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, image_size_spin);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, views_row);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, jitter_switch);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, val_fraction_spin);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, seed_spin);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, history_list);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, phase_label);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, status_label);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, use_anyway_button);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, not_ready_label);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, train_button);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, message_label);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, pause_content);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, loss_chart);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, accuracy_chart);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, step_chart);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, results_box);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, results_title);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, recipe_label);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, confusion_matrix);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, per_class_grid);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, calibration_box);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, calibration_label);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, reliability_diagram);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, head_lr_choices);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, finetune_lr_choices);

  gtk_widget_class_install_action (widget_class, "train.start", NULL, start_action);
  gtk_widget_class_install_action (widget_class, "train.pause", NULL, pause_action);
  gtk_widget_class_install_action (widget_class, "train.stop", NULL, stop_action);
  _leaf_train_view_install_model_actions (widget_class);

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static char *
format_rate (double rate)
{
  int decimals = (int) ceil (-log10 (rate) - 1e-9);

  return g_strdup_printf ("%.*f", MAX (decimals, 0), rate);
}

/* A drop-down's choice as a label that keeps up to 14 characters whatever room its row's title
 * takes, ending longer ones in “…” with the whole choice in a tooltip (and in the list the
 * drop-down opens): “Predeterminado” stays whole in a narrow recipe pane. */
static void
setup_choice_cb (GtkSignalListItemFactory *factory,
                 GtkListItem              *item)
{
  GtkWidget *label = gtk_label_new (NULL);

  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_list_item_set_child (item, label);
}

static void
bind_choice_cb (GtkSignalListItemFactory *factory,
                GtkListItem              *item)
{
  const char *text = gtk_string_object_get_string (gtk_list_item_get_item (item));
  GtkWidget *label = gtk_list_item_get_child (item);

  gtk_label_set_text (GTK_LABEL (label), text);
  gtk_label_set_width_chars (GTK_LABEL (label), MIN (g_utf8_strlen (text, -1), 14));
  gtk_widget_set_tooltip_text (label, text);
}

static void
set_choice_factory (LeafTrainView *self)
{
  AdwComboRow *rows[] = { self->preset_row, self->head_lr_row, self->finetune_lr_row,
                          self->views_row };
  g_autoptr(GtkListItemFactory) factory = gtk_signal_list_item_factory_new ();

  g_signal_connect (factory, "setup", G_CALLBACK (setup_choice_cb), NULL);
  g_signal_connect (factory, "bind", G_CALLBACK (bind_choice_cb), NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (rows); i++)
    adw_combo_row_set_factory (rows[i], factory);
}

/* Saves the recipe whenever the user changes one of its controls. */
static void
watch_controls (LeafTrainView *self)
{
  const struct { gpointer control; const char *property; } controls[] = {
    { self->head_epochs_spin, "value" }, { self->head_lr_row, "selected" },
    { self->head_early_switch, "active" }, { self->finetune_epochs_spin, "value" },
    { self->unfreeze_spin, "value" }, { self->finetune_lr_row, "selected" },
    { self->finetune_early_switch, "active" }, { self->image_size_spin, "value" },
    { self->views_row, "selected" }, { self->jitter_switch, "active" },
    { self->val_fraction_spin, "value" }, { self->seed_spin, "value" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (controls); i++)
    {
      g_autofree char *signal = g_strconcat ("notify::", controls[i].property, NULL);

      g_signal_connect_object (controls[i].control, signal, G_CALLBACK (on_control_changed_cb),
                               self, G_CONNECT_SWAPPED);
    }
}

static void
leaf_train_view_init (LeafTrainView *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  for (guint i = 0; i < G_N_ELEMENTS (learning_rates); i++)
    {
      g_autofree char *text = format_rate (learning_rates[i]);

      gtk_string_list_append (self->head_lr_choices, text);
      gtk_string_list_append (self->finetune_lr_choices, text);
    }
  setup_charts (self);
  set_choice_factory (self);

  self->settings = leaf_settings_new ();
  restore_recipe (self);
  g_signal_connect_object (self->preset_row, "notify::selected",
                           G_CALLBACK (on_preset_changed_cb), self, G_CONNECT_SWAPPED);
  watch_controls (self);
  g_signal_connect_object (self->history_list, "row-selected",
                           G_CALLBACK (on_history_row_selected_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->confusion_matrix, "cell-activated",
                           G_CALLBACK (on_cell_activated_cb), self, G_CONNECT_SWAPPED);
  update_readiness (self);
}

GtkWidget *
leaf_train_view_new (void)
{
  return g_object_new (LEAF_TYPE_TRAIN_VIEW, NULL);
}

/* After a restart the newest entry of the history is what the user last did: its curves, its
 * results and its model are shown as if it had just ended. */
static void
show_last_run (LeafTrainView *self)
{
  GtkListBoxRow *newest = gtk_list_box_get_row_at_index (self->history_list, 0);
  const RowIds *ids = row_ids (newest);
  g_autofree char *text = NULL;

  if (ids == NULL)
    return;
  gtk_list_box_select_row (self->history_list, newest);
  text = g_strdup_printf (_("Showing %s, the last entry of the history; choose another there."),
                          adw_preferences_row_get_title (ADW_PREFERENCES_ROW (newest)));
  gtk_label_set_text (self->status_label, text);
}

static void
on_catalog_runs_changed_cb (LeafTrainView *self)
{
  const RowIds *selected = row_ids (gtk_list_box_get_selected_row (self->history_list));
  RowIds keep = selected ? *selected : (RowIds) { 0, 0 };

  /* A run of ours lists them again when it ends; until then its rows are kept as they are. */
  if (self->state != STATE_IDLE)
    return;
  /* The rows go: keep what the selected one stood for, not a pointer into it. */
  reload_history (self, &keep);
  update_decision (self);
}

static const char *const changing_model_actions[] = {
  "train.use-model", "train.rename-model", "train.remove-model", "train.import-model",
};

/**
 * leaf_train_view_set_catalog:
 * @self: the view
 * @catalog: (nullable): the catalog whose runs are listed
 */
void
leaf_train_view_set_catalog (LeafTrainView *self,
                             LeafCatalog   *catalog)
{
  g_return_if_fail (LEAF_IS_TRAIN_VIEW (self));

  if (self->catalog == catalog)
    return;
  if (self->catalog != NULL)
    g_signal_handlers_disconnect_by_data (self->catalog, self);
  g_set_object (&self->catalog, catalog);
  /* Models of a catalog this user may only read are used and exported, never changed. */
  for (guint i = 0; i < G_N_ELEMENTS (changing_model_actions); i++)
    gtk_widget_action_set_enabled (GTK_WIDGET (self), changing_model_actions[i],
                                   catalog != NULL && !leaf_catalog_is_read_only (catalog));
  if (catalog != NULL)
    {
      g_signal_connect_object (catalog, "runs-changed", G_CALLBACK (on_catalog_runs_changed_cb),
                               self, G_CONNECT_SWAPPED);
      g_signal_connect_object (catalog, "active-model-changed",
                               G_CALLBACK (on_catalog_runs_changed_cb), self, G_CONNECT_SWAPPED);
      g_signal_connect_object (catalog, "images-changed",
                               G_CALLBACK (on_catalog_photos_changed_cb), self, G_CONNECT_SWAPPED);
      g_signal_connect_object (catalog, "labels-changed",
                               G_CALLBACK (on_catalog_photos_changed_cb), self, G_CONNECT_SWAPPED);
      g_signal_connect_object (catalog, "classes-changed",
                               G_CALLBACK (on_catalog_photos_changed_cb), self, G_CONNECT_SWAPPED);
    }
  if (self->history_list == NULL)
    return;
  update_group_warning (self);
  self->live_run = 0;
  self->decided_model = 0;
  update_decision (self);
  clear_charts (self);
  gtk_widget_set_visible (self->results_box, FALSE);
  gtk_label_set_text (self->phase_label, _("Ready to Train"));
  gtk_label_set_text (self->status_label, "");
  reload_history (self, NULL);
  show_last_run (self);
  update_readiness (self);
}

/**
 * leaf_train_view_begin_run:
 *
 * Clears the curves for a run that is starting.
 */
void
leaf_train_view_begin_run (LeafTrainView *self)
{
  g_return_if_fail (LEAF_IS_TRAIN_VIEW (self));

  self->state = STATE_RUNNING;
  self->decided_model = 0;
  update_decision (self);
  clear_charts (self);
  gtk_list_box_unselect_all (self->history_list);
  gtk_widget_set_visible (self->results_box, FALSE);
  gtk_widget_set_visible (GTK_WIDGET (self->message_label), FALSE);
  gtk_progress_bar_set_fraction (self->progress_bar, 0);
  gtk_label_set_text (self->phase_label, _("Starting"));
  gtk_label_set_text (self->status_label, "");
  update_actions (self);
}

static const char *
phase_title (LeafTrainPhase phase)
{
  switch (phase)
    {
    case LEAF_TRAIN_PHASE_PREPARE:
      return _("Preparing");
    case LEAF_TRAIN_PHASE_EXTRACT:
      return _("Computing Features");
    case LEAF_TRAIN_PHASE_HEAD:
      return _("Training the New Last Layer");
    case LEAF_TRAIN_PHASE_FINETUNE:
      return _("Fine-Tuning");
    case LEAF_TRAIN_PHASE_EVALUATE:
    default:
      return _("Measuring the Final Model");
    }
}

/**
 * leaf_train_view_set_phase:
 * @self: the view
 * @phase: the phase that starts
 * @message: (nullable): why the previous phase ended
 *
 * When fine-tuning starts, every chart gets a marker between the last point so far and the next.
 */
void
leaf_train_view_set_phase (LeafTrainView  *self,
                           LeafTrainPhase  phase,
                           const char     *message)
{
  g_return_if_fail (LEAF_IS_TRAIN_VIEW (self));

  gtk_label_set_text (self->phase_label, phase_title (phase));
  /* The last phase's bounds no longer hold; this one's come with its first epoch. */
  if (self->state == STATE_RUNNING)
    gtk_label_set_text (self->status_label,
                        phase == LEAF_TRAIN_PHASE_HEAD || phase == LEAF_TRAIN_PHASE_FINETUNE
                        ? _("Timing the first epoch…") : "");
  if (phase == LEAF_TRAIN_PHASE_FINETUNE)
    {
      leaf_chart_set_marker (self->loss_chart, self->last_epoch + 0.5, _("Fine-tuning"));
      leaf_chart_set_marker (self->accuracy_chart, self->last_epoch + 0.5, _("Fine-tuning"));
      leaf_chart_set_marker (self->step_chart, self->last_step + 0.5, _("Fine-tuning"));
    }
  if (message != NULL && message[0] != '\0')
    leaf_train_view_add_message (self, message);
}

void
leaf_train_view_add_step (LeafTrainView *self,
                          guint64        step,
                          double         loss)
{
  g_return_if_fail (LEAF_IS_TRAIN_VIEW (self));

  self->last_step = MAX (self->last_step, step);
  leaf_chart_series_append (self->step_loss, step, loss);
}

void
leaf_train_view_add_epoch (LeafTrainView *self,
                           guint          epoch,
                           double         train_loss,
                           double         train_accuracy,
                           double         val_loss,
                           double         val_accuracy)
{
  g_return_if_fail (LEAF_IS_TRAIN_VIEW (self));

  self->last_epoch = MAX (self->last_epoch, epoch);
  leaf_chart_series_append (self->train_loss, epoch, train_loss);
  leaf_chart_series_append (self->val_loss, epoch, val_loss);
  leaf_chart_series_append (self->train_accuracy, epoch, train_accuracy);
  leaf_chart_series_append (self->val_accuracy, epoch, val_accuracy);
}

static char *
format_eta (double seconds)
{
  guint minutes;

  if (seconds < 0)
    return g_strdup (_("Estimating time left…"));
  if (seconds < 60)
    return g_strdup (_("Less than a minute left"));
  minutes = (guint) round (seconds / 60);
  if (minutes < 90)
    return g_strdup_printf (ngettext ("About %u minute left", "About %u minutes left", minutes),
                            minutes);
  return g_strdup_printf (ngettext ("About %u hour left", "About %u hours left",
                                    (guint) round (minutes / 60.0)),
                          (guint) round (minutes / 60.0));
}

/* An upper bound on the time left, as the engine computes it: “at most 4 minutes left”. */
static char *
format_bound (double seconds)
{
  guint minutes = (guint) ceil (seconds / 60);

  if (seconds < 60)
    return g_strdup (_("less than a minute left"));
  if (minutes < 90)
    return g_strdup_printf (ngettext ("at most %u minute left", "at most %u minutes left",
                                      minutes), minutes);
  return g_strdup_printf (ngettext ("at most %u hour left", "at most %u hours left",
                                    (guint) ceil (minutes / 60.0)),
                          (guint) ceil (minutes / 60.0));
}

/* What is known after an epoch: where the phase is, what ends it, and the bounds on time. */
static char *
epoch_progress_text (const LeafTrainEvent *event)
{
  g_autofree char *where = NULL;
  g_autofree char *phase_left = format_bound (event->eta_seconds);
  g_autofree char *time = NULL;

  if (event->patience > 0)
    /* Translators: “Epoch 12 (at most 200) · best at 8 · stops after 10 epochs without
     * improvement”; epochs are numbered across the run, as in the charts */
    where = g_strdup_printf (ngettext ("Epoch %u (at most %u) · best at %u · stops after %u epoch "
                                       "without improvement",
                                       "Epoch %u (at most %u) · best at %u · stops after %u "
                                       "epochs without improvement", event->patience),
                             event->global_epoch, event->last_epoch, event->best_epoch,
                             event->patience);
  else
    /* Translators: “Epoch 3 of 20”, numbered across the run */
    where = g_strdup_printf (_("Epoch %u of %u"), event->global_epoch, event->last_epoch);

  /* The run's bound is only known once every phase to come has been timed. */
  if (event->run_eta_seconds >= 0 && event->run_eta_seconds > event->eta_seconds)
    {
      g_autofree char *run_left = format_bound (event->run_eta_seconds);

      /* Translators: “This phase: at most 4 minutes left · whole run: 46% done, at most 9
       * minutes left” */
      time = g_strdup_printf (_("This phase: %s · whole run: %.0f%% done, %s"), phase_left,
                              100 * event->run_fraction, run_left);
    }
  else
    /* Translators: “This phase: at most 4 minutes left · whole run: 46% done” */
    time = g_strdup_printf (_("This phase: %s · whole run: %.0f%% done"), phase_left,
                            100 * event->run_fraction);
  return g_strdup_printf ("%s\n%s", where, time);
}

/**
 * leaf_train_view_set_progress:
 * @self: the view
 * @event: a %LEAF_TRAIN_EVENT_PROGRESS event
 *
 * The bar shows the whole run's fraction once epochs run, which never goes back; before,
 * while features are computed, it only pulses and the text tells how far that step is.
 */
void
leaf_train_view_set_progress (LeafTrainView        *self,
                              const LeafTrainEvent *event)
{
  g_autofree char *text = NULL;

  g_return_if_fail (LEAF_IS_TRAIN_VIEW (self));
  g_return_if_fail (event != NULL);

  if (event->run_fraction >= 0)
    gtk_progress_bar_set_fraction (self->progress_bar, CLAMP (event->run_fraction, 0, 1));
  else
    gtk_progress_bar_pulse (self->progress_bar);
  if (self->state == STATE_STOPPING)
    return;
  if (event->run_fraction >= 0)
    text = epoch_progress_text (event);
  else
    {
      g_autofree char *eta = format_eta (event->eta_seconds);

      /* Translators: "About 3 minutes left · 42 photos per second · 37%" */
      text = event->images_per_second > 0
             ? g_strdup_printf (_("%s · %.0f photos per second · %.0f%%"), eta,
                                event->images_per_second, event->fraction * 100)
             : g_strdup_printf ("%s · %.0f%%", eta, event->fraction * 100);
    }
  gtk_label_set_text (self->status_label, self->state == STATE_PAUSED ? _("Paused") : text);
}

void
leaf_train_view_add_message (LeafTrainView *self,
                             const char    *message)
{
  g_return_if_fail (LEAF_IS_TRAIN_VIEW (self));
  g_return_if_fail (message != NULL);

  gtk_label_set_text (self->message_label, message);
  gtk_widget_set_visible (GTK_WIDGET (self->message_label), TRUE);
}

void
leaf_train_view_set_paused (LeafTrainView *self,
                            gboolean       paused)
{
  g_return_if_fail (LEAF_IS_TRAIN_VIEW (self));

  if (self->state != STATE_RUNNING && self->state != STATE_PAUSED)
    return;
  self->state = paused ? STATE_PAUSED : STATE_RUNNING;
  if (paused)
    gtk_label_set_text (self->status_label, _("Paused"));
  update_actions (self);
}

/**
 * leaf_train_view_end_run:
 * @self: the view
 * @run_id: the run's id in the catalog, or 0 when it never started
 * @error: (nullable): why it failed
 *
 * Lists the run in the history, shows its results and says whether Diagnose uses its model
 * (the run decides: only a completed run at least as accurate as the model in use replaces
 * it). When it does not, a toast and a button offer to use it anyway.
 */
void
leaf_train_view_end_run (LeafTrainView *self,
                         gint64         run_id,
                         const GError  *error)
{
  g_autoptr(LeafRunInfo) run = NULL;
  g_autoptr(LeafModelInfo) model = NULL;

  g_return_if_fail (LEAF_IS_TRAIN_VIEW (self));

  self->state = STATE_IDLE;
  self->live_run = run_id;
  update_actions (self);
  if (run_id > 0 && self->catalog != NULL)
    {
      run = leaf_catalog_get_run (self->catalog, run_id, NULL);
      model = model_of_run (self, run_id);
    }
  self->decided_model = model ? model->id : 0;
  /* Active now, it was made so by its run: the user has not had a chance yet. */
  self->decided_by_run = model && model->active;
  if (error != NULL)
    {
      gtk_label_set_text (self->phase_label, _("Training Failed"));
      gtk_label_set_text (self->status_label, error->message);
      leaf_show_toast_error (GTK_WIDGET (self), error);
    }
  else
    {
      gboolean stopped = run == NULL || run->status == LEAF_RUN_CANCELLED;

      gtk_label_set_text (self->phase_label, stopped ? _("Training Stopped")
                                                     : _("Training Finished"));
      gtk_label_set_text (self->status_label, run != NULL && model == NULL
                                              ? _("The run kept no model.") : "");
      gtk_progress_bar_set_fraction (self->progress_bar, 1.0);
    }
  update_decision (self);
  if (model != NULL && !model->active)
    offer_model (self, model);
  /* The trainer writes through its own connection: the catalog does not signal its runs. */
  reload_history (self, &(RowIds) { run_id, 0 });
}

/**
 * leaf_train_view_handle_event:
 * @self: the view
 * @event: an event of a #LeafTrainer
 *
 * Feeds the view from a #LeafTrainer::event handler.
 */
void
leaf_train_view_handle_event (LeafTrainView        *self,
                              const LeafTrainEvent *event)
{
  g_return_if_fail (LEAF_IS_TRAIN_VIEW (self));
  g_return_if_fail (event != NULL);

  switch (event->kind)
    {
    case LEAF_TRAIN_EVENT_PHASE:
      leaf_train_view_set_phase (self, event->phase, event->message);
      break;
    case LEAF_TRAIN_EVENT_STEP:
      leaf_train_view_add_step (self, event->step, event->loss);
      break;
    case LEAF_TRAIN_EVENT_EPOCH:
      leaf_train_view_add_epoch (self, event->global_epoch, event->train_loss,
                                 event->train_accuracy, event->val_loss, event->val_accuracy);
      break;
    case LEAF_TRAIN_EVENT_PROGRESS:
      leaf_train_view_set_progress (self, event);
      break;
    case LEAF_TRAIN_EVENT_MESSAGE:
      if (event->message != NULL)
        leaf_train_view_add_message (self, event->message);
      break;
    case LEAF_TRAIN_EVENT_FINISHED:
      leaf_train_view_end_run (self, event->run_id, event->error);
      break;
    default:
      break;
    }
}

/**
 * leaf_train_view_get_chart:
 * @self: the view
 * @name: "loss", "accuracy" or "step"
 *
 * Returns: (transfer none): that chart
 */
LeafChart *
leaf_train_view_get_chart (LeafTrainView *self,
                           const char    *name)
{
  g_return_val_if_fail (LEAF_IS_TRAIN_VIEW (self), NULL);

  if (g_strcmp0 (name, "loss") == 0)
    return self->loss_chart;
  if (g_strcmp0 (name, "accuracy") == 0)
    return self->accuracy_chart;
  if (g_strcmp0 (name, "step") == 0)
    return self->step_chart;
  g_return_val_if_reached (NULL);
}

/**
 * leaf_train_view_get_confusion:
 *
 * Returns: (transfer none) (nullable): the confusion matrix of the run shown
 */
LeafConfusion *
leaf_train_view_get_confusion (LeafTrainView *self)
{
  g_return_val_if_fail (LEAF_IS_TRAIN_VIEW (self), NULL);
  return gtk_widget_get_visible (self->results_box) ? self->confusion : NULL;
}

gboolean
leaf_train_view_is_running (LeafTrainView *self)
{
  g_return_val_if_fail (LEAF_IS_TRAIN_VIEW (self), FALSE);
  return self->state != STATE_IDLE;
}

LeafCatalog *
_leaf_train_view_get_catalog (LeafTrainView *self)
{
  return self->catalog;
}

/* Lists the history again, with the model's row selected and its results shown. */
void
_leaf_train_view_show_model (LeafTrainView *self,
                             gint64         model_id)
{
  reload_history (self, &(RowIds) { 0, model_id });
}
