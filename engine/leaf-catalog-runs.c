/* leaf-catalog-runs.c: training runs and the metrics they record
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-catalog"

#include "config.h"

#include <inttypes.h>

#include <errno.h>
#include <glib/gi18n.h>
#include <math.h>
#include <signal.h>
#include <unistd.h>

#include "leaf-catalog-private.h"
#include "leaf-error.h"
#include "leaf-json.h"

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

LeafRunStatus
_leaf_run_status_from_string (const char *text)
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
  while ((rc = _leaf_step (select)) == LEAF_STEP_ROW)
    {
      gint64 id = _leaf_column_int64 (select, 0);

      /* A run of another machine (a catalog on a shared disk) cannot be checked; leave it. */
      if (g_strcmp0 (_leaf_column_text (select, 1), g_get_host_name ()) == 0 &&
          !process_is_alive (_leaf_column_int64 (select, 2)))
        g_array_append_val (dead, id);
    }
  if (rc != LEAF_STEP_DONE)
    return _leaf_db_fail (db, error);
  for (guint i = 0; i < dead->len; i++)
    {
      g_autoptr(LeafStmt) update =
        _leaf_db_prepare (db, "UPDATE runs SET status = 'interrupted', finished = ?2, "
                          "message = ?3 WHERE id = ?1", error);

      if (update == NULL)
        return FALSE;
      _leaf_bind_int64 (update, 1, g_array_index (dead, gint64, i));
      _leaf_bind_text (update, 2, now);
      _leaf_bind_text (update, 3, _("The program stopped while the run was training."));
      if (!_leaf_db_run (db, update, error))
        return FALSE;
    }
  return TRUE;
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

  if (!leaf_json_check (config_json, _("training configuration"), error))
    return 0;
  locker = _leaf_catalog_locker_new (self);
  if ((db = _leaf_catalog_get_db (self, error)) == NULL)
    return 0;
  stmt = _leaf_db_prepare (db, "INSERT INTO runs (config, status, started, base_weights_sha256, "
                           "host, pid) VALUES (?, 'running', ?, ?, ?, ?) RETURNING id", error);
  if (stmt == NULL)
    return 0;
  _leaf_bind_text (stmt, 1, config_json);
  _leaf_bind_text (stmt, 2, now);
  _leaf_bind_text (stmt, 3, base_weights_sha256);
  _leaf_bind_text (stmt, 4, g_get_host_name ());
  _leaf_bind_int64 (stmt, 5, getpid ());
  if ((id = _leaf_db_insert_alone (db, stmt, error)) <= 0)
    return 0;
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
  _leaf_bind_int64 (stmt, 1, run_id);
  _leaf_bind_text (stmt, 2, run_statuses[status]);
  _leaf_bind_text (stmt, 3, now);
  _leaf_bind_text (stmt, 4, message);
  if (!_leaf_db_run_alone (db, stmt, error))
    return FALSE;
  if (_leaf_db_changes (db) == 0)
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

  info->id = _leaf_column_int64 (stmt, 0);
  info->config_json = g_strdup (_leaf_column_text (stmt, 1));
  info->status = _leaf_run_status_from_string (_leaf_column_text (stmt, 2));
  info->started = _leaf_parse_time (_leaf_column_text (stmt, 3));
  info->finished = _leaf_parse_time (_leaf_column_text (stmt, 4));
  info->base_weights_sha256 = g_strdup (_leaf_column_text (stmt, 5));
  info->message = g_strdup (_leaf_column_text (stmt, 6));
  return info;
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

  return _leaf_catalog_collect_one (self, "SELECT " RUN_COLUMNS " FROM runs WHERE id = ?",
                                    run_id, (LeafRowFunc) run_from_row,
                                    (GDestroyNotify) leaf_run_info_free,
                                    LEAF_ENGINE_ERROR_NOT_FOUND,
                                    _("There is no such training run."), error);
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
  return _leaf_db_collect_rows (db, "SELECT " RUN_COLUMNS " FROM runs ORDER BY id DESC", 0,
                                (LeafRowFunc) run_from_row, (GDestroyNotify) leaf_run_info_free,
                                error);
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
        _leaf_db_prepare (db, "INSERT INTO metrics (run_id, scope, name, step, value) "
                          "VALUES (?, ?, ?, ?, ?) "
                          "ON CONFLICT (run_id, scope, name, step) DO UPDATE SET "
                          "value = excluded.value", error);

      if (stmt == NULL)
        return FALSE;
      _leaf_bind_int64 (stmt, 1, run_id);
      _leaf_bind_int64 (stmt, 2, scope);
      _leaf_bind_text (stmt, 3, metrics[i].name);
      _leaf_bind_int64 (stmt, 4, metrics[i].step);
      /* SQLite stores NaN as NULL; NULL reads back as NaN. */
      _leaf_bind_double (stmt, 5, metrics[i].value);
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
  _leaf_bind_int64 (stmt, 1, run_id);
  _leaf_bind_int64 (stmt, 2, scope);
  _leaf_bind_text (stmt, 3, name);
  while ((rc = _leaf_step (stmt)) == LEAF_STEP_ROW)
    {
      LeafMetricPoint point = {
        _leaf_column_int64 (stmt, 0),
        _leaf_column_is_null (stmt, 1) ? NAN : _leaf_column_double (stmt, 1),
      };
      g_array_append_val (points, point);
    }
  if (rc != LEAF_STEP_DONE)
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
  _leaf_bind_int64 (stmt, 1, run_id);
  _leaf_bind_int64 (stmt, 2, scope);
  while ((rc = _leaf_step (stmt)) == LEAF_STEP_ROW)
    g_strv_builder_add (names, _leaf_column_text (stmt, 0));
  if (rc != LEAF_STEP_DONE)
    {
      _leaf_db_fail (db, error);
      return NULL;
    }
  return g_strv_builder_end (names);
}
