/* leaf-catalog-db.c: SQLite connections, the schema and its migrations
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-catalog"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <math.h>
#include <sys/statvfs.h>
#include <sqlite3.h>
#include <unistd.h>

#include "leaf-catalog-pg.h"
#include "leaf-catalog-private.h"
#include "leaf-error.h"

/* "Leaf", so that `file` and our own open can tell a catalog from any other SQLite file. */
#define LEAF_CATALOG_APPLICATION_ID 0x4c656166

/* Versions go up by one for each release that changes the schema: a header claiming more than
 * this was not written by a newer Leafscope but damaged (a flipped high bit). */
#define LEAF_CATALOG_MAX_PLAUSIBLE_VERSION 1000

/* Each entry takes the schema from version i to i + 1. Entries are never edited once released:
 * a change is a new entry. Version 1 is the labelling catalog; version 2 adds what training
 * records; version 3 makes models first-class: names, the note saying why a run's model was
 * or was not made active, and the active model; version 4 records with each prediction whether
 * the model would refer the photo, for the Library's Uncertain filter; version 5 makes labels
 * votes, with adjudications; version 6 states its partial indexes as a server can read them;
 * version 7 keeps files' contents in the catalog, for everyone who opens it. */
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

  /* 2 → 3. One row: the model diagnoses use, none when it is removed. Before, they used the
   * latest model, even one of a stopped run; a catalog updated keeps the latest model of a
   * completed run, or the latest model when no run completed. */
  "ALTER TABLE models ADD COLUMN name TEXT;"
  "ALTER TABLE models ADD COLUMN note TEXT;"
  "CREATE TABLE active_model ("
  "  id INTEGER PRIMARY KEY CHECK (id = 1),"
  "  model_id INTEGER REFERENCES models (id) ON DELETE SET NULL"
  ");"
  "INSERT INTO active_model (id, model_id) VALUES (1, coalesce ("
  "  (SELECT m.id FROM models AS m JOIN runs AS r ON r.id = m.run_id"
  "   WHERE r.status = 'completed' ORDER BY m.id DESC LIMIT 1),"
  "  (SELECT max (id) FROM models)));",

  /* 3 → 4. Whether the model would refer the photo (its top probability below the model's
   * threshold, or the photo unlike its training photos); NULL when the prediction was made
   * without the check for unfamiliar photos. Older predictions cannot say, and are derived data:
   * they go, and the window predicts the photos again with the active model. */
  "DELETE FROM predictions;"
  "ALTER TABLE predictions ADD COLUMN referred INTEGER CHECK (referred IN (0, 1));",

  /* 4 → 5. A label is a labeller's vote: several people may label one photo. labels keeps
   * what training and the Library use (the adjudicator's decision, else the majority of the
   * ballots, else nothing while the top classes tie), derived from votes and adjudications
   * whenever they change. Every label so far becomes its labeller's vote; events name the
   * labeller whose vote they change (NULL in older events: their action's user). */
  "CREATE TABLE votes ("
  "  image_id INTEGER NOT NULL REFERENCES images (id) ON DELETE CASCADE,"
  "  labeller TEXT NOT NULL,"
  "  class_id INTEGER NOT NULL REFERENCES classes (id),"
  "  time TEXT NOT NULL,"
  "  how TEXT NOT NULL CHECK (how IN ('folder-import', 'manual', 'suggestion')),"
  "  PRIMARY KEY (image_id, labeller)"
  ") WITHOUT ROWID;"
  "CREATE INDEX votes_labeller ON votes (labeller, image_id);"
  /* The votes that count: a folder's name is where photos came from, not an opinion, so it
   * counts only until someone votes on the photo. */
  "CREATE VIEW ballots AS SELECT v.* FROM votes v WHERE v.how <> 'folder-import'"
  "  OR NOT EXISTS (SELECT 1 FROM votes w WHERE w.image_id = v.image_id"
  "                 AND w.how <> 'folder-import');"
  "CREATE TABLE adjudications ("
  "  image_id INTEGER PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,"
  "  class_id INTEGER NOT NULL REFERENCES classes (id),"
  "  adjudicator TEXT NOT NULL,"
  "  time TEXT NOT NULL"
  ");"
  "ALTER TABLE label_events ADD COLUMN labeller TEXT;"
  "INSERT INTO votes (image_id, labeller, class_id, time, how)"
  "  SELECT image_id, user, class_id, time, how FROM labels;",

  /* 5 → 6. The catalog's SQL also runs on a PostgreSQL server, where a 0/1 column is no truth
   * value: queries say removed = 0 and missing <> 0. SQLite uses a partial index only for the
   * condition it was made with, so the indexes are made again with those conditions. */
  "DROP INDEX classes_name;"
  "CREATE UNIQUE INDEX classes_name ON classes (name) WHERE removed = 0;"
  "DROP INDEX classes_shortcut;"
  "CREATE UNIQUE INDEX classes_shortcut ON classes (shortcut)"
  "  WHERE removed = 0 AND shortcut IS NOT NULL;"
  "DROP INDEX images_missing;"
  "CREATE INDEX images_missing ON images (id) WHERE missing <> 0;",

  /* 6 → 7. The bytes of photos and models, by SHA-256, for catalogs opened on machines that do
   * not have the files: a server's catalog, and a file copied from one. */
  "CREATE TABLE contents ("
  "  sha256 TEXT PRIMARY KEY CHECK (length (sha256) = 64),"
  "  data BLOB NOT NULL"
  ");",
};

