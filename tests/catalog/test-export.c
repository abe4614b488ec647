/* test-export.c: labels out as CSV and as an ImageFolder tree
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "leaf-test.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "catalog-test-util.h"
#include "leaf-catalog.h"
#include "leaf-error.h"
#include "leaf-export.h"
#include "leaf-import.h"
#include "leaf-label-import.h"

typedef struct
{
  char *dir;
  char *photos;
  char *path;
  LeafCatalog *catalog;
} Fixture;

/* Names a spreadsheet or a careless CSV writer would get wrong. */
static const char *const tricky_names[] = {
  "healthy/plain.jpg",
  "healthy/comma, and \"quotes\".jpg",
  "blight/line\nbreak.jpg",
  "blight/ünïcode leaf.png",
  "rust spot/plain.jpg",
};

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafImportSummary) summary = NULL;
  const char *paths[2] = { NULL, NULL };

  fixture->dir = ctu_make_tmp_dir ();
  fixture->photos = g_build_filename (fixture->dir, "photos", NULL);
  fixture->path = g_build_filename (fixture->dir, "test.leafscope", NULL);
  for (guint i = 0; i < G_N_ELEMENTS (tricky_names); i++)
    {
      g_autofree char *path = g_build_filename (fixture->photos, tricky_names[i], NULL);
      ctu_write_image (path, g_str_has_suffix (path, ".png") ? "png" : "jpeg", 20 + i, 20, i);
    }
  /* One more image, unlabelled: it goes into the tree's unlabelled folder. */
  {
    g_autofree char *loose = g_build_filename (fixture->dir, "loose.jpg", NULL);
    ctu_write_image (loose, "jpeg", 16, 16, 77);
    paths[0] = loose;
    fixture->catalog = leaf_catalog_open (fixture->path, LEAF_CATALOG_OPEN_CREATE, &error);
    g_assert_no_error (error);
    summary = leaf_import_run (fixture->catalog, paths, NULL, NULL, NULL, NULL, &error);
    g_assert_no_error (error);
    g_clear_pointer (&summary, leaf_import_summary_free);
  }
  paths[0] = fixture->photos;
  summary = leaf_import_run (fixture->catalog, paths, NULL, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (summary->n_labeled, ==, G_N_ELEMENTS (tricky_names));
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_finalize_object (fixture->catalog);
  leaf_test_remove_tree (fixture->dir);
  g_free (fixture->path);
  g_free (fixture->photos);
  g_free (fixture->dir);
}

/* path → class name, from the catalog itself. */
static GHashTable *
expected_labels (Fixture *fixture)
{
  GHashTable *labels = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  for (guint i = 0; i < G_N_ELEMENTS (tricky_names); i++)
    {
      g_autofree char *class_name = g_path_get_dirname (tricky_names[i]);
      g_hash_table_insert (labels, g_build_filename (fixture->photos, tricky_names[i], NULL),
                           g_steal_pointer (&class_name));
    }
  return labels;
}

