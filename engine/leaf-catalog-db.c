/* leaf-catalog-db.c: SQLite connections, the schema and its migrations
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-catalog"

#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "leaf-catalog-private.h"
#include "leaf-error.h"

/* "Leaf", so that `file` and our own open can tell a catalog from any other SQLite file. */
#define LEAF_CATALOG_APPLICATION_ID 0x4c656166

/* Each entry takes the schema from version i to i + 1. Entries are never edited once released:
 * a change is a new entry. Version 1 is the labelling catalog; version 2 adds what training
 * records. */
static const char *const migrations[LEAF_CATALOG_SCHEMA_VERSION] = {
  /* 0 → 1 */
  "CREATE TABLE import_batches ("
  "  id INTEGER PRIMARY KEY,"
  "  started TEXT NOT NULL,"
  "  finished TEXT,"
  "  user TEXT NOT NULL,"
  "  roots TEXT NOT NULL CHECK (json_valid (roots)),"
  "  n_added INTEGER NOT NULL DEFAULT 0"
  ");"
  "CREATE TABLE images ("
  "  id INTEGER PRIMARY KEY,"
  "  sha256 TEXT NOT NULL UNIQUE CHECK (length (sha256) = 64),"
  "  path TEXT NOT NULL,"
  "  name TEXT NOT NULL,"
  "  size INTEGER NOT NULL CHECK (size > 0),"
  "  width INTEGER NOT NULL CHECK (width > 0),"
  "  height INTEGER NOT NULL CHECK (height > 0),"
  "  format TEXT NOT NULL,"
  "  orientation INTEGER NOT NULL DEFAULT 1 CHECK (orientation BETWEEN 1 AND 8),"
  "  captured TEXT,"
  "  imported TEXT NOT NULL,"
  "  batch_id INTEGER REFERENCES import_batches (id) ON DELETE SET NULL,"
  "  group_key TEXT,"
  "  managed INTEGER NOT NULL DEFAULT 0,"
  "  missing INTEGER NOT NULL DEFAULT 0"
  ");"
  "CREATE INDEX images_path ON images (path);"
  "CREATE INDEX images_name ON images (name, id);"
  "CREATE INDEX images_captured ON images (captured, id);"
  "CREATE INDEX images_group ON images (group_key) WHERE group_key IS NOT NULL;"
  "CREATE INDEX images_missing ON images (id) WHERE missing;"
  "CREATE TABLE classes ("
  "  id INTEGER PRIMARY KEY,"
  "  name TEXT NOT NULL,"
  "  position INTEGER NOT NULL,"
  "  color TEXT NOT NULL,"
  "  shortcut TEXT,"
  "  created TEXT NOT NULL,"
  "  removed INTEGER NOT NULL DEFAULT 0"
  ");"
  /* Removed classes stay as rows so that the label history can still name them. */
  "CREATE UNIQUE INDEX classes_name ON classes (name) WHERE NOT removed;"
  "CREATE UNIQUE INDEX classes_shortcut ON classes (shortcut)"
  "  WHERE NOT removed AND shortcut IS NOT NULL;"
  "CREATE TABLE labels ("
  "  image_id INTEGER PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,"
  "  class_id INTEGER NOT NULL REFERENCES classes (id),"
  "  user TEXT NOT NULL,"
  "  time TEXT NOT NULL,"
  "  how TEXT NOT NULL CHECK (how IN ('folder-import', 'manual', 'suggestion'))"
  ");"
  "CREATE INDEX labels_class ON labels (class_id, image_id);"
  "CREATE INDEX labels_user ON labels (user, image_id);"
  /* state: 0 done (on the undo stack), 1 undone (on the redo stack), 2 discarded (undone, then
   * superseded by a new action; kept as history). */
  "CREATE TABLE label_actions ("
  "  id INTEGER PRIMARY KEY,"
  "  user TEXT NOT NULL,"
  "  time TEXT NOT NULL,"
  "  how TEXT NOT NULL CHECK (how IN ('folder-import', 'manual', 'suggestion')),"
  "  state INTEGER NOT NULL DEFAULT 0 CHECK (state IN (0, 1, 2))"
  ");"
  "CREATE INDEX label_actions_state ON label_actions (state, id);"
  "CREATE TABLE label_events ("
  "  id INTEGER PRIMARY KEY,"
  "  action_id INTEGER NOT NULL REFERENCES label_actions (id) ON DELETE CASCADE,"
  "  image_id INTEGER NOT NULL REFERENCES images (id) ON DELETE CASCADE,"
  "  old_class_id INTEGER REFERENCES classes (id),"
  "  old_user TEXT,"
  "  old_time TEXT,"
  "  old_how TEXT,"
  "  new_class_id INTEGER REFERENCES classes (id)"
  ");"
  "CREATE INDEX label_events_action ON label_events (action_id, id);"
  "CREATE INDEX label_events_image ON label_events (image_id);",

  /* 1 → 2 */
  "CREATE TABLE splits ("
  "  image_id INTEGER PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,"
  "  split INTEGER NOT NULL CHECK (split IN (1, 2, 3)),"
  "  seed INTEGER NOT NULL,"
  "  assigned TEXT NOT NULL"
  ");"
  "CREATE INDEX splits_split ON splits (split, image_id);"
  "CREATE TABLE runs ("
  "  id INTEGER PRIMARY KEY,"
  "  config TEXT NOT NULL CHECK (json_valid (config)),"
  "  status TEXT NOT NULL"
  "    CHECK (status IN ('running', 'completed', 'failed', 'cancelled', 'interrupted')),"
  "  started TEXT NOT NULL,"
  "  finished TEXT,"
  "  base_weights_sha256 TEXT,"
  "  message TEXT,"
  "  host TEXT NOT NULL,"
  "  pid INTEGER NOT NULL"
  ");"
  "CREATE TABLE metrics ("
  "  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
  "  scope INTEGER NOT NULL CHECK (scope IN (0, 1)),"
  "  name TEXT NOT NULL,"
  "  step INTEGER NOT NULL,"
  "  value REAL,"
  "  PRIMARY KEY (run_id, scope, name, step)"
  ") WITHOUT ROWID;"
  "CREATE TABLE models ("
  "  id INTEGER PRIMARY KEY,"
  "  run_id INTEGER REFERENCES runs (id) ON DELETE SET NULL,"
  "  path TEXT NOT NULL,"
  "  sha256 TEXT NOT NULL CHECK (length (sha256) = 64),"
  "  classes TEXT NOT NULL CHECK (json_valid (classes)),"
  "  metrics TEXT CHECK (metrics IS NULL OR json_valid (metrics)),"
  "  created TEXT NOT NULL"
  ");"
  "CREATE TABLE predictions ("
  "  model_id INTEGER NOT NULL REFERENCES models (id) ON DELETE CASCADE,"
  "  image_id INTEGER NOT NULL REFERENCES images (id) ON DELETE CASCADE,"
  "  probabilities BLOB NOT NULL,"
  "  top_index INTEGER NOT NULL,"
  "  top_class_id INTEGER REFERENCES classes (id),"
  "  top_probability REAL NOT NULL,"
  "  entropy REAL NOT NULL,"
  "  created TEXT NOT NULL,"
  "  PRIMARY KEY (model_id, image_id)"
  ") WITHOUT ROWID;"
  "CREATE INDEX predictions_entropy ON predictions (model_id, entropy DESC, image_id);",
};

