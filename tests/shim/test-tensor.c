/* test-tensor.c: runtime settings, tensors, optimisers and model handles of lt.h, without
 * reference files; built without GLib (shim-tap.h)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define _GNU_SOURCE /* sched_getaffinity */

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lt.h"
#include "shim-tap.h"

/* The cores this process may run on, as the shim counts them. */
static int
available_cores (void)
{
  cpu_set_t set;

  if (sched_getaffinity (0, sizeof set, &set) == 0)
    return CPU_COUNT (&set) > 0 ? CPU_COUNT (&set) : 1;
  return (int) sysconf (_SC_NPROCESSORS_ONLN);
}

static void
test_threads_default (void)
{
  SHIM_TAP_CHECK_OK (lt_init (0, &shim_error_));
  SHIM_TAP_CHECK_INT (lt_get_num_threads (), ==, available_cores ());
  SHIM_TAP_CHECK_OK (lt_init (1, &shim_error_));
  SHIM_TAP_CHECK_INT (lt_get_num_threads (), ==, 1);
}

static void *
report_threads (void *data)
{
  *(int *) data = lt_get_num_threads ();
  return NULL;
}

/* The engine computes on a thread of its own; the setting must reach it. */
static void
test_threads_other_thread (void)
{
  pthread_t thread;
  int reported = 0;

  SHIM_TAP_CHECK_OK (lt_init (2, &shim_error_));
  SHIM_TAP_CHECK_INT (pthread_create (&thread, NULL, report_threads, &reported), ==, 0);
  SHIM_TAP_CHECK_INT (pthread_join (thread, NULL), ==, 0);
  SHIM_TAP_CHECK_INT (reported, ==, 2);
  SHIM_TAP_CHECK_OK (lt_init (0, &shim_error_));
}

static void
test_f32_round_trip (void)
{
  const float values[6] = { 1.5f, -2.f, 0.f, 3.25f, 1e-8f, -1e20f };
  const int64_t shape[2] = { 2, 3 };
  float out[6];
  LtTensor *t = shim_tap_tensor_f32 (values, shape, 2);

  SHIM_TAP_CHECK_INT (lt_tensor_ndim (t), ==, 2);
  SHIM_TAP_CHECK_INT (lt_tensor_dim (t, 0), ==, 2);
  SHIM_TAP_CHECK_INT (lt_tensor_dim (t, 1), ==, 3);
  SHIM_TAP_CHECK_INT (lt_tensor_dim (t, 2), ==, -1);
  SHIM_TAP_CHECK_INT (lt_tensor_numel (t), ==, 6);
  SHIM_TAP_CHECK_OK (lt_tensor_copy_f32 (t, out, 6, &shim_error_));
  SHIM_TAP_CHECK (sizeof out == sizeof values && memcmp (out, values, sizeof out) == 0);
  lt_tensor_free (t);
}

/* IEEE 754 binary16 encodings of 1, -2, 0.5 and the largest finite value, 65504. */
static void
test_f16 (void)
{
  const uint16_t bits[4] = { 0x3C00, 0xC000, 0x3800, 0x7BFF };
  const float values[4] = { 1.f, -2.f, 0.5f, 65504.f };
  const int64_t shape[1] = { 4 };
  uint16_t bits_out[4];
  float out[4];
  LtTensor *half = NULL, *single;

  SHIM_TAP_CHECK_OK (lt_tensor_new_f16 (bits, shape, 1, &half, &shim_error_));
  SHIM_TAP_CHECK_OK (lt_tensor_copy_f32 (half, out, 4, &shim_error_));
  SHIM_TAP_CHECK (sizeof out == sizeof values && memcmp (out, values, sizeof out) == 0);

  single = shim_tap_tensor_f32 (values, shape, 1);
  SHIM_TAP_CHECK_OK (lt_tensor_copy_f16 (single, bits_out, 4, &shim_error_));
  SHIM_TAP_CHECK (sizeof bits_out == sizeof bits && memcmp (bits_out, bits, sizeof bits_out) == 0);
  lt_tensor_free (single);
  lt_tensor_free (half);
}

