/* test-models-gui.c: the model the user chose, in the window: the Train view's header and toast
 * after a worse or a stopped run, Use for Diagnosis (which Diagnose shows and uses), rename,
 * delete, the comparison of two models, and export then import through the view
 *
 * The header and comparison tests record models with made-up metrics; Diagnose and the round
 * trip need real files, untrained EfficientNet-B0 networks written with the shim.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "test-models-gui"

#include "config.h"

#include "leaf-test.h"

#include <adwaita.h>
#include <string.h>

#include "leaf-diagnose-view.h"
#include "leaf-engine.h"
#include "leaf-error.h"
#include "leaf-import.h"
#include "leaf-metrics.h"
#include "leaf-model-compare-dialog.h"
#include "leaf-model-file.h"
#include "leaf-train-view.h"
#include "lt.h"
#include "ui-test-util.h"

static const char *const class_names[] = { "blight", "healthy", NULL };

typedef struct
{
  char *dir;
  LeafCatalog *catalog;
  GtkWidget *window;
  GtkWidget *overlay;
  LeafTrainView *view;
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autofree char *photos = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafImportSummary) summary = NULL;
  LeafImportOptions options = { .folder_labels = LEAF_FOLDER_LABELS_ALWAYS };
  const char *paths[2] = { NULL, NULL };

  f->dir = g_dir_make_tmp ("leafscope-models-gui-XXXXXX", NULL);
  photos = g_build_filename (f->dir, "photos", NULL);
  g_free (ui_test_make_photos (photos, class_names, 2));
  path = g_build_filename (f->dir, "test.leafscope", NULL);
  f->catalog = leaf_catalog_open (path, LEAF_CATALOG_OPEN_CREATE, &error);
  g_assert_no_error (error);
  paths[0] = photos;
  summary = leaf_import_run (f->catalog, paths, &options, NULL, NULL, NULL, &error);
  g_assert_no_error (error);

  /* Toasts need an overlay above the view, as in the main window. */
  f->view = LEAF_TRAIN_VIEW (leaf_train_view_new ());
  f->overlay = adw_toast_overlay_new ();
  adw_toast_overlay_set_child (ADW_TOAST_OVERLAY (f->overlay), GTK_WIDGET (f->view));
  f->window = ui_test_show (f->overlay, 1200, 900);
  leaf_train_view_set_catalog (f->view, f->catalog);
  ui_test_iterate (50);
}

static void
close_dialogs (void)
{
  GtkWidget *dialog;

  while ((dialog = ui_test_find_message_dialog ()) != NULL)
    gtk_window_destroy (GTK_WINDOW (dialog));
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  close_dialogs ();
  g_object_ref (f->view);
  gtk_window_destroy (GTK_WINDOW (f->window));
  ui_test_iterate (50);
  g_assert_finalize_object (f->view);
  leaf_catalog_close (f->catalog);
  g_assert_finalize_object (f->catalog);
  leaf_test_remove_tree (f->dir);
  g_free (f->dir);
}

/* A run's summary as the trainer records it: its accuracy and the confusion of two classes on
 * 100 validation photos, `right` of them recognised. */
static char *
summary_json (guint       right,
              const char *val_set)
{
  guint confusion[4] = { right / 2, 50 - right / 2, 50 - (right - right / 2),
                         right - right / 2 };
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "val_accuracy");
  json_builder_add_double_value (b, right / 100.0);
  json_builder_set_member_name (b, "val_set_sha256");
  json_builder_add_string_value (b, val_set);
  json_builder_set_member_name (b, "metrics");
  json_builder_add_value (b, leaf_metrics_build (confusion, class_names, 2));
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

