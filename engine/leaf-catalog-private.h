/* leaf-catalog-private.h: what the catalog's files, the importer and the exporter share
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "leaf-catalog.h"

G_BEGIN_DECLS

/* One SQLite connection and the statements prepared on it. A LeafDb is used by one thread at a
 * time: the catalog's own connection under the catalog's lock, and a private one for each
 * long-running worker (import, export) so that WAL lets readers go on while it writes. */
/* Which file a path named when it was looked at: the same path naming another file (or none)
 * means it was deleted or replaced in between. */
typedef struct
{
  gboolean known;
  guint64 device;
  guint64 inode;
} LeafFileId;

typedef struct
{
  struct sqlite3 *handle;  /* a catalog file's connection, or NULL */
  struct pg_conn *server;  /* a server catalog's connection, or NULL */
  char *path;              /* the file, or the server's URI (which may hold a password) */
  char *display_name;      /* how messages name the catalog */
  char *server_error;      /* the server's last failure: its message and SQLSTATE */
  char server_state[6];
  gint64 server_changes;
  gint64 server_version;   /* how many commits of other connections were heard of */
  gboolean listening;
  gboolean server_in_txn;  /* between BEGIN and its COMMIT or ROLLBACK */
  gint64 server_retry_after; /* no new connection before this (monotonic µs) */
  GHashTable *statements; /* SQL text → LeafStmt, prepared once */
  gboolean read_only;      /* the file is not writable by us: opened for reading only */
  LeafFileId wal_id;       /* the -wal and -shm files this connection has open */
  LeafFileId shm_id;
  char *labeller;          /* whose votes labelling writes and whose actions undo takes back */
} LeafDb;

typedef enum
{
  LEAF_DB_MAIN,   /* migrates the schema and marks runs of dead processes as interrupted */
  LEAF_DB_WORKER, /* expects a catalog that is already at LEAF_CATALOG_SCHEMA_VERSION */
} LeafDbRole;

/* A prepared statement, borrowed from its connection's cache. The catalog's files read and write
 * through these calls only, never through a database library's own, so that the same SQL and the
 * same code serve every storage backend. Parameters are numbered from 1, columns from 0, as in
 * SQL. The autoptr cleanup resets the statement and clears its bindings so that no read
 * transaction stays open and the next user starts clean. */
typedef struct _LeafStmt LeafStmt;
void _leaf_stmt_release (LeafStmt *stmt);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LeafStmt, _leaf_stmt_release)

typedef enum
{
  LEAF_STEP_FAILED = -1, /* the connection's last failure says why: _leaf_db_fail() */
  LEAF_STEP_DONE = 0,
  LEAF_STEP_ROW = 1,     /* the statement's current row can be read */
} LeafStep;

LeafStep      _leaf_step          (LeafStmt      *stmt);
void          _leaf_bind_int64    (LeafStmt      *stmt,
                                   int            index,
                                   gint64         value);
void          _leaf_bind_double   (LeafStmt      *stmt,
                                   int            index,
                                   double         value);
/* NULL binds SQL's NULL. */
void          _leaf_bind_text     (LeafStmt      *stmt,
                                   int            index,
                                   const char    *text);
void          _leaf_bind_blob     (LeafStmt      *stmt,
                                   int            index,
                                   gconstpointer  data,
                                   gsize          size);
void          _leaf_bind_null     (LeafStmt      *stmt,
                                   int            index);
int           _leaf_stmt_n_params (LeafStmt      *stmt);
gint64        _leaf_column_int64  (LeafStmt      *stmt,
                                   int            column);
int           _leaf_column_int    (LeafStmt      *stmt,
                                   int            column);
double        _leaf_column_double (LeafStmt      *stmt,
                                   int            column);
/* NULL for SQL's NULL; valid until the next step or reset. */
const char   *_leaf_column_text   (LeafStmt      *stmt,
                                   int            column);
gconstpointer _leaf_column_blob   (LeafStmt      *stmt,
                                   int            column,
                                   gsize         *size);
gboolean      _leaf_column_is_null (LeafStmt     *stmt,
                                    int           column);

LeafDb   *_leaf_db_open          (const char   *path,
                                  gboolean      create,
                                  LeafDbRole    role,
                                  GError      **error);
void      _leaf_db_close         (LeafDb       *db);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LeafDb, _leaf_db_close)
LeafStmt *_leaf_db_prepare       (LeafDb       *db,
                                  const char   *sql,
                                  GError      **error);
gboolean  _leaf_db_exec          (LeafDb       *db,
                                  const char   *sql,
                                  GError      **error);
/* The first column of the only row of sql, a query without parameters. */
gboolean  _leaf_db_query_int     (LeafDb       *db,
                                  const char   *sql,
                                  gint64       *value,
                                  GError      **error);
