/* leaf-catalog-labels.c: labels, their provenance and their undoable history
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-catalog"

#include "config.h"

#include <inttypes.h>

#include <glib/gi18n.h>

#include "leaf-catalog-private.h"
#include "leaf-error.h"

/* Every change of a label is an event of an action; an action is what one undo takes back. The
 * history lives in the catalog, so undo and redo work across restarts and processes. */

gint64
_leaf_labels_new_action (LeafDb        *db,
                         LeafLabelHow   how,
                         GError       **error)
{
  g_autofree char *now = _leaf_now ();
  g_autoptr(LeafStmt) discard = NULL;
  g_autoptr(LeafStmt) insert = NULL;

  /* A new action ends the redo stack, as in any editor; the undone actions stay as history. */
  discard = _leaf_db_prepare (db, "UPDATE label_actions SET state = 2 WHERE state = 1", error);
  if (discard == NULL || !_leaf_db_run (db, discard, error))
    return 0;
  insert = _leaf_db_prepare (db, "INSERT INTO label_actions (user, time, how) VALUES (?, ?, ?)",
                             error);
  if (insert == NULL)
    return 0;
  _leaf_bind_text (insert, 1, g_get_user_name ());
  _leaf_bind_text (insert, 2, now);
  _leaf_bind_text (insert, 3, leaf_label_how_to_string (how));
  if (!_leaf_db_run (db, insert, error))
    return 0;
  return sqlite3_last_insert_rowid (db->handle);
}

gboolean
_leaf_labels_action_is_open (LeafDb  *db,
                             gint64   action_id,
                             GError **error)
{
  g_autoptr(LeafStmt) stmt =
    _leaf_db_prepare (db, "SELECT state FROM label_actions WHERE id = ?", error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, action_id);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return sqlite3_column_int (stmt, 0) == 0;
  if (rc != SQLITE_DONE)
    _leaf_db_fail (db, error);
  return FALSE;
}

/* The label an image has now; class_id 0 when it has none. */
typedef struct
{
  gint64 class_id;
  char *user;
  char *time;
  char *how;
} LabelState;

