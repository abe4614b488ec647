/* leaf-catalog-classes.c: the classes images are labelled with
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-catalog"

#include "config.h"

#include <inttypes.h>

#include <glib/gi18n.h>

#include "leaf-catalog-private.h"
#include "leaf-error.h"

/* From the GNOME palette, in an order where neighbours differ. */
static const char *const palette[] = {
  "#3584e4", "#33d17a", "#f6d32d", "#ff7800", "#e01b24",
  "#9141ac", "#986a44", "#1a5fb4", "#26a269", "#c64600",
};

#define MAX_CLASS_NAME_CHARS 100
#define MAX_SHORTCUT_CHARS   32

/**
 * leaf_class_info_free:
 * @info: (transfer full) (nullable): a #LeafClassInfo
 */
void
leaf_class_info_free (LeafClassInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->name);
  g_free (info->color);
  g_free (info->shortcut);
  g_free (info);
}

/**
 * leaf_class_name_is_valid:
 * @name: a candidate class name
 * @error: return location for a #GError
 *
 * Class names become folder names when labels are exported as an ImageFolder tree, and come
 * from folder names on import, so they follow the rules of both: non-empty UTF-8 without
 * slashes or control characters, not starting with a dot or a space, and at most 100
 * characters.
 *
 * Returns: %TRUE when @name may name a class
 */
gboolean
leaf_class_name_is_valid (const char  *name,
                          GError     **error)
{
  const char *reason = NULL;

  g_return_val_if_fail (name != NULL, FALSE);

  if (!g_utf8_validate (name, -1, NULL))
    reason = _("it is not valid UTF-8");
  else if (*name == '\0')
    reason = _("it is empty");
  else if (*name == '.' || g_unichar_isspace (g_utf8_get_char (name)))
    reason = _("it starts with a dot or a space");
  else if (g_unichar_isspace (g_utf8_get_char (g_utf8_prev_char (name + strlen (name)))))
    reason = _("it ends with a space");
  else if (g_utf8_strlen (name, -1) > MAX_CLASS_NAME_CHARS)
    reason = _("it is longer than 100 characters");
  else
    for (const char *p = name; *p != '\0'; p = g_utf8_next_char (p))
      {
        gunichar c = g_utf8_get_char (p);

        if (c == '/' || c == '\\' || g_unichar_iscntrl (c))
          {
            reason = _("it contains a slash or a control character");
            break;
          }
      }
  if (reason == NULL)
    return TRUE;
  g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
               _("“%s” cannot name a class: %s."),
               g_utf8_validate (name, -1, NULL) ? name : "?", reason);
  return FALSE;
}

static gboolean
check_color (const char  *color,
             GError     **error)
{
  gboolean valid = strlen (color) == 7 && color[0] == '#';

  for (int i = 1; valid && i < 7; i++)
    valid = g_ascii_isxdigit (color[i]);
  if (!valid)
    g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                 _("“%s” is not a colour; write it as #rrggbb."), color);
  return valid;
}

#define CLASS_COLUMNS \
  "c.id, c.name, c.position, c.color, c.shortcut, " \
  "(SELECT count(*) FROM labels l WHERE l.class_id = c.id)"

static LeafClassInfo *
class_from_row (LeafStmt *stmt)
{
  LeafClassInfo *info = g_new0 (LeafClassInfo, 1);

  info->id = _leaf_column_int64 (stmt, 0);
  info->name = g_strdup (_leaf_column_text (stmt, 1));
  info->position = _leaf_column_int (stmt, 2);
  info->color = g_strdup (_leaf_column_text (stmt, 3));
  info->shortcut = g_strdup (_leaf_column_text (stmt, 4));
  info->n_images = _leaf_column_int (stmt, 5);
  return info;
}

gint64
_leaf_classes_lookup (LeafDb      *db,
                      const char  *name,
                      GError     **error)
{
  g_autoptr(LeafStmt) stmt =
    _leaf_db_prepare (db, "SELECT id FROM classes WHERE name = ? AND removed = 0", error);
  int rc;

  if (stmt == NULL)
    return -1;
  _leaf_bind_text (stmt, 1, name);
  rc = _leaf_step (stmt);
  if (rc == LEAF_STEP_ROW)
    return _leaf_column_int64 (stmt, 0);
  if (rc == LEAF_STEP_DONE)
    return 0;
  _leaf_db_fail (db, error);
  return -1;
}

