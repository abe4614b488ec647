/* test-beyond-gui.c: the heatmap toggle in Diagnose and the viewer, the referral advice
 * following GSettings, the reliability diagram, the random-split warning and the recipe kept
 * in GSettings
 *
 * Models here are untrained EfficientNet-B0 networks saved with Leafscope's metadata: enough
 * for Grad-CAM and calibrated probabilities to run, without the minutes training takes.
 *
 * With LEAFSCOPE_SCREENSHOTS=DIR, Diagnose with its heatmap and the Train view's results are
 * also saved as PNG files there, over a real leaf when ../shared/data is present.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "test-beyond-gui"

#include "config.h"

#include "leaf-test.h"

#include <adwaita.h>
#include <inttypes.h>
#include <string.h>

#include "leaf-calibration.h"
#include "leaf-diagnose-view.h"
#include "leaf-engine.h"
#include "leaf-import.h"
#include "leaf-library-view.h"
#include "leaf-model-file.h"
#include "leaf-ood.h"
#include "leaf-recipe.h"
#include "leaf-reliability-diagram.h"
#include "leaf-settings.h"
#include "leaf-train-view.h"
#include "leaf-viewer-window.h"
#include "lt.h"
#include "ui-test-util.h"

#define IMAGE_SIZE 64

static const char *const class_names[] = { "blight", "healthy", NULL };

typedef struct
{
  char *dir;
  char *photos;
  LeafCatalog *catalog;
  GSettings *settings;
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafImportSummary) summary = NULL;
  LeafImportOptions options = { .folder_labels = LEAF_FOLDER_LABELS_ALWAYS };
  const char *paths[2] = { NULL, NULL };

  f->dir = g_dir_make_tmp ("leafscope-beyond-gui-XXXXXX", NULL);
  f->photos = g_build_filename (f->dir, "photos", NULL);
  g_free (ui_test_make_photos (f->photos, class_names, 3));
  path = g_build_filename (f->dir, "test.leafscope", NULL);
  f->catalog = leaf_catalog_open (path, LEAF_CATALOG_OPEN_CREATE, &error);
  g_assert_no_error (error);
  paths[0] = f->photos;
  summary = leaf_import_run (f->catalog, paths, &options, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (summary->n_labeled, ==, 6);

  f->settings = leaf_settings_new ();
  g_assert_nonnull (f->settings);
  g_settings_reset (f->settings, "show-heatmap");
  g_settings_reset (f->settings, "refer-use-model-threshold");
  g_settings_reset (f->settings, "refer-threshold");
  g_settings_reset (f->settings, "recipe");
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_clear_object (&f->settings);
  leaf_catalog_close (f->catalog);
  g_assert_finalize_object (f->catalog);
  leaf_test_remove_tree (f->dir);
  g_free (f->photos);
  g_free (f->dir);
}

/* Records a model file in the catalog, as the active model, which diagnoses use. */
static gint64
record_model (Fixture            *f,
              gint64              run_id,
              const char         *path,
              const char * const *classes,
              const char         *metrics_json)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *sha = NULL;
  gsize length;
  gint64 id;

  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
  sha = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) contents, length);
  id = leaf_catalog_add_model (f->catalog, run_id, path, sha, classes, metrics_json, &error);
  g_assert_no_error (error);
  g_assert_cmpint (id, >, 0);
  g_assert_true (leaf_catalog_set_active_model (f->catalog, id, &error));
  g_assert_no_error (error);
  return id;
}

/* An untrained two-class model, recorded in the catalog as the active one; with ood, it refers
 * photos unlike what that check was fitted on. */
