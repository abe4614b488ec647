/* leaf-metrics.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-metrics"

#include "config.h"

#include <glib/gi18n.h>
#include <math.h>

#include "leaf-error.h"
#include "leaf-json.h"
#include "leaf-json-private.h"
#include "leaf-metrics.h"

void
leaf_metrics_free (LeafMetrics *metrics)
{
  if (metrics == NULL)
    return;
  for (guint c = 0; c < metrics->n_classes; c++)
    g_free (metrics->per_class[c].name);
  g_free (metrics->per_class);
  g_clear_object (&metrics->confusion);
  g_free (metrics);
}

/**
 * leaf_metrics_new_from_confusion:
 * @confusion: the counts of one evaluation
 *
 * Returns: (transfer full): the metrics of @confusion, which they keep a reference to
 */
LeafMetrics *
leaf_metrics_new_from_confusion (LeafConfusion *confusion)
{
  LeafMetrics *metrics;

  g_return_val_if_fail (LEAF_IS_CONFUSION (confusion), NULL);

  metrics = g_new0 (LeafMetrics, 1);
  metrics->confusion = g_object_ref (confusion);
  metrics->accuracy = leaf_confusion_get_accuracy (confusion);
  metrics->macro_f1 = leaf_confusion_get_macro_f1 (confusion);
  metrics->n = leaf_confusion_get_total (confusion);
  metrics->n_classes = leaf_confusion_get_n_classes (confusion);
  metrics->per_class = g_new0 (LeafClassMetrics, metrics->n_classes);
  for (guint c = 0; c < metrics->n_classes; c++)
    metrics->per_class[c] = (LeafClassMetrics) {
      .name = g_strdup (leaf_confusion_get_class_name (confusion, c)),
      .precision = leaf_confusion_get_precision (confusion, c),
      .recall = leaf_confusion_get_recall (confusion, c),
      .f1 = leaf_confusion_get_f1 (confusion, c),
      .support = leaf_confusion_get_row_total (confusion, c),
    };
  return metrics;
}

/* A ratio: `null` when undefined, since JSON has no NaN. */
static void
add_ratio (JsonBuilder *b,
           const char  *name,
           double       value)
{
  if (isnan (value))
    leaf_json_add_node (b, name, NULL);
  else
    leaf_json_add_double (b, name, value);
}

/**
 * leaf_metrics_to_json:
 *
 * Returns: (transfer full): `{"per_class": [{"class", "precision", "recall", "f1", "support"}],
 *   "accuracy", "macro_f1", "n", "classes": [...], "confusion": [[...]]}`, the last two only
 *   when @metrics has a confusion matrix; undefined ratios are `null`
 */
JsonNode *
leaf_metrics_to_json (const LeafMetrics *metrics)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  LeafConfusion *confusion = metrics->confusion;

  json_builder_begin_object (b);
  leaf_json_begin_array (b, "per_class");
  for (guint c = 0; c < metrics->n_classes; c++)
    {
      const LeafClassMetrics *pc = &metrics->per_class[c];

      json_builder_begin_object (b);
      leaf_json_add_string (b, "class", pc->name);
      add_ratio (b, "precision", pc->precision);
      add_ratio (b, "recall", pc->recall);
      add_ratio (b, "f1", pc->f1);
      leaf_json_add_int (b, "support", pc->support);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  add_ratio (b, "accuracy", metrics->accuracy);
  add_ratio (b, "macro_f1", metrics->macro_f1);
  leaf_json_add_int (b, "n", metrics->n);

  if (confusion != NULL)
    {
      guint n = leaf_confusion_get_n_classes (confusion);

      leaf_json_begin_array (b, "classes");
      for (guint c = 0; c < n; c++)
        json_builder_add_string_value (b, leaf_confusion_get_class_name (confusion, c));
      json_builder_end_array (b);
      leaf_json_begin_array (b, "confusion");
      for (guint t = 0; t < n; t++)
        {
          json_builder_begin_array (b);
          for (guint p = 0; p < n; p++)
            json_builder_add_int_value (b, leaf_confusion_get_count (confusion, t, p));
          json_builder_end_array (b);
        }
      json_builder_end_array (b);
    }
  json_builder_end_object (b);

  return json_builder_get_root (b);
}

/**
 * leaf_metrics_build:
 * @confusion: (array): n_classes × n_classes counts, row by row, rows being true classes
 * @class_names: (array length=n_classes): the classes
 * @n_classes: how many there are
 *
 * Returns: (transfer full): the metrics of @confusion as leaf_metrics_to_json() writes them
 */
JsonNode *
leaf_metrics_build (const guint        *confusion,
                    const char * const *class_names,
                    guint               n_classes)
{
  g_autofree const char **names = g_new0 (const char *, n_classes + 1);
  g_autoptr(LeafConfusion) matrix = NULL;
  g_autoptr(LeafMetrics) metrics = NULL;

  for (guint c = 0; c < n_classes; c++)
    names[c] = class_names[c];
  matrix = leaf_confusion_new (names);
  leaf_confusion_set_counts (matrix, confusion, (gsize) n_classes * n_classes);
  metrics = leaf_metrics_new_from_confusion (matrix);
  return leaf_metrics_to_json (metrics);
}