static LeafClassInfo *
get_class (LeafDb      *db,
           gint64       class_id,
           GError     **error)
{
  g_autoptr(LeafStmt) stmt =
    _leaf_db_prepare (db, "SELECT " CLASS_COLUMNS " FROM classes c "
                      "WHERE c.id = ? AND c.removed = 0", error);
  int rc;

  if (stmt == NULL)
    return NULL;
  _leaf_bind_int64 (stmt, 1, class_id);
  rc = _leaf_step (stmt);
  if (rc == LEAF_STEP_ROW)
    return class_from_row (stmt);
  if (rc == LEAF_STEP_DONE)
    g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND,
                 _("The catalog has no class with id %" PRId64 "."), class_id);
  else
    _leaf_db_fail (db, error);
  return NULL;
}

static gboolean
count_classes (LeafDb   *db,
               guint    *count,
               GError  **error)
{
  g_autoptr(LeafStmt) stmt =
    _leaf_db_prepare (db, "SELECT count(*) FROM classes WHERE removed = 0", error);

  if (stmt == NULL)
    return FALSE;
  if (_leaf_step (stmt) != LEAF_STEP_ROW)
    return _leaf_db_fail (db, error);
  *count = _leaf_column_int (stmt, 0);
  return TRUE;
}

static gint64
insert_class (LeafDb      *db,
              const char  *name,
              const char  *color,
              const char  *shortcut,
              GError     **error)
{
  g_autoptr(LeafStmt) stmt = NULL;
  g_autofree char *now = _leaf_now ();
  guint position = 0;
  gint64 id;

  if (!count_classes (db, &position, error))
    return 0;
  stmt = _leaf_db_prepare (db,
                           "INSERT INTO classes (name, position, color, shortcut, created) "
                           "VALUES (?, ?, ?, ?, ?) RETURNING id",
                           error);
  if (stmt == NULL)
    return 0;
  _leaf_bind_text (stmt, 1, name);
  _leaf_bind_int64 (stmt, 2, position);
  _leaf_bind_text (stmt, 3, color != NULL ? color : palette[position % G_N_ELEMENTS (palette)]);
  _leaf_bind_text (stmt, 4, shortcut);
  _leaf_bind_text (stmt, 5, now);
  id = _leaf_db_insert (db, stmt, error);
  return id > 0 ? id : 0;
}

gint64
_leaf_classes_ensure (LeafDb      *db,
                      const char  *name,
                      gboolean    *created,
                      GError     **error)
{
  gint64 id = _leaf_classes_lookup (db, name, error);

  *created = FALSE;
  if (id != 0)
    return id > 0 ? id : 0;
  if (!leaf_class_name_is_valid (name, error))
    return 0;
  *created = TRUE;
  return insert_class (db, name, NULL, NULL, error);
}

/* Checks a shortcut and that no other class uses it; NULL or "" clears it. */
static gboolean
check_shortcut (LeafDb      *db,
                const char  *shortcut,
                gint64       class_id,
                GError     **error)
{
  g_autoptr(LeafStmt) stmt = NULL;
  int rc;

  if (shortcut == NULL || *shortcut == '\0')
    return TRUE;
  if (!g_utf8_validate (shortcut, -1, NULL) || g_utf8_strlen (shortcut, -1) > MAX_SHORTCUT_CHARS)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                   _("A shortcut must be a key name of at most %d characters."),
                   MAX_SHORTCUT_CHARS);
      return FALSE;
    }
  stmt = _leaf_db_prepare (db, "SELECT name FROM classes "
                           "WHERE shortcut = ? AND id <> ? AND removed = 0", error);
  if (stmt == NULL)
    return FALSE;
  _leaf_bind_text (stmt, 1, shortcut);
  _leaf_bind_int64 (stmt, 2, class_id);
  rc = _leaf_step (stmt);
  if (rc == LEAF_STEP_ROW)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                   _("The key “%s” already labels with the class “%s”."),
                   shortcut, _leaf_column_text (stmt, 0));
      return FALSE;
    }
  if (rc != LEAF_STEP_DONE)
    return _leaf_db_fail (db, error);
  return TRUE;
}

static gboolean
check_name_free (LeafDb      *db,
                 const char  *name,
                 GError     **error)
{
  gint64 id;

  if (!leaf_class_name_is_valid (name, error))
    return FALSE;
  id = _leaf_classes_lookup (db, name, error);
  if (id < 0)
    return FALSE;
  if (id > 0)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                   _("There is already a class named “%s”."), name);
      return FALSE;
    }
  return TRUE;
}

/**
 * leaf_catalog_list_classes:
 * @self: a #LeafCatalog
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (element-type LeafClassInfo): the classes in their order, with
 *   their image counts, or %NULL with @error set
 */
