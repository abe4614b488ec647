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

/* A label is a labeller's vote: each labeller has at most one per image, in votes. What training
 * and the Library use, labels, follows from the votes and any adjudication
 * (_leaf_labels_resolve()), and is written nowhere else. Every change of a vote is an event of
 * an action; an action is what one undo takes back, and each labeller undoes only their own.
 * The history lives in the catalog, so undo and redo work across restarts and processes. */

/* The statements quote "user" because PostgreSQL reads a bare user as CURRENT_USER. */

gint64
_leaf_labels_new_action (LeafDb        *db,
                         LeafLabelHow   how,
                         GError       **error)
{
  g_autofree char *now = _leaf_now ();
  g_autoptr(LeafStmt) discard = NULL;
  g_autoptr(LeafStmt) insert = NULL;
  gint64 id;

  /* A new action ends the labeller's redo stack, as in any editor; the undone actions stay as
   * history. */
  discard = _leaf_db_prepare (db, "UPDATE label_actions SET state = 2 "
                              "WHERE state = 1 AND \"user\" = ?", error);
  if (discard == NULL)
    return 0;
  _leaf_bind_text (discard, 1, db->labeller);
  if (!_leaf_db_run (db, discard, error))
    return 0;
  insert = _leaf_db_prepare (db, "INSERT INTO label_actions (\"user\", time, how) VALUES (?, ?, ?) "
                             "RETURNING id", error);
  if (insert == NULL)
    return 0;
  _leaf_bind_text (insert, 1, db->labeller);
  _leaf_bind_text (insert, 2, now);
  _leaf_bind_text (insert, 3, leaf_label_how_to_string (how));
  id = _leaf_db_insert (db, insert, error);
  return id > 0 ? id : 0;
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
  _leaf_bind_int64 (stmt, 1, action_id);
  rc = _leaf_step (stmt);
  if (rc == LEAF_STEP_ROW)
    return _leaf_column_int (stmt, 0) == 0;
  if (rc != LEAF_STEP_DONE)
    _leaf_db_fail (db, error);
  return FALSE;
}

/* A labeller's vote on an image; class_id 0 when they have none. user is the labeller. */
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
read_vote (LeafDb      *db,
           gint64       image_id,
           const char  *labeller,
           LabelState  *state,
           GError     **error)
{
  g_autoptr(LeafStmt) stmt =
    _leaf_db_prepare (db, "SELECT class_id, labeller, time, how FROM votes "
                      "WHERE image_id = ? AND labeller = ?", error);
  int rc;

  memset (state, 0, sizeof *state);
  if (stmt == NULL)
    return FALSE;
  _leaf_bind_int64 (stmt, 1, image_id);
  _leaf_bind_text (stmt, 2, labeller);
  rc = _leaf_step (stmt);
  if (rc == LEAF_STEP_ROW)
    {
      state->class_id = _leaf_column_int64 (stmt, 0);
      state->user = g_strdup (_leaf_column_text (stmt, 1));
      state->time = g_strdup (_leaf_column_text (stmt, 2));
      state->how = g_strdup (_leaf_column_text (stmt, 3));
      return TRUE;
    }
  if (rc != LEAF_STEP_DONE)
    return _leaf_db_fail (db, error);
  return TRUE;
}

/* Runs sql, whose only parameter is an image id. */
static gboolean
run_for_image (LeafDb      *db,
               const char  *sql,
               gint64       image_id,
               GError     **error)
{
  g_autoptr(LeafStmt) stmt = _leaf_db_prepare (db, sql, error);

  if (stmt == NULL)
    return FALSE;
  _leaf_bind_int64 (stmt, 1, image_id);
  return _leaf_db_run (db, stmt, error);
}

/**
 * _leaf_labels_resolve:
 *
 * Derives an image's label from its adjudication, else from the class most of its ballots name
 * (its votes, folder imports only while nobody voted; the latest of those votes giving the
 * provenance); an image whose top classes tie has no label until someone adjudicates or votes
 * again.
 */
