/* leaf-catalog-merge.c: another catalog's photos, classes, votes and decisions brought into this
 * one, as a laptop's from the field into the lab's
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-catalog"

#include "config.h"

#include <glib/gi18n.h>

#include "leaf-catalog-pg.h"
#include "leaf-catalog-private.h"
#include "leaf-error.h"

#define NONE (-1)

/* Each step reads the other catalog, attached as `src`, and writes this one; ?1 is the time. */
static const struct
{
  const char *sql;
  gssize counter; /* offset of the LeafMergeSummary member its changes count, or NONE */
} steps[] = {
  /* Classes by name, in use there and not here, after this catalog's own. */
  { "INSERT INTO classes (name, position, color, created) "
    "SELECT s.name, (SELECT coalesce (max (position), -1) FROM classes WHERE removed = 0) "
    "         + row_number () OVER (ORDER BY s.position, s.id), s.color, ?1 "
    "FROM src.classes s WHERE s.removed = 0 AND s.name NOT IN "
    "  (SELECT name FROM classes WHERE removed = 0)",
    G_STRUCT_OFFSET (LeafMergeSummary, n_classes_added) },
  /* Photos by content. Their files stay where the other catalog found them. */
  { "INSERT INTO images (sha256, path, name, size, width, height, format, orientation, "
    "  captured, imported, group_key, missing) "
    "SELECT s.sha256, s.path, s.name, s.size, s.width, s.height, s.format, s.orientation, "
    "  s.captured, s.imported, s.group_key, s.missing "
    "FROM src.images s WHERE s.sha256 NOT IN (SELECT sha256 FROM images)",
    G_STRUCT_OFFSET (LeafMergeSummary, n_images_added) },
  /* The photos' bytes the other catalog holds (a server's, or a copy of one). */
  { "INSERT INTO contents (sha256, data) SELECT s.sha256, s.data FROM src.contents s "
    "WHERE s.sha256 IN (SELECT sha256 FROM images) "
    "AND s.sha256 NOT IN (SELECT sha256 FROM contents)", NONE },
  /* Their votes, in this catalog's ids; classes removed there or here are left out. */
  { "CREATE TEMP TABLE merged_votes AS "
    "SELECT d.id AS image_id, v.labeller, dc.id AS class_id, v.time, v.how "
    "FROM src.votes v JOIN src.images si ON si.id = v.image_id "
    "JOIN images d ON d.sha256 = si.sha256 "
    "JOIN src.classes sc ON sc.id = v.class_id AND sc.removed = 0 "
    "JOIN classes dc ON dc.name = sc.name AND dc.removed = 0", NONE },
  { "CREATE TEMP TABLE merged_decisions AS "
    "SELECT d.id AS image_id, dc.id AS class_id, a.adjudicator, a.time "
    "FROM src.adjudications a JOIN src.images si ON si.id = a.image_id "
    "JOIN images d ON d.sha256 = si.sha256 "
    "JOIN src.classes sc ON sc.id = a.class_id AND sc.removed = 0 "
    "JOIN classes dc ON dc.name = sc.name AND dc.removed = 0", NONE },
  /* Each labeller's latest vote on a photo stands, wherever it was cast. */
  { "INSERT INTO votes (image_id, labeller, class_id, time, how) "
    "SELECT m.image_id, m.labeller, m.class_id, m.time, m.how FROM merged_votes m "
    "WHERE NOT EXISTS (SELECT 1 FROM votes v WHERE v.image_id = m.image_id "
    "                  AND v.labeller = m.labeller)",
    G_STRUCT_OFFSET (LeafMergeSummary, n_votes_added) },
  { "UPDATE votes SET class_id = m.class_id, time = m.time, how = m.how "
    "FROM merged_votes m WHERE votes.image_id = m.image_id "
    "AND votes.labeller = m.labeller AND m.time > votes.time "
    "AND (m.class_id <> votes.class_id OR m.how <> votes.how)",
    G_STRUCT_OFFSET (LeafMergeSummary, n_votes_updated) },
  /* And the latest decision. */
  { "INSERT INTO adjudications (image_id, class_id, adjudicator, time) "
    "SELECT m.image_id, m.class_id, m.adjudicator, m.time FROM merged_decisions m "
    "WHERE NOT EXISTS (SELECT 1 FROM adjudications a WHERE a.image_id = m.image_id "
    "                  AND a.time >= m.time) "
    "ON CONFLICT (image_id) DO UPDATE SET class_id = excluded.class_id, "
    "adjudicator = excluded.adjudicator, time = excluded.time",
    G_STRUCT_OFFSET (LeafMergeSummary, n_decisions) },
};

static gboolean
run_steps (LeafDb            *db,
           LeafMergeSummary  *summary,
           GError           **error)
{
  g_autofree char *now = _leaf_now ();

  for (gsize i = 0; i < G_N_ELEMENTS (steps); i++)
    {
      g_autoptr(LeafStmt) stmt = _leaf_db_prepare (db, steps[i].sql, error);

      if (stmt == NULL)
        return FALSE;
      if (_leaf_stmt_n_params (stmt) > 0)
        _leaf_bind_text (stmt, 1, now);
      if (!_leaf_db_run (db, stmt, error))
        return FALSE;
      if (steps[i].counter != NONE)
        G_STRUCT_MEMBER (guint, summary, steps[i].counter) = _leaf_db_changes (db);
    }
  return TRUE;
}

