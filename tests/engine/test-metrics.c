/* test-metrics.c: precision, recall, F1 and accuracy, written and read back
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "leaf-test.h"

#include <math.h>
#include <string.h>

#include "leaf-error.h"
#include "leaf-metrics.h"
#include "leaf-model-card.h"

static LeafConfusion *
confusion_new (const char  *const *classes,
               const guint        *counts,
               gsize               n_counts)
{
  LeafConfusion *confusion = leaf_confusion_new (classes);

  leaf_confusion_set_counts (confusion, counts, n_counts);
  return confusion;
}

static void
test_confusion_ratios (void)
{
  const char *classes[] = { "healthy", "blight", NULL };
  /* Worked by hand: 5 healthy right, 1 taken for blight; 2 blight taken for healthy, 8 right. */
  const guint counts[] = { 5, 1, 2, 8 };
  g_autoptr(LeafConfusion) confusion = confusion_new (classes, counts, G_N_ELEMENTS (counts));

  g_assert_cmpuint (leaf_confusion_get_total (confusion), ==, 16);
  g_assert_cmpfloat_with_epsilon (leaf_confusion_get_accuracy (confusion), 13.0 / 16, 1e-12);
  g_assert_cmpfloat_with_epsilon (leaf_confusion_get_precision (confusion, 0), 5.0 / 7, 1e-12);
  g_assert_cmpfloat_with_epsilon (leaf_confusion_get_recall (confusion, 0), 5.0 / 6, 1e-12);
  g_assert_cmpfloat_with_epsilon (leaf_confusion_get_precision (confusion, 1), 8.0 / 9, 1e-12);
  g_assert_cmpfloat_with_epsilon (leaf_confusion_get_recall (confusion, 1), 8.0 / 10, 1e-12);
  /* F1 = 2 TP / (2 TP + FP + FN): 10 / 13 and 16 / 19. */
  g_assert_cmpfloat_with_epsilon (leaf_confusion_get_f1 (confusion, 0), 10.0 / 13, 1e-12);
  g_assert_cmpfloat_with_epsilon (leaf_confusion_get_f1 (confusion, 1), 16.0 / 19, 1e-12);
  g_assert_cmpfloat_with_epsilon (leaf_confusion_get_macro_f1 (confusion),
                                  (10.0 / 13 + 16.0 / 19) / 2, 1e-12);
}

/* One definition of what has no denominator, wherever it is computed. */
static void
test_undefined_ratios (void)
{
  const char *classes[] = { "healthy", "blight", "rust", "mildew", NULL };
  /* healthy: 4 right. blight: 3 photos, all taken for healthy, never predicted. rust: no photo,
   * but 2 healthy ones taken for it. mildew: no photo, never predicted. */
  const guint counts[] = {
    4, 0, 2, 0,
    3, 0, 0, 0,
    0, 0, 0, 0,
    0, 0, 0, 0,
  };
  const guint none[16] = { 0 };
  g_autoptr(LeafConfusion) confusion = confusion_new (classes, counts, G_N_ELEMENTS (counts));
  g_autoptr(LeafMetrics) metrics = leaf_metrics_new_from_confusion (confusion);

  /* A class nobody predicted has no precision rather than a made-up one. */
  g_assert_true (isnan (leaf_confusion_get_precision (confusion, 1)));
  g_assert_cmpfloat (leaf_confusion_get_recall (confusion, 1), ==, 0.0);
  g_assert_cmpfloat (leaf_confusion_get_f1 (confusion, 1), ==, 0.0);
  /* A class without photos has no recall; predicting it anyway still costs its F1. */
  g_assert_cmpfloat (leaf_confusion_get_precision (confusion, 2), ==, 0.0);
  g_assert_true (isnan (leaf_confusion_get_recall (confusion, 2)));
  g_assert_cmpfloat (leaf_confusion_get_f1 (confusion, 2), ==, 0.0);
  /* A class that neither occurs nor is predicted has no F1, and stays out of the macro F1. */
  g_assert_true (isnan (leaf_confusion_get_precision (confusion, 3)));
  g_assert_true (isnan (leaf_confusion_get_recall (confusion, 3)));
  g_assert_true (isnan (leaf_confusion_get_f1 (confusion, 3)));
  g_assert_cmpfloat_with_epsilon (leaf_confusion_get_macro_f1 (confusion),
                                  (2.0 * 4 / (2 * 4 + 3 + 2)) / 3, 1e-12);

  /* The metrics say the same, class by class. */
  g_assert_cmpuint (metrics->n_classes, ==, 4);
  g_assert_true (isnan (metrics->per_class[1].precision));
  g_assert_true (isnan (metrics->per_class[2].recall));
  g_assert_true (isnan (metrics->per_class[3].f1));
  g_assert_cmpfloat (metrics->macro_f1, ==, leaf_confusion_get_macro_f1 (confusion));

  /* No photo at all: no accuracy either. */
  leaf_confusion_set_counts (confusion, none, G_N_ELEMENTS (none));
  g_assert_true (isnan (leaf_confusion_get_accuracy (confusion)));
  g_assert_true (isnan (leaf_confusion_get_macro_f1 (confusion)));
}

