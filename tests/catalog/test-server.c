/* test-server.c: catalogs on a PostgreSQL server: roles that may only read, and a server that
 * stops in the middle of a labelling burst
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "leaf-test.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

#include "catalog-test-util.h"
#include "leaf-catalog.h"
#include "leaf-catalog-private.h"
#include "leaf-catalog-models.h"
#include "leaf-error.h"
#include "leaf-export.h"
#include "leaf-import.h"
#include "leaf-test-pg.h"

static LeafTestPg *server;

/* An empty database for a catalog, as the README says to make one; its location. */
static char *
make_database (const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *create = g_strdup_printf ("CREATE DATABASE %s TEMPLATE template0 "
                                             "LC_COLLATE 'C' LC_CTYPE 'C.UTF-8'", name);

  g_assert_true (leaf_test_pg_exec (server, "postgres", create, &error));
  g_assert_no_error (error);
  return leaf_test_pg_uri (server, name, NULL);
}

/* A catalog with photos 1-6 and the classes healthy and blight, on a database of its own. */
static char *
make_catalog (const char *name)
{
  g_autoptr(GError) error = NULL;
  char *location = make_database (name);
  g_autoptr(LeafCatalog) catalog = NULL;

  catalog = leaf_catalog_open (location, LEAF_CATALOG_OPEN_CREATE, &error);
  g_assert_no_error (error);
  ctu_insert_images (location, 1, 6);
  leaf_catalog_add_class (catalog, "healthy", NULL, NULL, &error);
  g_assert_no_error (error);
  leaf_catalog_add_class (catalog, "blight", NULL, NULL, &error);
  g_assert_no_error (error);
  return location;
}

/* A role granted only SELECT browses the catalog, and every change it tries is refused with a
 * message that says why, leaving the catalog as it was. */