static gint64
add_model_checking (Fixture    *f,
                    gint64      run_id,
                    double      refer_below,
                    const char *metrics_json,
                    LeafOod    *ood)
{
  g_autofree char *path = g_strdup_printf ("%s/model-%" PRId64 ".safetensors", f->dir, run_id);
  LeafModelMeta meta = {
    .classes = (char **) class_names,
    .n_classes = 2,
    .image_size = IMAGE_SIZE,
    .resize_size = 73,
    .created = (char *) "2024-01-01T00:00:00Z",
    .temperature = 1.5,
    .refer_below = refer_below,
    .ood = ood,
    .train_photos = ood != NULL ? 40 : 0,
    .val_photos = ood != NULL ? 10 : 0,
    .plain_background = 1.0,
  };
  g_autofree char *json = leaf_model_meta_to_json (&meta);
  g_autoptr(GError) error = NULL;
  LtModel *model = NULL;
  char *msg = NULL;

  g_assert_true (leaf_engine_init_torch (1, &error));
  g_assert_no_error (error);
  lt_manual_seed (3);
  g_assert_cmpint (lt_model_new (2, &model, &msg), ==, LT_OK);
  g_assert_cmpint (lt_model_save (model, path, json, &msg), ==, LT_OK);
  lt_model_free (model);
  return record_model (f, run_id, path, class_names, metrics_json);
}

static gint64
add_model (Fixture    *f,
           gint64      run_id,
           double      refer_below,
           const char *metrics_json)
{
  return add_model_checking (f, run_id, refer_below, metrics_json, NULL);
}

/* The shared stand-in weights (pretrained on ten other leaf classes, named as their README lists
 * them), as a model whose heatmap shows something: for screenshots only. */
static gboolean
add_pretrained_model (Fixture *f)
{
  static const char *const names[] = {
    "pepper bacterial spot", "pepper healthy", "potato early blight", "potato late blight",
    "potato healthy", "tomato septoria leaf spot", "tomato spider mites", "tomato target spot",
    "tomato yellow leaf curl virus", "tomato mosaic virus", NULL,
  };
  g_autofree char *weights = g_build_filename (g_getenv ("LEAFSCOPE_SHARED"), "weights",
                                               "leafnet-b0.pth", NULL);
  g_autofree char *path = g_build_filename (f->dir, "pretrained.safetensors", NULL);
  LeafModelMeta meta = {
    .classes = (char **) names,
    .n_classes = 10,
    .image_size = 224,
    .resize_size = 256,
    .created = (char *) "2024-01-01T00:00:00Z",
    .temperature = 1.0,
  };
  g_autofree char *json = leaf_model_meta_to_json (&meta);
  g_autoptr(GError) error = NULL;
  LtModel *model = NULL;
  char *msg = NULL;

  if (!g_file_test (weights, G_FILE_TEST_EXISTS))
    return FALSE;
  g_assert_true (leaf_engine_init_torch (1, &error));
  g_assert_cmpint (lt_model_new (10, &model, &msg), ==, LT_OK);
  g_assert_cmpint (lt_model_load (model, weights, LT_LOAD_STRICT, NULL, &msg), ==, LT_OK);
  g_assert_cmpint (lt_model_save (model, path, json, &msg), ==, LT_OK);
  lt_model_free (model);
  record_model (f, 0, path, names, NULL);
  return TRUE;
}

static void
save_screenshot (GtkWidget  *widget,
                 const char *name)
{
  const char *dir = g_getenv ("LEAFSCOPE_SCREENSHOTS");
  g_autoptr(GdkTexture) texture = NULL;
  g_autofree char *path = NULL;

  if (dir == NULL)
    return;
  ui_test_iterate (300);
  texture = ui_test_render (widget);
  path = g_build_filename (dir, name, NULL);
  g_assert_true (gdk_texture_save_to_png (texture, path));
  g_test_message ("screenshot: %s", path);
}

/* Reliability diagram */

static void
known_calibration (LeafCalibration *c)
{
  memset (c, 0, sizeof *c);
  c->temperature = 1.8;
  c->ece_before = 0.125;
  c->ece_after = 0.025;
  /* Over-confident before (60% right at 97%), nearly calibrated after. */
  c->bins_before[14] = (LeafReliabilityBin) { 0.97, 0.6, 10 };
  c->bins_before[10] = (LeafReliabilityBin) { 0.7, 0.5, 4 };
  c->bins_after[14] = (LeafReliabilityBin) { 0.96, 0.9, 6 };
  c->bins_after[9] = (LeafReliabilityBin) { 0.65, 0.625, 8 };
}

