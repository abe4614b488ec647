/* test-import-labels.c: Import Labels from the main menu: a spreadsheet chosen in the file
 * chooser labels the Library's photos as one undoable action, and the lines it could not apply
 * are listed with their numbers; Export… writes a Label Studio file
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "test-import-labels"

#include "config.h"

#include "leaf-test.h"

#include <adwaita.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "leaf-import.h"
#include "leaf-label-import.h"
#include "leaf-window-private.h"
#include "ui-test-util.h"

typedef struct
{
  char *dir;
  char *csv;
  LeafWindow *window;
} Fixture;

static const char *const folders[] = { "field-a", "field-b", NULL };

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autofree char *photos = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafImportSummary) summary = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(GFile) file = NULL;
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GString) csv = g_string_new ("file,label\n");
  LeafImportOptions options = { .folder_labels = LEAF_FOLDER_LABELS_NEVER };
  const char *paths[2] = { NULL, NULL };
  const char *name;

  f->dir = g_dir_make_tmp ("leafscope-import-labels-XXXXXX", NULL);
  photos = g_build_filename (f->dir, "photos", NULL);
  g_free (ui_test_make_photos (photos, folders, 2));
  path = g_build_filename (f->dir, "test.leafscope", NULL);
  catalog = leaf_catalog_open (path, LEAF_CATALOG_OPEN_CREATE, &error);
  g_assert_no_error (error);
  paths[0] = photos;
  summary = leaf_import_run (catalog, paths, &options, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (summary->n_added, ==, 4);
  g_assert_cmpuint (summary->n_labeled, ==, 0);
  leaf_catalog_close (catalog);

  /* The spreadsheet names field-a's photos by their path from its own folder, a class the
   * catalog lacks, and on line 4 a photo it does not have. */
  path = g_build_filename (photos, "field-a", NULL);
  dir = g_dir_open (path, 0, &error);
  g_assert_no_error (error);
  while ((name = g_dir_read_name (dir)) != NULL)
    g_string_append_printf (csv, "photos/field-a/%s,Late blight\n", name);
  g_string_append (csv, "photos/field-c/photo-999.png,Late blight\n");
  f->csv = g_build_filename (f->dir, "labels.csv", NULL);
  g_file_set_contents (f->csv, csv->str, csv->len, &error);
  g_assert_no_error (error);

  f->window = leaf_window_new (NULL);
  gtk_window_set_default_size (GTK_WINDOW (f->window), 1180, 780);
  gtk_window_present (GTK_WINDOW (f->window));
  g_free (path);
  path = g_build_filename (f->dir, "test.leafscope", NULL);
  file = g_file_new_for_path (path);
  leaf_window_open_catalog (f->window, file);
  ui_test_iterate (200);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  gtk_window_destroy (GTK_WINDOW (f->window));
  ui_test_iterate (100);
  leaf_test_remove_tree (f->dir);
  g_free (f->csv);
  g_free (f->dir);
}

static gboolean
file_chooser_open (gpointer data)
{
  return ui_test_find_toplevel (GTK_TYPE_FILE_CHOOSER_DIALOG) != NULL;
}

static gboolean
file_chosen_cb (gpointer data)
{
  g_autoptr(GFile) file = gtk_file_chooser_get_file (data);

  return file != NULL;
}

static gboolean
message_dialog_open (gpointer data)
{
  return ui_test_find_message_dialog () != NULL;
}

/* The number of photos the Library's sidebar shows in its row at index. */
static gboolean
sidebar_row_says (LeafWindow *window,
                  int         index,
                  const char *count)
{
  GtkListBox *sidebar = GTK_LIST_BOX (ui_test_find_type (GTK_WIDGET (window->library_view),
                                                         GTK_TYPE_LIST_BOX));
  GtkListBoxRow *row = gtk_list_box_get_row_at_index (sidebar, index);

  return row != NULL && ui_test_find_label (GTK_WIDGET (row), count) != NULL;
}

typedef struct
{
  LeafWindow *window;
  int index;
  const char *text;
} RowCheck;

static gboolean
row_check_cb (gpointer data)
{
  RowCheck *check = data;

  return sidebar_row_says (check->window, check->index, check->text);
}

