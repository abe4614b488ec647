/* test-widgets.c: every templated widget is created, drawn and finalised; the chart and the
 * confusion matrix draw and describe their data
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "test-widgets"

#include "config.h"

#include "leaf-test.h"

#include <adwaita.h>
#include <math.h>
#include <string.h>

#include "leaf-catalog.h"
#include "leaf-chart.h"
#include "leaf-confusion-matrix.h"
#include "leaf-diagnose-view.h"
#include "leaf-engine.h"
#include "leaf-error.h"
#include "leaf-import.h"
#include "leaf-library-view.h"
#include "leaf-preferences-window.h"
#include "leaf-settings.h"
#include "leaf-thumbnail-cell.h"
#include "leaf-train-view.h"
#include "leaf-viewer-window.h"
#include "leaf-window.h"
#include "ui-test-util.h"

#define BLUE   "#3584e4"
#define ORANGE "#e66100"

static GListStore *
store_with (LeafChartSeries *series)
{
  GListStore *store = g_list_store_new (LEAF_TYPE_CHART_SERIES);

  g_list_store_append (store, series);
  return store;
}

static LeafChartSeries *
series_new (const char     *title,
            LeafChartStyle  style,
            const char     *color)
{
  LeafChartSeries *series = leaf_chart_series_new (title, style);

  leaf_chart_series_set_color (series, color);
  return series;
}

/* Destroys the window and checks that it, and @widget inside it, are finalised. */
static void
destroy_and_finalize (GtkWidget *window,
                      GtkWidget *widget)
{
  g_object_ref (widget);
  gtk_window_destroy (GTK_WINDOW (window));
  ui_test_iterate (50);
  g_assert_finalize_object (widget);
}

static void
test_chart_draws_appended_points (void)
{
  g_autoptr(LeafChartSeries) series = series_new ("Training", LEAF_CHART_STYLE_LINE, BLUE);
  g_autoptr(GListStore) store = store_with (series);
  GtkWidget *chart = leaf_chart_new ();
  GtkWidget *window;
  g_autoptr(GdkTexture) empty = NULL;
  g_autoptr(GdkTexture) drawn = NULL;

  leaf_chart_set_model (LEAF_CHART (chart), G_LIST_MODEL (store));
  window = ui_test_show (chart, 400, 260);
  empty = ui_test_render (chart);
  /* The legend's swatch is blue too; no line yet means only those few pixels. */
  g_assert_cmpuint (ui_test_count_pixels (empty, BLUE, 10), <, 60);

  for (guint i = 1; i <= 10; i++)
    leaf_chart_series_append (series, i, 1.0 / i);
  /* The model's signal alone must lead to a redraw: no timer, no explicit call. */
  ui_test_iterate (50);
  drawn = ui_test_render (chart);
  g_assert_cmpuint (ui_test_count_pixels (drawn, BLUE, 10), >, 300);

  destroy_and_finalize (window, chart);
}

static void
test_chart_summary_follows_data (void)
{
  g_autoptr(LeafChartSeries) series = series_new ("Validation", LEAF_CHART_STYLE_DASHED, ORANGE);
  g_autoptr(GListStore) store = store_with (series);
  g_autoptr(LeafChart) chart = g_object_ref_sink (LEAF_CHART (leaf_chart_new ()));

  leaf_chart_set_title (chart, "Accuracy");
  leaf_chart_set_percent (chart, TRUE);
  leaf_chart_set_model (chart, G_LIST_MODEL (store));
  g_assert_null (strstr (leaf_chart_get_summary (chart), "Validation"));

  leaf_chart_series_append (series, 1, 0.5);
  leaf_chart_series_append (series, 2, 0.875);
  g_assert_nonnull (strstr (leaf_chart_get_summary (chart), "Accuracy"));
  g_assert_nonnull (strstr (leaf_chart_get_summary (chart), "Validation: 2 points"));
  g_assert_nonnull (strstr (leaf_chart_get_summary (chart), "87.5%"));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (series)), ==, 2);

  /* Values that cannot be drawn are dropped, not plotted. */
  leaf_chart_series_append (series, 3, NAN);
  leaf_chart_series_append (series, 4, INFINITY);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (series)), ==, 2);

  leaf_chart_series_clear (series);
  g_assert_null (strstr (leaf_chart_get_summary (chart), "Validation"));
}

