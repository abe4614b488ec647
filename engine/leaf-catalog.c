/* leaf-catalog.c: the catalog object, its connection, its signals and its files
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-catalog"

#include "config.h"

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <glib-unix.h>

#include "leaf-catalog-pg.h"
#include "leaf-catalog-private.h"
#include "leaf-error.h"
#include "leaf-file.h"

/**
 * LeafCatalog:
 *
 * One catalog file: images, classes, labels and their history, splits, training runs, models
 * and predictions, in SQLite.
 *
 * Every method may be called from any thread; a recursive lock serialises them on the catalog's
 * connection. Long jobs (import, export) open a connection of their own, so that with SQLite's
 * WAL journal the interface keeps reading while they write. Every change is made in one
 * transaction, and the signals that announce changes are emitted on the thread-default main
 * context of the thread that opened the catalog, whichever thread made the change.
 */
struct _LeafCatalog
{
  GObject parent_instance;

  char *path;
  char *display_name;
  GRecMutex lock;
  guint lock_depth;     /* how deep the thread holding the lock is in it */
  GPtrArray *pending;   /* Emission, announced once the lock is let go */
  LeafDb *db;
  /* Contents are fetched on a connection of their own: a photo on its way to a thumbnail must
   * not hold the lock every other query of the window waits for. */
  GMutex fetch_lock;
  LeafDb *fetch_db;
  GMainContext *context;
  GThread *owner;
  /* leaf_catalog_watch(): what others' commits may have changed, as of the last look */
  GSource *watch;
  LeafPgListener *listener; /* a server's notifications of commits, read as they come */
  GSource *notified;
  gint64 listen_after;      /* no new listener before this (monotonic µs) */
  gint64 reconnect_after;   /* no new connection before this (monotonic µs) */
  gboolean reconnecting;
  gboolean look_failed;
  guint watch_interval_ms;
  gint64 data_version;
  char *fingerprints[LEAF_CATALOG_N_CHANGES];
};

G_DEFINE_FINAL_TYPE (LeafCatalog, leaf_catalog, G_TYPE_OBJECT)