static void
test_reliability_diagram (void)
{
  LeafReliabilityDiagram *diagram = LEAF_RELIABILITY_DIAGRAM (leaf_reliability_diagram_new ());
  GtkWidget *window = ui_test_show (GTK_WIDGET (diagram), 450, 300);
  g_autoptr(GdkTexture) empty = NULL;
  g_autoptr(GdkTexture) drawn = NULL;
  const char *summary;
  LeafCalibration calibration;
  guint before_empty, after_empty, before, after;

  /* Nothing to show yet: only the legend's swatches have the bars' colours. */
  g_assert_nonnull (strstr (leaf_reliability_diagram_get_summary (diagram), "No calibration"));
  empty = ui_test_render (GTK_WIDGET (diagram));
  before_empty = ui_test_count_pixels (empty, "#e66100", 8);
  after_empty = ui_test_count_pixels (empty, "#3584e4", 8);

  known_calibration (&calibration);
  leaf_reliability_diagram_set_calibration (diagram, &calibration);
  ui_test_iterate (50);
  summary = leaf_reliability_diagram_get_summary (diagram);
  g_test_message ("%s", summary);
  g_assert_nonnull (strstr (summary, "Expected calibration error 12.5% before temperature "
                                     "scaling, 2.5% after (temperature 1.80)"));
  g_assert_nonnull (strstr (summary, "Confidence 93–100%: before, 10 photos, 60% right; after, "
                                     "6 photos, 90% right"));
  g_assert_nonnull (strstr (summary, "Confidence 67–73%: before, 4 photos, 50% right; after, "
                                     "0 photos, 0% right"));
  g_assert_nonnull (strstr (summary, "Confidence 60–67%: before, 0 photos"));
  /* Empty bins are not read out. */
  g_assert_null (strstr (summary, "Confidence 0–7%"));

  drawn = ui_test_render (GTK_WIDGET (diagram));
  before = ui_test_count_pixels (drawn, "#e66100", 8) - before_empty;
  after = ui_test_count_pixels (drawn, "#3584e4", 8) - after_empty;
  g_test_message ("bar pixels: before %u, after %u", before, after);
  /* Before: bars of 0.6 and 0.5; after: 0.9 and 0.625, all of the same width. */
  g_assert_cmpuint (before, >, 500);
  g_assert_cmpuint (after, >, before);
  g_assert_cmpfloat ((double) after / before, >, 1.25);
  g_assert_cmpfloat ((double) after / before, <, 1.65);

  g_object_ref (diagram);
  gtk_window_destroy (GTK_WINDOW (window));
  g_assert_finalize_object (diagram);
}

/* Diagnose */

static gboolean
diagnosed (gpointer data)
{
  LeafDiagnoseView *view = data;

  return !leaf_diagnose_view_is_busy (view)
         && g_list_model_get_n_items (leaf_diagnose_view_get_results (view)) > 0;
}

static gboolean
diagnose_shows_heatmap (gpointer data)
{
  return leaf_diagnose_view_is_showing_heatmap (data);
}

static gboolean
refer_shown (LeafDiagnoseView *view)
{
  ui_test_iterate (20);
  return ui_test_find_label (GTK_WIDGET (view), "refer to an expert") != NULL;
}

static char *
photo_to_diagnose (Fixture *f)
{
  g_autofree char *leaf = g_build_filename (g_getenv ("LEAFSCOPE_SHARED") ? g_getenv ("LEAFSCOPE_SHARED") : ".",
                                            "data", "tomato5-dev", "early_blight", NULL);
  g_autoptr(GDir) dir = g_getenv ("LEAFSCOPE_SCREENSHOTS") ? g_dir_open (leaf, 0, NULL) : NULL;
  const char *name = dir ? g_dir_read_name (dir) : NULL;

  g_autofree char *blight = g_build_filename (f->photos, "blight", NULL);
  g_autoptr(GDir) made = NULL;

  if (name != NULL)
    return g_build_filename (leaf, name, NULL);
  /* The made photos are numbered across fixtures: take whichever is there. */
  made = g_dir_open (blight, 0, NULL);
  return g_build_filename (blight, g_dir_read_name (made), NULL);
}