/* Counts what each version adds, in order: a header naming an older version than what its
 * file holds was damaged, and migrating it would fail half-way. */
static const char *const version_marks[LEAF_CATALOG_SCHEMA_VERSION] = {
  "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'images'",
  "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'runs'",
  "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'active_model'",
  "SELECT count(*) FROM pragma_table_info ('predictions') WHERE name = 'referred'",
  "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'votes'",
  "SELECT count(*) FROM sqlite_schema WHERE name = 'classes_name' AND sql LIKE '%removed = 0%'",
  "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'contents'",
};

/* Model paths inside the catalog's folder become relative to it, as version 3 stores them, so
 * that the catalog and its models folder can move together. */
static gboolean
store_model_paths_relative (LeafDb  *db,
                            GError **error)
{
  g_autofree char *absolute = g_canonicalize_filename (db->path, NULL);
  g_autofree char *dir = g_path_get_dirname (absolute);
  g_autofree char *prefix = g_str_has_suffix (dir, G_DIR_SEPARATOR_S)
                              ? g_strdup (dir) : g_strconcat (dir, G_DIR_SEPARATOR_S, NULL);
  g_autoptr(LeafStmt) stmt =
    _leaf_db_prepare (db, "UPDATE models SET path = substr (path, length (?1) + 1) "
                      "WHERE substr (path, 1, length (?1)) = ?1", error);

  if (stmt == NULL)
    return FALSE;
  _leaf_bind_text (stmt, 1, prefix);
  return _leaf_db_run (db, stmt, error);
}

/* What an entry of migrations[] needs done that SQL alone cannot do, run right after it. */
static gboolean (*const migration_steps[LEAF_CATALOG_SCHEMA_VERSION]) (LeafDb *, GError **) = {
  [2] = store_model_paths_relative,
};

char *
_leaf_now (void)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();

  return g_date_time_format (now, "%Y-%m-%dT%H:%M:%S.%fZ");
}

/* Until told otherwise (Preferences, `--labeller`), a label is the vote of the account that
 * made it, as labels were before votes: on a server, the role it connected as, which names one
 * person wherever they work; on a file, the user of this machine. */
