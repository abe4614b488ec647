/* test-model.c: EfficientNet-B0 through lt.h against torchvision's own outputs
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "test-model"

#include "config.h"

#include "leaf-test.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "shim-test.h"

/* Eval logits must agree with PyTorch within this fraction of their largest magnitude, and
 * parameters after a training step within this fraction of the parameter's largest value. */
#define PARITY_TOLERANCE 1e-4f
#define N_REF_CLASSES    5

static ShimReference *ref;
static char *skip_reason;

static gboolean
need_reference (void)
{
  if (ref == NULL)
    g_test_skip (skip_reason);
  return ref != NULL;
}

static LtModel *
reference_model (int64_t num_classes, LtLoadFlags flags)
{
  g_autofree char *path = shim_reference_path (ref, "b0.pth");
  LtModel *model = NULL;

  shim_assert_ok (lt_model_new (num_classes, &model, &shim_error_));
  shim_assert_ok (lt_model_load (model, path, flags, NULL, &shim_error_));
  return model;
}

static LtTensor *
reference_input (const char *name)
{
  gsize n = 0;
  g_autofree float *values = shim_reference_floats (ref, name, &n);
  int64_t size = g_key_file_get_integer (ref->ini, "reference", "size", NULL);
  int64_t shape[4] = { (int64_t) n / (3 * size * size), 3, size, size };

  g_assert_cmpint (shape[0] * 3 * size * size, ==, n);
  return shim_tensor_f32 (values, shape, 4);
}

static float *
model_tensor (const LtModel *model, const char *name, gsize *n)
{
  g_autoptr(GError) error = NULL;
  LtTensor *tensor = NULL;
  float *values;

  shim_assert_ok (lt_model_get_tensor (model, name, &tensor, &shim_error_));
  *n = (gsize) lt_tensor_numel (tensor);
  values = shim_tensor_values (tensor);
  lt_tensor_free (tensor);
  return values;
}

/* The 1000-class reference model with its head swapped for the rows make_reference.py copied. */
static LtModel *
five_class_model (void)
{
  LtModel *model = reference_model (1000, LT_LOAD_STRICT);
  g_autofree int *rows = NULL;
  gsize n_rows = 0, n_weight = 0, n_bias = 0;
  g_autofree float *weight = model_tensor (model, "classifier.1.weight", &n_weight);
  g_autofree float *bias = model_tensor (model, "classifier.1.bias", &n_bias);
  g_autofree float *weight5 = NULL;
  float bias5[N_REF_CLASSES];
  const int64_t weight_shape[2] = { N_REF_CLASSES, 1280 };
  const int64_t bias_shape[1] = { N_REF_CLASSES };
  LtTensor *t;

  rows = g_key_file_get_integer_list (ref->ini, "reference", "head_rows", &n_rows, NULL);
  g_assert_cmpuint (n_rows, ==, N_REF_CLASSES);
  g_assert_cmpuint (n_weight, ==, 1000 * 1280);
  weight5 = g_new (float, N_REF_CLASSES * 1280);
  for (gsize i = 0; i < n_rows; i++)
    {
      memcpy (weight5 + i * 1280, weight + rows[i] * 1280, 1280 * sizeof (float));
      bias5[i] = bias[rows[i]];
    }

  shim_assert_ok (lt_model_reset_head (model, N_REF_CLASSES, &shim_error_));
  g_assert_cmpint (lt_model_num_classes (model), ==, N_REF_CLASSES);
  t = shim_tensor_f32 (weight5, weight_shape, 2);
  shim_assert_ok (lt_model_set_tensor (model, "classifier.1.weight", t, &shim_error_));
  lt_tensor_free (t);
  t = shim_tensor_f32 (bias5, bias_shape, 1);
  shim_assert_ok (lt_model_set_tensor (model, "classifier.1.bias", t, &shim_error_));
  lt_tensor_free (t);
  return model;
}

