/* test-catalog.c: the catalog's schema, classes, labels, history, queries, splits and runs
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "leaf-test.h"

#include <glib/gstdio.h>
#include <math.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "catalog-test-util.h"
#include "leaf-catalog-private.h"
#include "leaf-error.h"

typedef struct
{
  char *dir;
  char *path;
  LeafCatalog *catalog;
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  fixture->dir = ctu_make_tmp_dir ();
  fixture->path = g_build_filename (fixture->dir, "test.leafscope", NULL);
  fixture->catalog = leaf_catalog_open (fixture->path, LEAF_CATALOG_OPEN_CREATE, &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  /* Signals emitted from workers may still hold references until the context runs. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_finalize_object (fixture->catalog);
  leaf_test_remove_tree (fixture->dir);
  g_free (fixture->path);
  g_free (fixture->dir);
}

static void
reopen (Fixture *fixture)
{
  g_autoptr(GError) error = NULL;

  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_finalize_object (fixture->catalog);
  fixture->catalog = leaf_catalog_open (fixture->path, LEAF_CATALOG_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
}

static gint64
class_of (LeafCatalog *catalog,
          gint64       image_id)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalogImage) image = leaf_catalog_get_image (catalog, image_id, &error);

  g_assert_no_error (error);
  return leaf_catalog_image_get_class_id (image);
}

static gint64
add_class (LeafCatalog *catalog,
           const char  *name)
{
  g_autoptr(GError) error = NULL;
  gint64 id = leaf_catalog_add_class (catalog, name, NULL, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpint (id, >, 0);
  return id;
}

static void
label (LeafCatalog  *catalog,
       gint64        image_id,
       gint64        class_id,
       LeafLabelHow  how)
{
  g_autoptr(GError) error = NULL;

  leaf_catalog_set_labels (catalog, &image_id, 1, class_id, how, &error);
  g_assert_no_error (error);
}

/* ---- Opening ---- */

static void
test_open_creates (Fixture       *fixture,
                   gconstpointer  data)
{
  sqlite3 *db = ctu_sql_open (fixture->path);
  g_autofree char *mode = ctu_sql_text (db, "PRAGMA journal_mode");
  g_autofree char *default_path = leaf_catalog_get_default_path ();
  g_autofree char *managed = leaf_catalog_get_managed_dir (fixture->catalog);
  g_autofree char *expected_managed = g_build_filename (fixture->dir, "test-images", NULL);

  g_assert_cmpstr (mode, ==, "wal");
  g_assert_cmpint (ctu_sql_int (db, "PRAGMA user_version"), ==, LEAF_CATALOG_SCHEMA_VERSION);
  g_assert_cmpint (ctu_sql_int (db, "PRAGMA application_id"), ==, 0x4c656166);
  sqlite3_close (db);

  g_assert_cmpstr (leaf_catalog_get_path (fixture->catalog), ==, fixture->path);
  g_assert_true (g_str_has_suffix (default_path, "/leafscope/default.leafscope"));
  g_assert_true (g_str_has_prefix (default_path, g_get_user_data_dir ()));
  g_assert_cmpstr (managed, ==, expected_managed);
}

static void
test_open_missing (void)
{
  g_autofree char *dir = ctu_make_tmp_dir ();
  g_autofree char *path = g_build_filename (dir, "nope.leafscope", NULL);
  g_autoptr(GError) error = NULL;
  LeafCatalog *catalog = leaf_catalog_open (path, LEAF_CATALOG_OPEN_DEFAULT, &error);

  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND);
  g_assert_null (catalog);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  leaf_test_remove_tree (dir);
}

static void
test_open_refuses_newer (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *wal = g_strconcat (fixture->path, "-wal", NULL);
  sqlite3 *db;
  LeafCatalog *catalog;

  reopen (fixture);
  db = ctu_sql_open (fixture->path);
  ctu_sql_exec (db, "PRAGMA user_version = 99");
  sqlite3_close (db);
  g_assert_finalize_object (fixture->catalog);
  g_assert_false (g_file_test (wal, G_FILE_TEST_EXISTS));
  before = ctu_sha256_of_file (fixture->path);

  catalog = leaf_catalog_open (fixture->path, LEAF_CATALOG_OPEN_CREATE, &error);
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_TOO_NEW);
  g_assert_null (catalog);
  g_assert_nonnull (strstr (error->message, "newer"));
  after = ctu_sha256_of_file (fixture->path);
  g_assert_cmpstr (before, ==, after);
  g_assert_false (g_file_test (wal, G_FILE_TEST_EXISTS));

  /* The fixture's teardown wants a catalog: make one elsewhere. */
  g_clear_error (&error);
  g_unlink (fixture->path);
  fixture->catalog = leaf_catalog_open (fixture->path, LEAF_CATALOG_OPEN_CREATE, &error);
  g_assert_no_error (error);
}