/* Labels follow the votes and decisions of every photo the merge touched. */
static gboolean
resolve_merged (LeafDb   *db,
                GArray   *ids,
                GError  **error)
{
  g_autoptr(LeafStmt) stmt =
    _leaf_db_prepare (db, "SELECT image_id FROM merged_votes UNION "
                      "SELECT image_id FROM merged_decisions", error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  while ((rc = _leaf_step (stmt)) == LEAF_STEP_ROW)
    {
      gint64 id = _leaf_column_int64 (stmt, 0);

      g_array_append_val (ids, id);
    }
  if (rc != LEAF_STEP_DONE)
    return _leaf_db_fail (db, error);
  for (guint i = 0; i < ids->len; i++)
    if (!_leaf_labels_resolve (db, g_array_index (ids, gint64, i), error))
      return FALSE;
  return TRUE;
}

static gboolean
count_disputed (LeafDb            *db,
                LeafMergeSummary  *summary,
                GError           **error)
{
  g_autoptr(LeafStmt) stmt =
    _leaf_db_prepare (db, "SELECT count (*) FROM (" LEAF_DISPUTED_IMAGES_SQL ") AS disputed "
                      "WHERE image_id IN (SELECT image_id FROM merged_votes)", error);

  if (stmt == NULL)
    return FALSE;
  if (_leaf_step (stmt) != LEAF_STEP_ROW)
    return _leaf_db_fail (db, error);
  summary->n_disputed = _leaf_column_int (stmt, 0);
  return TRUE;
}

/**
 * leaf_catalog_merge:
 * @self: the catalog to bring them into
 * @source_path: another catalog file (a laptop's, from the field)
 * @summary: (out caller-allocates): what came in
 * @error: return location for a #GError
 *
 * Brings the other catalog's photos (matched by SHA-256; new ones keep the paths it had, and
 * a server keeps the bytes of those whose files are on this machine), its
 * classes (by name), every labeller's votes (the later of two votes by one labeller on one photo
 * stands) and adjudicators' decisions (the later stands) into this one, in one transaction.
 * Where labellers now disagree, photos wait in the adjudication queue. Merging the same catalog
 * again changes nothing. The other catalog is only read (opening it updates an older one, as
 * every open does, keeping a copy).
 *
 * Returns: %TRUE when the merge is on disk
 */
gboolean
leaf_catalog_merge (LeafCatalog       *self,
                    const char        *source_path,
                    LeafMergeSummary  *summary,
                    GError           **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(LeafCatalog) source = NULL;
  g_autoptr(LeafTxn) txn = NULL;
  g_autoptr(LeafStmt) attach = NULL;
  g_autoptr(LeafDb) from = NULL;
  g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autofree char *source_real = NULL;
  guint n_stored = 0;
  LeafDb *db;
  gboolean ok;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), FALSE);
  g_return_val_if_fail (source_path != NULL, FALSE);
  g_return_val_if_fail (summary != NULL, FALSE);

  *summary = (LeafMergeSummary) { 0 };
  /* Refuses what is not a catalog, or one newer than this version, before touching anything. */
  source = leaf_catalog_open (source_path, LEAF_CATALOG_OPEN_DEFAULT, error);
  if (source == NULL)
    return FALSE;
  source_real = g_strdup (leaf_catalog_get_path (source));
  g_clear_object (&source);
  if (g_str_equal (source_real, leaf_catalog_get_path (self)))
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                   _("“%s” is this catalog: merge another one into it."), source_path);
      return FALSE;
    }

  locker = _leaf_catalog_locker_new (self);
  if ((db = _leaf_catalog_get_db (self, error)) == NULL)
    return FALSE;
  /* The merge reads the other catalog as src: a file attached as it is, else (a server on
   * either side) its rows staged for the merge (leaf-catalog-copy.c). */
  if (db->server == NULL && !_leaf_pg_is_location (source_real))
    {
      if ((attach = _leaf_db_prepare (db, "ATTACH DATABASE ? AS src", error)) == NULL)
        return FALSE;
      _leaf_bind_text (attach, 1, source_real);
      if (!_leaf_db_run (db, attach, error))
        return FALSE;
      g_clear_pointer (&attach, _leaf_stmt_release);
    }
  else if ((from = _leaf_db_open (source_real, FALSE, LEAF_DB_WORKER, error)) == NULL)
    return FALSE;
  else if (db->server == NULL && !_leaf_db_stage_source (db, from, error))
    {
      _leaf_db_exec (db, "DETACH DATABASE src", NULL);
      return FALSE;
    }

  ok = (txn = _leaf_txn_begin (db, error)) != NULL &&
       (db->server == NULL || _leaf_db_stage_source (db, from, error)) &&
       run_steps (db, summary, error) &&
       (db->server == NULL || _leaf_db_store_local_contents (db, &n_stored,
                                                             &summary->n_unreachable, error)) &&
       resolve_merged (db, ids, error) &&
       count_disputed (db, summary, error) &&
       _leaf_db_exec (db, "DROP TABLE merged_votes; DROP TABLE merged_decisions", error) &&
       (db->server == NULL || _leaf_db_exec (db, "DROP SCHEMA src CASCADE", error)) &&
       _leaf_txn_commit (&txn, error);
  g_clear_pointer (&txn, _leaf_txn_rollback);
  /* The temporary tables go with a rollback too, and on a server the staged rows; the other
   * catalog is let go either way. */
  if (db->server == NULL)
    _leaf_db_exec (db, "DROP TABLE IF EXISTS temp.merged_votes;"
                   "DROP TABLE IF EXISTS temp.merged_decisions; DETACH DATABASE src", NULL);
  if (!ok)
    return FALSE;

  _leaf_catalog_emit (self, LEAF_CATALOG_CHANGED_CLASSES, NULL);
  _leaf_catalog_emit (self, LEAF_CATALOG_CHANGED_IMAGES, NULL);
  _leaf_catalog_emit (self, LEAF_CATALOG_CHANGED_LABELS, g_steal_pointer (&ids));
  return TRUE;
}