gboolean
_leaf_labels_resolve (LeafDb  *db,
                      gint64   image_id,
                      GError **error)
{
  return run_for_image (db, "DELETE FROM labels WHERE image_id = ?1", image_id, error) &&
         run_for_image (db,
                        "INSERT INTO labels (image_id, class_id, \"user\", time, how) "
                        "SELECT image_id, class_id, adjudicator, time, 'manual' "
                        "FROM adjudications WHERE image_id = ?1 "
                        "UNION ALL "
                        "SELECT * FROM ("
                        "  WITH tally AS (SELECT class_id, count(*) AS n FROM ballots "
                        "                 WHERE image_id = ?1 GROUP BY class_id) "
                        "  SELECT v.image_id, v.class_id, v.labeller, v.time, v.how "
                        "  FROM ballots v JOIN tally t ON t.class_id = v.class_id "
                        "  WHERE v.image_id = ?1 "
                        "    AND NOT EXISTS (SELECT 1 FROM adjudications WHERE image_id = ?1) "
                        "    AND t.n > coalesce ((SELECT max (n) FROM tally "
                        "                         WHERE class_id <> t.class_id), 0) "
                        "  ORDER BY v.time DESC, v.labeller LIMIT 1) AS majority",
                        image_id, error);
}

static gboolean
delete_vote (LeafDb      *db,
             gint64       image_id,
             const char  *labeller,
             GError     **error)
{
  g_autoptr(LeafStmt) stmt =
    _leaf_db_prepare (db, "DELETE FROM votes WHERE image_id = ? AND labeller = ?", error);

  if (stmt == NULL)
    return FALSE;
  _leaf_bind_int64 (stmt, 1, image_id);
  _leaf_bind_text (stmt, 2, labeller);
  return _leaf_db_run (db, stmt, error) && _leaf_labels_resolve (db, image_id, error);
}

/* Writes a labeller's vote with the time and how of an action. */
static gboolean
write_vote_of_action (LeafDb      *db,
                      gint64       image_id,
                      const char  *labeller,
                      gint64       class_id,
                      gint64       action_id,
                      GError     **error)
{
  g_autoptr(LeafStmt) stmt =
    _leaf_db_prepare (db,
                      "INSERT INTO votes (image_id, labeller, class_id, time, how) "
                      "SELECT ?1, ?2, ?3, time, how FROM label_actions WHERE id = ?4 "
                      "ON CONFLICT (image_id, labeller) DO UPDATE SET "
                      "class_id = excluded.class_id, time = excluded.time, how = excluded.how",
                      error);

  if (stmt == NULL)
    return FALSE;
  _leaf_bind_int64 (stmt, 1, image_id);
  _leaf_bind_text (stmt, 2, labeller);
  _leaf_bind_int64 (stmt, 3, class_id);
  _leaf_bind_int64 (stmt, 4, action_id);
  return _leaf_db_run (db, stmt, error) && _leaf_labels_resolve (db, image_id, error);
}

/* Writes the vote of state->user. */
static gboolean
write_vote_state (LeafDb            *db,
                  gint64             image_id,
                  const LabelState  *state,
                  GError           **error)
{
  g_autoptr(LeafStmt) stmt =
    _leaf_db_prepare (db,
                      "INSERT INTO votes (image_id, labeller, class_id, time, how) "
                      "VALUES (?, ?, ?, ?, ?) "
                      "ON CONFLICT (image_id, labeller) DO UPDATE SET "
                      "class_id = excluded.class_id, time = excluded.time, how = excluded.how",
                      error);

  if (stmt == NULL)
    return FALSE;
  _leaf_bind_int64 (stmt, 1, image_id);
  _leaf_bind_text (stmt, 2, state->user);
  _leaf_bind_int64 (stmt, 3, state->class_id);
  _leaf_bind_text (stmt, 4, state->time);
  _leaf_bind_text (stmt, 5, state->how);
  return _leaf_db_run (db, stmt, error) && _leaf_labels_resolve (db, image_id, error);
}

