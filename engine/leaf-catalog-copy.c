/* leaf-catalog-copy.c: a catalog's rows from one connection to another, whatever their backends
 *
 * Copying a catalog between a file and a server (leaf_catalog_copy()) and merging a catalog that
 * is not a file into another (leaf_catalog_merge()) both move rows through the catalog's own
 * statements, so that either side may be a file or a server.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-catalog"

#include "config.h"

#include <glib/gi18n.h>

#include "leaf-catalog-private.h"
#include "leaf-error.h"

/* A table of the current schema and its columns, each with its type: i an integer, r a real, t
 * text, b bytes. In an order where a table comes after the tables it refers to. */
typedef struct
{
  const char *name;
  const char *columns;
  const char *types;
  gboolean has_id; /* an id the database numbers itself */
} LeafTableSpec;

static const LeafTableSpec tables[] = {
  { "import_batches", "id, started, finished, \"user\", roots, n_added", "itttti", TRUE },
  { "images", "id, sha256, path, name, size, width, height, format, orientation, captured, "
    "imported, batch_id, group_key, managed, missing", "itttiiitittitii", TRUE },
  { "classes", "id, name, position, color, shortcut, created, removed", "itittti", TRUE },
  { "labels", "image_id, class_id, \"user\", time, how", "iittt", FALSE },
  { "label_actions", "id, \"user\", time, how, state", "ittti", TRUE },
  { "label_events", "id, action_id, image_id, old_class_id, old_user, old_time, old_how, "
    "new_class_id, labeller", "iiiitttit", TRUE },
  { "splits", "image_id, split, seed, assigned", "iiit", FALSE },
  { "runs", "id, config, status, started, finished, base_weights_sha256, message, host, pid",
    "ittttttti", TRUE },
  { "metrics", "run_id, scope, name, step, value", "iitir", FALSE },
  { "models", "id, run_id, path, sha256, classes, metrics, created, name, note", "iittttttt",
    TRUE },
  { "predictions", "model_id, image_id, probabilities, top_index, top_class_id, "
    "top_probability, entropy, created, referred", "iibiirrti", FALSE },
  { "active_model", "id, model_id", "ii", FALSE },
  { "votes", "image_id, labeller, class_id, time, how", "ititt", FALSE },
  { "adjudications", "image_id, class_id, adjudicator, time", "iitt", FALSE },
  { "contents", "sha256, data", "tb", FALSE },
};

/* The SQL type of a column type letter, as both backends read it. */
static const char *
sql_type (char type)
{
  switch (type)
    {
    case 'i':
      return "bigint";
    case 'r':
      return "double precision";
    case 'b':
      return "bytea";
    default:
      return "text";
    }
}

static const LeafTableSpec *
find_table (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (tables); i++)
    if (g_str_equal (tables[i].name, name))
      return &tables[i];
  return NULL;
}

/* Copies every row of the table from one connection into `into` (the table's name, or another
 * table with the same columns) on the other, inside the caller's transactions. */
static gboolean
copy_table (LeafDb              *from,
            LeafDb              *to,
            const LeafTableSpec *table,
            const char          *into,
            GError             **error)
{
  guint n_columns = strlen (table->types);
  g_autoptr(GString) marks = g_string_new (NULL);
  g_autofree char *select = g_strdup_printf ("SELECT %s FROM %s", table->columns, table->name);
  g_autofree char *insert = NULL;
  g_autoptr(LeafStmt) read = NULL;
  g_autoptr(LeafStmt) write = NULL;
  LeafStep step;

  for (guint c = 0; c < n_columns; c++)
    g_string_append (marks, c == 0 ? "?" : ", ?");
  insert = g_strdup_printf ("INSERT INTO %s (%s) VALUES (%s)", into, table->columns, marks->str);
  if ((read = _leaf_db_prepare (from, select, error)) == NULL ||
      (write = _leaf_db_prepare (to, insert, error)) == NULL)
    return FALSE;
  while ((step = _leaf_step (read)) == LEAF_STEP_ROW)
    {
      for (guint c = 0; c < n_columns; c++)
        {
          int index = c + 1;

          if (_leaf_column_is_null (read, c))
            _leaf_bind_null (write, index);
          else if (table->types[c] == 'i')
            _leaf_bind_int64 (write, index, _leaf_column_int64 (read, c));
          else if (table->types[c] == 'r')
            _leaf_bind_double (write, index, _leaf_column_double (read, c));
          else if (table->types[c] == 'b')
            {
              gsize size;
              gconstpointer data = _leaf_column_blob (read, c, &size);

              _leaf_bind_blob (write, index, data, size);
            }
          else
            _leaf_bind_text (write, index, _leaf_column_text (read, c));
        }
      if (!_leaf_db_run (to, write, error))
        return FALSE;
    }
  return step == LEAF_STEP_DONE || _leaf_db_fail (from, error);
}