static void
assert_logits_match (LtModel *model, const char *reference_name)
{
  gsize n_expected = 0;
  g_autofree float *expected = shim_reference_floats (ref, reference_name, &n_expected);
  LtTensor *input = reference_input ("input.f32");
  LtTensor *logits = NULL;
  g_autofree float *actual = NULL;
  float scale, diff;

  shim_assert_ok (lt_model_forward (model, input, &logits, &shim_error_));
  g_assert_cmpint (lt_tensor_ndim (logits), ==, 2);
  g_assert_cmpint (lt_tensor_dim (logits, 1), ==, lt_model_num_classes (model));
  g_assert_cmpint (lt_tensor_numel (logits), ==, n_expected);
  actual = shim_tensor_values (logits);
  scale = shim_max_abs (expected, n_expected);
  diff = shim_max_abs_diff (actual, expected, n_expected);
  g_test_message ("%s: max |logit| %g, max |difference| %g", reference_name, scale, diff);
  g_assert_cmpfloat (scale, >, 0.f);
  g_assert_cmpfloat (diff, <=, PARITY_TOLERANCE * scale);
  lt_tensor_free (logits);
  lt_tensor_free (input);
}

static void
test_names (void)
{
  g_autofree char *path = NULL;
  LtStateDict *sd = NULL;
  LtModel *model = NULL;

  if (!need_reference ())
    return;
  /* A strict load succeeds only when every name and shape matches both ways. */
  model = reference_model (1000, LT_LOAD_STRICT);
  path = shim_reference_path (ref, "b0.pth");
  shim_assert_ok (lt_state_dict_load (path, &sd, &shim_error_));
  g_assert_cmpuint (lt_state_dict_count (sd), >, 0);
  for (size_t i = 0; i < lt_state_dict_count (sd); i++)
    {
      int64_t dims[8];
      int ndim = lt_state_dict_shape (sd, i, dims, G_N_ELEMENTS (dims));
      LtTensor *tensor = NULL;

      shim_assert_ok (lt_model_get_tensor (model, lt_state_dict_name (sd, i), &tensor,
                                           &shim_error_));
      g_assert_cmpint (lt_tensor_ndim (tensor), ==, ndim);
      for (int d = 0; d < ndim; d++)
        g_assert_cmpint (lt_tensor_dim (tensor, d), ==, dims[d]);
      lt_tensor_free (tensor);
    }
  lt_state_dict_free (sd);
  lt_model_free (model);
}

static void
test_parity_imagenet_head (void)
{
  LtModel *model;

  if (!need_reference ())
    return;
  model = reference_model (1000, LT_LOAD_STRICT);
  assert_logits_match (model, "logits1000.f32");
  lt_model_free (model);
}

static void
test_parity_five_class_head (void)
{
  LtModel *model;

  if (!need_reference ())
    return;
  model = five_class_model ();
  assert_logits_match (model, "logits5.f32");
  lt_model_free (model);
}

static void
test_prefix_rest (void)
{
  LtModel *model;
  LtTensor *input, *full = NULL;
  g_autofree float *expected = NULL;
  gsize n;

  if (!need_reference ())
    return;
  model = reference_model (1000, LT_LOAD_STRICT);
  input = reference_input ("input.f32");
  shim_assert_ok (lt_model_forward (model, input, &full, &shim_error_));
  n = (gsize) lt_tensor_numel (full);
  expected = shim_tensor_values (full);

  for (int cut = 0; cut <= LT_N_FEATURES; cut++)
    {
      LtTensor *activations = NULL, *logits = NULL, *top = NULL, *pooled = NULL;
      g_autofree float *actual = NULL;

      shim_assert_ok (lt_model_forward_prefix (model, input, cut, &activations, &shim_error_));
      g_assert_cmpint (lt_tensor_ndim (activations), ==, 4);
      g_assert_cmpint (lt_tensor_dim (activations, 0), ==, lt_tensor_dim (input, 0));
      shim_assert_ok (lt_model_forward_rest (model, activations, cut, &logits, &shim_error_));
      actual = shim_tensor_values (logits);
      g_assert_cmpfloat (shim_max_abs_diff (actual, expected, n), <=,
                         1e-6f * shim_max_abs (expected, n));
      lt_tensor_free (logits);
      g_clear_pointer (&actual, g_free);

      /* The pooled features for a frozen backbone: features[cut:9], then the spatial mean,
       * fed to the head alone. */
      shim_assert_ok (lt_model_forward_range (model, activations, cut, LT_N_FEATURES, &top,
                                              &shim_error_));
      shim_assert_ok (lt_tensor_mean_spatial (top, &pooled, &shim_error_));
      g_assert_cmpint (lt_tensor_dim (pooled, 2), ==, 1);
      g_assert_cmpint (lt_tensor_dim (pooled, 3), ==, 1);
      shim_assert_ok (lt_model_forward_rest (model, pooled, LT_N_FEATURES, &logits, &shim_error_));
      actual = shim_tensor_values (logits);
      g_assert_cmpfloat (shim_max_abs_diff (actual, expected, n), <=,
                         1e-6f * shim_max_abs (expected, n));
      lt_tensor_free (logits);
      lt_tensor_free (pooled);
      lt_tensor_free (top);
      lt_tensor_free (activations);
    }
  lt_tensor_free (full);
  lt_tensor_free (input);
  lt_model_free (model);
}