/* Whether sql, a query with one parameter, finds a row for id. */
static gboolean
find_row (LeafDb      *db,
          const char  *sql,
          gint64       id,
          gboolean    *found,
          GError     **error)
{
  g_autoptr(LeafStmt) stmt = _leaf_db_prepare (db, sql, error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  _leaf_bind_int64 (stmt, 1, id);
  rc = _leaf_step (stmt);
  *found = rc == LEAF_STEP_ROW;
  if (rc != LEAF_STEP_ROW && rc != LEAF_STEP_DONE)
    return _leaf_db_fail (db, error);
  return TRUE;
}

/* given: the vote to record (its labeller, time and how), or NULL for a vote of the action's
 * user with the action's time and how. */
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
  g_autoptr(LeafStmt) action_stmt = NULL;
  g_autoptr(LeafStmt) event = NULL;
  g_autofree char *now = _leaf_now ();
  g_autofree char *action_how = NULL;
  g_autofree char *labeller = NULL;
  gboolean same;

  if (changed != NULL)
    *changed = FALSE;
  if (given != NULL)
    labeller = g_strdup (given->user);
  else
    {
      action_stmt = _leaf_db_prepare (db, "SELECT how, \"user\" FROM label_actions WHERE id = ?",
                                      error);
      if (action_stmt == NULL)
        return FALSE;
      _leaf_bind_int64 (action_stmt, 1, action_id);
      if (_leaf_step (action_stmt) != LEAF_STEP_ROW)
        return _leaf_db_fail (db, error);
      action_how = g_strdup (_leaf_column_text (action_stmt, 0));
      labeller = g_strdup (_leaf_column_text (action_stmt, 1));
      g_clear_pointer (&action_stmt, _leaf_stmt_release);
    }

  if (only_if_unlabeled)
    {
      /* Folder imports label what nobody labelled yet. */
      gboolean voted;

      if (!find_row (db, "SELECT 1 FROM votes WHERE image_id = ? LIMIT 1", image_id, &voted,
                     error))
        return FALSE;
      if (voted)
        return TRUE;
    }
  if (!read_vote (db, image_id, labeller, &old, error))
    return FALSE;

  /* The same class with the same provenance is no change; the same class confirmed by other
   * means (a person confirming a folder's label) is, because the provenance changes. */
  /* A given label without a time is the same when its class, labeller and how are: importing
   * one spreadsheet twice changes nothing the second time. */
  if (given != NULL)
    same = old.class_id == class_id && g_strcmp0 (old.how, given->how) == 0 &&
           (given->time == NULL || g_strcmp0 (old.time, given->time) == 0);
  else
    same = old.class_id == class_id &&
           (class_id == 0 || g_strcmp0 (old.how, action_how) == 0);
  if (same)
    return TRUE;

  if (class_id == 0 ? !delete_vote (db, image_id, labeller, error)
      : given != NULL ? !write_vote_state (db, image_id,
                                           &(LabelState) { class_id, labeller,
                                                           given->time != NULL ? given->time
                                                                               : now,
                                                           given->how },
                                           error)
      : !write_vote_of_action (db, image_id, labeller, class_id, action_id, error))
    return FALSE;

  event = _leaf_db_prepare (db,
                            "INSERT INTO label_events (action_id, image_id, old_class_id, "
                            "old_user, old_time, old_how, new_class_id, labeller) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            error);
  if (event == NULL)
    return FALSE;
  _leaf_bind_int64 (event, 1, action_id);
  _leaf_bind_int64 (event, 2, image_id);
  _leaf_bind_id (event, 3, old.class_id);
  _leaf_bind_text (event, 4, old.user);
  _leaf_bind_text (event, 5, old.time);
  _leaf_bind_text (event, 6, old.how);
  _leaf_bind_id (event, 7, class_id);
  _leaf_bind_text (event, 8, labeller);
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
  gboolean found;

  if (!find_row (db, sql, id, &found, error))
    return FALSE;
  if (!found)
    g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND, not_found, id);
  return found;
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
       !check_exists (db, "SELECT 1 FROM classes WHERE id = ? AND removed = 0", class_id,
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
                      "SELECT min(a.how), count(e.id), count(DISTINCT e.new_class_id), "
                      "  max(CASE WHEN e.new_class_id IS NULL THEN 1 ELSE 0 END), min(c.name) "
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
  _leaf_bind_int64 (stmt, 1, action_id);
  if (_leaf_step (stmt) != LEAF_STEP_ROW)
    {
      _leaf_db_fail (db, error);
      return NULL;
    }
  how = _leaf_column_text (stmt, 0);
  n_events = _leaf_column_int (stmt, 1);
  n_classes = _leaf_column_int (stmt, 2);
  unlabels = _leaf_column_int (stmt, 3) != 0;
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

/* The labeller's action the next undo (state 0, newest) or redo (state 1, oldest) would take,
 * or 0. */
static gint64
next_action (LeafDb   *db,
             gboolean  undo,
             GError  **error)
{
  g_autoptr(LeafStmt) stmt =
    _leaf_db_prepare (db,
                      undo ? "SELECT max(id) FROM label_actions WHERE state = 0 AND \"user\" = ?"
                           : "SELECT min(id) FROM label_actions WHERE state = 1 AND \"user\" = ?",
                      error);

  if (stmt == NULL)
    return -1;
  _leaf_bind_text (stmt, 1, db->labeller);
  if (_leaf_step (stmt) != LEAF_STEP_ROW)
    {
      _leaf_db_fail (db, error);
      return -1;
    }
  return _leaf_column_int64 (stmt, 0);
}

typedef struct
{
  gint64 image_id;
  char *labeller;
  LabelState old;
  gint64 new_class_id;
} Event;

static void
event_clear (gpointer data)
{
  Event *event = data;

  g_free (event->labeller);
  label_state_clear (&event->old);
}

static GArray *
load_events (LeafDb   *db,
             gint64    action_id,
             GError  **error)
{
  g_autoptr(GArray) events = g_array_new (FALSE, FALSE, sizeof (Event));
  g_autoptr(LeafStmt) stmt =
    _leaf_db_prepare (db,
                      "SELECT e.image_id, e.old_class_id, e.old_user, e.old_time, e.old_how, "
                      "  e.new_class_id, coalesce (e.labeller, a.user) "
                      "FROM label_events e JOIN label_actions a ON a.id = e.action_id "
                      "WHERE e.action_id = ? ORDER BY e.id",
                      error);
  int rc;

  if (stmt == NULL)
    return NULL;
  g_array_set_clear_func (events, event_clear);
  _leaf_bind_int64 (stmt, 1, action_id);
  while ((rc = _leaf_step (stmt)) == LEAF_STEP_ROW)
    {
      Event event = {
        _leaf_column_int64 (stmt, 0),
        g_strdup (_leaf_column_text (stmt, 6)),
        {
          _leaf_column_int64 (stmt, 1),
          g_strdup (_leaf_column_text (stmt, 2)),
          g_strdup (_leaf_column_text (stmt, 3)),
          g_strdup (_leaf_column_text (stmt, 4)),
        },
        _leaf_column_int64 (stmt, 5),
      };
      g_array_append_val (events, event);
    }
  if (rc != LEAF_STEP_DONE)
    {
      _leaf_db_fail (db, error);
      return NULL;
    }
  return g_steal_pointer (&events);
}

/* Takes one event back (undo) or applies it again (redo). A vote changed since by another
 * action (possible when two programs label at once as one labeller) is left alone. */
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
  if (!read_vote (db, event->image_id, event->labeller, &now, error))
    return FALSE;
  if (now.class_id != expected)
    return TRUE;
  if (target > 0 && !_leaf_classes_revive (db, target, &usable, error))
    return FALSE;
  if (!usable)
    return TRUE;
  if (target == 0)
    {
      if (!delete_vote (db, event->image_id, event->labeller, error))
        return FALSE;
    }
  else if (undo)
    {
      /* The vote back as it was; events from before votes named the earlier label's
       * labeller, who may be someone else, so the vote stays this labeller's. */
      LabelState old = event->old;

      old.user = event->labeller;
      if (!write_vote_state (db, event->image_id, &old, error))
        return FALSE;
    }
  else if (!write_vote_of_action (db, event->image_id, event->labeller, target, action_id,
                                  error))
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
  _leaf_bind_int64 (stmt, 1, undo ? 1 : 0);
  _leaf_bind_int64 (stmt, 2, action_id);
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

/**
 * leaf_catalog_adjudicate:
 * @self: a #LeafCatalog
 * @image_ids: (array length=n_images): the photos decided
 * @n_images: how many
 * @class_id: the class decided, or 0 to withdraw the decision (the votes decide again)
 * @error: return location for a #GError
 *
 * Records the labeller's decision on photos, whatever their votes say: it is their label from
 * now on, and later votes do not change it. The votes stay as they were, for agreement.
 *
 * Returns: %TRUE when the decisions are on disk
 */
gboolean
leaf_catalog_adjudicate (LeafCatalog   *self,
                         const gint64  *image_ids,
                         gsize          n_images,
                         gint64         class_id,
                         GError       **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(LeafTxn) txn = NULL;
  g_autoptr(GArray) ids = NULL;
  g_autofree char *now = _leaf_now ();
  LeafDb *db;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), FALSE);
  g_return_val_if_fail (image_ids != NULL || n_images == 0, FALSE);
  g_return_val_if_fail (class_id >= 0, FALSE);

  if (n_images == 0)
    return TRUE;
  locker = _leaf_catalog_locker_new (self);
  if ((txn = _leaf_catalog_begin (self, &db, error)) == NULL ||
      (class_id > 0 &&
       !check_exists (db, "SELECT 1 FROM classes WHERE id = ? AND removed = 0", class_id,
                      _("The catalog has no class with id %" PRId64 "."), error)))
    return FALSE;

  ids = g_array_sized_new (FALSE, FALSE, sizeof (gint64), n_images);
  for (gsize i = 0; i < n_images; i++)
    {
      g_autoptr(LeafStmt) stmt = NULL;

      if (!check_exists (db, "SELECT 1 FROM images WHERE id = ?", image_ids[i],
                         _("The catalog has no image with id %" PRId64 "."), error))
        return FALSE;
      stmt = _leaf_db_prepare (db, class_id > 0
                                   ? "INSERT INTO adjudications "
                                     "(image_id, class_id, adjudicator, time) VALUES (?, ?, ?, ?) "
                                     "ON CONFLICT (image_id) DO UPDATE SET "
                                     "class_id = excluded.class_id, "
                                     "adjudicator = excluded.adjudicator, time = excluded.time"
                                   : "DELETE FROM adjudications WHERE image_id = ?",
                               error);
      if (stmt == NULL)
        return FALSE;
      _leaf_bind_int64 (stmt, 1, image_ids[i]);
      if (class_id > 0)
        {
          _leaf_bind_int64 (stmt, 2, class_id);
          _leaf_bind_text (stmt, 3, db->labeller);
          _leaf_bind_text (stmt, 4, now);
        }
      if (!_leaf_db_run (db, stmt, error) || !_leaf_labels_resolve (db, image_ids[i], error))
        return FALSE;
      g_array_append_val (ids, image_ids[i]);
    }
  if (!_leaf_txn_commit (&txn, error))
    return FALSE;
  _leaf_catalog_emit (self, LEAF_CATALOG_CHANGED_LABELS, g_steal_pointer (&ids));
  return TRUE;
}