/* A number member, or NAN for null, a missing member or one of another type. */
static double
ratio_member (JsonObject *object,
              const char *name)
{
  return _leaf_json_double_member (object, name, NAN);
}

/* The matrix of "classes" and "confusion", or NULL unless they are an array of n strings and
 * n arrays of n counts that a guint holds. */
static LeafConfusion *
read_confusion (JsonObject *object)
{
  JsonArray *classes = _leaf_json_array_member (object, "classes");
  JsonArray *rows = _leaf_json_array_member (object, "confusion");
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  g_autofree guint *counts = NULL;
  LeafConfusion *confusion;
  guint n;

  if (classes == NULL || rows == NULL)
    return NULL;
  n = json_array_get_length (classes);
  if (json_array_get_length (rows) != n)
    return NULL;
  counts = g_new (guint, (gsize) n * n);
  for (guint i = 0; i < n; i++)
    {
      JsonNode *row_node = json_array_get_element (rows, i);
      JsonArray *row = JSON_NODE_HOLDS_ARRAY (row_node) ? json_node_get_array (row_node) : NULL;
      const char *name = _leaf_json_node_string (json_array_get_element (classes, i));

      if (name == NULL || row == NULL || json_array_get_length (row) != n)
        return NULL;
      g_ptr_array_add (names, (gpointer) name);
      for (guint j = 0; j < n; j++)
        {
          JsonNode *cell = json_array_get_element (row, j);
          gint64 count;

          if (!JSON_NODE_HOLDS_VALUE (cell) || json_node_get_value_type (cell) != G_TYPE_INT64)
            return NULL;
          count = json_node_get_int (cell);
          if (count < 0 || count > G_MAXUINT)
            return NULL;
          counts[i * n + j] = (guint) count;
        }
    }
  g_ptr_array_add (names, NULL);
  confusion = leaf_confusion_new ((const char * const *) names->pdata);
  leaf_confusion_set_counts (confusion, counts, (gsize) n * n);
  return confusion;
}

/**
 * leaf_metrics_new_from_json:
 * @node: (nullable): metrics as leaf_metrics_to_json() writes them
 *
 * Reads what a file holds, which a user may have edited or damaged: a member that is missing or
 * of another JSON type reads as NAN (ratios), 0 (counts) or %NULL (names), an entry of
 * "per_class" that is not an object is left out, and a confusion matrix that does not fit its
 * classes leaves #LeafMetrics.confusion %NULL. Nothing is recomputed.
 *
 * Returns: (transfer full) (nullable): the metrics, or %NULL when @node is not a JSON object
 */
LeafMetrics *
leaf_metrics_new_from_json (JsonNode *node)
{
  JsonObject *object = _leaf_json_node_object (node);
  JsonArray *per_class;
  LeafMetrics *metrics;

  if (object == NULL)
    return NULL;

  metrics = g_new0 (LeafMetrics, 1);
  metrics->accuracy = ratio_member (object, "accuracy");
  metrics->macro_f1 = ratio_member (object, "macro_f1");
  metrics->n = _leaf_json_int_member (object, "n", 0);
  metrics->confusion = read_confusion (object);
  per_class = _leaf_json_array_member (object, "per_class");
  if (per_class != NULL)
    {
      metrics->per_class = g_new0 (LeafClassMetrics, json_array_get_length (per_class));
      for (guint i = 0; i < json_array_get_length (per_class); i++)
        {
          JsonObject *pc = _leaf_json_node_object (json_array_get_element (per_class, i));

          if (pc == NULL)
            continue;
          metrics->per_class[metrics->n_classes++] = (LeafClassMetrics) {
            .name = g_strdup (_leaf_json_string_member (pc, "class")),
            .precision = ratio_member (pc, "precision"),
            .recall = ratio_member (pc, "recall"),
            .f1 = ratio_member (pc, "f1"),
            .support = _leaf_json_int_member (pc, "support", 0),
          };
        }
    }
  return metrics;
}

/**
 * leaf_metrics_parse:
 * @json: (nullable): metrics as leaf_metrics_to_json() writes them, or a training run's summary
 *   that holds them as its "metrics" member (what the catalog keeps of each model)
 * @error: where to report text that holds no metrics
 *
 * Reads as leaf_metrics_new_from_json() does.
 *
 * Returns: (transfer full): the metrics, or %NULL with @error set
 */
LeafMetrics *
leaf_metrics_parse (const char  *json,
                    GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) local_error = NULL;
  JsonObject *root;
  JsonNode *node;
  LeafMetrics *metrics;

  if (json == NULL || !json_parser_load_from_data (parser, json, -1, &local_error))
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FORMAT,
                   _("The model’s metrics are not JSON: %s"),
                   local_error != NULL ? local_error->message : _("there are none"));
      return NULL;
    }
  node = json_parser_get_root (parser);
  root = _leaf_json_node_object (node);
  if (root != NULL && json_object_has_member (root, "metrics"))
    node = json_object_get_member (root, "metrics");
  metrics = leaf_metrics_new_from_json (node);
  if (metrics == NULL)
    g_set_error_literal (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FORMAT,
                         _("The model’s metrics are not a JSON object"));
  return metrics;
}