/* Diagnoses @path with the catalog's active model, in a view of its own window. */
static LeafDiagnoseView *
diagnose (Fixture    *f,
          const char *path)
{
  LeafDiagnoseView *view = LEAF_DIAGNOSE_VIEW (leaf_diagnose_view_new ());
  g_autoptr(GFile) file = g_file_new_for_path (path);

  ui_test_show (GTK_WIDGET (view), 1000, 700);
  leaf_diagnose_view_set_catalog (view, f->catalog);
  leaf_diagnose_view_open_files (view, &file, 1);
  g_assert_true (ui_test_wait_for (diagnosed, view, 60000));
  return view;
}

static void
close_diagnose (LeafDiagnoseView *view)
{
  g_object_ref (view);
  gtk_window_destroy (GTK_WINDOW (gtk_widget_get_root (GTK_WIDGET (view))));
  ui_test_iterate (50);
  g_assert_finalize_object (view);
}

static void
test_diagnose_heatmap_and_referral (Fixture       *f,
                                    gconstpointer  data)
{
  g_autofree char *path = photo_to_diagnose (f);
  g_autoptr(LeafDiagnosis) diagnosis = NULL;
  LeafDiagnoseView *view;
  GdkTexture *heatmap;
  gboolean shown;

  /* The model's own threshold is above any two-class top probability. */
  add_model (f, 0, 0.99, NULL);
  view = diagnose (f, path);
  diagnosis = g_list_model_get_item (leaf_diagnose_view_get_results (view), 0);
  g_assert_cmpfloat (leaf_diagnosis_get_probability (diagnosis, 0), <, 0.99);

  /* Referral follows the keys live. */
  g_assert_true (refer_shown (view));
  g_settings_set_boolean (f->settings, "refer-use-model-threshold", FALSE);
  g_settings_set_double (f->settings, "refer-threshold", 0.0);
  g_assert_false (refer_shown (view));
  g_settings_set_double (f->settings, "refer-threshold", 1.0);
  g_assert_true (refer_shown (view));
  g_settings_set_double (f->settings, "refer-threshold", 0.0);
  g_assert_false (refer_shown (view));
  g_settings_set_boolean (f->settings, "refer-use-model-threshold", TRUE);
  g_assert_true (refer_shown (view));

  /* The action flips the setting; the heatmap is computed and drawn over the photo. */
  g_assert_false (leaf_diagnose_view_is_showing_heatmap (view));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "diagnose.show-heatmap", NULL));
  g_assert_true (g_settings_get_boolean (f->settings, "show-heatmap"));
  g_assert_true (ui_test_wait_for (diagnose_shows_heatmap, view, 60000));
  heatmap = leaf_diagnosis_get_heatmap (diagnosis);
  g_assert_nonnull (heatmap);
  {
    g_autoptr(GdkPixbuf) photo = gdk_pixbuf_new_from_file (path, NULL);

    g_assert_cmpint (gdk_texture_get_width (heatmap), ==, gdk_pixbuf_get_width (photo));
    g_assert_cmpint (gdk_texture_get_height (heatmap), ==, gdk_pixbuf_get_height (photo));
  }
  save_screenshot (GTK_WIDGET (view), "diagnose-heatmap.png");

  /* H, wherever the focus is, switches it off through the setting, and on again. */
  g_assert_true (ui_test_press_key (GTK_WIDGET (view), GDK_KEY_h, 0));
  g_assert_false (g_settings_get_boolean (f->settings, "show-heatmap"));
  g_assert_false (leaf_diagnose_view_is_showing_heatmap (view));
  g_settings_set_boolean (f->settings, "show-heatmap", TRUE);
  shown = leaf_diagnose_view_is_showing_heatmap (view);
  /* Kept with the diagnosis: shown again at once, not recomputed. */
  g_assert_true (shown);
  g_assert_true (leaf_diagnosis_get_heatmap (diagnosis) == heatmap);

  g_settings_reset (f->settings, "show-heatmap");
  close_diagnose (view);
}

static void
record_toast_cb (const char     *domain,
                 GLogLevelFlags  level,
                 const char     *message,
                 gpointer        user_data)
{
  char **recorded = user_data;

  g_free (*recorded);
  *recorded = g_strdup (message);
}