static void
test_cat_stack (void)
{
  const float a_values[4] = { 1, 2, 3, 4 }, b_values[2] = { 5, 6 };
  const float cat_expected[6] = { 1, 2, 3, 4, 5, 6 };
  const int64_t a_shape[2] = { 2, 2 }, b_shape[2] = { 1, 2 };
  const uint16_t half_bits[2] = { 0x4500, 0x4600 }; /* 5 and 6 in binary16 */
  LtTensor *a = shim_tap_tensor_f32 (a_values, a_shape, 2);
  LtTensor *b = shim_tap_tensor_f32 (b_values, b_shape, 2);
  LtTensor *half = NULL, *joined = NULL;
  const LtTensor *pair[2] = { a, b };
  const LtTensor *same[2] = { b, b };
  float out[6];

  SHIM_TAP_CHECK_OK (lt_tensor_cat (pair, 2, &joined, &shim_error_));
  SHIM_TAP_CHECK_INT (lt_tensor_dim (joined, 0), ==, 3);
  SHIM_TAP_CHECK_INT (lt_tensor_dim (joined, 1), ==, 2);
  SHIM_TAP_CHECK_OK (lt_tensor_copy_f32 (joined, out, 6, &shim_error_));
  SHIM_TAP_CHECK (sizeof out == sizeof cat_expected && memcmp (out, cat_expected, sizeof out) == 0);
  lt_tensor_free (joined);

  /* Cached float16 rows join float32 ones. */
  SHIM_TAP_CHECK_OK (lt_tensor_new_f16 (half_bits, b_shape, 2, &half, &shim_error_));
  pair[1] = half;
  SHIM_TAP_CHECK_OK (lt_tensor_cat (pair, 2, &joined, &shim_error_));
  SHIM_TAP_CHECK_OK (lt_tensor_copy_f32 (joined, out, 6, &shim_error_));
  SHIM_TAP_CHECK (sizeof out == sizeof cat_expected && memcmp (out, cat_expected, sizeof out) == 0);
  lt_tensor_free (joined);

  SHIM_TAP_CHECK_OK (lt_tensor_stack (same, 2, &joined, &shim_error_));
  SHIM_TAP_CHECK_INT (lt_tensor_ndim (joined), ==, 3);
  SHIM_TAP_CHECK_INT (lt_tensor_dim (joined, 0), ==, 2);
  SHIM_TAP_CHECK_INT (lt_tensor_dim (joined, 1), ==, 1);
  SHIM_TAP_CHECK_INT (lt_tensor_dim (joined, 2), ==, 2);
  lt_tensor_free (joined);
  lt_tensor_free (half);
  lt_tensor_free (b);
  lt_tensor_free (a);
}

static void
test_mean_spatial (void)
{
  /* Two channels of a 2x3 map: means 3.5 and -1. */
  const float values[12] = { 1, 2, 3, 4, 5, 6, -1, -1, -1, -1, -1, -1 };
  const float expected[2] = { 3.5f, -1.f };
  const int64_t shape[4] = { 1, 2, 2, 3 };
  LtTensor *t = shim_tap_tensor_f32 (values, shape, 4), *mean = NULL;
  float out[2];

  SHIM_TAP_CHECK_OK (lt_tensor_mean_spatial (t, &mean, &shim_error_));
  SHIM_TAP_CHECK_INT (lt_tensor_ndim (mean), ==, 4);
  SHIM_TAP_CHECK_INT (lt_tensor_dim (mean, 0), ==, 1);
  SHIM_TAP_CHECK_INT (lt_tensor_dim (mean, 1), ==, 2);
  SHIM_TAP_CHECK_INT (lt_tensor_dim (mean, 2), ==, 1);
  SHIM_TAP_CHECK_INT (lt_tensor_dim (mean, 3), ==, 1);
  SHIM_TAP_CHECK_OK (lt_tensor_copy_f32 (mean, out, 2, &shim_error_));
  SHIM_TAP_CHECK (sizeof out == sizeof expected && memcmp (out, expected, sizeof out) == 0);
  lt_tensor_free (mean);
  lt_tensor_free (t);
}