static void
test_read_only_role (void)
{
  g_autofree char *location = make_catalog ("readonly");
  g_autofree char *reader_location = leaf_test_pg_uri (server, "readonly", "reader");
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(GPtrArray) classes = NULL;
  LeafImageQuery all = { 0 };
  guint n = 0;
  gint64 photo = 1;

  g_assert_true (leaf_test_pg_exec (server, "readonly",
                                    "CREATE ROLE reader LOGIN;"
                                    "GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader",
                                    &error));
  g_assert_no_error (error);

  catalog = leaf_catalog_open (reader_location, LEAF_CATALOG_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  g_assert_true (leaf_catalog_count_images (catalog, &all, &n, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, 6);
  classes = leaf_catalog_list_classes (catalog, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (classes->len, ==, 2);

  g_assert_false (leaf_catalog_set_labels (catalog, &photo, 1,
                                           ((LeafClassInfo *) classes->pdata[0])->id,
                                           LEAF_LABEL_HOW_MANUAL, &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "may only be read"));
  g_clear_error (&error);
  g_assert_cmpint (leaf_catalog_add_class (catalog, "rust", NULL, NULL, &error), <=, 0);
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO);
  g_clear_error (&error);

  g_assert_cmpint (ctu_query_int (location, "SELECT count(*) FROM votes"), ==, 0);
  g_assert_cmpint (ctu_query_int (location, "SELECT count(*) FROM classes"), ==, 2);
}

/* On a server a vote is, unless told otherwise, the vote of the role that cast it: the name a
 * person has wherever they label from. */
static void
test_labeller_is_role (void)
{
  g_autofree char *location = make_catalog ("roles");
  g_autofree char *ana_location = leaf_test_pg_uri (server, "roles", "ana");
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(GPtrArray) classes = NULL;
  g_autofree char *labeller = NULL;
  gint64 photo = 1;

  g_assert_true (leaf_test_pg_exec (server, "roles",
                                    "DO $$ BEGIN CREATE ROLE ana LOGIN; EXCEPTION WHEN "
                                    "duplicate_object THEN NULL; END $$;"
                                    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN "
                                    "SCHEMA public TO ana;"
                                    "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ana",
                                    &error));
  g_assert_no_error (error);
  catalog = leaf_catalog_open (ana_location, LEAF_CATALOG_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  labeller = leaf_catalog_dup_labeller (catalog);
  g_assert_cmpstr (labeller, ==, "ana");
  classes = leaf_catalog_list_classes (catalog, &error);
  g_assert_no_error (error);
  g_assert_true (leaf_catalog_set_labels (catalog, &photo, 1,
                                          ((LeafClassInfo *) classes->pdata[0])->id,
                                          LEAF_LABEL_HOW_MANUAL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (ctu_query_int (location, "SELECT count(*) FROM votes WHERE labeller = 'ana'"),
                   ==, 1);

  /* A name set in Preferences wins; clearing it gives the role back. */
  leaf_catalog_set_labeller (catalog, "dee");
  g_clear_pointer (&labeller, g_free);
  labeller = leaf_catalog_dup_labeller (catalog);
  g_assert_cmpstr (labeller, ==, "dee");
  leaf_catalog_set_labeller (catalog, NULL);
  g_clear_pointer (&labeller, g_free);
  labeller = leaf_catalog_dup_labeller (catalog);
  g_assert_cmpstr (labeller, ==, "ana");
}

/* A run's record ends as on a file: the count of rows a change touched is the change's own,
 * whatever the commit after it said. */
static void
test_run_ends (void)
{
  g_autofree char *location = make_catalog ("runs");
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = leaf_catalog_open (location, LEAF_CATALOG_OPEN_DEFAULT, &error);
  gint64 run;

  g_assert_no_error (error);
  run = leaf_catalog_begin_run (catalog, "{}", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (run, >, 0);
  g_assert_true (leaf_catalog_end_run (catalog, run, LEAF_RUN_COMPLETED, NULL, &error));
  g_assert_no_error (error);
  /* A second end finds no running run. */
  g_assert_false (leaf_catalog_end_run (catalog, run, LEAF_RUN_FAILED, NULL, &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND);
}

/* Every row of a table of a catalog file, in order, as text. */
static char *
dump_table (const char *location,
            const char *table)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafDb) db = _leaf_db_open (location, FALSE, LEAF_DB_WORKER, &error);
  g_autofree char *sql = g_strdup_printf ("SELECT %s FROM %s ORDER BY 1, 2",
                                          _leaf_db_copied_columns (table), table);
  g_autoptr(LeafStmt) stmt = NULL;
  GString *dump = g_string_new (NULL);
  guint n_columns = 1;

  g_assert_no_error (error);
  for (const char *p = _leaf_db_copied_columns (table); *p != '\0'; p++)
    n_columns += *p == ',';
  stmt = _leaf_db_prepare (db, sql, &error);
  g_assert_no_error (error);
  while (_leaf_step (stmt) == LEAF_STEP_ROW)
    {
      for (guint c = 0; c < n_columns; c++)
        g_string_append_printf (dump, "%s|", _leaf_column_text (stmt, c));
      g_string_append_c (dump, '\n');
    }
  return g_string_free (dump, FALSE);
}

static void
vote (LeafCatalog *catalog,
      const char  *labeller,
      gint64       image_id,
      const char  *class_name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) classes = leaf_catalog_list_classes (catalog, &error);
  gint64 class_id = 0;

  g_assert_no_error (error);
  for (guint i = 0; i < classes->len; i++)
    if (g_str_equal (((LeafClassInfo *) classes->pdata[i])->name, class_name))
      class_id = ((LeafClassInfo *) classes->pdata[i])->id;
  leaf_catalog_set_labeller (catalog, labeller);
  g_assert_true (leaf_catalog_set_labels (catalog, &image_id, 1, class_id, LEAF_LABEL_HOW_MANUAL,
                                          &error));
  g_assert_no_error (error);
}

/* A catalog file copied to a server and back is the same, row for row, in every table of its
 * schema: votes, a decision, undo history, splits, a run and its metrics. */
static void
test_copy_round_trip (void)
{
  g_autofree char *dir = ctu_make_tmp_dir ();
  g_autofree char *file = g_build_filename (dir, "lab.leafscope", NULL);
  g_autofree char *back = g_build_filename (dir, "back.leafscope", NULL);
  g_autofree char *location = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = leaf_catalog_open (file, LEAF_CATALOG_OPEN_CREATE, &error);
  LeafSplitOptions splits = { 0.5, 0.5, 0.0, 7, FALSE };
  LeafMetric metrics[] = { { 1, "loss", 0.25 }, { 2, "loss", 0.125 } };
  gint64 photo = 3, run;
  guint n_images = 0, n_assigned = 0;
  sqlite3 *db;
  sqlite3_stmt *stmt;

  g_assert_no_error (error);
  ctu_insert_images (file, 1, 6);
  leaf_catalog_add_class (catalog, "healthy", NULL, NULL, &error);
  g_assert_no_error (error);
  leaf_catalog_add_class (catalog, "blight", NULL, NULL, &error);
  g_assert_no_error (error);
  for (gint64 i = 1; i <= 6; i++)
    vote (catalog, "ana", i, i % 2 ? "healthy" : "blight");
  vote (catalog, "bo", 3, "blight");
  leaf_catalog_set_labeller (catalog, "dee");
  g_assert_true (leaf_catalog_adjudicate (catalog, &photo, 1, 1, &error));
  g_assert_no_error (error);
  leaf_catalog_set_labeller (catalog, "ana");
  g_assert_true (leaf_catalog_undo (catalog, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (leaf_catalog_assign_splits (catalog, &splits, &n_assigned, &error));
  g_assert_no_error (error);
  run = leaf_catalog_begin_run (catalog, "{\"epochs\": 2}", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (leaf_catalog_add_metrics (catalog, run, LEAF_METRIC_EPOCH, metrics,
                                           G_N_ELEMENTS (metrics), &error));
  g_assert_true (leaf_catalog_end_run (catalog, run, LEAF_RUN_COMPLETED, NULL, &error));
  g_assert_no_error (error);
  g_clear_object (&catalog);

  location = make_database ("copy");
  g_assert_true (leaf_catalog_copy (file, location, &n_images, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n_images, ==, 6);
  /* Into a catalog that holds photos, a copy would overwrite: refused. */
  g_assert_false (leaf_catalog_copy (file, location, NULL, NULL, &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_true (leaf_catalog_copy (location, back, &n_images, NULL, &error));
  g_assert_no_error (error);

  /* Every table of the schema is copied, with every column. */
  db = ctu_sql_open (file);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT name FROM sqlite_schema WHERE type = 'table' "
                                       "AND name NOT LIKE 'sqlite_%'", -1, &stmt, NULL),
                   ==, SQLITE_OK);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    {
      const char *table = (const char *) sqlite3_column_text (stmt, 0);
      g_autofree char *count = g_strdup_printf ("SELECT count (*) FROM pragma_table_info ('%s')",
                                                table);
      g_autofree char *before = NULL;
      g_autofree char *after = NULL;
      guint n_copied = 1;

      g_test_message ("%s", table);
      g_assert_nonnull (_leaf_db_copied_columns (table));
      for (const char *p = _leaf_db_copied_columns (table); *p != '\0'; p++)
        n_copied += *p == ',';
      g_assert_cmpint (ctu_sql_int (db, count), ==, n_copied);
      before = dump_table (file, table);
      after = dump_table (back, table);
      g_assert_cmpstr (before, ==, after);
    }
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  g_assert_cmpint (ctu_query_int (location, "SELECT count (*) FROM metrics"), ==, 2);
  g_assert_cmpint (ctu_query_int (location, "SELECT count (*) FROM adjudications"), ==, 1);
  leaf_test_remove_tree (dir);
}

/* A laptop's catalog file from the field merges into the lab's server catalog: its votes join,
 * a disagreement waits for a decision, and merging again changes nothing. The other way, the
 * server's catalog merges into a file. */
static void
test_merge_into_server (void)
{
  g_autofree char *lab = make_catalog ("lab");
  g_autofree char *dir = ctu_make_tmp_dir ();
  g_autofree char *laptop_path = g_build_filename (dir, "laptop.leafscope", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = leaf_catalog_open (lab, LEAF_CATALOG_OPEN_DEFAULT, &error);
  g_autoptr(LeafCatalog) laptop = NULL;
  LeafMergeSummary summary;

  g_assert_no_error (error);
  vote (catalog, "ana", 1, "healthy");
  laptop = leaf_catalog_open (laptop_path, LEAF_CATALOG_OPEN_CREATE, &error);
  g_assert_no_error (error);
  ctu_insert_images (laptop_path, 1, 2);
  ctu_insert_images (laptop_path, 50, 1);
  leaf_catalog_add_class (laptop, "healthy", NULL, NULL, &error);
  g_assert_no_error (error);
  leaf_catalog_add_class (laptop, "blight", NULL, NULL, &error);
  g_assert_no_error (error);
  vote (laptop, "bo", 1, "blight");
  vote (laptop, "bo", 50, "healthy");
  g_clear_object (&laptop);

  g_assert_true (leaf_catalog_merge (catalog, laptop_path, &summary, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (summary.n_images_added, ==, 1);
  g_assert_cmpuint (summary.n_votes_added, ==, 2);
  g_assert_cmpuint (summary.n_disputed, ==, 1);
  g_assert_cmpint (ctu_query_int (lab, "SELECT count (*) FROM images"), ==, 7);
  g_assert_cmpint (ctu_query_int (lab, "SELECT count (*) FROM votes"), ==, 3);

  g_assert_true (leaf_catalog_merge (catalog, laptop_path, &summary, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (summary.n_images_added + summary.n_votes_added + summary.n_votes_updated,
                    ==, 0);
  g_assert_cmpint (ctu_query_int (lab, "SELECT count (*) FROM votes"), ==, 3);
  /* Nothing of the other catalog stays behind on the server. */
  g_assert_cmpint (ctu_query_int (lab, "SELECT count (*) FROM pg_namespace "
                                  "WHERE nspname = 'src'"), ==, 0);

  laptop = leaf_catalog_open (laptop_path, LEAF_CATALOG_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  g_assert_true (leaf_catalog_merge (laptop, lab, &summary, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (summary.n_images_added, ==, 4);
  g_assert_cmpuint (summary.n_votes_added, ==, 1);
  g_assert_cmpint (ctu_query_int (laptop_path, "SELECT count (*) FROM votes"), ==, 3);
  leaf_test_remove_tree (dir);
}

/* A member on another machine, without the folders photos and models came from, sees each
 * photo and uses each model: the server holds their bytes, fetched once into a local folder.
 * A copy of the catalog as a file takes them along. */
static void
test_contents_travel (void)
{
  g_autofree char *dir = ctu_make_tmp_dir ();
  g_autofree char *photos = g_build_filename (dir, "photos", NULL);
  g_autofree char *model_path = g_build_filename (dir, "run-1.safetensors", NULL);
  g_autofree char *model_sha = NULL;
  g_autofree char *copy = g_build_filename (dir, "copy.leafscope", NULL);
  g_autofree char *location = make_database ("travel");
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(LeafImportSummary) summary = NULL;
  g_autoptr(GPtrArray) images = NULL;
  g_autoptr(LeafModelInfo) model = NULL;
  g_autofree char *managed = NULL;
  g_autofree char *export_dir = g_build_filename (dir, "export", NULL);
  g_autoptr(LeafExportSummary) exported = NULL;
  const char *classes[] = { "healthy", "blight", NULL };
  guint n_missing = 1, n_images = 0, n_unreachable = 1;
  gint64 model_id;

  g_assert_cmpint (g_mkdir_with_parents (photos, 0755), ==, 0);
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *name = g_strdup_printf ("leaf-%u.jpg", i);
      g_autofree char *path = g_build_filename (photos, name, NULL);

      ctu_write_image (path, "jpeg", 40 + i, 30, i);
    }
  catalog = leaf_catalog_open (location, LEAF_CATALOG_OPEN_CREATE, &error);
  g_assert_no_error (error);
  summary = leaf_import_run (catalog, (const char *[]) { photos, NULL }, NULL, NULL, NULL, NULL,
                             &error);
  g_assert_no_error (error);
  g_assert_cmpuint (summary->n_added, ==, 3);
  g_assert_cmpint (ctu_query_int (location, "SELECT count (*) FROM contents"), ==, 3);
  ctu_write_bytes (model_path, "not really a model", 18);
  model_sha = ctu_sha256_of_file (model_path);
  model_id = leaf_catalog_add_model (catalog, 0, model_path, model_sha, classes, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ctu_query_int (location, "SELECT count (*) FROM contents"), ==, 4);

  /* The other machine: none of those files. */
  leaf_test_remove_tree (photos);
  g_assert_cmpint (g_unlink (model_path), ==, 0);
  g_clear_object (&catalog);
  catalog = leaf_catalog_open (location, LEAF_CATALOG_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  managed = leaf_catalog_get_managed_dir (catalog);
  images = leaf_catalog_query_images (catalog, NULL, 0, G_MAXUINT, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (images->len, ==, 3);
  for (guint i = 0; i < images->len; i++)
    {
      LeafCatalogImage *image = images->pdata[i];
      g_autofree char *fetched_sha = NULL;

      /* Listing fetches nothing; reading the photo fetches it. */
      g_assert_true (g_str_has_prefix (leaf_catalog_image_peek_path (image), managed));
      g_assert_false (g_file_test (leaf_catalog_image_peek_path (image), G_FILE_TEST_EXISTS));
      g_assert_true (g_file_test (leaf_catalog_image_get_path (image), G_FILE_TEST_IS_REGULAR));
      fetched_sha = ctu_sha256_of_file (leaf_catalog_image_get_path (image));
      g_assert_cmpstr (fetched_sha, ==, leaf_catalog_image_get_sha256 (image));
    }
  /* An export writes them out, fetching what this machine has not kept. */
  leaf_test_remove_tree (managed);
  exported = leaf_export_folder (catalog, export_dir, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (exported->missing->len, ==, 0);
  g_assert_cmpuint (exported->n_unlabelled, ==, 3);

  /* Held photos are not missing for anyone, wherever their files went. */
  g_assert_true (leaf_catalog_check_missing (catalog, NULL, &n_missing, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n_missing, ==, 0);

  model = leaf_catalog_get_model (catalog, model_id, &error);
  g_assert_no_error (error);
  g_assert_true (model->held);
  g_assert_cmpstr (model->path, !=, model_path);
  {
    g_autofree char *fetched_sha = ctu_sha256_of_file (model->path);

    g_assert_cmpstr (fetched_sha, ==, model_sha);
  }

  /* A file copy for the field holds them too, and reads them from its own folder. */
  g_assert_true (leaf_catalog_copy (location, copy, &n_images, &n_unreachable, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n_images, ==, 3);
  g_assert_cmpuint (n_unreachable, ==, 0);
  g_assert_cmpint (ctu_query_int (copy, "SELECT count (*) FROM contents"), ==, 4);
  g_clear_object (&catalog);
  g_clear_pointer (&images, g_ptr_array_unref);
  g_clear_pointer (&managed, g_free);
  catalog = leaf_catalog_open (copy, LEAF_CATALOG_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  managed = leaf_catalog_get_managed_dir (catalog);
  images = leaf_catalog_query_images (catalog, NULL, 0, G_MAXUINT, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < images->len; i++)
    {
      const char *path = leaf_catalog_image_get_path (images->pdata[i]);

      g_assert_true (g_str_has_prefix (path, managed));
      g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
    }
  leaf_test_remove_tree (dir);
}

/* Whoever may write a server's catalog can change its rows by hand: a photo's format that
 * climbs out of the folder does not take the fetched copy with it. */
static void
test_hostile_format (void)
{
  g_autofree char *dir = ctu_make_tmp_dir ();
  g_autofree char *photo = g_build_filename (dir, "leaf.jpg", NULL);
  g_autofree char *location = make_database ("hostile");
  g_autofree char *managed = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(LeafImportSummary) summary = NULL;
  g_autoptr(GPtrArray) images = NULL;
  const char *path;

  ctu_write_image (photo, "jpeg", 32, 32, 7);
  catalog = leaf_catalog_open (location, LEAF_CATALOG_OPEN_CREATE, &error);
  g_assert_no_error (error);
  summary = leaf_import_run (catalog, (const char *[]) { photo, NULL }, NULL, NULL, NULL, NULL,
                             &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_unlink (photo), ==, 0);
  g_assert_true (leaf_test_pg_exec (server, "hostile",
                                    "UPDATE images SET format = 'x/../../../../../escaped'",
                                    &error));
  g_assert_no_error (error);

  managed = leaf_catalog_get_managed_dir (catalog);
  images = leaf_catalog_query_images (catalog, NULL, 0, G_MAXUINT, &error);
  g_assert_no_error (error);
  path = leaf_catalog_image_get_path (images->pdata[0]);
  g_assert_true (g_str_has_prefix (path, managed));
  g_assert_null (strstr (path, ".."));
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
  leaf_test_remove_tree (dir);
}

/* A server's catalog made by the previous version gets the table for contents when a role that
 * may change it opens it. */
static void
test_migrates (void)
{
  g_autofree char *location = make_catalog ("older");
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;

  g_assert_true (leaf_test_pg_exec (server, "older", "DROP TABLE contents; "
                                    "UPDATE catalog_header SET user_version = 6", &error));
  g_assert_no_error (error);
  catalog = leaf_catalog_open (location, LEAF_CATALOG_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ctu_query_int (location, "SELECT user_version FROM catalog_header"), ==,
                   LEAF_CATALOG_SCHEMA_VERSION);
  g_assert_cmpint (ctu_query_int (location, "SELECT count (*) FROM contents"), ==, 0);
  g_assert_cmpint (ctu_query_int (location, "SELECT count (*) FROM images"), ==, 6);
}

static void
count_cb (LeafCatalog *catalog,
          GArray      *image_ids,
          guint       *n_changes)
{
  *n_changes += 1;
}

static gboolean
give_up_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Watches the catalog, looking by itself every interval_ms, and counts its announcements of
 * labels. */
static void
watch_labels (LeafCatalog *catalog,
              guint        interval_ms,
              guint       *n_changes)
{
  _leaf_catalog_set_watch_interval (catalog, interval_ms);
  leaf_catalog_watch (catalog);
  g_signal_connect (catalog, "labels-changed", G_CALLBACK (count_cb), n_changes);
}

/* Runs the main loop until the watch announced something; a minute is for a machine under
 * load. */
static void
wait_for_announcement (guint *n_changes)
{
  gboolean gave_up = FALSE;
  guint give_up = g_timeout_add_seconds (60, give_up_cb, &gave_up);

  while (*n_changes == 0 && !gave_up)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (gave_up);
  g_source_remove (give_up);
}

/* A window watching a server's catalog hears of another program's label when the server says
 * so, not at its next look: here it would look once an hour. */
static void
test_notified_at_once (void)
{
  g_autofree char *location = make_catalog ("notified");
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) watching = leaf_catalog_open (location, LEAF_CATALOG_OPEN_DEFAULT,
                                                       &error);
  g_autoptr(LeafCatalog) other = NULL;
  guint n_changes = 0;

  g_assert_no_error (error);
  watch_labels (watching, 3600 * 1000, &n_changes);
  other = leaf_catalog_open (location, LEAF_CATALOG_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  vote (other, "bo", 2, "blight");

  /* Without notifications it would be an hour. */
  wait_for_announcement (&n_changes);
  g_assert_cmpuint (n_changes, ==, 1);
}

/* A window left open while the server restarts goes on working: the first thing it does after
 * the restart reaches the server again, on a new connection, and what others did meanwhile is
 * noticed. */
static void
test_reconnects (void)
{
  g_autofree char *location = make_catalog ("restart");
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = leaf_catalog_open (location, LEAF_CATALOG_OPEN_DEFAULT,
                                                      &error);
  guint n_images = 0;
  LeafImageQuery all = { 0 };

  g_assert_no_error (error);
  vote (catalog, "ana", 1, "healthy");
  g_assert_true (leaf_test_pg_stop (server, TRUE, &error));
  g_assert_no_error (error);
  g_assert_true (leaf_test_pg_restart_after_stop (server, &error));
  g_assert_no_error (error);

  /* A read, then (after another restart) a change: each the first thing on a lost connection. */
  g_assert_true (leaf_catalog_count_images (catalog, &all, &n_images, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n_images, ==, 6);
  g_assert_true (leaf_test_pg_stop (server, TRUE, &error));
  g_assert_no_error (error);
  g_assert_true (leaf_test_pg_restart_after_stop (server, &error));
  g_assert_no_error (error);
  vote (catalog, "ana", 2, "blight");
  g_assert_cmpint (ctu_query_int (location, "SELECT count(*) FROM votes"), ==, 2);
}

/* A window left open on a server's catalog while the server restarts shows, without anyone
 * doing anything in it, what another program labels afterwards: its watch connects again. */
static void
test_watch_reconnects (void)
{
  g_autofree char *location = make_catalog ("rewatch");
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) watching = leaf_catalog_open (location, LEAF_CATALOG_OPEN_DEFAULT,
                                                       &error);
  g_autoptr(LeafCatalog) other = NULL;
  guint n_changes = 0;

  g_assert_no_error (error);
  watch_labels (watching, 100, &n_changes);
  g_assert_true (leaf_test_pg_stop (server, TRUE, &error));
  g_assert_no_error (error);
  g_assert_true (leaf_test_pg_restart_after_stop (server, &error));
  g_assert_no_error (error);
  other = leaf_catalog_open (location, LEAF_CATALOG_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  vote (other, "bo", 2, "blight");

  wait_for_announcement (&n_changes);
}

static gpointer
write_all_cb (gpointer data)
{
  GSubprocess *process = data;
  GString *lines = g_string_new (NULL);

  /* Every line its own action, relabelling the six photos again and again. */
  for (guint i = 0; i < 3000; i++)
    g_string_append_printf (lines, "%064x\t%s\n", i % 6 + 1,
                            i / 6 % 2 == 0 ? "blight" : "healthy");
  g_output_stream_write_all (g_subprocess_get_stdin_pipe (process), lines->str, lines->len, NULL,
                             NULL, NULL);
  g_output_stream_close (g_subprocess_get_stdin_pipe (process), NULL, NULL);
  g_string_free (lines, TRUE);
  return NULL;
}

/* Reads a labeller's error output while it runs, so that the pipe never fills. */
static gpointer
read_all_cb (gpointer data)
{
  g_autoptr(GOutputStream) memory = g_memory_output_stream_new_resizable ();

  g_output_stream_splice (memory, data, G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET, NULL, NULL);
  g_output_stream_write_all (memory, "", 1, NULL, NULL, NULL);
  return g_memory_output_stream_steal_data (G_MEMORY_OUTPUT_STREAM (memory));
}

/* The server stops as a crash would while a labeller's labels stream in: every label the
 * labeller was told is saved is there when the server is back (at most one more: saved, but the
 * answer was lost with the connection), and the rest fail with a message naming the server. */
static void
test_stopped_mid_burst (void)
{
  g_autofree char *location = make_catalog ("burst");
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  GThread *writer;
  GThread *reader;
  guint acknowledged = 0;
  gint64 saved;
  char *line;

  if (ctu_cli_path () == NULL)
    {
      g_test_skip ("LEAFSCOPE_CLI is not set");
      return;
    }
  launcher = ctu_cli_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                   G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                   G_SUBPROCESS_FLAGS_STDERR_PIPE);
  process = g_subprocess_launcher_spawn (launcher, &error, ctu_cli_path (), "--catalog",
                                         location, "--labeller", "ana", "label", "--stdin", NULL);
  g_assert_no_error (error);
  writer = g_thread_new ("writer", write_all_cb, process);
  reader = g_thread_new ("reader", read_all_cb, g_subprocess_get_stderr_pipe (process));
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (process));

  while ((line = g_data_input_stream_read_line (out, NULL, NULL, &error)) != NULL)
    {
      acknowledged += g_str_has_prefix (line, "labeled ");
      g_free (line);
      if (acknowledged == 100)
        {
          g_assert_true (leaf_test_pg_stop (server, TRUE, &error));
          g_assert_no_error (error);
        }
    }
  g_assert_no_error (error);
  g_thread_join (writer);
  g_assert_true (g_subprocess_wait (process, NULL, &error));
  g_assert_no_error (error);
  err = g_thread_join (reader);
  g_assert_nonnull (strstr (err, "Lost the connection to the catalog server"));
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 1);
  g_assert_cmpuint (acknowledged, >=, 100);
  g_assert_cmpuint (acknowledged, <, 3000);

  g_assert_true (leaf_test_pg_restart_after_stop (server, &error));
  g_assert_no_error (error);
  saved = ctu_query_int (location, "SELECT count(*) FROM label_actions");
  g_test_message ("acknowledged %u, saved %" G_GINT64_FORMAT, acknowledged, saved);
  g_assert_cmpint (saved, >=, acknowledged);
  g_assert_cmpint (saved, <=, acknowledged + 1);

  /* The catalog works as before. */
  catalog = leaf_catalog_open (location, LEAF_CATALOG_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
}

int
main (int   argc,
      char *argv[])
{
  int status;

  leaf_test_init (&argc, &argv);
  /* A labeller's input pipe may be closed when the test writes to it. */
  signal (SIGPIPE, SIG_IGN);

  if ((server = leaf_test_pg_start_or_skip ("/server")) != NULL)
    {
      g_test_add_func ("/server/read-only-role", test_read_only_role);
      g_test_add_func ("/server/stopped-mid-burst", test_stopped_mid_burst);
      g_test_add_func ("/server/run-ends", test_run_ends);
      g_test_add_func ("/server/labeller-is-role", test_labeller_is_role);
      g_test_add_func ("/server/notified-at-once", test_notified_at_once);
      g_test_add_func ("/server/copy-round-trip", test_copy_round_trip);
      g_test_add_func ("/server/merge-into-server", test_merge_into_server);
      g_test_add_func ("/server/contents-travel", test_contents_travel);
      g_test_add_func ("/server/migrates", test_migrates);
      g_test_add_func ("/server/hostile-format", test_hostile_format);
      g_test_add_func ("/server/reconnects", test_reconnects);
      g_test_add_func ("/server/watch-reconnects", test_watch_reconnects);
    }
  status = g_test_run ();
  g_clear_pointer (&server, leaf_test_pg_free);
  return status;
}