static gboolean
string_set (gpointer data)
{
  return *(char **) data != NULL;
}

/* A paste asks the clipboard only for the formats Leafscope reads. An SVG there is refused with
 * a message instead of being decoded by GTK's loaders, which take minutes over some; a PNG is
 * diagnosed as "Pasted image". */
static void
test_diagnose_paste_formats (Fixture       *f,
                             gconstpointer  data)
{
  static const char svg[] = "<svg xmlns='http://www.w3.org/2000/svg' width='64' height='64'>"
                            "<rect width='64' height='64' fill='green'/></svg>";
  g_autoptr(GBytes) svg_bytes = g_bytes_new_static (svg, sizeof svg - 1);
  g_autoptr(GdkContentProvider) provider = gdk_content_provider_new_for_bytes ("image/svg+xml",
                                                                               svg_bytes);
  g_autofree char *path = photo_to_diagnose (f);
  g_autoptr(GdkTexture) texture = NULL;
  g_autoptr(LeafDiagnosis) diagnosis = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *toast = NULL;
  LeafDiagnoseView *view = LEAF_DIAGNOSE_VIEW (leaf_diagnose_view_new ());
  GdkClipboard *clipboard;
  guint handler;

  add_model (f, 0, 0.0, NULL);
  ui_test_show (GTK_WIDGET (view), 1000, 700);
  leaf_diagnose_view_set_catalog (view, f->catalog);
  clipboard = gtk_widget_get_clipboard (GTK_WIDGET (view));

  /* Outside a window with a toast overlay, the toast's text goes to the log. */
  handler = g_log_set_handler ("leaf-toast", G_LOG_LEVEL_MESSAGE, record_toast_cb, &toast);
  gdk_clipboard_set_content (clipboard, provider);
  leaf_diagnose_view_paste (view);
  g_assert_true (ui_test_wait_for (string_set, &toast, 60000));
  g_log_remove_handler ("leaf-toast", handler);
  g_assert_nonnull (strstr (toast, "clipboard"));
  g_assert_false (leaf_diagnose_view_is_busy (view));
  g_assert_cmpuint (g_list_model_get_n_items (leaf_diagnose_view_get_results (view)), ==, 0);

  texture = gdk_texture_new_from_filename (path, &error);
  g_assert_no_error (error);
  gdk_clipboard_set_texture (clipboard, texture);
  leaf_diagnose_view_paste (view);
  g_assert_true (ui_test_wait_for (diagnosed, view, 60000));
  diagnosis = g_list_model_get_item (leaf_diagnose_view_get_results (view), 0);
  g_assert_cmpstr (leaf_diagnosis_get_name (diagnosis), ==, "Pasted image");
  g_clear_object (&diagnosis);
  close_diagnose (view);
}

/* A model whose check for unfamiliar photos was fitted on features no photo has, so that it
 * finds every photo unfamiliar. */
static void
add_model_for_nothing (Fixture *f)
{
  enum { N = 40, D = 1280 };
  g_autofree float *features = g_new0 (float, N * D);
  g_autoptr(LeafOod) ood = NULL;
  g_autoptr(GError) error = NULL;
  guint labels[N];

  /* Two tight clusters along the first two axes. */
  for (guint i = 0; i < N; i++)
    {
      labels[i] = i % 2;
      features[i * D + labels[i]] = 1.0f;
      features[i * D + 2 + i] = 0.05f;
    }
  ood = leaf_ood_fit (features, labels, N, D, 2, &error);
  g_assert_no_error (error);
  leaf_ood_choose_threshold (ood, features, N, 0.05);
  add_model_checking (f, 0, 0.0, NULL, ood);
}

/* Such a model: Diagnose refers with that reason, offers no class to add the photo as in one
 * click, and says what the model was trained on. */
static void
test_diagnose_unfamiliar_photo (Fixture       *f,
                                gconstpointer  data)
{
  g_autofree char *path = photo_to_diagnose (f);
  LeafDiagnoseView *view;

  add_model_for_nothing (f);
  view = diagnose (f, path);
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (view),
                                        "Unlike the photos this model was trained on"));
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (view), "Add to Catalog as…"));
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (view), "referred to an expert"));
  close_diagnose (view);
}

