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

#include "leaf-chart.h"
#include "leaf-confusion-matrix.h"
#include "leaf-metrics.h"
#include "leaf-reliability-diagram.h"
#include "leaf-settings.h"
#include "leaf-toast.h"
#include "leaf-train-view.h"

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

static const guint views_choices[] = { 1, 2, 4, 8 };

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
  GtkLabel *message_label;
  AdwButtonContent *pause_content;
  LeafChart *loss_chart;
  LeafChart *accuracy_chart;
  LeafChart *step_chart;
  GtkWidget *results_box;
  GtkLabel *results_title;
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

#define ROW_RUN "leaf-run-id"

static void
update_actions (LeafTrainView *self)
{
  gboolean active = self->state != STATE_IDLE;

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "train.start",
                                 !active && self->catalog != NULL);
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
  text = leaf_recipe_to_string (&recipe);
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

static void
grid_add_text (GtkGrid    *grid,
               const char *text,
               int         column,
               int         row,
               gboolean    header)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_label_set_xalign (GTK_LABEL (label), column == 0 ? 0 : 1);
  gtk_widget_add_css_class (label, header ? "heading" : "numeric");
  if (header)
    gtk_widget_add_css_class (label, "dim-label");
  gtk_grid_attach (grid, label, column, row, 1, 1);
}

static void
fill_per_class (LeafTrainView *self)
{
  guint n = leaf_confusion_get_n_classes (self->confusion);
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->per_class_grid))) != NULL)
    gtk_grid_remove (self->per_class_grid, child);

  grid_add_text (self->per_class_grid, _("Class"), 0, 0, TRUE);
  grid_add_text (self->per_class_grid, _("Precision"), 1, 0, TRUE);
  grid_add_text (self->per_class_grid, _("Recall"), 2, 0, TRUE);
  grid_add_text (self->per_class_grid, _("Photos"), 3, 0, TRUE);
  for (guint i = 0; i < n; i++)
    {
      double precision = leaf_confusion_get_precision (self->confusion, i);
      double recall = leaf_confusion_get_recall (self->confusion, i);
      /* Undefined ratios (see leaf-metrics.h) read "—". */
      g_autofree char *p = isnan (precision) ? g_strdup ("—")
                                             : g_strdup_printf ("%.1f%%", precision * 100);
      g_autofree char *r = isnan (recall) ? g_strdup ("—") : g_strdup_printf ("%.1f%%", recall * 100);
      g_autofree char *count = g_strdup_printf ("%u", leaf_confusion_get_row_total (self->confusion, i));

      grid_add_text (self->per_class_grid, leaf_confusion_get_class_name (self->confusion, i), 0,
                     i + 1, FALSE);
      grid_add_text (self->per_class_grid, p, 1, i + 1, FALSE);
      grid_add_text (self->per_class_grid, r, 2, i + 1, FALSE);
      grid_add_text (self->per_class_grid, count, 3, i + 1, FALSE);
    }
}

/* The confusion matrix of a model's metrics, as the catalog keeps them. */
static LeafConfusion *
confusion_from_metrics (const char  *metrics_json,
                        GError     **error)
{
  g_autoptr(LeafMetrics) metrics = leaf_metrics_parse (metrics_json, error);

  if (metrics == NULL)
    return NULL;
  if (metrics->confusion == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           _("The model’s record has no confusion matrix"));
      return NULL;
    }
  return g_object_ref (metrics->confusion);
}

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