char *
_leaf_now (void)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();

  return g_date_time_format (now, "%Y-%m-%dT%H:%M:%S.%fZ");
}

GDateTime *
_leaf_parse_time (const char *text)
{
  g_autoptr(GTimeZone) local = NULL;

  if (text == NULL)
    return NULL;
  /* Capture times come from EXIF, which has no zone: they are the camera's local time. */
  local = g_time_zone_new_local ();
  return g_date_time_new_from_iso8601 (text, local);
}

char *
_leaf_format_local_time (GDateTime *time)
{
  g_autoptr(GDateTime) local = g_date_time_to_local (time);

  return g_date_time_format (local, "%Y-%m-%dT%H:%M:%S");
}

void
_leaf_stmt_release (LeafStmt *stmt)
{
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
}

gboolean
_leaf_db_fail (LeafDb   *db,
               GError  **error)
{
  int code = sqlite3_extended_errcode (db->handle);
  const char *detail = sqlite3_errmsg (db->handle);

  switch (code & 0xff)
    {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                   _("The catalog “%s” is busy in another program (%s). Try again when it is done."),
                   db->path, detail);
      break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FORMAT,
                   _("The catalog “%s” is damaged or is not a Leafscope catalog (%s)."),
                   db->path, detail);
      break;
    case SQLITE_FULL:
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                   _("The disk that holds the catalog “%s” is full. Free some space and try again."),
                   db->path);
      break;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                   _("Could not read or write the catalog “%s” (%s). Check that the file and its "
                     "folder are writable."),
                   db->path, detail);
      break;
    case SQLITE_CONSTRAINT:
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                   _("The catalog “%s” refused the change (%s)."), db->path, detail);
      break;
    default:
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FAILED,
                   _("Catalog “%s”: %s"), db->path, detail);
      break;
    }
  return FALSE;
}