/* The feature cache keeps activations as float16: they must still give nearly the same logits. */
static void
test_prefix_fp16 (void)
{
  const int cut = 7;
  LtModel *model;
  LtTensor *input, *activations = NULL, *half = NULL, *logits = NULL, *full = NULL;
  g_autofree uint16_t *bits = NULL;
  g_autofree float *expected = NULL, *actual = NULL;
  int64_t shape[4];
  gsize n;

  if (!need_reference ())
    return;
  model = reference_model (1000, LT_LOAD_STRICT);
  input = reference_input ("input.f32");
  shim_assert_ok (lt_model_forward (model, input, &full, &shim_error_));
  shim_assert_ok (lt_model_forward_prefix (model, input, cut, &activations, &shim_error_));
  n = (gsize) lt_tensor_numel (activations);
  bits = g_new (uint16_t, n);
  shim_assert_ok (lt_tensor_copy_f16 (activations, bits, n, &shim_error_));
  for (int d = 0; d < 4; d++)
    shape[d] = lt_tensor_dim (activations, d);
  shim_assert_ok (lt_tensor_new_f16 (bits, shape, 4, &half, &shim_error_));
  shim_assert_ok (lt_model_forward_rest (model, half, cut, &logits, &shim_error_));

  n = (gsize) lt_tensor_numel (full);
  expected = shim_tensor_values (full);
  actual = shim_tensor_values (logits);
  g_assert_cmpfloat (shim_max_abs_diff (actual, expected, n), <=,
                     1e-2f * shim_max_abs (expected, n));
  lt_tensor_free (logits);
  lt_tensor_free (half);
  lt_tensor_free (activations);
  lt_tensor_free (full);
  lt_tensor_free (input);
  lt_model_free (model);
}

static void
test_load_names_problems (void)
{
  g_autofree char *path = NULL;
  g_autofree float *before = NULL, *after = NULL;
  char *error = NULL;
  LtModel *model;
  gsize n = 0;

  if (!need_reference ())
    return;
  model = reference_model (1000, LT_LOAD_STRICT);
  before = model_tensor (model, "features.0.0.weight", &n);
  path = shim_reference_path (ref, "broken.pth");
  g_assert_cmpint (lt_model_load (model, path, LT_LOAD_STRICT, NULL, &error), ==,
                   LT_ERROR_MISMATCH);
  g_test_message ("%s", error);
  g_assert_nonnull (strstr (error, "broken.pth"));
  g_assert_nonnull (strstr (error, "missing keys: "));
  g_assert_nonnull (strstr (error, "features.3.0.block.0.0.weight,"));
  g_assert_nonnull (strstr (error, "features.5.1.block.2.fc1.bias"));
  g_assert_nonnull (strstr (error, "unexpected keys: features.3.0.block.0.0.weights"));
  g_assert_nonnull (strstr (error, "shape mismatches: features.6.0.block.3.1.weight"));
  lt_string_free (error);

  /* A refused checkpoint leaves the model as it was. */
  after = model_tensor (model, "features.0.0.weight", &n);
  g_assert_cmpmem (before, n * sizeof (float), after, n * sizeof (float));
  lt_model_free (model);
}

typedef struct
{
  const char *file;
  const char *tensor;
  const char *problem;
} Unusable;