GPtrArray *
leaf_catalog_list_classes (LeafCatalog  *self,
                           GError      **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(GPtrArray) classes = NULL;
  g_autoptr(LeafStmt) stmt = NULL;
  LeafDb *db;
  int rc;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), NULL);

  locker = _leaf_catalog_locker_new (self);
  if ((db = _leaf_catalog_get_db (self, error)) == NULL)
    return NULL;
  stmt = _leaf_db_prepare (db, "SELECT " CLASS_COLUMNS " FROM classes c "
                           "WHERE c.removed = 0 ORDER BY c.position, c.id", error);
  if (stmt == NULL)
    return NULL;
  classes = g_ptr_array_new_with_free_func ((GDestroyNotify) leaf_class_info_free);
  while ((rc = _leaf_step (stmt)) == LEAF_STEP_ROW)
    g_ptr_array_add (classes, class_from_row (stmt));
  if (rc != LEAF_STEP_DONE)
    {
      _leaf_db_fail (db, error);
      return NULL;
    }
  return g_steal_pointer (&classes);
}

/**
 * leaf_catalog_find_class:
 * @self: a #LeafCatalog
 * @name: the class's name
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the class, or %NULL with %LEAF_ENGINE_ERROR_NOT_FOUND
 */
LeafClassInfo *
leaf_catalog_find_class (LeafCatalog  *self,
                         const char   *name,
                         GError      **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  LeafDb *db;
  gint64 id;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  locker = _leaf_catalog_locker_new (self);
  if ((db = _leaf_catalog_get_db (self, error)) == NULL)
    return NULL;
  id = _leaf_classes_lookup (db, name, error);
  if (id < 0)
    return NULL;
  if (id == 0)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND,
                   _("There is no class named “%s”."), name);
      return NULL;
    }
  return get_class (db, id, error);
}

/**
 * leaf_catalog_add_class:
 * @self: a #LeafCatalog
 * @name: a new name, see leaf_class_name_is_valid()
 * @color: (nullable): `#rrggbb`, or %NULL to take the next colour of the palette
 * @shortcut: (nullable): a key not used by another class, or %NULL
 * @error: return location for a #GError
 *
 * Adds a class after the existing ones.
 *
 * Returns: the new class's id, or 0 with @error set
 */
gint64
leaf_catalog_add_class (LeafCatalog  *self,
                        const char   *name,
                        const char   *color,
                        const char   *shortcut,
                        GError      **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(LeafTxn) txn = NULL;
  LeafDb *db;
  gint64 id;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), 0);
  g_return_val_if_fail (name != NULL, 0);

  if (color != NULL && !check_color (color, error))
    return 0;
  locker = _leaf_catalog_locker_new (self);
  if ((txn = _leaf_catalog_begin (self, &db, error)) == NULL ||
      !check_name_free (db, name, error) || !check_shortcut (db, shortcut, 0, error) ||
      (id = insert_class (db, name, color, shortcut != NULL && *shortcut != '\0' ? shortcut : NULL,
                          error)) == 0 ||
      !_leaf_txn_commit (&txn, error))
    return 0;
  _leaf_catalog_emit (self, LEAF_CATALOG_CHANGED_CLASSES, NULL);
  return id;
}

/* Runs one UPDATE of an active class, commits txn and announces the change. */
static gboolean
update_class (LeafCatalog  *self,
              LeafDb       *db,
              LeafTxn     **txn,
              gint64        class_id,
              const char   *sql,
              const char   *value,
              GError      **error)
{
  g_autoptr(LeafStmt) stmt = _leaf_db_prepare (db, sql, error);

  if (stmt == NULL)
    return FALSE;
  _leaf_bind_int64 (stmt, 1, class_id);
  _leaf_bind_text (stmt, 2, value);
  if (!_leaf_db_run (db, stmt, error) || !_leaf_txn_commit (txn, error))
    return FALSE;
  _leaf_catalog_emit (self, LEAF_CATALOG_CHANGED_CLASSES, NULL);
  return TRUE;
}

/* Begins a transaction and checks that class_id names an active class. */
static LeafTxn *
begin_class_change (LeafCatalog  *self,
                    gint64        class_id,
                    LeafDb      **db,
                    GError      **error)
{
  g_autoptr(LeafTxn) txn = _leaf_catalog_begin (self, db, error);
  g_autoptr(LeafClassInfo) info = NULL;

  if (txn == NULL || (info = get_class (*db, class_id, error)) == NULL)
    return NULL;
  return g_steal_pointer (&txn);
}

