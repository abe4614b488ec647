/* leaf-catalog-models.c: trained models and the predictions they made on the catalog's images
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-catalog"

#include "config.h"

#include <inttypes.h>

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>

#include "leaf-catalog-private.h"
#include "leaf-error.h"
#include "leaf-file.h"
#include "leaf-json.h"

/**
 * leaf_model_info_free:
 * @info: (transfer full) (nullable): a #LeafModelInfo
 */
void
leaf_model_info_free (LeafModelInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->name);
  g_free (info->path);
  g_free (info->sha256);
  g_strfreev (info->classes);
  g_free (info->metrics_json);
  g_clear_pointer (&info->created, g_date_time_unref);
  g_free (info->note);
  g_free (info);
}

/**
 * leaf_model_info_get_title:
 * @info: a #LeafModelInfo
 *
 * Returns: (transfer full): the name the user gave the model, else “Run 3” for a model a run
 *   trained, “Model 5” for one without a run
 */
char *
leaf_model_info_get_title (const LeafModelInfo *info)
{
  g_return_val_if_fail (info != NULL, NULL);

  if (info->name != NULL)
    return g_strdup (info->name);
  if (info->run_id > 0)
    return g_strdup_printf (_("Run %" PRId64), info->run_id);
  return g_strdup_printf (_("Model %" PRId64), info->id);
}

/**
 * leaf_model_info_describe:
 * @info: a #LeafModelInfo
 *
 * One line that tells models apart where a diagnosis is shown: “Run 3 · 87 % validation ·
 * 4 Dec”, with “stopped” when its run was stopped before the end.
 *
 * Returns: (transfer full): the line
 */