static void
label_state_clear (LabelState *state)
{
  g_clear_pointer (&state->user, g_free);
  g_clear_pointer (&state->time, g_free);
  g_clear_pointer (&state->how, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (LabelState, label_state_clear)

static gboolean
read_label (LeafDb      *db,
            gint64       image_id,
            LabelState  *state,
            GError     **error)
{
  g_autoptr(LeafStmt) stmt =
    _leaf_db_prepare (db, "SELECT class_id, user, time, how FROM labels WHERE image_id = ?", error);
  int rc;

  memset (state, 0, sizeof *state);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, image_id);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    {
      state->class_id = sqlite3_column_int64 (stmt, 0);
      state->user = g_strdup (_leaf_column_text (stmt, 1));
      state->time = g_strdup (_leaf_column_text (stmt, 2));
      state->how = g_strdup (_leaf_column_text (stmt, 3));
      return TRUE;
    }
  if (rc != SQLITE_DONE)
    return _leaf_db_fail (db, error);
  return TRUE;
}

static gboolean
delete_label (LeafDb   *db,
              gint64    image_id,
              GError  **error)
{
  g_autoptr(LeafStmt) stmt = _leaf_db_prepare (db, "DELETE FROM labels WHERE image_id = ?", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, image_id);
  return _leaf_db_run (db, stmt, error);
}

/* Writes a label with the provenance of an action (its user, time and how). */
static gboolean
write_label_of_action (LeafDb   *db,
                       gint64    image_id,
                       gint64    class_id,
                       gint64    action_id,
                       GError  **error)
{
  g_autoptr(LeafStmt) stmt =
    _leaf_db_prepare (db,
                      "INSERT INTO labels (image_id, class_id, user, time, how) "
                      "SELECT ?1, ?2, user, time, how FROM label_actions WHERE id = ?3 "
                      "ON CONFLICT (image_id) DO UPDATE SET class_id = excluded.class_id, "
                      "user = excluded.user, time = excluded.time, how = excluded.how",
                      error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, image_id);
  sqlite3_bind_int64 (stmt, 2, class_id);
  sqlite3_bind_int64 (stmt, 3, action_id);
  return _leaf_db_run (db, stmt, error);
}

static gboolean
write_label_state (LeafDb            *db,
                   gint64             image_id,
                   const LabelState  *state,
                   GError           **error)
{
  g_autoptr(LeafStmt) stmt =
    _leaf_db_prepare (db,
                      "INSERT OR REPLACE INTO labels (image_id, class_id, user, time, how) "
                      "VALUES (?, ?, ?, ?, ?)",
                      error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, image_id);
  sqlite3_bind_int64 (stmt, 2, state->class_id);
  _leaf_bind_text (stmt, 3, state->user);
  _leaf_bind_text (stmt, 4, state->time);
  _leaf_bind_text (stmt, 5, state->how);
  return _leaf_db_run (db, stmt, error);
}

/* given: the provenance to record, or NULL for the action's own. */
static gboolean
apply_label (LeafDb             *db,
             gint64              action_id,
             gint64              image_id,
             gint64              class_id,
             const LabelState   *given,
             gboolean            only_if_unlabeled,
             gboolean           *changed,
             GError            **error)
{
  g_auto(LabelState) old = { 0 };
  g_autoptr(LeafStmt) how_stmt = NULL;
  g_autoptr(LeafStmt) event = NULL;
  g_autofree char *now = _leaf_now ();
  gboolean same;

  if (changed != NULL)
    *changed = FALSE;
  if (!read_label (db, image_id, &old, error))
    return FALSE;
  if (old.class_id > 0 && only_if_unlabeled)
    return TRUE;

  /* The same class with the same provenance is no change; the same class confirmed by other
   * means (a person confirming a folder's label) is, because the provenance changes. */
  /* A given label without a time is the same when its class, labeller and how are: importing
   * one spreadsheet twice changes nothing the second time. */
  if (given != NULL)
    same = old.class_id == class_id && g_strcmp0 (old.how, given->how) == 0 &&
           g_strcmp0 (old.user, given->user) == 0 &&
           (given->time == NULL || g_strcmp0 (old.time, given->time) == 0);
  else
    {
      how_stmt = _leaf_db_prepare (db, "SELECT how FROM label_actions WHERE id = ?", error);
      if (how_stmt == NULL)
        return FALSE;
      sqlite3_bind_int64 (how_stmt, 1, action_id);
      if (sqlite3_step (how_stmt) != SQLITE_ROW)
        return _leaf_db_fail (db, error);
      same = old.class_id == class_id &&
             (class_id == 0 || g_strcmp0 (old.how, _leaf_column_text (how_stmt, 0)) == 0);
      g_clear_pointer (&how_stmt, _leaf_stmt_release);
    }
  if (same)
    return TRUE;

  if (class_id == 0 ? !delete_label (db, image_id, error)
      : given != NULL ? !write_label_state (db, image_id,
                                            &(LabelState) { class_id, given->user,
                                                            given->time != NULL ? given->time
                                                                                : now,
                                                            given->how },
                                            error)
      : !write_label_of_action (db, image_id, class_id, action_id, error))
    return FALSE;

  event = _leaf_db_prepare (db,
                            "INSERT INTO label_events (action_id, image_id, old_class_id, "
                            "old_user, old_time, old_how, new_class_id) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?)",
                            error);
  if (event == NULL)
    return FALSE;
  sqlite3_bind_int64 (event, 1, action_id);
  sqlite3_bind_int64 (event, 2, image_id);
  _leaf_bind_id (event, 3, old.class_id);
  _leaf_bind_text (event, 4, old.user);
  _leaf_bind_text (event, 5, old.time);
  _leaf_bind_text (event, 6, old.how);
  _leaf_bind_id (event, 7, class_id);
  if (!_leaf_db_run (db, event, error))
    return FALSE;
  if (changed != NULL)
    *changed = TRUE;
  return TRUE;
}

gboolean
_leaf_labels_apply (LeafDb    *db,
                    gint64     action_id,
                    gint64     image_id,
                    gint64     class_id,
                    gboolean   only_if_unlabeled,
                    gboolean  *changed,
                    GError   **error)
{
  return apply_label (db, action_id, image_id, class_id, NULL, only_if_unlabeled, changed,
                      error);
}

gboolean
_leaf_labels_apply_given (LeafDb      *db,
                          gint64       action_id,
                          gint64       image_id,
                          gint64       class_id,
                          const char  *user,
                          const char  *time,
                          LeafLabelHow how,
                          gboolean     only_if_unlabeled,
                          gboolean    *changed,
                          GError     **error)
{
  /* The strings are only borrowed: the state is never cleared. */
  LabelState given = { class_id, (char *) user, (char *) time,
                       (char *) leaf_label_how_to_string (how) };

  return apply_label (db, action_id, image_id, class_id, &given, only_if_unlabeled, changed,
                      error);
}

/* Whether sql, a query with one parameter, finds a row for id; otherwise NOT_FOUND with the
 * message not_found, a format that takes the id. */
static gboolean
check_exists (LeafDb      *db,
              const char  *sql,
              gint64       id,
              const char  *not_found,
              GError     **error)
{
  g_autoptr(LeafStmt) stmt = _leaf_db_prepare (db, sql, error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, id);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return TRUE;
  if (rc != SQLITE_DONE)
    return _leaf_db_fail (db, error);
  g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND, not_found, id);
  return FALSE;
}

