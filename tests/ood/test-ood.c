/* test-ood.c: the detector of photos unlike the training photos, on features made to order
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "leaf-test.h"

#include <math.h>
#include <string.h>

#include "leaf-calibration.h"
#include "leaf-error.h"
#include "leaf-model-file.h"
#include "leaf-ood.h"

#define DIM 48
#define N_CLASSES 3

/* Photos of class c: its own centre, spread more along a few directions than the others, as
 * real features are. Not unit length: the detector scales them. */
static float *
make_features (GRand *rand,
               gsize  n,
               guint  dim,
               guint *labels)
{
  float *features = g_new (float, n * dim);

  for (gsize i = 0; i < n; i++)
    {
      guint c = i % N_CLASSES;

      if (labels != NULL)
        labels[i] = c;
      for (guint j = 0; j < dim; j++)
        {
          double spread = j < 6 ? 0.3 : 0.03;
          double centre = j == 8 + c ? 1.0 : 0.2;
          features[i * dim + j] = (centre + spread * (g_rand_double (rand) - 0.5) * 3.4) *
                                  (2 + i % 5);
        }
    }
  return features;
}

static double
share_flagged (const LeafOod *ood,
               const float   *features,
               gsize          n)
{
  guint flagged = 0;

  for (gsize i = 0; i < n; i++)
    flagged += leaf_ood_is_unfamiliar (ood, leaf_ood_score (ood, features + i * DIM));
  return (double) flagged / n;
}

static LeafOod *
fit_default (GRand *rand)
{
  g_autofree guint *labels = g_new (guint, 300);
  g_autofree float *train = make_features (rand, 300, DIM, labels);
  g_autofree float *val = make_features (rand, 200, DIM, NULL);
  g_autoptr(GError) error = NULL;
  LeafOod *ood = leaf_ood_fit (train, labels, 300, DIM, N_CLASSES, &error);

  g_assert_no_error (error);
  g_assert_nonnull (ood);
  leaf_ood_choose_threshold (ood, val, 200, LEAF_OOD_FLAGGED_SHARE);
  return ood;
}

/* Typical photos score about 1; the threshold flags 5 % of the photos it was chosen on, about
 * as many of new photos like them, and every photo unlike them. */
static void
test_flags_unlike (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (1);
  g_autoptr(LeafOod) ood = fit_default (rand);
  g_autofree float *like = make_features (rand, 1000, DIM, NULL);
  g_autofree float *unlike = g_new (float, 100 * DIM);
  double mean = 0;

  for (gsize i = 0; i < 1000; i++)
    mean += leaf_ood_score (ood, like + i * DIM) / 1000;
  g_assert_cmpfloat (mean, >, 0.5);
  g_assert_cmpfloat (mean, <, 2.0);
  g_assert_cmpfloat (share_flagged (ood, like, 1000), >, 0.01);
  g_assert_cmpfloat (share_flagged (ood, like, 1000), <, 0.12);

  /* Features of another kind: noise all over, or a class centre never seen. */
  for (gsize i = 0; i < 100; i++)
    for (guint j = 0; j < DIM; j++)
      unlike[i * DIM + j] = i % 2 ? g_rand_double (rand) : (j == 20 ? 1.0 : 0.2) +
                                                          0.03 * g_rand_double (rand);
  g_assert_cmpfloat (share_flagged (ood, unlike, 100), ==, 1.0);
}

static void
test_threshold_share (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (2);
  g_autofree guint *labels = g_new (guint, 100);
  g_autofree float *train = make_features (rand, 100, DIM, labels);
  g_autofree float *val = make_features (rand, 120, DIM, NULL);
  g_autoptr(LeafOod) ood = leaf_ood_fit (train, labels, 100, DIM, N_CLASSES, NULL);

  g_assert_nonnull (ood);
  /* Before a threshold is chosen nothing is flagged. */
  g_assert_true (isinf (leaf_ood_get_threshold (ood)));
  g_assert_cmpfloat (share_flagged (ood, val, 120), ==, 0);
  leaf_ood_choose_threshold (ood, val, 120, 0.05);
  g_assert_cmpfloat (share_flagged (ood, val, 120), ==, 6.0 / 120);
  leaf_ood_choose_threshold (ood, val, 120, 0.25);
  g_assert_cmpfloat (share_flagged (ood, val, 120), ==, 30.0 / 120);
  leaf_ood_choose_threshold (ood, val, 0, 0.05);
  g_assert_true (isinf (leaf_ood_get_threshold (ood)));
}