char *
leaf_model_info_describe (const LeafModelInfo *info)
{
  g_autoptr(GString) line = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autoptr(GDateTime) created = NULL;
  g_autofree char *title = NULL;
  g_autofree char *date = NULL;

  g_return_val_if_fail (info != NULL, NULL);

  title = leaf_model_info_get_title (info);
  line = g_string_new (title);
  /* TRANSLATORS: separates the parts of a model's one-line description */
#define SEPARATOR _(" · ")
  if (!isnan (info->val_accuracy))
    {
      g_string_append (line, SEPARATOR);
      /* TRANSLATORS: a model's accuracy on its validation photos, as in “87 % validation” */
      g_string_append_printf (line, _("%.0f %% validation"), 100 * info->val_accuracy);
    }
  if (info->run_status != LEAF_RUN_COMPLETED)
    {
      g_string_append (line, SEPARATOR);
      g_string_append (line, info->run_status == LEAF_RUN_CANCELLED ? _("stopped")
                                                                    : _("unfinished"));
    }
  if (info->created != NULL)
    {
      created = g_date_time_to_local (info->created);
      /* TRANSLATORS: the day a model was trained, this year and another year; see
       * g_date_time_format() */
      date = g_date_time_format (created, g_date_time_get_year (created) ==
                                            g_date_time_get_year (now)
                                          ? C_("model date", "%-d %b")
                                          : C_("model date", "%-d %b %Y"));
      g_string_append (line, SEPARATOR);
      g_string_append (line, date);
    }
#undef SEPARATOR
  return g_string_free (g_steal_pointer (&line), FALSE);
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

/* Its run's validation accuracy, from the run's summary; NAN when it has none. */
static double
val_accuracy_from_metrics (const char *json)
{
  g_autoptr(JsonNode) root = json != NULL ? json_from_string (json, NULL) : NULL;
  JsonNode *member;

  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NAN;
  member = json_object_get_member (json_node_get_object (root), "val_accuracy");
  if (member == NULL || !JSON_NODE_HOLDS_VALUE (member) ||
      (json_node_get_value_type (member) != G_TYPE_DOUBLE &&
       json_node_get_value_type (member) != G_TYPE_INT64))
    return NAN;
  return json_node_get_double (member);
}

/* Models with the status of their run (none: completed) and whether each is the active one. */
#define MODEL_SELECT \
  "SELECT m.id, m.run_id, m.name, m.path, m.sha256, m.classes, m.metrics, m.created, " \
  "coalesce (r.status, 'completed'), m.note, " \
  "CASE WHEN m.id IS NOT DISTINCT FROM (SELECT model_id FROM active_model) THEN 1 ELSE 0 END, " \
  "EXISTS (SELECT 1 FROM contents c WHERE c.sha256 = m.sha256) " \
  "FROM models AS m LEFT JOIN runs AS r ON r.id = m.run_id "

/* With the path as stored: see resolve_path(). */
static LeafModelInfo *
model_from_row (LeafStmt *stmt)
{
  LeafModelInfo *info = g_new0 (LeafModelInfo, 1);

  info->id = _leaf_column_int64 (stmt, 0);
  info->run_id = _leaf_column_int64 (stmt, 1);
  info->name = g_strdup (_leaf_column_text (stmt, 2));
  info->path = g_strdup (_leaf_column_text (stmt, 3));
  info->sha256 = g_strdup (_leaf_column_text (stmt, 4));
  info->classes = classes_from_json (_leaf_column_text (stmt, 5));
  info->metrics_json = g_strdup (_leaf_column_text (stmt, 6));
  info->created = _leaf_parse_time (_leaf_column_text (stmt, 7));
  info->run_status = _leaf_run_status_from_string (_leaf_column_text (stmt, 8));
  info->note = g_strdup (_leaf_column_text (stmt, 9));
  info->active = _leaf_column_int (stmt, 10) != 0;
  info->held = _leaf_column_int (stmt, 11) != 0;
  info->val_accuracy = val_accuracy_from_metrics (info->metrics_json);
  return info;
}

/* The catalog's folder, with a trailing separator: stored paths below it are relative to it. */
static char *
catalog_folder (LeafCatalog *self)
{
  g_autofree char *dir = g_path_get_dirname (leaf_catalog_get_path (self));

  return g_str_has_suffix (dir, G_DIR_SEPARATOR_S) ? g_steal_pointer (&dir)
                                                   : g_strconcat (dir, G_DIR_SEPARATOR_S, NULL);
}

/* What the catalog stores for a model file: its path relative to the catalog's folder when it
 * lies inside, so that the catalog and its models can move together; else its absolute path. */
static char *
path_to_store (LeafCatalog *self,
               const char  *path)
{
  g_autofree char *absolute = g_canonicalize_filename (path, NULL);
  g_autofree char *folder = catalog_folder (self);

  if (g_str_has_prefix (absolute, folder))
    return g_strdup (absolute + strlen (folder));
  return g_steal_pointer (&absolute);
}

/* Makes info's stored path absolute, as every caller sees it; a model whose file this machine
 * lacks but whose bytes the catalog holds is read from a copy in the models folder, fetched when
 * asked to. */
static LeafModelInfo *
resolve_path (LeafCatalog   *self,
              LeafModelInfo *info,
              gboolean       fetch)
{
  g_autofree char *models_dir = NULL;
  g_autofree char *name = NULL;
  g_autoptr(GError) error = NULL;
  const char *extension;

  if (info == NULL)
    return NULL;
  if (!g_path_is_absolute (info->path))
    {
      g_autofree char *folder = catalog_folder (self);
      g_autofree char *stored = g_steal_pointer (&info->path);

      info->path = g_build_filename (folder, stored, NULL);
    }
  if (!info->held || !leaf_is_sha256 (info->sha256) ||
      g_file_test (info->path, G_FILE_TEST_IS_REGULAR))
    return info;
  models_dir = leaf_catalog_get_models_dir (self);
  /* The extension says the file's format. */
  extension = strrchr (info->path, '.');
  name = g_strconcat (info->sha256, extension != NULL && strchr (extension, '/') == NULL
                                    ? extension : "", NULL);
  g_free (info->path);
  info->path = g_build_filename (models_dir, "fetched", name, NULL);
  /* Its caller reports a model file it cannot open; this says why there is none. */
  if (fetch && !_leaf_catalog_fetch_content (self, info->sha256, info->path, &error))
    g_message ("Could not fetch model %" G_GINT64_FORMAT " from the catalog: %s", info->id,
               error->message);
  return info;
}

/* One model; not_found_code and not_found when there is none. */
static LeafModelInfo *
get_one (LeafCatalog  *self,
         const char   *where,
         gint64        param,
         int           not_found_code,
         const char   *not_found,
         GError      **error)
{
  g_autofree char *sql = g_strconcat (MODEL_SELECT, where, NULL);

  return resolve_path (self, _leaf_catalog_collect_one (self, sql, param,
                                                        (LeafRowFunc) model_from_row,
                                                        (GDestroyNotify) leaf_model_info_free,
                                                        not_found_code, not_found, error),
                       TRUE);
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
 * Records a model, not active: a run decides with leaf_catalog_settle_model() once it has
 * ended.
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
  g_autofree char *stored = NULL;
  g_autoptr(GBytes) contents = NULL;
  g_autoptr(LeafTxn) txn = NULL;
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
  stored = path_to_store (self, path);
  if (metrics_json != NULL && !leaf_json_check (metrics_json, _("model's metrics"), error))
    return 0;
  json_builder_begin_array (builder);
  for (guint i = 0; classes[i] != NULL; i++)
    json_builder_add_string_value (builder, classes[i]);
  json_builder_end_array (builder);
  root = json_builder_get_root (builder);
  classes_json = json_to_string (root, FALSE);

  /* A server's members use the model from other machines: the catalog keeps its bytes. */
  if (leaf_catalog_is_on_server (self) &&
      (contents = _leaf_read_content (path, sha256, error)) == NULL)
    return 0;

  locker = _leaf_catalog_locker_new (self);
  if ((txn = _leaf_catalog_begin (self, &db, error)) == NULL)
    return 0;
  if (contents != NULL &&
      !_leaf_db_store_content (db, sha256, g_bytes_get_data (contents, NULL),
                               g_bytes_get_size (contents), error))
    return 0;
  stmt = _leaf_db_prepare (db, "INSERT INTO models (run_id, path, sha256, classes, metrics, "
                           "created) VALUES (?, ?, ?, ?, ?, ?) RETURNING id", error);
  if (stmt == NULL)
    return 0;
  _leaf_bind_id (stmt, 1, run_id);
  _leaf_bind_text (stmt, 2, stored);
  _leaf_bind_text (stmt, 3, sha256);
  _leaf_bind_text (stmt, 4, classes_json);
  _leaf_bind_text (stmt, 5, metrics_json);
  _leaf_bind_text (stmt, 6, now);
  if ((id = _leaf_db_insert (db, stmt, error)) <= 0 || !_leaf_txn_commit (&txn, error))
    return 0;
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
  g_autoptr(GPtrArray) models = NULL;
  LeafDb *db;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), NULL);

  locker = _leaf_catalog_locker_new (self);
  if ((db = _leaf_catalog_get_db (self, error)) == NULL ||
      (models = _leaf_db_collect_rows (db, MODEL_SELECT "ORDER BY m.id DESC", 0,
                                       (LeafRowFunc) model_from_row,
                                       (GDestroyNotify) leaf_model_info_free, error)) == NULL)
    return NULL;
  for (guint i = 0; i < models->len; i++)
    resolve_path (self, models->pdata[i], FALSE);
  return g_steal_pointer (&models);
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

  return get_one (self, "WHERE m.id = ?", model_id, LEAF_ENGINE_ERROR_NOT_FOUND,
                  _("There is no such model."), error);
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

  return get_one (self, "ORDER BY m.id DESC LIMIT ?", 1, LEAF_ENGINE_ERROR_NO_MODEL,
                  _("The catalog has no trained model yet. Train one first."), error);
}