/* What the engine writes, byte for byte: `evaluate --json` prints it, and model files keep it. */
static void
test_json_written (void)
{
  const char *classes[] = { "healthy", "blight", "rust", NULL };
  const guint counts[] = { 2, 0, 2, 2, 0, 2, 0, 0, 0 };
  g_autoptr(JsonNode) node = leaf_metrics_build (counts, classes, 3);
  g_autofree char *text = json_to_string (node, FALSE);

  g_assert_cmpstr (text, ==,
                   "{\"per_class\":["
                   "{\"class\":\"healthy\",\"precision\":0.5,\"recall\":0.5,\"f1\":0.5,\"support\":4},"
                   "{\"class\":\"blight\",\"precision\":null,\"recall\":0.0,\"f1\":0.0,\"support\":4},"
                   "{\"class\":\"rust\",\"precision\":0.0,\"recall\":null,\"f1\":0.0,\"support\":0}],"
                   "\"accuracy\":0.25,\"macro_f1\":0.16666666666666666,\"n\":8,"
                   "\"classes\":[\"healthy\",\"blight\",\"rust\"],"
                   "\"confusion\":[[2,0,2],[2,0,2],[0,0,0]]}");
}

/* The model card reads the metrics a model file carries, and shows what is undefined as such. */
static void
test_model_card_rows (void)
{
  const char *classes[] = { "healthy", "blight", "rust", NULL };
  const guint counts[] = { 2, 0, 2, 2, 0, 2, 0, 0, 0 };
  g_autoptr(JsonNode) node = leaf_metrics_build (counts, classes, 3);
  g_autofree char *metrics_json = json_to_string (node, FALSE);
  LeafModelMeta meta = { .temperature = 1.0, .metrics_json = metrics_json };
  g_autofree char *card = leaf_model_card_render_figures (&meta, NULL);

  g_assert_nonnull (strstr (card, "| healthy | 0.500 | 0.500 | 0.500 | 4 |\n"));
  g_assert_nonnull (strstr (card, "| blight | — | 0.000 | 0.000 | 4 |\n"));
  g_assert_nonnull (strstr (card, "| rust | 0.000 | — | 0.000 | 0 |\n"));
}

static void
assert_same_ratio (double a,
                   double b)
{
  if (isnan (a))
    g_assert_true (isnan (b));
  else
    g_assert_cmpfloat (a, ==, b);
}

