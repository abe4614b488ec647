/* test-device.c: the device models compute on (lt_set_device), and that choosing the CPU
 * changes nothing in what a model learns; built without GLib (shim-tap.h)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lt.h"
#include "shim-tap.h"

#define N_CLASSES 3
#define BATCH     4
#define SIZE      64
#define N_STEPS   3

/* The same pseudo-random numbers on every machine, in [-1, 1). */
static float
next_value (uint32_t *state)
{
  *state = *state * 1664525u + 1013904223u;
  return (float) (*state >> 8) / (float) (1u << 23) - 1.f;
}

static LtTensor *
make_images (uint32_t seed)
{
  const int64_t shape[4] = { BATCH, 3, SIZE, SIZE };
  const size_t n = (size_t) BATCH * 3 * SIZE * SIZE;
  float *values = malloc (n * sizeof (float));
  LtTensor *images = NULL;

  for (size_t i = 0; i < n; i++)
    values[i] = next_value (&seed);
  SHIM_TAP_CHECK_OK (lt_tensor_new_f32 (values, shape, 4, &images, &shim_error_));
  free (values);
  return images;
}

static char *
read_file (const char *path,
           size_t     *length)
{
  FILE *file = fopen (path, "rb");
  char *contents;
  long size;

  SHIM_TAP_CHECK (file != NULL);
  SHIM_TAP_CHECK (fseek (file, 0, SEEK_END) == 0);
  size = ftell (file);
  SHIM_TAP_CHECK (size > 0);
  rewind (file);
  contents = malloc ((size_t) size);
  SHIM_TAP_CHECK (fread (contents, 1, (size_t) size, file) == (size_t) size);
  fclose (file);
  *length = (size_t) size;
  return contents;
}

/* A seeded model trained N_STEPS steps, with dropout and stochastic depth on, BatchNorm
 * training and two learning rates, as the trainer fine-tunes; its whole state dict is saved
 * to path. */
static void
train_and_save (const char *path)
{
  const int64_t labels[BATCH] = { 0, 2, 1, 2 };
  LtModel *model = NULL;
  LtOptim *optim = NULL;
  LtTensor *images = make_images (7);
  float loss = NAN;

  lt_manual_seed (42);
  SHIM_TAP_CHECK_OK (lt_model_new (N_CLASSES, &model, &shim_error_));
  lt_model_set_batch_norm_mode (model, LT_BATCH_NORM_TRAIN);
  SHIM_TAP_CHECK_OK (lt_model_set_trainable (model, 0, 4, false, &shim_error_));
  SHIM_TAP_CHECK_OK (lt_optim_new (model, LT_OPTIM_ADAMW, 1e-2, 0.0, &optim, &shim_error_));
  SHIM_TAP_CHECK_OK (lt_optim_add_group (optim, 5, 8, 1e-3, NULL, &shim_error_));
  SHIM_TAP_CHECK_OK (lt_optim_add_group (optim, LT_STAGE_CLASSIFIER, LT_STAGE_CLASSIFIER, 1e-2,
                                         NULL, &shim_error_));
  for (int step = 0; step < N_STEPS; step++)
    SHIM_TAP_CHECK_OK (lt_model_train_step (model, optim, images, 0, labels, 0.1, NULL, &loss,
                                            NULL, &shim_error_));
  SHIM_TAP_CHECK (isfinite (loss));
  SHIM_TAP_CHECK_OK (lt_model_save (model, path, NULL, &shim_error_));
  lt_optim_free (optim);
  lt_tensor_free (images);
  lt_model_free (model);
}

/* First of all: a model trained before any device was chosen, then one trained after choosing
 * the CPU, must hold the same bits in every parameter and buffer. */
