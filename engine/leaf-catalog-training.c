/* leaf-catalog-training.c: splits, training runs, metrics, models and predictions
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-catalog"

#include "config.h"

#include <inttypes.h>

#include <errno.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <signal.h>
#include <unistd.h>

#include "leaf-catalog-private.h"
#include "leaf-error.h"

/* ---- Splits ---- */

typedef struct
{
  gint64 image_id;
  gint64 class_id;
  LeafSplit split;
} SplitImage;

/* A unit is what cannot be divided: the images of one group key, or one image without a key. */
typedef struct
{
  char *key;
  GArray *images;  /* of SplitImage */
  gint64 class_id; /* the most frequent class among its images */
  LeafSplit split; /* the split its images already have, or NONE */
} SplitUnit;

static void
split_unit_free (gpointer data)
{
  SplitUnit *unit = data;

  g_free (unit->key);
  g_array_unref (unit->images);
  g_free (unit);
}

static int
compare_units (gconstpointer a,
               gconstpointer b)
{
  const SplitUnit *ua = *(SplitUnit * const *) a;
  const SplitUnit *ub = *(SplitUnit * const *) b;

  if (ua->class_id != ub->class_id)
    return ua->class_id < ub->class_id ? -1 : 1;
  return strcmp (ua->key, ub->key);
}

static void
settle_unit (SplitUnit *unit)
{
  g_autoptr(GHashTable) votes = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, NULL);
  guint best = 0;

  unit->class_id = G_MAXINT64;
  unit->split = LEAF_SPLIT_NONE;
  for (guint i = 0; i < unit->images->len; i++)
    {
      SplitImage *image = &g_array_index (unit->images, SplitImage, i);
      guint n = GPOINTER_TO_UINT (g_hash_table_lookup (votes, &image->class_id)) + 1;

      g_hash_table_insert (votes, &image->class_id, GUINT_TO_POINTER (n));
      if (n > best || (n == best && image->class_id < unit->class_id))
        {
          best = n;
          unit->class_id = image->class_id;
        }
      /* A group that already has a split keeps it; new images of the group join it. */
      if (unit->split == LEAF_SPLIT_NONE)
        unit->split = image->split;
    }
}

static GPtrArray *
load_split_units (LeafDb   *db,
                  gboolean  reassign,
                  GError  **error)
{
  g_autoptr(GHashTable) by_key = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GPtrArray) units = g_ptr_array_new_with_free_func (split_unit_free);
  g_autoptr(LeafStmt) stmt =
    _leaf_db_prepare (db,
                      "SELECT i.id, l.class_id, i.group_key, i.sha256, s.split "
                      "FROM images i JOIN labels l ON l.image_id = i.id "
                      "LEFT JOIN splits s ON s.image_id = i.id ORDER BY i.id",
                      error);
  int rc;

  if (stmt == NULL)
    return NULL;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      SplitImage image = {
        sqlite3_column_int64 (stmt, 0),
        sqlite3_column_int64 (stmt, 1),
        reassign ? LEAF_SPLIT_NONE : sqlite3_column_int (stmt, 4),
      };
      const char *group = _leaf_column_text (stmt, 2);
      g_autofree char *key = group != NULL ? g_strconcat ("g:", group, NULL)
                                           : g_strconcat ("i:", _leaf_column_text (stmt, 3), NULL);
      SplitUnit *unit = g_hash_table_lookup (by_key, key);

      if (unit == NULL)
        {
          unit = g_new0 (SplitUnit, 1);
          unit->key = g_steal_pointer (&key);
          unit->images = g_array_new (FALSE, FALSE, sizeof (SplitImage));
          g_hash_table_insert (by_key, unit->key, unit);
          g_ptr_array_add (units, unit);
        }
      g_array_append_val (unit->images, image);
    }
  if (rc != SQLITE_DONE)
    {
      _leaf_db_fail (db, error);
      return NULL;
    }
  for (guint i = 0; i < units->len; i++)
    settle_unit (units->pdata[i]);
  /* The order of units must not depend on row ids, so that the same seed gives the same
   * assignment in any catalog holding the same images, labels and groups. */
  g_ptr_array_sort (units, compare_units);
  return g_steal_pointer (&units);
}

typedef struct
{
  double target[4];
  double have[4];
} ClassTally;

static void
tally_unit (GHashTable *tallies,
            SplitUnit  *unit,
            LeafSplit   split)
{
  for (guint i = 0; i < unit->images->len; i++)
    {
      SplitImage *image = &g_array_index (unit->images, SplitImage, i);
      ClassTally *tally = g_hash_table_lookup (tallies, &image->class_id);

      tally->have[split] += 1;
    }
}

static gboolean
write_split (LeafDb      *db,
             gint64       image_id,
             LeafSplit    split,
             guint32      seed,
             const char  *now,
             GError     **error)
{
  g_autoptr(LeafStmt) stmt =
    _leaf_db_prepare (db, "INSERT OR REPLACE INTO splits (image_id, split, seed, assigned) "
                      "VALUES (?, ?, ?, ?)", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, image_id);
  sqlite3_bind_int (stmt, 2, split);
  sqlite3_bind_int64 (stmt, 3, seed);
  _leaf_bind_text (stmt, 4, now);
  return _leaf_db_run (db, stmt, error);
}