/**
 * leaf_catalog_rename_class:
 * @self: a #LeafCatalog
 * @class_id: the class
 * @name: its new name, not used by another class
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
leaf_catalog_rename_class (LeafCatalog  *self,
                           gint64        class_id,
                           const char   *name,
                           GError      **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(LeafTxn) txn = NULL;
  LeafDb *db;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  locker = _leaf_catalog_locker_new (self);
  if ((txn = begin_class_change (self, class_id, &db, error)) == NULL ||
      !check_name_free (db, name, error))
    return FALSE;
  return update_class (self, db, &txn, class_id, "UPDATE classes SET name = ?2 WHERE id = ?1",
                       name, error);
}

/**
 * leaf_catalog_set_class_color:
 * @self: a #LeafCatalog
 * @class_id: the class
 * @color: `#rrggbb`
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
leaf_catalog_set_class_color (LeafCatalog  *self,
                              gint64        class_id,
                              const char   *color,
                              GError      **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(LeafTxn) txn = NULL;
  LeafDb *db;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), FALSE);
  g_return_val_if_fail (color != NULL, FALSE);

  if (!check_color (color, error))
    return FALSE;
  locker = _leaf_catalog_locker_new (self);
  if ((txn = begin_class_change (self, class_id, &db, error)) == NULL)
    return FALSE;
  return update_class (self, db, &txn, class_id, "UPDATE classes SET color = ?2 WHERE id = ?1",
                       color, error);
}

/**
 * leaf_catalog_set_class_shortcut:
 * @self: a #LeafCatalog
 * @class_id: the class
 * @shortcut: (nullable): a key name not used by another class, or %NULL to remove it
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
leaf_catalog_set_class_shortcut (LeafCatalog  *self,
                                 gint64        class_id,
                                 const char   *shortcut,
                                 GError      **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(LeafTxn) txn = NULL;
  LeafDb *db;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), FALSE);

  locker = _leaf_catalog_locker_new (self);
  if ((txn = begin_class_change (self, class_id, &db, error)) == NULL ||
      !check_shortcut (db, shortcut, class_id, error))
    return FALSE;
  return update_class (self, db, &txn, class_id, "UPDATE classes SET shortcut = ?2 WHERE id = ?1",
                       shortcut != NULL && *shortcut != '\0' ? shortcut : NULL, error);
}

/* Rewrites the positions of the active classes as 0..n-1 in the order given, where class_id
 * (when > 0) is taken out and put back at `position`. */
static gboolean
renumber_classes (LeafDb   *db,
                  gint64    class_id,
                  guint     position,
                  GError  **error)
{
  g_autoptr(GArray) order = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(LeafStmt) select = NULL;
  int rc;

  select = _leaf_db_prepare (db, "SELECT id FROM classes WHERE removed = 0 "
                             "ORDER BY position, id", error);
  if (select == NULL)
    return FALSE;
  while ((rc = _leaf_step (select)) == LEAF_STEP_ROW)
    {
      gint64 id = _leaf_column_int64 (select, 0);

      if (id != class_id)
        g_array_append_val (order, id);
    }
  if (rc != LEAF_STEP_DONE)
    return _leaf_db_fail (db, error);
  if (class_id > 0)
    g_array_insert_val (order, MIN (position, order->len), class_id);

  for (guint i = 0; i < order->len; i++)
    {
      g_autoptr(LeafStmt) update =
        _leaf_db_prepare (db, "UPDATE classes SET position = ? WHERE id = ?", error);

      if (update == NULL)
        return FALSE;
      _leaf_bind_int64 (update, 1, i);
      _leaf_bind_int64 (update, 2, g_array_index (order, gint64, i));
      if (!_leaf_db_run (db, update, error))
        return FALSE;
    }
  return TRUE;
}

/**
 * leaf_catalog_move_class:
 * @self: a #LeafCatalog
 * @class_id: the class
 * @position: its new 0-based place; past the end puts it last
 * @error: return location for a #GError
 *
 * Moves a class in the class order, which is the output order of models trained from now on.
 *
 * Returns: %TRUE on success
 */
gboolean
leaf_catalog_move_class (LeafCatalog  *self,
                         gint64        class_id,
                         guint         position,
                         GError      **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(LeafTxn) txn = NULL;
  LeafDb *db;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), FALSE);

  locker = _leaf_catalog_locker_new (self);
  if ((txn = begin_class_change (self, class_id, &db, error)) == NULL ||
      !renumber_classes (db, class_id, position, error) || !_leaf_txn_commit (&txn, error))
    return FALSE;
  _leaf_catalog_emit (self, LEAF_CATALOG_CHANGED_CLASSES, NULL);
  return TRUE;
}

