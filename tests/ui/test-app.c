/* test-app.c: the whole application, driven as a user would: import a folder, label with keys,
 * undo, train a tiny model while the main loop stays responsive, drop photos to diagnose them
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "test-app"

#include "config.h"

#include "leaf-test.h"

#include <adwaita.h>
#include <math.h>
#include <stdio.h>

#include "leaf-application.h"
#include "leaf-confusion-matrix.h"
#include "leaf-window-private.h"
#include "ui-test-util.h"

/* The longest the main loop may be kept from running while training, in microseconds. */
#define MAX_BLOCKED_US (50 * 1000)

typedef struct
{
  gint64 worst_blocked; /* µs, excluding the time the thread waited for a CPU */
  gint64 worst_wall;    /* µs, as a clock on the wall sees it */
  guint dispatches;
} Probe;

/* Nanoseconds this thread has spent runnable but waiting for a CPU, or -1 when the kernel does
 * not say. Xvfb test machines are shared and busy: a dispatch preempted by other processes is
 * not a dispatch that blocked the loop. */
static gint64
run_delay_ns (void)
{
  g_autofree char *text = NULL;
  guint64 on_cpu, waiting;

  if (!g_file_get_contents ("/proc/thread-self/schedstat", &text, NULL, NULL)
      || sscanf (text, "%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT, &on_cpu, &waiting) != 2)
    return -1;
  return (gint64) waiting;
}

/* One main loop iteration, timing its dispatch: the part where handlers run and the loop can do
 * nothing else. */
static void
iterate_measured (Probe *probe)
{
  GMainContext *context = g_main_context_default ();
  GPollFD fds[256];
  int max_priority, timeout, n;

  g_assert_true (g_main_context_acquire (context));
  g_main_context_prepare (context, &max_priority);
  n = g_main_context_query (context, max_priority, &timeout, fds, G_N_ELEMENTS (fds));
  g_assert_cmpint (n, <=, (int) G_N_ELEMENTS (fds));
  g_main_context_get_poll_func (context) (fds, n, timeout);
  if (g_main_context_check (context, max_priority, fds, n))
    {
      gint64 start = g_get_monotonic_time ();
      gint64 delay = run_delay_ns ();
      gint64 wall, blocked;

      g_main_context_dispatch (context);
      wall = g_get_monotonic_time () - start;
      blocked = delay >= 0 ? wall - (run_delay_ns () - delay) / 1000 : wall;
      probe->worst_wall = MAX (probe->worst_wall, wall);
      probe->worst_blocked = MAX (probe->worst_blocked, blocked);
      probe->dispatches++;
    }
  g_main_context_release (context);
}

/* Import and review share the bar under the header and run one at a time. */
static gboolean
import_done (gpointer data)
{
  LeafWindow *window = data;

  return window->task_cancellable == NULL;
}

static gboolean
training_done (gpointer data)
{
  return !leaf_train_view_is_running (LEAF_WINDOW (data)->train_view);
}

static gboolean
diagnosis_done (gpointer data)
{
  LeafWindow *window = data;

  return !leaf_diagnose_view_is_busy (window->diagnose_view)
         && g_list_model_get_n_items (leaf_diagnose_view_get_results (window->diagnose_view)) > 0;
}

static gboolean
two_diagnoses (gpointer data)
{
  LeafWindow *window = data;

  return !leaf_diagnose_view_is_busy (window->diagnose_view)
         && g_list_model_get_n_items (leaf_diagnose_view_get_results (window->diagnose_view)) == 2;
}

static const char *
item_class (GtkSelectionModel *selection,
            guint              position)
{
  g_autoptr(LeafLibraryItem) item = g_list_model_get_item (G_LIST_MODEL (selection), position);

  return leaf_library_item_get_class_name (item);
}

static guint
chart_points (LeafWindow *window,
              const char *name)
{
  GListModel *model = leaf_chart_get_model (leaf_train_view_get_chart (window->train_view, name));
  guint total = 0;

  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(GListModel) series = g_list_model_get_item (model, i);

      total += g_list_model_get_n_items (series);
    }
  return total;
}

typedef struct
{
  LeafWindow *window;
  guint step_points_while_running;
} Watch;

static void
on_step_points_cb (GListModel *series,
                   guint       position,
                   guint       removed,
                   guint       added,
                   Watch      *watch)
{
  if (leaf_train_view_is_running (watch->window->train_view))
    watch->step_points_while_running += added;
}

static void
test_end_to_end (void)
{
  const char *classes[] = { "blight", "healthy", NULL };
  g_autofree char *dir = g_dir_make_tmp ("leafscope-app-XXXXXX", NULL);
  g_autofree char *photos = g_build_filename (dir, "photos", NULL);
  g_autofree char *catalog_path = g_build_filename (dir, "e2e.leafscope", NULL);
  g_autofree char *notes_path = g_build_filename (dir, "notes.txt", NULL);
  g_autofree char *photo_path = NULL;
  g_autoptr(LeafApplication) app = leaf_application_new (G_APPLICATION_NON_UNIQUE);
  g_autoptr(GFile) catalog_file = g_file_new_for_path (catalog_path);
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafModelInfo) model = NULL;
  GtkSelectionModel *selection;
  GtkWidget *grid;
  LeafWindow *window;
  LeafRecipe recipe;
  Probe probe = { 0 };
  Watch watch = { 0 };
  GtkDropTarget *target;
  GValue value = G_VALUE_INIT;
  gboolean handled = FALSE;
  GFile *dropped[2];
  LeafDiagnosis *diagnosis;
  double sum = 0;

  g_free (ui_test_make_photos (photos, classes, 8));
  g_assert_true (g_file_set_contents (notes_path, "not a photo\n", -1, NULL));

  /* Opening a catalog file, as the file manager or `leafscope --catalog` does. */
  g_assert_true (g_application_register (G_APPLICATION (app), NULL, &error));
  g_assert_no_error (error);
  g_application_open (G_APPLICATION (app), &catalog_file, 1, "");
  ui_test_iterate (200);
  window = LEAF_WINDOW (gtk_application_get_active_window (GTK_APPLICATION (app)));
  g_assert_nonnull (window);
  g_assert_true (g_file_equal (leaf_window_get_catalog_file (window), catalog_file));

  /* Import a folder of class sub-folders. */
  _leaf_window_import_folder (window, g_file_new_for_path (photos), NULL);
  g_assert_true (ui_test_wait_for (import_done, window, 30000));
  selection = leaf_library_view_get_selection (window->library_view);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (selection)), ==, 16);

  /* Relabel the first photo with key 2, undo with Ctrl+Z, redo with Shift+Ctrl+Z. */
  grid = ui_test_find_type (GTK_WIDGET (window->library_view), GTK_TYPE_GRID_VIEW);
  gtk_widget_grab_focus (grid);
  gtk_selection_model_select_item (selection, 0, TRUE);
  g_assert_cmpstr (item_class (selection, 0), ==, "blight");
  g_assert_true (ui_test_press_key (grid, GDK_KEY_2, 0));
  g_assert_cmpstr (item_class (selection, 0), ==, "healthy");
  g_assert_true (ui_test_press_key (grid, GDK_KEY_z, GDK_CONTROL_MASK));
  g_assert_cmpstr (item_class (selection, 0), ==, "blight");
  g_assert_true (ui_test_press_key (grid, GDK_KEY_z, GDK_CONTROL_MASK | GDK_SHIFT_MASK));
  g_assert_cmpstr (item_class (selection, 0), ==, "healthy");
  g_assert_true (ui_test_press_key (grid, GDK_KEY_z, GDK_CONTROL_MASK));
  g_assert_cmpstr (item_class (selection, 0), ==, "blight");

  /* Before any training, Diagnose says there is no model and offers to go and train one. */
  {
    g_autofree char *early = g_build_filename (photos, "blight", "photo-000.png", NULL);
    g_autoptr(GFile) file = g_file_new_for_path (early);

    leaf_window_show_view (window, "diagnose");
    leaf_diagnose_view_open_files (window->diagnose_view, &file, 1);
    ui_test_iterate (100);
    g_assert_false (leaf_diagnose_view_is_busy (window->diagnose_view));
    g_assert_cmpuint (g_list_model_get_n_items (leaf_diagnose_view_get_results (window->diagnose_view)),
                      ==, 0);
    g_assert_nonnull (ui_test_find_label (GTK_WIDGET (window->diagnose_view), "No Trained Model"));
    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window->diagnose_view),
                                               "diagnose.go-train", NULL));
    g_assert_cmpstr (adw_view_stack_get_visible_child_name (window->view_stack), ==, "train");
  }

  /* A tiny training run, on one thread so that the probe measures the application rather than
   * the CPU count. */
  ui_test_tiny_recipe (&recipe);
  leaf_train_view_set_recipe (window->train_view, &recipe);
  leaf_window_show_view (window, "train");
  ui_test_iterate (200);
  {
    GListModel *steps = leaf_chart_get_model (leaf_train_view_get_chart (window->train_view, "step"));
    g_autoptr(GListModel) series = g_list_model_get_item (steps, 0);

    watch.window = window;
    g_signal_connect (series, "items-changed", G_CALLBACK (on_step_points_cb), &watch);
    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window->train_view), "train.start",
                                               NULL));
    g_assert_true (leaf_train_view_is_running (window->train_view));
    while (!training_done (window))
      iterate_measured (&probe);
    g_signal_handlers_disconnect_by_data (series, &watch);
  }
  g_test_message ("main loop while training: %u dispatches, the longest %.1f ms, of which %.1f ms "
                  "not waiting for a CPU", probe.dispatches, probe.worst_wall / 1000.0,
                  probe.worst_blocked / 1000.0);
  g_assert_cmpuint (probe.dispatches, >, 0);
  g_assert_cmpint (probe.worst_blocked, <, MAX_BLOCKED_US);
  /* Points arrived while the run was going, not all at the end. */
  g_assert_cmpuint (watch.step_points_while_running, >, 0);
  g_assert_cmpuint (chart_points (window, "loss"), ==, 2 * 2);
  g_assert_cmpuint (chart_points (window, "accuracy"), ==, 2 * 2);
  model = leaf_catalog_get_latest_model (window->catalog, &error);
  g_assert_no_error (error);
  g_assert_nonnull (model);
  /* The finished run shows its confusion matrix, over the validation photos. */
  g_assert_nonnull (leaf_train_view_get_confusion (window->train_view));

  /* The new model then reviews every photo, for the Disagreements and Uncertain filters. */
  g_assert_nonnull (window->task_cancellable);
  g_assert_true (ui_test_wait_for (import_done, window, 120000));
  {
    LeafImageQuery predicted = { .model_id = model->id, .sort = LEAF_IMAGE_SORT_UNCERTAINTY };
    guint count = 0;

    g_assert_true (leaf_catalog_count_images (window->catalog, &predicted, &count, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (count, ==, 16);
  }

  /* A confusion-matrix cell opens its photos in the Library: validation photos of the row's
   * class whose stored prediction is the column's class. */
  {
    LeafConfusionMatrix *matrix = LEAF_CONFUSION_MATRIX (
      ui_test_find_type (GTK_WIDGET (window->train_view), LEAF_TYPE_CONFUSION_MATRIX));
    LeafConfusion *confusion = leaf_train_view_get_confusion (window->train_view);
    g_autoptr(LeafClassInfo) truth = NULL;
    g_autoptr(LeafClassInfo) guess = NULL;
    GListModel *shown;

    guint t = 0, p = 0;

    /* The fullest cell, reached with the arrow keys from the top left. */
    for (guint i = 0; i < 2; i++)
      for (guint j = 0; j < 2; j++)
        if (leaf_confusion_get_count (confusion, i, j) > leaf_confusion_get_count (confusion, t, p))
          t = i, p = j;
    gtk_widget_grab_focus (GTK_WIDGET (matrix));
    for (guint i = 0; i < t; i++)
      g_assert_true (ui_test_press_key (GTK_WIDGET (matrix), GDK_KEY_Down, 0));
    for (guint j = 0; j < p; j++)
      g_assert_true (ui_test_press_key (GTK_WIDGET (matrix), GDK_KEY_Right, 0));
    g_assert_true (ui_test_press_key (GTK_WIDGET (matrix), GDK_KEY_Return, 0));
    ui_test_iterate (100);
    g_assert_cmpstr (adw_view_stack_get_visible_child_name (window->view_stack), ==, "library");
    truth = leaf_catalog_find_class (window->catalog, leaf_confusion_get_class_name (confusion, t),
                                     &error);
    g_assert_no_error (error);
    guess = leaf_catalog_find_class (window->catalog, leaf_confusion_get_class_name (confusion, p),
                                     &error);
    g_assert_no_error (error);
    g_assert_nonnull (ui_test_find_label (GTK_WIDGET (window->library_view), "Validation photos of"));
    shown = G_LIST_MODEL (leaf_library_view_get_selection (window->library_view));
    /* The review used the same model on the same photos: the fullest cell is not empty. */
    g_assert_cmpuint (g_list_model_get_n_items (shown), >, 0);
    for (guint i = 0; i < g_list_model_get_n_items (shown); i++)
      {
        g_autoptr(LeafLibraryItem) item = g_list_model_get_item (shown, i);
        g_autoptr(LeafPrediction) prediction =
          leaf_catalog_get_prediction (window->catalog, model->id, leaf_library_item_get_id (item),
                                       &error);
        LeafCatalogImage *image = leaf_library_item_get_image (item);

        g_assert_no_error (error);
        g_assert_cmpint (leaf_catalog_image_get_class_id (image), ==, truth->id);
        g_assert_cmpint (leaf_catalog_image_get_split (image), ==, LEAF_SPLIT_VALIDATION);
        g_assert_cmpint (prediction->top_class_id, ==, guess->id);
      }
  }

  /* Drop a photo and a text file on the window. */
  photo_path = g_build_filename (photos, "healthy", "photo-010.png", NULL);
  g_assert_true (g_file_test (photo_path, G_FILE_TEST_EXISTS));
  dropped[0] = g_file_new_for_path (photo_path);
  dropped[1] = g_file_new_for_path (notes_path);
  target = GTK_DROP_TARGET (ui_test_find_controller (GTK_WIDGET (window), GTK_TYPE_DROP_TARGET));
  g_assert_nonnull (target);
  g_value_init (&value, GDK_TYPE_FILE_LIST);
  g_value_take_boxed (&value, gdk_file_list_new_from_array (dropped, 2));
  g_signal_emit_by_name (target, "drop", &value, 10.0, 10.0, &handled);
  g_value_unset (&value);
  g_assert_true (handled);
  g_assert_true (ui_test_wait_for (diagnosis_done, window, 60000));
  ui_test_iterate (100);
  g_assert_cmpstr (adw_view_stack_get_visible_child_name (window->view_stack), ==, "diagnose");
  g_assert_cmpuint (g_list_model_get_n_items (leaf_diagnose_view_get_results (window->diagnose_view)),
                    ==, 1);
  diagnosis = g_list_model_get_item (leaf_diagnose_view_get_results (window->diagnose_view), 0);
  g_assert_cmpstr (leaf_diagnosis_get_name (diagnosis), ==, "photo-010.png");
  g_assert_cmpuint (leaf_diagnosis_get_n_classes (diagnosis), ==, 2);
  for (guint rank = 0; rank < leaf_diagnosis_get_n_classes (diagnosis); rank++)
    {
      sum += leaf_diagnosis_get_probability (diagnosis, rank);
      if (rank > 0)
        g_assert_cmpfloat (leaf_diagnosis_get_probability (diagnosis, rank), <=,
                           leaf_diagnosis_get_probability (diagnosis, rank - 1));
    }
  g_assert_cmpfloat_with_epsilon (sum, 1.0, 1e-4);
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (window->diagnose_view),
                                        leaf_diagnosis_get_class (diagnosis, 0)));
  g_object_unref (diagnosis);
  /* The text file was refused with a toast that names it. */
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (window->toast_overlay), "notes.txt"));

  /* Paste an image with Ctrl+V, from anywhere in the window. */
  {
    g_autoptr(GdkTexture) texture = gdk_texture_new_from_filename (photo_path, &error);

    g_assert_no_error (error);
    gdk_clipboard_set_texture (gtk_widget_get_clipboard (GTK_WIDGET (window)), texture);
    leaf_window_show_view (window, "library");
    g_assert_true (ui_test_press_key (grid, GDK_KEY_v, GDK_CONTROL_MASK));
    g_assert_true (ui_test_wait_for (two_diagnoses, window, 60000));
    g_assert_cmpstr (adw_view_stack_get_visible_child_name (window->view_stack), ==, "diagnose");
  }

  /* "Add to Catalog as …" imports the pasted image and labels it. */
  {
    LeafImageQuery blight = { 0 };
    g_autoptr(LeafClassInfo) info = leaf_catalog_find_class (window->catalog, "blight", &error);
    guint before = 0, after = 0;

    g_assert_no_error (error);
    blight.class_id = info->id;
    g_assert_true (leaf_catalog_count_images (window->catalog, &blight, &before, &error));
    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window->diagnose_view), "diagnose.add-as",
                                               "s", "blight"));
    for (guint i = 0; i < 500 && after <= before; i++)
      {
        ui_test_iterate (20);
        g_assert_true (leaf_catalog_count_images (window->catalog, &blight, &after, &error));
      }
    g_assert_cmpuint (after, ==, before + 1);
  }

  g_object_unref (dropped[0]);
  g_object_unref (dropped[1]);
  gtk_window_destroy (GTK_WINDOW (window));
  ui_test_iterate (100);
  g_clear_object (&app);
  leaf_test_remove_tree (dir);
}

int
main (int   argc,
      char *argv[])
{
  /* Xvfb has no GPU: GL would run on llvmpipe's worker threads, which compete with the trainer
   * for the CPUs and turn that contention into waits of the main thread. Cairo draws on the
   * main thread itself, so the probe below measures what the application does. One torch
   * thread leaves a core to the interface, as on any machine with more than one. */
  g_setenv ("GSK_RENDERER", "cairo", TRUE);
  g_setenv ("LEAFSCOPE_THREADS", "1", TRUE);
  ui_test_init (&argc, &argv);

  g_test_add_func ("/ui/app/end-to-end", test_end_to_end);

  return g_test_run ();
}