static void
test_chart_marker (void)
{
  g_autoptr(LeafChartSeries) series = series_new ("Loss", LEAF_CHART_STYLE_LINE, BLUE);
  g_autoptr(GListStore) store = store_with (series);
  GtkWidget *chart = leaf_chart_new ();
  GtkWidget *window;
  g_autoptr(GdkTexture) before = NULL;
  g_autoptr(GdkTexture) after = NULL;

  for (guint i = 1; i <= 6; i++)
    leaf_chart_series_append (series, i, 2.0 / i);
  leaf_chart_set_model (LEAF_CHART (chart), G_LIST_MODEL (store));
  window = ui_test_show (chart, 400, 260);
  before = ui_test_render (chart);
  leaf_chart_set_marker (LEAF_CHART (chart), 3.5, "Fine-tuning");
  ui_test_iterate (50);
  after = ui_test_render (chart);
  /* The marker is drawn in orange; the data in blue. */
  g_assert_cmpuint (ui_test_count_pixels (after, ORANGE, 12), >,
                    ui_test_count_pixels (before, ORANGE, 12) + 20);
  g_assert_cmpfloat (leaf_chart_get_marker_x (LEAF_CHART (chart)), ==, 3.5);
  g_assert_nonnull (strstr (leaf_chart_get_summary (LEAF_CHART (chart)), "Fine-tuning at 3.5"));

  destroy_and_finalize (window, chart);
}

static void
test_chart_dense_series (void)
{
  g_autoptr(LeafChartSeries) series = series_new ("Step loss", LEAF_CHART_STYLE_TRACE, BLUE);
  g_autoptr(GListStore) store = store_with (series);
  GtkWidget *chart = leaf_chart_new ();
  GtkWidget *window;
  g_autoptr(GdkTexture) drawn = NULL;

  leaf_chart_set_model (LEAF_CHART (chart), G_LIST_MODEL (store));
  window = ui_test_show (chart, 500, 260);
  for (guint i = 1; i <= 20000; i++)
    leaf_chart_series_append (series, i, 1.0 + sin (i / 50.0));
  ui_test_iterate (50);
  drawn = ui_test_render (chart);
  g_assert_nonnull (drawn);
  g_assert_nonnull (strstr (leaf_chart_get_summary (LEAF_CHART (chart)), "20000 points"));
  destroy_and_finalize (window, chart);
}

typedef struct
{
  guint truth;
  guint predicted;
  guint calls;
} Activation;

static void
on_cell_activated_cb (LeafConfusionMatrix *matrix,
                      guint                truth,
                      guint                predicted,
                      Activation          *activation)
{
  activation->truth = truth;
  activation->predicted = predicted;
  activation->calls++;
}

static void
test_confusion_matrix_keyboard (void)
{
  const char *classes[] = { "healthy", "early blight", "late blight", NULL };
  const guint counts[] = { 9, 1, 0, 0, 7, 3, 1, 0, 8 };
  g_autoptr(LeafConfusion) confusion = leaf_confusion_new (classes);
  GtkWidget *matrix = leaf_confusion_matrix_new ();
  Activation activation = { 0 };
  GtkWidget *window;
  g_autoptr(GdkTexture) drawn = NULL;

  leaf_confusion_set_counts (confusion, counts, G_N_ELEMENTS (counts));
  leaf_confusion_matrix_set_model (LEAF_CONFUSION_MATRIX (matrix), confusion);
  g_signal_connect (matrix, "cell-activated", G_CALLBACK (on_cell_activated_cb), &activation);
  window = ui_test_show (matrix, 420, 260);
  drawn = ui_test_render (matrix);
  /* Green diagonal cells. */
  g_assert_cmpuint (ui_test_count_pixels (drawn, "#2ec27e", 40), >, 100);
  g_assert_nonnull (strstr (leaf_confusion_matrix_get_summary (LEAF_CONFUSION_MATRIX (matrix)),
                            "3 photos of early blight predicted as late blight"));

  gtk_widget_grab_focus (matrix);
  g_assert_true (ui_test_press_key (matrix, GDK_KEY_Down, 0));
  g_assert_true (ui_test_press_key (matrix, GDK_KEY_Right, 0));
  g_assert_true (ui_test_press_key (matrix, GDK_KEY_Right, 0));
  g_assert_true (ui_test_press_key (matrix, GDK_KEY_Return, 0));
  g_assert_cmpuint (activation.calls, ==, 1);
  g_assert_cmpuint (activation.truth, ==, 1);
  g_assert_cmpuint (activation.predicted, ==, 2);

  destroy_and_finalize (window, matrix);
}

/* Templated widgets */

static void
check_template (GtkWidget *widget,
                int        width,
                int        height)
{
  GtkWidget *window = ui_test_show (widget, width, height);
  g_autoptr(GdkTexture) drawn = ui_test_render (widget);

  g_assert_cmpint (gdk_texture_get_width (drawn), ==, gtk_widget_get_width (widget));
  destroy_and_finalize (window, widget);
}