/**
 * leaf_catalog_get_active_model:
 * @self: a #LeafCatalog
 * @error: return location for a #GError
 *
 * The model diagnoses use unless the user names another. A run's model becomes active on its
 * own only when the run completed and the model is at least as accurate as the active one on
 * the same validation photos; the user makes any model active with
 * leaf_catalog_set_active_model().
 *
 * Returns: (transfer full): the active model, or %NULL with %LEAF_ENGINE_ERROR_NO_MODEL, whose
 *   message says what to do
 */
LeafModelInfo *
leaf_catalog_get_active_model (LeafCatalog  *self,
                               GError      **error)
{
  g_autoptr(GError) local = NULL;
  g_autoptr(LeafModelInfo) latest = NULL;
  LeafModelInfo *active;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), NULL);

  active = get_one (self, "WHERE m.id = (SELECT model_id FROM active_model)", 0,
                    LEAF_ENGINE_ERROR_NO_MODEL, _("The catalog has no trained model yet. Train "
                                                  "one first."), &local);
  if (active != NULL)
    return active;
  if (!g_error_matches (local, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NO_MODEL) ||
      (latest = leaf_catalog_get_latest_model (self, NULL)) == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  /* Models, but none active: say how to choose one. */
  g_set_error_literal (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NO_MODEL,
                       _("None of the catalog's models is active. Choose the one diagnoses "
                         "should use (“leafscope-cli models use ID”, or Use in the run "
                         "history), or train one to the end."));
  return NULL;
}