/* The same photos twice have the same means and covariance: fitted once with fewer photos than
 * features (through the Gram matrix) and once with more (the covariance itself), the detector
 * must score alike. */
static void
test_both_decompositions (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (3);
  g_autofree guint *labels = g_new (guint, 2 * 40);
  g_autofree float *train = make_features (rand, 40, DIM, labels);
  g_autofree float *probe = make_features (rand, 50, DIM, NULL);
  g_autoptr(LeafOod) few = NULL;
  g_autoptr(LeafOod) many = NULL;

  train = g_realloc (train, 2 * 40 * DIM * sizeof (float));
  memcpy (train + 40 * DIM, train, 40 * DIM * sizeof (float));
  memcpy (labels + 40, labels, 40 * sizeof (guint));
  few = leaf_ood_fit (train, labels, 40, DIM, N_CLASSES, NULL);
  many = leaf_ood_fit (train, labels, 80, DIM, N_CLASSES, NULL);
  g_assert_nonnull (few);
  g_assert_nonnull (many);
  for (gsize i = 0; i < 50; i++)
    {
      double a = leaf_ood_score (few, probe + i * DIM);
      double b = leaf_ood_score (many, probe + i * DIM);
      g_assert_cmpfloat_with_epsilon (a, b, 1e-4 * a);
    }
}

static void
test_too_few (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (4);
  guint labels[4];
  g_autofree float *train = make_features (rand, 4, DIM, labels);
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafOod) ood = leaf_ood_fit (train, labels, 4, DIM, N_CLASSES, &error);

  g_assert_null (ood);
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID);
}

static JsonNode *
parse (const char *text)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node = json_from_string (text, &error);

  g_assert_no_error (error);
  return node;
}

static void
test_json_round_trip (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (5);
  g_autoptr(LeafOod) ood = fit_default (rand);
  g_autoptr(JsonNode) node = leaf_ood_to_json (ood);
  g_autofree char *text = json_to_string (node, FALSE);
  g_autoptr(JsonNode) again_node = parse (text);
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafOod) again = leaf_ood_from_json (again_node, &error);
  g_autofree float *probe = make_features (rand, 20, DIM, NULL);

  g_assert_no_error (error);
  g_assert_cmpfloat (leaf_ood_get_threshold (again), ==, leaf_ood_get_threshold (ood));
  for (gsize i = 0; i < 20; i++)
    g_assert_cmpfloat (leaf_ood_score (again, probe + i * DIM), ==,
                       leaf_ood_score (ood, probe + i * DIM));
}

/* Each edit damages one member of a good record; every one is refused. */
static void
test_json_damaged (void)
{
  static const struct
  {
    const char *member;
    const char *value;
  } edits[] = {
    { "method", "\"knn\"" },
    { "features", "0" },
    { "features", "100000" },
    { "components", "48" },
    { "threshold", "\"high\"" },
    { "residual_variance", "-1" },
    { "variances", "[1, 2]" },
    { "variances", "null" },
    { "means", "\"AAAA\"" },
    { "means", "42" },
    { "basis", "\"not base64 at all\"" },
  };
  g_autoptr(GRand) rand = g_rand_new_with_seed (6);
  g_autoptr(LeafOod) ood = fit_default (rand);

  for (gsize i = 0; i < G_N_ELEMENTS (edits); i++)
    {
      g_autoptr(JsonNode) node = leaf_ood_to_json (ood);
      g_autoptr(JsonNode) value = parse (edits[i].value);
      g_autoptr(GError) error = NULL;
      g_autoptr(LeafOod) damaged = NULL;

      json_object_set_member (json_node_get_object (node), edits[i].member,
                              g_steal_pointer (&value));
      damaged = leaf_ood_from_json (node, &error);
      g_test_message ("%s: %s", edits[i].member, edits[i].value);
      g_assert_null (damaged);
      g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FORMAT);
    }

  /* A NaN among the means, in otherwise good base64. */
  {
    g_autoptr(JsonNode) node = leaf_ood_to_json (ood);
    JsonObject *object = json_node_get_object (node);
    gsize length = 0;
    g_autofree guchar *bytes = g_base64_decode (json_object_get_string_member (object, "means"),
                                                &length);
    guint32 nan_bits = GUINT32_TO_LE (0x7fc00000);
    g_autofree char *text = NULL;
    g_autoptr(LeafOod) damaged = NULL;

    memcpy (bytes + 8, &nan_bits, sizeof nan_bits);
    text = g_base64_encode (bytes, length);
    json_object_set_string_member (object, "means", text);
    damaged = leaf_ood_from_json (node, NULL);
    g_assert_null (damaged);
  }
}