const char *
_leaf_default_labeller (LeafDb *db)
{
  return db->server != NULL ? _leaf_pg_role (db) : g_get_user_name ();
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

/* A statement of one backend or the other: a file's or a server's. */
struct _LeafStmt
{
  LeafDb *db;
  sqlite3_stmt *lite;
  LeafPgStmt *server;
};

/* The server's type oids of the values bound (pg_type.dat). */
enum
{
  SERVER_INT8 = 20,
  SERVER_TEXT = 25,
  SERVER_FLOAT8 = 701,
  SERVER_BYTEA = 17,
};

static void
stmt_reset (LeafStmt *stmt)
{
  if (stmt->server != NULL)
    _leaf_pg_stmt_reset (stmt->server);
  else
    sqlite3_reset (stmt->lite);
}

void
_leaf_stmt_release (LeafStmt *stmt)
{
  stmt_reset (stmt);
  if (stmt->server != NULL)
    _leaf_pg_stmt_clear (stmt->server);
  else
    sqlite3_clear_bindings (stmt->lite);
}

static void
stmt_free (gpointer data)
{
  LeafStmt *stmt = data;

  if (stmt->server != NULL)
    _leaf_pg_stmt_free (stmt->server);
  else
    sqlite3_finalize (stmt->lite);
  g_free (stmt);
}

LeafStep
_leaf_step (LeafStmt *stmt)
{
  if (stmt->server != NULL)
    return _leaf_pg_step (stmt->db, stmt->server);
  switch (sqlite3_step (stmt->lite))
    {
    case SQLITE_ROW:
      return LEAF_STEP_ROW;
    case SQLITE_DONE:
      return LEAF_STEP_DONE;
    default:
      return LEAF_STEP_FAILED;
    }
}

void
_leaf_bind_int64 (LeafStmt *stmt,
                  int       index,
                  gint64    value)
{
  if (stmt->server != NULL)
    {
      char text[24];

      g_snprintf (text, sizeof text, "%" G_GINT64_FORMAT, value);
      _leaf_pg_bind (stmt->server, index, SERVER_INT8, text, strlen (text), FALSE);
    }
  else
    sqlite3_bind_int64 (stmt->lite, index, value);
}

void
_leaf_bind_double (LeafStmt *stmt,
                   int       index,
                   double    value)
{
  if (stmt->server != NULL)
    {
      char text[G_ASCII_DTOSTR_BUF_SIZE];

      /* SQLite stores NaN as NULL. */
      if (isnan (value))
        _leaf_pg_bind (stmt->server, index, SERVER_FLOAT8, NULL, 0, FALSE);
      else
        {
          g_ascii_dtostr (text, sizeof text, value);
          _leaf_pg_bind (stmt->server, index, SERVER_FLOAT8, text, strlen (text), FALSE);
        }
    }
  else
    sqlite3_bind_double (stmt->lite, index, value);
}

void
_leaf_bind_text (LeafStmt   *stmt,
                 int         index,
                 const char *text)
{
  if (stmt->server != NULL)
    _leaf_pg_bind (stmt->server, index, text != NULL ? SERVER_TEXT : 0, text,
                   text != NULL ? strlen (text) : 0, FALSE);
  else if (text != NULL)
    sqlite3_bind_text (stmt->lite, index, text, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null (stmt->lite, index);
}

void
_leaf_bind_blob (LeafStmt      *stmt,
                 int            index,
                 gconstpointer  data,
                 gsize          size)
{
  if (stmt->server != NULL)
    _leaf_pg_bind (stmt->server, index, SERVER_BYTEA, data, size, TRUE);
  else
    sqlite3_bind_blob64 (stmt->lite, index, data, size, SQLITE_TRANSIENT);
}

void
_leaf_bind_null (LeafStmt *stmt,
                 int       index)
{
  if (stmt->server != NULL)
    _leaf_pg_bind (stmt->server, index, 0, NULL, 0, FALSE);
  else
    sqlite3_bind_null (stmt->lite, index);
}

int
_leaf_stmt_n_params (LeafStmt *stmt)
{
  if (stmt->server != NULL)
    return _leaf_pg_stmt_n_params (stmt->server);
  return sqlite3_bind_parameter_count (stmt->lite);
}

gint64
_leaf_column_int64 (LeafStmt *stmt,
                    int       column)
{
  if (stmt->server != NULL)
    return _leaf_pg_column_int64 (stmt->server, column);
  return sqlite3_column_int64 (stmt->lite, column);
}

int
_leaf_column_int (LeafStmt *stmt,
                  int       column)
{
  if (stmt->server != NULL)
    return (int) _leaf_pg_column_int64 (stmt->server, column);
  return sqlite3_column_int (stmt->lite, column);
}

double
_leaf_column_double (LeafStmt *stmt,
                     int       column)
{
  if (stmt->server != NULL)
    {
      const char *text = _leaf_pg_column_text (stmt->server, column);

      return text != NULL ? g_ascii_strtod (text, NULL) : 0.0;
    }
  return sqlite3_column_double (stmt->lite, column);
}

const char *
_leaf_column_text (LeafStmt *stmt,
                   int       column)
{
  if (stmt->server != NULL)
    return _leaf_pg_column_text (stmt->server, column);
  return (const char *) sqlite3_column_text (stmt->lite, column);
}

gconstpointer
_leaf_column_blob (LeafStmt *stmt,
                   int       column,
                   gsize    *size)
{
  gconstpointer data;

  if (stmt->server != NULL)
    return _leaf_pg_column_blob (stmt->server, column, size);
  data = sqlite3_column_blob (stmt->lite, column);
  *size = sqlite3_column_bytes (stmt->lite, column);
  return data;
}

gboolean
_leaf_column_is_null (LeafStmt *stmt,
                      int       column)
{
  if (stmt->server != NULL)
    return _leaf_pg_column_text (stmt->server, column) == NULL;
  return sqlite3_column_type (stmt->lite, column) == SQLITE_NULL;
}

gboolean
_leaf_db_query_int (LeafDb      *db,
                    const char  *sql,
                    gint64      *value,
                    GError     **error)
{
  g_autoptr(LeafStmt) stmt = _leaf_db_prepare (db, sql, error);

  if (stmt == NULL)
    return FALSE;
  if (_leaf_step (stmt) != LEAF_STEP_ROW)
    return _leaf_db_fail (db, error);
  *value = _leaf_column_int64 (stmt, 0);
  return TRUE;
}

gboolean
_leaf_db_data_version (LeafDb  *db,
                       gint64  *version,
                       GError **error)
{
  if (db->server != NULL)
    return _leaf_pg_data_version (db, version, error);
  return _leaf_db_query_int (db, "PRAGMA data_version", version, error);
}

gint64
_leaf_db_changes (LeafDb *db)
{
  if (db->server != NULL)
    return db->server_changes;
  return sqlite3_changes64 (db->handle);
}

static gboolean
means_no_room (int system_errno)
{
  return system_errno == ENOSPC || system_errno == EFBIG || system_errno == EDQUOT;
}

/* SQLite says SQLITE_FULL only when write() fails with ENOSPC; the same lack of room met while
 * syncing, or as EFBIG (a file size limit) or EDQUOT (a quota), comes as an I/O error with the
 * errno beside it. sqlite3_system_errno() has that errno for the errors of a statement but not
 * for those of COMMIT, which is when the -wal file is written and synced; each file keeps its
 * own last one. */
static gboolean
is_out_of_room (LeafDb *db,
                int     code)
{
  sqlite3_file *journal = NULL;
  int journal_errno = 0;
  int main_errno = 0;

  if ((code & 0xff) == SQLITE_FULL)
    return TRUE;
  if ((code & 0xff) != SQLITE_IOERR)
    return FALSE;
  if (sqlite3_file_control (db->handle, "main", SQLITE_FCNTL_JOURNAL_POINTER, &journal)
        == SQLITE_OK &&
      journal != NULL && journal->pMethods != NULL)
    journal->pMethods->xFileControl (journal, SQLITE_FCNTL_LAST_ERRNO, &journal_errno);
  sqlite3_file_control (db->handle, "main", SQLITE_FCNTL_LAST_ERRNO, &main_errno);
  return means_no_room (sqlite3_system_errno (db->handle)) || means_no_room (journal_errno) ||
         means_no_room (main_errno);
}

static void
set_out_of_room_error (LeafDb  *db,
                       GError **error)
{
  g_autofree char *dir = g_path_get_dirname (db->path);
  g_autofree char *free_size = NULL;
  struct statvfs fs;

  if (statvfs (dir, &fs) == 0)
    free_size = g_format_size ((guint64) fs.f_bavail * fs.f_frsize);
  g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
               _("There is no room to write the catalog “%s”: the disk that holds it is full, or "
                 "a quota or file size limit was reached (%s free in “%s”). Free some space and "
                 "try again; what was saved before is kept."),
               db->path, free_size != NULL ? free_size : "?", dir);
}

gboolean
_leaf_db_fail (LeafDb   *db,
               GError  **error)
{
  int code;
  const char *detail;

  if (db->server != NULL)
    return _leaf_pg_fail (db, error);
  code = sqlite3_extended_errcode (db->handle);
  detail = sqlite3_errmsg (db->handle);
  if (is_out_of_room (db, code))
    {
      set_out_of_room_error (db, error);
      return FALSE;
    }
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
  LeafStmt *stmt = g_hash_table_lookup (db->statements, sql);
  sqlite3_stmt *lite = NULL;

  if (stmt != NULL)
    {
      stmt_reset (stmt);
      return stmt;
    }
  /* The server checks a statement when it first runs. */
  if (db->server == NULL &&
      sqlite3_prepare_v3 (db->handle, sql, -1, SQLITE_PREPARE_PERSISTENT, &lite, NULL) != SQLITE_OK)
    {
      _leaf_db_fail (db, error);
      return NULL;
    }
  stmt = g_new0 (LeafStmt, 1);
  stmt->db = db;
  stmt->lite = lite;
  if (db->server != NULL)
    stmt->server = _leaf_pg_stmt_new (sql);
  g_hash_table_insert (db->statements, g_strdup (sql), stmt);
  return stmt;
}

gboolean
_leaf_db_exec (LeafDb      *db,
               const char  *sql,
               GError     **error)
{
  if (db->server != NULL)
    return _leaf_pg_exec (db, sql, error);
  if (sqlite3_exec (db->handle, sql, NULL, NULL, NULL) != SQLITE_OK)
    return _leaf_db_fail (db, error);
  return TRUE;
}

gboolean
_leaf_db_run (LeafDb    *db,
              LeafStmt  *stmt,
              GError   **error)
{
  return _leaf_db_insert (db, stmt, error) >= 0;
}

gint64
_leaf_db_insert (LeafDb    *db,
                 LeafStmt  *stmt,
                 GError   **error)
{
  LeafStep rc = _leaf_step (stmt);
  /* Every change is made by the first step; the row it returns is the RETURNING clause's. */
  gint64 id = rc == LEAF_STEP_ROW ? _leaf_column_int64 (stmt, 0) : 0;

  if (rc == LEAF_STEP_FAILED)
    {
      _leaf_db_fail (db, error);
      stmt_reset (stmt);
      return -1;
    }
  stmt_reset (stmt);
  return id;
}

static LeafFileId
file_id_of (const char *path)
{
  LeafFileId id = { FALSE, 0, 0 };
  GStatBuf st;

  if (g_stat (path, &st) == 0)
    {
      id.known = TRUE;
      id.device = st.st_dev;
      id.inode = st.st_ino;
    }
  return id;
}

static gboolean
is_same_file (const char       *path,
              const LeafFileId *id)
{
  LeafFileId now;

  if (!id->known)
    return TRUE;
  now = file_id_of (path);
  return now.known && now.device == id->device && now.inode == id->inode;
}

/* Once the connection has its -wal and -shm files open: SQLite keeps them open, and deletes them
 * only when the last connection to the catalog closes, so they stay the same files for as long
 * as this connection lives. */
static void
remember_journal (LeafDb *db)
{
  g_autofree char *wal = g_strconcat (db->path, "-wal", NULL);
  g_autofree char *shm = g_strconcat (db->path, "-shm", NULL);

  db->wal_id = file_id_of (wal);
  db->shm_id = file_id_of (shm);
}

/* SQLite does not notice when the catalog, its -wal or its -shm file is deleted or replaced
 * under an open connection (by a clean-up tool, a sync client, a user): it goes on writing to
 * files no other connection reads, and what it writes there is lost if the process dies before
 * it closes the catalog. So each write transaction first checks that the paths still name the
 * files this connection has open. */
static gboolean
check_files_in_place (LeafDb  *db,
                      GError **error)
{
  g_autofree char *wal = g_strconcat (db->path, "-wal", NULL);
  g_autofree char *shm = g_strconcat (db->path, "-shm", NULL);
  int moved = 0;

  if (sqlite3_file_control (db->handle, "main", SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK &&
      moved)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                   _("The catalog “%s” was deleted, moved or replaced while it was open, so "
                     "nothing more can be saved in it. Put the file back, or close the catalog "
                     "and open it again."), db->path);
      return FALSE;
    }
  if (!is_same_file (wal, &db->wal_id) || !is_same_file (shm, &db->shm_id))
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                   _("The files “%s-wal” and “%s-shm” of the catalog were deleted or replaced "
                     "while it was open, so nothing more can be saved safely. Close the "
                     "catalog, which saves what was done before, and open it again."),
                   db->path, db->path);
      return FALSE;
    }
  return TRUE;
}