static void
test_csv (Fixture       *fixture,
          gconstpointer  data)
{
  const char *python = g_getenv ("LEAFSCOPE_PYTHON");
  g_autofree char *csv = g_build_filename (fixture->dir, "labels.csv", NULL);
  g_autoptr(GHashTable) expected = expected_labels (fixture);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) parsed = NULL;
  g_autofree char *out = NULL;
  JsonArray *rows;
  guint n_rows = 0;
  int status = 0;
  /* Python's csv module reads it back: an independent RFC 4180 reader. */
  const char *script =
    "import csv, json, sys\n"
    "with open(sys.argv[1], newline='', encoding='utf-8') as f:\n"
    "    print(json.dumps(list(csv.reader(f))))\n";

  leaf_export_csv (fixture->catalog, csv, NULL, &n_rows, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n_rows, ==, G_N_ELEMENTS (tricky_names));

  if (python == NULL || !g_file_test (python, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("LEAFSCOPE_PYTHON is not available to read the CSV back");
      return;
    }
  g_spawn_sync (NULL, (char *[]) { (char *) python, (char *) "-c", (char *) script, csv, NULL },
                NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL, &status, &error);
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  parsed = json_from_string (out, &error);
  g_assert_no_error (error);
  rows = json_node_get_array (parsed);
  g_assert_cmpuint (json_array_get_length (rows), ==, 1 + G_N_ELEMENTS (tricky_names));

  {
    JsonArray *header = json_array_get_array_element (rows, 0);
    const char *columns[] = { "sha256", "path", "class", "labeller", "time", "how" };

    g_assert_cmpuint (json_array_get_length (header), ==, G_N_ELEMENTS (columns));
    for (guint c = 0; c < G_N_ELEMENTS (columns); c++)
      g_assert_cmpstr (json_array_get_string_element (header, c), ==, columns[c]);
  }
  for (guint i = 1; i < json_array_get_length (rows); i++)
    {
      JsonArray *row = json_array_get_array_element (rows, i);
      const char *path = json_array_get_string_element (row, 1);
      g_autofree char *sha = ctu_sha256_of_file (path);
      g_autoptr(GDateTime) time =
        g_date_time_new_from_iso8601 (json_array_get_string_element (row, 4), NULL);

      g_assert_cmpstr (json_array_get_string_element (row, 0), ==, sha);
      g_assert_cmpstr (json_array_get_string_element (row, 2), ==,
                       g_hash_table_lookup (expected, path));
      g_assert_cmpstr (json_array_get_string_element (row, 3), ==, g_get_user_name ());
      g_assert_nonnull (time);
      g_assert_cmpstr (json_array_get_string_element (row, 5), ==, "folder-import");
      g_assert_true (g_hash_table_remove (expected, path));
    }
  g_assert_cmpuint (g_hash_table_size (expected), ==, 0);
}

/* Cells a spreadsheet would run as formulas (OWASP's CSV injection: = + - @ first) are written
 * as text: a single quote first, inside a quoted field. */
static void
test_csv_formulas_neutralised (Fixture       *fixture,
                               gconstpointer  data)
{
  static const char *const formulas[] = {
    "=HYPERLINK(\"evil.example\",\"open\")", "+1+1", "-2+3", "@SUM(1)",
  };
  static const char *const written[] = {
    ",\"'=HYPERLINK(\"\"evil.example\"\",\"\"open\"\")\",", ",\"'+1+1\",", ",\"'-2+3\",",
    ",\"'@SUM(1)\",",
  };
  LeafImageQuery query = { 0 };
  g_autoptr(GPtrArray) images = leaf_catalog_query_images (fixture->catalog, &query, 0, G_MAXUINT,
                                                           NULL);
  g_autofree char *csv = g_build_filename (fixture->dir, "formulas.csv", NULL);
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpuint (images->len, >=, G_N_ELEMENTS (formulas));
  for (guint i = 0; i < G_N_ELEMENTS (formulas); i++)
    {
      gint64 class_id = leaf_catalog_add_class (fixture->catalog, formulas[i], NULL, NULL, &error);
      gint64 image_id = leaf_catalog_image_get_id (images->pdata[i]);

      g_assert_no_error (error);
      g_assert_true (leaf_catalog_set_labels (fixture->catalog, &image_id, 1, class_id,
                                              LEAF_LABEL_HOW_MANUAL, &error));
      g_assert_no_error (error);
    }
  leaf_export_csv (fixture->catalog, csv, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (csv, &text, NULL, NULL));
  g_test_message ("%s", text);
  for (guint i = 0; i < G_N_ELEMENTS (written); i++)
    g_assert_nonnull (strstr (text, written[i]));
  /* No cell, quoted or not, starts with a formula character. */
  for (const char *p = text; *p != '\0'; p++)
    if (*p == ',' || *p == '\n')
      {
        const char *cell = p[1] == '"' ? p + 2 : p + 1;
        g_assert_false (*cell != '\0' && strchr ("=+-@\t\r", *cell) != NULL);
      }
}

/* The class of the photo the catalog has had longest that has a label. */
static const char *
first_labelled_class (Fixture   *fixture,
                      GPtrArray *images)
{
  g_autoptr(GPtrArray) classes = leaf_catalog_list_classes (fixture->catalog, NULL);
  gint64 class_id = 0;

  for (guint i = 0; i < images->len && class_id == 0; i++)
    class_id = leaf_catalog_image_get_class_id (images->pdata[i]);
  for (guint c = 0; c < classes->len; c++)
    if (((LeafClassInfo *) classes->pdata[c])->id == class_id)
      return g_intern_string (((LeafClassInfo *) classes->pdata[c])->name);
  g_assert_not_reached ();
}

