/* leaf-metrics.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-metrics"

#include "config.h"

#include "leaf-json.h"
#include "leaf-metrics.h"

static double
ratio (guint64 num,
       guint64 den)
{
  return den > 0 ? (double) num / (double) den : 0.0;
}

/**
 * leaf_metrics_build:
 *
 * Returns: (transfer full): `{"accuracy", "macro_f1", "per_class": [{"class", "precision",
 *   "recall", "f1", "support"}], "confusion": [[...]], "classes": [...]}`
 */
JsonNode *
leaf_metrics_build (const guint        *confusion,
                    const char * const *class_names,
                    guint               n_classes)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  guint64 total = 0, correct = 0;
  double f1_sum = 0;

  for (guint t = 0; t < n_classes; t++)
    for (guint p = 0; p < n_classes; p++)
      {
        total += confusion[t * n_classes + p];
        if (t == p)
          correct += confusion[t * n_classes + p];
      }

  json_builder_begin_object (b);
  leaf_json_begin_array (b, "per_class");
  for (guint c = 0; c < n_classes; c++)
    {
      guint64 tp = confusion[c * n_classes + c], predicted = 0, actual = 0;
      double precision, recall, f1;

      for (guint k = 0; k < n_classes; k++)
        {
          predicted += confusion[k * n_classes + c];
          actual += confusion[c * n_classes + k];
        }
      precision = ratio (tp, predicted);
      recall = ratio (tp, actual);
      f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
      f1_sum += f1;

      json_builder_begin_object (b);
      leaf_json_add_string (b, "class", class_names[c]);
      leaf_json_add_double (b, "precision", precision);
      leaf_json_add_double (b, "recall", recall);
      leaf_json_add_double (b, "f1", f1);
      leaf_json_add_int (b, "support", actual);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);

  leaf_json_add_double (b, "accuracy", ratio (correct, total));
  leaf_json_add_double (b, "macro_f1", n_classes > 0 ? f1_sum / n_classes : 0.0);
  leaf_json_add_int (b, "n", total);

  leaf_json_begin_array (b, "classes");
  for (guint c = 0; c < n_classes; c++)
    json_builder_add_string_value (b, class_names[c]);
  json_builder_end_array (b);

  leaf_json_begin_array (b, "confusion");
  for (guint t = 0; t < n_classes; t++)
    {
      json_builder_begin_array (b);
      for (guint p = 0; p < n_classes; p++)
        json_builder_add_int_value (b, confusion[t * n_classes + p]);
      json_builder_end_array (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);

  return json_builder_get_root (b);
}
