/* leaf-catalog-models.c: trained models and the predictions they made on the catalog's images
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-catalog"

#include "config.h"

#include <inttypes.h>

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <math.h>

#include "leaf-catalog-private.h"
#include "leaf-error.h"
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
  if (metrics_json != NULL && !leaf_json_check (metrics_json, _("model's metrics"), error))
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
  return _leaf_db_collect_rows (db, "SELECT " MODEL_COLUMNS " FROM models ORDER BY id DESC", 0,
                                (LeafRowFunc) model_from_row, (GDestroyNotify) leaf_model_info_free,
                                error);
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

  return _leaf_catalog_collect_one (self, "SELECT " MODEL_COLUMNS " FROM models WHERE id = ?",
                                    model_id, (LeafRowFunc) model_from_row,
                                    (GDestroyNotify) leaf_model_info_free,
                                    LEAF_ENGINE_ERROR_NOT_FOUND, _("There is no such model."),
                                    error);
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

  return _leaf_catalog_collect_one (self, "SELECT " MODEL_COLUMNS " FROM models "
                                    "ORDER BY id DESC LIMIT ?", 1,
                                    (LeafRowFunc) model_from_row,
                                    (GDestroyNotify) leaf_model_info_free,
                                    LEAF_ENGINE_ERROR_NO_MODEL,
                                    _("The catalog has no trained model yet. Train one first."),
                                    error);
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