static const Unusable unusable_files[] = {
  { "nan.pth", "features.5.0.block.0.0.weight", "has NaN or infinite values" },
  { "inf.pth", "classifier.1.bias", "has NaN or infinite values" },
  { "negative-var.pth", "features.3.0.block.1.1.running_var", "has negative values" },
  { "integer.pth", "features.0.0.weight",
    "holds int64 values where EfficientNet-B0 needs floating-point ones" },
};

/* Every key and shape fits, but the values would train at loss nan: refused by name, and the
 * model keeps what it had. */
static void
test_load_unusable_values (gconstpointer data)
{
  const Unusable *u = data;
  g_autofree char *path = NULL;
  g_autofree char *expected = NULL;
  g_autofree float *before = NULL, *after = NULL;
  LtStateDict *sd = NULL;
  char *error = NULL;
  LtModel *model;
  gsize n = 0;

  if (!need_reference ())
    return;
  model = reference_model (1000, LT_LOAD_STRICT);
  before = model_tensor (model, u->tensor, &n);
  path = shim_reference_path (ref, u->file);
  g_assert_cmpint (lt_model_load (model, path, LT_LOAD_SKIP_MISMATCHED_HEAD, NULL, &error), ==,
                   LT_ERROR_FORMAT);
  g_test_message ("%s", error);
  expected = g_strdup_printf ("%s: the weights cannot be used: %s %s", path, u->tensor,
                              u->problem);
  g_assert_true (g_str_has_prefix (error, expected));
  g_clear_pointer (&error, lt_string_free);
  after = model_tensor (model, u->tensor, &n);
  g_assert_cmpmem (before, n * sizeof (float), after, n * sizeof (float));

  /* Loaded by the caller first, as the weights store checks an import. */
  shim_assert_ok (lt_state_dict_load (path, &sd, &shim_error_));
  g_assert_cmpint (lt_model_load_state_dict (model, sd, LT_LOAD_SKIP_MISMATCHED_HEAD, &error), ==,
                   LT_ERROR_FORMAT);
  g_assert_nonnull (strstr (error, u->tensor));
  lt_string_free (error);
  lt_state_dict_free (sd);
  lt_model_free (model);
}

static void
test_load_head_mismatch (void)
{
  g_autofree char *path = NULL;
  g_autofree float *head_before = NULL, *head_after = NULL, *stem = NULL, *stem_ref = NULL;
  LtModel *model = NULL, *reference;
  char *error = NULL;
  gsize n_head = 0, n_stem = 0;

  if (!need_reference ())
    return;
  path = shim_reference_path (ref, "b0.pth");
  shim_assert_ok (lt_model_new (N_REF_CLASSES, &model, &shim_error_));
  head_before = model_tensor (model, "classifier.1.weight", &n_head);

  g_assert_cmpint (lt_model_load (model, path, LT_LOAD_STRICT, NULL, &error), ==,
                   LT_ERROR_MISMATCH);
  g_assert_nonnull (strstr (error, "classifier.1.weight ("));
  g_assert_nonnull (strstr (error, "classifier.1.bias ("));
  g_clear_pointer (&error, lt_string_free);

  shim_assert_ok (lt_model_load (model, path, LT_LOAD_SKIP_MISMATCHED_HEAD, NULL, &shim_error_));
  head_after = model_tensor (model, "classifier.1.weight", &n_head);
  g_assert_cmpmem (head_before, n_head * sizeof (float), head_after, n_head * sizeof (float));
  reference = reference_model (1000, LT_LOAD_STRICT);
  stem = model_tensor (model, "features.0.0.weight", &n_stem);
  stem_ref = model_tensor (reference, "features.0.0.weight", &n_stem);
  g_assert_cmpmem (stem, n_stem * sizeof (float), stem_ref, n_stem * sizeof (float));
  lt_model_free (reference);
  lt_model_free (model);
}

