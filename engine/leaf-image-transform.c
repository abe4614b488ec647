/* leaf-image-transform.c: torchvision's ImageNet preprocessing, bit for bit
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The evaluation transform of torchvision's IMAGENET1K_V1 weights applied to a PIL image is
 * Resize(256, BICUBIC) -> CenterCrop(224) -> ToTensor() -> Normalize(mean, std). Resize goes
 * through Pillow's ImagingResample, so that is what the resampler below reproduces: separable,
 * horizontal pass first, a bicubic kernel (a = -0.5) whose support widens with the downscale
 * factor (antialiasing), weights in 22-bit fixed point, each pass rounded and clipped to 8 bits.
 * Only the output pixels that survive the crop are computed; every output pixel depends on its
 * own weights alone, so this changes nothing but the time taken.
 */

#define G_LOG_DOMAIN "leaf-image-transform"

#include "config.h"

#include <math.h>

#include "leaf-image-private.h"
#include "leaf-image-transform.h"

/* Pillow's 8-bit resampling precision: 8 bits for the result, 2 for overshoot and the sign. */
#define PRECISION_BITS (32 - 8 - 2)

/* Enough for the shapes of one photo collection plus the random crops of a few epochs; past
 * that the cache starts over rather than growing. */
#define MAX_CACHED_COEFFS 256

/* Resampling weights from in_size source pixels to out_size outputs, for outputs
 * [first, first + count). Immutable once built; shared between threads by reference. */
typedef struct
{
  guint64  in_size;
  guint64  out_size;
  guint64  first;
  guint    count;
  guint    ksize;
  int     *bounds;    /* per output: first source index, number of taps */
  gint32  *weights;   /* per output: ksize weights in fixed point */
} Coeffs;

struct _LeafImageTransform
{
  GObject     parent_instance;

  guint       resize_size;
  guint       crop_size;
  float       lut[3][256];

  GMutex      cache_lock;
  GHashTable *cache;      /* Coeffs (key) -> same Coeffs (value), owned */
};

