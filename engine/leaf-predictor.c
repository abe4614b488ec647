/* leaf-predictor.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-predictor"

#include "config.h"

#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

#include "leaf-engine.h"
#include "leaf-error.h"
#include "leaf-image-augment.h"
#include "leaf-image-transform.h"
#include "leaf-image.h"
#include "leaf-predictor.h"
#include "lt.h"

struct _LeafPredictor
{
  GObject parent_instance;

  char *path;
  LeafModelMeta *meta;
  LtModel *model;
  LeafImageTransform *transform;
  /* libtorch modules are not safe to run from two threads at once. */
  GMutex lock;
};

G_DEFINE_FINAL_TYPE (LeafPredictor, leaf_predictor, G_TYPE_OBJECT)

static void
leaf_predictor_finalize (GObject *object)
{
  LeafPredictor *self = LEAF_PREDICTOR (object);

  g_clear_pointer (&self->path, g_free);
  g_clear_pointer (&self->meta, leaf_model_meta_free);
  g_clear_pointer (&self->model, lt_model_free);
  g_clear_object (&self->transform);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (leaf_predictor_parent_class)->finalize (object);
}

static void
leaf_predictor_class_init (LeafPredictorClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = leaf_predictor_finalize;
}

static void
leaf_predictor_init (LeafPredictor *self)
{
  g_mutex_init (&self->lock);
}

static LeafPredictor *
predictor_new (const char     *path,
               LtStateDict    *sd,
               LeafModelMeta  *meta,
               GError        **error)
{
  g_autoptr(LeafPredictor) self = g_object_new (LEAF_TYPE_PREDICTOR, NULL);
  char *msg = NULL;
  LtStatus status;

  self->path = g_strdup (path);
  self->meta = meta;
  status = lt_model_new (meta->n_classes, &self->model, &msg);
  if (status == LT_OK)
    status = lt_model_load_state_dict (self->model, sd, LT_LOAD_STRICT, &msg);
  if (status != LT_OK)
    {
      g_autoptr(GError) local = NULL;
      leaf_engine_error_from_shim (status, msg, &local);
      g_set_error (error, local->domain, local->code, _("Cannot load %s: %s"), path,
                   local->message);
      return NULL;
    }
  self->transform = leaf_image_transform_new (meta->resize_size, meta->image_size);
  return g_steal_pointer (&self);
}

static LtStateDict *
load_state_dict (const char  *path,
                 GError     **error)
{
  LtStateDict *sd = NULL;
  char *msg = NULL;
  LtStatus status;

  if (!leaf_engine_init_torch (0, error))
    return NULL;
  status = lt_state_dict_load (path, &sd, &msg);
  if (status != LT_OK)
    {
      leaf_engine_error_from_shim (status, msg, error);
      return NULL;
    }
  return sd;
}

/**
 * leaf_predictor_new_from_model:
 * @path: a model Leafscope trained (safetensors with Leafscope's metadata)
 *
 * Returns: (transfer full): the predictor, or %NULL with @error set
 */
LeafPredictor *
leaf_predictor_new_from_model (const char  *path,
                               GError     **error)
{
  g_autofree char *display = g_filename_display_name (path);
  LtStateDict *sd = load_state_dict (path, error);
  LeafModelMeta *meta;
  LeafPredictor *self;

  if (sd == NULL)
    return NULL;
  meta = leaf_model_meta_from_json (lt_state_dict_metadata (sd, "leafscope"), display, error);
  if (meta == NULL)
    {
      lt_state_dict_free (sd);
      return NULL;
    }
  self = predictor_new (display, sd, meta, error);
  lt_state_dict_free (sd);
  return self;
}

/**
 * leaf_predictor_new_from_weights:
 * @path: a torchvision-format EfficientNet-B0 weight file with its own head
 *
 * The checkpoint's head decides the classes, named by their index (ImageNet's 1000 for
 * torchvision's file); preprocessing is torchvision's IMAGENET1K_V1 preset.
 *
 * Returns: (transfer full): the predictor, or %NULL with @error set
 */
LeafPredictor *
leaf_predictor_new_from_weights (const char  *path,
                                 GError     **error)
{
  g_autofree char *display = g_filename_display_name (path);
  LtStateDict *sd = load_state_dict (path, error);
  LeafModelMeta *meta;
  LeafPredictor *self;
  int64_t shape[4] = { 0 };
  gsize n = 0;

  if (sd == NULL)
    return NULL;
  for (gsize i = 0; i < lt_state_dict_count (sd); i++)
    if (g_strcmp0 (lt_state_dict_name (sd, i), "classifier.1.weight") == 0 &&
        lt_state_dict_shape (sd, i, shape, 4) == 2)
      n = shape[0];
  if (n == 0 || n > 100000)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_MISMATCH,
                   _("%s has no EfficientNet-B0 classifier (classifier.1.weight)"), display);
      lt_state_dict_free (sd);
      return NULL;
    }

  meta = g_new0 (LeafModelMeta, 1);
  meta->n_classes = n;
  meta->classes = g_new0 (char *, n + 1);
  for (gsize i = 0; i < n; i++)
    meta->classes[i] = g_strdup_printf ("%" G_GSIZE_FORMAT, i);
  meta->image_size = 224;
  meta->resize_size = 256;
  meta->temperature = 1.0;
  self = predictor_new (display, sd, meta, error);
  lt_state_dict_free (sd);
  return self;
}