static void
test_save_load (void)
{
  const char *metadata_in = "{\"classes\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}";
  g_autofree char *path = NULL;
  LtStateDict *sd = NULL;
  LtModel *saved, *loaded = NULL;
  char *metadata = NULL;

  if (!need_reference ())
    return;
  saved = five_class_model ();
  path = shim_reference_path (ref, "saved.safetensors");
  shim_assert_ok (lt_model_save (saved, path, metadata_in, &shim_error_));

  shim_assert_ok (lt_model_new (N_REF_CLASSES, &loaded, &shim_error_));
  shim_assert_ok (lt_model_load (loaded, path, LT_LOAD_STRICT, &metadata, &shim_error_));
  g_assert_cmpstr (metadata, ==, metadata_in);
  lt_string_free (metadata);

  /* Every entry, buffers included, comes back bit for bit under its torchvision name. */
  shim_assert_ok (lt_state_dict_load (path, &sd, &shim_error_));
  for (size_t i = 0; i < lt_state_dict_count (sd); i++)
    {
      const char *name = lt_state_dict_name (sd, i);
      gsize n_a = 0, n_b = 0;
      g_autofree float *a = model_tensor (saved, name, &n_a);
      g_autofree float *b = model_tensor (loaded, name, &n_b);

      g_assert_cmpmem (a, n_a * sizeof (float), b, n_b * sizeof (float));
    }
  g_assert_cmpuint (lt_state_dict_count (sd), >, 0);
  lt_state_dict_free (sd);
  assert_logits_match (loaded, "logits5.f32");
  g_unlink (path);
  lt_model_free (loaded);
  lt_model_free (saved);
}

static LtOptim *
reference_optimiser (LtModel *model, LtOptimKind kind)
{
  const char *lr_key = kind == LT_OPTIM_ADAM ? "adam_lr" : "sgd_lr";
  double weight_decay = g_key_file_get_double (ref->ini, "reference", "weight_decay", NULL);
  double momentum = g_key_file_get_double (ref->ini, "reference", "sgd_momentum", NULL);
  g_autofree double *lr = NULL;
  LtOptim *optim = NULL;
  gsize n_lr = 0;

  lr = g_key_file_get_double_list (ref->ini, "reference", lr_key, &n_lr, NULL);
  g_assert_cmpuint (n_lr, ==, 2);
  shim_assert_ok (lt_optim_new (model, kind, weight_decay, kind == LT_OPTIM_SGD ? momentum : 0.0,
                                &optim, &shim_error_));
  shim_assert_ok (lt_optim_add_group (optim, 7, 8, lr[0], NULL, &shim_error_));
  shim_assert_ok (lt_optim_add_group (optim, LT_STAGE_CLASSIFIER, LT_STAGE_CLASSIFIER, lr[1],
                                      NULL, &shim_error_));
  return optim;
}

/* As make_reference.py trains: features.0-6 frozen, BatchNorm in inference, dropout off. */
static float
reference_train_step (LtModel *model, const LtTensor *input, int cut, LtOptimKind kind)
{
  g_autofree int *labels_int = NULL;
  g_autofree double *weights_double = NULL;
  int64_t labels[8];
  float weights[N_REF_CLASSES];
  gsize n_labels = 0, n_weights = 0;
  double smoothing = g_key_file_get_double (ref->ini, "reference", "label_smoothing", NULL);
  LtOptim *optim;
  int64_t correct = -1;
  float loss = NAN;

  labels_int = g_key_file_get_integer_list (ref->ini, "reference", "train_labels", &n_labels,
                                            NULL);
  weights_double = g_key_file_get_double_list (ref->ini, "reference", "class_weights", &n_weights,
                                               NULL);
  g_assert_cmpuint (n_labels, <=, G_N_ELEMENTS (labels));
  g_assert_cmpuint (n_weights, ==, N_REF_CLASSES);
  g_assert_cmpint (lt_tensor_dim (input, 0), ==, n_labels);
  for (gsize i = 0; i < n_labels; i++)
    labels[i] = labels_int[i];
  for (gsize i = 0; i < n_weights; i++)
    weights[i] = (float) weights_double[i];

  shim_assert_ok (lt_model_set_trainable (model, 0, 6, false, &shim_error_));
  shim_assert_ok (lt_model_set_dropout (model, 0.0, &shim_error_));
  optim = reference_optimiser (model, kind);
  shim_assert_ok (lt_model_train_step (model, optim, input, cut, labels, smoothing, weights, &loss,
                                       &correct, &shim_error_));
  g_assert_cmpint (correct, >=, 0);
  g_assert_cmpint (correct, <=, n_labels);
  lt_optim_free (optim);
  return loss;
}