LeafTxn *
_leaf_txn_begin (LeafDb  *db,
                 GError **error)
{
  if (db->server != NULL)
    return _leaf_pg_begin (db, error) ? (LeafTxn *) db : NULL;
  /* IMMEDIATE takes the write lock now, so a transaction that reads before it writes cannot be
   * overtaken by another connection (and fail with SQLITE_BUSY half-way). */
  if (!check_files_in_place (db, error) || !_leaf_db_exec (db, "BEGIN IMMEDIATE", error))
    return NULL;
  return (LeafTxn *) db;
}

void
_leaf_txn_rollback (LeafTxn *txn)
{
  LeafDb *db = (LeafDb *) txn;

  if (db->server != NULL)
    _leaf_pg_rollback (db);
  /* Nothing to do when SQLite already rolled the transaction back (after some errors). */
  else if (!sqlite3_get_autocommit (db->handle))
    sqlite3_exec (db->handle, "ROLLBACK", NULL, NULL, NULL);
}

gboolean
_leaf_txn_commit (LeafTxn **txn,
                  GError  **error)
{
  LeafDb *db = (LeafDb *) g_steal_pointer (txn);

  if (db->server != NULL ? _leaf_pg_commit (db, error) : _leaf_db_exec (db, "COMMIT", error))
    return TRUE;
  _leaf_txn_rollback ((LeafTxn *) db);
  return FALSE;
}