/* Reads a catalog as one snapshot: what another program commits meanwhile is not half in it. */
static gboolean
begin_reading (LeafDb  *db,
               GError **error)
{
  return _leaf_db_exec (db, db->server != NULL ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
                                               : "BEGIN", error);
}

gboolean
_leaf_db_copy_catalog (LeafDb      *from,
                       LeafDb      *to,
                       const char  *from_folder,
                       GError     **error)
{
  gint64 n_rows = 0;
  gboolean ok;

  /* Whether the catalog holds anything a copy could overwrite. */
  if (!_leaf_db_query_int (to, "SELECT (SELECT count (*) FROM images) + "
                           "(SELECT count (*) FROM classes) + (SELECT count (*) FROM runs) + "
                           "(SELECT count (*) FROM label_actions)", &n_rows, error))
    return FALSE;
  if (n_rows > 0)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                   _("The catalog “%s” already holds photos, classes or runs: copy into a new "
                     "one, or merge into this one (leafscope-cli merge)."), to->display_name);
      return FALSE;
    }
  if (!begin_reading (from, error))
    return FALSE;
  /* A new catalog has its row saying that no model is active: the copy brings its own. */
  ok = _leaf_db_exec (to, "DELETE FROM active_model", error);
  for (guint i = 0; ok && i < G_N_ELEMENTS (tables); i++)
    ok = copy_table (from, to, &tables[i], tables[i].name, error);
  _leaf_db_exec (from, "ROLLBACK", NULL);
  if (!ok)
    return FALSE;

  /* Model files inside a catalog file's folder are stored relative to it: elsewhere, the copy
   * needs them whole. */
  if (from_folder != NULL)
    {
      g_autoptr(LeafStmt) stmt =
        _leaf_db_prepare (to, "UPDATE models SET path = ?1 || path "
                          "WHERE substr (path, 1, 1) <> '/'", error);

      if (stmt == NULL)
        return FALSE;
      _leaf_bind_text (stmt, 1, from_folder);
      if (!_leaf_db_run (to, stmt, error))
        return FALSE;
    }

  /* A server numbers new rows from its own count, which rows given their ids leave behind. */
  for (guint i = 0; to->server != NULL && i < G_N_ELEMENTS (tables); i++)
    if (tables[i].has_id)
      {
        g_autofree char *sql =
          g_strdup_printf ("SELECT setval (pg_get_serial_sequence ('%s', 'id'), "
                           "coalesce (max (id), 1), max (id) IS NOT NULL) FROM %s",
                           tables[i].name, tables[i].name);

        if (!_leaf_db_exec (to, sql, error))
          return FALSE;
      }
  return TRUE;
}

/* The tables of the other catalog that a merge reads. */
static const char *const merged_tables[] = { "classes", "images", "votes", "adjudications",
                                             "contents" };

gboolean
_leaf_db_stage_source (LeafDb      *db,
                       LeafDb      *from,
                       GError     **error)
{
  gboolean ok;

  /* On a server the schema goes with the merge's transaction, committed or not; a catalog file
   * keeps it in memory, attached, until the merge lets it go. */
  if (!_leaf_db_exec (db, db->server != NULL ? "CREATE SCHEMA src"
                                             : "ATTACH DATABASE ':memory:' AS src", error))
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (merged_tables); i++)
    {
      const LeafTableSpec *table = find_table (merged_tables[i]);
      g_auto(GStrv) columns = g_strsplit (table->columns, ", ", -1);
      g_autoptr(GString) create = g_string_new (NULL);
      g_autofree char *into = g_strconcat ("src.", table->name, NULL);

      g_string_printf (create, "CREATE TABLE %s (", into);
      for (guint c = 0; columns[c] != NULL; c++)
        g_string_append_printf (create, "%s%s %s", c == 0 ? "" : ", ", columns[c],
                                sql_type (table->types[c]));
      g_string_append (create, ")");
      if (!_leaf_db_exec (db, create->str, error))
        return FALSE;
    }
  if (!begin_reading (from, error))
    return FALSE;
  ok = TRUE;
  for (guint i = 0; ok && i < G_N_ELEMENTS (merged_tables); i++)
    {
      g_autofree char *into = g_strconcat ("src.", merged_tables[i], NULL);

      ok = copy_table (from, db, find_table (merged_tables[i]), into, error);
    }
  _leaf_db_exec (from, "ROLLBACK", NULL);
  return ok;
}

