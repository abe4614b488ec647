/* leaf-model-compare-dialog.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Each model's numbers are those its run measured on its own validation photos (an imported
 * model's, on the catalog's at import). Two runs that validated on other photos, or on the same
 * photos labelled otherwise, do not compare exactly: the dialog says so rather than let a
 * difference of photos pass for a difference of models.
 */

#define G_LOG_DOMAIN "leaf-model-compare-dialog"

#include "config.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <math.h>

#include "leaf-metrics-table.h"
#include "leaf-model-compare-dialog.h"

struct _LeafModelCompareDialog
{
  AdwWindow parent_instance;

  /* Template widgets */
  AdwWindowTitle *window_title;
  GtkLabel *note_label;
  GtkGrid *summary_grid;
  GtkGrid *class_grid;
};

G_DEFINE_FINAL_TYPE (LeafModelCompareDialog, leaf_model_compare_dialog, ADW_TYPE_WINDOW)

static void
leaf_model_compare_dialog_class_init (LeafModelCompareDialogClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/leafscope/Leafscope/"
                                               "leaf-model-compare-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, LeafModelCompareDialog, window_title);
  gtk_widget_class_bind_template_child (widget_class, LeafModelCompareDialog, note_label);
  gtk_widget_class_bind_template_child (widget_class, LeafModelCompareDialog, summary_grid);
  gtk_widget_class_bind_template_child (widget_class, LeafModelCompareDialog, class_grid);

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
leaf_model_compare_dialog_init (LeafModelCompareDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

/* Which validation photos, with which labels, a run measured its model on (leaf-run.c), or
 * NULL when its record does not say. */
static char *
val_set_of (const LeafModelInfo *model)
{
  g_autoptr(JsonNode) root = model->metrics_json ? json_from_string (model->metrics_json, NULL)
                                                 : NULL;

  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  return g_strdup (json_object_get_string_member_with_default (json_node_get_object (root),
                                                               "val_set_sha256", NULL));
}

static const char *
how_made (const LeafModelInfo *model)
{
  if (model->run_id == 0)
    return _("Imported");
  switch (model->run_status)
    {
    case LEAF_RUN_COMPLETED:
      return _("Run completed");
    case LEAF_RUN_CANCELLED:
      return _("Run stopped");
    case LEAF_RUN_RUNNING:
    case LEAF_RUN_FAILED:
    case LEAF_RUN_INTERRUPTED:
    default:
      return _("Run unfinished");
    }
}

static void
fill_summary (LeafModelCompareDialog     *self,
              const LeafModelInfo *const *models,
              const LeafMetrics *const   *metrics,
              const char *const          *titles)
{
  enum { ACCURACY, MACRO_F1, PHOTOS, MADE, DATE, ACTIVE, N_ROWS };
  const char *row_titles[N_ROWS] = {
    _("Validation accuracy"), _("Macro F1"), _("Validation photos"), _("Made by"), _("Date"),
    _("Diagnose uses it"),
  };
  const int width = LEAF_METRICS_TABLE_COLUMNS_PER_MODEL;

  for (guint m = 0; m < 2; m++)
    leaf_metrics_table_add_cell (self->summary_grid, titles[m], 1 + m * width, 0, width, TRUE);
  for (int row = 0; row < N_ROWS; row++)
    {
      leaf_metrics_table_add_cell (self->summary_grid, row_titles[row], 0, row + 1, 1, TRUE);
      for (guint m = 0; m < 2; m++)
        {
          const LeafModelInfo *model = models[m];
          g_autofree char *text = NULL;
          g_autoptr(GDateTime) local = NULL;

          switch (row)
            {
            case ACCURACY:
              text = leaf_metrics_table_format_ratio (isnan (metrics[m]->accuracy)
                                                      ? model->val_accuracy
                                                      : metrics[m]->accuracy);
              break;
            case MACRO_F1:
              text = leaf_metrics_table_format_ratio (metrics[m]->macro_f1);
              break;
            case PHOTOS:
              text = metrics[m]->n > 0 ? g_strdup_printf ("%" G_GINT64_FORMAT, metrics[m]->n)
                                       : g_strdup ("—");
              break;
            case MADE:
              text = g_strdup (how_made (model));
              break;
            case DATE:
              local = model->created ? g_date_time_to_local (model->created) : NULL;
              text = local ? g_date_time_format (local, "%x") : g_strdup ("—");
              break;
            case ACTIVE:
            default:
              text = g_strdup (model->active ? _("Yes") : _("No"));
              break;
            }
          leaf_metrics_table_add_cell (self->summary_grid, text, 1 + m * width, row + 1, width,
                                       FALSE);
        }
    }
}

/**
 * leaf_model_compare_dialog_new:
 * @parent: (nullable): the window it belongs to
 * @first: a model
 * @second: another
 *
 * Returns: (transfer none): a modal window showing both models' validation accuracy, macro F1
 *   and per-class precision, recall and F1 side by side; present it
 */
GtkWidget *
leaf_model_compare_dialog_new (GtkWindow           *parent,
                               const LeafModelInfo *first,
                               const LeafModelInfo *second)
{
  const LeafModelInfo *models[2] = { first, second };
  LeafMetrics *parsed[2] = { NULL, NULL };
  const LeafMetrics *metrics[2];
  const LeafMetrics none = { .accuracy = NAN, .macro_f1 = NAN };
  char *titles[2] = { NULL, NULL };
  g_autofree char *subtitle = NULL;
  g_autofree char *first_val = NULL;
  g_autofree char *second_val = NULL;
  LeafModelCompareDialog *self;

  g_return_val_if_fail (parent == NULL || GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (first != NULL && second != NULL, NULL);

  self = g_object_new (LEAF_TYPE_MODEL_COMPARE_DIALOG, "transient-for", parent, NULL);
  for (guint m = 0; m < 2; m++)
    {
      g_autoptr(GError) error = NULL;

      titles[m] = leaf_model_info_get_title (models[m]);
      parsed[m] = leaf_metrics_parse (models[m]->metrics_json, &error);
      if (parsed[m] == NULL)
        g_debug ("No metrics for model %" G_GINT64_FORMAT ": %s", models[m]->id, error->message);
      metrics[m] = parsed[m] ? parsed[m] : &none;
    }

  /* Translators: the subtitle of the comparison of two models, as in “Run 3 and Run 5” */
  subtitle = g_strdup_printf (_("%s and %s"), titles[0], titles[1]);
  adw_window_title_set_subtitle (self->window_title, subtitle);
  first_val = val_set_of (first);
  second_val = val_set_of (second);
  if (first_val == NULL || g_strcmp0 (first_val, second_val) != 0)
    {
      gtk_label_set_text (self->note_label,
                          _("The two models were measured on different validation photos, or "
                            "on photos not known to be the same: a difference below may come "
                            "from the photos rather than the models."));
      gtk_widget_set_visible (GTK_WIDGET (self->note_label), TRUE);
    }
  fill_summary (self, models, metrics, (const char * const *) titles);
  leaf_metrics_table_fill (self->class_grid, metrics, (const char * const *) titles, 2);
  for (guint m = 0; m < 2; m++)
    {
      g_clear_pointer (&parsed[m], leaf_metrics_free);
      g_clear_pointer (&titles[m], g_free);
    }
  return GTK_WIDGET (self);
}