LeafStmt *
_leaf_db_prepare (LeafDb      *db,
                  const char  *sql,
                  GError     **error)
{
  sqlite3_stmt *stmt = g_hash_table_lookup (db->statements, sql);

  if (stmt != NULL)
    {
      sqlite3_reset (stmt);
      return stmt;
    }
  if (sqlite3_prepare_v3 (db->handle, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL) != SQLITE_OK)
    {
      _leaf_db_fail (db, error);
      return NULL;
    }
  g_hash_table_insert (db->statements, g_strdup (sql), stmt);
  return stmt;
}

gboolean
_leaf_db_exec (LeafDb      *db,
               const char  *sql,
               GError     **error)
{
  if (sqlite3_exec (db->handle, sql, NULL, NULL, NULL) != SQLITE_OK)
    return _leaf_db_fail (db, error);
  return TRUE;
}

gboolean
_leaf_db_run (LeafDb    *db,
              LeafStmt  *stmt,
              GError   **error)
{
  int rc = sqlite3_step (stmt);

  if (rc != SQLITE_DONE && rc != SQLITE_ROW)
    {
      _leaf_db_fail (db, error);
      sqlite3_reset (stmt);
      return FALSE;
    }
  sqlite3_reset (stmt);
  return TRUE;
}

gboolean
_leaf_db_begin (LeafDb  *db,
                GError **error)
{
  /* IMMEDIATE takes the write lock now, so a transaction that reads before it writes cannot be
   * overtaken by another connection (and fail with SQLITE_BUSY half-way). */
  return _leaf_db_exec (db, "BEGIN IMMEDIATE", error);
}

gboolean
_leaf_db_commit (LeafDb  *db,
                 GError **error)
{
  if (_leaf_db_exec (db, "COMMIT", error))
    return TRUE;
  _leaf_db_rollback (db);
  return FALSE;
}

void
_leaf_db_rollback (LeafDb *db)
{
  if (!sqlite3_get_autocommit (db->handle))
    sqlite3_exec (db->handle, "ROLLBACK", NULL, NULL, NULL);
}

static gboolean
read_pragma_int (LeafDb      *db,
                 const char  *sql,
                 int         *value,
                 GError     **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc;

  if (sqlite3_prepare_v2 (db->handle, sql, -1, &stmt, NULL) != SQLITE_OK)
    return _leaf_db_fail (db, error);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    *value = sqlite3_column_int (stmt, 0);
  else
    _leaf_db_fail (db, error);
  sqlite3_finalize (stmt);
  return rc == SQLITE_ROW;
}

gboolean
_leaf_db_migrate (LeafDb  *db,
                  int      from,
                  int      to,
                  GError **error)
{
  g_autofree char *set_version = NULL;
  g_autofree char *set_id = NULL;

  g_assert (from >= 0 && to <= LEAF_CATALOG_SCHEMA_VERSION && from <= to);

  for (int v = from; v < to; v++)
    if (!_leaf_db_exec (db, migrations[v], error))
      return FALSE;
  set_id = g_strdup_printf ("PRAGMA application_id = %d", LEAF_CATALOG_APPLICATION_ID);
  set_version = g_strdup_printf ("PRAGMA user_version = %d", to);
  return _leaf_db_exec (db, set_id, error) && _leaf_db_exec (db, set_version, error);
}