static void
test_cpu_trains_as_before (void)
{
  const char *tmp = getenv ("TMPDIR");
  char dir[512], before_path[600], after_path[600];
  char *before, *after;
  size_t n_before = 0, n_after = 0;

  snprintf (dir, sizeof dir, "%s/leafscope-device-XXXXXX", tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
  SHIM_TAP_CHECK (mkdtemp (dir) != NULL);
  snprintf (before_path, sizeof before_path, "%s/before.safetensors", dir);
  snprintf (after_path, sizeof after_path, "%s/after.safetensors", dir);

  SHIM_TAP_CHECK_STR (lt_get_device (), ==, "cpu");
  train_and_save (before_path);
  SHIM_TAP_CHECK_OK (lt_set_device ("cpu", &shim_error_));
  train_and_save (after_path);

  before = read_file (before_path, &n_before);
  after = read_file (after_path, &n_after);
  unlink (before_path);
  unlink (after_path);
  rmdir (dir);
  SHIM_TAP_CHECK_INT (n_before, ==, n_after);
  SHIM_TAP_CHECK (memcmp (before, after, n_before) == 0);
  free (before);
  free (after);
}

static void
test_cpu (void)
{
  LtModel *model = NULL;

  SHIM_TAP_CHECK_OK (lt_set_device ("cpu", &shim_error_));
  SHIM_TAP_CHECK_STR (lt_get_device (), ==, "cpu");
  SHIM_TAP_CHECK_OK (lt_model_new (N_CLASSES, &model, &shim_error_));
  SHIM_TAP_CHECK_STR (lt_model_get_device (model), ==, "cpu");
  lt_model_free (model);
  SHIM_TAP_CHECK_STR (lt_model_get_device (NULL), ==, "cpu");
}

static void
test_auto (void)
{
  const char *expected = lt_cuda_device_count () > 0 ? "cuda:0" : "cpu";

  shim_tap_message ("libtorch sees %d CUDA devices", lt_cuda_device_count ());
  SHIM_TAP_CHECK_OK (lt_set_device ("auto", &shim_error_));
  SHIM_TAP_CHECK_STR (lt_get_device (), ==, expected);
  SHIM_TAP_CHECK_OK (lt_set_device ("cpu", &shim_error_));
}

/* Asking for a GPU that is not there fails with a message and keeps the CPU. */
static void
test_cuda_missing (void)
{
  static const char *const names[] = { "cuda", "cuda:0", "cuda:3" };

  if (lt_cuda_device_count () > 0)
    shim_tap_skip ("this libtorch has a CUDA device");
  SHIM_TAP_CHECK_OK (lt_set_device ("cpu", &shim_error_));
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    {
      char *error = NULL;

      SHIM_TAP_CHECK_INT (lt_set_device (names[i], &error), ==, LT_ERROR_NO_DEVICE);
      SHIM_TAP_CHECK (error != NULL);
      shim_tap_message ("%s: %s", names[i], error);
      SHIM_TAP_CHECK (strstr (error, "no CUDA device") != NULL);
      lt_string_free (error);
      SHIM_TAP_CHECK_STR (lt_get_device (), ==, "cpu");
    }
  SHIM_TAP_CHECK_STR (lt_status_name (LT_ERROR_NO_DEVICE), ==, "no-device");
}

static void
test_bad_names (void)
{
  static const char *const names[] = { "gpu7", "", "CPU", "gpu", "cuda:", "cuda:-1", "cuda:x",
                                        "cuda0", "cpu ", "cuda:99999", "mps" };
  char *error = NULL;

  SHIM_TAP_CHECK_OK (lt_set_device ("cpu", &shim_error_));
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    {
      SHIM_TAP_CHECK_INT (lt_set_device (names[i], &error), ==, LT_ERROR_INVALID_ARGUMENT);
      SHIM_TAP_CHECK (error != NULL);
      SHIM_TAP_CHECK (strstr (error, "is not a device") != NULL);
      SHIM_TAP_CHECK (strstr (error, names[i]) != NULL);
      lt_string_free (error);
      error = NULL;
      SHIM_TAP_CHECK_STR (lt_get_device (), ==, "cpu");
    }
  SHIM_TAP_CHECK_INT (lt_set_device (NULL, &error), ==, LT_ERROR_INVALID_ARGUMENT);
  lt_string_free (error);
  /* The message is optional, as everywhere in the shim. */
  SHIM_TAP_CHECK_INT (lt_set_device ("gpu7", NULL), ==, LT_ERROR_INVALID_ARGUMENT);
}

static float
max_abs_diff (const float *a,
              const float *b,
              size_t       n,
              float       *scale)
{
  float worst = 0.f;

  *scale = 0.f;
  for (size_t i = 0; i < n; i++)
    {
      worst = fmaxf (worst, fabsf (a[i] - b[i]));
      *scale = fmaxf (*scale, fabsf (b[i]));
    }
  return worst;
}

/* Where libtorch has a GPU: the same model there gives the CPU's logits, trains, and hands
 * every result back to the CPU; tensors from either side mix. */
static void
test_cuda_model (void)
{
  const int64_t labels[BATCH] = { 0, 2, 1, 2 };
  LtModel *cpu = NULL, *gpu = NULL;
  LtOptim *optim = NULL;
  LtTensor *images = NULL;
  LtTensor *cpu_logits = NULL, *gpu_logits = NULL, *prefix = NULL, *joined = NULL, *weight = NULL;
  const LtTensor *parts[2];
  float a[BATCH * N_CLASSES], b[BATCH * N_CLASSES], scale = 0.f, loss = NAN;
  uint16_t *half;
  size_t n_prefix;

  if (lt_cuda_device_count () == 0)
    shim_tap_skip ("this libtorch has no CUDA device");
  images = make_images (11);
  SHIM_TAP_CHECK_OK (lt_set_device ("cpu", &shim_error_));
  lt_manual_seed (5);
  SHIM_TAP_CHECK_OK (lt_model_new (N_CLASSES, &cpu, &shim_error_));
  SHIM_TAP_CHECK_OK (lt_set_device ("cuda", &shim_error_));
  SHIM_TAP_CHECK_STR (lt_get_device (), ==, "cuda:0");
  lt_manual_seed (5);
  SHIM_TAP_CHECK_OK (lt_model_new (N_CLASSES, &gpu, &shim_error_));
  SHIM_TAP_CHECK_STR (lt_model_get_device (gpu), ==, "cuda:0");
  SHIM_TAP_CHECK_STR (lt_model_get_device (cpu), ==, "cpu");

  SHIM_TAP_CHECK_OK (lt_model_forward (cpu, images, &cpu_logits, &shim_error_));
  SHIM_TAP_CHECK_OK (lt_model_forward (gpu, images, &gpu_logits, &shim_error_));
  SHIM_TAP_CHECK_OK (lt_tensor_copy_f32 (cpu_logits, a, BATCH * N_CLASSES, &shim_error_));
  SHIM_TAP_CHECK_OK (lt_tensor_copy_f32 (gpu_logits, b, BATCH * N_CLASSES, &shim_error_));
  shim_tap_message ("logits differ by %g", max_abs_diff (b, a, BATCH * N_CLASSES, &scale));
  SHIM_TAP_CHECK (max_abs_diff (b, a, BATCH * N_CLASSES, &scale) <= 1e-2f * fmaxf (scale, 1.f));

  /* Activations computed there, copied out as float16 and back in, as the feature cache does. */
  SHIM_TAP_CHECK_OK (lt_model_forward_prefix (gpu, images, 7, &prefix, &shim_error_));
  n_prefix = (size_t) lt_tensor_numel (prefix);
  half = malloc (n_prefix * sizeof (uint16_t));
  SHIM_TAP_CHECK_OK (lt_tensor_copy_f16 (prefix, half, n_prefix, &shim_error_));
  {
    int64_t shape[4];
    LtTensor *back = NULL;

    for (int d = 0; d < 4; d++)
      shape[d] = lt_tensor_dim (prefix, (size_t) d);
    SHIM_TAP_CHECK_OK (lt_tensor_new_f16 (half, shape, 4, &back, &shim_error_));
    parts[0] = prefix;
    parts[1] = back;
    SHIM_TAP_CHECK_OK (lt_tensor_cat (parts, 2, &joined, &shim_error_));
    SHIM_TAP_CHECK_INT (lt_tensor_dim (joined, 0), ==, 2 * BATCH);
    lt_tensor_free (back);
  }
  free (half);

  SHIM_TAP_CHECK_OK (lt_model_set_trainable (gpu, 0, 6, false, &shim_error_));
  SHIM_TAP_CHECK_OK (lt_optim_new (gpu, LT_OPTIM_ADAM, 0.0, 0.0, &optim, &shim_error_));
  SHIM_TAP_CHECK_OK (lt_optim_add_group (optim, 7, LT_STAGE_CLASSIFIER, 1e-3, NULL, &shim_error_));
  SHIM_TAP_CHECK_OK (lt_model_train_step (gpu, optim, prefix, 7, labels, 0.0, NULL, &loss, NULL,
                                          &shim_error_));
  SHIM_TAP_CHECK (isfinite (loss));
  SHIM_TAP_CHECK_OK (lt_model_reset_head (gpu, 2, &shim_error_));
  SHIM_TAP_CHECK_OK (lt_model_get_tensor (gpu, "classifier.1.weight", &weight, &shim_error_));
  SHIM_TAP_CHECK_INT (lt_tensor_numel (weight), ==, 2 * 1280);

  lt_tensor_free (weight);
  lt_tensor_free (joined);
  lt_tensor_free (prefix);
  lt_tensor_free (gpu_logits);
  lt_tensor_free (cpu_logits);
  lt_optim_free (optim);
  lt_model_free (gpu);
  lt_model_free (cpu);
  lt_tensor_free (images);
  SHIM_TAP_CHECK_OK (lt_set_device ("cpu", &shim_error_));
}

int
main (void)
{
  char *error = NULL;

  if (lt_init (0, &error) != LT_OK)
    {
      printf ("Bail out! lt_init: %s\n", error);
      return 1;
    }
  /* Before any other test: it compares with a process that never chose a device. */
  shim_tap_add ("/shim/device/cpu-trains-as-before", test_cpu_trains_as_before);
  shim_tap_add ("/shim/device/cpu", test_cpu);
  shim_tap_add ("/shim/device/auto", test_auto);
  shim_tap_add ("/shim/device/cuda-missing", test_cuda_missing);
  shim_tap_add ("/shim/device/bad-names", test_bad_names);
  shim_tap_add ("/shim/device/cuda-model", test_cuda_model);
  return shim_tap_run ();
}