void
leaf_vote_info_free (LeafVoteInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->labeller);
  g_free (info->class_name);
  g_free (info->time);
  g_free (info);
}

/**
 * leaf_catalog_list_votes:
 * @self: a #LeafCatalog
 * @image_id: a photo
 * @adjudicator: (out) (optional) (nullable) (transfer full): who decided the photo's label, or
 *   %NULL when nobody did
 * @adjudicated_class_id: (out) (optional): the class decided, or 0
 * @error: return location for a #GError
 *
 * Returns: (transfer container) (element-type LeafVoteInfo): everyone's vote on the photo,
 *   oldest first, or %NULL on error
 */
GPtrArray *
leaf_catalog_list_votes (LeafCatalog  *self,
                         gint64        image_id,
                         char        **adjudicator,
                         gint64       *adjudicated_class_id,
                         GError      **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(GPtrArray) votes =
    g_ptr_array_new_with_free_func ((GDestroyNotify) leaf_vote_info_free);
  g_autoptr(LeafStmt) stmt = NULL;
  g_autoptr(LeafStmt) decided = NULL;
  LeafDb *db;
  int rc;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), NULL);

  locker = _leaf_catalog_locker_new (self);
  if ((db = _leaf_catalog_get_db (self, error)) == NULL ||
      (stmt = _leaf_db_prepare (db,
                                "SELECT v.labeller, v.class_id, c.name, v.time, v.how, "
                                "  CASE WHEN EXISTS (SELECT 1 FROM ballots b "
                                "                    WHERE b.image_id = v.image_id "
                                "                      AND b.labeller = v.labeller) "
                                "  THEN 1 ELSE 0 END "
                                "FROM votes v JOIN classes c ON c.id = v.class_id "
                                "WHERE v.image_id = ? ORDER BY v.time, v.labeller",
                                error)) == NULL)
    return NULL;
  _leaf_bind_int64 (stmt, 1, image_id);
  while ((rc = _leaf_step (stmt)) == LEAF_STEP_ROW)
    {
      LeafVoteInfo *info = g_new0 (LeafVoteInfo, 1);

      info->labeller = g_strdup (_leaf_column_text (stmt, 0));
      info->class_id = _leaf_column_int64 (stmt, 1);
      info->class_name = g_strdup (_leaf_column_text (stmt, 2));
      info->time = g_strdup (_leaf_column_text (stmt, 3));
      leaf_label_how_from_string (_leaf_column_text (stmt, 4), &info->how);
      info->counts = _leaf_column_int (stmt, 5) != 0;
      g_ptr_array_add (votes, info);
    }
  if (rc != LEAF_STEP_DONE)
    {
      _leaf_db_fail (db, error);
      return NULL;
    }

  if ((decided = _leaf_db_prepare (db, "SELECT adjudicator, class_id FROM adjudications "
                                   "WHERE image_id = ?", error)) == NULL)
    return NULL;
  _leaf_bind_int64 (decided, 1, image_id);
  rc = _leaf_step (decided);
  if (rc != LEAF_STEP_ROW && rc != LEAF_STEP_DONE)
    {
      _leaf_db_fail (db, error);
      return NULL;
    }
  if (adjudicator != NULL)
    *adjudicator = rc == LEAF_STEP_ROW ? g_strdup (_leaf_column_text (decided, 0)) : NULL;
  if (adjudicated_class_id != NULL)
    *adjudicated_class_id = rc == LEAF_STEP_ROW ? _leaf_column_int64 (decided, 1) : 0;
  return g_steal_pointer (&votes);
}