/* Keeps a copy of the catalog as it was before a migration, in case the new version turns out
 * to be wrong for the user: "FILE.vN.backup". */
static gboolean
backup_before_migration (LeafDb  *db,
                         int      version,
                         GError **error)
{
  g_autofree char *backup = g_strdup_printf ("%s.v%d.backup", db->path, version);
  g_autofree char *sql = NULL;
  char *quoted;

  if (g_file_test (backup, G_FILE_TEST_EXISTS))
    return TRUE;
  quoted = sqlite3_mprintf ("VACUUM INTO %Q", backup);
  sql = g_strdup (quoted);
  sqlite3_free (quoted);
  return _leaf_db_exec (db, sql, error);
}

static gboolean
is_fresh_file (LeafDb   *db,
               gboolean *fresh,
               GError  **error)
{
  int n_objects = 0;

  if (!read_pragma_int (db, "SELECT count(*) FROM sqlite_schema", &n_objects, error))
    return FALSE;
  *fresh = n_objects == 0;
  return TRUE;
}

static gboolean
bring_up_to_date (LeafDb  *db,
                  GError **error)
{
  int version = 0;

  if (!_leaf_db_begin (db, error))
    return FALSE;
  /* Another process may have migrated between our first look and the write lock. */
  if (!read_pragma_int (db, "PRAGMA user_version", &version, error))
    goto fail;
  if (version < LEAF_CATALOG_SCHEMA_VERSION)
    {
      g_info ("Migrating catalog %s from version %d to %d", db->path, version,
              LEAF_CATALOG_SCHEMA_VERSION);
      if (!_leaf_db_migrate (db, version, LEAF_CATALOG_SCHEMA_VERSION, error))
        goto fail;
    }
  if (!_leaf_runs_mark_interrupted (db, error))
    goto fail;
  return _leaf_db_commit (db, error);

fail:
  _leaf_db_rollback (db);
  return FALSE;
}

/* SQLite reads a WAL catalog only through its -shm file, which it must be able to create next
 * to the catalog; in a folder we may not write either, the file is read as immutable, which
 * is what it is to us. */
static gboolean
open_read_only (LeafDb *db)
{
  g_autofree char *absolute = g_canonicalize_filename (db->path, NULL);
  g_autofree char *dir = g_path_get_dirname (absolute);
  g_autofree char *uri = g_filename_to_uri (absolute, NULL, NULL);
  g_autofree char *with_mode = NULL;

  if (uri == NULL)
    return FALSE;
  with_mode = g_strconcat (uri, g_access (dir, W_OK) == 0 ? "?mode=ro" : "?immutable=1", NULL);
  return sqlite3_open_v2 (with_mode, &db->handle,
                          SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
                          NULL) == SQLITE_OK;
}

static void
finalize_statement (gpointer stmt)
{
  sqlite3_finalize (stmt);
}

static LeafDb *
db_new (const char *path)
{
  LeafDb *db = g_new0 (LeafDb, 1);

  db->path = g_strdup (path);
  db->statements = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, finalize_statement);
  return db;
}