static gboolean
in_trained_stage (const char *name)
{
  return g_str_has_prefix (name, "features.7.") || g_str_has_prefix (name, "features.8.")
         || g_str_has_prefix (name, "classifier.");
}

static gboolean
is_batch_norm_buffer (const char *name)
{
  return g_str_has_suffix (name, ".running_mean") || g_str_has_suffix (name, ".running_var")
         || g_str_has_suffix (name, ".num_batches_tracked");
}

/* Compares a model after one step of `kind` with PyTorch's after the same step, entry by entry.
 *
 * SGD's step is linear in the gradient, so every element must agree within PARITY_TOLERANCE of
 * the largest change. Adam's first step is lr * g / (|g| + 1e-8): nearly lr * sign(g), so an
 * element whose gradient is mere rounding noise (|g| ~ 1e-8) may land anywhere within 2 lr, in
 * PyTorch as much as here (PyTorch against itself in channels-last order: 25 of 1.1 million
 * elements). Adam's elements must agree within PARITY_TOLERANCE of the tensor's largest value
 * except for at most ADAM_NOISY_FRACTION of them. */
#define ADAM_NOISY_FRACTION 1e-4

static void
test_train_parity (gconstpointer data)
{
  const LtOptimKind kind = GPOINTER_TO_INT (data);
  g_autofree char *after_path = NULL;
  LtModel *model, *before, *expected = NULL;
  LtTensor *input;
  LtStateDict *sd = NULL;
  double expected_loss;
  float loss;
  gsize n_trained = 0, n_noisy = 0;
  float worst_step_fraction = 0.f;

  if (!need_reference ())
    return;
  model = five_class_model ();
  before = five_class_model ();
  input = reference_input ("train-input.f32");
  loss = reference_train_step (model, input, 0, kind);
  expected_loss = g_key_file_get_double (ref->ini, "reference", "train_loss", NULL);
  g_assert_cmpfloat (fabs (loss - expected_loss), <=, PARITY_TOLERANCE * fabs (expected_loss));

  after_path = shim_reference_path (ref, kind == LT_OPTIM_ADAM ? "after-adam.pth"
                                                               : "after-sgd.pth");
  shim_assert_ok (lt_model_new (N_REF_CLASSES, &expected, &shim_error_));
  shim_assert_ok (lt_model_load (expected, after_path, LT_LOAD_STRICT, NULL, &shim_error_));
  shim_assert_ok (lt_state_dict_load (after_path, &sd, &shim_error_));
  for (size_t i = 0; i < lt_state_dict_count (sd); i++)
    {
      const char *name = lt_state_dict_name (sd, i);
      gsize n = 0;
      g_autofree float *ours = model_tensor (model, name, &n);
      g_autofree float *theirs = model_tensor (expected, name, &n);
      g_autofree float *old = model_tensor (before, name, &n);
      float diff = shim_max_abs_diff (ours, theirs, n);

      if (!in_trained_stage (name) || is_batch_norm_buffer (name))
        {
          /* Frozen stages, and every BatchNorm statistic, stay exactly as they were. */
          g_assert_cmpmem (ours, n * sizeof (float), old, n * sizeof (float));
          continue;
        }
      g_assert_cmpfloat (shim_max_abs_diff (ours, old, n), >, 0.f);
      n_trained += n;
      if (kind == LT_OPTIM_SGD)
        {
          float step = shim_max_abs_diff (theirs, old, n);

          if (diff > PARITY_TOLERANCE * step)
            g_error ("%s differs from PyTorch's by %g, %g of its step", name, diff, diff / step);
          worst_step_fraction = MAX (worst_step_fraction, diff / step);
        }
      else
        {
          float bound = PARITY_TOLERANCE * shim_max_abs (theirs, n);

          for (gsize j = 0; j < n; j++)
            n_noisy += fabsf (ours[j] - theirs[j]) > bound;
        }
    }
  g_test_message ("%" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " elements beyond the tolerance; "
                  "largest difference %g of the step", n_noisy, n_trained, worst_step_fraction);
  g_assert_cmpuint (n_trained, >, 0);
  g_assert_cmpfloat ((double) n_noisy, <=, ADAM_NOISY_FRACTION * n_trained);
  lt_state_dict_free (sd);
  lt_tensor_free (input);
  lt_model_free (expected);
  lt_model_free (before);
  lt_model_free (model);
}