static void
test_tensor_errors (void)
{
  const float values[2] = { 1, 2 };
  const int64_t shape[1] = { 2 }, negative[1] = { -2 };
  const int64_t row[2] = { 1, 2 }, column[2] = { 2, 1 };
  LtTensor *t = shim_tap_tensor_f32 (values, shape, 1), *out = NULL;
  LtTensor *r = shim_tap_tensor_f32 (values, row, 2), *c = shim_tap_tensor_f32 (values, column, 2);
  const LtTensor *mismatched[2] = { r, c };
  float buffer[3];
  char *error = NULL;

  SHIM_TAP_CHECK_INT (lt_tensor_copy_f32 (t, buffer, 3, &error), ==, LT_ERROR_INVALID_ARGUMENT);
  SHIM_TAP_CHECK ((strstr (error, "3")) != NULL);
  /* A second failure replaces the first message without leaking it. */
  SHIM_TAP_CHECK_INT (lt_tensor_new_f32 (values, negative, 1, &out, &error), ==,
                   LT_ERROR_INVALID_ARGUMENT);
  SHIM_TAP_CHECK ((out) == NULL);
  SHIM_TAP_CHECK ((strstr (error, "negative")) != NULL);
  lt_string_free (error);
  error = NULL;

  SHIM_TAP_CHECK_INT (lt_tensor_cat (mismatched, 2, &out, &error), ==, LT_ERROR_TORCH);
  SHIM_TAP_CHECK ((out) == NULL);
  SHIM_TAP_CHECK ((error) != NULL);
  lt_string_free (error);
  error = NULL;
  SHIM_TAP_CHECK_INT (lt_tensor_cat (mismatched, 0, &out, &error), ==, LT_ERROR_INVALID_ARGUMENT);
  lt_string_free (error);
  error = NULL;

  /* Callers that do not want the message may pass NULL. */
  SHIM_TAP_CHECK_INT (lt_tensor_new_f32 (NULL, shape, 1, &out, NULL), ==, LT_ERROR_INVALID_ARGUMENT);
  lt_tensor_free (c);
  lt_tensor_free (r);
  lt_tensor_free (t);
}

static float *
head_weight (LtModel *model, size_t *n)
{
  LtTensor *t = NULL;
  float *values;

  SHIM_TAP_CHECK_OK (lt_model_get_tensor (model, "classifier.1.weight", &t, &shim_error_));
  *n = (size_t) lt_tensor_numel (t);
  values = shim_tap_tensor_values (t);
  lt_tensor_free (t);
  return values;
}

/* torchvision's EfficientNet.__init__ draws the head from U(-1/sqrt(K), 1/sqrt(K)), bias 0. */
static void
test_head_init (void)
{
  const int64_t k = 7;
  const float range = 1.f / sqrtf ((float) k);
  LtModel *model = NULL;
  LtTensor *bias = NULL;
  float *weight = NULL, *bias_values = NULL;
  size_t n = 0;
  double sum = 0;

  SHIM_TAP_CHECK_OK (lt_model_new (1000, &model, &shim_error_));
  SHIM_TAP_CHECK_OK (lt_model_reset_head (model, k, &shim_error_));
  SHIM_TAP_CHECK_INT (lt_model_num_classes (model), ==, k);
  weight = head_weight (model, &n);
  SHIM_TAP_CHECK_INT (n, ==, k * 1280);
  SHIM_TAP_CHECK_FLOAT (shim_tap_max_abs (weight, n), <=, range);
  /* 8960 uniform draws: the largest lies within 0.1% of the bound, the mean near 0. */
  SHIM_TAP_CHECK_FLOAT (shim_tap_max_abs (weight, n), >=, 0.99f * range);
  for (size_t i = 0; i < n; i++)
    sum += weight[i];
  SHIM_TAP_CHECK ((fabs (sum / n)) <= 0.05 * range);

  SHIM_TAP_CHECK_OK (lt_model_get_tensor (model, "classifier.1.bias", &bias, &shim_error_));
  SHIM_TAP_CHECK_INT (lt_tensor_numel (bias), ==, k);
  bias_values = shim_tap_tensor_values (bias);
  SHIM_TAP_CHECK_FLOAT (shim_tap_max_abs (bias_values, k), ==, 0.f);
  free (bias_values);
  free (weight);
  lt_tensor_free (bias);
  lt_model_free (model);
}

static void
test_seed_repeats (void)
{
  LtModel *a = NULL, *b = NULL, *c = NULL;
  float *wa = NULL, *wb = NULL, *wc = NULL;
  size_t n = 0;

  lt_manual_seed (5);
  SHIM_TAP_CHECK_OK (lt_model_new (3, &a, &shim_error_));
  lt_manual_seed (5);
  SHIM_TAP_CHECK_OK (lt_model_new (3, &b, &shim_error_));
  lt_manual_seed (6);
  SHIM_TAP_CHECK_OK (lt_model_new (3, &c, &shim_error_));
  wa = head_weight (a, &n);
  wb = head_weight (b, &n);
  wc = head_weight (c, &n);
  SHIM_TAP_CHECK (n * sizeof (float) == n * sizeof (float) && memcmp (wa, wb, n * sizeof (float)) == 0);
  SHIM_TAP_CHECK_FLOAT (shim_tap_max_abs_diff (wa, wc, n), >, 0.f);
  free (wc);
  free (wb);
  free (wa);
  lt_model_free (c);
  lt_model_free (b);
  lt_model_free (a);
}