gboolean
_leaf_db_run_alone (LeafDb    *db,
                    LeafStmt  *stmt,
                    GError   **error)
{
  g_autoptr(LeafTxn) txn = _leaf_txn_begin (db, error);

  return txn != NULL && _leaf_db_run (db, stmt, error) && _leaf_txn_commit (&txn, error);
}

gint64
_leaf_db_insert_alone (LeafDb    *db,
                       LeafStmt  *stmt,
                       GError   **error)
{
  g_autoptr(LeafTxn) txn = _leaf_txn_begin (db, error);
  gint64 id = txn != NULL ? _leaf_db_insert (db, stmt, error) : -1;

  return id >= 0 && _leaf_txn_commit (&txn, error) ? id : -1;
}

GPtrArray *
_leaf_db_collect_rows (LeafDb          *db,
                       const char      *sql,
                       gint64           param,
                       LeafRowFunc      from_row,
                       GDestroyNotify   free_func,
                       GError         **error)
{
  g_autoptr(LeafStmt) stmt = _leaf_db_prepare (db, sql, error);
  g_autoptr(GPtrArray) rows = NULL;
  int rc;

  if (stmt == NULL)
    return NULL;
  _leaf_bind_int64 (stmt, 1, param);
  rows = g_ptr_array_new_with_free_func (free_func);
  while ((rc = _leaf_step (stmt)) == LEAF_STEP_ROW)
    g_ptr_array_add (rows, from_row (stmt));
  if (rc != LEAF_STEP_DONE)
    {
      _leaf_db_fail (db, error);
      return NULL;
    }
  return g_steal_pointer (&rows);
}

