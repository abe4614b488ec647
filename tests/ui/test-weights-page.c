/* test-weights-page.c: the Weights page of Preferences, the Diagnosis rows, and the question
 * Train asks when no base weights are present
 *
 * Every download goes to a SoupServer on 127.0.0.1 started here; nothing reaches the network.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "test-weights-page"

#include "config.h"

#include "leaf-test.h"

#include <adwaita.h>
#include <glib/gstdio.h>
#include <string.h>

#include "leaf-preferences-window.h"
#include "leaf-settings.h"
#include "leaf-train-view.h"
#include "leaf-weights-page.h"
#include "leaf-window.h"
#include "ui-test-util.h"
#include "ws-test-server.h"

#define BODY_BYTES (512 * 1024 + 77)

static WsServer *server;
static GBytes *body;
static char *body_sha256;

typedef struct
{
  char *dir;
  LeafWeightsStore *store;
  GtkWidget *window;
  LeafWeightsPage *page;
  char *ready_path;     /* what ::weights-ready last said */
  double max_fraction;  /* the progress bar's, while busy */
  gboolean saw_percent; /* a "… of … (N%)" line while busy */
} Fixture;

static void
on_ready_cb (LeafWeightsPage *page,
             const char      *path,
             Fixture         *fixture)
{
  g_free (fixture->ready_path);
  fixture->ready_path = g_strdup (path);
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autofree char *official_url = ws_server_url (server, "/slow/weights.pth");

  fixture->dir = g_dir_make_tmp ("leafscope-weights-page-XXXXXX", NULL);
  g_assert_nonnull (fixture->dir);
  fixture->store = g_object_new (LEAF_TYPE_WEIGHTS_STORE,
                                 "directory", fixture->dir,
                                 "official-sha256", body_sha256,
                                 "official-url", official_url,
                                 NULL);
  fixture->page = LEAF_WEIGHTS_PAGE (leaf_weights_page_new (fixture->store));
  g_signal_connect (fixture->page, "weights-ready", G_CALLBACK (on_ready_cb), fixture);
  fixture->window = ui_test_show (GTK_WIDGET (fixture->page), 640, 900);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  g_object_ref (fixture->page);
  gtk_window_destroy (GTK_WINDOW (fixture->window));
  ui_test_iterate (50);
  g_assert_finalize_object (fixture->page);
  g_clear_object (&fixture->store);
  leaf_test_remove_tree (fixture->dir);
  g_free (fixture->dir);
  g_free (fixture->ready_path);
}

static gboolean
job_done_cb (gpointer data)
{
  Fixture *fixture = data;
  GtkWidget *bar = ui_test_find_type (GTK_WIDGET (fixture->page), GTK_TYPE_PROGRESS_BAR);

  if (!leaf_weights_page_is_busy (fixture->page))
    return TRUE;
  fixture->max_fraction = MAX (fixture->max_fraction,
                               gtk_progress_bar_get_fraction (GTK_PROGRESS_BAR (bar)));
  fixture->saw_percent |= ui_test_find_label (GTK_WIDGET (fixture->page), "%)") != NULL;
  return FALSE;
}

static void
wait_for_job (Fixture *fixture)
{
  g_assert_true (leaf_weights_page_is_busy (fixture->page));
  g_assert_true (ui_test_wait_for (job_done_cb, fixture, 60000));
}

/* Whether the store's folder holds a weight file or a partial download. */
static gboolean
has_weights_file (const char *dir,
                  const char *suffix)
{
  g_autoptr(GDir) handle = g_dir_open (dir, 0, NULL);
  const char *name;

  if (handle == NULL)
    return FALSE;
  while ((name = g_dir_read_name (handle)) != NULL)
    if (g_str_has_suffix (name, suffix))
      return TRUE;
  return FALSE;
}

static GtkWidget *
find_button (GtkWidget  *root,
             const char *label)
{
  if (GTK_IS_BUTTON (root) && g_strcmp0 (gtk_button_get_label (GTK_BUTTON (root)), label) == 0)
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_button (child, label);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static void
test_empty (Fixture       *fixture,
            gconstpointer  data)
{
  g_autoptr(GdkTexture) texture = NULL;

  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (fixture->page), "No Base Weights Yet"));
  g_assert_null (ui_test_find_label (GTK_WIDGET (fixture->page), "Official ImageNet weights"));
  g_assert_false (leaf_weights_page_is_busy (fixture->page));
  g_assert_true (leaf_weights_page_get_store (fixture->page) == fixture->store);
  texture = ui_test_render (GTK_WIDGET (fixture->page));
  g_assert_nonnull (texture);
}