static void
test_import_labels_from_menu (Fixture       *f,
                              gconstpointer  data)
{
  g_autoptr(GFile) file = g_file_new_for_path (f->csv);
  g_autoptr(GError) error = NULL;
  g_autofree char *choice = NULL;
  GtkWindow *chooser;
  GtkWidget *dialog;
  const char *body;
  /* Rows: All, Unlabelled, then the classes. */
  RowCheck class_row = { f->window, 2, "Late blight" };
  RowCheck labelled = { f->window, 2, "2" };
  RowCheck all_unlabelled = { f->window, 1, "4" };

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->window), "win.import-labels", NULL));
  g_assert_true (ui_test_wait_for (file_chooser_open, NULL, 10000));
  chooser = ui_test_find_toplevel (GTK_TYPE_FILE_CHOOSER_DIALOG);
  /* Classes the file names are made unless the user says otherwise. */
  g_assert_cmpstr (gtk_file_chooser_get_choice (GTK_FILE_CHOOSER (chooser), "create-classes"),
                   ==, "true");
  g_assert_true (gtk_file_chooser_set_file (GTK_FILE_CHOOSER (chooser), file, &error));
  g_assert_no_error (error);
  /* The chooser selects the file once it has read its folder. */
  g_assert_true (ui_test_wait_for (file_chosen_cb, chooser, 10000));
  gtk_dialog_response (GTK_DIALOG (chooser), GTK_RESPONSE_ACCEPT);

  /* Line 4 could not be applied: a dialog says so, with the line, and the rest is applied. */
  g_assert_true (ui_test_wait_for (message_dialog_open, NULL, 10000));
  dialog = ui_test_find_message_dialog ();
  body = adw_message_dialog_get_body (ADW_MESSAGE_DIALOG (dialog));
  g_test_message ("%s", body);
  g_assert_nonnull (strstr (body, "Applied 2 labels; 1 line could not be applied"));
  g_assert_nonnull (ui_test_find_label (dialog, "Line 4: "));
  g_assert_nonnull (ui_test_find_label (dialog, "photos/field-c/photo-999.png"));
  g_assert_true (ui_test_wait_for (row_check_cb, &class_row, 10000));
  g_assert_true (ui_test_wait_for (row_check_cb, &labelled, 10000));

  /* The dialog's Undo takes the whole file back in one step. */
  adw_message_dialog_response (ADW_MESSAGE_DIALOG (dialog), "undo");
  g_assert_true (ui_test_wait_for (row_check_cb, &all_unlabelled, 10000));
}

/* A new file is written in place, not renamed into place: it is done when it reads as a whole
 * JSON array (checking only that it exists read it half-written on a loaded machine). */
static gboolean
json_written_cb (gpointer data)
{
  g_autofree char *text = NULL;
  g_autoptr(JsonNode) node = NULL;

  return g_file_get_contents (data, &text, NULL, NULL)
         && (node = json_from_string (text, NULL)) != NULL && JSON_NODE_HOLDS_ARRAY (node);
}

/* Export… offers a Label Studio file, which holds a task for each labelled photo. */
static void
test_export_label_studio (Fixture       *f,
                          gconstpointer  data)
{
  g_autofree char *json_path = g_build_filename (f->dir, "labels.json", NULL);
  g_autofree char *cwd = g_get_current_dir ();
  g_autofree char *text = NULL;
  g_autoptr(LeafLabelImportReport) report = NULL;
  g_autoptr(JsonNode) tasks = NULL;
  g_autoptr(GError) error = NULL;
  LeafLabelImportOptions create = { .create_classes = TRUE };
  GtkWindow *chooser;

  report = leaf_label_import (f->window->catalog, f->csv, &create, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (report->n_labelled, ==, 2);

  g_assert_cmpint (g_chdir (f->dir), ==, 0);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->window), "win.export", NULL));
  g_assert_true (ui_test_wait_for (message_dialog_open, NULL, 10000));
  adw_message_dialog_response (ADW_MESSAGE_DIALOG (ui_test_find_message_dialog ()),
                               "label-studio");
  g_assert_true (ui_test_wait_for (file_chooser_open, NULL, 10000));
  chooser = ui_test_find_toplevel (GTK_TYPE_FILE_CHOOSER_DIALOG);
  /* It offers labels.json in the current folder; choosing another folder in the chooser races
   * with its reading of the first. */
  g_assert_true (ui_test_wait_for (file_chosen_cb, chooser, 10000));
  gtk_dialog_response (GTK_DIALOG (chooser), GTK_RESPONSE_ACCEPT);

  g_assert_true (ui_test_wait_for (json_written_cb, json_path, 10000));
  g_assert_true (g_file_get_contents (json_path, &text, NULL, &error));
  g_assert_no_error (error);
  tasks = json_from_string (text, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (json_array_get_length (json_node_get_array (tasks)), ==, 2);
  g_assert_cmpint (g_chdir (cwd), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  ui_test_init (&argc, &argv);

  g_test_add ("/window/import-labels/from-menu", Fixture, NULL, fixture_setup,
              test_import_labels_from_menu, fixture_teardown);
  g_test_add ("/window/export-labels/label-studio", Fixture, NULL, fixture_setup,
              test_export_label_studio, fixture_teardown);
  return g_test_run ();
}