/**
 * leaf_catalog_set_labels:
 * @self: a #LeafCatalog
 * @image_ids: (array length=n_images): the images to label
 * @n_images: how many
 * @class_id: the class to label them with, or 0 to remove their labels
 * @how: how the label was chosen, recorded with it
 * @error: return location for a #GError
 *
 * Labels (or unlabels) images in one transaction, as one undoable action recorded with the OS
 * user and the time. Images that already have this label from the same source are left as
 * they are; when nothing changes, no action is recorded. When this returns %TRUE the labels are
 * on disk.
 *
 * Returns: %TRUE on success
 */
gboolean
leaf_catalog_set_labels (LeafCatalog   *self,
                         const gint64  *image_ids,
                         gsize          n_images,
                         gint64         class_id,
                         LeafLabelHow   how,
                         GError       **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(LeafTxn) txn = NULL;
  g_autoptr(GArray) changed_ids = NULL;
  gint64 action_id;
  LeafDb *db;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), FALSE);
  g_return_val_if_fail (image_ids != NULL || n_images == 0, FALSE);
  g_return_val_if_fail (class_id >= 0, FALSE);
  g_return_val_if_fail (how >= LEAF_LABEL_HOW_FOLDER_IMPORT && how <= LEAF_LABEL_HOW_SUGGESTION,
                        FALSE);

  if (n_images == 0)
    return TRUE;
  locker = _leaf_catalog_locker_new (self);
  if ((txn = _leaf_catalog_begin (self, &db, error)) == NULL ||
      (class_id > 0 &&
       !check_exists (db, "SELECT 1 FROM classes WHERE id = ? AND NOT removed", class_id,
                      _("The catalog has no class with id %" PRId64 "."), error)) ||
      (action_id = _leaf_labels_new_action (db, how, error)) == 0)
    return FALSE;

  changed_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  for (gsize i = 0; i < n_images; i++)
    {
      gboolean changed;

      if (!check_exists (db, "SELECT 1 FROM images WHERE id = ?", image_ids[i],
                         _("The catalog has no image with id %" PRId64 "."), error) ||
          !_leaf_labels_apply (db, action_id, image_ids[i], class_id, FALSE, &changed, error))
        return FALSE;
      if (changed)
        g_array_append_val (changed_ids, image_ids[i]);
    }
  /* Nothing changed: the transaction rolls back, leaving the history (and its redo stack) as
   * it was. */
  if (changed_ids->len == 0)
    return TRUE;
  if (!_leaf_txn_commit (&txn, error))
    return FALSE;
  _leaf_catalog_emit (self, LEAF_CATALOG_CHANGED_LABELS, g_steal_pointer (&changed_ids));
  return TRUE;
}

/* Says in words what an action did, for menus ("Undo Label 3 Images as “Healthy”"). */
static char *
describe_action (LeafDb   *db,
                 gint64    action_id,
                 GError  **error)
{
  g_autoptr(LeafStmt) stmt =
    _leaf_db_prepare (db,
                      "SELECT a.how, count(e.id), count(DISTINCT e.new_class_id), "
                      "  max(e.new_class_id IS NULL), min(c.name) "
                      "FROM label_actions a "
                      "LEFT JOIN label_events e ON e.action_id = a.id "
                      "LEFT JOIN classes c ON c.id = e.new_class_id "
                      "WHERE a.id = ?",
                      error);
  const char *how;
  guint n_events, n_classes;
  gboolean unlabels;
  const char *class_name;

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, action_id);
  if (sqlite3_step (stmt) != SQLITE_ROW)
    {
      _leaf_db_fail (db, error);
      return NULL;
    }
  how = _leaf_column_text (stmt, 0);
  n_events = sqlite3_column_int (stmt, 1);
  n_classes = sqlite3_column_int (stmt, 2);
  unlabels = sqlite3_column_int (stmt, 3) != 0;
  class_name = _leaf_column_text (stmt, 4);

  if (g_strcmp0 (how, "folder-import") == 0)
    return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Labels of %u imported image",
                                         "Labels of %u imported images", n_events),
                            n_events);
  if (n_classes == 0 && unlabels)
    return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Remove the label of %u image",
                                         "Remove the labels of %u images", n_events),
                            n_events);
  if (n_classes == 1 && !unlabels && g_strcmp0 (how, "suggestion") == 0)
    return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                         "Accept the suggestion “%2$s” for %1$u image",
                                         "Accept the suggestion “%2$s” for %1$u images", n_events),
                            n_events, class_name);
  if (n_classes == 1 && !unlabels)
    return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Label %u image as “%s”",
                                         "Label %u images as “%s”", n_events),
                            n_events, class_name);
  return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Change the label of %u image",
                                       "Change the labels of %u images", n_events),
                          n_events);
}