/* Emits what a change of the active model changes: the models' list and the active one. */
static void
emit_active_model_changed (LeafCatalog *self)
{
  _leaf_catalog_emit (self, LEAF_CATALOG_CHANGED_RUNS, NULL);
  _leaf_catalog_emit (self, LEAF_CATALOG_CHANGED_ACTIVE_MODEL, NULL);
}

/* Fails with NOT_FOUND unless the model exists; inside the caller's transaction. */
static gboolean
check_model_exists (LeafDb  *db,
                    gint64   model_id,
                    GError **error)
{
  g_autoptr(LeafStmt) stmt = _leaf_db_prepare (db, "SELECT 1 FROM models WHERE id = ?", error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  _leaf_bind_int64 (stmt, 1, model_id);
  rc = _leaf_step (stmt);
  if (rc == LEAF_STEP_ROW)
    return TRUE;
  if (rc != LEAF_STEP_DONE)
    return _leaf_db_fail (db, error);
  g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND,
               _("The catalog has no model %" PRId64 ". List its models with “leafscope-cli "
                 "models list”."), model_id);
  return FALSE;
}

/**
 * leaf_catalog_set_active_model:
 * @self: a #LeafCatalog
 * @model_id: the model diagnoses should use, or 0 for none
 * @error: return location for a #GError
 *
 * The user's choice, whatever the model's run and accuracy.
 *
 * Returns: %TRUE on success; %LEAF_ENGINE_ERROR_NOT_FOUND when there is no such model
 */
gboolean
leaf_catalog_set_active_model (LeafCatalog  *self,
                               gint64        model_id,
                               GError      **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(LeafTxn) txn = NULL;
  g_autoptr(LeafStmt) stmt = NULL;
  LeafDb *db;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), FALSE);
  g_return_val_if_fail (model_id >= 0, FALSE);

  locker = _leaf_catalog_locker_new (self);
  if ((txn = _leaf_catalog_begin (self, &db, error)) == NULL ||
      (model_id > 0 && !check_model_exists (db, model_id, error)) ||
      (stmt = _leaf_db_prepare (db, "INSERT INTO active_model (id, model_id) VALUES (1, ?) "
                                "ON CONFLICT (id) DO UPDATE SET model_id = excluded.model_id",
                                error)) == NULL)
    return FALSE;
  _leaf_bind_id (stmt, 1, model_id);
  if (!_leaf_db_run (db, stmt, error) || !_leaf_txn_commit (&txn, error))
    return FALSE;
  emit_active_model_changed (self);
  return TRUE;
}