/* A model file: an untrained network with Leafscope's metadata, or any bytes. */
static char *
write_model (Fixture  *f,
             gboolean  real)
{
  static guint counter;
  g_autofree char *name = g_strdup_printf ("model-%u.safetensors", ++counter);
  char *path = g_build_filename (f->dir, name, NULL);
  LeafModelMeta meta = {
    .classes = (char **) class_names,
    .n_classes = 2,
    .image_size = 64,
    .resize_size = 73,
    .created = (char *) "2024-01-01T00:00:00Z",
    .temperature = 1.0,
  };
  g_autofree char *json = leaf_model_meta_to_json (&meta);
  g_autoptr(GError) error = NULL;
  LtModel *model = NULL;
  char *message = NULL;

  if (!real)
    {
      g_assert_true (g_file_set_contents (path, name, -1, NULL));
      return path;
    }
  g_assert_true (leaf_engine_init_torch (1, &error));
  lt_manual_seed (counter);
  g_assert_cmpint (lt_model_new (2, &model, &message), ==, LT_OK);
  g_assert_cmpint (lt_model_save (model, path, json, &message), ==, LT_OK);
  lt_model_free (model);
  return path;
}

/* Records a run that ended with @status and kept a model recognising @right of 100 photos. */
static gint64
add_run (Fixture       *f,
         LeafRunStatus  status,
         guint          right,
         guint          epochs,
         gboolean       real)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = write_model (f, real);
  g_autofree char *summary = summary_json (right, "same-photos");
  g_autofree char *contents = NULL;
  g_autofree char *sha = NULL;
  gsize length;
  gint64 run_id, model_id;

  run_id = leaf_catalog_begin_run (f->catalog, "{}", NULL, &error);
  g_assert_no_error (error);
  for (guint epoch = 1; epoch <= epochs; epoch++)
    {
      LeafMetric metric = { epoch, "val_accuracy", right / 100.0 };

      g_assert_true (leaf_catalog_add_metrics (f->catalog, run_id, LEAF_METRIC_EPOCH, &metric, 1,
                                               &error));
    }
  g_assert_true (leaf_catalog_end_run (f->catalog, run_id, status, NULL, &error));
  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
  sha = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) contents, length);
  model_id = leaf_catalog_add_model (f->catalog, run_id, path, sha, class_names, summary, &error);
  g_assert_no_error (error);
  return model_id;
}

/* A completed run whose model the catalog uses, as its run would have decided. */
static gint64
add_active_run (Fixture  *f,
                guint     right,
                gboolean  real)
{
  g_autoptr(GError) error = NULL;
  gint64 id = add_run (f, LEAF_RUN_COMPLETED, right, 10, real);

  g_assert_true (leaf_catalog_set_active_model (f->catalog, id, &error));
  g_assert_no_error (error);
  return id;
}

static LeafModelInfo *
get_model (Fixture *f,
           gint64   id)
{
  g_autoptr(GError) error = NULL;
  LeafModelInfo *model = leaf_catalog_get_model (f->catalog, id, &error);

  g_assert_no_error (error);
  return model;
}

static gint64
active_id (Fixture *f)
{
  g_autoptr(LeafModelInfo) active = leaf_catalog_get_active_model (f->catalog, NULL);

  return active ? active->id : 0;
}

static GtkWidget *
find_button (GtkWidget  *root,
             const char *label)
{
  if (GTK_IS_BUTTON (root) && gtk_widget_get_mapped (root) &&
      g_strcmp0 (gtk_button_get_label (GTK_BUTTON (root)), label) == 0)
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

/* The history's badge on the row of the model Diagnose uses. */
static GtkWidget *
find_badge (GtkWidget *root)
{
  if (GTK_IS_LABEL (root) && gtk_widget_get_mapped (root) &&
      g_str_equal (gtk_label_get_text (GTK_LABEL (root)), "In Use"))
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_badge (child);

      if (found != NULL)
        return found;
    }
  return NULL;
}

/* The toast whose title contains @text, as the widget that shows it. */
static GtkWidget *
find_toast (Fixture    *f,
            const char *text)
{
  /* Toasts are the overlay's children beside the view, whose own labels are not toasts. */
  for (GtkWidget *child = gtk_widget_get_first_child (f->overlay); child;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *label = child != GTK_WIDGET (f->view) ? ui_test_find_label (child, text) : NULL;

      if (label != NULL)
        return gtk_widget_get_parent (label);
    }
  return NULL;
}

typedef struct
{
  Fixture *f;
  const char *text;
} ToastWait;

static gboolean
toast_shown (gpointer data)
{
  ToastWait *wait = data;

  return find_toast (wait->f, wait->text) != NULL;
}