/* The action the next undo (state 0, newest) or redo (state 1, oldest) would take, or 0. */
static gint64
next_action (LeafDb   *db,
             gboolean  undo,
             GError  **error)
{
  g_autoptr(LeafStmt) stmt =
    _leaf_db_prepare (db, undo ? "SELECT max(id) FROM label_actions WHERE state = 0"
                               : "SELECT min(id) FROM label_actions WHERE state = 1",
                      error);

  if (stmt == NULL)
    return -1;
  if (sqlite3_step (stmt) != SQLITE_ROW)
    {
      _leaf_db_fail (db, error);
      return -1;
    }
  return sqlite3_column_int64 (stmt, 0);
}

typedef struct
{
  gint64 image_id;
  LabelState old;
  gint64 new_class_id;
} Event;

static void
event_clear (gpointer data)
{
  label_state_clear (&((Event *) data)->old);
}

static GArray *
load_events (LeafDb   *db,
             gint64    action_id,
             GError  **error)
{
  g_autoptr(GArray) events = g_array_new (FALSE, FALSE, sizeof (Event));
  g_autoptr(LeafStmt) stmt =
    _leaf_db_prepare (db,
                      "SELECT image_id, old_class_id, old_user, old_time, old_how, new_class_id "
                      "FROM label_events WHERE action_id = ? ORDER BY id",
                      error);
  int rc;

  if (stmt == NULL)
    return NULL;
  g_array_set_clear_func (events, event_clear);
  sqlite3_bind_int64 (stmt, 1, action_id);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      Event event = {
        sqlite3_column_int64 (stmt, 0),
        {
          sqlite3_column_int64 (stmt, 1),
          g_strdup (_leaf_column_text (stmt, 2)),
          g_strdup (_leaf_column_text (stmt, 3)),
          g_strdup (_leaf_column_text (stmt, 4)),
        },
        sqlite3_column_int64 (stmt, 5),
      };
      g_array_append_val (events, event);
    }
  if (rc != SQLITE_DONE)
    {
      _leaf_db_fail (db, error);
      return NULL;
    }
  return g_steal_pointer (&events);
}

/* Takes one event back (undo) or applies it again (redo). An image whose label was changed
 * since by another action (possible when two programs label at once) is left alone. */
static gboolean
replay_event (LeafDb       *db,
              gint64        action_id,
              const Event  *event,
              gboolean      undo,
              gboolean     *changed,
              GError      **error)
{
  g_auto(LabelState) now = { 0 };
  gint64 expected = undo ? event->new_class_id : event->old.class_id;
  gint64 target = undo ? event->old.class_id : event->new_class_id;
  gboolean usable = TRUE;

  *changed = FALSE;
  if (!read_label (db, event->image_id, &now, error))
    return FALSE;
  if (now.class_id != expected)
    return TRUE;
  if (target > 0 && !_leaf_classes_revive (db, target, &usable, error))
    return FALSE;
  if (!usable)
    return TRUE;
  if (target == 0)
    {
      if (!delete_label (db, event->image_id, error))
        return FALSE;
    }
  else if (undo)
    {
      if (!write_label_state (db, event->image_id, &event->old, error))
        return FALSE;
    }
  else if (!write_label_of_action (db, event->image_id, target, action_id, error))
    return FALSE;
  *changed = TRUE;
  return TRUE;
}