static gboolean
assign_splits (LeafDb                  *db,
               const LeafSplitOptions  *options,
               guint                   *n_assigned,
               GError                 **error)
{
  g_autoptr(GPtrArray) units = NULL;
  g_autoptr(GHashTable) tallies = g_hash_table_new_full (g_int64_hash, g_int64_equal,
                                                         g_free, g_free);
  g_autoptr(GRand) rand = g_rand_new_with_seed (options->seed);
  g_autofree char *now = _leaf_now ();
  double total = options->train + options->validation + options->test;
  double share[4] = { 0, options->train / total, options->validation / total,
                      options->test / total };

  *n_assigned = 0;
  if (options->reassign && !_leaf_db_exec (db, "DELETE FROM splits", error))
    return FALSE;
  if ((units = load_split_units (db, options->reassign, error)) == NULL)
    return FALSE;

  /* Targets per class count every labelled image, so that new images top up the splits
   * towards the shares instead of being divided on their own. */
  for (guint u = 0; u < units->len; u++)
    {
      SplitUnit *unit = units->pdata[u];

      for (guint i = 0; i < unit->images->len; i++)
        {
          SplitImage *image = &g_array_index (unit->images, SplitImage, i);
          ClassTally *tally = g_hash_table_lookup (tallies, &image->class_id);

          if (tally == NULL)
            {
              tally = g_new0 (ClassTally, 1);
              g_hash_table_insert (tallies, g_memdup2 (&image->class_id, sizeof (gint64)), tally);
            }
          for (int s = LEAF_SPLIT_TRAIN; s <= LEAF_SPLIT_TEST; s++)
            tally->target[s] += share[s];
        }
      if (unit->split != LEAF_SPLIT_NONE)
        tally_unit (tallies, unit, unit->split);
    }

  /* Shuffle the undecided units of each class (units are sorted by class), then give each unit
   * to the split furthest below its target for that class. */
  for (guint start = 0; start < units->len;)
    {
      guint end = start;

      while (end < units->len &&
             ((SplitUnit *) units->pdata[end])->class_id ==
             ((SplitUnit *) units->pdata[start])->class_id)
        end++;
      for (guint i = end - 1; i > start; i--)
        {
          guint j = g_rand_int_range (rand, start, i + 1);
          gpointer tmp = units->pdata[i];

          units->pdata[i] = units->pdata[j];
          units->pdata[j] = tmp;
        }
      start = end;
    }

  for (guint u = 0; u < units->len; u++)
    {
      SplitUnit *unit = units->pdata[u];
      ClassTally *tally = g_hash_table_lookup (tallies, &unit->class_id);
      LeafSplit split = unit->split;

      if (split == LEAF_SPLIT_NONE)
        {
          double best = -G_MAXDOUBLE;

          for (int s = LEAF_SPLIT_TRAIN; s <= LEAF_SPLIT_TEST; s++)
            if (share[s] > 0 && tally->target[s] - tally->have[s] > best)
              {
                best = tally->target[s] - tally->have[s];
                split = s;
              }
          tally_unit (tallies, unit, split);
        }
      for (guint i = 0; i < unit->images->len; i++)
        {
          SplitImage *image = &g_array_index (unit->images, SplitImage, i);

          if (image->split != LEAF_SPLIT_NONE)
            continue;
          if (!write_split (db, image->image_id, split, options->seed, now, error))
            return FALSE;
          (*n_assigned)++;
        }
    }
  return TRUE;
}

/**
 * leaf_catalog_assign_splits:
 * @self: a #LeafCatalog
 * @options: the shares, the seed and whether to start over
 * @n_assigned: (out) (optional): how many images got a split
 * @error: return location for a #GError
 *
 * Divides labelled images into training, validation and test splits, stratified by class: each
 * class is divided in the given shares (as nearly as whole groups allow). Images that share a
 * group key always land in one split. The assignment is seeded, stored, and stable: unless
 * @options asks to reassign, images that have a split keep it and only new ones are placed.
 *
 * Returns: %TRUE on success
 */
gboolean
leaf_catalog_assign_splits (LeafCatalog             *self,
                            const LeafSplitOptions  *options,
                            guint                   *n_assigned,
                            GError                 **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(LeafTxn) txn = NULL;
  guint assigned = 0;
  LeafDb *db;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), FALSE);
  g_return_val_if_fail (options != NULL, FALSE);

  if (!(options->train >= 0 && options->validation >= 0 && options->test >= 0) ||
      options->train + options->validation + options->test <= 0)
    {
      g_set_error_literal (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                           _("Split shares must be positive or zero, and not all zero."));
      return FALSE;
    }
  locker = _leaf_catalog_locker_new (self);
  if ((txn = _leaf_catalog_begin (self, &db, error)) == NULL ||
      !assign_splits (db, options, &assigned, error) || !_leaf_txn_commit (&txn, error))
    return FALSE;
  if (assigned > 0 || options->reassign)
    _leaf_catalog_emit (self, LEAF_CATALOG_CHANGED_IMAGES, NULL);
  if (n_assigned != NULL)
    *n_assigned = assigned;
  return TRUE;
}