static void
wait_for_toast (Fixture    *f,
                const char *text)
{
  ToastWait wait = { f, text };
  GtkWidget *dialog;

  /* The overlay shows one toast at a time: a toast waits for the one before to time out. */
  if (!ui_test_wait_for (toast_shown, &wait, 60000) &&
      (dialog = ui_test_find_message_dialog ()) != NULL)
    g_error ("No toast “%s”, but a dialog: %s", text,
             adw_message_dialog_get_body (ADW_MESSAGE_DIALOG (dialog)));
  g_assert_nonnull (find_toast (f, text));
}

/* The header's line under the run's title says exactly @text. */
static void
assert_status (Fixture    *f,
               const char *text)
{
  GtkWidget *label = ui_test_find_label (GTK_WIDGET (f->view), text);

  g_assert_nonnull (label);
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (label)), ==, text);
}

/* After a run */

static void
test_stopped_run (Fixture       *f,
                  gconstpointer  data)
{
  gint64 good = add_active_run (f, 89, FALSE);
  gint64 stopped = add_run (f, LEAF_RUN_CANCELLED, 58, 6, FALSE);
  g_autoptr(LeafModelInfo) model = NULL;
  GtkWidget *header_button, *toast, *button;
  g_autofree char *run = g_strdup_printf ("Run %" G_GINT64_FORMAT, stopped);

  leaf_train_view_end_run (f->view, stopped, NULL);
  ui_test_iterate (100);

  /* The header says what was kept and that Diagnose did not switch. */
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (f->view), "Training Stopped"));
  assert_status (f, "Stopped after 6 epochs. The model was kept (58 %) but Diagnose still uses "
                    "Run 1 (89 %).");
  g_assert_cmpint (active_id (f), ==, good);
  header_button = find_button (GTK_WIDGET (f->view), "_Use Anyway");
  g_assert_nonnull (header_button);

  /* So does a toast, whose button makes it the model Diagnose uses. */
  toast = find_toast (f, "was kept, but Diagnose still uses Run 1");
  g_assert_nonnull (toast);
  g_assert_nonnull (strstr (gtk_label_get_text (GTK_LABEL (ui_test_find_label (toast, "kept"))),
                            run));
  button = find_button (gtk_widget_get_parent (toast), "_Use Anyway");
  g_assert_nonnull (button);
  g_signal_emit_by_name (button, "clicked");
  ui_test_iterate (100);
  g_assert_cmpint (active_id (f), ==, stopped);
  assert_status (f, "Stopped after 6 epochs. Diagnose uses this model, as you chose.");
  g_assert_null (find_button (GTK_WIDGET (f->view), "_Use Anyway"));
  model = get_model (f, stopped);
  g_assert_true (model->active);
  g_assert_nonnull (find_badge (GTK_WIDGET (f->view)));
}

static void
test_worse_run (Fixture       *f,
                gconstpointer  data)
{
  static const char note[] = "Kept Run 2 (80 % on the validation photos), but Diagnose still "
                             "uses Run 1 (89 % on the same photos).";
  g_autoptr(GError) error = NULL;
  gint64 good = add_active_run (f, 89, FALSE);
  gint64 worse = add_run (f, LEAF_RUN_COMPLETED, 80, 10, FALSE);
  gboolean activated = TRUE;

  /* As the run decides: not as accurate, so not active. */
  g_assert_true (leaf_catalog_settle_model (f->catalog, worse, FALSE, good, note, &activated,
                                            &error));
  g_assert_false (activated);
  leaf_train_view_end_run (f->view, 2, NULL);
  ui_test_iterate (100);
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (f->view), "Training Finished"));
  assert_status (f, note);
  g_assert_nonnull (find_toast (f, "Run 2 was kept, but Diagnose still uses Run 1"));
  g_assert_nonnull (find_button (GTK_WIDGET (f->view), "_Use Anyway"));

  /* The header's button does what the toast's does. */
  g_signal_emit_by_name (find_button (GTK_WIDGET (f->view), "_Use Anyway"), "clicked");
  ui_test_iterate (100);
  g_assert_cmpint (active_id (f), ==, worse);
  g_assert_null (find_button (GTK_WIDGET (f->view), "_Use Anyway"));
}