static void
test_optim_groups (void)
{
  LtModel *model = NULL;
  LtOptim *optim = NULL;
  size_t group = 99;
  char *error = NULL;

  SHIM_TAP_CHECK_OK (lt_model_new (4, &model, &shim_error_));
  SHIM_TAP_CHECK_OK (lt_optim_new (model, LT_OPTIM_ADAMW, 0.01, 0.0, &optim, &shim_error_));
  SHIM_TAP_CHECK_INT (lt_optim_n_groups (optim), ==, 0);
  SHIM_TAP_CHECK_OK (lt_optim_add_group (optim, LT_STAGE_CLASSIFIER, LT_STAGE_CLASSIFIER, 1e-3,
                                      &group, &shim_error_));
  SHIM_TAP_CHECK_INT (group, ==, 0);
  SHIM_TAP_CHECK_OK (lt_optim_add_group (optim, 7, 8, 1e-4, &group, &shim_error_));
  SHIM_TAP_CHECK_INT (group, ==, 1);
  SHIM_TAP_CHECK_INT (lt_optim_n_groups (optim), ==, 2);
  SHIM_TAP_CHECK_FLOAT (lt_optim_get_lr (optim, 0), ==, 1e-3);
  SHIM_TAP_CHECK_FLOAT (lt_optim_get_lr (optim, 1), ==, 1e-4);
  SHIM_TAP_CHECK_OK (lt_optim_set_lr (optim, 1, 5e-5, &shim_error_));
  SHIM_TAP_CHECK_FLOAT (lt_optim_get_lr (optim, 1), ==, 5e-5);
  SHIM_TAP_CHECK_FLOAT (lt_optim_get_lr (optim, 0), ==, 1e-3);
  SHIM_TAP_CHECK_FLOAT (lt_optim_get_lr (optim, 2), <, 0.0);

  SHIM_TAP_CHECK_INT (lt_optim_add_group (optim, 6, 8, 1e-4, NULL, &error), ==,
                   LT_ERROR_INVALID_ARGUMENT);
  SHIM_TAP_CHECK ((strstr (error, "stage 7")) != NULL);
  lt_string_free (error);
  error = NULL;
  SHIM_TAP_CHECK_INT (lt_optim_set_lr (optim, 2, 1e-4, &error), ==, LT_ERROR_INVALID_ARGUMENT);
  lt_string_free (error);
  error = NULL;
  SHIM_TAP_CHECK_INT (lt_optim_add_group (optim, 3, 10, 1e-4, NULL, &error), ==,
                   LT_ERROR_INVALID_ARGUMENT);
  lt_string_free (error);
  error = NULL;
  lt_optim_free (optim);
  lt_model_free (model);
}