enum {
  IMAGES_CHANGED,
  LABELS_CHANGED,
  CLASSES_CHANGED,
  RUNS_CHANGED,
  ACTIVE_MODEL_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
leaf_catalog_finalize (GObject *object)
{
  LeafCatalog *self = LEAF_CATALOG (object);

  if (self->watch != NULL)
    g_source_destroy (self->watch);
  g_clear_pointer (&self->watch, g_source_unref);
  if (self->notified != NULL)
    g_source_destroy (self->notified);
  g_clear_pointer (&self->notified, g_source_unref);
  g_clear_pointer (&self->listener, _leaf_pg_listener_free);
  for (guint i = 0; i < LEAF_CATALOG_N_CHANGES; i++)
    g_free (self->fingerprints[i]);
  g_clear_pointer (&self->db, _leaf_db_close);
  g_clear_pointer (&self->fetch_db, _leaf_db_close);
  g_mutex_clear (&self->fetch_lock);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_pointer (&self->path, g_free);
  g_clear_pointer (&self->display_name, g_free);
  g_clear_pointer (&self->pending, g_ptr_array_unref);
  g_rec_mutex_clear (&self->lock);

  G_OBJECT_CLASS (leaf_catalog_parent_class)->finalize (object);
}

static void
leaf_catalog_class_init (LeafCatalogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = leaf_catalog_finalize;

  /**
   * LeafCatalog::images-changed:
   *
   * Images were added, moved, found missing or regrouped.
   */
  signals[IMAGES_CHANGED] =
    g_signal_new ("images-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);

  /**
   * LeafCatalog::labels-changed:
   * @catalog: the catalog
   * @image_ids: (nullable) (element-type gint64): the images whose label changed, or %NULL
   *   when any image's label may have changed
   *
   * Labels were set, removed, undone or redone.
   */
  signals[LABELS_CHANGED] =
    g_signal_new ("labels-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE,
                  1, G_TYPE_ARRAY | G_SIGNAL_TYPE_STATIC_SCOPE);

  /**
   * LeafCatalog::classes-changed:
   *
   * A class was added, renamed, recoloured, moved or removed.
   */
  signals[CLASSES_CHANGED] =
    g_signal_new ("classes-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);

  /**
   * LeafCatalog::runs-changed:
   *
   * A training run, a model or predictions were recorded, or a model was renamed, removed or
   * made active.
   */
  signals[RUNS_CHANGED] =
    g_signal_new ("runs-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);

  /**
   * LeafCatalog::active-model-changed:
   *
   * Another model, or none, is now the one diagnoses use. Like every signal it announces the
   * changes made through this #LeafCatalog; a run's own connection announces its decision in
   * its FINISHED event.
   */
  signals[ACTIVE_MODEL_CHANGED] =
    g_signal_new ("active-model-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
leaf_catalog_init (LeafCatalog *self)
{
  g_rec_mutex_init (&self->lock);
  g_mutex_init (&self->fetch_lock);
  self->pending = g_ptr_array_new ();
  self->watch_interval_ms = 500;
}

/**
 * leaf_catalog_get_default_path:
 *
 * The catalog used when none is named: `$XDG_DATA_HOME/leafscope/default.leafscope`.
 *
 * Returns: (transfer full) (type filename): the path
 */
char *
leaf_catalog_get_default_path (void)
{
  return g_build_filename (g_get_user_data_dir (), "leafscope", "default.leafscope", NULL);
}

/**
 * leaf_catalog_open:
 * @path: (type filename): the catalog file
 * @flags: whether to create it
 * @error: return location for a #GError
 *
 * Opens a catalog, bringing an older schema up to date (after keeping a copy of the file as
 * `PATH.vN.backup`). A catalog written by a newer Leafscope is refused with
 * %LEAF_ENGINE_ERROR_TOO_NEW and left unchanged. Runs left `running` by a process that no longer
 * exists are marked interrupted.
 *
 * Signals are emitted on the thread-default main context of the calling thread.
 *
 * Returns: (transfer full): the catalog, or %NULL with @error set
 */
LeafCatalog *
leaf_catalog_open (const char            *path,
                   LeafCatalogOpenFlags   flags,
                   GError               **error)
{
  g_autoptr(LeafCatalog) self = NULL;
  g_autofree char *absolute = NULL;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* A server's URI names no file. */
  absolute = _leaf_pg_is_location (path) ? g_strdup (path) : g_canonicalize_filename (path, NULL);
  self = g_object_new (LEAF_TYPE_CATALOG, NULL);
  self->path = g_strdup (absolute);
  self->display_name = _leaf_pg_is_location (absolute) ? _leaf_pg_display_name (absolute)
                                                       : g_strdup (absolute);
  self->context = g_main_context_ref_thread_default ();
  self->owner = g_thread_self ();
  self->db = _leaf_db_open (absolute, (flags & LEAF_CATALOG_OPEN_CREATE) != 0, LEAF_DB_MAIN,
                            error);
  if (self->db == NULL)
    return NULL;
  return g_steal_pointer (&self);
}

/**
 * leaf_catalog_close:
 * @self: a #LeafCatalog
 *
 * Closes the catalog's connection now rather than at finalisation; later calls fail. Imports
 * and exports still running keep their own connections until they finish.
 */
void
leaf_catalog_close (LeafCatalog *self)
{
  g_return_if_fail (LEAF_IS_CATALOG (self));

  g_rec_mutex_lock (&self->lock);
  g_clear_pointer (&self->db, _leaf_db_close);
  g_rec_mutex_unlock (&self->lock);
}

/* For each kind of change, a query whose answer changes when such a change was committed:
 * cheap enough to ask twice a second once another connection committed anything. The lists
 * are concatenated in id order, so that their text does not depend on a query plan. */
static const char *const fingerprint_sql[LEAF_CATALOG_N_CHANGES] = {
  [LEAF_CATALOG_CHANGED_IMAGES] =
    "SELECT count (*) || ':' || coalesce (max (id), 0) || ':' || "
    "  (SELECT count (*) FROM images WHERE missing <> 0) FROM images",
  [LEAF_CATALOG_CHANGED_LABELS] =
    "SELECT coalesce (max (id), 0) || ':' || "
    "  (SELECT count (*) FROM label_actions WHERE state = 1) || ':' || "
    "  (SELECT count (*) || ':' || coalesce (max (time), '') FROM adjudications) "
    "FROM label_actions",
  [LEAF_CATALOG_CHANGED_CLASSES] =
    "SELECT coalesce (group_concat (id || ':' || name || ':' || position || ':' || color || ':' "
    "  || coalesce (shortcut, '') || ':' || removed, ','), '') "
    "FROM (SELECT * FROM classes ORDER BY id) AS c",
  [LEAF_CATALOG_CHANGED_RUNS] =
    "SELECT coalesce (max (id), 0) || ':' || "
    "  (SELECT count (*) FROM runs WHERE status = 'running') || ':' || "
    "  (SELECT coalesce (group_concat (id || ':' || coalesce (name, ''), ','), '') "
    "   FROM (SELECT * FROM models ORDER BY id) AS m) "
    "FROM runs",
  [LEAF_CATALOG_CHANGED_ACTIVE_MODEL] =
    "SELECT coalesce (max (model_id), 0) FROM active_model",
};

/* The first column of sql's first row as text, or NULL (with a warning) when it fails. */
static char *
query_text (LeafDb     *db,
            const char *sql)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafStmt) stmt = _leaf_db_prepare (db, sql, &error);

  if (stmt != NULL && _leaf_step (stmt) == LEAF_STEP_ROW)
    return g_strdup (_leaf_column_text (stmt, 0));
  if (stmt != NULL)
    _leaf_db_fail (db, &error);
  g_warning ("Could not look for changes to %s: %s", db->display_name, error->message);
  return NULL;
}

/* Emits what other connections changed since the last look (only records it, without emit);
 * unless told that someone changed something, only when the data version moved. FALSE when it
 * could not look. */
static gboolean
look_for_changes (LeafCatalog *self,
                  gboolean     emit,
                  gboolean     told)
{
  g_autoptr(LeafCatalogLocker) locker = _leaf_catalog_locker_new (self);
  g_autoptr(GError) error = NULL;
  gint64 data_version;

  /* The data version moves only with commits made on other connections, this process's
   * training thread's included. */
  if (self->db == NULL)
    return FALSE;
  if (!_leaf_db_data_version (self->db, &data_version, &error))
    {
      /* Once for each time it stops working (a server that is down, which the watch waits
       * out), not at every look. */
      if (!self->look_failed)
        g_message ("Could not look for changes to %s: %s", self->db->display_name,
                   error->message);
      self->look_failed = TRUE;
      return FALSE;
    }
  self->look_failed = FALSE;
  if (emit && !told && data_version == self->data_version)
    return TRUE;
  self->data_version = data_version;
  for (guint change = 0; change < LEAF_CATALOG_N_CHANGES; change++)
    {
      g_autofree char *now = query_text (self->db, fingerprint_sql[change]);

      if (now == NULL || g_strcmp0 (now, self->fingerprints[change]) == 0)
        continue;
      g_free (self->fingerprints[change]);
      self->fingerprints[change] = g_steal_pointer (&now);
      if (emit)
        _leaf_catalog_emit (self, change, NULL);
    }
  return TRUE;
}

/* A change of this kind was just announced (made here, or by a worker of this process through a
 * connection of its own) and its handlers read everything of that kind again: the watch need not
 * announce it a second time, as long as what it last saw includes it. */
static void
remember_announced (LeafCatalog       *self,
                    LeafCatalogChange  change)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;

  if (self->watch == NULL)
    return;
  locker = _leaf_catalog_locker_new (self);
  if (self->db == NULL)
    return;
  g_free (self->fingerprints[change]);
  self->fingerprints[change] = query_text (self->db, fingerprint_sql[change]);
}

static void start_listening (LeafCatalog *self);
static void reconnect_in_background (LeafCatalog *self);

/* The source holds the catalog weakly, and strongly while it looks: the last reference may go
 * on another thread (a worker's), whose finalize must not free it under a running look. */
static gboolean
watch_cb (gpointer data)
{
  g_autoptr(LeafCatalog) self = g_weak_ref_get (data);

  if (self == NULL)
    return G_SOURCE_REMOVE;
  if (!leaf_catalog_is_on_server (self))
    look_for_changes (self, TRUE, FALSE);
  else if (look_for_changes (self, TRUE, FALSE))
    start_listening (self);
  else
    reconnect_in_background (self);
  return G_SOURCE_CONTINUE;
}

void
_leaf_catalog_look_for_changes (LeafCatalog *self)
{
  look_for_changes (self, TRUE, FALSE);
}

static void
watch_ref_free (gpointer data)
{
  g_weak_ref_clear (data);
  g_free (data);
}

/* A server's notification of another connection's commit arrived: look now, not at the next
 * tick, whether or not the catalog's own connection has heard it yet. A listener whose
 * connection is lost stops; the ticks go on. */
static gboolean
notified_cb (int           fd,
             GIOCondition  condition,
             gpointer      data)
{
  g_autoptr(LeafCatalog) self = g_weak_ref_get (data);
  gboolean heard = FALSE;

  if (self == NULL)
    return G_SOURCE_REMOVE;
  if ((condition & (G_IO_HUP | G_IO_ERR)) != 0 ||
      !_leaf_pg_listener_read (self->listener, &heard))
    {
      g_clear_pointer (&self->notified, g_source_unref);
      g_clear_pointer (&self->listener, _leaf_pg_listener_free);
      return G_SOURCE_REMOVE;
    }
  if (heard)
    look_for_changes (self, TRUE, TRUE);
  return G_SOURCE_CONTINUE;
}

/* A server says when another connection committed: its notifications wake the watch. A
 * listener whose connection was lost is made again, at most every few seconds, once the catalog's
 * own connection works. */
static void
start_listening (LeafCatalog *self)
{
  GWeakRef *ref;

  if (self->listener != NULL || g_get_monotonic_time () < self->listen_after)
    return;
  _leaf_catalog_lock (self);
  if (self->db != NULL && self->db->server != NULL)
    self->listener = _leaf_pg_listener_new (self->db);
  _leaf_catalog_unlock (self);
  if (self->listener == NULL)
    {
      self->listen_after = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
      return;
    }
  ref = g_new0 (GWeakRef, 1);
  g_weak_ref_init (ref, self);
  self->notified = g_unix_fd_source_new (_leaf_pg_listener_fd (self->listener),
                                         G_IO_IN | G_IO_HUP | G_IO_ERR);
  g_source_set_callback (self->notified, G_SOURCE_FUNC (notified_cb), ref, watch_ref_free);
  g_source_set_static_name (self->notified, "[leafscope] catalog notifications");
  g_source_attach (self->notified, self->context);
}

/* Connecting waits for the network, so a thread does it, without the catalog's lock; the lock is
 * held only to put the new connection in place. */
static void
reconnect_thread (GTask        *task,
                  gpointer      source,
                  gpointer      task_data,
                  GCancellable *cancellable)
{
  LeafCatalog *self = source;
  struct pg_conn *conn = _leaf_pg_connect_again (self->path);
  gboolean adopted = FALSE;

  if (conn != NULL)
    {
      _leaf_catalog_lock (self);
      adopted = _leaf_pg_adopt (self->db, conn);
      _leaf_catalog_unlock (self);
    }
  g_task_return_boolean (task, adopted);
}

static void
on_reconnected_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      data)
{
  LeafCatalog *self = LEAF_CATALOG (source);

  self->reconnecting = FALSE;
  if (g_task_propagate_boolean (G_TASK (result), NULL))
    look_for_changes (self, TRUE, FALSE);
  else
    self->reconnect_after = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
}

/* The watch of a server's catalog whose connection was lost (the server restarted, the network
 * went) makes a new one, at most every few seconds, and the window shows what happened
 * meanwhile without waiting for its user to do something. */
static void
reconnect_in_background (LeafCatalog *self)
{
  g_autoptr(GTask) task = NULL;
  gboolean lost;

  if (self->reconnecting || g_get_monotonic_time () < self->reconnect_after)
    return;
  _leaf_catalog_lock (self);
  lost = self->db != NULL && _leaf_pg_connection_lost (self->db);
  _leaf_catalog_unlock (self);
  if (!lost)
    return;
  self->reconnecting = TRUE;
  task = g_task_new (self, NULL, on_reconnected_cb, NULL);
  g_task_set_name (task, "[leafscope] reconnect");
  g_task_run_in_thread (task, reconnect_thread);
}

/**
 * leaf_catalog_watch:
 * @self: a #LeafCatalog
 *
 * Notices, twice a second (on a server, also as soon as the server says so), what other programs
 * (and other connections of this one, such as a training thread's) committed to the catalog,
 * and emits the signals of those changes on the catalog's thread, as if they had been made here:
 * labels (with %NULL image ids: any may have changed), images, classes, runs and the active
 * model. Signals for changes made through @self itself come as always, once. Watching stops
 * when the catalog is finalized.
 */
void
leaf_catalog_watch (LeafCatalog *self)
{
  GWeakRef *ref;

  g_return_if_fail (LEAF_IS_CATALOG (self));

  if (self->watch != NULL)
    return;
  ref = g_new0 (GWeakRef, 1);
  look_for_changes (self, FALSE, FALSE);
  g_weak_ref_init (ref, self);
  self->watch = g_timeout_source_new (self->watch_interval_ms);
  g_source_set_callback (self->watch, watch_cb, ref, watch_ref_free);
  g_source_set_static_name (self->watch, "[leafscope] catalog watch");
  g_source_attach (self->watch, self->context);

  start_listening (self);
}

void
_leaf_catalog_set_watch_interval (LeafCatalog *self,
                                  guint        interval_ms)
{
  self->watch_interval_ms = interval_ms;
}

/**
 * leaf_catalog_get_path:
 * @self: a #LeafCatalog
 *
 * Returns: (type filename): the absolute path of the catalog file, or the URI of its server
 */
const char *
leaf_catalog_get_path (LeafCatalog *self)
{
  g_return_val_if_fail (LEAF_IS_CATALOG (self), NULL);

  return self->path;
}

/**
 * leaf_catalog_get_display_name:
 * @self: a #LeafCatalog
 *
 * Returns: how messages name the catalog: its file, or its server's URI without the password
 *   that the URI may hold
 */
const char *
leaf_catalog_get_display_name (LeafCatalog *self)
{
  g_return_val_if_fail (LEAF_IS_CATALOG (self), NULL);

  return self->display_name;
}

/**
 * leaf_catalog_location_is_server:
 * @location: what names a catalog: a file's path, or a URI
 *
 * Returns: whether @location names a catalog on a PostgreSQL server (a postgresql:// URI)
 */
gboolean
leaf_catalog_location_is_server (const char *location)
{
  g_return_val_if_fail (location != NULL, FALSE);

  return _leaf_pg_is_location (location);
}

/**
 * leaf_catalog_is_on_server:
 * @self: a #LeafCatalog
 *
 * Returns: whether the catalog lives on a PostgreSQL server rather than in a file
 */
gboolean
leaf_catalog_is_on_server (LeafCatalog *self)
{
  g_return_val_if_fail (LEAF_IS_CATALOG (self), FALSE);

  return _leaf_pg_is_location (self->path);
}

/**
 * leaf_catalog_is_read_only:
 * @self: a #LeafCatalog
 *
 * Whether this program may only read the catalog: a file it may not write, or a server's
 * catalog opened with a role that may not change it. Such a catalog can be browsed and its
 * models used; every change fails with a message that says why.
 *
 * Returns: %TRUE when the catalog may only be read
 */
gboolean
leaf_catalog_is_read_only (LeafCatalog *self)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), TRUE);

  locker = _leaf_catalog_locker_new (self);
  return self->db == NULL || self->db->read_only;
}