static void
test_download (Fixture       *fixture,
               gconstpointer  data)
{
  g_autofree char *short_hash = g_strdup_printf ("SHA-256 %.8s…%s", body_sha256,
                                                body_sha256 + 56);
  g_autoptr(GBytes) kept = NULL;
  char *contents;
  gsize length;

  GtkWidget *download = find_button (GTK_WIDGET (fixture->page), "_Download");
  GtkWidget *cancel = find_button (GTK_WIDGET (fixture->page), "_Cancel");

  g_assert_true (gtk_widget_get_sensitive (download));
  g_assert_false (gtk_widget_is_drawable (cancel));
  g_signal_emit_by_name (download, "clicked");
  /* One job at a time, which can be cancelled. */
  g_assert_true (leaf_weights_page_is_busy (fixture->page));
  g_assert_false (gtk_widget_get_sensitive (download));
  g_assert_true (gtk_widget_get_sensitive (cancel));
  ui_test_iterate (20);
  g_assert_true (gtk_widget_is_drawable (cancel));
  wait_for_job (fixture);
  g_assert_true (gtk_widget_get_sensitive (download));
  g_assert_false (gtk_widget_is_drawable (cancel));

  g_assert_true (fixture->saw_percent);
  g_assert_cmpfloat (fixture->max_fraction, >, 0.0);
  g_assert_nonnull (fixture->ready_path);
  g_assert_true (g_str_has_prefix (fixture->ready_path, fixture->dir));
  g_assert_true (g_file_get_contents (fixture->ready_path, &contents, &length, NULL));
  kept = g_bytes_new_take (contents, length);
  g_assert_true (g_bytes_equal (kept, body));
  g_assert_false (has_weights_file (fixture->dir, ".part"));

  /* Listed, under the name it was downloaded as, as the official file. */
  g_assert_null (ui_test_find_label (GTK_WIDGET (fixture->page), "No Base Weights Yet"));
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (fixture->page), "weights.pth"));
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (fixture->page), "Official ImageNet weights"));
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (fixture->page), short_hash));
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (fixture->page), "Used for Training"));
  g_assert_null (ui_test_find_label (GTK_WIDGET (fixture->page), "Download Failed"));
}

static void
enable_mirror (Fixture    *fixture,
               const char *path,
               const char *sha256)
{
  g_autofree char *url = ws_server_url (server, path);
  GtkWidget *expander = ui_test_find_type (GTK_WIDGET (fixture->page), ADW_TYPE_EXPANDER_ROW);
  GtkWidget *entries[2] = { NULL, NULL };
  guint n = 0;

  adw_expander_row_set_enable_expansion (ADW_EXPANDER_ROW (expander), TRUE);
  ui_test_iterate (50);
  /* The address row comes first, then the hash row. */
  for (GtkWidget *w = ui_test_find_type (expander, ADW_TYPE_ENTRY_ROW); w != NULL && n < 2;
       w = gtk_widget_get_next_sibling (w))
    if (ADW_IS_ENTRY_ROW (w))
      entries[n++] = w;
  g_assert_cmpuint (n, ==, 2);
  gtk_editable_set_text (GTK_EDITABLE (entries[0]), url);
  gtk_editable_set_text (GTK_EDITABLE (entries[1]), sha256);
}

static void
test_wrong_hash (Fixture       *fixture,
                 gconstpointer  data)
{
  const char *wrong = "0000000000000000000000000000000000000000000000000000000000000000";

  enable_mirror (fixture, "/ok/mirror.pth", wrong);
  leaf_weights_page_download (fixture->page);
  wait_for_job (fixture);

  g_assert_null (fixture->ready_path);
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (fixture->page), "Download Failed"));
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (fixture->page), "not the expected one"));
  /* The two ways on are offered with the error. */
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (fixture->page), "Other Ways On"));
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (fixture->page), "Train from Scratch"));
  g_assert_nonnull (find_button (GTK_WIDGET (fixture->page), "Import from _File…"));
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (fixture->page), "No Base Weights Yet"));
  /* Nothing half-written is left: no weight file, and no partial download to resume. */
  g_assert_false (has_weights_file (fixture->dir, ".pth"));
  g_assert_false (has_weights_file (fixture->dir, ".safetensors"));
  g_assert_false (has_weights_file (fixture->dir, ".part"));
}