gpointer
_leaf_catalog_collect_one (LeafCatalog     *self,
                           const char      *sql,
                           gint64           param,
                           LeafRowFunc      from_row,
                           GDestroyNotify   free_func,
                           int              not_found_code,
                           const char      *not_found,
                           GError         **error)
{
  g_autoptr(LeafCatalogLocker) locker = _leaf_catalog_locker_new (self);
  g_autoptr(GPtrArray) rows = NULL;
  LeafDb *db;

  if ((db = _leaf_catalog_get_db (self, error)) == NULL ||
      (rows = _leaf_db_collect_rows (db, sql, param, from_row, free_func, error)) == NULL)
    return NULL;
  if (rows->len == 0)
    {
      g_set_error_literal (error, LEAF_ENGINE_ERROR, not_found_code, not_found);
      return NULL;
    }
  return g_ptr_array_steal_index (rows, 0);
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
    if (!_leaf_db_exec (db, migrations[v], error) ||
        (migration_steps[v] != NULL && !migration_steps[v] (db, error)))
      return FALSE;
  set_id = g_strdup_printf ("PRAGMA application_id = %d", LEAF_CATALOG_APPLICATION_ID);
  set_version = g_strdup_printf ("PRAGMA user_version = %d", to);
  return _leaf_db_exec (db, set_id, error) && _leaf_db_exec (db, set_version, error);
}

static LeafDb *
db_new (const char *path)
{
  LeafDb *db = g_new0 (LeafDb, 1);

  db->path = g_strdup (path);
  db->display_name = _leaf_pg_is_location (path) ? _leaf_pg_display_name (path) : g_strdup (path);
  db->labeller = g_strdup (g_get_user_name ());
  db->statements = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, stmt_free);
  return db;
}

static gboolean
damaged_header (LeafDb  *db,
                int      app_id,
                int      version,
                GError **error)
{
  g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FORMAT,
               _("The catalog “%s” is damaged: its header (catalog version %d, application id "
                 "%#010x) is not one Leafscope writes. Restore the file from a backup; it was not "
                 "changed."),
               db->path, version, (guint) app_id);
  return FALSE;
}

/* Reads the catalog version from the header, refusing any header that Leafscope cannot have
 * written: a bit flipped on the disk must give a message, not a migration from version
 * -2147483646 or the tables of version 0 laid over a catalog's. */
