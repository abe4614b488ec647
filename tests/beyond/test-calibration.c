/* test-calibration.c: temperature scaling, ECE and the referral threshold
 *
 * Synthetic logits come from a known model: true logits z, labels drawn from softmax(z), and
 * the "network" reports 3 z, as an over-confident one does. Temperature scaling must find
 * T close to 3 and lower the calibration error. The ECE, NLL and the fitted temperature are
 * checked against numpy and torch (LBFGS on log T) computing from the same numbers.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "leaf-test.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>

#include "leaf-calibration.h"

#define N_CLASSES 5
#define TRUE_T 3.0

typedef struct
{
  gsize n;
  float *logits;
  guint *labels;
} Set;

static void
set_clear (Set *set)
{
  g_free (set->logits);
  g_free (set->labels);
}

static void
make_overconfident (Set    *set,
                    gsize   n,
                    guint32 seed)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);

  set->n = n;
  set->logits = g_new (float, n * N_CLASSES);
  set->labels = g_new (guint, n);
  for (gsize i = 0; i < n; i++)
    {
      float z[N_CLASSES], p[N_CLASSES];
      double u = g_rand_double (rand), cumulative = 0;

      for (guint c = 0; c < N_CLASSES; c++)
        z[c] = g_rand_double_range (rand, -2, 2) + (c == i % N_CLASSES ? 1.5 : 0);
      leaf_calibration_softmax (z, N_CLASSES, 1.0, p);
      set->labels[i] = N_CLASSES - 1;
      for (guint c = 0; c < N_CLASSES; c++)
        if (u < (cumulative += p[c]))
          {
            set->labels[i] = c;
            break;
          }
      for (guint c = 0; c < N_CLASSES; c++)
        set->logits[i * N_CLASSES + c] = TRUE_T * z[c];
    }
}

static void
test_recovers_temperature (void)
{
  Set set = { 0 };
  LeafCalibration cal;

  make_overconfident (&set, 20000, 1);
  leaf_calibration_fit (set.logits, set.labels, set.n, N_CLASSES, &cal);
  g_test_message ("T %.4f, ECE %.4f -> %.4f, NLL %.4f -> %.4f", cal.temperature, cal.ece_before,
                  cal.ece_after, cal.nll_before, cal.nll_after);
  g_assert_cmpfloat_with_epsilon (cal.temperature, TRUE_T, 0.15);
  g_assert_cmpfloat (cal.ece_after, <, cal.ece_before / 3);
  g_assert_cmpfloat (cal.ece_after, <, 0.02);
  g_assert_cmpfloat (cal.nll_after, <, cal.nll_before);
  /* The search found a minimum: nearby temperatures do no better. */
  g_assert_cmpfloat (cal.nll_after, <=, leaf_calibration_nll (set.logits, set.labels, set.n,
                                                              N_CLASSES, cal.temperature * 1.01));
  g_assert_cmpfloat (cal.nll_after, <=, leaf_calibration_nll (set.logits, set.labels, set.n,
                                                              N_CLASSES, cal.temperature / 1.01));
  set_clear (&set);
}

static void
test_refer_threshold (void)
{
  Set set = { 0 };
  LeafCalibration cal;
  gsize kept = 0, wrong = 0, wrong_all = 0;

  make_overconfident (&set, 4000, 2);
  leaf_calibration_fit (set.logits, set.labels, set.n, N_CLASSES, &cal);
  g_test_message ("refer below %.4f: coverage %.3f, covered error %.4f", cal.refer_below,
                  cal.coverage, cal.covered_error);

  /* Counted directly from the rule's definition. */
  for (gsize i = 0; i < set.n; i++)
    {
      float p[N_CLASSES];
      guint best = 0;

      leaf_calibration_softmax (set.logits + i * N_CLASSES, N_CLASSES, cal.temperature, p);
      for (guint c = 1; c < N_CLASSES; c++)
        if (p[c] > p[best])
          best = c;
      wrong_all += best != set.labels[i];
      if (p[best] >= cal.refer_below)
        {
          kept++;
          wrong += best != set.labels[i];
        }
    }
  g_assert_cmpfloat (cal.coverage, >=, 0.5);
  g_assert_cmpfloat_with_epsilon (cal.coverage, (double) kept / set.n, 1e-9);
  g_assert_cmpfloat_with_epsilon (cal.covered_error, (double) wrong / kept, 1e-9);
  /* These labels are noisy (the best possible accuracy is far below 95 %), so the 5 % target
   * cannot be met at half coverage and the rule falls back to the least risk there; the
   * covered error must still beat the error over all photos. */
  g_assert_cmpfloat (cal.refer_below, >, 0);
  g_assert_cmpfloat (cal.covered_error, <, (double) wrong_all / set.n);

  /* A model that is right on every photo refers none. */
  for (gsize i = 0; i < set.n; i++)
    {
      guint best = 0;
      for (guint c = 1; c < N_CLASSES; c++)
        if (set.logits[i * N_CLASSES + c] > set.logits[i * N_CLASSES + best])
          best = c;
      set.labels[i] = best;
    }
  g_assert_cmpfloat (leaf_calibration_refer_threshold (set.logits, set.labels, set.n, N_CLASSES,
                                                       1.0, NULL, NULL), ==, 0.0);
  set_clear (&set);
}