static void
test_not_found (Fixture       *fixture,
                gconstpointer  data)
{
  enable_mirror (fixture, "/missing/weights.pth", "");
  leaf_weights_page_download (fixture->page);
  wait_for_job (fixture);

  g_assert_null (fixture->ready_path);
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (fixture->page), "Download Failed"));
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (fixture->page), "404"));
}

static void
test_mirror_without_address (Fixture       *fixture,
                             gconstpointer  data)
{
  enable_mirror (fixture, "/ok/mirror.pth", "");
  gtk_editable_set_text (GTK_EDITABLE (ui_test_find_type (GTK_WIDGET (fixture->page),
                                                          ADW_TYPE_ENTRY_ROW)), "");
  leaf_weights_page_download (fixture->page);
  g_assert_false (leaf_weights_page_is_busy (fixture->page));
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (fixture->page), "No Mirror Address"));
}

static gboolean
progress_seen_cb (gpointer data)
{
  Fixture *fixture = data;

  job_done_cb (fixture);
  return fixture->max_fraction > 0;
}

static void
test_cancel (Fixture       *fixture,
             gconstpointer  data)
{
  leaf_weights_page_download (fixture->page);
  g_assert_true (ui_test_wait_for (progress_seen_cb, fixture, 30000));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (fixture->page), "weights.cancel",
                                             NULL));
  wait_for_job (fixture);

  g_assert_null (fixture->ready_path);
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (fixture->page), "Download Stopped"));
  g_assert_false (has_weights_file (fixture->dir, ".pth"));
  /* What arrived is kept for the next attempt, which resumes and finishes. */
  g_assert_true (has_weights_file (fixture->dir, ".pth.part"));
  leaf_weights_page_download (fixture->page);
  wait_for_job (fixture);
  g_assert_nonnull (fixture->ready_path);
  g_assert_null (ui_test_find_label (GTK_WIDGET (fixture->page), "Download Stopped"));
}

static void
test_import_compatible (Fixture       *fixture,
                        gconstpointer  data)
{
  const char *torch = ws_torch_files ();
  g_autofree char *path = NULL;
  g_autoptr(GFile) file = NULL;

  if (torch == NULL)
    return;
  path = g_build_filename (torch, "compatible.pth", NULL);
  file = g_file_new_for_path (path);
  leaf_weights_page_import_file (fixture->page, file);
  wait_for_job (fixture);

  g_assert_nonnull (fixture->ready_path);
  g_assert_true (g_file_test (fixture->ready_path, G_FILE_TEST_IS_REGULAR));
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (fixture->page), "compatible.pth"));
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (fixture->page),
                                        "Not the official file: accepted after a key-and-shape "
                                        "check"));
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (fixture->page), "Used for Training"));
  g_assert_null (ui_test_find_label (GTK_WIDGET (fixture->page), "No Base Weights Yet"));
}

static void
test_import_not_weights (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autofree char *path = g_build_filename (fixture->dir, "notes.pth", NULL);
  g_autoptr(GFile) file = g_file_new_for_path (path);

  g_assert_true (g_file_set_contents (path, "not a weight file", -1, NULL));
  leaf_weights_page_import_file (fixture->page, file);
  wait_for_job (fixture);

  g_assert_null (fixture->ready_path);
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (fixture->page), "Import Failed"));
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (fixture->page), "No Base Weights Yet"));
}

/* Diagnosis rows */

static GtkWidget *
row_with_title (GtkWidget  *root,
                const char *title)
{
  GtkWidget *label = ui_test_find_label (root, title);

  g_assert_nonnull (label);
  return gtk_widget_get_ancestor (label, ADW_TYPE_ACTION_ROW);
}