/**
 * leaf_catalog_settle_model:
 * @self: a #LeafCatalog
 * @model_id: a model its run just recorded
 * @activate: whether to make it active
 * @replaces: the active model the decision was made against, or 0 for none
 * @note: (nullable): why it is or is not active, for the model's record
 * @activated: (out) (optional): whether it was made active
 * @error: return location for a #GError
 *
 * Records a run's decision about its model. The model becomes active only if @activate and the
 * active model is still @replaces: a choice the user made while the run compared models stands.
 *
 * Returns: %TRUE on success
 */
gboolean
leaf_catalog_settle_model (LeafCatalog  *self,
                           gint64        model_id,
                           gboolean      activate,
                           gint64        replaces,
                           const char   *note,
                           gboolean     *activated,
                           GError      **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(LeafTxn) txn = NULL;
  g_autoptr(LeafStmt) stmt = NULL;
  gboolean changed = FALSE;
  LeafDb *db;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), FALSE);
  g_return_val_if_fail (model_id > 0 && replaces >= 0, FALSE);

  locker = _leaf_catalog_locker_new (self);
  if ((txn = _leaf_catalog_begin (self, &db, error)) == NULL ||
      !check_model_exists (db, model_id, error) ||
      (stmt = _leaf_db_prepare (db, "UPDATE models SET note = ?2 WHERE id = ?1", error)) == NULL)
    return FALSE;
  _leaf_bind_int64 (stmt, 1, model_id);
  _leaf_bind_text (stmt, 2, note);
  if (!_leaf_db_run (db, stmt, error))
    return FALSE;
  if (activate)
    {
      g_clear_pointer (&stmt, _leaf_stmt_release);
      stmt = _leaf_db_prepare (db, "UPDATE active_model SET model_id = ?1 "
                               "WHERE id = 1 AND model_id IS NOT DISTINCT FROM ?2", error);
      if (stmt == NULL)
        return FALSE;
      _leaf_bind_int64 (stmt, 1, model_id);
      _leaf_bind_id (stmt, 2, replaces);
      if (!_leaf_db_run (db, stmt, error))
        return FALSE;
      changed = _leaf_db_changes (db) > 0;
    }
  if (!_leaf_txn_commit (&txn, error))
    return FALSE;
  if (changed)
    emit_active_model_changed (self);
  else
    _leaf_catalog_emit (self, LEAF_CATALOG_CHANGED_RUNS, NULL);
  if (activated != NULL)
    *activated = changed;
  return TRUE;
}

/**
 * leaf_catalog_rename_model:
 * @self: a #LeafCatalog
 * @model_id: the model
 * @name: (nullable): its new name; %NULL or blank gives it back its title from its run
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success; %LEAF_ENGINE_ERROR_INVALID for a name of more than one line
 */
gboolean
leaf_catalog_rename_model (LeafCatalog  *self,
                           gint64        model_id,
                           const char   *name,
                           GError      **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(LeafTxn) txn = NULL;
  g_autoptr(LeafStmt) stmt = NULL;
  g_autofree char *stripped = NULL;
  LeafDb *db;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), FALSE);

  if (name != NULL && !g_utf8_validate (name, -1, NULL))
    {
      g_set_error_literal (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                           _("A model's name must be valid UTF-8 text."));
      return FALSE;
    }
  stripped = g_strstrip (g_strdup (name != NULL ? name : ""));
  for (const char *p = stripped; *p != '\0'; p = g_utf8_next_char (p))
    if (g_unichar_iscntrl (g_utf8_get_char (p)))
      {
        g_set_error_literal (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                             _("A model's name is one line of text, without tabs or other "
                               "control characters."));
        return FALSE;
      }

  locker = _leaf_catalog_locker_new (self);
  if ((txn = _leaf_catalog_begin (self, &db, error)) == NULL ||
      !check_model_exists (db, model_id, error) ||
      (stmt = _leaf_db_prepare (db, "UPDATE models SET name = ?2 WHERE id = ?1", error)) == NULL)
    return FALSE;
  _leaf_bind_int64 (stmt, 1, model_id);
  _leaf_bind_text (stmt, 2, *stripped != '\0' ? stripped : NULL);
  if (!_leaf_db_run (db, stmt, error) || !_leaf_txn_commit (&txn, error))
    return FALSE;
  _leaf_catalog_emit (self, LEAF_CATALOG_CHANGED_RUNS, NULL);
  return TRUE;
}