static LeafModelInfo *
model_of_run (LeafTrainView *self,
              gint64         run_id)
{
  g_autoptr(GPtrArray) models = leaf_catalog_list_models (self->catalog, NULL);

  for (guint i = 0; models && i < models->len; i++)
    {
      LeafModelInfo *model = g_ptr_array_index (models, i);

      if (model->run_id == run_id)
        return g_ptr_array_steal_index (models, i);
    }
  return NULL;
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

static void
show_run (LeafTrainView *self,
          gint64         run_id)
{
  g_autoptr(LeafModelInfo) model = NULL;
  g_autoptr(LeafConfusion) confusion = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *title = NULL;

  /* Curves drawn live know where fine-tuning began; the catalog does not record it. */
  if (self->state == STATE_IDLE && run_id != self->live_run)
    {
      self->live_run = 0;
      load_run_curves (self, run_id);
    }

  model = model_of_run (self, run_id);
  if (model != NULL)
    confusion = confusion_from_metrics (model->metrics_json, &error);
  if (confusion == NULL)
    {
      if (error != NULL)
        g_debug ("No results for run %" G_GINT64_FORMAT ": %s", run_id, error->message);
      gtk_widget_set_visible (self->results_box, FALSE);
      return;
    }

  g_set_object (&self->confusion, confusion);
  self->results_model = model->id;
  leaf_confusion_matrix_set_model (self->confusion_matrix, confusion);
  fill_per_class (self);
  show_calibration (self, model->metrics_json);
  /* Translators: %s is a run number, %.1f%% the accuracy, %u the photo count */
  title = g_strdup_printf (ngettext ("Run %" PRId64 ": %.1f%% of %u validation photo "
                                     "recognised",
                                     "Run %" PRId64 ": %.1f%% of %u validation photos "
                                     "recognised",
                                     leaf_confusion_get_total (confusion)),
                           run_id, leaf_confusion_get_accuracy (confusion) * 100,
                           leaf_confusion_get_total (confusion));
  gtk_label_set_text (self->results_title, title);
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
reload_history (LeafTrainView *self,
                gint64         select_run)
{
  g_autoptr(GPtrArray) runs = NULL;
  g_autoptr(GError) error = NULL;
  GtkListBoxRow *old;

  while ((old = gtk_list_box_get_row_at_index (self->history_list, 0)) != NULL)
    gtk_list_box_remove (self->history_list, GTK_WIDGET (old));
  if (self->catalog == NULL)
    return;

  runs = leaf_catalog_list_runs (self->catalog, &error);
  if (runs == NULL)
    {
      leaf_show_toast_error (GTK_WIDGET (self), error);
      return;
    }
  if (runs->len == 0)
    {
      GtkWidget *row = adw_action_row_new ();

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), _("No runs yet"));
      gtk_widget_add_css_class (row, "dim-label");
      gtk_list_box_row_set_selectable (GTK_LIST_BOX_ROW (row), FALSE);
      gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), FALSE);
      g_object_set_data (G_OBJECT (row), ROW_RUN, NULL);
      gtk_list_box_append (self->history_list, row);
      return;
    }

  /* Newest first. */
  for (guint i = runs->len; i > 0; i--)
    {
      LeafRunInfo *run = g_ptr_array_index (runs, i - 1);
      g_autoptr(GDateTime) local = g_date_time_to_local (run->started);
      g_autofree char *when = g_date_time_format (local, "%x %R");
      g_autofree char *title = g_strdup_printf (_("Run %" PRId64), run->id);
      g_autofree char *subtitle = g_strdup_printf ("%s · %s", when, status_text (run->status));
      GtkWidget *row = adw_action_row_new ();
      GtkWidget *icon = gtk_image_new_from_icon_name (status_icon (run->status));

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
      if (run->message != NULL && run->message[0] != '\0')
        gtk_widget_set_tooltip_text (row, run->message);
      adw_action_row_add_prefix (ADW_ACTION_ROW (row), icon);
      g_object_set_data_full (G_OBJECT (row), ROW_RUN, g_memdup2 (&run->id, sizeof run->id),
                              g_free);
      gtk_list_box_append (self->history_list, row);
      if (run->id == select_run)
        gtk_list_box_select_row (self->history_list, GTK_LIST_BOX_ROW (row));
    }
}