/**
 * leaf_catalog_set_labeller:
 * @self: a #LeafCatalog
 * @labeller: (nullable): the name this program's labels are recorded under, or %NULL or empty
 *   for the account's user name
 *
 * Labels are votes: each labeller has one per photo, and undo and redo take back only the
 * labeller's own actions. Names are trimmed of surrounding white space.
 */
void
leaf_catalog_set_labeller (LeafCatalog *self,
                           const char  *labeller)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autofree char *name = g_strstrip (g_strdup (labeller != NULL ? labeller : ""));

  g_return_if_fail (LEAF_IS_CATALOG (self));

  locker = _leaf_catalog_locker_new (self);
  if (self->db == NULL)
    return;
  g_free (self->db->labeller);
  self->db->labeller = name[0] != '\0' ? g_steal_pointer (&name)
                                        : g_strdup (_leaf_default_labeller (self->db));
}

/**
 * leaf_catalog_dup_labeller:
 * @self: a #LeafCatalog
 *
 * Returns: (transfer full) (nullable): whose votes this program's labels are, or %NULL when the
 *   catalog is closed
 */
char *
leaf_catalog_dup_labeller (LeafCatalog *self)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), NULL);

  locker = _leaf_catalog_locker_new (self);
  return self->db != NULL ? g_strdup (self->db->labeller) : NULL;
}