/* A model file keeps the detector and what it was trained on; an older one has neither, and one
 * whose detector reads features of another size keeps none. */
static void
test_model_meta (void)
{
  static const char *const classes[] = { "a", "b", "c", NULL };
  g_autoptr(GRand) rand = g_rand_new_with_seed (7);
  g_autofree guint *labels = g_new (guint, 60);
  g_autofree float *train = make_features (rand, 60, LEAF_OOD_N_FEATURES, labels);
  g_autoptr(LeafOod) ood = leaf_ood_fit (train, labels, 60, LEAF_OOD_N_FEATURES, N_CLASSES, NULL);
  g_autoptr(LeafOod) small = fit_default (rand);
  LeafModelMeta meta = {
    .classes = (char **) classes, .n_classes = 3, .image_size = 224, .resize_size = 256,
    .temperature = 1.0, .train_photos = 60, .val_photos = 20, .plain_background = 0.75,
  };
  g_autofree char *without = leaf_model_meta_to_json (&meta);
  g_autofree char *with = NULL;
  g_autofree char *wrong_size = NULL;
  g_autoptr(LeafModelMeta) read_without = NULL;
  g_autoptr(LeafModelMeta) read_with = NULL;
  g_autoptr(LeafModelMeta) read_wrong = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_nonnull (ood);
  leaf_ood_choose_threshold (ood, train, 60, 0.1);
  meta.ood = ood;
  with = leaf_model_meta_to_json (&meta);
  meta.ood = small;
  wrong_size = leaf_model_meta_to_json (&meta);

  read_without = leaf_model_meta_from_json (without, "m", &error);
  g_assert_no_error (error);
  g_assert_null (read_without->ood);
  g_assert_cmpuint (read_without->train_photos, ==, 60);
  g_assert_cmpuint (read_without->val_photos, ==, 20);
  g_assert_cmpfloat (read_without->plain_background, ==, 0.75);

  read_with = leaf_model_meta_from_json (with, "m", &error);
  g_assert_no_error (error);
  g_assert_nonnull (read_with->ood);
  g_assert_cmpfloat (leaf_ood_get_threshold (read_with->ood), ==, leaf_ood_get_threshold (ood));
  g_assert_cmpfloat (leaf_ood_score (read_with->ood, train), ==, leaf_ood_score (ood, train));

  read_wrong = leaf_model_meta_from_json (wrong_size, "m", &error);
  g_assert_no_error (error);
  g_assert_null (read_wrong->ood);

  /* What models written before either existed hold. */
  {
    g_autoptr(LeafModelMeta) old = leaf_model_meta_from_json (
      "{\"format\":\"leafscope-model\",\"version\":1,\"classes\":[\"a\",\"b\"]}", "m", &error);
    g_assert_no_error (error);
    g_assert_null (old->ood);
    g_assert_cmpuint (old->train_photos, ==, 0);
    g_assert_true (isnan (old->plain_background));
  }
}