static void
test_better_run (Fixture       *f,
                 gconstpointer  data)
{
  static const char note[] = "Diagnose now uses Run 2 (95 % on the validation photos) in place "
                             "of Run 1 (89 % on the same photos).";
  g_autoptr(GError) error = NULL;
  gint64 good = add_active_run (f, 89, FALSE);
  gint64 better = add_run (f, LEAF_RUN_COMPLETED, 95, 10, FALSE);
  gboolean activated = FALSE;

  g_assert_true (leaf_catalog_settle_model (f->catalog, better, TRUE, good, note, &activated,
                                            &error));
  g_assert_true (activated);
  leaf_train_view_end_run (f->view, 2, NULL);
  ui_test_iterate (100);
  assert_status (f, note);
  g_assert_null (find_toast (f, "was kept"));
  g_assert_null (find_button (GTK_WIDGET (f->view), "_Use Anyway"));
}

/* Use for Diagnosis */

static gboolean
diagnosed_by (gpointer data)
{
  return ui_test_find_label (GTK_WIDGET (data), "Diagnosed by") != NULL &&
         !leaf_diagnose_view_is_busy (data);
}

static const char *
diagnose (LeafDiagnoseView *diagnose,
          const char       *photo)
{
  g_autoptr(GFile) file = g_file_new_for_path (photo);
  GtkWidget *label;

  leaf_diagnose_view_open_files (diagnose, &file, 1);
  ui_test_iterate (20);
  g_assert_true (ui_test_wait_for (diagnosed_by, diagnose, 60000));
  label = ui_test_find_label (GTK_WIDGET (diagnose), "Diagnosed by");
  return gtk_label_get_text (GTK_LABEL (label));
}

static void
test_use_for_diagnosis (Fixture       *f,
                        gconstpointer  data)
{
  gint64 first = add_active_run (f, 89, TRUE);
  gint64 second = add_run (f, LEAF_RUN_COMPLETED, 80, 10, TRUE);
  LeafDiagnoseView *view = LEAF_DIAGNOSE_VIEW (leaf_diagnose_view_new ());
  GtkWidget *window = ui_test_show (GTK_WIDGET (view), 1000, 700);
  g_autofree char *folder = g_build_filename (f->dir, "photos", "blight", NULL);
  g_autoptr(GDir) dir = g_dir_open (folder, 0, NULL);
  g_autofree char *photo = g_build_filename (folder, g_dir_read_name (dir), NULL);
  g_autoptr(LeafModelInfo) model = NULL;
  g_autofree char *second_title = NULL;

  /* The newest model is not the one in use: Diagnose names and uses the active one. */
  leaf_diagnose_view_set_catalog (view, f->catalog);
  g_assert_cmpint (active_id (f), ==, first);
  g_assert_true (g_str_has_prefix (diagnose (view, photo),
                                  "Diagnosed by Run 1 · 89 % validation"));

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->view), "train.use-model", "x",
                                             second));
  ui_test_iterate (100);
  g_assert_cmpint (active_id (f), ==, second);
  model = get_model (f, second);
  second_title = leaf_model_info_describe (model);
  g_assert_nonnull (find_toast (f, "Diagnose now uses Run 2"));
  g_assert_true (g_str_has_prefix (diagnose (view, photo),
                                  "Diagnosed by Run 2 · 80 % validation"));
  g_assert_nonnull (strstr (diagnose (view, photo), second_title));

  g_object_ref (view);
  gtk_window_destroy (GTK_WINDOW (window));
  ui_test_iterate (50);
  g_assert_finalize_object (view);
}

/* Rename and delete */

static AdwMessageDialog *
open_dialog (Fixture    *f,
             const char *action,
             gint64      model_id)
{
  GtkWidget *dialog;

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->view), action, "x", model_id));
  ui_test_iterate (100);
  dialog = ui_test_find_message_dialog ();
  g_assert_nonnull (dialog);
  return ADW_MESSAGE_DIALOG (dialog);
}

static void
answer (AdwMessageDialog *dialog,
        const char       *response)
{
  /* As its buttons do: answer, then close. */
  adw_message_dialog_response (dialog, response);
  gtk_window_destroy (GTK_WINDOW (dialog));
  ui_test_iterate (100);
}

