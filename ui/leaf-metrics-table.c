/* leaf-metrics-table.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The Train view's results and the comparison of two models show the same table, so that a
 * model's numbers read the same in both. Classes are matched by name: two models may know other
 * classes, or the same ones in another order.
 */

#define G_LOG_DOMAIN "leaf-metrics-table"

#include "config.h"

#include <glib/gi18n.h>
#include <math.h>

#include "leaf-metrics-table.h"

#define COLUMNS LEAF_METRICS_TABLE_COLUMNS_PER_MODEL


/**
 * leaf_metrics_table_format_ratio:
 * @ratio: 0..1, or NAN when undefined
 *
 * Returns: (transfer full): “87.5%”, or “—” for an undefined ratio (see leaf-metrics.h)
 */
char *
leaf_metrics_table_format_ratio (double ratio)
{
  return isnan (ratio) ? g_strdup ("—") : g_strdup_printf ("%.1f%%", ratio * 100);
}

/**
 * leaf_metrics_table_add_cell:
 * @grid: a grid of %LEAF_METRICS_TABLE_COLUMNS_PER_MODEL columns per model after the row
 *   titles
 * @text: what the cell says
 * @column: 0 for the row titles
 * @width: columns it spans; a cell over several is centred
 * @header: whether it is a heading
 *
 * A cell as the table's own: row titles to the left, numbers to the right, and a gap before
 * each model's columns but the first.
 */
void
leaf_metrics_table_add_cell (GtkGrid    *grid,
                             const char *text,
                             int         column,
                             int         row,
                             int         width,
                             gboolean    header)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_label_set_xalign (GTK_LABEL (label), column == 0 ? 0 : width > 1 ? 0.5 : 1);
  /* Class names are the user's and may be long: in a narrow pane they end in “…”, whole in
   * their tooltip, rather than widen the table past the pane's edge or break letter by letter. */
  if (column == 0 && !header)
    {
      gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
      gtk_label_set_max_width_chars (GTK_LABEL (label), 30);
      gtk_widget_set_tooltip_text (label, text);
    }
  gtk_widget_add_css_class (label, header ? "heading" : "numeric");
  if (header)
    gtk_widget_add_css_class (label, "dim-label");
  if (column > 1 && (column - 1) % COLUMNS == 0)
    gtk_widget_set_margin_start (label, 18);
  gtk_grid_attach (grid, label, column, row, width, 1);
}

static const LeafClassMetrics *
find_class (const LeafMetrics *metrics,
            const char        *name)
{
  for (guint i = 0; i < metrics->n_classes; i++)
    if (g_strcmp0 (metrics->per_class[i].name, name) == 0)
      return &metrics->per_class[i];
  return NULL;
}

/**
 * leaf_metrics_table_fill:
 * @grid: the grid to fill; what it held goes
 * @metrics: (array length=n_models): each model's metrics
 * @titles: (array length=n_models) (nullable): a heading over each model's columns
 * @n_models: how many
 *
 * One row per class, in the first model's order and then the classes only later models know;
 * a class a model does not know reads “—” in its columns.
 */
void
leaf_metrics_table_fill (GtkGrid                   *grid,
                         const LeafMetrics * const *metrics,
                         const char * const        *titles,
                         guint                      n_models)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  GtkWidget *child;
  int row = 0;

  g_return_if_fail (GTK_IS_GRID (grid));
  g_return_if_fail (n_models > 0 && metrics != NULL);

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (grid))) != NULL)
    gtk_grid_remove (grid, child);

  for (guint m = 0; m < n_models; m++)
    for (guint i = 0; i < metrics[m]->n_classes; i++)
      {
        const char *name = metrics[m]->per_class[i].name;

        if (name != NULL &&
            !g_ptr_array_find_with_equal_func (names, name, g_str_equal, NULL))
          g_ptr_array_add (names, (gpointer) name);
      }

  if (titles != NULL)
    {
      for (guint m = 0; m < n_models; m++)
        leaf_metrics_table_add_cell (grid, titles[m], 1 + m * COLUMNS, row, COLUMNS, TRUE);
      row++;
    }
  leaf_metrics_table_add_cell (grid, _("Class"), 0, row, 1, TRUE);
  for (guint m = 0; m < n_models; m++)
    {
      int column = 1 + m * COLUMNS;

      leaf_metrics_table_add_cell (grid, _("Precision"), column, row, 1, TRUE);
      leaf_metrics_table_add_cell (grid, _("Recall"), column + 1, row, 1, TRUE);
      /* Translators: the F1 score, the harmonic mean of precision and recall */
      leaf_metrics_table_add_cell (grid, _("F1"), column + 2, row, 1, TRUE);
      leaf_metrics_table_add_cell (grid, _("Photos"), column + 3, row, 1, TRUE);
    }
  row++;

  for (guint i = 0; i < names->len; i++, row++)
    {
      leaf_metrics_table_add_cell (grid, names->pdata[i], 0, row, 1, FALSE);
      for (guint m = 0; m < n_models; m++)
        {
          const LeafClassMetrics *c = find_class (metrics[m], names->pdata[i]);
          int column = 1 + m * COLUMNS;
          g_autofree char *precision = leaf_metrics_table_format_ratio (c ? c->precision : NAN);
          g_autofree char *recall = leaf_metrics_table_format_ratio (c ? c->recall : NAN);
          g_autofree char *f1 = leaf_metrics_table_format_ratio (c ? c->f1 : NAN);
          g_autofree char *support = c ? g_strdup_printf ("%" G_GINT64_FORMAT, c->support)
                                       : g_strdup ("—");

          leaf_metrics_table_add_cell (grid, precision, column, row, 1, FALSE);
          leaf_metrics_table_add_cell (grid, recall, column + 1, row, 1, FALSE);
          leaf_metrics_table_add_cell (grid, f1, column + 2, row, 1, FALSE);
          leaf_metrics_table_add_cell (grid, support, column + 3, row, 1, FALSE);
        }
    }
}