/**
 * leaf_catalog_count_splits:
 * @self: a #LeafCatalog
 * @counts: (out caller-allocates) (array fixed-size=4): labelled images per #LeafSplit;
 *   `counts[LEAF_SPLIT_NONE]` are those without a split
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
leaf_catalog_count_splits (LeafCatalog  *self,
                           guint         counts[4],
                           GError      **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(LeafStmt) stmt = NULL;
  LeafDb *db;
  int rc;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), FALSE);

  memset (counts, 0, 4 * sizeof (guint));
  locker = _leaf_catalog_locker_new (self);
  if ((db = _leaf_catalog_get_db (self, error)) == NULL)
    return FALSE;
  stmt = _leaf_db_prepare (db, "SELECT coalesce (s.split, 0), count(*) FROM labels l "
                           "LEFT JOIN splits s ON s.image_id = l.image_id GROUP BY 1", error);
  if (stmt == NULL)
    return FALSE;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      int split = sqlite3_column_int (stmt, 0);

      if (split >= 0 && split < 4)
        counts[split] = sqlite3_column_int (stmt, 1);
    }
  if (rc != SQLITE_DONE)
    return _leaf_db_fail (db, error);
  return TRUE;
}

/**
 * leaf_catalog_count_grouped:
 * @self: a #LeafCatalog
 * @n_grouped: (out): labelled images that have a group key
 * @error: return location for a #GError
 *
 * Without any group key, splits are drawn photo by photo, and photos of one plant can end up
 * on both sides of the validation split.
 *
 * Returns: %TRUE on success
 */
gboolean
leaf_catalog_count_grouped (LeafCatalog  *self,
                            guint        *n_grouped,
                            GError      **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(LeafStmt) stmt = NULL;
  LeafDb *db;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), FALSE);
  g_return_val_if_fail (n_grouped != NULL, FALSE);

  *n_grouped = 0;
  locker = _leaf_catalog_locker_new (self);
  if ((db = _leaf_catalog_get_db (self, error)) == NULL)
    return FALSE;
  stmt = _leaf_db_prepare (db, "SELECT count(*) FROM labels l JOIN images i ON i.id = l.image_id "
                           "WHERE i.group_key IS NOT NULL", error);
  if (stmt == NULL)
    return FALSE;
  if (sqlite3_step (stmt) != SQLITE_ROW)
    return _leaf_db_fail (db, error);
  *n_grouped = sqlite3_column_int (stmt, 0);
  return TRUE;
}

/* ---- Runs ---- */

static const char *const run_statuses[] = {
  [LEAF_RUN_RUNNING] = "running",
  [LEAF_RUN_COMPLETED] = "completed",
  [LEAF_RUN_FAILED] = "failed",
  [LEAF_RUN_CANCELLED] = "cancelled",
  [LEAF_RUN_INTERRUPTED] = "interrupted",
};

/**
 * leaf_run_status_to_string:
 * @status: a #LeafRunStatus
 *
 * Returns: the name stored in the catalog: `running`, `completed`, `failed`, `cancelled` or
 *   `interrupted`
 */
const char *
leaf_run_status_to_string (LeafRunStatus status)
{
  g_return_val_if_fail (status <= LEAF_RUN_INTERRUPTED, NULL);
  return run_statuses[status];
}

static LeafRunStatus
run_status_from_string (const char *text)
{
  for (guint i = 0; i < G_N_ELEMENTS (run_statuses); i++)
    if (g_strcmp0 (text, run_statuses[i]) == 0)
      return i;
  return LEAF_RUN_FAILED;
}

/**
 * leaf_run_info_free:
 * @info: (transfer full) (nullable): a #LeafRunInfo
 */
void
leaf_run_info_free (LeafRunInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->config_json);
  g_clear_pointer (&info->started, g_date_time_unref);
  g_clear_pointer (&info->finished, g_date_time_unref);
  g_free (info->base_weights_sha256);
  g_free (info->message);
  g_free (info);
}

static gboolean
process_is_alive (gint64 pid)
{
  if (pid <= 0 || pid > G_MAXINT)
    return FALSE;
  if (pid == getpid ())
    return TRUE;
  /* EPERM: the process exists but belongs to someone else. */
  return kill ((pid_t) pid, 0) == 0 || errno == EPERM;
}