static void
check_toplevel (GtkWidget *window)
{
  g_autoptr(GdkTexture) drawn = NULL;

  gtk_window_present (GTK_WINDOW (window));
  ui_test_iterate (150);
  drawn = ui_test_render (window);
  g_assert_nonnull (drawn);
  g_object_ref (window);
  gtk_window_destroy (GTK_WINDOW (window));
  ui_test_iterate (50);
  g_assert_finalize_object (window);
}

static LeafCatalog *
catalog_with_photos (char **dir_out)
{
  const char *classes[] = { "healthy", "blight", NULL };
  g_autofree char *dir = g_dir_make_tmp ("leafscope-widgets-XXXXXX", NULL);
  g_autofree char *photos = g_build_filename (dir, "photos", NULL);
  g_autofree char *path = g_build_filename (dir, "test.leafscope", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafImportSummary) summary = NULL;
  LeafImportOptions options = { 0 };
  const char *paths[] = { photos, NULL };
  LeafCatalog *catalog;

  g_free (ui_test_make_photos (photos, classes, 3));
  catalog = leaf_catalog_open (path, LEAF_CATALOG_OPEN_CREATE, &error);
  g_assert_no_error (error);
  summary = leaf_import_run (catalog, paths, &options, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (summary->n_added, ==, 6);
  *dir_out = g_steal_pointer (&dir);
  return catalog;
}

static void
test_template_library_view (void)
{
  g_autofree char *dir = NULL;
  g_autoptr(LeafCatalog) catalog = catalog_with_photos (&dir);
  GtkWidget *view = leaf_library_view_new ();

  leaf_library_view_set_catalog (LEAF_LIBRARY_VIEW (view), catalog);
  check_template (view, 900, 600);
  leaf_catalog_close (catalog);
  leaf_test_remove_tree (dir);
}

static void
test_template_empty_library_view (void)
{
  check_template (leaf_library_view_new (), 700, 500);
}

static void
test_template_train_view (void)
{
  check_template (leaf_train_view_new (), 1000, 700);
}

static void
test_template_diagnose_view (void)
{
  check_template (leaf_diagnose_view_new (), 800, 600);
}

static void
test_template_thumbnail_cell (void)
{
  g_autofree char *dir = NULL;
  g_autoptr(LeafCatalog) catalog = catalog_with_photos (&dir);
  LeafImageQuery all = { 0 };
  g_autoptr(LeafImageList) list = leaf_image_list_new (catalog, &all, NULL, NULL);
  g_autoptr(LeafLibraryItem) item = g_list_model_get_item (G_LIST_MODEL (list), 0);
  g_autofree char *cache = g_build_filename (dir, "thumbnails", NULL);
  g_autoptr(LeafThumbnailer) thumbnailer = leaf_thumbnailer_new (cache);
  GtkWidget *cell = leaf_thumbnail_cell_new ();

  GtkWidget *window;

  leaf_thumbnail_cell_bind (LEAF_THUMBNAIL_CELL (cell), item, thumbnailer);
  window = ui_test_show (cell, 200, 200);
  /* The thumbnail is decoded on another thread and arrives through the main loop. */
  g_assert_true (ui_test_wait_for ((GSourceFunc) leaf_thumbnail_cell_has_thumbnail, cell, 5000));
  /* Folder import labelled every photo; the chip names the label. */
  g_assert_nonnull (leaf_library_item_get_class_name (item));
  g_assert_nonnull (ui_test_find_label (cell, leaf_library_item_get_class_name (item)));
  g_object_unref (ui_test_render (cell));
  destroy_and_finalize (window, cell);
  leaf_catalog_close (catalog);
  leaf_test_remove_tree (dir);
}

static void
test_template_viewer_window (void)
{
  g_autofree char *dir = NULL;
  g_autoptr(LeafCatalog) catalog = catalog_with_photos (&dir);
  GtkWidget *view = leaf_library_view_new ();
  GtkWidget *window = ui_test_show (view, 800, 600);

  leaf_library_view_set_catalog (LEAF_LIBRARY_VIEW (view), catalog);
  check_toplevel (leaf_viewer_window_new (LEAF_LIBRARY_VIEW (view), 1));
  destroy_and_finalize (window, view);
  leaf_catalog_close (catalog);
  leaf_test_remove_tree (dir);
}

static void
test_template_preferences_window (void)
{
  check_toplevel (leaf_preferences_window_new ());
}

static GtkWidget *
find_row (GtkWidget  *root,
          const char *title)
{
  if (ADW_IS_PREFERENCES_ROW (root)
      && g_strcmp0 (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (root)), title) == 0)
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_row (child, title);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static void
select_device (GSettings   *settings,
               AdwComboRow *row,
               guint        index,
               const char  *nick)
{
  g_autofree char *kept = NULL;

  adw_combo_row_set_selected (row, index);
  ui_test_iterate (20);
  kept = g_settings_get_string (settings, "device");
  g_assert_cmpstr (kept, ==, nick);
}

/* The Compute Device row keeps its choice in GSettings and hands it to the engine, which makes
 * models there; a CUDA GPU that is not there is refused with a message that names Preferences. */
static void
test_preferences_device (void)
{
  g_autoptr(GSettings) settings = leaf_settings_new ();
  GtkWidget *window = leaf_preferences_window_new ();
  g_autoptr(GError) error = NULL;
  AdwComboRow *row;
  gboolean has_cuda;

  g_unsetenv ("LEAFSCOPE_DEVICE");
  gtk_window_present (GTK_WINDOW (window));
  ui_test_iterate (100);
  row = ADW_COMBO_ROW (find_row (window, "Compute Device"));
  g_assert_nonnull (row);
  g_assert_cmpuint (g_list_model_get_n_items (adw_combo_row_get_model (row)), ==, 3);
  g_assert_cmpuint (adw_combo_row_get_selected (row), ==, 0);

  select_device (settings, row, 1, "cpu");
  g_assert_true (leaf_engine_init_torch (0, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (leaf_engine_get_device (), ==, "cpu");

  select_device (settings, row, 0, "auto");
  g_assert_true (leaf_engine_init_torch (0, &error));
  has_cuda = g_str_has_prefix (leaf_engine_get_device (), "cuda");
  g_assert_true (has_cuda || g_str_equal (leaf_engine_get_device (), "cpu"));

  select_device (settings, row, 2, "cuda");
  if (!has_cuda)
    {
      g_assert_false (leaf_engine_init_torch (0, &error));
      g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NO_DEVICE);
      g_test_message ("%s", error->message);
      g_assert_nonnull (strstr (error->message, "Preferences"));
      g_assert_null (leaf_engine_get_device ());
      g_clear_error (&error);
    }

  /* A choice made elsewhere shows in the row. */
  g_settings_set_string (settings, "device", "auto");
  ui_test_iterate (20);
  g_assert_cmpuint (adw_combo_row_get_selected (row), ==, 0);
  g_assert_true (leaf_engine_init_torch (0, &error));
  g_assert_no_error (error);
  g_object_ref (window);
  gtk_window_destroy (GTK_WINDOW (window));
  ui_test_iterate (50);
  g_assert_finalize_object (window);
}

static void
test_template_window (void)
{
  check_toplevel (GTK_WIDGET (leaf_window_new (NULL)));
}

static void
test_template_shortcuts_window (void)
{
  g_autoptr(GtkBuilder) builder =
    gtk_builder_new_from_resource ("/io/github/leafscope/Leafscope/gtk/help-overlay.ui");
  GObject *window = gtk_builder_get_object (builder, "help_overlay");

  g_assert_true (GTK_IS_SHORTCUTS_WINDOW (window));
  /* Like every toplevel, the window belongs to GTK rather than to the builder. */
  g_clear_object (&builder);
  check_toplevel (GTK_WIDGET (window));
}

int
main (int   argc,
      char *argv[])
{
  ui_test_init (&argc, &argv);

  g_test_add_func ("/ui/chart/draws-appended-points", test_chart_draws_appended_points);
  g_test_add_func ("/ui/chart/summary-follows-data", test_chart_summary_follows_data);
  g_test_add_func ("/ui/chart/marker", test_chart_marker);
  g_test_add_func ("/ui/chart/dense-series", test_chart_dense_series);
  g_test_add_func ("/ui/confusion-matrix/keyboard", test_confusion_matrix_keyboard);
  g_test_add_func ("/ui/template/library-view", test_template_library_view);
  g_test_add_func ("/ui/template/library-view-empty", test_template_empty_library_view);
  g_test_add_func ("/ui/template/train-view", test_template_train_view);
  g_test_add_func ("/ui/template/diagnose-view", test_template_diagnose_view);
  g_test_add_func ("/ui/template/thumbnail-cell", test_template_thumbnail_cell);
  g_test_add_func ("/ui/template/viewer-window", test_template_viewer_window);
  g_test_add_func ("/ui/template/preferences-window", test_template_preferences_window);
  g_test_add_func ("/ui/template/window", test_template_window);
  g_test_add_func ("/ui/template/shortcuts-window", test_template_shortcuts_window);
  g_test_add_func ("/ui/preferences/device", test_preferences_device);

  return g_test_run ();
}