/* A number that moves whenever another connection committed a change, and only then. */
gboolean  _leaf_db_data_version  (LeafDb       *db,
                                  gint64       *version,
                                  GError      **error);
/* How many rows the connection's last INSERT, UPDATE or DELETE changed. */
gint64    _leaf_db_changes       (LeafDb       *db);
/* Steps a statement that returns no rows; the statement stays borrowed by the caller. */
gboolean  _leaf_db_run           (LeafDb       *db,
                                  LeafStmt     *stmt,
                                  GError      **error);
/* A write transaction that rolls back unless it was committed, however its scope is left:
 *
 *   g_autoptr(LeafTxn) txn = _leaf_txn_begin (db, error);
 *
 *   if (txn == NULL || !change_rows (db, error))
 *     return FALSE;
 *   return _leaf_txn_commit (&txn, error);
 *
 * Declare it after the catalog's locker, so that it rolls back while the lock is still held.
 * It is the connection itself under another name: nothing is allocated. */
typedef struct _LeafTxn LeafTxn;
LeafTxn  *_leaf_txn_begin        (LeafDb       *db,
                                  GError      **error);
/* Commits and clears *txn; on failure the transaction is rolled back. */
gboolean  _leaf_txn_commit       (LeafTxn     **txn,
                                  GError      **error);
void      _leaf_txn_rollback     (LeafTxn      *txn);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LeafTxn, _leaf_txn_rollback)
/* Runs one statement that returns no rows as a transaction of its own. */
gboolean  _leaf_db_run_alone     (LeafDb       *db,
                                  LeafStmt     *stmt,
                                  GError      **error);
/* Steps an INSERT ... RETURNING id: the new row's id, 0 when it inserted nothing (ON CONFLICT
 * DO NOTHING), -1 with error set when it failed. RETURNING rather than the connection's last
 * row id, because PostgreSQL has the one and not the other. The statement stays borrowed. */
gint64    _leaf_db_insert        (LeafDb       *db,
                                  LeafStmt     *stmt,
                                  GError      **error);
/* The same as a transaction of its own. */
gint64    _leaf_db_insert_alone  (LeafDb       *db,
                                  LeafStmt     *stmt,
                                  GError      **error);
/* Reading rows into structures: from_row makes one from the statement's current row. */
typedef gpointer (*LeafRowFunc) (LeafStmt *stmt);
/* Every row of sql, whose one optional integer parameter is param. */
GPtrArray *_leaf_db_collect_rows (LeafDb          *db,
                                  const char      *sql,
                                  gint64           param,
                                  LeafRowFunc      from_row,
                                  GDestroyNotify   free_func,
                                  GError         **error);
/* Sets error from the connection's last failure; always returns FALSE. */
gboolean  _leaf_db_fail          (LeafDb       *db,
                                  GError      **error);
/* Copying (leaf-catalog-copy.c). Copies every row of a catalog into an empty one, inside the
 * caller's transaction on `to`; from_folder (with a trailing separator) is the source file's
 * folder, against which its relative model paths are made whole, or NULL for a server. */
gboolean  _leaf_db_copy_catalog  (LeafDb       *from,
                                  LeafDb       *to,
                                  const char   *from_folder,
                                  GError      **error);
/* Makes the tables a merge reads of the catalog `from` readable as src.TABLE on db: on a server,
 * inside the caller's transaction; on a file, before it (attached in memory). */
gboolean  _leaf_db_stage_source  (LeafDb       *db,
                                  LeafDb       *from,
                                  GError      **error);
/* The columns the copy moves of a table of the schema, or NULL for a table it does not know. */
const char *_leaf_db_copied_columns (const char *table);
/* Contents (leaf-catalog-contents.c): the bytes of photos and models, by SHA-256. */
/* Whether the catalog holds the bytes of the image `i`, as a column. */
#define LEAF_HELD_SQL "EXISTS (SELECT 1 FROM contents c WHERE c.sha256 = i.sha256)"
/* Where a managed folder keeps the file with that content: <sha[0:2]>/<sha>.<ext>. */
char     *_leaf_managed_file_path (const char  *managed_dir,
                                   const char  *sha256,
                                   const char  *format);
/* The file's bytes, when it still has that SHA-256. */
GBytes   *_leaf_read_content     (const char     *path,
                                  const char     *sha256,
                                  GError        **error);
/* Where this machine reads a photo the catalog holds (the caller knows it does) when its file
 * is not at path with its size: a copy in the catalog's managed folder, which may not exist
 * yet. NULL when the file is at path. */
char     *_leaf_catalog_held_copy_path (LeafCatalog *catalog,
                                        const char  *path,
                                        guint64      size,
                                        const char  *sha256,
                                        const char  *format);