/* Training on cached activations at cut 7 must move the weights as training on the images. */
static void
test_train_from_prefix (void)
{
  LtModel *from_images, *from_prefix;
  LtTensor *input, *activations = NULL;
  LtStateDict *sd = NULL;
  g_autofree char *path = NULL;
  float loss_images, loss_prefix;

  if (!need_reference ())
    return;
  from_images = five_class_model ();
  from_prefix = five_class_model ();
  input = reference_input ("train-input.f32");
  shim_assert_ok (lt_model_forward_prefix (from_prefix, input, 7, &activations, &shim_error_));
  loss_images = reference_train_step (from_images, input, 0, LT_OPTIM_ADAM);
  loss_prefix = reference_train_step (from_prefix, activations, 7, LT_OPTIM_ADAM);
  g_assert_cmpfloat (fabsf (loss_images - loss_prefix), <=, 1e-6f * fabsf (loss_images));

  path = shim_reference_path (ref, "b0.pth");
  shim_assert_ok (lt_state_dict_load (path, &sd, &shim_error_));
  for (size_t i = 0; i < lt_state_dict_count (sd); i++)
    {
      const char *name = lt_state_dict_name (sd, i);
      gsize n = 0;
      g_autofree float *a = NULL, *b = NULL;

      if (!in_trained_stage (name))
        continue;
      a = model_tensor (from_images, name, &n);
      b = model_tensor (from_prefix, name, &n);
      g_assert_cmpfloat (shim_max_abs_diff (a, b, n), <=, 1e-6f * shim_max_abs (a, n));
    }
  lt_state_dict_free (sd);
  lt_tensor_free (activations);
  lt_tensor_free (input);
  lt_model_free (from_prefix);
  lt_model_free (from_images);
}

/* With BatchNorm training (from scratch), dropout and stochastic depth on, frozen stages must
 * still not move, while trainable stages update their statistics. */
static void
test_train_frozen_stages_unchanged (gconstpointer data)
{
  const LtBatchNormMode mode = GPOINTER_TO_INT (data);
  const int64_t labels[4] = { 1, 0, 4, 2 };
  g_autofree char *path = NULL;
  LtModel *model, *before;
  LtOptim *optim = NULL;
  LtTensor *input;
  LtStateDict *sd = NULL;
  gboolean trained_stats_moved = FALSE;

  if (!need_reference ())
    return;
  model = five_class_model ();
  before = five_class_model ();
  input = reference_input ("train-input.f32");
  lt_model_set_batch_norm_mode (model, mode);
  shim_assert_ok (lt_model_set_trainable (model, 0, 5, false, &shim_error_));
  shim_assert_ok (lt_optim_new (model, LT_OPTIM_SGD, 1e-4, 0.9, &optim, &shim_error_));
  shim_assert_ok (lt_optim_add_group (optim, 0, LT_STAGE_CLASSIFIER, 0.05, NULL, &shim_error_));
  for (int step = 0; step < 2; step++)
    shim_assert_ok (lt_model_train_step (model, optim, input, 0, labels, 0.0, NULL, NULL, NULL,
                                         &shim_error_));

  path = shim_reference_path (ref, "b0.pth");
  shim_assert_ok (lt_state_dict_load (path, &sd, &shim_error_));
  for (size_t i = 0; i < lt_state_dict_count (sd); i++)
    {
      const char *name = lt_state_dict_name (sd, i);
      gsize n = 0;
      g_autofree float *now = model_tensor (model, name, &n);
      g_autofree float *old = model_tensor (before, name, &n);
      gboolean frozen = FALSE;

      for (int stage = 0; stage <= 5; stage++)
        {
          g_autofree char *prefix = g_strdup_printf ("features.%d.", stage);
          frozen |= g_str_has_prefix (name, prefix);
        }
      if (frozen || (mode == LT_BATCH_NORM_FROZEN && is_batch_norm_buffer (name)))
        g_assert_cmpmem (now, n * sizeof (float), old, n * sizeof (float));
      else if (is_batch_norm_buffer (name) && shim_max_abs_diff (now, old, n) > 0.f)
        trained_stats_moved = TRUE;
    }
  g_assert_true (trained_stats_moved == (mode == LT_BATCH_NORM_TRAIN));
  lt_state_dict_free (sd);
  lt_tensor_free (input);
  lt_optim_free (optim);
  lt_model_free (before);
  lt_model_free (model);
}