void
leaf_agreement_free (LeafAgreement *agreement)
{
  if (agreement == NULL)
    return;
  for (guint i = 0; agreement->classes != NULL && i < agreement->classes->len; i++)
    g_free (g_array_index (agreement->classes, LeafClassAgreement, i).class_name);
  g_clear_pointer (&agreement->classes, g_array_unref);
  g_free (agreement);
}

static gint64
count_of (LeafDb      *db,
          const char  *sql,
          GError     **error)
{
  g_autoptr(LeafStmt) stmt = _leaf_db_prepare (db, sql, error);

  if (stmt == NULL)
    return -1;
  if (_leaf_step (stmt) != LEAF_STEP_ROW)
    {
      _leaf_db_fail (db, error);
      return -1;
    }
  return _leaf_column_int64 (stmt, 0);
}

/* Who voted on any photo; a folder import's labels are where photos came from, not a vote. */
#define LABELLERS_SQL \
  "SELECT count (DISTINCT labeller) FROM votes WHERE how <> 'folder-import'"

/**
 * leaf_catalog_count_labellers:
 * @self: a #LeafCatalog
 * @n_labellers: (out): how many people voted on any photo (folder imports aside)
 * @error: return location for a #GError
 *
 * What leaf_catalog_get_agreement() says in n_labellers, without computing the agreement.
 *
 * Returns: %FALSE with @error set when the catalog could not be read
 */