static void
test_model_errors (void)
{
  const int64_t labels[2] = { 0, 3 };
  const int64_t image_shape[4] = { 2, 3, 32, 32 }, gray_shape[4] = { 2, 1, 32, 32 };
  float *pixels = calloc (2 * 3 * 32 * 32, sizeof (float));
  LtModel *model = NULL, *other = NULL;
  LtOptim *optim = NULL;
  LtTensor *images = shim_tap_tensor_f32 (pixels, image_shape, 4);
  LtTensor *gray = shim_tap_tensor_f32 (pixels, gray_shape, 4), *out = NULL;
  char *error = NULL;

  SHIM_TAP_CHECK_OK (lt_model_new (3, &model, &shim_error_));
  SHIM_TAP_CHECK_OK (lt_model_new (3, &other, &shim_error_));
  SHIM_TAP_CHECK_OK (lt_optim_new (model, LT_OPTIM_SGD, 0.0, 0.9, &optim, &shim_error_));
  SHIM_TAP_CHECK_OK (lt_optim_add_group (optim, 0, LT_STAGE_CLASSIFIER, 0.1, NULL, &shim_error_));

  SHIM_TAP_CHECK_INT (lt_model_forward_prefix (model, images, 10, &out, &error), ==,
                   LT_ERROR_INVALID_ARGUMENT);
  SHIM_TAP_CHECK ((strstr (error, "cut 10")) != NULL);
  lt_string_free (error);
  error = NULL;
  SHIM_TAP_CHECK_INT (lt_model_forward_range (model, images, 5, 3, &out, &error), ==,
                   LT_ERROR_INVALID_ARGUMENT);
  SHIM_TAP_CHECK ((out) == NULL);
  lt_string_free (error);
  error = NULL;
  SHIM_TAP_CHECK_INT (lt_model_forward (model, gray, &out, &error), ==, LT_ERROR_INVALID_ARGUMENT);
  SHIM_TAP_CHECK ((out) == NULL);
  lt_string_free (error);
  error = NULL;
  SHIM_TAP_CHECK_INT (lt_model_forward (NULL, images, &out, &error), ==, LT_ERROR_INVALID_ARGUMENT);
  lt_string_free (error);
  error = NULL;

  /* Label 3 does not exist in a 3-class model. */
  SHIM_TAP_CHECK_INT (lt_model_train_step (model, optim, images, 0, labels, 0.0, NULL, NULL, NULL,
                                        &error), ==, LT_ERROR_INVALID_ARGUMENT);
  SHIM_TAP_CHECK ((strstr (error, "label 3")) != NULL);
  lt_string_free (error);
  error = NULL;
  SHIM_TAP_CHECK_INT (lt_model_train_step (other, optim, images, 0, labels, 0.0, NULL, NULL, NULL,
                                        &error), ==, LT_ERROR_INVALID_ARGUMENT);
  lt_string_free (error);
  error = NULL;
  SHIM_TAP_CHECK_INT (lt_model_get_tensor (model, "features.9.0.weight", &out, &error), ==,
                   LT_ERROR_INVALID_ARGUMENT);
  SHIM_TAP_CHECK ((strstr (error, "features.9.0.weight")) != NULL);
  lt_string_free (error);
  error = NULL;
  SHIM_TAP_CHECK_INT (lt_model_set_trainable (model, 0, 10, false, &error), ==,
                   LT_ERROR_INVALID_ARGUMENT);
  lt_string_free (error);
  error = NULL;

  /* An optimiser holds the old head's tensors once the head is replaced. */
  SHIM_TAP_CHECK_OK (lt_model_reset_head (model, 5, &shim_error_));
  SHIM_TAP_CHECK_INT (lt_model_train_step (model, optim, images, 0, labels, 0.0, NULL, NULL, NULL,
                                        &error), ==, LT_ERROR_INVALID_ARGUMENT);
  SHIM_TAP_CHECK ((strstr (error, "head")) != NULL);
  lt_string_free (error);
  error = NULL;

  lt_optim_free (optim);
  lt_tensor_free (gray);
  lt_tensor_free (images);
  free (pixels);
  lt_model_free (other);
  lt_model_free (model);
}

static void
test_trainable_flags (void)
{
  LtModel *model = NULL;

  SHIM_TAP_CHECK_OK (lt_model_new (2, &model, &shim_error_));
  for (int stage = 0; stage < LT_N_STAGES; stage++)
    SHIM_TAP_CHECK (lt_model_get_trainable (model, stage));
  SHIM_TAP_CHECK_OK (lt_model_set_trainable (model, 0, 6, false, &shim_error_));
  for (int stage = 0; stage < LT_N_STAGES; stage++)
    SHIM_TAP_CHECK (lt_model_get_trainable (model, stage) == (stage > 6));
  SHIM_TAP_CHECK (!(lt_model_get_trainable (model, LT_N_STAGES)));
  lt_model_free (model);
}

int
main (void)
{
  shim_tap_add ("/shim/runtime/threads-default-to-cores", test_threads_default);
  shim_tap_add ("/shim/runtime/threads-on-other-thread", test_threads_other_thread);
  shim_tap_add ("/shim/runtime/seed-repeats", test_seed_repeats);
  shim_tap_add ("/shim/tensor/f32-round-trip", test_f32_round_trip);
  shim_tap_add ("/shim/tensor/f16", test_f16);
  shim_tap_add ("/shim/tensor/cat-stack", test_cat_stack);
  shim_tap_add ("/shim/tensor/mean-spatial", test_mean_spatial);
  shim_tap_add ("/shim/tensor/errors", test_tensor_errors);
  shim_tap_add ("/shim/model/head-init", test_head_init);
  shim_tap_add ("/shim/model/trainable-flags", test_trainable_flags);
  shim_tap_add ("/shim/model/errors", test_model_errors);
  shim_tap_add ("/shim/optim/groups", test_optim_groups);

  return shim_tap_run ();
}