static void
on_history_row_selected_cb (LeafTrainView *self,
                            GtkListBoxRow *row)
{
  gint64 *run_id = row ? g_object_get_data (G_OBJECT (row), ROW_RUN) : NULL;

  if (run_id != NULL)
    show_run (self, *run_id);
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
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, message_label);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, pause_content);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, loss_chart);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, accuracy_chart);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, step_chart);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, results_box);
  gtk_widget_class_bind_template_child (widget_class, LeafTrainView, results_title);
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

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static char *
format_rate (double rate)
{
  int decimals = (int) ceil (-log10 (rate) - 1e-9);

  return g_strdup_printf ("%.*f", MAX (decimals, 0), rate);
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

  self->settings = leaf_settings_new ();
  restore_recipe (self);
  g_signal_connect_object (self->preset_row, "notify::selected",
                           G_CALLBACK (on_preset_changed_cb), self, G_CONNECT_SWAPPED);
  watch_controls (self);
  g_signal_connect_object (self->history_list, "row-selected",
                           G_CALLBACK (on_history_row_selected_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->confusion_matrix, "cell-activated",
                           G_CALLBACK (on_cell_activated_cb), self, G_CONNECT_SWAPPED);
  update_actions (self);
}

GtkWidget *
leaf_train_view_new (void)
{
  return g_object_new (LEAF_TYPE_TRAIN_VIEW, NULL);
}

static void
on_catalog_runs_changed_cb (LeafTrainView *self)
{
  GtkListBoxRow *row = gtk_list_box_get_selected_row (self->history_list);
  gint64 *selected = row ? g_object_get_data (G_OBJECT (row), ROW_RUN) : NULL;

  reload_history (self, selected ? *selected : 0);
}

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
  if (catalog != NULL)
    {
      g_signal_connect_object (catalog, "runs-changed", G_CALLBACK (on_catalog_runs_changed_cb),
                               self, G_CONNECT_SWAPPED);
      g_signal_connect_object (catalog, "images-changed", G_CALLBACK (update_group_warning),
                               self, G_CONNECT_SWAPPED);
      g_signal_connect_object (catalog, "labels-changed", G_CALLBACK (update_group_warning),
                               self, G_CONNECT_SWAPPED);
    }
  if (self->history_list == NULL)
    return;
  update_group_warning (self);
  self->live_run = 0;
  clear_charts (self);
  gtk_widget_set_visible (self->results_box, FALSE);
  reload_history (self, 0);
  update_actions (self);
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

void
leaf_train_view_set_progress (LeafTrainView *self,
                              double         fraction,
                              double         eta_seconds,
                              double         images_per_second)
{
  g_autofree char *eta = NULL;
  g_autofree char *text = NULL;

  g_return_if_fail (LEAF_IS_TRAIN_VIEW (self));

  gtk_progress_bar_set_fraction (self->progress_bar, CLAMP (fraction, 0, 1));
  if (self->state == STATE_STOPPING)
    return;
  eta = format_eta (eta_seconds);
  /* Translators: "About 3 minutes left · 42 photos per second · 37%" */
  text = images_per_second > 0
         ? g_strdup_printf (_("%s · %.0f photos per second · %.0f%%"), eta, images_per_second,
                            fraction * 100)
         : g_strdup_printf ("%s · %.0f%%", eta, fraction * 100);
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
 * Lists the run in the history and shows its results.
 */
void
leaf_train_view_end_run (LeafTrainView *self,
                         gint64         run_id,
                         const GError  *error)
{
  g_return_if_fail (LEAF_IS_TRAIN_VIEW (self));

  self->state = STATE_IDLE;
  self->live_run = run_id;
  update_actions (self);
  if (error != NULL)
    {
      gtk_label_set_text (self->phase_label, _("Training Failed"));
      gtk_label_set_text (self->status_label, error->message);
      leaf_show_toast_error (GTK_WIDGET (self), error);
    }
  else
    {
      gtk_label_set_text (self->phase_label, _("Training Finished"));
      gtk_label_set_text (self->status_label,
                          _("The model is ready: Diagnose uses it for new photos"));
      gtk_progress_bar_set_fraction (self->progress_bar, 1.0);
    }
  /* The trainer writes through its own connection: the catalog does not signal its runs. */
  reload_history (self, run_id);
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
      leaf_train_view_set_progress (self, event->fraction, event->eta_seconds,
                                    event->images_per_second);
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