static void
test_diagnosis_rows (void)
{
  g_autoptr(GSettings) settings = leaf_settings_new ();
  GtkWidget *window = leaf_preferences_window_new ();
  GtkWidget *switch_row, *threshold_row;
  GtkSwitch *model_switch;
  GtkSpinButton *spin;

  g_assert_nonnull (settings);
  g_settings_set_boolean (settings, "refer-use-model-threshold", TRUE);
  g_settings_set_double (settings, "refer-threshold", 0.5);
  gtk_window_present (GTK_WINDOW (window));
  ui_test_iterate (100);

  switch_row = row_with_title (window, "Use Each Model’s Threshold");
  threshold_row = row_with_title (window, "Referral Threshold");
  g_assert_nonnull (ui_test_find_label (switch_row, "risk–coverage curve"));
  model_switch = GTK_SWITCH (ui_test_find_type (switch_row, GTK_TYPE_SWITCH));
  spin = GTK_SPIN_BUTTON (ui_test_find_type (threshold_row, GTK_TYPE_SPIN_BUTTON));

  g_assert_true (gtk_switch_get_active (model_switch));
  g_assert_false (gtk_widget_get_sensitive (threshold_row));
  g_assert_cmpfloat_with_epsilon (gtk_spin_button_get_value (spin), 0.5, 1e-9);

  gtk_switch_set_active (model_switch, FALSE);
  g_assert_false (g_settings_get_boolean (settings, "refer-use-model-threshold"));
  g_assert_true (gtk_widget_get_sensitive (threshold_row));
  gtk_spin_button_set_value (spin, 0.8);
  g_assert_cmpfloat_with_epsilon (g_settings_get_double (settings, "refer-threshold"), 0.8,
                                  1e-9);
  /* The range is the key's: a probability. */
  gtk_spin_button_set_value (spin, 7);
  g_assert_cmpfloat_with_epsilon (g_settings_get_double (settings, "refer-threshold"), 1.0,
                                  1e-9);

  g_settings_set_boolean (settings, "refer-use-model-threshold", TRUE);
  g_assert_true (gtk_switch_get_active (model_switch));
  g_assert_false (gtk_widget_get_sensitive (threshold_row));
  g_settings_set_double (settings, "refer-threshold", 0.25);
  g_assert_cmpfloat_with_epsilon (gtk_spin_button_get_value (spin), 0.25, 1e-9);

  /* The Weights page is there too, and can be turned to. */
  g_assert_true (LEAF_IS_WEIGHTS_PAGE (
    leaf_preferences_window_show_weights (LEAF_PREFERENCES_WINDOW (window))));
  ui_test_iterate (50);
  g_assert_nonnull (ui_test_find_label (window, "Download From a Mirror"));
  gtk_window_destroy (GTK_WINDOW (window));
}

/* Train when no base weights are present */

static gboolean
not_running_cb (gpointer data)
{
  return !leaf_train_view_is_running (data);
}

/* A catalog Train accepts, labelled photos of two classes, in @dir. */
static GFile *
trainable_catalog (const char *dir)
{
  static const char *const classes[] = { "blight", "healthy", NULL };
  g_autofree char *path = ui_test_make_catalog (dir, classes, 2);

  return g_file_new_for_path (path);
}