static void
test_grad_cam (void)
{
  int cam_class;
  LtModel *model;
  LtTensor *input, *cam = NULL;
  g_autofree float *expected = NULL, *actual = NULL;
  gsize n = 0;

  if (!need_reference ())
    return;
  cam_class = g_key_file_get_integer (ref->ini, "reference", "cam_class", NULL);
  model = reference_model (1000, LT_LOAD_STRICT);
  input = reference_input ("input.f32");
  expected = shim_reference_floats (ref, "cam.f32", &n);
  shim_assert_ok (lt_model_grad_cam (model, input, cam_class, &cam, &shim_error_));
  g_assert_cmpint (lt_tensor_ndim (cam), ==, 3);
  g_assert_cmpint (lt_tensor_dim (cam, 0), ==, lt_tensor_dim (input, 0));
  g_assert_cmpint (lt_tensor_dim (cam, 1), ==, lt_tensor_dim (input, 2));
  g_assert_cmpint (lt_tensor_dim (cam, 2), ==, lt_tensor_dim (input, 3));
  g_assert_cmpint (lt_tensor_numel (cam), ==, n);
  actual = shim_tensor_values (cam);
  g_assert_cmpfloat (shim_max_abs_diff (actual, expected, n), <=, 1e-3f);
  lt_tensor_free (cam);
  lt_tensor_free (input);
  lt_model_free (model);
}

int
main (int argc, char *argv[])
{
  int status;

  leaf_test_init (&argc, &argv);
  shim_assert_ok (lt_init (0, &shim_error_));
  ref = shim_reference_make (&skip_reason);

  g_test_add_func ("/shim/model/state-dict-names", test_names);
  g_test_add_func ("/shim/model/parity/imagenet-head", test_parity_imagenet_head);
  g_test_add_func ("/shim/model/parity/five-class-head", test_parity_five_class_head);
  g_test_add_func ("/shim/model/prefix-plus-rest-is-forward", test_prefix_rest);
  g_test_add_func ("/shim/model/prefix-through-fp16", test_prefix_fp16);
  g_test_add_func ("/shim/model/load/names-problems", test_load_names_problems);
  g_test_add_func ("/shim/model/load/head-mismatch", test_load_head_mismatch);
  for (gsize i = 0; i < G_N_ELEMENTS (unusable_files); i++)
    {
      g_autofree char *name = g_strdup_printf ("/shim/model/load/refuses/%s",
                                               unusable_files[i].file);
      g_test_add_data_func (name, &unusable_files[i], test_load_unusable_values);
    }
  g_test_add_func ("/shim/model/save-load-safetensors", test_save_load);
  g_test_add_data_func ("/shim/model/train/parity/adam", GINT_TO_POINTER (LT_OPTIM_ADAM),
                        test_train_parity);
  g_test_add_data_func ("/shim/model/train/parity/sgd", GINT_TO_POINTER (LT_OPTIM_SGD),
                        test_train_parity);
  g_test_add_func ("/shim/model/train/from-prefix", test_train_from_prefix);
  g_test_add_data_func ("/shim/model/train/frozen-unchanged/bn-frozen",
                        GINT_TO_POINTER (LT_BATCH_NORM_FROZEN), test_train_frozen_stages_unchanged);
  g_test_add_data_func ("/shim/model/train/frozen-unchanged/bn-train",
                        GINT_TO_POINTER (LT_BATCH_NORM_TRAIN), test_train_frozen_stages_unchanged);
  g_test_add_func ("/shim/model/grad-cam", test_grad_cam);

  status = g_test_run ();
  shim_reference_free (ref);
  g_free (skip_reason);
  return status;
}