static void
test_rename_and_delete (Fixture       *f,
                        gconstpointer  data)
{
  gint64 first = add_run (f, LEAF_RUN_COMPLETED, 85, 10, FALSE);
  gint64 active = add_active_run (f, 89, FALSE);
  gint64 other = add_run (f, LEAF_RUN_CANCELLED, 58, 3, FALSE);
  g_autoptr(LeafModelInfo) renamed = NULL;
  g_autoptr(LeafModelInfo) removed = NULL;
  g_autoptr(GError) error = NULL;
  AdwMessageDialog *dialog;
  g_autofree char *path = NULL;

  ui_test_iterate (100);
  dialog = open_dialog (f, "train.rename-model", active);
  g_assert_cmpstr (adw_message_dialog_get_heading (dialog), ==, "Rename Run 2");
  gtk_editable_set_text (GTK_EDITABLE (adw_message_dialog_get_extra_child (dialog)),
                         "  Field & lab  ");
  answer (dialog, "rename");
  renamed = get_model (f, active);
  g_assert_cmpstr (renamed->name, ==, "Field & lab");
  /* The history shows the name as text, not markup. */
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (f->view), "Field & lab"));

  /* A model not in use goes without a word about Diagnose. */
  dialog = open_dialog (f, "train.remove-model", other);
  g_assert_nonnull (strstr (adw_message_dialog_get_body (dialog), "goes on with the model"));
  answer (dialog, "cancel");
  g_assert_nonnull (get_model (f, other));
  dialog = open_dialog (f, "train.remove-model", other);
  answer (dialog, "delete");
  g_assert_null (leaf_catalog_get_model (f->catalog, other, &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* The model in use: the dialog says Diagnose will have none, and which to choose. */
  removed = get_model (f, active);
  path = g_strdup (removed->path);
  dialog = open_dialog (f, "train.remove-model", active);
  g_assert_cmpstr (adw_message_dialog_get_heading (dialog), ==, "Delete Field & lab?");
  g_test_message ("%s", adw_message_dialog_get_body (dialog));
  g_assert_nonnull (strstr (adw_message_dialog_get_body (dialog), "Diagnose has no model until "
                                                                  "you choose one"));
  g_assert_nonnull (strstr (adw_message_dialog_get_body (dialog), "the most accurate of the "
                                                                  "others is Run 1 · 85 %"));
  answer (dialog, "delete");
  g_assert_cmpint (active_id (f), ==, 0);
  g_assert_nonnull (get_model (f, first));
  g_assert_null (ui_test_find_label (GTK_WIDGET (f->view), "Field & lab"));
  g_assert_null (find_badge (GTK_WIDGET (f->view)));
}

/* Compare */

static void
test_compare (Fixture       *f,
              gconstpointer  data)
{
  gint64 first = add_active_run (f, 89, FALSE);
  gint64 second = add_run (f, LEAF_RUN_CANCELLED, 58, 6, FALSE);
  GtkWindow *dialog;

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->view), "train.compare-models",
                                             "(xx)", second, first));
  ui_test_iterate (200);
  dialog = ui_test_find_toplevel (LEAF_TYPE_MODEL_COMPARE_DIALOG);
  g_assert_nonnull (dialog);
  /* Side by side: the first chosen first. */
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (dialog), "Run 2 and Run 1"));
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (dialog), "58.0%"));
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (dialog), "89.0%"));
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (dialog), "Run stopped"));
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (dialog), "Run completed"));
  /* Per class: blight recognised 44 and 29 times of 50 (88 % and 58 % recall). */
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (dialog), "healthy"));
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (dialog), "88.0%"));
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (dialog), "F1"));
  /* Both validated on the same photos: nothing to warn about. */
  g_assert_null (ui_test_find_label (GTK_WIDGET (dialog), "different validation photos"));
  gtk_window_destroy (dialog);
  ui_test_iterate (50);
}

/* Export, then import */

static gboolean
file_exists (gpointer data)
{
  return g_file_test (data, G_FILE_TEST_EXISTS);
}