/* Whether path is a file directly in the catalog's models folder, which the catalog owns. */
static gboolean
is_in_models_dir (LeafCatalog *self,
                  const char  *path)
{
  g_autofree char *models_dir = leaf_catalog_get_models_dir (self);
  g_autofree char *dir = g_path_get_dirname (path);

  return g_str_equal (dir, models_dir);
}

/**
 * leaf_catalog_remove_model:
 * @self: a #LeafCatalog
 * @model_id: the model
 * @error: return location for a #GError
 *
 * Forgets a model and its predictions, and deletes its file when it lies in the catalog's
 * models folder (leaf_catalog_get_models_dir()) and no other model uses it; a file elsewhere
 * belongs to the user and stays. When the model was active, none is active afterwards: the
 * user chooses the next one rather than having an older model take over unseen.
 *
 * Returns: %TRUE on success; %LEAF_ENGINE_ERROR_NOT_FOUND when there is no such model
 */
gboolean
leaf_catalog_remove_model (LeafCatalog  *self,
                           gint64        model_id,
                           GError      **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(LeafTxn) txn = NULL;
  g_autoptr(LeafStmt) stmt = NULL;
  g_autoptr(LeafModelInfo) model = NULL;
  gboolean shared = FALSE;
  LeafDb *db;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), FALSE);

  locker = _leaf_catalog_locker_new (self);
  model = leaf_catalog_get_model (self, model_id, error);
  if (model == NULL || (txn = _leaf_catalog_begin (self, &db, error)) == NULL ||
      (stmt = _leaf_db_prepare (db, "DELETE FROM models WHERE id = ?", error)) == NULL)
    return FALSE;
  _leaf_bind_int64 (stmt, 1, model_id);
  if (!_leaf_db_run (db, stmt, error))
    return FALSE;
  g_clear_pointer (&stmt, _leaf_stmt_release);
  stmt = _leaf_db_prepare (db, "SELECT 1 FROM models WHERE path = ?", error);
  if (stmt == NULL)
    return FALSE;
  {
    g_autofree char *stored = path_to_store (self, model->path);
    int rc;

    _leaf_bind_text (stmt, 1, stored);
    rc = _leaf_step (stmt);
    if (rc != LEAF_STEP_ROW && rc != LEAF_STEP_DONE)
      return _leaf_db_fail (db, error);
    shared = rc == LEAF_STEP_ROW;
  }
  g_clear_pointer (&stmt, _leaf_stmt_release);
  if (!_leaf_txn_commit (&txn, error))
    return FALSE;

  /* The row goes first: a file left behind is only wasted space, a row without its file a
   * model that fails to load. */
  if (!shared && is_in_models_dir (self, model->path) && g_unlink (model->path) != 0 &&
      errno != ENOENT)
    g_warning ("Could not delete the file %s of the removed model %" G_GINT64_FORMAT ": %s",
               model->path, model_id, g_strerror (errno));
  if (model->active)
    emit_active_model_changed (self);
  else
    _leaf_catalog_emit (self, LEAF_CATALOG_CHANGED_RUNS, NULL);
  return TRUE;
}

typedef struct
{
  gint64 id;
  char *path;
  char *sha256;
} ModelPlace;

