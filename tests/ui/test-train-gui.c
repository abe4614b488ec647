/* test-train-gui.c: the Train view in the window: the last run shown after a restart, Train kept
 * insensitive with its reason until the catalog can train, Ctrl+T and Ctrl+., what a progress
 * event says, and the view's controls within reach from 800×600 up, in English and Spanish
 *
 * Runs and models are recorded with made-up metrics: no training happens here.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "test-train-gui"

#include "config.h"

#include "leaf-test.h"

#include <adwaita.h>
#include <glib/gi18n.h>
#include <locale.h>

#include "leaf-metrics.h"
#include "leaf-train-view.h"
#include "leaf-window-private.h"
#include "ui-test-util.h"

/* Long names, as a pathologist's classes are: the per-class table must still fit. */
static const char *const class_names[] = {
  "Septoria leaf spot", "Tomato yellow leaf curl virus", "Bacterial spot", "Late blight",
  "healthy", NULL
};
#define N_CLASSES 5

typedef struct
{
  char *dir;
  char *path;
  LeafWindow *window;
} Fixture;

/* A run of @epochs epochs that kept a model recognising 80 % of 100 validation photos. */
static void
add_run (LeafCatalog *catalog,
         guint        epochs)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *summary = NULL;
  static const char zero_sha256[] =
    "0000000000000000000000000000000000000000000000000000000000000000";
  guint confusion[N_CLASSES * N_CLASSES] = { 0 };
  gint64 run_id, model_id;

  for (guint i = 0; i < N_CLASSES; i++)
    {
      confusion[i * N_CLASSES + i] = 16;
      confusion[i * N_CLASSES + (i + 1) % N_CLASSES] = 4;
    }
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "val_accuracy");
  json_builder_add_double_value (b, 0.8);
  json_builder_set_member_name (b, "metrics");
  json_builder_add_value (b, leaf_metrics_build (confusion, class_names, N_CLASSES));
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  summary = json_to_string (root, FALSE);

  run_id = leaf_catalog_begin_run (catalog, "{\"preset\": \"default\", \"views\": 8, "
                                   "\"decisions\": \"Decided from 80 photos.\"}", NULL, &error);
  g_assert_no_error (error);
  for (guint epoch = 1; epoch <= epochs; epoch++)
    {
      LeafMetric metrics[] = {
        { epoch, "train_loss", 1.0 / epoch }, { epoch, "val_loss", 1.2 / epoch },
        { epoch, "train_accuracy", 0.5 + 0.04 * epoch }, { epoch, "val_accuracy", 0.8 },
      };

      g_assert_true (leaf_catalog_add_metrics (catalog, run_id, LEAF_METRIC_EPOCH, metrics,
                                               G_N_ELEMENTS (metrics), &error));
    }
  g_assert_true (leaf_catalog_end_run (catalog, run_id, LEAF_RUN_COMPLETED, NULL, &error));
  model_id = leaf_catalog_add_model (catalog, run_id, "run-1.safetensors", zero_sha256,
                                     class_names, summary, &error);
  g_assert_no_error (error);
  g_assert_true (leaf_catalog_set_active_model (catalog, model_id, &error));
}

/* A catalog of photos of five classes, of which the first @n_labelled_classes keep their labels
 * and the others are removed, with a run when @epochs > 0, opened in a window of @width ×
 * @height. */