static void
round_trip (Fixture    *f,
            gint64      model_id,
            const char *name)
{
  g_autofree char *path = g_build_filename (f->dir, name, NULL);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autofree char *exported = g_strdup_printf ("Exported to %s", name);
  g_autofree char *imported_toast = g_strdup_printf ("Imported %s as", name);
  g_autoptr(GPtrArray) before = leaf_catalog_list_models (f->catalog, NULL);
  g_autoptr(GPtrArray) after = NULL;
  g_autoptr(LeafModelInfo) active = leaf_catalog_get_active_model (f->catalog, NULL);
  AdwMessageDialog *dialog;
  GtkEditable *entry;
  LeafModelInfo *imported;

  leaf_train_view_export_model (f->view, model_id, file);
  wait_for_toast (f, exported);
  g_assert_true (file_exists (path));

  leaf_train_view_import_model (f->view, file);
  ui_test_iterate (100);
  dialog = ADW_MESSAGE_DIALOG (ui_test_find_message_dialog ());
  g_assert_nonnull (dialog);
  /* The catalog's classes, in order, unless the user says otherwise. */
  entry = GTK_EDITABLE (adw_message_dialog_get_extra_child (dialog));
  g_assert_cmpstr (gtk_editable_get_text (entry), ==, "blight, healthy");
  answer (dialog, "import");
  wait_for_toast (f, imported_toast);
  after = leaf_catalog_list_models (f->catalog, NULL);
  g_assert_cmpuint (after->len, ==, before->len + 1);
  imported = g_ptr_array_index (after, 0);
  for (guint i = 1; i < after->len; i++)
    if (((LeafModelInfo *) g_ptr_array_index (after, i))->id > imported->id)
      imported = g_ptr_array_index (after, i);
  g_assert_cmpint (imported->run_id, ==, 0);
  g_assert_cmpstrv (imported->classes, class_names);
  /* Imported, not in use until the user says so. */
  g_assert_false (imported->active);
  g_assert_cmpint (active_id (f), ==, active->id);
}

static gboolean
dialog_shown (gpointer data)
{
  return ui_test_find_message_dialog () != NULL;
}

static void
test_export_import (Fixture       *f,
                    gconstpointer  data)
{
  gint64 id = add_active_run (f, 89, TRUE);
  g_autofree char *path = g_build_filename (f->dir, "plain.pth", NULL);
  g_autoptr(GFile) file = NULL;
  AdwMessageDialog *dialog;

  round_trip (f, id, "exported.safetensors");
  round_trip (f, id, "plain.pth");

  /* Class names that do not fit its classifier: a dialog says so, and nothing is added. */
  file = g_file_new_for_path (path);
  leaf_train_view_import_model (f->view, file);
  ui_test_iterate (100);
  dialog = ADW_MESSAGE_DIALOG (ui_test_find_message_dialog ());
  gtk_editable_set_text (GTK_EDITABLE (adw_message_dialog_get_extra_child (dialog)),
                         "blight, healthy, mosaic");
  answer (dialog, "import");
  g_assert_true (ui_test_wait_for (dialog_shown, NULL, 60000));
  dialog = ADW_MESSAGE_DIALOG (ui_test_find_message_dialog ());
  g_assert_cmpstr (adw_message_dialog_get_heading (dialog), ==, "Could Not Import the Model");
  g_test_message ("%s", adw_message_dialog_get_body (dialog));
  g_assert_nonnull (strstr (adw_message_dialog_get_body (dialog), "plain.pth"));
  g_assert_nonnull (strstr (adw_message_dialog_get_body (dialog), "3 class names"));
}

int
main (int   argc,
      char *argv[])
{
  ui_test_init (&argc, &argv);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/ui/models/stopped-run-header-and-toast", test_stopped_run);
  ADD ("/ui/models/worse-run-header-and-toast", test_worse_run);
  ADD ("/ui/models/better-run-becomes-active", test_better_run);
  ADD ("/ui/models/use-for-diagnosis", test_use_for_diagnosis);
  ADD ("/ui/models/rename-and-delete", test_rename_and_delete);
  ADD ("/ui/models/compare", test_compare);
  ADD ("/ui/models/export-import", test_export_import);
#undef ADD
  return g_test_run ();
}