/* Keeps the bytes unless the catalog has them already. */
gboolean  _leaf_db_store_content (LeafDb         *db,
                                  const char     *sha256,
                                  gconstpointer   data,
                                  gsize           size,
                                  GError        **error);
gboolean  _leaf_db_has_content   (LeafDb         *db,
                                  const char     *sha256,
                                  gboolean       *has,
                                  GError        **error);
/* Keeps the bytes of every photo the catalog does not hold yet whose file is at its path with its
 * content; n_absent counts those whose file is not. */
gboolean  _leaf_db_store_local_contents (LeafDb   *db,
                                         guint    *n_stored,
                                         guint    *n_absent,
                                         GError  **error);
/* Writes the content to path, unless a file is there already. Takes the fetching lock, not the
 * catalog's. */
gboolean  _leaf_catalog_fetch_content (LeafCatalog  *catalog,
                                       const char   *sha256,
                                       const char   *path,
                                       GError      **error);
/* Runs the migrations from version `from` up to `to` inside the caller's transaction. For the
 * migration tests, which build catalogs as older versions wrote them. */
gboolean  _leaf_db_migrate       (LeafDb       *db,
                                  int           from,
                                  int           to,
                                  GError      **error);
/* Opens (creating) a catalog file at exactly schema version `version`, for tests. */
gboolean  _leaf_db_create_at_version (const char *path,
                                      int         version,
                                      GError    **error);

static inline void
_leaf_bind_id (LeafStmt *stmt,
               int       index,
               gint64    id)
{
  if (id > 0)
    _leaf_bind_int64 (stmt, index, id);
  else
    _leaf_bind_null (stmt, index);
}

/* The current time as the catalog stores it: ISO 8601, UTC, microseconds. */
char      *_leaf_now                     (void);
const char *_leaf_default_labeller       (LeafDb     *db);
GDateTime *_leaf_parse_time              (const char *text);
char      *_leaf_format_local_time       (GDateTime  *time);

/* Inside the catalog (leaf-catalog.c) */
typedef enum
{
  LEAF_CATALOG_CHANGED_IMAGES,
  LEAF_CATALOG_CHANGED_LABELS,
  LEAF_CATALOG_CHANGED_CLASSES,
  LEAF_CATALOG_CHANGED_RUNS,
  LEAF_CATALOG_CHANGED_ACTIVE_MODEL,
  LEAF_CATALOG_N_CHANGES
} LeafCatalogChange;

/* The catalog's lock guards its own connection; it is recursive so that a signal handler on the
 * owner's thread may call back into the catalog. */
void       _leaf_catalog_lock            (LeafCatalog       *self);
void       _leaf_catalog_unlock          (LeafCatalog       *self);
/* The catalog's connection for fetching contents, opened at the first call, under a lock of its
 * own; NULL (and unlocked) when it cannot be opened. Unlock it when done. */
LeafDb    *_leaf_catalog_lock_fetch_db   (LeafCatalog       *self,
                                          GError           **error);
void       _leaf_catalog_unlock_fetch_db (LeafCatalog       *self);
/* The catalog's own connection (the caller holds the lock), or NULL and an error once closed. */
LeafDb    *_leaf_catalog_get_db          (LeafCatalog       *self,
                                          GError           **error);

/* Begins a write transaction on the catalog's own connection (the caller holds the lock) and
 * sets *db to that connection. */
static inline LeafTxn *
_leaf_catalog_begin (LeafCatalog  *self,
                     LeafDb      **db,
                     GError      **error)
{
  return (*db = _leaf_catalog_get_db (self, error)) != NULL ? _leaf_txn_begin (*db, error) : NULL;
}

/* Emits the matching signal on the context that opened the catalog, from any thread. ids, an
 * array of gint64 image ids, is taken over; NULL says "any image may have changed". */
void       _leaf_catalog_emit            (LeafCatalog       *self,
                                          LeafCatalogChange  change,
                                          GArray            *ids);
/* What leaf_catalog_watch() does twice a second, now: announces what other connections changed */
void       _leaf_catalog_look_for_changes (LeafCatalog      *self);
/* Tests: how often the watch looks when nothing wakes it; set before leaf_catalog_watch(). */
void       _leaf_catalog_set_watch_interval (LeafCatalog    *self,
                                             guint           interval_ms);

/* The first row of _leaf_db_collect_rows() on the catalog's connection, taking its lock; or
 * not_found_code with the message not_found when there is none. */
gpointer   _leaf_catalog_collect_one     (LeafCatalog       *self,
                                          const char        *sql,
                                          gint64             param,
                                          LeafRowFunc        from_row,
                                          GDestroyNotify     free_func,
                                          int                not_found_code,
                                          const char        *not_found,
                                          GError           **error);