static gboolean
read_header (LeafDb  *db,
             int     *version,
             GError **error)
{
  int app_id = 0;
  int n_objects = 0;
  int n_tables = 0;

  if (!read_pragma_int (db, "PRAGMA application_id", &app_id, error) ||
      !read_pragma_int (db, "PRAGMA user_version", version, error) ||
      !read_pragma_int (db, "SELECT count(*) FROM sqlite_schema", &n_objects, error) ||
      !read_pragma_int (db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND "
                            "name IN ('images', 'classes', 'labels')", &n_tables, error))
    return FALSE;

  /* An empty file, new or made by the user, becomes a catalog. */
  if (app_id == 0 && *version == 0 && n_objects == 0)
    return TRUE;
  if (app_id != LEAF_CATALOG_APPLICATION_ID && n_tables < 3)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FORMAT,
                   _("“%s” is an SQLite database but not a Leafscope catalog."), db->path);
      return FALSE;
    }
  if (app_id != LEAF_CATALOG_APPLICATION_ID || *version < 0 ||
      *version > LEAF_CATALOG_MAX_PLAUSIBLE_VERSION)
    return damaged_header (db, app_id, *version, error);
  if (*version > LEAF_CATALOG_SCHEMA_VERSION)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_TOO_NEW,
                   _("The catalog “%s” was written by a newer Leafscope (catalog version %d; this "
                     "one reads up to version %d). Update Leafscope to open it; the file was not "
                     "changed."),
                   db->path, *version, LEAF_CATALOG_SCHEMA_VERSION);
      return FALSE;
    }
  /* Version 0 has no tables, every later one has these. SQLite itself opens a file whose header
   * asks for a newer writer than SQLite (byte 18) read-only, without a word. */
  if ((*version == 0 ? n_objects > 0 : n_tables < 3) ||
      (!db->read_only && sqlite3_db_readonly (db->handle, "main") == 1))
    return damaged_header (db, app_id, *version, error);
  for (int v = *version; v < LEAF_CATALOG_SCHEMA_VERSION; v++)
    {
      int n_newer = 0;

      if (!read_pragma_int (db, version_marks[v], &n_newer, error))
        return FALSE;
      if (n_newer > 0)
        return damaged_header (db, app_id, *version, error);
    }
  return TRUE;
}

/* Whether path is a whole copy of a catalog at `version`: it opens, has that header and passes
 * SQLite's quick check, which reads every page. */
static gboolean
backup_is_sound (const char *path,
                 int         version)
{
  g_autoptr(LeafDb) copy = db_new (path);
  int app_id = 0;
  int copy_version = -1;
  int n_problems = -1;

  if (sqlite3_open_v2 (path, &copy->handle, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL)
      != SQLITE_OK)
    return FALSE;
  return read_pragma_int (copy, "PRAGMA application_id", &app_id, NULL) &&
         app_id == LEAF_CATALOG_APPLICATION_ID &&
         read_pragma_int (copy, "PRAGMA user_version", &copy_version, NULL) &&
         copy_version == version &&
         read_pragma_int (copy, "SELECT count(*) FROM pragma_quick_check WHERE quick_check <> 'ok'",
                          &n_problems, NULL) &&
         n_problems == 0;
}

/* Leaves errno as fsync() set it when it fails. */
static gboolean
sync_path (const char *path)
{
  int fd = g_open (path, O_RDONLY, 0);
  int saved_errno;
  gboolean synced;

  if (fd < 0)
    return FALSE;
  synced = fsync (fd) == 0;
  saved_errno = errno;
  close (fd);
  errno = saved_errno;
  return synced;
}

/* Keeps a copy of the catalog as it was before a migration, in case the new version turns out
 * to be wrong for the user: "FILE.vN.backup". The caller holds the write lock, so no other
 * Leafscope migrates or copies at the same time. The copy is made under a temporary name,
 * synced, read back and only then renamed: the final name never holds a partial copy, even if
 * the process is killed, and one that does (left by an older Leafscope) is made again. */
static gboolean
backup_before_migration (LeafDb  *db,
                         int      version,
                         GError **error)
{
  g_autofree char *backup = g_strdup_printf ("%s.v%d.backup", db->path, version);
  g_autofree char *temporary = g_strconcat (backup, ".tmp", NULL);
  g_autofree char *dir = g_path_get_dirname (db->path);
  g_autofree char *failure = NULL;
  g_autoptr(LeafDb) reader = NULL;
  char *sql;

  if (backup_is_sound (backup, version))
    return TRUE;
  /* VACUUM INTO wants a new or empty file; it cannot run inside our transaction, and a second
   * connection reads the catalog as last committed, which is what we are about to migrate. */
  g_unlink (temporary);
  reader = db_new (db->path);
  if (sqlite3_open_v2 (db->path, &reader->handle, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                       NULL) != SQLITE_OK)
    return _leaf_db_fail (reader, error);
  sqlite3_extended_result_codes (reader->handle, 1);
  sql = sqlite3_mprintf ("VACUUM INTO %Q", temporary);
  if (!_leaf_db_exec (reader, sql, error))
    {
      sqlite3_free (sql);
      g_unlink (temporary);
      g_prefix_error (error, _("Could not keep a copy of the catalog in “%s” before updating it: "),
                      backup);
      return FALSE;
    }
  sqlite3_free (sql);

  if (!sync_path (temporary))
    failure = g_strdup (g_strerror (errno));
  else if (!backup_is_sound (temporary, version))
    failure = g_strdup (_("the copy did not read back whole"));
  else if (g_rename (temporary, backup) != 0 || !sync_path (dir))
    failure = g_strdup (g_strerror (errno));
  if (failure != NULL)
    {
      g_unlink (temporary);
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                   _("Could not keep a copy of the catalog in “%s” before updating it (%s). "
                     "Make room beside the catalog and open it again; it was not changed."),
                   backup, failure);
      return FALSE;
    }
  return TRUE;
}