static void
model_place_free (gpointer data)
{
  ModelPlace *place = data;

  /* NULL: a place taken out of the array. */
  if (place == NULL)
    return;
  g_free (place->path);
  g_free (place->sha256);
  g_free (place);
}

static ModelPlace *
model_place_from_row (LeafStmt *stmt)
{
  ModelPlace *place = g_new0 (ModelPlace, 1);

  place->id = _leaf_column_int64 (stmt, 0);
  place->path = g_strdup (_leaf_column_text (stmt, 1));
  place->sha256 = g_strdup (_leaf_column_text (stmt, 2));
  return place;
}

gboolean
_leaf_models_relocate (LeafCatalog  *self,
                       const char   *old_prefix,
                       const char   *new_folder,
                       guint        *n_repaired,
                       GPtrArray    *differing,
                       GPtrArray    *not_found,
                       GError      **error)
{
  g_autoptr(GPtrArray) places = NULL;
  g_autoptr(GPtrArray) moved = g_ptr_array_new_with_free_func (model_place_free);
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(LeafTxn) txn = NULL;
  LeafDb *db;

  /* Only absolute paths can start with old_prefix: those inside the catalog's folder are
   * stored relative to it and move with it. */
  _leaf_catalog_lock (self);
  db = _leaf_catalog_get_db (self, error);
  if (db != NULL)
    {
      g_autoptr(LeafStmt) stmt =
        _leaf_db_prepare (db, "SELECT id, path, sha256 FROM models "
                          "WHERE substr (path, 1, length (?1)) = ?1 ORDER BY id", error);
      int rc;

      if (stmt != NULL)
        {
          _leaf_bind_text (stmt, 1, old_prefix);
          places = g_ptr_array_new_with_free_func (model_place_free);
          while ((rc = _leaf_step (stmt)) == LEAF_STEP_ROW)
            g_ptr_array_add (places, model_place_from_row (stmt));
          if (rc != LEAF_STEP_DONE)
            {
              _leaf_db_fail (db, error);
              g_clear_pointer (&places, g_ptr_array_unref);
            }
        }
    }
  _leaf_catalog_unlock (self);
  if (places == NULL)
    return FALSE;

  for (guint i = 0; i < places->len; i++)
    {
      ModelPlace *place = places->pdata[i];
      g_autofree char *candidate = g_build_filename (new_folder,
                                                     place->path + strlen (old_prefix), NULL);

      if (_leaf_file_has_sha256 (candidate, place->sha256))
        {
          g_free (place->path);
          place->path = path_to_store (self, candidate);
          g_ptr_array_add (moved, g_steal_pointer (&places->pdata[i]));
        }
      else
        {
          GPtrArray *unmatched = g_file_test (candidate, G_FILE_TEST_EXISTS) ? differing
                                                                              : not_found;
          g_ptr_array_add (unmatched, g_steal_pointer (&candidate));
        }
    }
  *n_repaired = moved->len;
  if (moved->len == 0)
    return TRUE;

  locker = _leaf_catalog_locker_new (self);
  if ((txn = _leaf_catalog_begin (self, &db, error)) == NULL)
    return FALSE;
  for (guint i = 0; i < moved->len; i++)
    {
      ModelPlace *place = moved->pdata[i];
      g_autoptr(LeafStmt) stmt = _leaf_db_prepare (db, "UPDATE models SET path = ?2 WHERE id = ?1",
                                                   error);

      if (stmt == NULL)
        return FALSE;
      _leaf_bind_int64 (stmt, 1, place->id);
      _leaf_bind_text (stmt, 2, place->path);
      if (!_leaf_db_run (db, stmt, error))
        return FALSE;
    }
  if (!_leaf_txn_commit (&txn, error))
    return FALSE;
  _leaf_catalog_emit (self, LEAF_CATALOG_CHANGED_RUNS, NULL);
  return TRUE;
}

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
  _leaf_bind_int64 (stmt, 1, model_id);
  rc = _leaf_step (stmt);
  if (rc != LEAF_STEP_ROW)
    {
      if (rc == LEAF_STEP_DONE)
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
 * @referred: (array length=n_images) (nullable): for each image, whether the model would refer
 *   it (leaf_diagnosis_result_should_refer()); %NULL when the predictions were made without the
 *   model's check for unfamiliar photos, and so cannot say
 * @error: return location for a #GError
 *
 * Stores (or replaces) a model's predictions in one transaction, with the top class and the
 * entropy that disagreement and uncertainty queries sort by.
 *
 * Returns: %TRUE on success; %LEAF_ENGINE_ERROR_MISMATCH when @n_classes is not the model's
 */
gboolean
leaf_catalog_add_predictions (LeafCatalog    *self,
                              gint64          model_id,
                              const gint64   *image_ids,
                              gsize           n_images,
                              const float    *probabilities,
                              guint           n_classes,
                              const gboolean *referred,
                              GError        **error)
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
      /* The same model says the same of the same photo: predictions that cannot say whether it
       * would refer the photo keep what an earlier one said. */
      stmt = _leaf_db_prepare (db, "INSERT INTO predictions (model_id, image_id, probabilities, "
                               "top_index, top_class_id, top_probability, entropy, created, "
                               "referred) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                               "ON CONFLICT (model_id, image_id) DO UPDATE SET "
                               "probabilities = excluded.probabilities, "
                               "top_index = excluded.top_index, "
                               "top_class_id = excluded.top_class_id, "
                               "top_probability = excluded.top_probability, "
                               "entropy = excluded.entropy, created = excluded.created, "
                               "referred = coalesce (excluded.referred, predictions.referred)",
                               error);
      if (stmt == NULL)
        return FALSE;
      _leaf_bind_int64 (stmt, 1, model_id);
      _leaf_bind_int64 (stmt, 2, image_ids[i]);
      _leaf_bind_blob (stmt, 3, blob, n_classes * sizeof (guint32));
      _leaf_bind_int64 (stmt, 4, top);
      _leaf_bind_id (stmt, 5, class_ids[top]);
      _leaf_bind_double (stmt, 6, row[top]);
      _leaf_bind_double (stmt, 7, entropy);
      _leaf_bind_text (stmt, 8, now);
      if (referred != NULL)
        _leaf_bind_int64 (stmt, 9, referred[i] != FALSE);
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
  gsize size;
  const guint32 *blob = _leaf_column_blob (stmt, 2, &size);

  prediction->model_id = _leaf_column_int64 (stmt, 0);
  prediction->image_id = _leaf_column_int64 (stmt, 1);
  prediction->n_classes = size / sizeof (guint32);
  prediction->probabilities = g_new (float, MAX (prediction->n_classes, 1));
  for (guint c = 0; c < prediction->n_classes; c++)
    {
      union { guint32 u; float f; } bits;

      memcpy (&bits.u, blob + c, sizeof bits.u);
      bits.u = GUINT32_FROM_LE (bits.u);
      prediction->probabilities[c] = bits.f;
    }
  prediction->top_index = _leaf_column_int (stmt, 3);
  prediction->top_class_id = _leaf_column_int64 (stmt, 4);
  prediction->entropy = _leaf_column_double (stmt, 5);
  prediction->referred = _leaf_column_int (stmt, 6) != 0;
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
                           "top_class_id, entropy, referred FROM predictions "
                           "WHERE model_id = ? AND image_id = ?", error);
  if (stmt == NULL)
    return NULL;
  _leaf_bind_int64 (stmt, 1, model_id);
  _leaf_bind_int64 (stmt, 2, image_id);
  rc = _leaf_step (stmt);
  if (rc == LEAF_STEP_ROW)
    return prediction_from_row (stmt);
  if (rc == LEAF_STEP_DONE)
    g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND,
                 _("Model %" PRId64 " has no prediction for image %" PRId64 "."),
                 model_id, image_id);
  else
    _leaf_db_fail (db, error);
  return NULL;
}
