/* leaf-predictor.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A predictor holds a libtorch model, which must not run on two threads at once: each one is
 * used by one thread only. The application's belong to the diagnosis service's worker thread
 * (leaf-diagnosis-service.c); a command-line command may keep one on its own thread.
 */

#define G_LOG_DOMAIN "leaf-predictor"

#include "config.h"

#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

#include "leaf-calibration.h"
#include "leaf-engine.h"
#include "leaf-error-private.h"
#include "leaf-image-augment.h"
#include "leaf-image-transform.h"

/* The most views one forward pass of leaf_predictor_predict_batch() takes */
#define BATCH_VIEWS 32
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
};

G_DEFINE_FINAL_TYPE (LeafPredictor, leaf_predictor, G_TYPE_OBJECT)

/* The detector reads the features the predictor pools. */
G_STATIC_ASSERT (LEAF_OOD_N_FEATURES == LEAF_PREDICTOR_N_FEATURES);

static void
leaf_predictor_finalize (GObject *object)
{
  LeafPredictor *self = LEAF_PREDICTOR (object);

  g_clear_pointer (&self->path, g_free);
  g_clear_pointer (&self->meta, leaf_model_meta_free);
  g_clear_pointer (&self->model, lt_model_free);
  g_clear_object (&self->transform);

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

/* Runs n preprocessed photos through the model. The backbone's pooled output, which goes on to
 * the classifier, is copied to features (n x LEAF_PREDICTOR_N_FEATURES) when it is not NULL;
 * logits receives n x n_classes values. */
static gboolean
forward (LeafPredictor  *self,
         float          *pixels,
         guint           n,
         float          *logits,
         float          *features,
         GError        **error)
{
  guint size = self->meta->image_size;
  int64_t shape[4] = { n, 3, size, size };
  LtTensor *input = NULL, *act = NULL, *pooled = NULL, *result = NULL;
  char *msg = NULL;
  LtStatus status;

  status = lt_tensor_new_f32 (pixels, shape, 4, &input, &msg);
  if (status == LT_OK)
    status = lt_model_forward_prefix (self->model, input, LT_N_FEATURES, &act, &msg);
  if (status == LT_OK)
    status = lt_tensor_mean_spatial (act, &pooled, &msg);
  if (status == LT_OK)
    status = lt_model_forward_rest (self->model, pooled, LT_N_FEATURES, &result, &msg);
  if (status == LT_OK && features != NULL)
    status = lt_tensor_copy_f32 (pooled, features, (gsize) n * LEAF_PREDICTOR_N_FEATURES, &msg);
  if (status == LT_OK)
    status = lt_tensor_copy_f32 (result, logits, (gsize) n * self->meta->n_classes, &msg);
  lt_tensor_free (input);
  lt_tensor_free (act);
  lt_tensor_free (pooled);
  lt_tensor_free (result);
  if (status != LT_OK)
    return leaf_engine_error_from_shim (status, msg, error);
  return TRUE;
}

/* Replaces the first n_classes of logits (n_views rows of them, one per view) by their mean. */
static void
average_views (float *logits,
               guint  n_views,
               guint  n_classes)
{
  for (guint v = 1; v < n_views; v++)
    for (guint c = 0; c < n_classes; c++)
      logits[c] += logits[v * n_classes + c];
  for (guint c = 0; c < n_classes; c++)
    logits[c] /= n_views;
}

/**
 * leaf_predictor_predict_pixbuf_full:
 * @tta: average the logits of the eight flips and rotations (test-time augmentation), also
 *   for a model that diagnoses from the photo as it is
 * @probabilities: (out caller-allocates) (nullable): n_classes values, calibrated by the
 *   model's temperature
 * @logits: (out caller-allocates) (nullable): n_classes raw logits
 * @ood_score: (out) (optional): how unlike the training photos the photo is (leaf-ood.h), from
 *   the photo as it is, not its flips; NAN when the model has no such check
 */
gboolean
leaf_predictor_predict_pixbuf_full (LeafPredictor  *self,
                                    GdkPixbuf      *image,
                                    gboolean        tta,
                                    float          *probabilities,
                                    float          *logits,
                                    double         *ood_score,
                                    GError        **error)
{
  gsize n_values;
  guint n_views = tta ? LEAF_IMAGE_N_VIEWS : MAX (self->meta->diagnosis_views, 1);
  guint n_classes;
  g_autofree float *pixels = NULL;
  g_autofree float *out = NULL;
  g_autofree float *features = NULL;
  const LeafOod *ood;

  g_return_val_if_fail (LEAF_IS_PREDICTOR (self), FALSE);
  g_return_val_if_fail (GDK_IS_PIXBUF (image), FALSE);

  n_values = leaf_image_transform_get_n_values (self->transform);
  n_classes = self->meta->n_classes;
  pixels = g_new (float, n_values * n_views);
  out = g_new (float, (gsize) n_views * n_classes);
  ood = ood_score != NULL ? self->meta->ood : NULL;
  features = ood != NULL ? g_new (float, (gsize) n_views * LEAF_PREDICTOR_N_FEATURES) : NULL;

  leaf_image_transform_apply (self->transform, image, pixels);
  for (guint v = 1; v < n_views; v++)
    leaf_image_view_apply (v, pixels, pixels + v * n_values, 3, self->meta->image_size);
  if (!forward (self, pixels, n_views, out, features, error))
    return FALSE;

  average_views (out, n_views, n_classes);
  if (logits != NULL)
    memcpy (logits, out, n_classes * sizeof (float));
  if (probabilities != NULL)
    leaf_calibration_softmax (out, n_classes, self->meta->temperature, probabilities);
  if (ood_score != NULL)
    *ood_score = ood != NULL ? leaf_ood_score (ood, features) : NAN;
  return TRUE;
}

/**
 * leaf_predictor_predict_pixbuf:
 *
 * leaf_predictor_predict_pixbuf_full() without the out-of-distribution score.
 */
gboolean
leaf_predictor_predict_pixbuf (LeafPredictor  *self,
                               GdkPixbuf      *image,
                               gboolean        tta,
                               float          *probabilities,
                               float          *logits,
                               GError        **error)
{
  return leaf_predictor_predict_pixbuf_full (self, image, tta, probabilities, logits, NULL, error);
}

/**
 * leaf_predictor_predict_batch:
 * @images: (array length=n_images): photos, preprocessed as the model was trained
 * @probabilities: (out caller-allocates) (nullable): n_images x n_classes calibrated values
 * @features: (out caller-allocates) (nullable): n_images x LEAF_PREDICTOR_N_FEATURES pooled
 *   features, what the classifier sees (for finding near-duplicates), of each photo as it is
 *
 * One pass gives both: the backbone's pooled output goes on to the classifier. A model that
 * averages views (diagnosis_views) does so here too, so that a batch agrees with Diagnose.
 */
gboolean
leaf_predictor_predict_batch (LeafPredictor  *self,
                              GdkPixbuf     **images,
                              guint           n_images,
                              float          *probabilities,
                              float          *features,
                              GError        **error)
{
  gsize n_values;
  guint n_classes, n_views, chunk;
  g_autofree float *pixels = NULL;
  g_autofree float *out = NULL;
  g_autofree float *all_features = NULL;

  g_return_val_if_fail (LEAF_IS_PREDICTOR (self), FALSE);
  g_return_val_if_fail (images != NULL || n_images == 0, FALSE);
  if (n_images == 0)
    return TRUE;

  n_values = leaf_image_transform_get_n_values (self->transform);
  n_classes = self->meta->n_classes;
  n_views = MAX (self->meta->diagnosis_views, 1);
  /* Photos go through in chunks of at most BATCH_VIEWS views, which bounds the memory. */
  chunk = MAX (BATCH_VIEWS / n_views, 1);
  pixels = g_new (float, n_values * chunk * n_views);
  out = g_new (float, (gsize) chunk * n_views * n_classes);
  all_features = features != NULL && n_views > 1
                   ? g_new (float, (gsize) chunk * n_views * LEAF_PREDICTOR_N_FEATURES) : NULL;
  for (guint first = 0; first < n_images; first += chunk)
    {
      guint n = MIN (chunk, n_images - first);

      for (guint i = 0; i < n; i++)
        {
          float *photo = pixels + (gsize) i * n_views * n_values;

          leaf_image_transform_apply (self->transform, images[first + i], photo);
          for (guint v = 1; v < n_views; v++)
            leaf_image_view_apply (v, photo, photo + v * n_values, 3, self->meta->image_size);
        }
      if (!forward (self, pixels, n * n_views, out,
                    all_features != NULL ? all_features
                    : features != NULL ? features + (gsize) first * LEAF_PREDICTOR_N_FEATURES
                    : NULL, error))
        return FALSE;
      for (guint i = 0; i < n; i++)
        {
          float *mean = out + (gsize) i * n_views * n_classes;

          average_views (mean, n_views, n_classes);
          if (probabilities != NULL)
            leaf_calibration_softmax (mean, n_classes, self->meta->temperature,
                                      probabilities + (gsize) (first + i) * n_classes);
          /* The features of the photo as it is, as for a single diagnosis. */
          if (all_features != NULL)
            memcpy (features + (gsize) (first + i) * LEAF_PREDICTOR_N_FEATURES,
                    all_features + (gsize) i * n_views * LEAF_PREDICTOR_N_FEATURES,
                    LEAF_PREDICTOR_N_FEATURES * sizeof (float));
        }
    }
  return TRUE;
}

/**
 * leaf_predictor_grad_cam:
 * @class_index: the class to explain, usually the top one
 * @crop: (out) (optional) (transfer full): the centre crop the model saw, as RGB
 *
 * Grad-CAM on the last feature stage: where in the crop the evidence for @class_index lies.
 *
 * Returns: (transfer full): image_size x image_size values in 0..1, row by row, or %NULL with
 *   @error set
 */
float *
leaf_predictor_grad_cam (LeafPredictor  *self,
                         GdkPixbuf      *image,
                         guint           class_index,
                         GdkPixbuf     **crop,
                         GError        **error)
{
  static const float mean[3] = { 0.485f, 0.456f, 0.406f };
  static const float std[3] = { 0.229f, 0.224f, 0.225f };
  gsize n_values;
  guint size;
  g_autofree float *pixels = NULL;
  g_autofree float *cam = NULL;
  int64_t shape[4];
  LtTensor *input = NULL, *result = NULL;
  char *msg = NULL;
  LtStatus status;

  g_return_val_if_fail (LEAF_IS_PREDICTOR (self), NULL);
  g_return_val_if_fail (GDK_IS_PIXBUF (image), NULL);
  g_return_val_if_fail (class_index < self->meta->n_classes, NULL);

  n_values = leaf_image_transform_get_n_values (self->transform);
  size = self->meta->image_size;
  pixels = g_new (float, n_values);
  cam = g_new (float, (gsize) size * size);
  shape[0] = 1;
  shape[1] = 3;
  shape[2] = shape[3] = size;
  leaf_image_transform_apply (self->transform, image, pixels);

  status = lt_tensor_new_f32 (pixels, shape, 4, &input, &msg);
  if (status == LT_OK)
    status = lt_model_grad_cam (self->model, input, class_index, &result, &msg);
  if (status == LT_OK)
    status = lt_tensor_copy_f32 (result, cam, (gsize) size * size, &msg);
  lt_tensor_free (input);
  lt_tensor_free (result);
  if (status != LT_OK)
    {
      leaf_engine_error_from_shim (status, msg, error);
      return NULL;
    }

  if (crop != NULL)
    {
      /* Undo the normalisation: the crop as the model saw it, after resizing. */
      GdkPixbuf *rgb = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, size, size);
      guint8 *data = gdk_pixbuf_get_pixels (rgb);
      int stride = gdk_pixbuf_get_rowstride (rgb);

      for (guint y = 0; y < size; y++)
        for (guint x = 0; x < size; x++)
          for (guint c = 0; c < 3; c++)
            {
              float v = pixels[(gsize) c * size * size + y * size + x] * std[c] + mean[c];
              data[y * stride + x * 3 + c] = (guint8) CLAMP (lrintf (v * 255), 0, 255);
            }
      *crop = rgb;
    }
  return g_steal_pointer (&cam);
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

static int
compare_probabilities (gconstpointer a,
                       gconstpointer b,
                       gpointer      user_data)
{
  const float *probabilities = user_data;
  guint i = *(const guint *) a, j = *(const guint *) b;

  if (probabilities[i] > probabilities[j])
    return -1;
  if (probabilities[i] < probabilities[j])
    return 1;
  return i < j ? -1 : i > j;
}

/**
 * leaf_predictor_top_k:
 * @indices: (out caller-allocates): the k most probable classes, most probable first; of two
 *   equally probable classes, the lower index first
 */
void
leaf_predictor_top_k (const float *probabilities,
                      guint        n_classes,
                      guint       *indices,
                      guint        k)
{
  g_autofree guint *order = g_new (guint, n_classes);

  for (guint c = 0; c < n_classes; c++)
    order[c] = c;
  g_qsort_with_data (order, n_classes, sizeof (guint), compare_probabilities,
                     (gpointer) probabilities);
  memcpy (indices, order, MIN (k, n_classes) * sizeof (guint));
}