/**
 * leaf_catalog_get_managed_dir:
 * @self: a #LeafCatalog
 *
 * The folder beside the catalog into which imports copy images when asked to: for
 * `photos.leafscope`, `photos-images`.
 *
 * Returns: (transfer full) (type filename): the folder's path
 */
/* The catalog's path without “.leafscope”, followed by suffix: a folder beside it. A server's
 * catalog has no folder: its folders are this user's, named after the server and database. */
static char *
path_beside (LeafCatalog *self,
             const char  *suffix)
{
  g_autofree char *stem = NULL;

  if (leaf_catalog_is_on_server (self))
    {
      g_autofree char *name = g_compute_checksum_for_string (G_CHECKSUM_SHA256,
                                                             self->display_name, -1);

      stem = g_build_filename (g_get_user_data_dir (), "leafscope", "server-catalogs", name, NULL);
    }
  else if (g_str_has_suffix (self->path, ".leafscope"))
    stem = g_strndup (self->path, strlen (self->path) - strlen (".leafscope"));
  else
    stem = g_strdup (self->path);
  return g_strconcat (stem, suffix, NULL);
}

char *
leaf_catalog_get_managed_dir (LeafCatalog *self)
{
  g_return_val_if_fail (LEAF_IS_CATALOG (self), NULL);

  return path_beside (self, "-images");
}