gboolean
_leaf_runs_mark_interrupted (LeafDb  *db,
                             GError **error)
{
  g_autoptr(GArray) dead = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(LeafStmt) select =
    _leaf_db_prepare (db, "SELECT id, host, pid FROM runs WHERE status = 'running'", error);
  g_autofree char *now = _leaf_now ();
  int rc;

  if (select == NULL)
    return FALSE;
  while ((rc = sqlite3_step (select)) == SQLITE_ROW)
    {
      gint64 id = sqlite3_column_int64 (select, 0);

      /* A run of another machine (a catalog on a shared disk) cannot be checked; leave it. */
      if (g_strcmp0 (_leaf_column_text (select, 1), g_get_host_name ()) == 0 &&
          !process_is_alive (sqlite3_column_int64 (select, 2)))
        g_array_append_val (dead, id);
    }
  if (rc != SQLITE_DONE)
    return _leaf_db_fail (db, error);
  for (guint i = 0; i < dead->len; i++)
    {
      g_autoptr(LeafStmt) update =
        _leaf_db_prepare (db, "UPDATE runs SET status = 'interrupted', finished = ?2, "
                          "message = ?3 WHERE id = ?1", error);

      if (update == NULL)
        return FALSE;
      sqlite3_bind_int64 (update, 1, g_array_index (dead, gint64, i));
      _leaf_bind_text (update, 2, now);
      _leaf_bind_text (update, 3, _("The program stopped while the run was training."));
      if (!_leaf_db_run (db, update, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
check_json (const char  *json,
            const char  *what,
            GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) local_error = NULL;

  if (json_parser_load_from_data (parser, json, -1, &local_error))
    return TRUE;
  g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
               _("The %s is not valid JSON: %s"), what, local_error->message);
  return FALSE;
}

/**
 * leaf_catalog_begin_run:
 * @self: a #LeafCatalog
 * @config_json: the training configuration as a JSON object
 * @base_weights_sha256: (nullable): SHA-256 of the weights training starts from
 * @error: return location for a #GError
 *
 * Records a run that starts now, as `running`, with this process as its owner: if the process
 * dies, the next open of the catalog marks it `interrupted`.
 *
 * Returns: the run's id, or 0 with @error set
 */
gint64
leaf_catalog_begin_run (LeafCatalog  *self,
                        const char   *config_json,
                        const char   *base_weights_sha256,
                        GError      **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(LeafStmt) stmt = NULL;
  g_autofree char *now = _leaf_now ();
  gint64 id;
  LeafDb *db;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), 0);
  g_return_val_if_fail (config_json != NULL, 0);

  if (!check_json (config_json, _("training configuration"), error))
    return 0;
  locker = _leaf_catalog_locker_new (self);
  if ((db = _leaf_catalog_get_db (self, error)) == NULL)
    return 0;
  stmt = _leaf_db_prepare (db, "INSERT INTO runs (config, status, started, base_weights_sha256, "
                           "host, pid) VALUES (?, 'running', ?, ?, ?, ?)", error);
  if (stmt == NULL)
    return 0;
  _leaf_bind_text (stmt, 1, config_json);
  _leaf_bind_text (stmt, 2, now);
  _leaf_bind_text (stmt, 3, base_weights_sha256);
  _leaf_bind_text (stmt, 4, g_get_host_name ());
  sqlite3_bind_int64 (stmt, 5, getpid ());
  if (!_leaf_db_run_alone (db, stmt, error))
    return 0;
  id = sqlite3_last_insert_rowid (db->handle);
  _leaf_catalog_emit (self, LEAF_CATALOG_CHANGED_RUNS, NULL);
  return id;
}

/**
 * leaf_catalog_end_run:
 * @self: a #LeafCatalog
 * @run_id: a running run
 * @status: how it ended; not %LEAF_RUN_RUNNING
 * @message: (nullable): why, for failed or stopped runs
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success; %LEAF_ENGINE_ERROR_NOT_FOUND when no such run is running
 */
gboolean
leaf_catalog_end_run (LeafCatalog    *self,
                      gint64          run_id,
                      LeafRunStatus   status,
                      const char     *message,
                      GError        **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(LeafStmt) stmt = NULL;
  g_autofree char *now = _leaf_now ();
  LeafDb *db;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), FALSE);
  g_return_val_if_fail (status > LEAF_RUN_RUNNING && status <= LEAF_RUN_INTERRUPTED, FALSE);

  locker = _leaf_catalog_locker_new (self);
  if ((db = _leaf_catalog_get_db (self, error)) == NULL)
    return FALSE;
  stmt = _leaf_db_prepare (db, "UPDATE runs SET status = ?2, finished = ?3, message = ?4 "
                           "WHERE id = ?1 AND status = 'running'", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, run_id);
  _leaf_bind_text (stmt, 2, run_statuses[status]);
  _leaf_bind_text (stmt, 3, now);
  _leaf_bind_text (stmt, 4, message);
  if (!_leaf_db_run_alone (db, stmt, error))
    return FALSE;
  if (sqlite3_changes (db->handle) == 0)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND,
                   _("Run %" PRId64 " is not running."), run_id);
      return FALSE;
    }
  _leaf_catalog_emit (self, LEAF_CATALOG_CHANGED_RUNS, NULL);
  return TRUE;
}

#define RUN_COLUMNS "id, config, status, started, finished, base_weights_sha256, message"

static LeafRunInfo *
run_from_row (LeafStmt *stmt)
{
  LeafRunInfo *info = g_new0 (LeafRunInfo, 1);

  info->id = sqlite3_column_int64 (stmt, 0);
  info->config_json = g_strdup (_leaf_column_text (stmt, 1));
  info->status = run_status_from_string (_leaf_column_text (stmt, 2));
  info->started = _leaf_parse_time (_leaf_column_text (stmt, 3));
  info->finished = _leaf_parse_time (_leaf_column_text (stmt, 4));
  info->base_weights_sha256 = g_strdup (_leaf_column_text (stmt, 5));
  info->message = g_strdup (_leaf_column_text (stmt, 6));
  return info;
}

/* Collects the rows of a statement with one optional integer parameter. */
static GPtrArray *
collect_rows (LeafDb          *db,
              const char      *sql,
              gint64           param,
              gpointer       (*from_row) (LeafStmt *),
              GDestroyNotify   free_func,
              GError         **error)
{
  g_autoptr(LeafStmt) stmt = _leaf_db_prepare (db, sql, error);
  g_autoptr(GPtrArray) rows = NULL;
  int rc;

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, param);
  rows = g_ptr_array_new_with_free_func (free_func);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (rows, from_row (stmt));
  if (rc != SQLITE_DONE)
    {
      _leaf_db_fail (db, error);
      return NULL;
    }
  return g_steal_pointer (&rows);
}