G_DEFINE_FINAL_TYPE (LeafImageTransform, leaf_image_transform, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_RESIZE_SIZE,
  PROP_CROP_SIZE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

const float _leaf_imagenet_mean[3] = { 0.485f, 0.456f, 0.406f };
const float _leaf_imagenet_std[3] = { 0.229f, 0.224f, 0.225f };

static double
bicubic_filter (double x)
{
  /* Pillow's bicubic_filter(), same expression order so that the doubles match. */
  const double a = -0.5;

  if (x < 0.0)
    x = -x;
  if (x < 1.0)
    return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0)
    return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

static void
coeffs_clear (gpointer data)
{
  Coeffs *coeffs = data;

  g_free (coeffs->bounds);
  g_free (coeffs->weights);
}

static void
coeffs_unref (gpointer data)
{
  g_atomic_rc_box_release_full (data, coeffs_clear);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Coeffs, coeffs_unref)

static guint
coeffs_hash (gconstpointer key)
{
  const Coeffs *coeffs = key;

  return g_int64_hash (&coeffs->in_size) * 31 + g_int64_hash (&coeffs->out_size);
}

static gboolean
coeffs_equal (gconstpointer a,
              gconstpointer b)
{
  const Coeffs *ca = a;
  const Coeffs *cb = b;

  return ca->in_size == cb->in_size && ca->out_size == cb->out_size;
}

/* Pillow's precompute_coeffs() and normalize_coeffs_8bpc() for a box of (0, in_size). */
static Coeffs *
coeffs_new (guint64 in_size,
            guint64 out_size,
            guint64 first,
            guint   count)
{
  double scale = (double) in_size / (double) out_size;
  double filterscale = scale < 1.0 ? 1.0 : scale;
  double support = 2.0 * filterscale;
  g_autofree double *k = NULL;
  Coeffs *coeffs;

  coeffs = g_atomic_rc_box_new0 (Coeffs);
  coeffs->in_size = in_size;
  coeffs->out_size = out_size;
  coeffs->first = first;
  coeffs->count = count;
  coeffs->ksize = (guint) ceil (support) * 2 + 1;
  coeffs->bounds = g_new (int, 2 * (gsize) count);
  coeffs->weights = g_new (gint32, (gsize) count * coeffs->ksize);
  k = g_new (double, coeffs->ksize);

  for (guint i = 0; i < count; i++)
    {
      double center = ((double) (first + i) + 0.5) * scale;
      double ss = 1.0 / filterscale;
      double ww = 0.0;
      gint32 *w = coeffs->weights + (gsize) i * coeffs->ksize;
      gint64 xmin = (gint64) (center - support + 0.5);
      gint64 xmax = (gint64) (center + support + 0.5);
      int n;

      xmin = MAX (xmin, 0);
      xmax = MIN (xmax, (gint64) in_size);
      n = (int) (xmax - xmin);

      for (int x = 0; x < n; x++)
        {
          k[x] = bicubic_filter (((double) (x + xmin) - center + 0.5) * ss);
          ww += k[x];
        }
      for (int x = 0; x < n; x++)
        if (ww != 0.0)
          k[x] /= ww;

      for (guint x = 0; x < coeffs->ksize; x++)
        {
          double v = (int) x < n ? k[x] * (1 << PRECISION_BITS) : 0.0;

          w[x] = (gint32) (v < 0 ? v - 0.5 : v + 0.5);
        }
      coeffs->bounds[2 * i] = (int) xmin;
      coeffs->bounds[2 * i + 1] = n;
    }

  return coeffs;
}

/* Python's round((size - crop) / 2.0): halves go to the even neighbour. */
static guint64
center_offset (guint64 size,
               guint64 crop)
{
  guint64 d = size - crop;
  guint64 q = d / 2;

  if (d % 2 == 1 && q % 2 == 1)
    q++;
  return q;
}

/* The weights for in_size -> out_size, covering the outputs a centred crop keeps. For a random
 * crop resized straight to the crop size (out_size == crop) that is all of them. */
static Coeffs *
get_coeffs (LeafImageTransform *self,
            guint64             in_size,
            guint64             out_size)
{
  Coeffs key = { .in_size = in_size, .out_size = out_size };
  Coeffs *coeffs;

  g_mutex_lock (&self->cache_lock);
  coeffs = g_hash_table_lookup (self->cache, &key);
  if (coeffs != NULL)
    g_atomic_rc_box_acquire (coeffs);
  g_mutex_unlock (&self->cache_lock);
  if (coeffs != NULL)
    return coeffs;

  /* Built outside the lock; a racing thread may build the same weights, which is harmless. */
  coeffs = coeffs_new (in_size, out_size, center_offset (out_size, self->crop_size),
                       self->crop_size);

  g_mutex_lock (&self->cache_lock);
  if (g_hash_table_size (self->cache) >= MAX_CACHED_COEFFS)
    g_hash_table_remove_all (self->cache);
  g_hash_table_replace (self->cache, coeffs, g_atomic_rc_box_acquire (coeffs));
  g_mutex_unlock (&self->cache_lock);

  return coeffs;
}

static inline guint8
clip8 (gint32 sum)
{
  /* Pillow's clip8(): an arithmetic shift (floor), then a clamp. */
  gint32 v = sum >> PRECISION_BITS;

  return (guint8) CLAMP (v, 0, 255);
}

/* 8-bit RGB pixels: each row `stride` bytes apart, each pixel `step` bytes apart. */
typedef struct
{
  const guint8 *data;
  gsize         stride;
  guint         step;
} Pixels;

/* Horizontal pass over `rows` rows of src, writing packed RGB rows of coeffs->count pixels. */
static void
resample_horizontal (const Coeffs *coeffs,
                     Pixels        src,
                     guint         rows,
                     guint8       *dst)
{
  for (guint y = 0; y < rows; y++)
    {
      const guint8 *row = src.data + y * src.stride;
      guint8 *out = dst + (gsize) y * coeffs->count * 3;

      for (guint i = 0; i < coeffs->count; i++)
        {
          const gint32 *k = coeffs->weights + (gsize) i * coeffs->ksize;
          const guint8 *p = row + (gsize) coeffs->bounds[2 * i] * src.step;
          int n = coeffs->bounds[2 * i + 1];
          gint32 s0, s1, s2;

          s0 = s1 = s2 = 1 << (PRECISION_BITS - 1);
          for (int x = 0; x < n; x++, p += src.step)
            {
              s0 += p[0] * k[x];
              s1 += p[1] * k[x];
              s2 += p[2] * k[x];
            }
          out[3 * i + 0] = clip8 (s0);
          out[3 * i + 1] = clip8 (s1);
          out[3 * i + 2] = clip8 (s2);
        }
    }
}

/* Vertical pass: src rows are indexed by source row minus row_offset; `width` pixels wide.
 * Accumulates whole rows at a time so that the inner loop vectorises. */
static void
resample_vertical (const Coeffs *coeffs,
                   Pixels        src,
                   int           row_offset,
                   guint         width,
                   guint8       *dst)
{
  g_autofree gint32 *acc = g_new (gint32, (gsize) width * 3);

  for (guint i = 0; i < coeffs->count; i++)
    {
      const gint32 *k = coeffs->weights + (gsize) i * coeffs->ksize;
      int ymin = coeffs->bounds[2 * i] - row_offset;
      int n = coeffs->bounds[2 * i + 1];
      guint8 *out = dst + (gsize) i * width * 3;

      for (gsize j = 0; j < (gsize) width * 3; j++)
        acc[j] = 1 << (PRECISION_BITS - 1);

      for (int y = 0; y < n; y++)
        {
          const guint8 *row = src.data + (gsize) (ymin + y) * src.stride;
          gint32 w = k[y];

          if (src.step == 3)
            {
              for (gsize j = 0; j < (gsize) width * 3; j++)
                acc[j] += row[j] * w;
            }
          else
            {
              for (gsize x = 0; x < width; x++)
                {
                  acc[3 * x + 0] += row[src.step * x + 0] * w;
                  acc[3 * x + 1] += row[src.step * x + 1] * w;
                  acc[3 * x + 2] += row[src.step * x + 2] * w;
                }
            }
        }

      for (gsize j = 0; j < (gsize) width * 3; j++)
        out[j] = clip8 (acc[j]);
    }
}

/* ToTensor() then Normalize(): a table per channel, computed in float32 like torch does. */
static void
write_normalized (LeafImageTransform *self,
                  Pixels              src,
                  float              *out_chw)
{
  guint size = self->crop_size;
  gsize plane = (gsize) size * size;

  for (guint y = 0; y < size; y++)
    {
      const guint8 *row = src.data + y * src.stride;
      float *r = out_chw + (gsize) y * size;
      float *g = r + plane;
      float *b = g + plane;

      for (guint x = 0; x < size; x++, row += src.step)
        {
          r[x] = self->lut[0][row[0]];
          g[x] = self->lut[1][row[1]];
          b[x] = self->lut[2][row[2]];
        }
    }
}

/* Resizes the region src (in_width x in_height pixels) to out_width x out_height as
 * Image.resize(BICUBIC) does, keeps the centred crop_size square and normalises it. A pass whose
 * size does not change is skipped, as Pillow skips it. */
static void
resize_crop_normalize (LeafImageTransform *self,
                       Pixels              src,
                       guint64             in_width,
                       guint64             in_height,
                       guint64             out_width,
                       guint64             out_height,
                       float              *out_chw)
{
  guint crop = self->crop_size;
  guint64 left = center_offset (out_width, crop);
  guint64 top = center_offset (out_height, crop);
  g_autoptr(Coeffs) horizontal = NULL;
  g_autoptr(Coeffs) vertical = NULL;
  g_autofree guint8 *tmp = NULL;
  g_autofree guint8 *resized = NULL;
  Pixels stage = src;
  guint64 row_first = top;
  guint64 row_last = top + crop;

  if (in_width != out_width)
    horizontal = get_coeffs (self, in_width, out_width);
  if (in_height != out_height)
    {
      vertical = get_coeffs (self, in_height, out_height);
      row_first = vertical->bounds[0];
      row_last = vertical->bounds[2 * (crop - 1)] + vertical->bounds[2 * (crop - 1) + 1];
    }

  if (horizontal != NULL)
    {
      guint rows = (guint) (row_last - row_first);

      tmp = g_malloc ((gsize) rows * crop * 3);
      stage.data = src.data + row_first * src.stride;
      resample_horizontal (horizontal, stage, rows, tmp);
      stage = (Pixels) { tmp, (gsize) crop * 3, 3 };
    }
  else
    {
      stage.data = src.data + row_first * src.stride + left * src.step;
    }

  if (vertical != NULL)
    {
      resized = g_malloc ((gsize) crop * crop * 3);
      resample_vertical (vertical, stage, (int) row_first, crop, resized);
      stage = (Pixels) { resized, (gsize) crop * 3, 3 };
    }

  write_normalized (self, stage, out_chw);
}

static void
leaf_image_transform_finalize (GObject *object)
{
  LeafImageTransform *self = (LeafImageTransform *) object;

  g_clear_pointer (&self->cache, g_hash_table_unref);
  g_mutex_clear (&self->cache_lock);

  G_OBJECT_CLASS (leaf_image_transform_parent_class)->finalize (object);
}

static void
leaf_image_transform_constructed (GObject *object)
{
  LeafImageTransform *self = (LeafImageTransform *) object;

  G_OBJECT_CLASS (leaf_image_transform_parent_class)->constructed (object);

  g_return_if_fail (self->crop_size <= self->resize_size);

  for (guint c = 0; c < 3; c++)
    for (guint v = 0; v < 256; v++)
      self->lut[c][v] = ((float) v / 255.0f - _leaf_imagenet_mean[c]) / _leaf_imagenet_std[c];
}

static void
leaf_image_transform_get_property (GObject    *object,
                                   guint       prop_id,
                                   GValue     *value,
                                   GParamSpec *pspec)
{
  LeafImageTransform *self = LEAF_IMAGE_TRANSFORM (object);

  switch (prop_id)
    {
    case PROP_RESIZE_SIZE:
      g_value_set_uint (value, self->resize_size);
      break;
    case PROP_CROP_SIZE:
      g_value_set_uint (value, self->crop_size);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
leaf_image_transform_set_property (GObject      *object,
                                   guint         prop_id,
                                   const GValue *value,
                                   GParamSpec   *pspec)
{
  LeafImageTransform *self = LEAF_IMAGE_TRANSFORM (object);

  switch (prop_id)
    {
    case PROP_RESIZE_SIZE:
      self->resize_size = g_value_get_uint (value);
      break;
    case PROP_CROP_SIZE:
      self->crop_size = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
leaf_image_transform_class_init (LeafImageTransformClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = leaf_image_transform_finalize;
  object_class->constructed = leaf_image_transform_constructed;
  object_class->get_property = leaf_image_transform_get_property;
  object_class->set_property = leaf_image_transform_set_property;

  properties[PROP_RESIZE_SIZE] =
    g_param_spec_uint ("resize-size", NULL, NULL, 1, 4096, 256,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_CROP_SIZE] =
    g_param_spec_uint ("crop-size", NULL, NULL, 1, 4096, 224,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
leaf_image_transform_init (LeafImageTransform *self)
{
  g_mutex_init (&self->cache_lock);
  self->cache = g_hash_table_new_full (coeffs_hash, coeffs_equal, NULL, coeffs_unref);
}

/**
 * leaf_image_transform_new:
 * @resize_size: the shorter side after resizing (256 for the IMAGENET1K_V1 preset)
 * @crop_size: the side of the centred square crop (224), at most @resize_size
 *
 * Creates the evaluation transform `Resize(resize_size, BICUBIC)`, `CenterCrop(crop_size)`,
 * `ToTensor()`, `Normalize(ImageNet mean, std)` as torchvision 0.14 applies it to a PIL image.
 * The object is immutable and may be shared by any number of threads.
 *
 * Returns: (transfer full): a new #LeafImageTransform
 */
LeafImageTransform *
leaf_image_transform_new (guint resize_size,
                          guint crop_size)
{
  g_return_val_if_fail (crop_size > 0 && crop_size <= resize_size, NULL);

  return g_object_new (LEAF_TYPE_IMAGE_TRANSFORM,
                       "resize-size", resize_size,
                       "crop-size", crop_size,
                       NULL);
}

guint
leaf_image_transform_get_resize_size (LeafImageTransform *self)
{
  g_return_val_if_fail (LEAF_IS_IMAGE_TRANSFORM (self), 0);

  return self->resize_size;
}

guint
leaf_image_transform_get_crop_size (LeafImageTransform *self)
{
  g_return_val_if_fail (LEAF_IS_IMAGE_TRANSFORM (self), 0);

  return self->crop_size;
}

/**
 * leaf_image_transform_get_n_values:
 * @self: a #LeafImageTransform
 *
 * Returns: how many floats leaf_image_transform_apply() writes: 3 × crop × crop
 */
gsize
leaf_image_transform_get_n_values (LeafImageTransform *self)
{
  g_return_val_if_fail (LEAF_IS_IMAGE_TRANSFORM (self), 0);

  return (gsize) 3 * self->crop_size * self->crop_size;
}

static Pixels
pixels_of (GdkPixbuf *image,
           int        x,
           int        y)
{
  gsize stride = gdk_pixbuf_get_rowstride (image);
  guint step = gdk_pixbuf_get_n_channels (image);

  return (Pixels) { gdk_pixbuf_read_pixels (image) + (gsize) y * stride + (gsize) x * step,
                    stride, step };
}

static gboolean
is_rgb8 (GdkPixbuf *image)
{
  return gdk_pixbuf_get_colorspace (image) == GDK_COLORSPACE_RGB &&
         gdk_pixbuf_get_bits_per_sample (image) == 8 &&
         gdk_pixbuf_get_n_channels (image) >= 3;
}

/**
 * leaf_image_transform_apply:
 * @self: a #LeafImageTransform
 * @image: an 8-bit RGB pixbuf (alpha, if any, is ignored), as leaf_image_load() returns
 * @out_chw: (out caller-allocates) (array): leaf_image_transform_get_n_values() floats
 *
 * Writes the normalised crop in channel-major order (CHW: all of R, then G, then B; rows top to
 * bottom), which is one sample of the NCHW batch the model takes.
 */
void
leaf_image_transform_apply (LeafImageTransform *self,
                            GdkPixbuf          *image,
                            float              *out_chw)
{
  guint64 width, height, short_side, long_side, new_long;

  g_return_if_fail (LEAF_IS_IMAGE_TRANSFORM (self));
  g_return_if_fail (GDK_IS_PIXBUF (image) && is_rgb8 (image));
  g_return_if_fail (out_chw != NULL);

  /* torchvision's _compute_resized_output_size(): the shorter side becomes resize_size and the
   * longer int(resize_size * long / short), a true division then truncation. */
  width = gdk_pixbuf_get_width (image);
  height = gdk_pixbuf_get_height (image);
  short_side = MIN (width, height);
  long_side = MAX (width, height);
  new_long = (guint64) ((double) (self->resize_size * long_side) / (double) short_side);

  resize_crop_normalize (self, pixels_of (image, 0, 0), width, height,
                         width <= height ? self->resize_size : new_long,
                         width <= height ? new_long : self->resize_size,
                         out_chw);
}

/**
 * leaf_image_transform_apply_region:
 * @self: a #LeafImageTransform
 * @image: an 8-bit RGB pixbuf, as leaf_image_load() returns
 * @region: the source rectangle, inside @image
 * @out_chw: (out caller-allocates) (array): leaf_image_transform_get_n_values() floats
 *
 * torchvision's `F.resized_crop (image, top, left, height, width, [crop, crop], BICUBIC)`
 * followed by `ToTensor()` and `Normalize()`: the training half of RandomResizedCrop once its
 * rectangle is drawn (see leaf_image_sample_resized_crop()). Output layout as
 * leaf_image_transform_apply().
 */
void
leaf_image_transform_apply_region (LeafImageTransform  *self,
                                   GdkPixbuf           *image,
                                   const LeafImageRect *region,
                                   float               *out_chw)
{
  g_return_if_fail (LEAF_IS_IMAGE_TRANSFORM (self));
  g_return_if_fail (GDK_IS_PIXBUF (image) && is_rgb8 (image));
  g_return_if_fail (region != NULL && region->x >= 0 && region->y >= 0 &&
                    region->width > 0 && region->height > 0 &&
                    region->x + region->width <= gdk_pixbuf_get_width (image) &&
                    region->y + region->height <= gdk_pixbuf_get_height (image));
  g_return_if_fail (out_chw != NULL);

  resize_crop_normalize (self, pixels_of (image, region->x, region->y),
                         region->width, region->height, self->crop_size, self->crop_size,
                         out_chw);
}

/**
 * leaf_image_resize_size_for_crop:
 * @crop_size: the model's input side
 *
 * The resize that keeps the IMAGENET1K_V1 preset's ratio of 256 to 224 (timm's crop_pct of
 * 0.875, floored): 256 for 224, 182 for 160.
 *
 * Returns: the shorter side to resize to before cropping @crop_size
 */
guint
leaf_image_resize_size_for_crop (guint crop_size)
{
  return (guint) ((guint64) crop_size * 256 / 224);
}