static void
test_json_round_trip (void)
{
  const char *classes[] = { "healthy", "blight", "rust", NULL };
  const guint counts[] = { 7, 1, 0, 2, 5, 0, 0, 1, 0 };
  g_autoptr(LeafConfusion) confusion = confusion_new (classes, counts, G_N_ELEMENTS (counts));
  g_autoptr(LeafMetrics) metrics = leaf_metrics_new_from_confusion (confusion);
  g_autoptr(JsonNode) node = leaf_metrics_to_json (metrics);
  g_autofree char *text = json_to_string (node, FALSE);
  /* As the catalog keeps it: inside a training run's summary. */
  g_autofree char *summary = g_strdup_printf ("{\"run\":3,\"metrics\":%s,\"calibration\":{}}", text);
  g_autoptr(GError) error = NULL;

  for (guint shape = 0; shape < 2; shape++)
    {
      g_autoptr(LeafMetrics) read = leaf_metrics_parse (shape == 0 ? text : summary, &error);

      g_assert_no_error (error);
      g_assert_nonnull (read);
      assert_same_ratio (read->accuracy, metrics->accuracy);
      assert_same_ratio (read->macro_f1, metrics->macro_f1);
      g_assert_cmpint (read->n, ==, 16);
      g_assert_cmpuint (read->n_classes, ==, 3);
      for (guint c = 0; c < 3; c++)
        {
          g_assert_cmpstr (read->per_class[c].name, ==, classes[c]);
          assert_same_ratio (read->per_class[c].precision, metrics->per_class[c].precision);
          assert_same_ratio (read->per_class[c].recall, metrics->per_class[c].recall);
          assert_same_ratio (read->per_class[c].f1, metrics->per_class[c].f1);
          g_assert_cmpint (read->per_class[c].support, ==, metrics->per_class[c].support);
        }
      g_assert_nonnull (read->confusion);
      g_assert_cmpuint (leaf_confusion_get_n_classes (read->confusion), ==, 3);
      for (guint t = 0; t < 3; t++)
        for (guint p = 0; p < 3; p++)
          g_assert_cmpuint (leaf_confusion_get_count (read->confusion, t, p), ==,
                            counts[t * 3 + p]);
    }
}

/* Files a user edited or damaged read as far as they make sense, never as a crash. */
static void
test_json_read_leniently (void)
{
  const char *json =
    "{\"accuracy\":\"high\",\"macro_f1\":1,\"n\":2.5,"
    "\"per_class\":[{\"class\":7,\"precision\":true,\"recall\":0.25,\"support\":\"x\"},3,"
    "{\"class\":\"rust\",\"f1\":null}],"
    "\"classes\":[\"a\",\"b\"],\"confusion\":[[1,2],[3]]}";
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafMetrics) metrics = leaf_metrics_parse (json, &error);
  g_autoptr(LeafMetrics) bad_count = NULL;
  g_autoptr(LeafMetrics) not_object = NULL;
  g_autoptr(LeafMetrics) not_json = NULL;

  g_assert_no_error (error);
  g_assert_true (isnan (metrics->accuracy));
  g_assert_cmpfloat (metrics->macro_f1, ==, 1.0);
  g_assert_cmpint (metrics->n, ==, 0);
  g_assert_cmpuint (metrics->n_classes, ==, 2);
  g_assert_null (metrics->per_class[0].name);
  g_assert_true (isnan (metrics->per_class[0].precision));
  g_assert_cmpfloat (metrics->per_class[0].recall, ==, 0.25);
  g_assert_cmpint (metrics->per_class[0].support, ==, 0);
  g_assert_cmpstr (metrics->per_class[1].name, ==, "rust");
  g_assert_true (isnan (metrics->per_class[1].f1));
  /* A row too short: no matrix rather than a wrong one. */
  g_assert_null (metrics->confusion);

  bad_count = leaf_metrics_parse ("{\"classes\":[\"a\"],\"confusion\":[[-1]]}", &error);
  g_assert_no_error (error);
  g_assert_null (bad_count->confusion);

  not_object = leaf_metrics_parse ("{\"metrics\":[1,2]}", &error);
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FORMAT);
  g_assert_null (not_object);
  g_clear_error (&error);

  not_json = leaf_metrics_parse ("{\"accuracy\":", &error);
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FORMAT);
  g_assert_null (not_json);
}

int
main (int   argc,
      char *argv[])
{
  leaf_test_init (&argc, &argv);

  g_test_add_func ("/metrics/confusion/ratios", test_confusion_ratios);
  g_test_add_func ("/metrics/undefined-ratios", test_undefined_ratios);
  g_test_add_func ("/metrics/json/written", test_json_written);
  g_test_add_func ("/metrics/json/round-trip", test_json_round_trip);
  g_test_add_func ("/metrics/json/read-leniently", test_json_read_leniently);
  g_test_add_func ("/metrics/model-card/rows", test_model_card_rows);

  return g_test_run ();
}