/* The first row of collect_rows(), or NOT_FOUND with `what` in the message. */
static gpointer
collect_one (LeafCatalog     *self,
             const char      *sql,
             gint64           param,
             gpointer       (*from_row) (LeafStmt *),
             GDestroyNotify   free_func,
             int              not_found_code,
             const char      *not_found,
             GError         **error)
{
  g_autoptr(LeafCatalogLocker) locker = _leaf_catalog_locker_new (self);
  g_autoptr(GPtrArray) rows = NULL;
  LeafDb *db;

  if ((db = _leaf_catalog_get_db (self, error)) == NULL ||
      (rows = collect_rows (db, sql, param, from_row, free_func, error)) == NULL)
    return NULL;
  if (rows->len == 0)
    {
      g_set_error_literal (error, LEAF_ENGINE_ERROR, not_found_code, not_found);
      return NULL;
    }
  return g_ptr_array_steal_index (rows, 0);
}

/**
 * leaf_catalog_get_run:
 * @self: a #LeafCatalog
 * @run_id: the run
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the run, or %NULL with %LEAF_ENGINE_ERROR_NOT_FOUND
 */
LeafRunInfo *
leaf_catalog_get_run (LeafCatalog  *self,
                      gint64        run_id,
                      GError      **error)
{
  g_return_val_if_fail (LEAF_IS_CATALOG (self), NULL);

  return collect_one (self, "SELECT " RUN_COLUMNS " FROM runs WHERE id = ?", run_id,
                      (gpointer) run_from_row, (GDestroyNotify) leaf_run_info_free,
                      LEAF_ENGINE_ERROR_NOT_FOUND, _("There is no such training run."), error);
}

/**
 * leaf_catalog_list_runs:
 * @self: a #LeafCatalog
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (element-type LeafRunInfo): every run, newest first
 */
GPtrArray *
leaf_catalog_list_runs (LeafCatalog  *self,
                        GError      **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  LeafDb *db;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), NULL);

  locker = _leaf_catalog_locker_new (self);
  if ((db = _leaf_catalog_get_db (self, error)) == NULL)
    return NULL;
  return collect_rows (db, "SELECT " RUN_COLUMNS " FROM runs ORDER BY id DESC", 0,
                       (gpointer) run_from_row, (GDestroyNotify) leaf_run_info_free, error);
}

/**
 * leaf_catalog_add_metrics:
 * @self: a #LeafCatalog
 * @run_id: the run they belong to
 * @scope: per epoch or per optimiser step
 * @metrics: (array length=n_metrics): the measurements
 * @n_metrics: how many
 * @error: return location for a #GError
 *
 * Stores measurements in one transaction. Pass many at once (for steps, a few hundred) rather
 * than one per call: each transaction waits for the disk. A value stored again for the same
 * run, scope, name and step replaces the old one.
 *
 * Returns: %TRUE on success
 */
gboolean
leaf_catalog_add_metrics (LeafCatalog       *self,
                          gint64             run_id,
                          LeafMetricScope    scope,
                          const LeafMetric  *metrics,
                          gsize              n_metrics,
                          GError           **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(LeafTxn) txn = NULL;
  LeafDb *db;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), FALSE);
  g_return_val_if_fail (scope == LEAF_METRIC_EPOCH || scope == LEAF_METRIC_STEP, FALSE);
  g_return_val_if_fail (metrics != NULL || n_metrics == 0, FALSE);

  for (gsize i = 0; i < n_metrics; i++)
    g_return_val_if_fail (metrics[i].name != NULL, FALSE);

  if (n_metrics == 0)
    return TRUE;
  locker = _leaf_catalog_locker_new (self);
  if ((txn = _leaf_catalog_begin (self, &db, error)) == NULL)
    return FALSE;
  for (gsize i = 0; i < n_metrics; i++)
    {
      g_autoptr(LeafStmt) stmt =
        _leaf_db_prepare (db, "INSERT OR REPLACE INTO metrics (run_id, scope, name, step, value) "
                          "VALUES (?, ?, ?, ?, ?)", error);

      if (stmt == NULL)
        return FALSE;
      sqlite3_bind_int64 (stmt, 1, run_id);
      sqlite3_bind_int (stmt, 2, scope);
      sqlite3_bind_text (stmt, 3, metrics[i].name, -1, SQLITE_STATIC);
      sqlite3_bind_int64 (stmt, 4, metrics[i].step);
      /* SQLite stores NaN as NULL; NULL reads back as NaN. */
      sqlite3_bind_double (stmt, 5, metrics[i].value);
      if (!_leaf_db_run (db, stmt, error))
        return FALSE;
    }
  return _leaf_txn_commit (&txn, error);
}

/**
 * leaf_catalog_get_metric:
 * @self: a #LeafCatalog
 * @run_id: the run
 * @scope: per epoch or per step
 * @name: the metric's name
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (element-type LeafMetricPoint): the values by increasing step; NaN
 *   for values that were not numbers
 */