const char *
_leaf_db_copied_columns (const char *table)
{
  const LeafTableSpec *spec = find_table (table);

  return spec != NULL ? spec->columns : NULL;
}

/**
 * leaf_catalog_copy:
 * @source: a catalog file or a server's URI
 * @destination: where the copy goes: a new catalog file, or an empty database on a server
 * @n_images: (out) (optional): how many photos the copy holds
 * @n_unreachable: (out) (optional): how many photos a server's copy does not hold, their files
 *   not being on this machine as they were imported
 *
 * Copies a catalog whole, between a file and a server in either direction (or between two of a
 * kind): photos, classes, votes, decisions, undo history, splits, runs, metrics, models and
 * predictions, with their ids, and the bytes of the photos the source holds. A copy on a server
 * also keeps the bytes of every photo whose file is on this machine, so that every member can
 * see it. The source is only read, as one snapshot; the copy is made in one transaction, so that
 * a failure leaves the destination as empty as it was.
 *
 * Returns: whether the copy was made
 */
gboolean
leaf_catalog_copy (const char  *source,
                   const char  *destination,
                   guint       *n_images,
                   guint       *n_unreachable,
                   GError     **error)
{
  g_autoptr(LeafCatalog) from_catalog = NULL;
  g_autoptr(LeafCatalog) to_catalog = NULL;
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(LeafDb) from = NULL;
  g_autoptr(LeafTxn) txn = NULL;
  g_autofree char *folder = NULL;
  gint64 n_copied = 0;
  guint n_stored = 0;
  guint n_absent = 0;
  LeafDb *to;

  g_return_val_if_fail (source != NULL && destination != NULL, FALSE);

  /* Refuses what is not a catalog, or one newer than this version, before making anything. */
  if ((from_catalog = leaf_catalog_open (source, LEAF_CATALOG_OPEN_DEFAULT, error)) == NULL)
    return FALSE;
  if ((to_catalog = leaf_catalog_open (destination, LEAF_CATALOG_OPEN_CREATE, error)) == NULL)
    return FALSE;
  if (g_str_equal (leaf_catalog_get_path (from_catalog), leaf_catalog_get_path (to_catalog)))
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                   _("“%s” is the catalog to copy: name another place for the copy."),
                   leaf_catalog_get_display_name (to_catalog));
      return FALSE;
    }
  if ((from = _leaf_db_open (leaf_catalog_get_path (from_catalog), FALSE, LEAF_DB_WORKER,
                             error)) == NULL)
    return FALSE;
  if (!leaf_catalog_is_on_server (from_catalog))
    {
      g_autofree char *dir = g_path_get_dirname (leaf_catalog_get_path (from_catalog));

      folder = g_str_has_suffix (dir, G_DIR_SEPARATOR_S) ? g_steal_pointer (&dir)
                                                         : g_strconcat (dir, G_DIR_SEPARATOR_S, NULL);
    }

  locker = _leaf_catalog_locker_new (to_catalog);
  if ((txn = _leaf_catalog_begin (to_catalog, &to, error)) == NULL ||
      !_leaf_db_copy_catalog (from, to, folder, error) ||
      (to->server != NULL && !_leaf_db_store_local_contents (to, &n_stored, &n_absent, error)) ||
      !_leaf_db_query_int (to, "SELECT count (*) FROM images", &n_copied, error))
    return FALSE;
  if (n_images != NULL)
    *n_images = (guint) n_copied;
  if (n_unreachable != NULL)
    *n_unreachable = n_absent;
  return _leaf_txn_commit (&txn, error);
}