static void
test_train_asks_for_weights (void)
{
  g_autofree char *dir = g_dir_make_tmp ("leafscope-weights-train-XXXXXX", NULL);
  g_autoptr(GFile) file = trainable_catalog (dir);
  LeafWindow *window = leaf_window_new (NULL);
  LeafTrainView *view;
  AdwMessageDialog *dialog;

  leaf_window_open_catalog (window, file);
  gtk_window_present (GTK_WINDOW (window));
  ui_test_iterate (100);
  view = LEAF_TRAIN_VIEW (ui_test_find_type (GTK_WIDGET (window), LEAF_TYPE_TRAIN_VIEW));

  /* The test's cache folder holds no weights: Train asks instead of starting. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "train.start", NULL));
  ui_test_iterate (50);
  dialog = ADW_MESSAGE_DIALOG (ui_test_find_message_dialog ());
  g_assert_nonnull (dialog);
  g_assert_cmpstr (adw_message_dialog_get_heading (dialog), ==, "Pretrained Weights Needed");
  g_assert_true (strstr (adw_message_dialog_get_body (dialog), "far less accurate") != NULL);
  g_assert_true (adw_message_dialog_has_response (dialog, "download"));
  g_assert_true (adw_message_dialog_has_response (dialog, "import"));
  g_assert_false (leaf_train_view_is_running (view));

  /* As a click does: a response alone does not close the dialog. */
  g_signal_emit_by_name (find_button (GTK_WIDGET (dialog), "_Cancel"), "clicked");
  ui_test_iterate (50);
  g_assert_null (ui_test_find_message_dialog ());
  g_assert_false (leaf_train_view_is_running (view));

  /* From scratch needs no weights: the run starts, and is stopped at once. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "train.start", NULL));
  ui_test_iterate (50);
  dialog = ADW_MESSAGE_DIALOG (ui_test_find_message_dialog ());
  g_assert_nonnull (dialog);
  g_signal_emit_by_name (find_button (GTK_WIDGET (dialog), "Train from _Scratch"), "clicked");
  g_assert_true (leaf_train_view_is_running (view));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "train.stop", NULL));
  g_assert_true (ui_test_wait_for (not_running_cb, view, 60000));
  g_assert_null (ui_test_find_label (GTK_WIDGET (view), "No pretrained weights"));

  gtk_window_destroy (GTK_WINDOW (window));
  ui_test_iterate (100);
  leaf_test_remove_tree (dir);
}

static void
test_train_with_weights_does_not_ask (void)
{
  const char *torch = ws_torch_files ();
  g_autofree char *dir = NULL;
  g_autofree char *weights = NULL;
  g_autofree char *imported = NULL;
  g_autoptr(GFile) file = NULL;
  g_autoptr(LeafWeightsStore) store = NULL;
  g_autoptr(GError) error = NULL;
  LeafWindow *window;
  LeafTrainView *view;

  if (torch == NULL)
    return;
  dir = g_dir_make_tmp ("leafscope-weights-train-XXXXXX", NULL);
  file = trainable_catalog (dir);
  weights = g_build_filename (torch, "compatible.pth", NULL);
  store = leaf_weights_store_new (NULL);
  imported = leaf_weights_store_import (store, weights, NULL, NULL, &error);
  g_assert_no_error (error);

  window = leaf_window_new (NULL);
  leaf_window_open_catalog (window, file);
  gtk_window_present (GTK_WINDOW (window));
  ui_test_iterate (100);
  view = LEAF_TRAIN_VIEW (ui_test_find_type (GTK_WIDGET (window), LEAF_TYPE_TRAIN_VIEW));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "train.start", NULL));
  g_assert_true (leaf_train_view_is_running (view));
  ui_test_iterate (50);
  g_assert_null (ui_test_find_message_dialog ());
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "train.stop", NULL));
  g_assert_true (ui_test_wait_for (not_running_cb, view, 60000));

  gtk_window_destroy (GTK_WINDOW (window));
  ui_test_iterate (100);
  g_assert_cmpint (g_unlink (imported), ==, 0);
  leaf_test_remove_tree (dir);
}

int
main (int   argc,
      char *argv[])
{
  int status;

  ui_test_init (&argc, &argv);
  body = ws_make_bytes (BODY_BYTES, 7);
  body_sha256 = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, body);
  server = ws_server_new (body);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/weights-page/empty", test_empty);
  ADD ("/weights-page/download/progress-and-file", test_download);
  ADD ("/weights-page/download/wrong-hash", test_wrong_hash);
  ADD ("/weights-page/download/not-found", test_not_found);
  ADD ("/weights-page/download/mirror-without-address", test_mirror_without_address);
  ADD ("/weights-page/download/cancel-and-resume", test_cancel);
  ADD ("/weights-page/import/compatible", test_import_compatible);
  ADD ("/weights-page/import/not-weights", test_import_not_weights);
#undef ADD
  g_test_add_func ("/preferences/diagnosis-rows-bound", test_diagnosis_rows);
  g_test_add_func ("/window/train/asks-for-weights", test_train_asks_for_weights);
  g_test_add_func ("/window/train/with-weights-does-not-ask",
                   test_train_with_weights_does_not_ask);

  status = g_test_run ();
  ws_torch_files_remove ();
  ws_server_free (server);
  g_bytes_unref (body);
  g_free (body_sha256);
  return status;
}