GArray *
leaf_catalog_get_metric (LeafCatalog      *self,
                         gint64            run_id,
                         LeafMetricScope   scope,
                         const char       *name,
                         GError          **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(LeafStmt) stmt = NULL;
  g_autoptr(GArray) points = g_array_new (FALSE, FALSE, sizeof (LeafMetricPoint));
  LeafDb *db;
  int rc;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  locker = _leaf_catalog_locker_new (self);
  if ((db = _leaf_catalog_get_db (self, error)) == NULL)
    return NULL;
  stmt = _leaf_db_prepare (db, "SELECT step, value FROM metrics "
                           "WHERE run_id = ? AND scope = ? AND name = ? ORDER BY step", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, run_id);
  sqlite3_bind_int (stmt, 2, scope);
  _leaf_bind_text (stmt, 3, name);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      LeafMetricPoint point = {
        sqlite3_column_int64 (stmt, 0),
        sqlite3_column_type (stmt, 1) == SQLITE_NULL ? NAN : sqlite3_column_double (stmt, 1),
      };
      g_array_append_val (points, point);
    }
  if (rc != SQLITE_DONE)
    {
      _leaf_db_fail (db, error);
      return NULL;
    }
  return g_steal_pointer (&points);
}

/**
 * leaf_catalog_list_metric_names:
 * @self: a #LeafCatalog
 * @run_id: the run
 * @scope: per epoch or per step
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (array zero-terminated=1): the names of the run's metrics, sorted
 */
char **
leaf_catalog_list_metric_names (LeafCatalog      *self,
                                gint64            run_id,
                                LeafMetricScope   scope,
                                GError          **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(LeafStmt) stmt = NULL;
  g_autoptr(GStrvBuilder) names = g_strv_builder_new ();
  LeafDb *db;
  int rc;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), NULL);

  locker = _leaf_catalog_locker_new (self);
  if ((db = _leaf_catalog_get_db (self, error)) == NULL)
    return NULL;
  stmt = _leaf_db_prepare (db, "SELECT DISTINCT name FROM metrics "
                           "WHERE run_id = ? AND scope = ? ORDER BY name", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, run_id);
  sqlite3_bind_int (stmt, 2, scope);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_strv_builder_add (names, _leaf_column_text (stmt, 0));
  if (rc != SQLITE_DONE)
    {
      _leaf_db_fail (db, error);
      return NULL;
    }
  return g_strv_builder_end (names);
}

/* ---- Models ---- */

/**
 * leaf_model_info_free:
 * @info: (transfer full) (nullable): a #LeafModelInfo
 */
void
leaf_model_info_free (LeafModelInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->path);
  g_free (info->sha256);
  g_strfreev (info->classes);
  g_free (info->metrics_json);
  g_clear_pointer (&info->created, g_date_time_unref);
  g_free (info);
}

static char **
classes_from_json (const char *json)
{
  g_autoptr(GStrvBuilder) names = g_strv_builder_new ();
  g_autoptr(JsonNode) root = json_from_string (json, NULL);

  if (root != NULL && JSON_NODE_HOLDS_ARRAY (root))
    {
      JsonArray *array = json_node_get_array (root);

      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          const char *name = json_array_get_string_element (array, i);
          g_strv_builder_add (names, name != NULL ? name : "");
        }
    }
  return g_strv_builder_end (names);
}

#define MODEL_COLUMNS "id, run_id, path, sha256, classes, metrics, created"

static LeafModelInfo *
model_from_row (LeafStmt *stmt)
{
  LeafModelInfo *info = g_new0 (LeafModelInfo, 1);

  info->id = sqlite3_column_int64 (stmt, 0);
  info->run_id = sqlite3_column_int64 (stmt, 1);
  info->path = g_strdup (_leaf_column_text (stmt, 2));
  info->sha256 = g_strdup (_leaf_column_text (stmt, 3));
  info->classes = classes_from_json (_leaf_column_text (stmt, 4));
  info->metrics_json = g_strdup (_leaf_column_text (stmt, 5));
  info->created = _leaf_parse_time (_leaf_column_text (stmt, 6));
  return info;
}

/**
 * leaf_catalog_add_model:
 * @self: a #LeafCatalog
 * @run_id: the run that trained it, or 0
 * @path: (type filename): the model file
 * @sha256: SHA-256 of the model file
 * @classes: (array zero-terminated=1): class names in the model's output order
 * @metrics_json: (nullable): its final metrics, a JSON object
 * @error: return location for a #GError
 *
 * Returns: the model's id, or 0 with @error set
 */