static void
test_open_refuses_foreign (void)
{
  g_autofree char *dir = ctu_make_tmp_dir ();
  g_autofree char *sqlite_path = g_build_filename (dir, "other.db", NULL);
  g_autofree char *text_path = g_build_filename (dir, "notes.leafscope", NULL);
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autoptr(GError) error = NULL;
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open (sqlite_path, &db), ==, SQLITE_OK);
  ctu_sql_exec (db, "CREATE TABLE things (x); INSERT INTO things VALUES (1)");
  sqlite3_close (db);
  before = ctu_sha256_of_file (sqlite_path);
  g_assert_null (leaf_catalog_open (sqlite_path, LEAF_CATALOG_OPEN_CREATE, &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FORMAT);
  after = ctu_sha256_of_file (sqlite_path);
  g_assert_cmpstr (before, ==, after);
  g_clear_error (&error);

  ctu_write_bytes (text_path, "just some text, long enough to not be a database header\n", 56);
  g_assert_null (leaf_catalog_open (text_path, LEAF_CATALOG_OPEN_CREATE, &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FORMAT);
  leaf_test_remove_tree (dir);
}

/* Data that each older schema version could hold, to check that migrations keep it. */
static void
fill_version (const char *path,
              int         version)
{
  sqlite3 *db = ctu_sql_open (path);

  if (version >= 1)
    {
      ctu_insert_images (path, 1, 3);
      ctu_sql_exec (db,
                    "INSERT INTO classes (id, name, position, color, created) VALUES "
                    "(1, 'healthy', 0, '#33d17a', '2024-01-01T00:00:00Z');"
                    "INSERT INTO label_actions (id, user, time, how) VALUES "
                    "(1, 'ana', '2024-01-02T00:00:00Z', 'manual');"
                    "INSERT INTO labels (image_id, class_id, user, time, how) VALUES "
                    "(2, 1, 'ana', '2024-01-02T00:00:00Z', 'manual');"
                    "INSERT INTO label_events (action_id, image_id, new_class_id) VALUES (1, 2, 1);");
    }
  /* From version 5 on, the label is ana's vote. */
  if (version >= 5)
    ctu_sql_exec (db,
                  "INSERT INTO votes (image_id, labeller, class_id, time, how) VALUES "
                  "(2, 'ana', 1, '2024-01-02T00:00:00Z', 'manual');");
  if (version >= 2)
    ctu_sql_exec (db,
                  "INSERT INTO models (id, path, sha256, classes, created) VALUES (1, '/m.pt', "
                  "'0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef', "
                  "'[\"healthy\"]', '2024-01-03T00:00:00Z');"
                  "INSERT INTO predictions (model_id, image_id, probabilities, top_index, "
                  "top_class_id, top_probability, entropy, created) VALUES "
                  "(1, 1, x'0000803f', 0, 1, 1.0, 0.0, '2024-01-03T00:00:00Z');");
  sqlite3_close (db);
}

/* Whether SQLite's plan for sql reads the index named index. */
static gboolean
uses_index (sqlite3    *db,
            const char *sql,
            const char *index)
{
  g_autofree char *explain = g_strconcat ("EXPLAIN QUERY PLAN ", sql, NULL);
  sqlite3_stmt *stmt = NULL;
  gboolean uses = FALSE;

  g_assert_cmpint (sqlite3_prepare_v2 (db, explain, -1, &stmt, NULL), ==, SQLITE_OK);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    uses |= strstr ((const char *) sqlite3_column_text (stmt, 3), index) != NULL;
  sqlite3_finalize (stmt);
  return uses;
}

static void
test_migrations (void)
{
  for (int version = 0; version < LEAF_CATALOG_SCHEMA_VERSION; version++)
    {
      g_autofree char *dir = ctu_make_tmp_dir ();
      g_autofree char *path = g_build_filename (dir, "old.leafscope", NULL);
      g_autofree char *backup = g_strdup_printf ("%s.v%d.backup", path, version);
      g_autoptr(GError) error = NULL;
      g_autoptr(LeafCatalog) catalog = NULL;
      g_autoptr(GPtrArray) classes = NULL;
      g_autoptr(GPtrArray) runs = NULL;
      g_autofree char *undo = NULL;
      g_autofree char *integrity = NULL;
      guint counts[4];
      sqlite3 *db;

      g_test_message ("from version %d", version);
      _leaf_db_create_at_version (path, version, &error);
      g_assert_no_error (error);
      fill_version (path, version);

      catalog = leaf_catalog_open (path, LEAF_CATALOG_OPEN_DEFAULT, &error);
      g_assert_no_error (error);
      db = ctu_sql_open (path);
      g_assert_cmpint (ctu_sql_int (db, "PRAGMA user_version"), ==, LEAF_CATALOG_SCHEMA_VERSION);
      integrity = ctu_sql_text (db, "PRAGMA integrity_check");
      g_assert_cmpstr (integrity, ==, "ok");
      /* Predictions that cannot say whether the model would refer the photo (before version
       * 4) go, so that the window predicts the photos again; later ones stay. */
      g_assert_cmpint (ctu_sql_int (db, "SELECT count(*) FROM predictions"), ==,
                       version >= 4 ? 1 : 0);
      /* The class names' partial index serves the catalog's own lookup again (version 6). */
      g_assert_true (uses_index (db, "SELECT id FROM classes WHERE name = 'x' AND removed = 0",
                                 "classes_name"));
      sqlite3_close (db);

      /* What the old version held is still there and works with the new code. */
      classes = leaf_catalog_list_classes (catalog, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (classes->len, ==, version >= 1 ? 1 : 0);
      if (version >= 1)
        {
          g_assert_cmpuint (((LeafClassInfo *) classes->pdata[0])->n_images, ==, 1);
          g_assert_cmpint (class_of (catalog, 2), ==, 1);
          /* The label became ana's vote, and only ana undoes her action. */
          db = ctu_sql_open (path);
          g_assert_cmpint (ctu_sql_int (db, "SELECT count(*) FROM votes WHERE image_id = 2 "
                                        "AND labeller = 'ana' AND class_id = 1"), ==, 1);
          sqlite3_close (db);
          leaf_catalog_set_labeller (catalog, "bo");
          g_assert_null (leaf_catalog_get_undo_description (catalog));
          leaf_catalog_set_labeller (catalog, "ana");
          undo = leaf_catalog_get_undo_description (catalog);
          g_assert_nonnull (undo);
          leaf_catalog_undo (catalog, NULL, &error);
          g_assert_no_error (error);
          g_assert_cmpint (class_of (catalog, 2), ==, 0);
          /* The copy kept before migrating is the old version, untouched. */
          g_assert_true (g_file_test (backup, G_FILE_TEST_EXISTS));
          db = ctu_sql_open (backup);
          g_assert_cmpint (ctu_sql_int (db, "PRAGMA user_version"), ==, version);
          g_assert_cmpint (ctu_sql_int (db, "SELECT count(*) FROM labels"), ==, 1);
          sqlite3_close (db);
        }
      /* What the new version added works. */
      leaf_catalog_count_splits (catalog, counts, &error);
      g_assert_no_error (error);
      runs = leaf_catalog_list_runs (catalog, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (runs->len, ==, 0);

      g_clear_object (&catalog);
      leaf_test_remove_tree (dir);
    }
}

/* ---- The catalog's files: header, backup, read-only WAL, journal, full disk ---- */

/* Flips bits of one byte of the file, as a bad sector or a bad RAM cell would. */
static void
flip_bits (const char *path,
           gsize       offset,
           guint       bits)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize length = 0;

  g_file_get_contents (path, &contents, &length, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (offset, <, length);
  contents[offset] ^= bits;
  ctu_write_bytes (path, contents, length);
}

/* A catalog with one labelled image, closed: everything is in the main file. */
static void
make_closed_catalog (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = leaf_catalog_open (path, LEAF_CATALOG_OPEN_CREATE, &error);

  g_assert_no_error (error);
  ctu_insert_images (path, 1, 1);
  label (catalog, 1, add_class (catalog, "healthy"), LEAF_LABEL_HOW_MANUAL);
}

/* Header values no Leafscope writes (offsets from SQLite's file format: the write and read
 * versions at 18 and 19, user_version at 60, application_id at 68) are "damaged", not a reason
 * to abort or to touch the file. */
static void
test_open_refuses_damaged_header (void)
{
  static const struct
  {
    const char *what;
    gsize offset;
    guint bits;
    gboolean too_new;
  } flips[] = {
    { "user_version negative", 60, 0x80 },
    { "user_version 7 + 2^30", 60, 0x40 },
    { "user_version 0 under version 7's tables", 63, 0x07 },
    { "user_version 6 under version 7's contents", 63, 0x01 },
    { "user_version 5 under version 6's indexes", 63, 0x02 },
    { "user_version 4 under version 5's votes", 63, 0x03 },
    { "user_version 1 under version 7's tables", 63, 0x06 },
    { "user_version 8: newer", 63, 0x0f, TRUE },
    { "user_version 9: newer", 63, 0x0e, TRUE },
    { "application_id one bit off", 71, 0x01 },
    { "application_id negative", 68, 0x80 },
    { "write version 3", 18, 0x01 },
    { "read version 3", 19, 0x01 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (flips); i++)
    {
      g_autofree char *dir = ctu_make_tmp_dir ();
      g_autofree char *path = g_build_filename (dir, "flipped.leafscope", NULL);
      g_autofree char *wal = g_strconcat (path, "-wal", NULL);
      g_autofree char *before = NULL;
      g_autofree char *after = NULL;
      g_autoptr(GError) error = NULL;

      g_test_message ("%s", flips[i].what);
      g_assert_cmpint (LEAF_CATALOG_SCHEMA_VERSION, ==, 7);
      make_closed_catalog (path);
      flip_bits (path, flips[i].offset, flips[i].bits);
      before = ctu_sha256_of_file (path);

      g_assert_null (leaf_catalog_open (path, LEAF_CATALOG_OPEN_CREATE, &error));
      if (flips[i].too_new)
        g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_TOO_NEW);
      else
        {
          g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FORMAT);
          g_assert_nonnull (strstr (error->message, "damaged"));
        }
      g_assert_nonnull (strstr (error->message, path));
      after = ctu_sha256_of_file (path);
      g_assert_cmpstr (before, ==, after);
      g_assert_false (g_file_test (wal, G_FILE_TEST_EXISTS));
      leaf_test_remove_tree (dir);
    }
}

/* Our header on a file without any of our tables. */
static void
test_open_refuses_tables_missing (void)
{
  g_autofree char *dir = ctu_make_tmp_dir ();
  g_autofree char *path = g_build_filename (dir, "hollow.leafscope", NULL);
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autoptr(GError) error = NULL;
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  ctu_sql_exec (db, "PRAGMA application_id = 1281712486; PRAGMA user_version = 1");
  sqlite3_close (db);
  before = ctu_sha256_of_file (path);
  g_assert_null (leaf_catalog_open (path, LEAF_CATALOG_OPEN_DEFAULT, &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "damaged"));
  after = ctu_sha256_of_file (path);
  g_assert_cmpstr (before, ==, after);
  leaf_test_remove_tree (dir);
}

/* The copy kept before a migration: one left empty or cut short by a kill, or a temporary file
 * left by one, is replaced by a good copy; a good copy is kept as it is. */
static void
test_migration_backup_replaced_when_damaged (void)
{
  g_autofree char *dir = ctu_make_tmp_dir ();
  g_autofree char *path = g_build_filename (dir, "old.leafscope", NULL);
  g_autofree char *backup = g_strconcat (path, ".v1.backup", NULL);
  g_autofree char *good = NULL;
  g_autofree char *good_sha = NULL;
  gsize good_length = 0;
  enum { EMPTY, HALF, FIRST_PAGE, LEFTOVER_TEMPORARY, GOOD, N_CASES };

  for (int state = 0; state < N_CASES; state++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(LeafCatalog) catalog = NULL;
      g_autoptr(GDir) listing = NULL;
      g_autofree char *integrity = NULL;
      const char *name;
      sqlite3 *db;

      g_test_message ("backup state %d", state);
      g_unlink (path);
      _leaf_db_create_at_version (path, 1, &error);
      g_assert_no_error (error);
      fill_version (path, 1);
      switch (state)
        {
        case EMPTY:
          ctu_write_bytes (backup, "", 0);
          break;
        case HALF:
        case FIRST_PAGE:
          g_assert_nonnull (good);
          ctu_write_bytes (backup, good, state == HALF ? good_length / 2 : 4096);
          break;
        case LEFTOVER_TEMPORARY:
          {
            g_autofree char *temporary = g_strconcat (backup, ".tmp", NULL);

            g_unlink (backup);
            ctu_write_bytes (temporary, good, good_length / 2);
          }
          break;
        case GOOD:
          g_free (good_sha);
          good_sha = ctu_sha256_of_file (backup);
          break;
        default:
          g_assert_not_reached ();
        }

      catalog = leaf_catalog_open (path, LEAF_CATALOG_OPEN_DEFAULT, &error);
      g_assert_no_error (error);
      g_assert_cmpint (class_of (catalog, 2), ==, 1);

      db = ctu_sql_open (backup);
      integrity = ctu_sql_text (db, "PRAGMA integrity_check");
      g_assert_cmpstr (integrity, ==, "ok");
      g_assert_cmpint (ctu_sql_int (db, "PRAGMA user_version"), ==, 1);
      g_assert_cmpint (ctu_sql_int (db, "PRAGMA application_id"), ==, 0x4c656166);
      g_assert_cmpint (ctu_sql_int (db, "SELECT count(*) FROM labels"), ==, 1);
      sqlite3_close (db);
      if (state == GOOD)
        {
          g_autofree char *sha = ctu_sha256_of_file (backup);
          g_assert_cmpstr (sha, ==, good_sha);
        }
      if (good == NULL)
        {
          g_file_get_contents (backup, &good, &good_length, &error);
          g_assert_no_error (error);
          g_assert_cmpuint (good_length, >, 4096);
        }
      /* Nothing but the catalog, its journal and the backup. */
      listing = g_dir_open (dir, 0, &error);
      g_assert_no_error (error);
      while ((name = g_dir_read_name (listing)) != NULL)
        g_assert_true (g_str_equal (name, "old.leafscope") ||
                       g_str_equal (name, "old.leafscope-wal") ||
                       g_str_equal (name, "old.leafscope-shm") ||
                       g_str_equal (name, "old.leafscope.v1.backup"));
    }
  leaf_test_remove_tree (dir);
}

/* The owner has the catalog open and has labelled 77 photos, all still in the -wal file; another
 * user, who may write neither the catalog nor its folder, must see them. */
static void
test_read_only_reads_wal (void)
{
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *immutable_uri = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  gint64 ids[77];
  sqlite3 *main_file = NULL;
  int status;

  if (getuid () != 0)
    {
      g_test_skip ("needs root, to run leafscope-cli as a user who may not write the catalog");
      return;
    }
  if (ctu_cli_path () == NULL)
    {
      g_test_skip ("LEAFSCOPE_CLI is not set");
      return;
    }
  dir = ctu_make_tmp_dir ();
  path = g_build_filename (dir, "shared.leafscope", NULL);
  catalog = leaf_catalog_open (path, LEAF_CATALOG_OPEN_CREATE, &error);
  g_assert_no_error (error);
  ctu_insert_images (path, 1, G_N_ELEMENTS (ids));
  /* Their files are not there; saying so from the start spares `stats` a write. */
  main_file = ctu_sql_open (path);
  ctu_sql_exec (main_file, "UPDATE images SET missing = 1");
  sqlite3_close (main_file);
  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    ids[i] = i + 1;
  leaf_catalog_set_labels (catalog, ids, G_N_ELEMENTS (ids), add_class (catalog, "blight"),
                           LEAF_LABEL_HOW_MANUAL, &error);
  g_assert_no_error (error);

  /* The labels are in the -wal only: the main file alone has none. */
  immutable_uri = g_strconcat ("file:", path, "?immutable=1", NULL);
  g_assert_cmpint (sqlite3_open_v2 (immutable_uri, &main_file,
                                    SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL), ==, SQLITE_OK);
  g_assert_cmpint (ctu_sql_int (main_file, "SELECT count(*) FROM sqlite_schema"), ==, 0);
  sqlite3_close (main_file);

  g_assert_cmpint (g_chmod (dir, 0555), ==, 0);
  g_assert_cmpint (g_chmod (path, 0444), ==, 0);
  status = ctu_run_cli_as_nobody (path, &out, &err, "stats", "--json", NULL);
  g_test_message ("as nobody, owner writing: %s%s", out, err);
  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (strstr (out, "\"images\":77,\"labeled\":77"));

  /* Once the owner closes it, everything is in the main file, read as it is. */
  g_clear_object (&catalog);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  status = ctu_run_cli_as_nobody (path, &out, &err, "stats", "--json", NULL);
  g_test_message ("as nobody, owner gone: %s%s", out, err);
  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (strstr (out, "\"images\":77,\"labeled\":77"));
  leaf_test_remove_tree (dir);
}

/* Deleting the -wal and -shm files (or the catalog) under an open catalog: the next change is
 * refused with a message instead of going into a file nobody will read again; closing the
 * catalog saves what was acknowledged before. */
static void
test_deleted_journal_detected (void)
{
  static const char *const deleted[] = { "-wal", "-shm", "" };

  for (guint i = 0; i < G_N_ELEMENTS (deleted); i++)
    {
      g_autofree char *dir = ctu_make_tmp_dir ();
      g_autofree char *path = g_build_filename (dir, "busy.leafscope", NULL);
      g_autofree char *victim = g_strconcat (path, deleted[i], NULL);
      g_autoptr(GError) error = NULL;
      g_autoptr(LeafCatalog) catalog = leaf_catalog_open (path, LEAF_CATALOG_OPEN_CREATE,
                                                          &error);
      gint64 image = 2;
      gint64 healthy;

      g_test_message ("deleting %s", victim);
      g_assert_no_error (error);
      ctu_insert_images (path, 1, 2);
      healthy = add_class (catalog, "healthy");
      label (catalog, 1, healthy, LEAF_LABEL_HOW_MANUAL);
      g_assert_cmpint (g_unlink (victim), ==, 0);

      g_assert_false (leaf_catalog_set_labels (catalog, &image, 1, healthy,
                                               LEAF_LABEL_HOW_MANUAL, &error));
      g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO);
      g_assert_nonnull (strstr (error->message, path));
      g_assert_nonnull (strstr (error->message, "open it again"));
      g_clear_error (&error);
      g_clear_object (&catalog);

      if (*deleted[i] != '\0')
        {
          /* Closing folded the acknowledged label into the main file. */
          catalog = leaf_catalog_open (path, LEAF_CATALOG_OPEN_DEFAULT, &error);
          g_assert_no_error (error);
          g_assert_cmpint (class_of (catalog, 1), ==, healthy);
          g_assert_cmpint (class_of (catalog, 2), ==, 0);
          label (catalog, 2, healthy, LEAF_LABEL_HOW_MANUAL);
        }
      leaf_test_remove_tree (dir);
    }
}

/* A full disk while labelling says so, names the catalog and keeps what was saved. The file
 * size limit stands in for the full disk: SQLite then fails the write with EFBIG. */
static void
test_full_disk_says_so (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autofree char *wal = g_strconcat (fixture->path, "-wal", NULL);
  g_autoptr(GError) error = NULL;
  struct rlimit saved, limited;
  void (*saved_handler) (int);
  gint64 image = 2;
  gint64 healthy;
  GStatBuf st;
  gboolean labelled;

  ctu_insert_images (fixture->path, 1, 2);
  healthy = add_class (fixture->catalog, "healthy");
  label (fixture->catalog, 1, healthy, LEAF_LABEL_HOW_MANUAL);

  /* The next label must grow the -wal past its present size. */
  g_assert_cmpint (g_stat (wal, &st), ==, 0);
  g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &saved), ==, 0);
  limited = saved;
  limited.rlim_cur = st.st_size;
  saved_handler = signal (SIGXFSZ, SIG_IGN);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &limited), ==, 0);
  labelled = leaf_catalog_set_labels (fixture->catalog, &image, 1, healthy,
                                      LEAF_LABEL_HOW_MANUAL, &error);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &saved), ==, 0);
  signal (SIGXFSZ, saved_handler);

  g_assert_false (labelled);
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, fixture->path));
  g_assert_nonnull (strstr (error->message, "full"));
  g_assert_null (strstr (error->message, "writable"));

  /* Nothing that was saved is lost, and with room again the label goes in. */
  g_assert_cmpint (class_of (fixture->catalog, 1), ==, healthy);
  g_assert_cmpint (class_of (fixture->catalog, 2), ==, 0);
  label (fixture->catalog, 2, healthy, LEAF_LABEL_HOW_MANUAL);
  reopen (fixture);
  g_assert_cmpint (class_of (fixture->catalog, 1), ==, healthy);
  g_assert_cmpint (class_of (fixture->catalog, 2), ==, healthy);
}