typedef struct _LeafCatalogLocker LeafCatalogLocker;
static inline LeafCatalogLocker *
_leaf_catalog_locker_new (LeafCatalog *self)
{
  _leaf_catalog_lock (self);
  return (LeafCatalogLocker *) self;
}
static inline void
_leaf_catalog_locker_free (LeafCatalogLocker *locker)
{
  _leaf_catalog_unlock ((LeafCatalog *) locker);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LeafCatalogLocker, _leaf_catalog_locker_free)

/* Splits (leaf-catalog-splits.c), inside a transaction; seed 0 for a split given by the data */
gboolean   _leaf_splits_write            (LeafDb            *db,
                                          gint64             image_id,
                                          LeafSplit          split,
                                          guint32            seed,
                                          const char        *now,
                                          GError           **error);

/* Classes (leaf-catalog-classes.c), on any connection inside a transaction */
gint64     _leaf_classes_ensure          (LeafDb            *db,
                                          const char        *name,
                                          gboolean          *created,
                                          GError           **error);
gint64     _leaf_classes_lookup          (LeafDb            *db,
                                          const char        *name,
                                          GError           **error);

/* Makes class_id usable again for undo and redo: a removed class comes back unless another class
 * has taken its name since, in which case usable is FALSE. */
gboolean   _leaf_classes_revive          (LeafDb            *db,
                                          gint64             class_id,
                                          gboolean          *usable,
                                          GError           **error);

/* Labels (leaf-catalog-labels.c), on any connection inside a transaction */
gint64     _leaf_labels_new_action       (LeafDb            *db,
                                          LeafLabelHow       how,
                                          GError           **error);
gboolean   _leaf_labels_action_is_open   (LeafDb            *db,
                                          gint64             action_id,
                                          GError           **error);
/* Sets (class_id > 0) or removes (class_id == 0) the vote on one image of action_id's user, with
 * its time and how, and records it there. only_if_unlabeled leaves images anyone voted on
 * alone; changed (optional) says whether anything happened. */
gboolean   _leaf_labels_apply            (LeafDb            *db,
                                          gint64             action_id,
                                          gint64             image_id,
                                          gint64             class_id,
                                          gboolean           only_if_unlabeled,
                                          gboolean          *changed,
                                          GError           **error);
/* The same for a vote of its own (a label brought from another tool, which says who made it,
 * when (NULL: now) and how), recorded in action_id for undo. A redo gives it the action's time
 * and how. */
gboolean   _leaf_labels_apply_given      (LeafDb            *db,
                                          gint64             action_id,
                                          gint64             image_id,
                                          gint64             class_id,
                                          const char        *user,
                                          const char        *time,
                                          LeafLabelHow       how,
                                          gboolean           only_if_unlabeled,
                                          gboolean          *changed,
                                          GError           **error);

/* Photos whose ballots name more than one class and that nobody adjudicated: the adjudication
 * queue. */
#define LEAF_DISPUTED_IMAGES_SQL \
  "SELECT image_id FROM ballots GROUP BY image_id HAVING count (DISTINCT class_id) > 1 " \
  "EXCEPT SELECT image_id FROM adjudications"

/* Derives one image's label from its votes and adjudication. */
gboolean   _leaf_labels_resolve          (LeafDb            *db,
                                          gint64             image_id,
                                          GError           **error);

/* Runs (leaf-catalog-runs.c): marks the runs of processes that died as interrupted */
gboolean   _leaf_runs_mark_interrupted   (LeafDb            *db,
                                          GError           **error);
/* The status a run's row names; an unknown name reads as failed. */
LeafRunStatus _leaf_run_status_from_string (const char      *text);

/* Models (leaf-catalog-models.c): repairs the paths of model files that lie outside the
 * catalog's folder and moved from under old_prefix to the same place under new_folder, matched
 * by SHA-256; adds what it looked at and did not find to differing and not_found. */
gboolean   _leaf_models_relocate         (LeafCatalog       *self,
                                          const char        *old_prefix,
                                          const char        *new_folder,
                                          guint             *n_repaired,
                                          GPtrArray         *differing,
                                          GPtrArray         *not_found,
                                          GError           **error);

/* Images (leaf-catalog-image.c) */
LeafCatalogImage *_leaf_catalog_image_new_from_row (LeafCatalog *catalog,
                                                    LeafStmt    *stmt,
                                                    gboolean     with_prediction);
gboolean   _leaf_images_exists_at        (const char        *path,
                                          guint64            size);
/* Whether the file at path reads whole and has this SHA-256. */
gboolean   _leaf_file_has_sha256         (const char        *path,
                                          const char        *sha256);

G_END_DECLS