/**
 * leaf_catalog_get_models_dir:
 * @self: a #LeafCatalog
 *
 * The folder beside the catalog where training writes its models: for `photos.leafscope`,
 * `photos.models`. Removing a model deletes its file only when it lies here.
 *
 * Returns: (transfer full) (type filename): the folder's path
 */
char *
leaf_catalog_get_models_dir (LeafCatalog *self)
{
  g_return_val_if_fail (LEAF_IS_CATALOG (self), NULL);

  return path_beside (self, ".models");
}

static void dispatch (LeafCatalog *self, gpointer emission);

void
_leaf_catalog_lock (LeafCatalog *self)
{
  g_rec_mutex_lock (&self->lock);
  self->lock_depth++;
}

void
_leaf_catalog_unlock (LeafCatalog *self)
{
  g_autoptr(GPtrArray) pending = NULL;

  g_assert (self->lock_depth > 0);
  if (--self->lock_depth == 0 && self->pending->len > 0)
    {
      pending = g_steal_pointer (&self->pending);
      self->pending = g_ptr_array_new ();
    }
  g_rec_mutex_unlock (&self->lock);

  /* Handlers run with the lock let go: one that waits for a thread using the catalog must not
   * deadlock. */
  for (guint i = 0; pending != NULL && i < pending->len; i++)
    dispatch (self, pending->pdata[i]);
}

LeafDb *
_leaf_catalog_get_db (LeafCatalog  *self,
                      GError      **error)
{
  if (self->db == NULL)
    g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FAILED,
                 _("The catalog “%s” is closed."), self->display_name);
  return self->db;
}

LeafDb *
_leaf_catalog_lock_fetch_db (LeafCatalog  *self,
                             GError      **error)
{
  g_mutex_lock (&self->fetch_lock);
  if (self->fetch_db == NULL &&
      (self->fetch_db = _leaf_db_open (self->path, FALSE, LEAF_DB_WORKER, error)) == NULL)
    {
      g_mutex_unlock (&self->fetch_lock);
      return NULL;
    }
  return self->fetch_db;
}

void
_leaf_catalog_unlock_fetch_db (LeafCatalog *self)
{
  g_mutex_unlock (&self->fetch_lock);
}

typedef struct
{
  LeafCatalog *self;
  LeafCatalogChange change;
  GArray *ids;
} Emission;

static void
emission_free (gpointer data)
{
  Emission *emission = data;

  g_object_unref (emission->self);
  g_clear_pointer (&emission->ids, g_array_unref);
  g_free (emission);
}

static gboolean
emit_cb (gpointer data)
{
  Emission *emission = data;

  /* Labels with ids say which photos changed, not that nothing else did: the watch may still
   * have to announce other programs' labels. */
  if (emission->change != LEAF_CATALOG_CHANGED_LABELS || emission->ids == NULL)
    remember_announced (emission->self, emission->change);
  switch (emission->change)
    {
    case LEAF_CATALOG_CHANGED_IMAGES:
      g_signal_emit (emission->self, signals[IMAGES_CHANGED], 0);
      break;
    case LEAF_CATALOG_CHANGED_LABELS:
      g_signal_emit (emission->self, signals[LABELS_CHANGED], 0, emission->ids);
      break;
    case LEAF_CATALOG_CHANGED_CLASSES:
      g_signal_emit (emission->self, signals[CLASSES_CHANGED], 0);
      break;
    case LEAF_CATALOG_CHANGED_RUNS:
      g_signal_emit (emission->self, signals[RUNS_CHANGED], 0);
      break;
    case LEAF_CATALOG_CHANGED_ACTIVE_MODEL:
      g_signal_emit (emission->self, signals[ACTIVE_MODEL_CHANGED], 0);
      break;
    default:
      g_assert_not_reached ();
    }
  return G_SOURCE_REMOVE;
}