/* ---- Transactions ---- */

static gboolean
insert_class_row (LeafDb      *db,
                  const char  *name,
                  GError     **error)
{
  g_autoptr(LeafStmt) stmt =
    _leaf_db_prepare (db, "INSERT INTO classes (name, position, color, created) "
                      "VALUES (?, 0, '#000000', '2024-01-01T00:00:00.000000Z')", error);

  if (stmt == NULL)
    return FALSE;
  _leaf_bind_text (stmt, 1, name);
  return _leaf_db_run (db, stmt, error);
}

/* Writes a row, then fails the way a later step of a catalog function would: by returning. */
static gboolean
insert_then_fail (LeafDb  *db,
                  GError **error)
{
  g_autoptr(LeafTxn) txn = _leaf_txn_begin (db, error);

  if (txn == NULL || !insert_class_row (db, "forgotten", error))
    return FALSE;
  g_set_error_literal (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FAILED, "a later step failed");
  return FALSE;
}

/* A transaction whose scope is left without a commit rolls back on its own; a committed one
 * keeps its rows; a statement run alone that fails leaves no transaction open. */
static void
test_transaction_rolls_back (Fixture       *fixture,
                             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafDb) db = _leaf_db_open (fixture->path, FALSE, LEAF_DB_WORKER, &error);
  g_autoptr(LeafTxn) txn = NULL;
  g_autoptr(LeafStmt) again = NULL;
  g_autofree char *names = NULL;
  sqlite3 *raw;

  g_assert_no_error (error);
  g_assert_false (insert_then_fail (db, &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_true (sqlite3_get_autocommit (db->handle));

  txn = _leaf_txn_begin (db, &error);
  g_assert_no_error (error);
  g_assert_nonnull (txn);
  g_assert_true (insert_class_row (db, "healthy", &error));
  g_assert_true (_leaf_txn_commit (&txn, &error));
  g_assert_no_error (error);
  g_assert_null (txn);

  /* The name is taken now, so the same row again breaks the unique index. */
  again = _leaf_db_prepare (db, "INSERT INTO classes (name, position, color, created) "
                            "VALUES ('healthy', 1, '#ffffff', '2024-01-01T00:00:00.000000Z')",
                            &error);
  g_assert_no_error (error);
  g_assert_false (_leaf_db_run_alone (db, again, &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID);
  g_assert_true (sqlite3_get_autocommit (db->handle));

  raw = ctu_sql_open (fixture->path);
  names = ctu_sql_text (raw, "SELECT group_concat (name) FROM classes");
  g_assert_cmpstr (names, ==, "healthy");
  sqlite3_close (raw);
}

/* ---- Classes ---- */

static void
test_classes (Fixture       *fixture,
              gconstpointer  data)
{
  LeafCatalog *catalog = fixture->catalog;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) classes = NULL;
  g_autoptr(LeafClassInfo) found = NULL;
  const char *bad_names[] = { "", ".hidden", " lead", "trail ", "a/b", "a\\b", "tab\there",
                              "\xff\xfe" };
  gint64 healthy, blight, mildew;

  healthy = add_class (catalog, "healthy");
  blight = add_class (catalog, "early blight");
  mildew = leaf_catalog_add_class (catalog, "mildew", "#123abc", "m", &error);
  g_assert_no_error (error);

  g_assert_cmpint (leaf_catalog_add_class (catalog, "healthy", NULL, NULL, &error), ==, 0);
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  for (guint i = 0; i < G_N_ELEMENTS (bad_names); i++)
    {
      g_assert_cmpint (leaf_catalog_add_class (catalog, bad_names[i], NULL, NULL, &error), ==, 0);
      g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID);
      g_clear_error (&error);
    }
  g_assert_cmpint (leaf_catalog_add_class (catalog, "x", "red", NULL, &error), ==, 0);
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (leaf_catalog_set_class_shortcut (catalog, healthy, "m", &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID);
  g_clear_error (&error);

  leaf_catalog_rename_class (catalog, blight, "late blight", &error);
  g_assert_no_error (error);
  g_assert_false (leaf_catalog_rename_class (catalog, blight, "healthy", &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  leaf_catalog_set_class_color (catalog, healthy, "#00ff00", &error);
  g_assert_no_error (error);
  leaf_catalog_set_class_shortcut (catalog, healthy, "h", &error);
  g_assert_no_error (error);
  leaf_catalog_move_class (catalog, mildew, 0, &error);
  g_assert_no_error (error);

  classes = leaf_catalog_list_classes (catalog, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (classes->len, ==, 3);
  g_assert_cmpint (((LeafClassInfo *) classes->pdata[0])->id, ==, mildew);
  g_assert_cmpint (((LeafClassInfo *) classes->pdata[1])->id, ==, healthy);
  g_assert_cmpint (((LeafClassInfo *) classes->pdata[2])->id, ==, blight);
  for (guint i = 0; i < classes->len; i++)
    g_assert_cmpuint (((LeafClassInfo *) classes->pdata[i])->position, ==, i);
  g_assert_cmpstr (((LeafClassInfo *) classes->pdata[0])->color, ==, "#123abc");
  g_assert_cmpstr (((LeafClassInfo *) classes->pdata[0])->shortcut, ==, "m");
  g_assert_cmpstr (((LeafClassInfo *) classes->pdata[1])->color, ==, "#00ff00");
  g_assert_cmpstr (((LeafClassInfo *) classes->pdata[2])->name, ==, "late blight");

  found = leaf_catalog_find_class (catalog, "late blight", &error);
  g_assert_no_error (error);
  g_assert_cmpint (found->id, ==, blight);
  g_assert_null (leaf_catalog_find_class (catalog, "early blight", &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND);
}

static void
test_remove_class (Fixture       *fixture,
                   gconstpointer  data)
{
  LeafCatalog *catalog = fixture->catalog;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) classes = NULL;
  gint64 ids[] = { 1, 2, 3 };
  gint64 keep, gone;

  ctu_insert_images (fixture->path, 1, 3);
  keep = add_class (catalog, "keep");
  gone = add_class (catalog, "gone");
  leaf_catalog_set_labels (catalog, ids, 2, gone, LEAF_LABEL_HOW_MANUAL, &error);
  g_assert_no_error (error);

  /* A class that still labels images is not removed unless its labels go with it. */
  g_assert_false (leaf_catalog_remove_class (catalog, gone, FALSE, &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  leaf_catalog_remove_class (catalog, gone, TRUE, &error);
  g_assert_no_error (error);
  classes = leaf_catalog_list_classes (catalog, &error);
  g_assert_cmpuint (classes->len, ==, 1);
  g_assert_cmpint (((LeafClassInfo *) classes->pdata[0])->id, ==, keep);
  g_assert_cmpint (class_of (catalog, 1), ==, 0);
  g_assert_cmpint (class_of (catalog, 2), ==, 0);
  g_clear_pointer (&classes, g_ptr_array_unref);

  /* Undoing brings the labels and the class back. */
  leaf_catalog_undo (catalog, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (class_of (catalog, 1), ==, gone);
  g_assert_cmpint (class_of (catalog, 2), ==, gone);
  classes = leaf_catalog_list_classes (catalog, &error);
  g_assert_cmpuint (classes->len, ==, 2);
  g_assert_cmpuint (((LeafClassInfo *) classes->pdata[1])->n_images, ==, 2);
}

/* ---- Labels and history ---- */

static void
test_label_provenance (Fixture       *fixture,
                       gconstpointer  data)
{
  LeafCatalog *catalog = fixture->catalog;
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalogImage) image = NULL;
  g_autoptr(GDateTime) before = g_date_time_new_now_utc ();
  g_autoptr(GDateTime) after = NULL;
  gint64 missing_image = 99;
  gint64 one = 1;
  gint64 healthy;
  sqlite3 *db;

  ctu_insert_images (fixture->path, 1, 2);
  healthy = add_class (catalog, "healthy");
  label (catalog, 1, healthy, LEAF_LABEL_HOW_SUGGESTION);
  after = g_date_time_new_now_utc ();

  image = leaf_catalog_get_image (catalog, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (leaf_catalog_image_get_class_id (image), ==, healthy);
  g_assert_cmpstr (leaf_catalog_image_get_labeller (image), ==, g_get_user_name ());
  g_assert_cmpint (leaf_catalog_image_get_label_how (image), ==, LEAF_LABEL_HOW_SUGGESTION);
  g_assert_cmpint (g_date_time_compare (leaf_catalog_image_get_label_time (image), before), >=, 0);
  g_assert_cmpint (g_date_time_compare (leaf_catalog_image_get_label_time (image), after), <=, 0);

  /* Unknown images and classes fail as a whole: nothing is written. */
  g_assert_false (leaf_catalog_set_labels (catalog, (gint64[]) { 2, missing_image }, 2, healthy,
                                           LEAF_LABEL_HOW_MANUAL, &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_cmpint (class_of (catalog, 2), ==, 0);
  g_assert_false (leaf_catalog_set_labels (catalog, &one, 1, 12345, LEAF_LABEL_HOW_MANUAL,
                                           &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* The same label from the same source is no action; confirming it by hand is one. */
  db = ctu_sql_open (fixture->path);
  label (catalog, 1, healthy, LEAF_LABEL_HOW_SUGGESTION);
  g_assert_cmpint (ctu_sql_int (db, "SELECT count(*) FROM label_actions"), ==, 1);
  label (catalog, 1, healthy, LEAF_LABEL_HOW_MANUAL);
  g_assert_cmpint (ctu_sql_int (db, "SELECT count(*) FROM label_actions"), ==, 2);
  sqlite3_close (db);
}

static void
test_undo_redo_across_reopen (Fixture       *fixture,
                              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *description = NULL;
  gint64 a = 1, b = 2, both[] = { 1, 2 };
  gint64 healthy, blight;

  ctu_insert_images (fixture->path, 1, 2);
  healthy = add_class (fixture->catalog, "healthy");
  blight = add_class (fixture->catalog, "blight");
  g_assert_null (leaf_catalog_get_undo_description (fixture->catalog));

  label (fixture->catalog, a, healthy, LEAF_LABEL_HOW_MANUAL);            /* 1: a=h */
  label (fixture->catalog, b, blight, LEAF_LABEL_HOW_MANUAL);             /* 2: b=b */
  leaf_catalog_set_labels (fixture->catalog, both, 2, blight, LEAF_LABEL_HOW_MANUAL, &error);
  g_assert_no_error (error);                                              /* 3: a=b */
  label (fixture->catalog, b, 0, LEAF_LABEL_HOW_MANUAL);                  /* 4: b=- */

  reopen (fixture);
  g_assert_cmpint (class_of (fixture->catalog, a), ==, blight);
  g_assert_cmpint (class_of (fixture->catalog, b), ==, 0);

  leaf_catalog_undo (fixture->catalog, &description, &error);             /* undo 4 */
  g_assert_no_error (error);
  g_assert_nonnull (strstr (description, "Remove"));
  g_assert_cmpint (class_of (fixture->catalog, b), ==, blight);
  reopen (fixture);
  leaf_catalog_undo (fixture->catalog, NULL, &error);                     /* undo 3 */
  g_assert_no_error (error);
  g_assert_cmpint (class_of (fixture->catalog, a), ==, healthy);
  g_assert_cmpint (class_of (fixture->catalog, b), ==, blight);
  leaf_catalog_undo (fixture->catalog, NULL, &error);                     /* undo 2 */
  leaf_catalog_undo (fixture->catalog, NULL, &error);                     /* undo 1 */
  g_assert_no_error (error);
  g_assert_cmpint (class_of (fixture->catalog, a), ==, 0);
  g_assert_cmpint (class_of (fixture->catalog, b), ==, 0);
  g_assert_false (leaf_catalog_undo (fixture->catalog, NULL, &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  reopen (fixture);
  g_clear_pointer (&description, g_free);
  description = leaf_catalog_get_redo_description (fixture->catalog);
  g_assert_nonnull (strstr (description, "healthy"));
  leaf_catalog_redo (fixture->catalog, NULL, &error);                     /* redo 1 */
  leaf_catalog_redo (fixture->catalog, NULL, &error);                     /* redo 2 */
  g_assert_no_error (error);
  g_assert_cmpint (class_of (fixture->catalog, a), ==, healthy);
  g_assert_cmpint (class_of (fixture->catalog, b), ==, blight);

  /* A new action ends the redo stack. */
  label (fixture->catalog, b, healthy, LEAF_LABEL_HOW_MANUAL);
  g_assert_null (leaf_catalog_get_redo_description (fixture->catalog));
  g_assert_false (leaf_catalog_redo (fixture->catalog, NULL, &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  reopen (fixture);
  leaf_catalog_undo (fixture->catalog, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (class_of (fixture->catalog, b), ==, blight);
  g_assert_cmpint (class_of (fixture->catalog, a), ==, healthy);
}

/* Undo restores the earlier label with its provenance, not a fresh one. */
static void
test_undo_restores_provenance (Fixture       *fixture,
                               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalogImage) image = NULL;
  g_autofree char *time_before = NULL;
  g_autofree char *time_after = NULL;
  gint64 healthy, blight;
  sqlite3 *db;

  ctu_insert_images (fixture->path, 1, 1);
  healthy = add_class (fixture->catalog, "healthy");
  blight = add_class (fixture->catalog, "blight");
  label (fixture->catalog, 1, healthy, LEAF_LABEL_HOW_SUGGESTION);
  db = ctu_sql_open (fixture->path);
  time_before = ctu_sql_text (db, "SELECT time FROM labels WHERE image_id = 1");
  g_usleep (2000);
  label (fixture->catalog, 1, blight, LEAF_LABEL_HOW_MANUAL);
  leaf_catalog_undo (fixture->catalog, NULL, &error);
  g_assert_no_error (error);

  image = leaf_catalog_get_image (fixture->catalog, 1, &error);
  g_assert_cmpint (leaf_catalog_image_get_class_id (image), ==, healthy);
  g_assert_cmpint (leaf_catalog_image_get_label_how (image), ==, LEAF_LABEL_HOW_SUGGESTION);
  time_after = ctu_sql_text (db, "SELECT time FROM labels WHERE image_id = 1");
  g_assert_cmpstr (time_after, ==, time_before);
  sqlite3_close (db);
}

/* ---- Queries ---- */

static GPtrArray *
query_all (LeafCatalog          *catalog,
           const LeafImageQuery *query)
{
  g_autoptr(GError) error = NULL;
  GPtrArray *images = leaf_catalog_query_images (catalog, query, 0, G_MAXUINT, &error);
  guint count = 0;

  g_assert_no_error (error);
  leaf_catalog_count_images (catalog, query, &count, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (count, ==, images->len);
  return images;
}

static void
test_queries (Fixture       *fixture,
              gconstpointer  data)
{
  LeafCatalog *catalog = fixture->catalog;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GPtrArray) pages = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GDateTime) mid_2023 = g_date_time_new_local (2023, 1, 1, 0, 0, 0);
  g_autoptr(LeafCatalogImage) by_sha = NULL;
  g_autoptr(LeafCatalogImage) by_prefix = NULL;
  g_autoptr(LeafCatalogImage) by_path = NULL;
  gint64 classes[3];
  guint n = 90, expected_class[3] = { 0 }, expected_unlabelled = 0;
  sqlite3 *db;

  ctu_insert_images (fixture->path, 1, n);
  for (guint c = 0; c < 3; c++)
    {
      g_autofree char *name = g_strdup_printf ("class %u", c);
      classes[c] = add_class (catalog, name);
    }
  /* Image i: unlabelled when i % 4 == 0, else class i % 3. */
  for (guint i = 1; i <= n; i++)
    if (i % 4 != 0)
      {
        label (catalog, i, classes[i % 3], LEAF_LABEL_HOW_MANUAL);
        expected_class[i % 3]++;
      }
    else
      expected_unlabelled++;
  db = ctu_sql_open (fixture->path);
  ctu_sql_exec (db, "UPDATE images SET missing = 1 WHERE id IN (3, 5);"
                    "UPDATE labels SET user = 'ben' WHERE image_id IN (1, 2)");
  sqlite3_close (db);

  all = query_all (catalog, NULL);
  g_assert_cmpuint (all->len, ==, n);
  for (guint i = 0; i < n; i++)
    g_assert_cmpint (leaf_catalog_image_get_id (all->pdata[i]), ==, i + 1);

  /* Pages put together are the whole list. */
  for (guint offset = 0; offset < n; offset += 7)
    {
      g_autoptr(GPtrArray) page = leaf_catalog_query_images (catalog, NULL, offset, 7, &error);

      g_assert_no_error (error);
      g_assert_cmpuint (page->len, ==, MIN (7, n - offset));
      for (guint i = 0; i < page->len; i++)
        g_ptr_array_add (pages, g_object_ref (page->pdata[i]));
    }
  for (guint i = 0; i < n; i++)
    g_assert_cmpint (leaf_catalog_image_get_id (pages->pdata[i]), ==, i + 1);

  {
    LeafImageQuery q = { .labels = LEAF_LABEL_FILTER_UNLABELED };
    g_autoptr(GPtrArray) images = query_all (catalog, &q);

    g_assert_cmpuint (images->len, ==, expected_unlabelled);
    for (guint i = 0; i < images->len; i++)
      g_assert_cmpint (leaf_catalog_image_get_id (images->pdata[i]) % 4, ==, 0);
  }
  {
    LeafImageQuery q = { .labels = LEAF_LABEL_FILTER_LABELED };
    g_autoptr(GPtrArray) images = query_all (catalog, &q);

    g_assert_cmpuint (images->len, ==, n - expected_unlabelled);
  }
  for (guint c = 0; c < 3; c++)
    {
      LeafImageQuery q = { .class_id = classes[c] };
      g_autoptr(GPtrArray) images = query_all (catalog, &q);
      gint64 previous = 0;

      g_assert_cmpuint (images->len, ==, expected_class[c]);
      for (guint i = 0; i < images->len; i++)
        {
          gint64 id = leaf_catalog_image_get_id (images->pdata[i]);

          g_assert_cmpint (id % 3, ==, c);
          g_assert_cmpint (leaf_catalog_image_get_class_id (images->pdata[i]), ==, classes[c]);
          g_assert_cmpint (id, >, previous);
          previous = id;
        }
    }
  {
    LeafImageQuery q = { .missing_only = TRUE };
    g_autoptr(GPtrArray) images = query_all (catalog, &q);

    g_assert_cmpuint (images->len, ==, 2);
    g_assert_true (leaf_catalog_image_get_missing (images->pdata[0]));
  }
  {
    /* "img-001" matches img-0010 … img-0019; the LIKE wildcards in input are literal. */
    LeafImageQuery q = { .name_contains = "IMG-001" };
    LeafImageQuery wild = { .name_contains = "img_0" };
    g_autoptr(GPtrArray) images = query_all (catalog, &q);
    g_autoptr(GPtrArray) none = query_all (catalog, &wild);

    g_assert_cmpuint (images->len, ==, 10);
    g_assert_cmpuint (none->len, ==, 0);
  }
  {
    LeafImageQuery q = { .labeller = "ben" };
    g_autoptr(GPtrArray) images = query_all (catalog, &q);

    g_assert_cmpuint (images->len, ==, 2);
  }
  {
    /* Even ids were captured in May 2023; odd ones have only their 2024 import time. */
    LeafImageQuery before = { .taken_before = mid_2023 };
    LeafImageQuery after = { .taken_after = mid_2023, .sort = LEAF_IMAGE_SORT_CAPTURED };
    g_autoptr(GPtrArray) old = query_all (catalog, &before);
    g_autoptr(GPtrArray) recent = query_all (catalog, &after);

    g_assert_cmpuint (old->len, ==, 0);
    g_assert_cmpuint (recent->len, ==, n);
    g_assert_null (leaf_catalog_image_get_captured (recent->pdata[0]));
    g_assert_nonnull (leaf_catalog_image_get_captured (recent->pdata[n - 1]));
    g_assert_cmpint (g_date_time_get_year (leaf_catalog_image_get_captured (recent->pdata[n - 1])),
                     ==, 2023);
  }
  {
    LeafImageQuery q = { .sort = LEAF_IMAGE_SORT_NAME, .labels = LEAF_LABEL_FILTER_UNLABELED };
    g_autoptr(GPtrArray) images = query_all (catalog, &q);

    for (guint i = 1; i < images->len; i++)
      g_assert_cmpint (strcmp (leaf_catalog_image_get_name (images->pdata[i - 1]),
                               leaf_catalog_image_get_name (images->pdata[i])), <, 0);
  }

  by_sha = leaf_catalog_find_image (catalog, leaf_catalog_image_get_sha256 (all->pdata[41]),
                                    &error);
  g_assert_no_error (error);
  g_assert_cmpint (leaf_catalog_image_get_id (by_sha), ==, 42);
  by_prefix = leaf_catalog_find_image (catalog, "000000000000000000000000000000000000000000000000"
                                       "000000000000002a", &error);
  g_assert_no_error (error);
  g_assert_cmpint (leaf_catalog_image_get_id (by_prefix), ==, 42);
  g_assert_null (leaf_catalog_find_image (catalog, "00000000", &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  by_path = leaf_catalog_find_image (catalog, "/photos/img-0007.jpg", &error);
  g_assert_no_error (error);
  g_assert_cmpint (leaf_catalog_image_get_id (by_path), ==, 7);
  g_assert_null (leaf_catalog_find_image (catalog, "/photos/none.jpg", &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND);
}

/* ---- Splits ---- */

typedef struct
{
  char *sha256;
  guint class_index;
  char *group;
} SplitInput;

/* A catalog of images given in `order`, labelled and grouped as in `inputs`. */
static LeafCatalog *
split_catalog (const char       *dir,
               const char       *name,
               const SplitInput *inputs,
               const guint      *order,
               guint             n)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr(GError) error = NULL;
  LeafCatalog *catalog = leaf_catalog_open (path, LEAF_CATALOG_OPEN_CREATE, &error);
  gint64 classes[3];
  sqlite3 *db;

  g_assert_no_error (error);
  for (guint c = 0; c < 3; c++)
    {
      g_autofree char *class_name = g_strdup_printf ("c%u", c);
      classes[c] = add_class (catalog, class_name);
    }
  db = ctu_sql_open (path);
  for (guint k = 0; k < n; k++)
    {
      const SplitInput *input = &inputs[order[k]];
      char *sql = sqlite3_mprintf ("INSERT INTO images (sha256, path, name, size, width, height, "
                                   "format, imported, group_key) VALUES (%Q, '/x', 'x', 1, 1, 1, "
                                   "'jpeg', 'now', %Q)", input->sha256, input->group);

      ctu_sql_exec (db, sql);
      sqlite3_free (sql);
      label (catalog, sqlite3_last_insert_rowid (db), classes[input->class_index],
             LEAF_LABEL_HOW_MANUAL);
    }
  sqlite3_close (db);
  return catalog;
}

/* sha256 → split */
static GHashTable *
read_splits (LeafCatalog *catalog)
{
  GHashTable *splits = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GPtrArray) images = query_all (catalog, NULL);

  for (guint i = 0; i < images->len; i++)
    g_hash_table_insert (splits, g_strdup (leaf_catalog_image_get_sha256 (images->pdata[i])),
                         GINT_TO_POINTER (leaf_catalog_image_get_split (images->pdata[i])));
  return splits;
}

static void
test_splits (void)
{
  g_autofree char *dir = ctu_make_tmp_dir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) forward = NULL;
  g_autoptr(LeafCatalog) backward = NULL;
  g_autoptr(GHashTable) first = NULL;
  g_autoptr(GHashTable) again = NULL;
  g_autoptr(GHashTable) mirrored = NULL;
  g_autoptr(GHashTable) grown = NULL;
  g_autoptr(GHashTable) group_split = g_hash_table_new (g_str_hash, g_str_equal);
  LeafSplitOptions options = { 0.7, 0.15, 0.15, 42, FALSE };
  guint n = 600, n_assigned = 0, counts[4];
  SplitInput *inputs = g_new0 (SplitInput, n);
  guint *order = g_new (guint, n);
  guint per_class[3][4] = { { 0 } };
  guint class_total[3] = { 0 };

  /* Classes of 300, 200 and 100 images; a third of them in groups of three. */
  for (guint i = 0; i < n; i++)
    {
      inputs[i].sha256 = g_strdup_printf ("%064x", i * 7919 + 1);
      inputs[i].class_index = i < 300 ? 0 : i < 500 ? 1 : 2;
      inputs[i].group = i % 3 == 0 ? NULL : g_strdup_printf ("plant-%u", i / 6);
      order[i] = i;
    }
  forward = split_catalog (dir, "forward.leafscope", inputs, order, 400);
  leaf_catalog_assign_splits (forward, &options, &n_assigned, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n_assigned, ==, 400);
  first = read_splits (forward);

  /* Assigning again changes nothing. */
  leaf_catalog_assign_splits (forward, &options, &n_assigned, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n_assigned, ==, 0);

  /* The same images entered in the opposite order get the same splits. */
  for (guint i = 0; i < 400; i++)
    order[i] = 399 - i;
  backward = split_catalog (dir, "backward.leafscope", inputs, order, 400);
  leaf_catalog_assign_splits (backward, &options, NULL, &error);
  g_assert_no_error (error);
  mirrored = read_splits (backward);
  for (guint i = 0; i < 400; i++)
    g_assert_cmpint (GPOINTER_TO_INT (g_hash_table_lookup (first, inputs[i].sha256)), ==,
                     GPOINTER_TO_INT (g_hash_table_lookup (mirrored, inputs[i].sha256)));

  /* New images get splits; old ones keep theirs. */
  g_clear_object (&forward);
  {
    g_autofree char *path = g_build_filename (dir, "forward.leafscope", NULL);
    sqlite3 *db;

    forward = leaf_catalog_open (path, LEAF_CATALOG_OPEN_DEFAULT, &error);
    g_assert_no_error (error);
    db = ctu_sql_open (path);
    for (guint i = 400; i < n; i++)
      {
        char *sql = sqlite3_mprintf ("INSERT INTO images (sha256, path, name, size, width, height, "
                                     "format, imported, group_key) VALUES (%Q, '/x', 'x', 1, 1, 1,"
                                     " 'jpeg', 'now', %Q)", inputs[i].sha256, inputs[i].group);

        ctu_sql_exec (db, sql);
        sqlite3_free (sql);
        label (forward, sqlite3_last_insert_rowid (db), inputs[i].class_index + 1,
               LEAF_LABEL_HOW_MANUAL);
      }
    sqlite3_close (db);
  }
  leaf_catalog_assign_splits (forward, &options, &n_assigned, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n_assigned, ==, 200);
  grown = read_splits (forward);
  for (guint i = 0; i < 400; i++)
    g_assert_cmpint (GPOINTER_TO_INT (g_hash_table_lookup (first, inputs[i].sha256)), ==,
                     GPOINTER_TO_INT (g_hash_table_lookup (grown, inputs[i].sha256)));

  /* Every image has a split; groups stay together; each class is split near the shares. */
  for (guint i = 0; i < n; i++)
    {
      LeafSplit split = GPOINTER_TO_INT (g_hash_table_lookup (grown, inputs[i].sha256));

      g_assert_cmpint (split, >=, LEAF_SPLIT_TRAIN);
      g_assert_cmpint (split, <=, LEAF_SPLIT_TEST);
      per_class[inputs[i].class_index][split]++;
      class_total[inputs[i].class_index]++;
      if (inputs[i].group != NULL)
        {
          gpointer seen = g_hash_table_lookup (group_split, inputs[i].group);

          if (seen == NULL)
            g_hash_table_insert (group_split, inputs[i].group, GINT_TO_POINTER (split));
          else
            g_assert_cmpint (GPOINTER_TO_INT (seen), ==, split);
        }
    }
  for (guint c = 0; c < 3; c++)
    {
      double shares[4] = { 0, 0.7, 0.15, 0.15 };

      for (int s = LEAF_SPLIT_TRAIN; s <= LEAF_SPLIT_TEST; s++)
        {
          double expected = class_total[c] * shares[s];

          g_test_message ("class %u split %d: %u of %u (expected %.1f)", c, s, per_class[c][s],
                          class_total[c], expected);
          /* Whole groups of up to three images, added in two rounds, may overshoot a little. */
          g_assert_cmpfloat (fabs (per_class[c][s] - expected), <=, 6);
        }
    }
  leaf_catalog_count_splits (forward, counts, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (counts[LEAF_SPLIT_NONE], ==, 0);
  g_assert_cmpuint (counts[1] + counts[2] + counts[3], ==, n);

  /* Another seed, reassigning all, gives another division. */
  options.seed = 7;
  options.reassign = TRUE;
  leaf_catalog_assign_splits (forward, &options, &n_assigned, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n_assigned, ==, n);
  again = read_splits (forward);
  {
    guint moved = 0;

    for (guint i = 0; i < n; i++)
      moved += g_hash_table_lookup (again, inputs[i].sha256) !=
               g_hash_table_lookup (grown, inputs[i].sha256);
    g_assert_cmpuint (moved, >, n / 10);
  }

  for (guint i = 0; i < n; i++)
    {
      g_free (inputs[i].sha256);
      g_free (inputs[i].group);
    }
  g_free (inputs);
  g_free (order);
  g_clear_object (&forward);
  g_clear_object (&backward);
  leaf_test_remove_tree (dir);
}

/* ---- Runs, metrics, models, predictions ---- */

static void
test_runs (Fixture       *fixture,
           gconstpointer  data)
{
  LeafCatalog *catalog = fixture->catalog;
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafRunInfo) run = NULL;
  g_autoptr(LeafRunInfo) dead = NULL;
  g_autoptr(LeafRunInfo) alive = NULL;
  g_autoptr(GArray) loss = NULL;
  g_autoptr(GArray) nan_values = NULL;
  g_auto(GStrv) names = NULL;
  LeafMetric steps[300];
  LeafMetric epoch[] = { { 1, "val_accuracy", 0.5 }, { 1, "val_loss", NAN } };
  g_autofree char *sql = NULL;
  GPid child = 0;
  gint64 id, dead_id, alive_id;
  sqlite3 *db;

  g_assert_cmpint (leaf_catalog_begin_run (catalog, "{not json", NULL, &error), ==, 0);
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID);
  g_clear_error (&error);

  id = leaf_catalog_begin_run (catalog, "{\"epochs\": 3}", "ab", &error);
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (steps); i++)
    steps[i] = (LeafMetric) { 299 - i, "loss", 1.0 / (300 - i) };
  leaf_catalog_add_metrics (catalog, id, LEAF_METRIC_STEP, steps, G_N_ELEMENTS (steps), &error);
  g_assert_no_error (error);
  leaf_catalog_add_metrics (catalog, id, LEAF_METRIC_EPOCH, epoch, 2, &error);
  g_assert_no_error (error);

  loss = leaf_catalog_get_metric (catalog, id, LEAF_METRIC_STEP, "loss", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (loss->len, ==, 300);
  for (guint i = 0; i < loss->len; i++)
    {
      LeafMetricPoint *point = &g_array_index (loss, LeafMetricPoint, i);

      g_assert_cmpint (point->step, ==, i);
      g_assert_cmpfloat_with_epsilon (point->value, 1.0 / (i + 1), 1e-12);
    }
  nan_values = leaf_catalog_get_metric (catalog, id, LEAF_METRIC_EPOCH, "val_loss", &error);
  g_assert_cmpuint (nan_values->len, ==, 1);
  g_assert_true (isnan (g_array_index (nan_values, LeafMetricPoint, 0).value));
  names = leaf_catalog_list_metric_names (catalog, id, LEAF_METRIC_EPOCH, &error);
  g_assert_cmpuint (g_strv_length (names), ==, 2);
  g_assert_cmpstr (names[0], ==, "val_accuracy");

  leaf_catalog_end_run (catalog, id, LEAF_RUN_COMPLETED, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (leaf_catalog_end_run (catalog, id, LEAF_RUN_FAILED, "again", &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  run = leaf_catalog_get_run (catalog, id, &error);
  g_assert_no_error (error);
  g_assert_cmpint (run->status, ==, LEAF_RUN_COMPLETED);
  g_assert_cmpstr (run->config_json, ==, "{\"epochs\": 3}");
  g_assert_cmpstr (run->base_weights_sha256, ==, "ab");
  g_assert_nonnull (run->finished);
  g_assert_cmpint (g_date_time_compare (run->started, run->finished), <=, 0);

  /* A run left running by a process that is gone is interrupted at the next open; one of a
   * living process (this one) is not. */
  g_spawn_async (NULL, (char *[]) { (char *) "true", NULL }, NULL,
                 G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &child, &error);
  g_assert_no_error (error);
  waitpid (child, NULL, 0);
  alive_id = leaf_catalog_begin_run (catalog, "{}", NULL, &error);
  dead_id = leaf_catalog_begin_run (catalog, "{}", NULL, &error);
  g_assert_no_error (error);
  db = ctu_sql_open (fixture->path);
  sql = g_strdup_printf ("UPDATE runs SET pid = %d WHERE id = %" G_GINT64_FORMAT, child, dead_id);
  ctu_sql_exec (db, sql);
  sqlite3_close (db);
  reopen (fixture);
  dead = leaf_catalog_get_run (fixture->catalog, dead_id, &error);
  alive = leaf_catalog_get_run (fixture->catalog, alive_id, &error);
  g_assert_no_error (error);
  g_assert_cmpint (dead->status, ==, LEAF_RUN_INTERRUPTED);
  g_assert_cmpint (alive->status, ==, LEAF_RUN_RUNNING);
}

static void
test_models_and_predictions (Fixture       *fixture,
                             gconstpointer  data)
{
  LeafCatalog *catalog = fixture->catalog;
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafModelInfo) latest = NULL;
  g_autoptr(LeafPrediction) prediction = NULL;
  g_autoptr(GPtrArray) models = NULL;
  const char *model_classes[] = { "healthy", "blight", "retired", NULL };
  gint64 images[] = { 1, 2, 3, 4 };
  /* Image 1: sure healthy; 2: unsure; 3: sure blight; 4: uniform. */
  float probabilities[] = {
    0.98f, 0.01f, 0.01f,
    0.40f, 0.35f, 0.25f,
    0.05f, 0.90f, 0.05f,
    1 / 3.0f, 1 / 3.0f, 1 / 3.0f,
  };
  /* Images 2 and 4 are below the model's threshold, image 3 is unlike its training photos. */
  gboolean referred[] = { FALSE, TRUE, TRUE, TRUE };
  gint64 healthy, blight, first, model;

  g_assert_null (leaf_catalog_get_latest_model (catalog, &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NO_MODEL);
  g_clear_error (&error);

  ctu_insert_images (fixture->path, 1, 4);
  healthy = add_class (catalog, "healthy");
  blight = add_class (catalog, "blight");
  label (catalog, 1, healthy, LEAF_LABEL_HOW_MANUAL);
  label (catalog, 2, healthy, LEAF_LABEL_HOW_MANUAL);
  label (catalog, 3, healthy, LEAF_LABEL_HOW_MANUAL);

  /* Not a SHA-256: the schema refuses it. */
  first = leaf_catalog_add_model (catalog, 0, "/m/first.pt", "aa", model_classes, NULL, &error);
  g_assert_cmpint (first, ==, 0);
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_cmpint (leaf_catalog_add_model (catalog, 0, "/m/x.pt", "aa", model_classes, "{bad",
                                           &error), ==, 0);
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  model = leaf_catalog_add_model (catalog, 0, "/m/second.pt",
                                  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                                  model_classes, "{\"accuracy\": 0.9}", &error);
  g_assert_no_error (error);
  latest = leaf_catalog_get_latest_model (catalog, &error);
  g_assert_no_error (error);
  g_assert_cmpint (latest->id, ==, model);
  g_assert_cmpstrv (latest->classes, model_classes);
  models = leaf_catalog_list_models (catalog, &error);
  g_assert_cmpuint (models->len, ==, 1);

  g_assert_false (leaf_catalog_add_predictions (catalog, model, images, 4, probabilities, 2,
                                                referred, &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_MISMATCH);
  g_clear_error (&error);
  leaf_catalog_add_predictions (catalog, model, images, 4, probabilities, 3, referred, &error);
  g_assert_no_error (error);
  /* Predictions that cannot say (`leafscope-cli next`'s) keep what the review said. */
  leaf_catalog_add_predictions (catalog, model, images + 2, 2, probabilities + 6, 3, NULL,
                                &error);
  g_assert_no_error (error);

  prediction = leaf_catalog_get_prediction (catalog, model, 2, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (prediction->n_classes, ==, 3);
  g_assert_cmpfloat (prediction->probabilities[1], ==, 0.35f);
  g_assert_cmpuint (prediction->top_index, ==, 0);
  g_assert_cmpint (prediction->top_class_id, ==, healthy);
  g_assert_cmpfloat_with_epsilon (prediction->entropy,
                                  -(0.4 * log (0.4) + 0.35 * log (0.35) + 0.25 * log (0.25)),
                                  1e-6);
  g_assert_true (prediction->referred);

  {
    /* Disagreements: labelled images whose label is not the top prediction: image 3 only. */
    LeafImageQuery q = { .model_id = model, .disagreements_only = TRUE };
    g_autoptr(GPtrArray) rows = query_all (catalog, &q);
    gint64 predicted = 0;
    double p = 0;

    g_assert_cmpuint (rows->len, ==, 1);
    g_assert_cmpint (leaf_catalog_image_get_id (rows->pdata[0]), ==, 3);
    g_assert_true (leaf_catalog_image_get_prediction (rows->pdata[0], &predicted, &p, NULL));
    g_assert_cmpint (predicted, ==, blight);
    g_assert_cmpfloat_with_epsilon (p, 0.9, 1e-6);
  }
  {
    /* Most uncertain first: the uniform image, then the unsure one. */
    LeafImageQuery q = { .model_id = model, .sort = LEAF_IMAGE_SORT_UNCERTAINTY };
    g_autoptr(GPtrArray) rows = query_all (catalog, &q);
    double previous = G_MAXDOUBLE;

    g_assert_cmpuint (rows->len, ==, 4);
    g_assert_cmpint (leaf_catalog_image_get_id (rows->pdata[0]), ==, 4);
    g_assert_cmpint (leaf_catalog_image_get_id (rows->pdata[1]), ==, 2);
    for (guint i = 0; i < rows->len; i++)
      {
        double entropy = 0;

        g_assert_true (leaf_catalog_image_get_prediction (rows->pdata[i], NULL, NULL, &entropy));
        g_assert_cmpfloat (entropy, <=, previous);
        previous = entropy;
      }
  }
  {
    /* Uncertain: exactly the referred images, most uncertain first, whatever their label; the
     * count agrees with the rows. */
    LeafImageQuery q = { .model_id = model, .uncertain_only = TRUE,
                         .sort = LEAF_IMAGE_SORT_UNCERTAINTY };
    g_autoptr(GPtrArray) rows = query_all (catalog, &q);
    g_autoptr(LeafCatalogImage) sure = NULL;
    guint count = 0;

    g_assert_cmpuint (rows->len, ==, 3);
    g_assert_cmpint (leaf_catalog_image_get_id (rows->pdata[0]), ==, 4);
    g_assert_cmpint (leaf_catalog_image_get_id (rows->pdata[1]), ==, 2);
    g_assert_cmpint (leaf_catalog_image_get_id (rows->pdata[2]), ==, 3);
    for (guint i = 0; i < rows->len; i++)
      g_assert_true (leaf_catalog_image_get_referred (rows->pdata[i]));
    g_assert_true (leaf_catalog_count_images (catalog, &q, &count, &error));
    g_assert_cmpuint (count, ==, 3);
    q.labels = LEAF_LABEL_FILTER_UNLABELED;
    g_assert_true (leaf_catalog_count_images (catalog, &q, &count, &error));
    g_assert_cmpuint (count, ==, 1);

    /* One image, with the prediction a query naming the model attaches. */
    sure = leaf_catalog_get_predicted_image (catalog, 1, model, &error);
    g_assert_no_error (error);
    g_assert_true (leaf_catalog_image_get_prediction (sure, NULL, NULL, NULL));
    g_assert_false (leaf_catalog_image_get_referred (sure));
    g_clear_object (&sure);
    sure = leaf_catalog_get_image (catalog, 1, &error);
    g_assert_false (leaf_catalog_image_get_prediction (sure, NULL, NULL, NULL));
  }
  {
    /* What a model has not reviewed: images without its prediction, or with one that cannot say
     * whether it would refer them. */
    gint64 other = leaf_catalog_add_model (catalog, 0, "/m/third.pt",
                                           "1123456789abcdef0123456789abcdef"
                                           "0123456789abcdef0123456789abcdef",
                                           model_classes, NULL, &error);
    LeafImageQuery q = { .model_id = other, .unreviewed_only = TRUE };
    g_autoptr(GPtrArray) rows = NULL;
    guint count = 0;

    g_assert_no_error (error);
    g_assert_true (leaf_catalog_count_images (catalog, &q, &count, &error));
    g_assert_cmpuint (count, ==, 4);
    leaf_catalog_add_predictions (catalog, other, images, 1, probabilities, 3, NULL, &error);
    leaf_catalog_add_predictions (catalog, other, images + 1, 1, probabilities + 3, 3,
                                  referred + 1, &error);
    g_assert_no_error (error);
    rows = query_all (catalog, &q);
    g_assert_cmpuint (rows->len, ==, 3);
    g_assert_cmpint (leaf_catalog_image_get_id (rows->pdata[0]), ==, 1);
    g_assert_true (leaf_catalog_count_images (catalog, &q, &count, &error));
    g_assert_cmpuint (count, ==, 3);
    q.model_id = model;
    g_assert_true (leaf_catalog_count_images (catalog, &q, &count, &error));
    g_assert_cmpuint (count, ==, 0);
  }
}

/* ---- Signals ---- */

typedef struct
{
  LeafCatalog *catalog;
  gint64 image_id;
  gint64 class_id;
  GThread *main_thread;
  guint n_signals;
  gboolean worker_done;
} SignalData;

static void
on_labels_changed_cb (LeafCatalog *catalog,
                      GArray      *ids,
                      SignalData  *data)
{
  g_assert_true (g_thread_self () == data->main_thread);
  g_assert_nonnull (ids);
  g_assert_cmpuint (ids->len, ==, 1);
  g_assert_cmpint (g_array_index (ids, gint64, 0), ==, data->image_id);
  data->n_signals++;
}

static gpointer
label_in_thread (gpointer user_data)
{
  SignalData *data = user_data;
  g_autoptr(GError) error = NULL;

  leaf_catalog_set_labels (data->catalog, &data->image_id, 1, data->class_id,
                           LEAF_LABEL_HOW_MANUAL, &error);
  g_assert_no_error (error);
  g_atomic_int_set (&data->worker_done, TRUE);
  return NULL;
}

static void
test_signals_on_owner_context (Fixture       *fixture,
                               gconstpointer  data)
{
  SignalData signal_data = { fixture->catalog, 1, 0, g_thread_self (), 0, FALSE };
  g_autoptr(GThread) thread = NULL;

  ctu_insert_images (fixture->path, 1, 1);
  signal_data.class_id = add_class (fixture->catalog, "healthy");
  g_signal_connect (fixture->catalog, "labels-changed", G_CALLBACK (on_labels_changed_cb),
                    &signal_data);

  /* On the owner's thread the signal comes at once. */
  label (fixture->catalog, 1, signal_data.class_id, LEAF_LABEL_HOW_SUGGESTION);
  g_assert_cmpuint (signal_data.n_signals, ==, 1);

  /* From a worker it waits for the owner's main context. */
  thread = g_thread_new ("labeller", label_in_thread, &signal_data);
  g_thread_join (g_steal_pointer (&thread));
  g_assert_true (signal_data.worker_done);
  g_assert_cmpuint (signal_data.n_signals, ==, 1);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (signal_data.n_signals, ==, 2);
  g_signal_handlers_disconnect_by_data (fixture->catalog, &signal_data);
}

static gpointer
list_classes_in_thread (gpointer catalog)
{
  g_autoptr(GError) error = NULL;
  GPtrArray *classes = leaf_catalog_list_classes (catalog, &error);

  g_assert_no_error (error);
  return classes;
}

static void
on_classes_changed_cb (LeafCatalog *catalog,
                       guint       *n_seen)
{
  /* Handlers run with the catalog's lock let go: a thread of theirs may use the catalog. */
  GThread *thread = g_thread_new ("reader", list_classes_in_thread, catalog);
  g_autoptr(GPtrArray) classes = g_thread_join (thread);

  *n_seen = classes->len;
}

static void
test_handlers_run_unlocked (Fixture       *fixture,
                            gconstpointer  data)
{
  guint n_seen = 0;

  g_signal_connect (fixture->catalog, "classes-changed", G_CALLBACK (on_classes_changed_cb),
                    &n_seen);
  add_class (fixture->catalog, "healthy");
  g_assert_cmpuint (n_seen, ==, 1);
  add_class (fixture->catalog, "blight");
  g_assert_cmpuint (n_seen, ==, 2);
  g_signal_handlers_disconnect_by_data (fixture->catalog, &n_seen);
}

static void
test_closed_catalog_fails (Fixture       *fixture,
                           gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) classes = NULL;

  leaf_catalog_close (fixture->catalog);
  classes = leaf_catalog_list_classes (fixture->catalog, &error);
  g_assert_null (classes);
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FAILED);
}

int
main (int   argc,
      char *argv[])
{
  leaf_test_init (&argc, &argv);

#define ADD(path, func) \
  g_test_add ("/catalog/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

  ADD ("open/creates-wal-catalog", test_open_creates);
  g_test_add_func ("/catalog/open/missing-file", test_open_missing);
  ADD ("open/refuses-newer-version-unchanged", test_open_refuses_newer);
  g_test_add_func ("/catalog/open/refuses-foreign-files", test_open_refuses_foreign);
  g_test_add_func ("/catalog/open/refuses-damaged-header-unchanged",
                   test_open_refuses_damaged_header);
  g_test_add_func ("/catalog/open/refuses-header-without-tables", test_open_refuses_tables_missing);
  g_test_add_func ("/catalog/migrate/from-every-earlier-version", test_migrations);
  g_test_add_func ("/catalog/migrate/replaces-damaged-backup",
                   test_migration_backup_replaced_when_damaged);
  g_test_add_func ("/catalog/files/read-only-reads-wal", test_read_only_reads_wal);
  g_test_add_func ("/catalog/files/deleted-journal-detected", test_deleted_journal_detected);
  ADD ("files/full-disk-says-so", test_full_disk_says_so);
  ADD ("db/transaction-rolls-back-unless-committed", test_transaction_rolls_back);
  ADD ("classes/add-rename-colour-shortcut-move", test_classes);
  ADD ("classes/remove-and-undo", test_remove_class);
  ADD ("labels/provenance", test_label_provenance);
  ADD ("labels/undo-redo-across-reopen", test_undo_redo_across_reopen);
  ADD ("labels/undo-restores-provenance", test_undo_restores_provenance);
  ADD ("query/filters-paging-lookup", test_queries);
  g_test_add_func ("/catalog/splits/stratified-grouped-seeded-stable", test_splits);
  ADD ("runs/metrics-status-interrupted", test_runs);
  ADD ("models/predictions-disagreements-uncertainty", test_models_and_predictions);
  ADD ("signals/emitted-on-owner-context", test_signals_on_owner_context);
  ADD ("signals/handlers-run-unlocked", test_handlers_run_unlocked);
  ADD ("open/closed-catalog-fails", test_closed_catalog_fails);

  return g_test_run ();
}