/* Screenshot of Diagnose with a pretrained model's heatmap over a real leaf. */
static void
test_diagnose_screenshot (Fixture       *f,
                          gconstpointer  data)
{
  g_autofree char *path = photo_to_diagnose (f);
  LeafDiagnoseView *view;

  if (!add_pretrained_model (f))
    {
      g_test_skip ("no shared weights");
      return;
    }
  g_settings_set_boolean (f->settings, "show-heatmap", TRUE);
  view = diagnose (f, path);
  g_assert_true (ui_test_wait_for (diagnose_shows_heatmap, view, 60000));
  save_screenshot (GTK_WIDGET (view), "diagnose-heatmap-pretrained.png");
  g_settings_reset (f->settings, "show-heatmap");
  close_diagnose (view);
}

/* Viewer */

static gboolean
viewer_shows_heatmap (gpointer data)
{
  return leaf_viewer_window_is_showing_heatmap (data);
}

static gboolean
viewer_shows_prediction (gpointer data)
{
  return ui_test_find_label (data, "Model says") != NULL;
}

static gboolean
viewer_refers_unfamiliar (gpointer data)
{
  return ui_test_find_label (data, "unlike those it was trained on: refer to an expert") != NULL;
}

/* For a photo the model finds unfamiliar, the viewer says so. */
static void
test_viewer_unfamiliar_photo (Fixture       *f,
                              gconstpointer  data)
{
  LeafLibraryView *library = LEAF_LIBRARY_VIEW (leaf_library_view_new ());
  GtkWidget *window = ui_test_show (GTK_WIDGET (library), 1000, 700);
  LeafViewerWindow *viewer;

  add_model_for_nothing (f);
  leaf_library_view_set_catalog (library, f->catalog);
  ui_test_iterate (100);
  leaf_library_view_open_viewer (library, 0);
  ui_test_iterate (100);
  viewer = LEAF_VIEWER_WINDOW (ui_test_find_toplevel (LEAF_TYPE_VIEWER_WINDOW));
  g_assert_nonnull (viewer);
  g_assert_true (ui_test_wait_for (viewer_refers_unfamiliar, viewer, 60000));

  g_object_ref (viewer);
  gtk_window_destroy (GTK_WINDOW (viewer));
  ui_test_iterate (50);
  g_assert_finalize_object (viewer);
  g_object_ref (library);
  gtk_window_destroy (GTK_WINDOW (window));
  ui_test_iterate (50);
  g_assert_finalize_object (library);
}

static void
test_viewer_heatmap_needs_a_model (Fixture       *f,
                                   gconstpointer  data)
{
  LeafLibraryView *library = LEAF_LIBRARY_VIEW (leaf_library_view_new ());
  GtkWidget *window = ui_test_show (GTK_WIDGET (library), 1000, 700);
  GtkWidget *grid;
  LeafViewerWindow *viewer;

  leaf_library_view_set_catalog (library, f->catalog);
  ui_test_iterate (100);
  grid = ui_test_find_type (GTK_WIDGET (library), GTK_TYPE_GRID_VIEW);
  gtk_selection_model_select_item (GTK_SELECTION_MODEL (leaf_library_view_get_selection (library)),
                                   0, TRUE);
  gtk_widget_grab_focus (grid);
  g_assert_true (ui_test_press_key (grid, GDK_KEY_space, 0));
  ui_test_iterate (200);
  viewer = LEAF_VIEWER_WINDOW (ui_test_find_toplevel (LEAF_TYPE_VIEWER_WINDOW));
  g_assert_nonnull (viewer);

  /* No model: H does nothing. */
  g_assert_false (ui_test_press_key (GTK_WIDGET (viewer), GDK_KEY_h, 0));
  g_assert_false (g_settings_get_boolean (f->settings, "show-heatmap"));

  /* A model arrives: the viewer asks it about the photo, which the catalog has no prediction
   * for, and H shows its heatmap. */
  add_model (f, 0, 0, NULL);
  ui_test_iterate (50);
  g_assert_true (ui_test_wait_for (viewer_shows_prediction, viewer, 60000));
  g_assert_true (ui_test_press_key (GTK_WIDGET (viewer), GDK_KEY_h, 0));
  g_assert_true (g_settings_get_boolean (f->settings, "show-heatmap"));
  g_assert_true (ui_test_wait_for (viewer_shows_heatmap, viewer, 60000));
  save_screenshot (adw_window_get_content (ADW_WINDOW (viewer)), "viewer-heatmap.png");
  g_assert_true (ui_test_press_key (GTK_WIDGET (viewer), GDK_KEY_h, 0));
  g_assert_false (leaf_viewer_window_is_showing_heatmap (viewer));

  g_object_ref (viewer);
  gtk_window_destroy (GTK_WINDOW (viewer));
  ui_test_iterate (50);
  g_assert_finalize_object (viewer);
  g_object_ref (library);
  gtk_window_destroy (GTK_WINDOW (window));
  ui_test_iterate (50);
  g_assert_finalize_object (library);
}