static gboolean
unlabel_class (LeafDb   *db,
               gint64    class_id,
               GError  **error)
{
  g_autoptr(GArray) images = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(LeafStmt) select = NULL;
  gint64 action_id;
  int rc;

  select = _leaf_db_prepare (db, "SELECT image_id FROM labels WHERE class_id = ?", error);
  if (select == NULL)
    return FALSE;
  _leaf_bind_int64 (select, 1, class_id);
  while ((rc = _leaf_step (select)) == LEAF_STEP_ROW)
    {
      gint64 id = _leaf_column_int64 (select, 0);
      g_array_append_val (images, id);
    }
  if (rc != LEAF_STEP_DONE)
    return _leaf_db_fail (db, error);
  g_clear_pointer (&select, _leaf_stmt_release);

  if (images->len == 0)
    return TRUE;
  if ((action_id = _leaf_labels_new_action (db, LEAF_LABEL_HOW_MANUAL, error)) == 0)
    return FALSE;
  for (guint i = 0; i < images->len; i++)
    if (!_leaf_labels_apply (db, action_id, g_array_index (images, gint64, i), 0, FALSE, NULL,
                             error))
      return FALSE;
  return TRUE;
}

/**
 * leaf_catalog_remove_class:
 * @self: a #LeafCatalog
 * @class_id: the class
 * @unlabel_images: remove the class's labels too (one undoable action; undoing it brings the
 *   class back when its name is still free); otherwise a class that still labels images is
 *   not removed
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
leaf_catalog_remove_class (LeafCatalog  *self,
                           gint64        class_id,
                           gboolean      unlabel_images,
                           GError      **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(LeafTxn) txn = NULL;
  g_autoptr(LeafClassInfo) info = NULL;
  g_autoptr(LeafStmt) stmt = NULL;
  LeafDb *db;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), FALSE);

  locker = _leaf_catalog_locker_new (self);
  if ((txn = _leaf_catalog_begin (self, &db, error)) == NULL ||
      (info = get_class (db, class_id, error)) == NULL)
    return FALSE;
  if (info->n_images > 0 && !unlabel_images)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                   g_dngettext (GETTEXT_PACKAGE,
                                "The class “%s” still labels %u image. Label it with another "
                                "class first, or remove the class with its labels.",
                                "The class “%s” still labels %u images. Label them with another "
                                "class first, or remove the class with its labels.",
                                info->n_images),
                   info->name, info->n_images);
      return FALSE;
    }
  if (!unlabel_class (db, class_id, error))
    return FALSE;
  stmt = _leaf_db_prepare (db, "UPDATE classes SET removed = 1, shortcut = NULL WHERE id = ?",
                           error);
  if (stmt == NULL)
    return FALSE;
  _leaf_bind_int64 (stmt, 1, class_id);
  if (!_leaf_db_run (db, stmt, error) || !renumber_classes (db, 0, 0, error) ||
      !_leaf_txn_commit (&txn, error))
    return FALSE;
  _leaf_catalog_emit (self, LEAF_CATALOG_CHANGED_CLASSES, NULL);
  if (info->n_images > 0)
    _leaf_catalog_emit (self, LEAF_CATALOG_CHANGED_LABELS, NULL);
  return TRUE;
}

gboolean
_leaf_classes_revive (LeafDb    *db,
                      gint64     class_id,
                      gboolean  *usable,
                      GError   **error)
{
  g_autoptr(LeafStmt) stmt = NULL;
  g_autofree char *name = NULL;
  gboolean removed;
  gint64 other;
  int rc;

  *usable = FALSE;
  stmt = _leaf_db_prepare (db, "SELECT name, removed FROM classes WHERE id = ?", error);
  if (stmt == NULL)
    return FALSE;
  _leaf_bind_int64 (stmt, 1, class_id);
  rc = _leaf_step (stmt);
  if (rc != LEAF_STEP_ROW)
    return rc == LEAF_STEP_DONE ? TRUE : _leaf_db_fail (db, error);
  name = g_strdup (_leaf_column_text (stmt, 0));
  removed = _leaf_column_int (stmt, 1) != 0;
  g_clear_pointer (&stmt, _leaf_stmt_release);
  if (!removed)
    {
      *usable = TRUE;
      return TRUE;
    }
  if ((other = _leaf_classes_lookup (db, name, error)) != 0)
    return other > 0;
  stmt = _leaf_db_prepare (db, "UPDATE classes SET removed = 0, position = "
                           "(SELECT count(*) FROM classes WHERE removed = 0) WHERE id = ?", error);
  if (stmt == NULL)
    return FALSE;
  _leaf_bind_int64 (stmt, 1, class_id);
  if (!_leaf_db_run (db, stmt, error))
    return FALSE;
  *usable = TRUE;
  return TRUE;
}