gint64
leaf_catalog_add_model (LeafCatalog         *self,
                        gint64               run_id,
                        const char          *path,
                        const char          *sha256,
                        const char * const  *classes,
                        const char          *metrics_json,
                        GError             **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *classes_json = NULL;
  g_autofree char *now = _leaf_now ();
  g_autoptr(LeafStmt) stmt = NULL;
  gint64 id;
  LeafDb *db;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), 0);
  g_return_val_if_fail (path != NULL && sha256 != NULL && classes != NULL, 0);

  if (!g_utf8_validate (path, -1, NULL))
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                   _("The model file name “%s” is not valid UTF-8."),
                   g_filename_display_name (path));
      return 0;
    }
  if (metrics_json != NULL && !check_json (metrics_json, _("model's metrics"), error))
    return 0;
  json_builder_begin_array (builder);
  for (guint i = 0; classes[i] != NULL; i++)
    json_builder_add_string_value (builder, classes[i]);
  json_builder_end_array (builder);
  root = json_builder_get_root (builder);
  classes_json = json_to_string (root, FALSE);

  locker = _leaf_catalog_locker_new (self);
  if ((db = _leaf_catalog_get_db (self, error)) == NULL)
    return 0;
  stmt = _leaf_db_prepare (db, "INSERT INTO models (run_id, path, sha256, classes, metrics, "
                           "created) VALUES (?, ?, ?, ?, ?, ?)", error);
  if (stmt == NULL)
    return 0;
  _leaf_bind_id (stmt, 1, run_id);
  _leaf_bind_text (stmt, 2, path);
  _leaf_bind_text (stmt, 3, sha256);
  _leaf_bind_text (stmt, 4, classes_json);
  _leaf_bind_text (stmt, 5, metrics_json);
  _leaf_bind_text (stmt, 6, now);
  if (!_leaf_db_run_alone (db, stmt, error))
    return 0;
  id = sqlite3_last_insert_rowid (db->handle);
  _leaf_catalog_emit (self, LEAF_CATALOG_CHANGED_RUNS, NULL);
  return id;
}

/**
 * leaf_catalog_list_models:
 * @self: a #LeafCatalog
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (element-type LeafModelInfo): every model, newest first
 */
GPtrArray *
leaf_catalog_list_models (LeafCatalog  *self,
                          GError      **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  LeafDb *db;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), NULL);

  locker = _leaf_catalog_locker_new (self);
  if ((db = _leaf_catalog_get_db (self, error)) == NULL)
    return NULL;
  return collect_rows (db, "SELECT " MODEL_COLUMNS " FROM models ORDER BY id DESC", 0,
                       (gpointer) model_from_row, (GDestroyNotify) leaf_model_info_free, error);
}

/**
 * leaf_catalog_get_model:
 * @self: a #LeafCatalog
 * @model_id: the model
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the model, or %NULL with %LEAF_ENGINE_ERROR_NOT_FOUND
 */
LeafModelInfo *
leaf_catalog_get_model (LeafCatalog  *self,
                        gint64        model_id,
                        GError      **error)
{
  g_return_val_if_fail (LEAF_IS_CATALOG (self), NULL);

  return collect_one (self, "SELECT " MODEL_COLUMNS " FROM models WHERE id = ?", model_id,
                      (gpointer) model_from_row, (GDestroyNotify) leaf_model_info_free,
                      LEAF_ENGINE_ERROR_NOT_FOUND, _("There is no such model."), error);
}

/**
 * leaf_catalog_get_latest_model:
 * @self: a #LeafCatalog
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the model recorded last, or %NULL with %LEAF_ENGINE_ERROR_NO_MODEL
 */
LeafModelInfo *
leaf_catalog_get_latest_model (LeafCatalog  *self,
                               GError      **error)
{
  g_return_val_if_fail (LEAF_IS_CATALOG (self), NULL);

  return collect_one (self, "SELECT " MODEL_COLUMNS " FROM models ORDER BY id DESC LIMIT ?", 1,
                      (gpointer) model_from_row, (GDestroyNotify) leaf_model_info_free,
                      LEAF_ENGINE_ERROR_NO_MODEL,
                      _("The catalog has no trained model yet. Train one first."), error);
}

/* ---- Predictions ---- */

/**
 * leaf_prediction_free:
 * @prediction: (transfer full) (nullable): a #LeafPrediction
 */
void
leaf_prediction_free (LeafPrediction *prediction)
{
  if (prediction == NULL)
    return;
  g_free (prediction->probabilities);
  g_free (prediction);
}

/* The catalog class for each of the model's outputs, by name; 0 for names no class has now. */
static gint64 *
map_model_classes (LeafDb       *db,
                   gint64        model_id,
                   guint        *n_classes,
                   GError      **error)
{
  g_autoptr(LeafStmt) stmt = _leaf_db_prepare (db, "SELECT classes FROM models WHERE id = ?",
                                               error);
  g_auto(GStrv) names = NULL;
  g_autofree gint64 *ids = NULL;
  int rc;

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, model_id);
  rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW)
    {
      if (rc == SQLITE_DONE)
        g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND,
                     _("There is no model with id %" PRId64 "."), model_id);
      else
        _leaf_db_fail (db, error);
      return NULL;
    }
  names = classes_from_json (_leaf_column_text (stmt, 0));
  g_clear_pointer (&stmt, _leaf_stmt_release);

  *n_classes = g_strv_length (names);
  ids = g_new0 (gint64, *n_classes + 1);
  for (guint i = 0; i < *n_classes; i++)
    if ((ids[i] = _leaf_classes_lookup (db, names[i], error)) < 0)
      return NULL;
  return g_steal_pointer (&ids);
}

/**
 * leaf_catalog_add_predictions:
 * @self: a #LeafCatalog
 * @model_id: the model that predicted
 * @image_ids: (array length=n_images): the images
 * @n_images: how many
 * @probabilities: (array): @n_images rows of @n_classes probabilities, row-major
 * @n_classes: the model's number of classes
 * @error: return location for a #GError
 *
 * Stores (or replaces) a model's predictions in one transaction, with the top class and the
 * entropy that disagreement and uncertainty queries sort by.
 *
 * Returns: %TRUE on success; %LEAF_ENGINE_ERROR_MISMATCH when @n_classes is not the model's
 */