LeafDb *
_leaf_db_open (const char  *path,
               gboolean     create,
               LeafDbRole   role,
               GError     **error)
{
  g_autoptr(LeafDb) db = NULL;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  int app_id = 0;
  int version = 0;
  gboolean fresh = FALSE;

  g_assert (path != NULL);

  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                   _("“%s” is a folder, not a catalog file."), path);
      return NULL;
    }
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_autofree char *parent = g_path_get_dirname (path);

      if (!create)
        {
          g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND,
                       _("There is no catalog at “%s”. Create it first (leafscope-cli init)."),
                       path);
          return NULL;
        }
      if (g_mkdir_with_parents (parent, 0755) != 0)
        {
          int saved_errno = errno;

          g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                       _("Could not create the folder “%s” for the catalog: %s"),
                       parent, g_strerror (saved_errno));
          return NULL;
        }
      flags |= SQLITE_OPEN_CREATE;
    }

  db = db_new (path);
  if (!(flags & SQLITE_OPEN_CREATE) && g_access (path, W_OK) != 0)
    db->read_only = TRUE;
  if (db->read_only ? !open_read_only (db)
                    : sqlite3_open_v2 (path, &db->handle, flags, NULL) != SQLITE_OK)
    {
      if (db->handle == NULL)
        g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                     _("Could not open the catalog “%s”."), path);
      else
        _leaf_db_fail (db, error);
      return NULL;
    }
  sqlite3_extended_result_codes (db->handle, 1);
  sqlite3_busy_timeout (db->handle, 10000);

  /* Look before touching anything: a catalog from a newer Leafscope, or another program's
   * database, must come out of this unchanged. */
  if (!read_pragma_int (db, "PRAGMA application_id", &app_id, error) ||
      !read_pragma_int (db, "PRAGMA user_version", &version, error) ||
      !is_fresh_file (db, &fresh, error))
    return NULL;
  if (!fresh && app_id != LEAF_CATALOG_APPLICATION_ID)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FORMAT,
                   _("“%s” is an SQLite database but not a Leafscope catalog."), path);
      return NULL;
    }
  if (version > LEAF_CATALOG_SCHEMA_VERSION)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_TOO_NEW,
                   _("The catalog “%s” was written by a newer Leafscope (catalog version %d; this "
                     "one reads up to version %d). Update Leafscope to open it; the file was not "
                     "changed."),
                   path, version, LEAF_CATALOG_SCHEMA_VERSION);
      return NULL;
    }
  if (role == LEAF_DB_WORKER && version != LEAF_CATALOG_SCHEMA_VERSION)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FAILED,
                   _("The catalog “%s” changed version while it was open."), path);
      return NULL;
    }

  if ((!db->read_only && !_leaf_db_exec (db, "PRAGMA journal_mode = WAL", error)) ||
      /* FULL: a label whose call returned survives a power cut, not only a crash. */
      !_leaf_db_exec (db, "PRAGMA synchronous = FULL", error) ||
      !_leaf_db_exec (db, "PRAGMA foreign_keys = ON", error) ||
      !_leaf_db_exec (db, "PRAGMA cache_size = -16384", error))
    return NULL;

  /* Nothing can be migrated or marked in a file we may not write: it is read as it is, and
   * every command that writes fails with the message for an unwritable catalog. */
  if (db->read_only && version < LEAF_CATALOG_SCHEMA_VERSION)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                   _("The catalog “%s” must be updated to this version of Leafscope, but "
                     "it is read-only. Make the file and its folder writable and open it "
                     "again."), db->path);
      return NULL;
    }
  if (role == LEAF_DB_MAIN && !db->read_only)
    {
      if (version >= 1 && version < LEAF_CATALOG_SCHEMA_VERSION &&
          !backup_before_migration (db, version, error))
        return NULL;
      if (!bring_up_to_date (db, error))
        return NULL;
    }
  return g_steal_pointer (&db);
}

void
_leaf_db_close (LeafDb *db)
{
  if (db == NULL)
    return;
  g_clear_pointer (&db->statements, g_hash_table_unref);
  if (db->handle != NULL)
    {
      /* Lets SQLite refresh the statistics its planner uses, cheaply, as it recommends. */
      sqlite3_exec (db->handle, "PRAGMA optimize", NULL, NULL, NULL);
      if (sqlite3_close (db->handle) != SQLITE_OK)
        g_warning ("Could not close the catalog %s cleanly: %s", db->path,
                   sqlite3_errmsg (db->handle));
    }
  g_free (db->path);
  g_free (db);
}

gboolean
_leaf_db_create_at_version (const char  *path,
                            int          version,
                            GError     **error)
{
  g_autoptr(LeafDb) db = db_new (path);

  if (sqlite3_open_v2 (path, &db->handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL)
      != SQLITE_OK)
    return _leaf_db_fail (db, error);
  if (!_leaf_db_exec (db, "PRAGMA journal_mode = WAL", error) ||
      !_leaf_db_exec (db, "PRAGMA foreign_keys = ON", error) ||
      !_leaf_db_begin (db, error))
    return FALSE;
  if (!_leaf_db_migrate (db, 0, version, error))
    {
      _leaf_db_rollback (db);
      return FALSE;
    }
  return _leaf_db_commit (db, error);
}