gboolean
leaf_catalog_count_labellers (LeafCatalog  *self,
                              guint        *n_labellers,
                              GError      **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  LeafDb *db;
  gint64 n;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), FALSE);
  g_return_val_if_fail (n_labellers != NULL, FALSE);

  locker = _leaf_catalog_locker_new (self);
  if ((db = _leaf_catalog_get_db (self, error)) == NULL
      || (n = count_of (db, LABELLERS_SQL, error)) < 0)
    return FALSE;
  *n_labellers = n;
  return TRUE;
}

/**
 * leaf_catalog_get_agreement:
 * @self: a #LeafCatalog
 * @error: return location for a #GError
 *
 * How far the labellers agree beyond chance, over the ballots of photos that two or more
 * labelled (see leaf_agreement_kappa()), overall and per class among the classes in use.
 *
 * Returns: (transfer full): the agreement, or %NULL on error
 */
LeafAgreement *
leaf_catalog_get_agreement (LeafCatalog  *self,
                            GError      **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(LeafAgreement) agreement = g_new0 (LeafAgreement, 1);
  g_autoptr(GArray) votes = g_array_new (FALSE, FALSE, sizeof (LeafVote));
  g_autoptr(GHashTable) raters = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) categories = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                                                            NULL);
  g_autoptr(LeafStmt) classes = NULL;
  g_autoptr(LeafStmt) stmt = NULL;
  g_autoptr(LeafStmt) sources = NULL;
  gint64 n;
  LeafDb *db;
  int rc;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), NULL);

  agreement->classes = g_array_new (FALSE, FALSE, sizeof (LeafClassAgreement));
  locker = _leaf_catalog_locker_new (self);
  if ((db = _leaf_catalog_get_db (self, error)) == NULL ||
      (classes = _leaf_db_prepare (db, "SELECT id, name FROM classes WHERE removed = 0 "
                                   "ORDER BY position, id", error)) == NULL)
    return NULL;
  while ((rc = _leaf_step (classes)) == LEAF_STEP_ROW)
    {
      LeafClassAgreement one = { _leaf_column_int64 (classes, 0),
                                 g_strdup (_leaf_column_text (classes, 1)) };

      g_array_append_val (agreement->classes, one);
    }
  if (rc != LEAF_STEP_DONE)
    {
      _leaf_db_fail (db, error);
      return NULL;
    }
  /* Removed classes can still have votes: they index after the ones in use. */
  for (guint k = 0; k < agreement->classes->len; k++)
    g_hash_table_insert (categories,
                         g_memdup2 (&g_array_index (agreement->classes, LeafClassAgreement,
                                                    k).class_id, sizeof (gint64)),
                         GUINT_TO_POINTER (k));

  if ((stmt = _leaf_db_prepare (db, "SELECT image_id, labeller, class_id FROM ballots", error))
      == NULL)
    return NULL;
  while ((rc = _leaf_step (stmt)) == LEAF_STEP_ROW)
    {
      const char *labeller = _leaf_column_text (stmt, 1);
      gint64 class_id = _leaf_column_int64 (stmt, 2);
      gpointer rater, category;
      LeafVote vote;

      if (!g_hash_table_lookup_extended (raters, labeller, NULL, &rater))
        {
          rater = GUINT_TO_POINTER (g_hash_table_size (raters));
          g_hash_table_insert (raters, g_strdup (labeller), rater);
        }
      if (!g_hash_table_lookup_extended (categories, &class_id, NULL, &category))
        {
          category = GUINT_TO_POINTER (g_hash_table_size (categories));
          g_hash_table_insert (categories, g_memdup2 (&class_id, sizeof class_id), category);
        }
      /* Image ids index photos: rows are numbered from 1 and never reach 2^32 in practice. */
      vote = (LeafVote) { (guint) _leaf_column_int64 (stmt, 0), GPOINTER_TO_UINT (rater),
                          GPOINTER_TO_UINT (category) };
      g_array_append_val (votes, vote);
    }
  if (rc != LEAF_STEP_DONE)
    {
      _leaf_db_fail (db, error);
      return NULL;
    }
  leaf_agreement_kappa ((LeafVote *) votes->data, votes->len, g_hash_table_size (categories), -1,
                        &agreement->overall);
  for (guint k = 0; k < agreement->classes->len; k++)
    leaf_agreement_kappa ((LeafVote *) votes->data, votes->len, g_hash_table_size (categories),
                          k, &g_array_index (agreement->classes, LeafClassAgreement, k).kappa);

  if ((n = count_of (db, LABELLERS_SQL, error)) < 0)
    return NULL;
  agreement->n_labellers = n;
  if ((n = count_of (db, "SELECT count (*) FROM (" LEAF_DISPUTED_IMAGES_SQL ") AS disputed",
                     error)) < 0)
    return NULL;
  agreement->n_disputed = n;
  if ((n = count_of (db, "SELECT count (*) FROM adjudications", error)) < 0)
    return NULL;
  agreement->n_adjudicated = n;

  /* Labels by how many ballots gave them, and whether those agreed. */
  if ((sources = _leaf_db_prepare (db,
                                   "SELECT count (*) FILTER (WHERE n = 1), "
                                   "  count (*) FILTER (WHERE n > 1 AND k = 1), "
                                   "  count (*) FILTER (WHERE n > 1 AND k > 1) "
                                   "FROM (SELECT count (*) AS n, count (DISTINCT b.class_id) AS k "
                                   "      FROM ballots b JOIN labels l ON l.image_id = b.image_id "
                                   "      WHERE b.image_id NOT IN "
                                   "        (SELECT image_id FROM adjudications) "
                                   "      GROUP BY b.image_id) AS per_image",
                                   error)) == NULL)
    return NULL;
  if (_leaf_step (sources) != LEAF_STEP_ROW)
    {
      _leaf_db_fail (db, error);
      return NULL;
    }
  agreement->n_single = _leaf_column_int64 (sources, 0);
  agreement->n_unanimous = _leaf_column_int64 (sources, 1);
  agreement->n_majority = _leaf_column_int64 (sources, 2);
  return g_steal_pointer (&agreement);
}