gboolean
leaf_catalog_add_predictions (LeafCatalog   *self,
                              gint64         model_id,
                              const gint64  *image_ids,
                              gsize          n_images,
                              const float   *probabilities,
                              guint          n_classes,
                              GError       **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(LeafTxn) txn = NULL;
  g_autofree gint64 *class_ids = NULL;
  g_autofree guint32 *blob = g_new (guint32, MAX (n_classes, 1));
  g_autofree char *now = _leaf_now ();
  guint model_classes = 0;
  LeafDb *db;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), FALSE);
  g_return_val_if_fail (n_images == 0 || (image_ids != NULL && probabilities != NULL), FALSE);
  g_return_val_if_fail (n_classes > 0, FALSE);

  locker = _leaf_catalog_locker_new (self);
  if ((txn = _leaf_catalog_begin (self, &db, error)) == NULL ||
      (class_ids = map_model_classes (db, model_id, &model_classes, error)) == NULL)
    return FALSE;
  if (model_classes != n_classes)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_MISMATCH,
                   _("Model %" PRId64 " has %u classes, but the predictions have %u."),
                   model_id, model_classes, n_classes);
      return FALSE;
    }
  for (gsize i = 0; i < n_images; i++)
    {
      const float *row = probabilities + i * n_classes;
      g_autoptr(LeafStmt) stmt = NULL;
      guint top = 0;
      double entropy = 0;

      for (guint c = 0; c < n_classes; c++)
        {
          union { float f; guint32 u; } bits = { row[c] };

          /* Stored little-endian so that catalogs move between machines. */
          blob[c] = GUINT32_TO_LE (bits.u);
          if (row[c] > row[top])
            top = c;
          if (row[c] > 0)
            entropy -= row[c] * log (row[c]);
        }
      stmt = _leaf_db_prepare (db, "INSERT OR REPLACE INTO predictions (model_id, image_id, "
                               "probabilities, top_index, top_class_id, top_probability, "
                               "entropy, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", error);
      if (stmt == NULL)
        return FALSE;
      sqlite3_bind_int64 (stmt, 1, model_id);
      sqlite3_bind_int64 (stmt, 2, image_ids[i]);
      sqlite3_bind_blob (stmt, 3, blob, n_classes * sizeof (guint32), SQLITE_STATIC);
      sqlite3_bind_int (stmt, 4, top);
      _leaf_bind_id (stmt, 5, class_ids[top]);
      sqlite3_bind_double (stmt, 6, row[top]);
      sqlite3_bind_double (stmt, 7, entropy);
      _leaf_bind_text (stmt, 8, now);
      if (!_leaf_db_run (db, stmt, error))
        return FALSE;
    }
  if (!_leaf_txn_commit (&txn, error))
    return FALSE;
  _leaf_catalog_emit (self, LEAF_CATALOG_CHANGED_RUNS, NULL);
  return TRUE;
}

static LeafPrediction *
prediction_from_row (LeafStmt *stmt)
{
  LeafPrediction *prediction = g_new0 (LeafPrediction, 1);
  const guint32 *blob = sqlite3_column_blob (stmt, 2);

  prediction->model_id = sqlite3_column_int64 (stmt, 0);
  prediction->image_id = sqlite3_column_int64 (stmt, 1);
  prediction->n_classes = sqlite3_column_bytes (stmt, 2) / sizeof (guint32);
  prediction->probabilities = g_new (float, MAX (prediction->n_classes, 1));
  for (guint c = 0; c < prediction->n_classes; c++)
    {
      union { guint32 u; float f; } bits;

      memcpy (&bits.u, blob + c, sizeof bits.u);
      bits.u = GUINT32_FROM_LE (bits.u);
      prediction->probabilities[c] = bits.f;
    }
  prediction->top_index = sqlite3_column_int (stmt, 3);
  prediction->top_class_id = sqlite3_column_int64 (stmt, 4);
  prediction->entropy = sqlite3_column_double (stmt, 5);
  return prediction;
}

/**
 * leaf_catalog_get_prediction:
 * @self: a #LeafCatalog
 * @model_id: the model
 * @image_id: the image
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the prediction, or %NULL with %LEAF_ENGINE_ERROR_NOT_FOUND
 */
LeafPrediction *
leaf_catalog_get_prediction (LeafCatalog  *self,
                             gint64        model_id,
                             gint64        image_id,
                             GError      **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(LeafStmt) stmt = NULL;
  LeafDb *db;
  int rc;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), NULL);

  locker = _leaf_catalog_locker_new (self);
  if ((db = _leaf_catalog_get_db (self, error)) == NULL)
    return NULL;
  stmt = _leaf_db_prepare (db, "SELECT model_id, image_id, probabilities, top_index, "
                           "top_class_id, entropy FROM predictions "
                           "WHERE model_id = ? AND image_id = ?", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, model_id);
  sqlite3_bind_int64 (stmt, 2, image_id);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return prediction_from_row (stmt);
  if (rc == SQLITE_DONE)
    g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND,
                 _("Model %" PRId64 " has no prediction for image %" PRId64 "."),
                 model_id, image_id);
  else
    _leaf_db_fail (db, error);
  return NULL;
}