/* Train view */

static void
test_train_recipe_in_settings (Fixture       *f,
                               gconstpointer  data)
{
  LeafTrainView *view;
  GtkWidget *window;
  g_autofree char *saved = NULL;
  LeafRecipe recipe, expected;

  /* Restored from the key. */
  g_settings_set_string (f->settings, "recipe",
                         "{\"preset\": \"article\", \"head_epochs\": 7, \"seed\": 42}");
  view = LEAF_TRAIN_VIEW (leaf_train_view_new ());
  window = ui_test_show (GTK_WIDGET (view), 1000, 700);
  leaf_train_view_get_recipe (view, &recipe);
  g_assert_cmpint (recipe.preset, ==, LEAF_PRESET_ARTICLE);
  g_assert_cmpuint (recipe.head_epochs, ==, 7);
  g_assert_cmpuint (recipe.seed, ==, 42);

  /* Saved when the user changes a control: the first spin button is the head's epochs. */
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (ui_test_find_type (GTK_WIDGET (view),
                                                                 GTK_TYPE_SPIN_BUTTON)), 12);
  saved = g_settings_get_string (f->settings, "recipe");
  g_assert_true (leaf_recipe_from_string (saved, &recipe, NULL));
  g_assert_cmpuint (recipe.head_epochs, ==, 12);
  g_assert_cmpuint (recipe.seed, ==, 42);
  g_assert_cmpint (recipe.preset, ==, LEAF_PRESET_ARTICLE);
  /* Only what differs from the preset, so that the preset's other settings follow it. */
  g_assert_null (strstr (saved, "\"unfreeze\""));
  g_assert_null (strstr (saved, "\"head_lr\""));

  g_object_ref (view);
  gtk_window_destroy (GTK_WINDOW (window));
  ui_test_iterate (20);
  g_assert_finalize_object (view);

  /* A broken key gives the default preset, and is left for the user's next change. */
  g_settings_set_string (f->settings, "recipe", "{\"head_epochs\": ");
  view = LEAF_TRAIN_VIEW (leaf_train_view_new ());
  g_object_ref_sink (view);
  leaf_train_view_get_recipe (view, &recipe);
  leaf_recipe_init_preset (&expected, LEAF_PRESET_DEFAULT);
  g_assert_cmpint (recipe.preset, ==, expected.preset);
  g_assert_cmpuint (recipe.head_epochs, ==, expected.head_epochs);
  g_assert_cmpuint (recipe.views, ==, expected.views);
  g_assert_finalize_object (view);
}