guint
leaf_predictor_get_n_classes (LeafPredictor *self)
{
  g_return_val_if_fail (LEAF_IS_PREDICTOR (self), 0);
  return self->meta->n_classes;
}

const char * const *
leaf_predictor_get_classes (LeafPredictor *self)
{
  g_return_val_if_fail (LEAF_IS_PREDICTOR (self), NULL);
  return (const char * const *) self->meta->classes;
}

const LeafModelMeta *
leaf_predictor_get_meta (LeafPredictor *self)
{
  g_return_val_if_fail (LEAF_IS_PREDICTOR (self), NULL);
  return self->meta;
}

const char *
leaf_predictor_get_path (LeafPredictor *self)
{
  g_return_val_if_fail (LEAF_IS_PREDICTOR (self), NULL);
  return self->path;
}

/**
 * leaf_predictor_predict_pixbuf:
 * @tta: average the logits of the eight flips and rotations (test-time augmentation)
 * @probabilities: (out caller-allocates) (nullable): n_classes values, calibrated by the
 *   model's temperature
 * @logits: (out caller-allocates) (nullable): n_classes raw logits
 */
gboolean
leaf_predictor_predict_pixbuf (LeafPredictor  *self,
                               GdkPixbuf      *image,
                               gboolean        tta,
                               float          *probabilities,
                               float          *logits,
                               GError        **error)
{
  gsize n_values = leaf_image_transform_get_n_values (self->transform);
  guint size = self->meta->image_size;
  guint n_views = tta ? LEAF_IMAGE_N_VIEWS : 1;
  guint n_classes = self->meta->n_classes;
  g_autofree float *pixels = g_new (float, n_values * n_views);
  g_autofree float *out = g_new (float, (gsize) n_views * n_classes);
  int64_t shape[4] = { n_views, 3, size, size };
  LtTensor *input = NULL, *result = NULL;
  char *msg = NULL;
  LtStatus status;
  double max = -INFINITY, sum = 0;

  g_return_val_if_fail (LEAF_IS_PREDICTOR (self), FALSE);
  g_return_val_if_fail (GDK_IS_PIXBUF (image), FALSE);

  leaf_image_transform_apply (self->transform, image, pixels);
  for (guint v = 1; v < n_views; v++)
    leaf_image_view_apply (v, pixels, pixels + v * n_values, 3, size);

  status = lt_tensor_new_f32 (pixels, shape, 4, &input, &msg);
  if (status == LT_OK)
    {
      g_mutex_lock (&self->lock);
      status = lt_model_forward (self->model, input, &result, &msg);
      g_mutex_unlock (&self->lock);
    }
  if (status == LT_OK)
    status = lt_tensor_copy_f32 (result, out, (gsize) n_views * n_classes, &msg);
  lt_tensor_free (input);
  lt_tensor_free (result);
  if (status != LT_OK)
    return leaf_engine_error_from_shim (status, msg, error);

  for (guint v = 1; v < n_views; v++)
    for (guint c = 0; c < n_classes; c++)
      out[c] += out[v * n_classes + c];
  for (guint c = 0; c < n_classes; c++)
    {
      out[c] /= n_views;
      max = MAX (max, out[c] / self->meta->temperature);
    }
  if (logits != NULL)
    memcpy (logits, out, n_classes * sizeof (float));
  if (probabilities != NULL)
    {
      for (guint c = 0; c < n_classes; c++)
        sum += exp (out[c] / self->meta->temperature - max);
      for (guint c = 0; c < n_classes; c++)
        probabilities[c] = exp (out[c] / self->meta->temperature - max) / sum;
    }
  return TRUE;
}

gboolean
leaf_predictor_predict_file (LeafPredictor  *self,
                             const char     *path,
                             gboolean        tta,
                             float          *probabilities,
                             float          *logits,
                             GError        **error)
{
  g_autoptr(GdkPixbuf) image = leaf_image_load (path, LEAF_IMAGE_DEFAULT_MAX_PIXELS, error);

  if (image == NULL)
    return FALSE;
  return leaf_predictor_predict_pixbuf (self, image, tta, probabilities, logits, error);
}

/**
 * leaf_predictor_top_k:
 * @indices: (out caller-allocates): the k most probable classes, most probable first
 */
void
leaf_predictor_top_k (const float *probabilities,
                      guint        n_classes,
                      guint       *indices,
                      guint        k)
{
  k = MIN (k, n_classes);
  for (guint i = 0; i < k; i++)
    {
      guint best = G_MAXUINT;
      for (guint c = 0; c < n_classes; c++)
        {
          gboolean taken = FALSE;
          for (guint j = 0; j < i; j++)
            taken |= indices[j] == c;
          if (!taken && (best == G_MAXUINT || probabilities[c] > probabilities[best]))
            best = c;
        }
      indices[i] = best;
    }
}