static void
test_folder_round_trip (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autofree char *tree = g_build_filename (fixture->dir, "export", NULL);
  g_autofree char *other_path = g_build_filename (fixture->dir, "other.leafscope", NULL);
  g_autofree char *labels_csv = g_build_filename (tree, "labels.csv", NULL);
  g_autofree char *unlabelled = g_build_filename (tree, "unlabelled", "loose.jpg", NULL);
  g_autofree char *spreadsheet = g_build_filename (fixture->dir, "ana.csv", NULL);
  g_autofree char *original = NULL;
  g_autofree char *copied = NULL;
  g_autoptr(LeafExportSummary) summary = NULL;
  g_autoptr(LeafExportSummary) again = NULL;
  g_autoptr(LeafImportSummary) reimport = NULL;
  g_autoptr(LeafLabelImportReport) report = NULL;
  g_autoptr(LeafCatalog) other = NULL;
  g_autoptr(GPtrArray) classes = NULL;
  g_autoptr(GError) error = NULL;
  LeafSplitOptions split_options = { 0.6, 0.2, 0.2, 7, FALSE };
  const char *paths[] = { tree, NULL };
  gint64 first_two[2];
  LeafImageQuery all = { 0 };
  g_autoptr(GPtrArray) images = leaf_catalog_query_images (fixture->catalog, &all, 0, G_MAXUINT,
                                                           NULL);

  /* Labels by another person at another time, group keys and splits: all must come back. */
  ctu_write_bytes (spreadsheet, "path,class,labeller,time\n"
                   "photos/rust spot/plain.jpg,healthy,ana,2024-03-01T09:30:00Z\n", -1);
  report = leaf_label_import (fixture->catalog, spreadsheet, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (report->n_labelled, ==, 1);
  first_two[0] = leaf_catalog_image_get_id (images->pdata[0]);
  first_two[1] = leaf_catalog_image_get_id (images->pdata[1]);
  g_assert_true (leaf_catalog_set_group_key (fixture->catalog, first_two, 2, "plant-7", &error));
  g_assert_no_error (error);
  g_assert_true (leaf_catalog_assign_splits (fixture->catalog, &split_options, NULL, &error));
  g_assert_no_error (error);
  /* The first photo's class last: the classes' order is not the order their photos came in. */
  {
    g_autoptr(LeafClassInfo) first = leaf_catalog_find_class (
      fixture->catalog, first_labelled_class (fixture, images), &error);

    g_assert_no_error (error);
    g_assert_true (leaf_catalog_move_class (fixture->catalog, first->id, 99, &error));
    g_assert_no_error (error);
  }

  summary = leaf_export_folder (fixture->catalog, tree, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (summary->n_exported, ==, G_N_ELEMENTS (tricky_names));
  g_assert_cmpuint (summary->n_unlabelled, ==, 1);
  g_assert_cmpuint (summary->n_linked, ==, G_N_ELEMENTS (tricky_names) + 1);
  g_assert_cmpuint (summary->missing->len, ==, 0);
  g_assert_true (g_file_test (labels_csv, G_FILE_TEST_IS_REGULAR));
  g_assert_true (g_file_test (unlabelled, G_FILE_TEST_IS_REGULAR));

  /* Hard links: the same inode as the photo. */
  for (guint i = 0; i < G_N_ELEMENTS (tricky_names); i++)
    {
      g_autofree char *source = g_build_filename (fixture->photos, tricky_names[i], NULL);
      g_autofree char *class_name = g_path_get_dirname (tricky_names[i]);
      g_autofree char *name = g_path_get_basename (tricky_names[i]);
      /* rust spot/plain.jpg is healthy now, beside healthy/plain.jpg: its name gets the hash. */
      g_autofree char *dest = g_build_filename (tree, tricky_names[i], NULL);
      GStatBuf a, b;

      if (g_str_equal (class_name, "rust spot"))
        continue;
      g_assert_cmpint (g_stat (source, &a), ==, 0);
      g_assert_cmpint (g_stat (dest, &b), ==, 0);
      g_assert_cmpuint (a.st_ino, ==, b.st_ino);
    }

  /* A tree that is not empty is not written into. */
  again = leaf_export_folder (fixture->catalog, tree, NULL, &error);
  g_assert_null (again);
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID);
  g_clear_error (&error);

  /* Importing the tree into a new catalog gives the same catalog: classes, labels with who,
   * when and how, group keys, splits, and the unlabelled photo, which makes no class. */
  other = leaf_catalog_open (other_path, LEAF_CATALOG_OPEN_CREATE, &error);
  g_assert_no_error (error);
  reimport = leaf_import_run (other, paths, NULL, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (reimport->n_added, ==, G_N_ELEMENTS (tricky_names) + 1);
  g_assert_cmpuint (reimport->skipped->len, ==, 0);
  /* The classes that have photos come back, in their order. */
  classes = leaf_catalog_list_classes (other, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (classes->len, ==, 2);
  {
    g_autoptr(GPtrArray) before = leaf_catalog_list_classes (fixture->catalog, &error);
    guint k = 0;

    g_assert_no_error (error);
    for (guint c = 0; c < before->len; c++)
      if (((LeafClassInfo *) before->pdata[c])->n_images > 0)
        g_assert_cmpstr (((LeafClassInfo *) classes->pdata[k++])->name, ==,
                         ((LeafClassInfo *) before->pdata[c])->name);
    g_assert_cmpuint (k, ==, 2);
  }
  original = ctu_catalog_state (fixture->path);
  copied = ctu_catalog_state (other_path);
  g_test_message ("%s", original);
  g_assert_nonnull (strstr (original, " ana 2024-03-01T09:30:00.000000Z manual "));
  g_assert_nonnull (strstr (original, " plant-7 "));
  g_assert_cmpstr (copied, ==, original);
}

static void
test_folder_copies_and_missing (Fixture       *fixture,
                                gconstpointer  data)
{
  g_autofree char *shm_dir = NULL;
  g_autofree char *gone = g_build_filename (fixture->photos, tricky_names[0], NULL);
  g_autoptr(LeafExportSummary) summary = NULL;
  g_autoptr(GError) error = NULL;
  GStatBuf tmp_st, shm_st;

  g_assert_cmpint (g_unlink (gone), ==, 0);
  /* /dev/shm is another file system on most systems: links fail there, copies must not. */
  if (g_stat ("/dev/shm", &shm_st) != 0 || g_stat (fixture->dir, &tmp_st) != 0 ||
      shm_st.st_dev == tmp_st.st_dev || g_access ("/dev/shm", W_OK) != 0)
    {
      g_test_skip ("no second writable file system at /dev/shm");
      return;
    }
  shm_dir = g_build_filename ("/dev/shm", "leafscope-export-XXXXXX", NULL);
  g_assert_nonnull (g_mkdtemp (shm_dir));
  g_rmdir (shm_dir);

  summary = leaf_export_folder (fixture->catalog, shm_dir, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (summary->n_exported, ==, G_N_ELEMENTS (tricky_names) - 1);
  g_assert_cmpuint (summary->n_unlabelled, ==, 1);
  g_assert_cmpuint (summary->n_copied, ==, G_N_ELEMENTS (tricky_names));
  g_assert_cmpuint (summary->n_linked, ==, 0);
  g_assert_cmpuint (summary->missing->len, ==, 1);
  g_assert_cmpstr (summary->missing->pdata[0], ==, gone);
  for (guint i = 1; i < G_N_ELEMENTS (tricky_names); i++)
    {
      g_autofree char *source = g_build_filename (fixture->photos, tricky_names[i], NULL);
      g_autofree char *dest = g_build_filename (shm_dir, tricky_names[i], NULL);
      g_autofree char *a = ctu_sha256_of_file (source);
      g_autofree char *b = ctu_sha256_of_file (dest);

      g_assert_cmpstr (a, ==, b);
    }
  leaf_test_remove_tree (shm_dir);
}

int
main (int   argc,
      char *argv[])
{
  leaf_test_init (&argc, &argv);

  g_test_add ("/catalog/export/csv-read-back-by-python", Fixture, NULL, fixture_set_up, test_csv,
              fixture_tear_down);
  g_test_add ("/catalog/export/csv-formulas-neutralised", Fixture, NULL, fixture_set_up,
              test_csv_formulas_neutralised, fixture_tear_down);
  g_test_add ("/catalog/export/folder-hard-links-round-trip", Fixture, NULL, fixture_set_up,
              test_folder_round_trip, fixture_tear_down);
  g_test_add ("/catalog/export/folder-copies-and-missing", Fixture, NULL, fixture_set_up,
              test_folder_copies_and_missing, fixture_tear_down);

  return g_test_run ();
}