static gboolean
bring_up_to_date (LeafDb  *db,
                  GError **error)
{
  g_autoptr(LeafTxn) txn = _leaf_txn_begin (db, error);
  int version = 0;

  /* Another process may have migrated between our first look and the write lock. */
  if (txn == NULL || !read_header (db, &version, error))
    return FALSE;
  if (version < LEAF_CATALOG_SCHEMA_VERSION)
    {
      g_info ("Migrating catalog %s from version %d to %d", db->path, version,
              LEAF_CATALOG_SCHEMA_VERSION);
      if ((version >= 1 && !backup_before_migration (db, version, error)) ||
          !_leaf_db_migrate (db, version, LEAF_CATALOG_SCHEMA_VERSION, error))
        return FALSE;
    }
  return _leaf_runs_mark_interrupted (db, error) && _leaf_txn_commit (&txn, error);
}

/* A file we may not write is opened for reading. A WAL catalog's latest changes may be only in
 * its -wal file, which SQLite reads through the -shm file: it can when both are there, even if
 * we may not write them, or when it may create them in the folder. Only in a folder we may not
 * write, with no -wal, is the catalog opened as immutable; then the main file holds every
 * change. */
static gboolean
open_read_only (LeafDb *db)
{
  g_autofree char *absolute = g_canonicalize_filename (db->path, NULL);
  g_autofree char *dir = g_path_get_dirname (absolute);
  g_autofree char *wal = g_strconcat (absolute, "-wal", NULL);
  g_autofree char *uri = g_filename_to_uri (absolute, NULL, NULL);
  g_autofree char *with_mode = NULL;
  gboolean immutable;

  if (uri == NULL)
    return FALSE;
  immutable = g_access (dir, W_OK) != 0 && !g_file_test (wal, G_FILE_TEST_EXISTS);
  with_mode = g_strconcat (uri, immutable ? "?immutable=1" : "?mode=ro", NULL);
  return sqlite3_open_v2 (with_mode, &db->handle,
                          SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
                          NULL) == SQLITE_OK;
}

LeafDb *
_leaf_db_open (const char  *path,
               gboolean     create,
               LeafDbRole   role,
               GError     **error)
{
  g_autoptr(LeafDb) db = NULL;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  int version = 0;

  g_assert (path != NULL);

  if (_leaf_pg_is_location (path))
    {
      db = db_new (path);
      if (!_leaf_pg_open (db, create, role, error))
        return NULL;
      g_free (db->labeller);
      db->labeller = g_strdup (_leaf_default_labeller (db));
      return g_steal_pointer (&db);
    }

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

  /* Look before touching anything: a catalog from a newer Leafscope, a damaged one, or another
   * program's database must come out of this unchanged. */
  if (!read_header (db, &version, error))
    return NULL;
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
  if (role == LEAF_DB_MAIN && !db->read_only && !bring_up_to_date (db, error))
    return NULL;
  if (!db->read_only)
    remember_journal (db);
  return g_steal_pointer (&db);
}

void
_leaf_db_close (LeafDb *db)
{
  if (db == NULL)
    return;
  g_clear_pointer (&db->statements, g_hash_table_unref);
  _leaf_pg_close (db);
  if (db->handle != NULL)
    {
      /* Lets SQLite refresh the statistics its planner uses, cheaply, as it recommends. */
      sqlite3_exec (db->handle, "PRAGMA optimize", NULL, NULL, NULL);
      if (sqlite3_close (db->handle) != SQLITE_OK)
        g_warning ("Could not close the catalog %s cleanly: %s", db->path,
                   sqlite3_errmsg (db->handle));
    }
  g_free (db->path);
  g_free (db->display_name);
  g_free (db->server_error);
  g_free (db->labeller);
  g_free (db);
}

gboolean
_leaf_db_create_at_version (const char  *path,
                            int          version,
                            GError     **error)
{
  g_autoptr(LeafDb) db = db_new (path);
  g_autoptr(LeafTxn) txn = NULL;

  if (sqlite3_open_v2 (path, &db->handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL)
      != SQLITE_OK)
    return _leaf_db_fail (db, error);
  if (!_leaf_db_exec (db, "PRAGMA journal_mode = WAL", error) ||
      !_leaf_db_exec (db, "PRAGMA foreign_keys = ON", error) ||
      (txn = _leaf_txn_begin (db, error)) == NULL)
    return FALSE;
  return _leaf_db_migrate (db, 0, version, error) && _leaf_txn_commit (&txn, error);
}