static void
dispatch (LeafCatalog *self,
          gpointer     data)
{
  Emission *emission = data;

  if (g_thread_self () == self->owner)
    {
      emit_cb (emission);
      emission_free (emission);
    }
  else
    {
      /* Not g_main_context_invoke(): from a thread without a context of its own it would run
       * the handler right there whenever the owner's loop is idle. */
      g_autoptr(GSource) source = g_idle_source_new ();

      g_source_set_priority (source, G_PRIORITY_DEFAULT);
      g_source_set_callback (source, emit_cb, emission, emission_free);
      g_source_set_static_name (source, "[leafscope] catalog change");
      g_source_attach (source, self->context);
    }
}

void
_leaf_catalog_emit (LeafCatalog       *self,
                    LeafCatalogChange  change,
                    GArray            *ids)
{
  Emission *emission = g_new0 (Emission, 1);

  emission->self = g_object_ref (self);
  emission->change = change;
  emission->ids = ids;

  /* Holding the lock (a depth above zero can only be ours once we hold it too), the emission
   * waits for the outermost unlock; a worker with a connection of its own announces at once. */
  g_rec_mutex_lock (&self->lock);
  if (self->lock_depth > 0)
    {
      g_ptr_array_add (self->pending, emission);
      g_rec_mutex_unlock (&self->lock);
      return;
    }
  g_rec_mutex_unlock (&self->lock);
  dispatch (self, emission);
}

/**
 * leaf_catalog_set_group_key:
 * @self: a #LeafCatalog
 * @image_ids: (array length=n_images): the images
 * @n_images: how many
 * @group_key: (nullable): the specimen, plant or session they belong to, or %NULL for none
 * @error: return location for a #GError
 *
 * Groups images so that splits keep them together. Splits already assigned are not moved;
 * reassign them with leaf_catalog_assign_splits() to apply the new grouping.
 *
 * Returns: %TRUE on success
 */
gboolean
leaf_catalog_set_group_key (LeafCatalog   *self,
                            const gint64  *image_ids,
                            gsize          n_images,
                            const char    *group_key,
                            GError       **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(LeafTxn) txn = NULL;
  LeafDb *db;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), FALSE);
  g_return_val_if_fail (image_ids != NULL || n_images == 0, FALSE);
  g_return_val_if_fail (group_key == NULL || g_utf8_validate (group_key, -1, NULL), FALSE);

  locker = _leaf_catalog_locker_new (self);
  if ((txn = _leaf_catalog_begin (self, &db, error)) == NULL)
    return FALSE;
  for (gsize i = 0; i < n_images; i++)
    {
      g_autoptr(LeafStmt) stmt =
        _leaf_db_prepare (db, "UPDATE images SET group_key = ?2 WHERE id = ?1", error);

      if (stmt == NULL)
        return FALSE;
      _leaf_bind_int64 (stmt, 1, image_ids[i]);
      _leaf_bind_text (stmt, 2, group_key != NULL && *group_key != '\0' ? group_key : NULL);
      if (!_leaf_db_run (db, stmt, error))
        return FALSE;
    }
  if (!_leaf_txn_commit (&txn, error))
    return FALSE;
  _leaf_catalog_emit (self, LEAF_CATALOG_CHANGED_IMAGES, NULL);
  return TRUE;
}

gboolean
_leaf_images_exists_at (const char *path,
                        guint64     size)
{
  GStatBuf st;

  return g_stat (path, &st) == 0 && S_ISREG (st.st_mode) && (guint64) st.st_size == size;
}

typedef struct
{
  gint64 id;
  char *path;
  guint64 size;
  gboolean missing;
  char *sha256;
  gboolean held; /* the catalog holds its bytes: never missing */
} ImagePlace;

static void
image_place_clear (gpointer data)
{
  ImagePlace *place = data;

  g_free (place->path);
  g_free (place->sha256);
}

static GArray *
load_places (LeafDb      *db,
             const char  *prefix,
             GError     **error)
{
  g_autoptr(GArray) places = g_array_new (FALSE, FALSE, sizeof (ImagePlace));
  g_autoptr(LeafStmt) stmt = NULL;
  int rc;

  g_array_set_clear_func (places, image_place_clear);
  if (prefix == NULL)
    stmt = _leaf_db_prepare (db, "SELECT id, path, size, missing, sha256, " LEAF_HELD_SQL
                             " FROM images i ORDER BY id", error);
  else
    stmt = _leaf_db_prepare (db,
                             "SELECT id, path, size, missing, sha256, " LEAF_HELD_SQL
                             " FROM images i WHERE substr (path, 1, length (?1)) = ?1 ORDER BY id",
                             error);
  if (stmt == NULL)
    return NULL;
  if (prefix != NULL)
    _leaf_bind_text (stmt, 1, prefix);
  while ((rc = _leaf_step (stmt)) == LEAF_STEP_ROW)
    {
      ImagePlace place = {
        _leaf_column_int64 (stmt, 0),
        g_strdup (_leaf_column_text (stmt, 1)),
        _leaf_column_int64 (stmt, 2),
        _leaf_column_int (stmt, 3) != 0,
        g_strdup (_leaf_column_text (stmt, 4)),
        _leaf_column_int (stmt, 5) != 0,
      };
      g_array_append_val (places, place);
    }
  if (rc != LEAF_STEP_DONE)
    {
      _leaf_db_fail (db, error);
      return NULL;
    }
  return g_steal_pointer (&places);
}