/* A leaf on an even grey sheet is a lab photo; clutter, or a leaf filling the frame, is not. */
static void
test_plain_background (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (8);
  g_autoptr(GdkPixbuf) lab = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 256, 200);
  g_autoptr(GdkPixbuf) field = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 256, 200);
  guint8 *a = gdk_pixbuf_get_pixels (lab), *b = gdk_pixbuf_get_pixels (field);
  int stride = gdk_pixbuf_get_rowstride (lab);

  for (int y = 0; y < 200; y++)
    for (int x = 0; x < 256; x++)
      {
        double dx = (x - 128) / 90.0, dy = (y - 100) / 70.0;
        gboolean leaf = dx * dx + dy * dy < 1;
        guint8 *p = a + y * stride + x * 3, *q = b + y * stride + x * 3;

        /* Grey with sensor noise and a slight vignette. */
        p[0] = leaf ? 40 : 150 - x / 16 + g_rand_int_range (rand, 0, 6);
        p[1] = leaf ? 140 : 152 - x / 16 + g_rand_int_range (rand, 0, 6);
        p[2] = leaf ? 50 : 160 - x / 16 + g_rand_int_range (rand, 0, 6);
        for (int c = 0; c < 3; c++)
          q[c] = (guint8) g_rand_int_range (rand, 0, 256);
      }
  g_assert_true (leaf_ood_plain_background (lab));
  g_assert_false (leaf_ood_plain_background (field));
}

/* Two classes, logits (margin, 0); the first `wrong` photos belong to the other class. */
static void
fit_margins (const float     *margins,
             gsize            n,
             gsize            wrong,
             LeafCalibration *out)
{
  g_autofree float *logits = g_new0 (float, 2 * n);
  g_autofree guint *labels = g_new (guint, n);

  for (gsize i = 0; i < n; i++)
    {
      logits[2 * i] = margins[i];
      labels[i] = i < wrong ? 1 : 0;
    }
  leaf_calibration_fit (logits, labels, n, 2, out);
}

/* One confident mistake among photos rightly 98 % sure: the temperature that minimises the log
 * loss flattens them all, and the calibration error grows, so the plain probabilities stay.
 * Three confident mistakes in ten: scaling helps and is kept. */
static void
test_calibration_keeps_better (void)
{
  static const float worse[] = { 8, 4, 4, 4, 4, 4, 4, 4 };
  static const float better[] = { 8, 8, 8, 8, 8, 8, 8, 8, 8, 8 };
  LeafCalibration c, again;
  g_autoptr(JsonNode) node = NULL;

  fit_margins (worse, G_N_ELEMENTS (worse), 1, &c);
  g_assert_false (c.scaling_kept);
  g_assert_cmpfloat (c.temperature, ==, 1.0);
  g_assert_cmpfloat (c.fitted_temperature, >, 1.5);
  g_assert_cmpfloat (c.ece_fitted, >, c.ece_before);
  g_assert_cmpfloat (c.ece_after, ==, c.ece_before);
  g_assert_cmpmem (c.bins_after, sizeof c.bins_after, c.bins_before, sizeof c.bins_before);

  node = leaf_calibration_to_json (&c);
  g_assert_true (leaf_calibration_from_json (node, &again, NULL));
  g_assert_false (again.scaling_kept);
  g_assert_cmpfloat (again.fitted_temperature, ==, c.fitted_temperature);

  fit_margins (better, G_N_ELEMENTS (better), 3, &c);
  g_assert_true (c.scaling_kept);
  g_assert_cmpfloat (c.temperature, ==, c.fitted_temperature);
  g_assert_cmpfloat (c.ece_after, <, c.ece_before);
}

int
main (int   argc,
      char *argv[])
{
  leaf_test_init (&argc, &argv);

  g_test_add_func ("/ood/fit/flags-unlike", test_flags_unlike);
  g_test_add_func ("/ood/fit/threshold-share", test_threshold_share);
  g_test_add_func ("/ood/fit/both-decompositions", test_both_decompositions);
  g_test_add_func ("/ood/fit/too-few-photos", test_too_few);
  g_test_add_func ("/ood/json/round-trip", test_json_round_trip);
  g_test_add_func ("/ood/json/damaged", test_json_damaged);
  g_test_add_func ("/ood/model-file", test_model_meta);
  g_test_add_func ("/ood/plain-background", test_plain_background);
  g_test_add_func ("/calibration/keeps-the-better", test_calibration_keeps_better);
  return g_test_run ();
}