static void
test_against_numpy (void)
{
  const char *python = g_getenv ("LEAFSCOPE_PYTHON");
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *logits_path = NULL;
  g_autofree char *labels_path = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *script = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *ref;
  LeafCalibration cal;
  Set set = { 0 };
  int status;

  if (python == NULL || !g_file_test (python, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("LEAFSCOPE_PYTHON is not available");
      return;
    }
  make_overconfident (&set, 3000, 3);
  leaf_calibration_fit (set.logits, set.labels, set.n, N_CLASSES, &cal);

  dir = g_dir_make_tmp ("leaf-calibration-XXXXXX", &error);
  g_assert_no_error (error);
  logits_path = g_build_filename (dir, "logits.f32", NULL);
  labels_path = g_build_filename (dir, "labels.u32", NULL);
  g_file_set_contents (logits_path, (char *) set.logits, set.n * N_CLASSES * sizeof (float), &error);
  g_assert_no_error (error);
  g_file_set_contents (labels_path, (char *) set.labels, set.n * sizeof (guint), &error);
  g_assert_no_error (error);

  script = g_strdup_printf (
    "import json, numpy as np\n"
    "z = np.fromfile('%s', dtype=np.float32).reshape(-1, %d).astype(np.float64)\n"
    "y = np.fromfile('%s', dtype=np.uint32).astype(np.int64)\n"
    "def probs(t):\n"
    "    a = z / t; a = a - a.max(1, keepdims=True); e = np.exp(a); return e / e.sum(1, keepdims=True)\n"
    "def nll(t):\n"
    "    return float(-np.log(probs(t)[np.arange(len(y)), y]).mean())\n"
    "def ece(t):\n"
    "    p = probs(t); conf = p.max(1); right = (p.argmax(1) == y)\n"
    "    edges = np.linspace(0, 1, 16); total = 0.0\n"
    "    for lo, hi in zip(edges[:-1], edges[1:]):\n"
    "        m = (conf > lo) & (conf <= hi)\n"
    "        if m.any(): total += m.mean() * abs(right[m].mean() - conf[m].mean())\n"
    "    return total\n"
    "t_fit = None\n"
    "try:\n"
    "    import torch\n"
    "    zt = torch.tensor(z); yt = torch.tensor(y); log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)\n"
    "    opt = torch.optim.LBFGS([log_t], lr=0.5, max_iter=200, tolerance_grad=1e-12, tolerance_change=1e-14)\n"
    "    def closure():\n"
    "        opt.zero_grad(); loss = torch.nn.functional.cross_entropy(zt / log_t.exp(), yt); loss.backward(); return loss\n"
    "    opt.step(closure); t_fit = float(log_t.exp())\n"
    "except ImportError:\n"
    "    pass\n"
    "print(json.dumps({'ece1': ece(1.0), 'eceT': ece(%.17g), 'nll1': nll(1.0), 'nllT': nll(%.17g), 'T': t_fit}))\n",
    logits_path, N_CLASSES, labels_path, cal.temperature, cal.temperature);

  {
    const char *argv[] = { python, "-c", script, NULL };
    g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status,
                  &error);
  }
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("the numpy reference failed: %s", err);
  json_parser_load_from_data (parser, out, -1, &error);
  g_assert_no_error (error);
  ref = json_node_get_object (json_parser_get_root (parser));

  g_test_message ("ECE %.6f / numpy %.6f, after %.6f / numpy %.6f", cal.ece_before,
                  json_object_get_double_member (ref, "ece1"), cal.ece_after,
                  json_object_get_double_member (ref, "eceT"));
  g_assert_cmpfloat_with_epsilon (cal.ece_before, json_object_get_double_member (ref, "ece1"), 1e-5);
  g_assert_cmpfloat_with_epsilon (cal.ece_after, json_object_get_double_member (ref, "eceT"), 1e-5);
  g_assert_cmpfloat_with_epsilon (cal.nll_before, json_object_get_double_member (ref, "nll1"), 1e-6);
  g_assert_cmpfloat_with_epsilon (cal.nll_after, json_object_get_double_member (ref, "nllT"), 1e-6);
  if (!json_object_get_null_member (ref, "T"))
    {
      double t = json_object_get_double_member (ref, "T");
      g_test_message ("T %.6f / torch LBFGS %.6f", cal.temperature, t);
      g_assert_cmpfloat_with_epsilon (cal.temperature, t, 1e-3 * t);
    }

  g_unlink (logits_path);
  g_unlink (labels_path);
  g_rmdir (dir);
  set_clear (&set);
}

/* A validation set whose photos all failed to decode: neutral values JSON can hold. */
static void
test_empty (void)
{
  LeafCalibration cal;

  leaf_calibration_fit (NULL, NULL, 0, N_CLASSES, &cal);
  g_assert_cmpfloat (cal.temperature, ==, 1.0);
  g_assert_cmpfloat (cal.ece_before, ==, 0.0);
  g_assert_cmpfloat (cal.ece_after, ==, 0.0);
  g_assert_cmpfloat (cal.nll_after, ==, 0.0);
  g_assert_cmpfloat (cal.refer_below, ==, 0.0);
  g_assert_cmpfloat (cal.coverage, ==, 1.0);
}

int
main (int   argc,
      char *argv[])
{
  leaf_test_init (&argc, &argv);
  g_test_add_func ("/calibration/temperature/recovers-overconfidence", test_recovers_temperature);
  g_test_add_func ("/calibration/refer/risk-coverage-rule", test_refer_threshold);
  g_test_add_func ("/calibration/ece/matches-numpy", test_against_numpy);
  g_test_add_func ("/calibration/empty", test_empty);
  return g_test_run ();
}