static gboolean
update_places (LeafDb      *db,
               GArray      *places,
               const char  *sql,
               GError     **error)
{
  g_autoptr(LeafTxn) txn = _leaf_txn_begin (db, error);

  if (txn == NULL)
    return FALSE;
  for (guint i = 0; i < places->len; i++)
    {
      ImagePlace *place = &g_array_index (places, ImagePlace, i);
      g_autoptr(LeafStmt) stmt = _leaf_db_prepare (db, sql, error);

      if (stmt == NULL)
        return FALSE;
      _leaf_bind_int64 (stmt, 1, place->id);
      _leaf_bind_text (stmt, 2, place->path);
      _leaf_bind_int64 (stmt, 3, place->missing);
      if (!_leaf_db_run (db, stmt, error))
        return FALSE;
    }
  return _leaf_txn_commit (&txn, error);
}

/**
 * leaf_catalog_check_missing:
 * @self: a #LeafCatalog
 * @cancellable: (nullable): a #GCancellable
 * @n_missing: (out) (optional): how many images are missing now
 * @error: return location for a #GError
 *
 * Looks for every image's file and records which are missing (or back). Missing images stay in
 * the catalog with their labels; leaf_catalog_relocate() or importing the moved files repairs
 * their paths. A photo whose bytes the catalog holds is never missing. The files are looked at
 * without holding the catalog's lock.
 *
 * Returns: %TRUE on success
 */
gboolean
leaf_catalog_check_missing (LeafCatalog   *self,
                            GCancellable  *cancellable,
                            guint         *n_missing,
                            GError       **error)
{
  g_autoptr(GArray) places = NULL;
  g_autoptr(GArray) changed = g_array_new (FALSE, FALSE, sizeof (ImagePlace));
  guint missing = 0;
  LeafDb *db;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);

  _leaf_catalog_lock (self);
  db = _leaf_catalog_get_db (self, error);
  places = db != NULL ? load_places (db, NULL, error) : NULL;
  _leaf_catalog_unlock (self);
  if (places == NULL)
    return FALSE;

  for (guint i = 0; i < places->len; i++)
    {
      ImagePlace *place = &g_array_index (places, ImagePlace, i);
      gboolean is_missing;

      if (i % 1024 == 0 && g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      is_missing = !place->held && !g_file_test (place->path, G_FILE_TEST_IS_REGULAR);
      missing += is_missing;
      if (is_missing != place->missing)
        {
          ImagePlace change = { place->id, NULL, 0, is_missing };
          g_array_append_val (changed, change);
        }
    }

  if (changed->len > 0)
    {
      g_autoptr(LeafCatalogLocker) locker = _leaf_catalog_locker_new (self);

      if ((db = _leaf_catalog_get_db (self, error)) == NULL)
        return FALSE;
      /* A catalog this user may only read still answers; it just cannot remember the answer. */
      if (!db->read_only)
        {
          if (!update_places (db, changed, "UPDATE images SET missing = ?3 WHERE id = ?1", error))
            return FALSE;
          _leaf_catalog_emit (self, LEAF_CATALOG_CHANGED_IMAGES, NULL);
        }
    }
  if (n_missing != NULL)
    *n_missing = missing;
  return TRUE;
}

static void
check_missing_thread (GTask        *task,
                      gpointer      source_object,
                      gpointer      task_data,
                      GCancellable *cancellable)
{
  GError *error = NULL;
  guint n_missing = 0;

  if (leaf_catalog_check_missing (source_object, cancellable, &n_missing, &error))
    g_task_return_int (task, n_missing);
  else
    g_task_return_error (task, error);
}

/**
 * leaf_catalog_check_missing_async:
 * @self: a #LeafCatalog
 * @cancellable: (nullable): a #GCancellable
 * @callback: called on the caller's thread-default main context when done
 * @user_data: data for @callback
 *
 * Runs leaf_catalog_check_missing() in a worker thread.
 */