static void
fixture_open (Fixture *f,
              guint    n_labelled_classes,
              guint    epochs,
              int      width,
              int      height)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(GFile) file = NULL;
  g_autoptr(GPtrArray) classes = NULL;

  f->dir = g_dir_make_tmp ("leafscope-train-gui-XXXXXX", NULL);
  f->path = ui_test_make_catalog (f->dir, class_names, 2);
  catalog = leaf_catalog_open (f->path, LEAF_CATALOG_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  classes = leaf_catalog_list_classes (catalog, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (classes->len, ==, N_CLASSES);
  for (guint i = n_labelled_classes; i < N_CLASSES; i++)
    g_assert_true (leaf_catalog_remove_class (catalog,
                                              ((LeafClassInfo *) classes->pdata[i])->id, TRUE,
                                              &error));
  if (epochs > 0)
    add_run (catalog, epochs);
  leaf_catalog_close (catalog);

  f->window = leaf_window_new (NULL);
  gtk_window_set_default_size (GTK_WINDOW (f->window), width, height);
  gtk_window_present (GTK_WINDOW (f->window));
  file = g_file_new_for_path (f->path);
  leaf_window_open_catalog (f->window, file);
  leaf_window_show_view (f->window, "train");
  ui_test_iterate (300);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  GtkWidget *dialog;

  while ((dialog = ui_test_find_message_dialog ()) != NULL)
    gtk_window_destroy (GTK_WINDOW (dialog));
  if (f->window != NULL)
    gtk_window_destroy (GTK_WINDOW (f->window));
  ui_test_iterate (100);
  leaf_test_remove_tree (f->dir);
  g_free (f->path);
  g_free (f->dir);
}

/* The first mapped descendant of @root that is actionable for @action, or has @css_class. */
static GtkWidget *
find_widget (GtkWidget  *root,
             const char *action,
             const char *css_class)
{
  if (gtk_widget_get_mapped (root) &&
      ((action != NULL && GTK_IS_ACTIONABLE (root) &&
        g_strcmp0 (gtk_actionable_get_action_name (GTK_ACTIONABLE (root)), action) == 0) ||
       (css_class != NULL && gtk_widget_has_css_class (root, css_class))))
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_widget (child, action, css_class);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static GtkWidget *
train_view (Fixture *f)
{
  return GTK_WIDGET (f->window->train_view);
}

static GtkWidget *
find_action (Fixture    *f,
             const char *action)
{
  GtkWidget *widget = find_widget (train_view (f), action, NULL);

  g_assert_nonnull (widget);
  return widget;
}

/* The whole text of the view's label that starts with @start. */
static const char *
label_text (Fixture    *f,
            const char *start)
{
  GtkWidget *label = ui_test_find_label (train_view (f), start);

  g_assert_nonnull (label);
  return gtk_label_get_text (GTK_LABEL (label));
}

/* After a restart */

/* The catalog's last run is shown as the window opens: its curves, its results, its row. */
static void
test_last_run (Fixture       *f,
               gconstpointer  data)
{
  LeafTrainView *view;
  const char *summary;

  fixture_open (f, N_CLASSES, 12, 1280, 800);
  view = f->window->train_view;
  summary = leaf_chart_get_summary (leaf_train_view_get_chart (view, "accuracy"));
  g_assert_nonnull (strstr (summary, "Validation: 12 points"));
  g_assert_nonnull (strstr (leaf_chart_get_summary (leaf_train_view_get_chart (view, "loss")),
                            "Training: 12 points"));
  g_assert_nonnull (leaf_train_view_get_confusion (view));
  g_assert_nonnull (ui_test_find_label (train_view (f), "80.0% of 100 validation photos"));
  g_assert_nonnull (ui_test_find_label (train_view (f), "Showing Run 1"));
  /* The recipe the run recorded, with what it decided from the data */
  g_assert_true (g_str_has_suffix (label_text (f, "Default preset · 8 views"),
                                   "\nDecided from 80 photos."));
}

/* Before the catalog can train */

static gboolean
weights_dialog_shown (gpointer data)
{
  return ui_test_find_message_dialog () != NULL;
}

/* An empty catalog, then one with a single labelled class: Train stays insensitive and says
 * why, Ctrl+T shows it and asks for no weights; a second labelled class enables Train, and
 * only then does Train ask for the base weights, which this test home lacks. */
static void
test_not_ready (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) images = NULL;
  LeafImageQuery query = { 0 };
  GtkWidget *train;
  gint64 class_id, image_id;

  fixture_open (f, 1, 0, 1280, 800);
  train = find_action (f, "train.start");
  g_assert_false (gtk_widget_get_sensitive (train));
  g_assert_nonnull (ui_test_find_label (train_view (f), "at least two classes"));
  g_assert_nonnull (strstr (gtk_widget_get_tooltip_text (train), "at least two classes"));

  leaf_window_show_view (f->window, "library");
  g_assert_true (ui_test_press_key (GTK_WIDGET (f->window), GDK_KEY_t, GDK_CONTROL_MASK));
  ui_test_iterate (200);
  g_assert_cmpstr (adw_view_stack_get_visible_child_name (f->window->view_stack), ==, "train");
  g_assert_null (ui_test_find_message_dialog ());

  /* Labelling a photo with a second class is enough. */
  class_id = leaf_catalog_add_class (f->window->catalog, "other", NULL, NULL, &error);
  g_assert_no_error (error);
  query.labels = LEAF_LABEL_FILTER_UNLABELED;
  images = leaf_catalog_query_images (f->window->catalog, &query, 0, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (images->len, ==, 1);
  image_id = leaf_catalog_image_get_id (images->pdata[0]);
  g_assert_true (leaf_catalog_set_labels (f->window->catalog, &image_id, 1, class_id,
                                          LEAF_LABEL_HOW_MANUAL, &error));
  ui_test_iterate (100);
  g_assert_true (gtk_widget_get_sensitive (train));
  g_assert_null (ui_test_find_label (train_view (f), "at least two classes"));

  g_assert_true (ui_test_press_key (GTK_WIDGET (f->window), GDK_KEY_t, GDK_CONTROL_MASK));
  g_assert_true (ui_test_wait_for (weights_dialog_shown, NULL, 10000));
}

/* Ctrl+. stops a run from any view; without one it does nothing. */
static void
on_stop_requested_cb (LeafTrainView *view,
                      guint         *count)
{
  (*count)++;
}

static void
test_stop_shortcut (Fixture       *f,
                    gconstpointer  data)
{
  LeafTrainView *view;
  guint stops = 0;

  fixture_open (f, N_CLASSES, 3, 1280, 800);
  view = f->window->train_view;
  g_signal_connect (view, "stop-requested", G_CALLBACK (on_stop_requested_cb), &stops);
  ui_test_press_key (GTK_WIDGET (f->window), GDK_KEY_period, GDK_CONTROL_MASK);
  g_assert_cmpuint (stops, ==, 0);

  leaf_train_view_begin_run (view);
  leaf_window_show_view (f->window, "diagnose");
  g_assert_true (ui_test_press_key (GTK_WIDGET (f->window), GDK_KEY_period, GDK_CONTROL_MASK));
  g_assert_cmpuint (stops, ==, 1);
  g_assert_nonnull (ui_test_find_label (train_view (f), "Stopping"));
  leaf_train_view_end_run (view, 0, NULL);
}

/* During a run */

/* What a progress event after an epoch says: the epoch, the best one, what ends the phase, and
 * the bounds on time; the bar shows the whole run. */
static void
test_progress_text (Fixture       *f,
                    gconstpointer  data)
{
  LeafTrainView *view;
  LeafTrainEvent event = {
    .kind = LEAF_TRAIN_EVENT_PROGRESS, .phase = LEAF_TRAIN_PHASE_HEAD, .epoch = 12,
    .global_epoch = 12, .fraction = 12 / 200.0, .run_fraction = 12 / 220.0,
    .eta_seconds = 188 * 1.5, .run_eta_seconds = -1, .last_epoch = 200, .best_epoch = 8,
    .patience = 10,
  };
  GtkProgressBar *bar;

  fixture_open (f, N_CLASSES, 0, 1280, 800);
  view = f->window->train_view;
  leaf_train_view_begin_run (view);
  /* Computing features comes first: its own speed and share, and a bar that only pulses. */
  leaf_train_view_handle_event (view, &(LeafTrainEvent) {
    .kind = LEAF_TRAIN_EVENT_PROGRESS, .phase = LEAF_TRAIN_PHASE_EXTRACT, .fraction = 0.5,
    .run_fraction = -1, .images_per_second = 42, .eta_seconds = 30, .run_eta_seconds = -1,
  });
  g_assert_cmpstr (label_text (f, "Less than"), ==,
                   "Less than a minute left · 42 photos per second · 50%");
  leaf_train_view_handle_event (view, &event);
  g_assert_cmpstr (label_text (f, "Epoch 12"), ==,
                   "Epoch 12 (at most 200) · best at 8 · stops after 10 epochs without "
                   "improvement\nThis phase: at most 5 minutes left · whole run: 5% done");
  bar = GTK_PROGRESS_BAR (ui_test_find_type (train_view (f), GTK_TYPE_PROGRESS_BAR));
  g_assert_cmpfloat_with_epsilon (gtk_progress_bar_get_fraction (bar), 12 / 220.0, 1e-9);

  /* A new phase: the last one's bounds go until its first epoch is timed. */
  leaf_train_view_set_phase (view, LEAF_TRAIN_PHASE_FINETUNE, NULL);
  g_assert_nonnull (ui_test_find_label (train_view (f), "Timing the first epoch"));
  g_assert_null (ui_test_find_label (train_view (f), "This phase"));
  g_assert_cmpfloat_with_epsilon (gtk_progress_bar_get_fraction (bar), 12 / 220.0, 1e-9);

  /* Fine-tuning, timed: the run's bound too, and the bar never went back. */
  event = (LeafTrainEvent) {
    .kind = LEAF_TRAIN_EVENT_PROGRESS, .phase = LEAF_TRAIN_PHASE_FINETUNE, .epoch = 1,
    .global_epoch = 31, .fraction = 1 / 20.0, .run_fraction = 201 / 220.0, .eta_seconds = 30,
    .run_eta_seconds = 30, .last_epoch = 50, .best_epoch = 31,
  };
  leaf_train_view_handle_event (view, &event);
  g_assert_cmpstr (label_text (f, "Epoch 31"), ==,
                   "Epoch 31 of 50\nThis phase: less than a minute left · whole run: 91% done");
  leaf_train_view_end_run (view, 0, NULL);
}

/* Layout */

/* Whether @widget can be reached at the window's size: across, inside the window and inside
 * any scrolled window around it, so that nothing needs a sideways scroll; down, inside the
 * window or within what its scrolled window scrolls to. */
static void
assert_reachable (Fixture    *f,
                  GtkWidget  *widget,
                  const char *what)
{
  GtkWidget *window = GTK_WIDGET (f->window);
  GtkWidget *scrolled = gtk_widget_get_ancestor (widget, GTK_TYPE_SCROLLED_WINDOW);
  graphene_rect_t bounds;

  g_test_message ("%s", what);
  g_assert_true (gtk_widget_get_mapped (widget));
  g_assert_true (gtk_widget_compute_bounds (widget, window, &bounds));
  g_assert_cmpfloat (bounds.origin.x, >=, 0);
  g_assert_cmpfloat (bounds.origin.x + bounds.size.width, <=, gtk_widget_get_width (window));
  if (scrolled != NULL)
    {
      GtkAdjustment *h = gtk_scrolled_window_get_hadjustment (GTK_SCROLLED_WINDOW (scrolled));
      GtkAdjustment *v = gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (scrolled));

      g_assert_cmpfloat (gtk_adjustment_get_upper (h), <=, gtk_adjustment_get_page_size (h) + 1);
      g_assert_true (gtk_widget_compute_bounds (widget, scrolled, &bounds));
      g_assert_cmpfloat (bounds.origin.x, >=, 0);
      g_assert_cmpfloat (bounds.origin.x + bounds.size.width, <=, gtk_widget_get_width (scrolled));
      g_assert_cmpfloat (bounds.origin.y + gtk_adjustment_get_value (v) + bounds.size.height, <=,
                         gtk_adjustment_get_upper (v) + 1);
    }
  else
    {
      g_assert_cmpfloat (bounds.origin.y, >=, 0);
      g_assert_cmpfloat (bounds.origin.y + bounds.size.height, <=,
                         gtk_widget_get_height (window));
    }
}

/* The recipe's drop-downs, whose choices wrap rather than end in “…”. */
static void
assert_combo_rows_reachable (Fixture   *f,
                             GtkWidget *root)
{
  if (ADW_IS_COMBO_ROW (root))
    assert_reachable (f, root, adw_preferences_row_get_title (ADW_PREFERENCES_ROW (root)));
  for (GtkWidget *child = gtk_widget_get_first_child (root); child;
       child = gtk_widget_get_next_sibling (child))
    assert_combo_rows_reachable (f, child);
}

typedef struct
{
  const char *language;
  int width;
  int height;
} LayoutCase;

static void
set_language (const char *language)
{
  if (language != NULL)
    g_setenv ("LANGUAGE", language, TRUE);
  else
    g_unsetenv ("LANGUAGE");
  /* gettext reads LANGUAGE only outside the C locale, and looks again after a setlocale(). */
  setlocale (LC_ALL, "C.UTF-8");
}

/* The buttons, the charts, the results and the recipe's controls, with a run shown and a run
 * under way, at the size and in the language of @data. */
static void
test_layout (Fixture       *f,
             gconstpointer  data)
{
  const LayoutCase *c = data;
  LeafTrainView *view;

  set_language (c->language);
  fixture_open (f, N_CLASSES, 30, c->width, c->height);
  view = f->window->train_view;
  /* No larger than asked: its content does not force it wider or taller. */
  g_assert_cmpint (gtk_widget_get_width (GTK_WIDGET (f->window)), <=, c->width);
  g_assert_cmpint (gtk_widget_get_height (GTK_WIDGET (f->window)), <=, c->height);
  if (c->language != NULL)
    g_assert_nonnull (ui_test_find_label (train_view (f), "Entrenar"));

  assert_reachable (f, find_action (f, "train.start"), "Train");
  assert_reachable (f, find_action (f, "train.pause"), "Pause");
  assert_reachable (f, find_action (f, "train.stop"), "Stop");
  assert_reachable (f, GTK_WIDGET (leaf_train_view_get_chart (view, "loss")), "loss chart");
  assert_reachable (f, GTK_WIDGET (leaf_train_view_get_chart (view, "accuracy")),
                    "accuracy chart");
  assert_reachable (f, find_widget (train_view (f), NULL, "per-class"), "per-class table");
  assert_combo_rows_reachable (f, train_view (f));

  leaf_train_view_begin_run (view);
  ui_test_iterate (100);
  assert_reachable (f, find_action (f, "train.pause"), "Pause while running");
  assert_reachable (f, find_action (f, "train.stop"), "Stop while running");
  leaf_train_view_end_run (view, 0, NULL);
  set_language (NULL);
}

int
main (int    argc,
      char **argv)
{
  static const LayoutCase cases[] = {
    { NULL, 800, 600 }, { NULL, 1280, 800 }, { "es", 800, 600 }, { "es", 1280, 800 },
  };
  g_autofree char *po = NULL;
  g_autoptr(GtkCssProvider) style = NULL;

  ui_test_init (&argc, &argv);
  /* The application's style sheet, which AdwApplication loads in the program: its padding of
   * cards counts in what fits. */
  style = gtk_css_provider_new ();
  gtk_css_provider_load_from_resource (style, "/io/github/leafscope/Leafscope/style.css");
  gtk_style_context_add_provider_for_display (gdk_display_get_default (),
                                              GTK_STYLE_PROVIDER (style),
                                              GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
  po = g_test_build_filename (G_TEST_BUILT, "..", "po", NULL);
  bindtextdomain (GETTEXT_PACKAGE, po);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  g_test_add ("/train-gui/last-run", Fixture, NULL, NULL, test_last_run, fixture_teardown);
  g_test_add ("/train-gui/not-ready", Fixture, NULL, NULL, test_not_ready, fixture_teardown);
  g_test_add ("/train-gui/stop-shortcut", Fixture, NULL, NULL, test_stop_shortcut,
              fixture_teardown);
  g_test_add ("/train-gui/progress-text", Fixture, NULL, NULL, test_progress_text,
              fixture_teardown);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/train-gui/layout/%s/%dx%d",
                                               cases[i].language ? cases[i].language : "en",
                                               cases[i].width, cases[i].height);

      g_test_add (path, Fixture, &cases[i], NULL, test_layout, fixture_teardown);
    }
  return g_test_run ();
}