static char *
summary_with_calibration (void)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  LeafCalibration calibration;

  known_calibration (&calibration);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "metrics");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "classes");
  json_builder_begin_array (b);
  json_builder_add_string_value (b, class_names[0]);
  json_builder_add_string_value (b, class_names[1]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "confusion");
  json_builder_begin_array (b);
  for (guint i = 0; i < 2; i++)
    {
      json_builder_begin_array (b);
      json_builder_add_int_value (b, i == 0 ? 9 : 2);
      json_builder_add_int_value (b, i == 0 ? 1 : 8);
      json_builder_end_array (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "calibration");
  json_builder_add_value (b, leaf_calibration_to_json (&calibration));
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

static void
test_train_warning_and_calibration (Fixture       *f,
                                    gconstpointer  data)
{
  LeafTrainView *view = LEAF_TRAIN_VIEW (leaf_train_view_new ());
  GtkWidget *window = ui_test_show (GTK_WIDGET (view), 1200, 1100);
  g_autofree char *summary = summary_with_calibration ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) images = NULL;
  LeafImageQuery labelled = { .labels = LEAF_LABEL_FILTER_LABELED };
  LeafReliabilityDiagram *diagram;
  gint64 run_id, image_id;
  guint n_grouped = 1;

  /* Labelled photos, none grouped: the split is random, and the view says so. */
  leaf_train_view_set_catalog (view, f->catalog);
  ui_test_iterate (50);
  g_assert_true (leaf_catalog_count_grouped (f->catalog, &n_grouped, &error));
  g_assert_cmpuint (n_grouped, ==, 0);
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (view), "No photo has a group key"));
  save_screenshot (GTK_WIDGET (view), "train-warning.png");

  /* One plant's key is enough for the split to keep groups together. */
  images = leaf_catalog_query_images (f->catalog, &labelled, 0, 1, &error);
  g_assert_no_error (error);
  image_id = leaf_catalog_image_get_id (g_ptr_array_index (images, 0));
  g_assert_true (leaf_catalog_set_group_key (f->catalog, &image_id, 1, "plant-1", &error));
  g_assert_no_error (error);
  ui_test_iterate (50);
  g_assert_true (leaf_catalog_count_grouped (f->catalog, &n_grouped, &error));
  g_assert_cmpuint (n_grouped, ==, 1);
  g_assert_null (ui_test_find_label (GTK_WIDGET (view), "No photo has a group key"));

  /* A finished run's results carry the reliability diagram and the ECE in words. */
  run_id = leaf_catalog_begin_run (f->catalog, "{}", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (leaf_catalog_end_run (f->catalog, run_id, LEAF_RUN_COMPLETED, NULL, &error));
  add_model (f, run_id, 0.6, summary);
  leaf_train_view_end_run (view, run_id, NULL);
  ui_test_iterate (100);
  g_assert_nonnull (leaf_train_view_get_confusion (view));
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (view), "12.5% before temperature scaling, "
                                                           "2.5% after (temperature 1.80)"));
  diagram = LEAF_RELIABILITY_DIAGRAM (ui_test_find_type (GTK_WIDGET (view),
                                                         LEAF_TYPE_RELIABILITY_DIAGRAM));
  g_assert_nonnull (diagram);
  g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (diagram)));
  g_assert_nonnull (strstr (leaf_reliability_diagram_get_summary (diagram),
                            "Confidence 93–100%: before, 10 photos, 60% right"));
  save_screenshot (GTK_WIDGET (view), "train-results.png");

  g_object_ref (view);
  gtk_window_destroy (GTK_WINDOW (window));
  ui_test_iterate (50);
  g_assert_finalize_object (view);
}

int
main (int   argc,
      char *argv[])
{
  ui_test_init (&argc, &argv);

  g_test_add_func ("/ui/reliability-diagram/describes-and-draws", test_reliability_diagram);
#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/ui/diagnose/heatmap-and-referral", test_diagnose_heatmap_and_referral);
  ADD ("/ui/diagnose/paste-only-formats-leafscope-reads", test_diagnose_paste_formats);
  ADD ("/ui/diagnose/unfamiliar-photo-referred", test_diagnose_unfamiliar_photo);
  ADD ("/ui/viewer/heatmap-needs-a-model", test_viewer_heatmap_needs_a_model);
  ADD ("/ui/viewer/unfamiliar-photo", test_viewer_unfamiliar_photo);
  ADD ("/ui/train/recipe-in-settings", test_train_recipe_in_settings);
  ADD ("/ui/train/split-warning-and-calibration", test_train_warning_and_calibration);
  if (g_getenv ("LEAFSCOPE_SCREENSHOTS") != NULL)
    ADD ("/ui/diagnose/screenshot", test_diagnose_screenshot);
#undef ADD
  return g_test_run ();
}