void
leaf_catalog_check_missing_async (LeafCatalog         *self,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (LEAF_IS_CATALOG (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, leaf_catalog_check_missing_async);
  g_task_run_in_thread (task, check_missing_thread);
}

/**
 * leaf_catalog_check_missing_finish:
 * @self: a #LeafCatalog
 * @result: the #GAsyncResult given to the callback
 * @n_missing: (out) (optional): how many images are missing
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
leaf_catalog_check_missing_finish (LeafCatalog   *self,
                                   GAsyncResult  *result,
                                   guint         *n_missing,
                                   GError       **error)
{
  gssize n;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  n = g_task_propagate_int (G_TASK (result), error);
  if (n < 0)
    return FALSE;
  if (n_missing != NULL)
    *n_missing = n;
  return TRUE;
}

gboolean
_leaf_file_has_sha256 (const char *path,
                       const char *sha256)
{
  g_autofree char *found = leaf_file_sha256 (path, NULL, NULL);

  return g_strcmp0 (found, sha256) == 0;
}

/* Whether path holds the photo the catalog knows by size and sha256: the size is looked at
 * first, so that only files that could match are read. */
static gboolean
holds_photo (const char *path,
             guint64     size,
             const char *sha256)
{
  return _leaf_images_exists_at (path, size) && _leaf_file_has_sha256 (path, sha256);
}

/**
 * leaf_catalog_relocate:
 * @self: a #LeafCatalog
 * @old_folder: (type filename): where images used to be
 * @new_folder: (type filename): where they are now
 * @n_repaired: (out) (optional): how many paths were changed
 * @differing: (out) (optional) (transfer full) (element-type filename): files under @new_folder
 *   in the place of an image that are not that image (another size or content, or unreadable)
 * @not_found: (out) (optional) (transfer full) (element-type filename): places under
 *   @new_folder where an image under @old_folder was looked for and nothing was found
 * @error: return location for a #GError
 *
 * Repairs the paths of images that were moved with their folder: each image under @old_folder
 * whose file now exists at the same place under @new_folder, with the same content (SHA-256),
 * gets the new path. Others keep their path; same-sized scans under the same names must not
 * take each other's labels. Model files outside the catalog's folder are repaired the same way
 * (those inside it move with the catalog). Files are read without holding the catalog's lock.
 *
 * Returns: %TRUE on success
 */
gboolean
leaf_catalog_relocate (LeafCatalog  *self,
                       const char   *old_folder,
                       const char   *new_folder,
                       guint        *n_repaired,
                       GPtrArray   **differing,
                       GPtrArray   **not_found,
                       GError      **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autofree char *old_abs = NULL;
  g_autofree char *new_abs = NULL;
  g_autofree char *prefix = NULL;
  g_autoptr(GArray) places = NULL;
  g_autoptr(GArray) moved = g_array_new (FALSE, FALSE, sizeof (ImagePlace));
  g_autoptr(GPtrArray) other = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) absent = g_ptr_array_new_with_free_func (g_free);
  guint n_models = 0;
  LeafDb *db;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), FALSE);
  g_return_val_if_fail (old_folder != NULL && new_folder != NULL, FALSE);

  old_abs = g_canonicalize_filename (old_folder, NULL);
  new_abs = g_canonicalize_filename (new_folder, NULL);
  if (!g_utf8_validate (new_abs, -1, NULL))
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                   _("The folder name “%s” is not valid UTF-8; rename it first."),
                   g_filename_display_name (new_abs));
      return FALSE;
    }
  prefix = g_str_has_suffix (old_abs, G_DIR_SEPARATOR_S) ? g_strdup (old_abs)
                                                          : g_strconcat (old_abs, "/", NULL);
  g_array_set_clear_func (moved, image_place_clear);

  _leaf_catalog_lock (self);
  db = _leaf_catalog_get_db (self, error);
  places = db != NULL ? load_places (db, prefix, error) : NULL;
  _leaf_catalog_unlock (self);
  if (places == NULL)
    return FALSE;
  for (guint i = 0; i < places->len; i++)
    {
      ImagePlace *place = &g_array_index (places, ImagePlace, i);
      g_autofree char *candidate = g_build_filename (new_abs, place->path + strlen (prefix), NULL);

      if (holds_photo (candidate, place->size, place->sha256))
        {
          ImagePlace move = { place->id, g_steal_pointer (&candidate), place->size, FALSE, NULL };
          g_array_append_val (moved, move);
        }
      else
        {
          GPtrArray *unmatched = g_file_test (candidate, G_FILE_TEST_EXISTS) ? other : absent;
          g_ptr_array_add (unmatched, g_steal_pointer (&candidate));
        }
    }

  if (moved->len > 0)
    {
      locker = _leaf_catalog_locker_new (self);
      if ((db = _leaf_catalog_get_db (self, error)) == NULL ||
          !update_places (db, moved, "UPDATE images SET path = ?2, missing = 0 WHERE id = ?1",
                          error))
        return FALSE;
      _leaf_catalog_emit (self, LEAF_CATALOG_CHANGED_IMAGES, NULL);
    }
  g_clear_pointer (&locker, _leaf_catalog_locker_free);
  if (!_leaf_models_relocate (self, prefix, new_abs, &n_models, other, absent, error))
    return FALSE;
  if (n_repaired != NULL)
    *n_repaired = moved->len + n_models;
  if (differing != NULL)
    *differing = g_steal_pointer (&other);
  if (not_found != NULL)
    *not_found = g_steal_pointer (&absent);
  return TRUE;
}

/**
 * leaf_label_how_to_string:
 * @how: a #LeafLabelHow
 *
 * Returns: the name stored in the catalog and exported: `folder-import`, `manual` or
 *   `suggestion`
 */
const char *
leaf_label_how_to_string (LeafLabelHow how)
{
  switch (how)
    {
    case LEAF_LABEL_HOW_FOLDER_IMPORT: return "folder-import";
    case LEAF_LABEL_HOW_MANUAL: return "manual";
    case LEAF_LABEL_HOW_SUGGESTION: return "suggestion";
    default: g_return_val_if_reached (NULL);
    }
}

/**
 * leaf_label_how_from_string:
 * @string: a name from leaf_label_how_to_string()
 * @how: (out): where to store the value
 *
 * Returns: %TRUE when @string is one of the names
 */
gboolean
leaf_label_how_from_string (const char   *string,
                            LeafLabelHow *how)
{
  for (LeafLabelHow h = LEAF_LABEL_HOW_FOLDER_IMPORT; h <= LEAF_LABEL_HOW_SUGGESTION; h++)
    if (g_strcmp0 (string, leaf_label_how_to_string (h)) == 0)
      {
        *how = h;
        return TRUE;
      }
  return FALSE;
}