static gboolean
undo_or_redo (LeafCatalog  *self,
              gboolean      undo,
              char        **description,
              GError      **error)
{
  g_autoptr(LeafCatalogLocker) locker = _leaf_catalog_locker_new (self);
  g_autoptr(LeafTxn) txn = NULL;
  g_autoptr(GArray) events = NULL;
  g_autoptr(GArray) changed_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(LeafStmt) stmt = NULL;
  g_autofree char *what = NULL;
  gint64 action_id;
  LeafDb *db;

  if ((txn = _leaf_catalog_begin (self, &db, error)) == NULL ||
      (action_id = next_action (db, undo, error)) < 0)
    return FALSE;
  if (action_id == 0)
    {
      g_set_error_literal (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND,
                           undo ? _("There is nothing to undo.") : _("There is nothing to redo."));
      return FALSE;
    }
  if ((what = describe_action (db, action_id, error)) == NULL ||
      (events = load_events (db, action_id, error)) == NULL)
    return FALSE;

  /* Undo walks the events backwards, redo forwards, so that an image changed twice in one
   * action ends where it should. */
  for (guint k = 0; k < events->len; k++)
    {
      const Event *event = &g_array_index (events, Event, undo ? events->len - 1 - k : k);
      gboolean changed;

      if (!replay_event (db, action_id, event, undo, &changed, error))
        return FALSE;
      if (changed)
        g_array_append_val (changed_ids, event->image_id);
    }

  stmt = _leaf_db_prepare (db, "UPDATE label_actions SET state = ? WHERE id = ?", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int (stmt, 1, undo ? 1 : 0);
  sqlite3_bind_int64 (stmt, 2, action_id);
  if (!_leaf_db_run (db, stmt, error) || !_leaf_txn_commit (&txn, error))
    return FALSE;

  /* A removed class may have come back, and class counts changed in any case. */
  _leaf_catalog_emit (self, LEAF_CATALOG_CHANGED_CLASSES, NULL);
  _leaf_catalog_emit (self, LEAF_CATALOG_CHANGED_LABELS, g_steal_pointer (&changed_ids));
  if (description != NULL)
    *description = g_steal_pointer (&what);
  return TRUE;
}

/**
 * leaf_catalog_undo:
 * @self: a #LeafCatalog
 * @description: (out) (optional) (transfer full): what was undone, in words
 * @error: return location for a #GError
 *
 * Takes back the newest labelling action that is not undone yet, restoring each image's
 * earlier label with its provenance. The history is stored in the catalog, so this works after
 * a restart. Fails with %LEAF_ENGINE_ERROR_NOT_FOUND when there is nothing to undo.
 *
 * Returns: %TRUE on success
 */
gboolean
leaf_catalog_undo (LeafCatalog  *self,
                   char        **description,
                   GError      **error)
{
  g_return_val_if_fail (LEAF_IS_CATALOG (self), FALSE);

  return undo_or_redo (self, TRUE, description, error);
}

/**
 * leaf_catalog_redo:
 * @self: a #LeafCatalog
 * @description: (out) (optional) (transfer full): what was redone, in words
 * @error: return location for a #GError
 *
 * Applies again the action undone last. Any new labelling action empties the redo stack. Fails
 * with %LEAF_ENGINE_ERROR_NOT_FOUND when there is nothing to redo.
 *
 * Returns: %TRUE on success
 */
gboolean
leaf_catalog_redo (LeafCatalog  *self,
                   char        **description,
                   GError      **error)
{
  g_return_val_if_fail (LEAF_IS_CATALOG (self), FALSE);

  return undo_or_redo (self, FALSE, description, error);
}

static char *
get_description (LeafCatalog *self,
                 gboolean     undo)
{
  g_autoptr(LeafCatalogLocker) locker = _leaf_catalog_locker_new (self);
  g_autoptr(GError) error = NULL;
  LeafDb *db;
  gint64 action_id;

  if ((db = _leaf_catalog_get_db (self, NULL)) == NULL)
    return NULL;
  action_id = next_action (db, undo, &error);
  if (action_id <= 0)
    {
      if (error != NULL)
        g_warning ("%s", error->message);
      return NULL;
    }
  return describe_action (db, action_id, NULL);
}

/**
 * leaf_catalog_get_undo_description:
 * @self: a #LeafCatalog
 *
 * Returns: (transfer full) (nullable): what leaf_catalog_undo() would take back, in words, or
 *   %NULL when there is nothing to undo
 */
char *
leaf_catalog_get_undo_description (LeafCatalog *self)
{
  g_return_val_if_fail (LEAF_IS_CATALOG (self), NULL);

  return get_description (self, TRUE);
}

/**
 * leaf_catalog_get_redo_description:
 * @self: a #LeafCatalog
 *
 * Returns: (transfer full) (nullable): what leaf_catalog_redo() would apply again, in words, or
 *   %NULL when there is nothing to redo
 */
char *
leaf_catalog_get_redo_description (LeafCatalog *self)
{
  g_return_val_if_fail (LEAF_IS_CATALOG (self), NULL);

  return get_description (self, FALSE);
}
