/* leaf-image-augment.c: training views of a preprocessed crop
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-image-augment"

#include "config.h"

#include <math.h>

#include "leaf-image-augment.h"
#include "leaf-image-private.h"

/* Each view reads dst[i][j] from src[si][sj] with si, sj affine in i, j and n = size - 1:
 * si = si_i * i + si_j * j + si_n * n, and likewise sj. */
static const struct
{
  const char *name;
  int         si_i, si_j, si_n;
  int         sj_i, sj_j, sj_n;
  int         inverse;
} views[LEAF_IMAGE_N_VIEWS] = {
  [LEAF_IMAGE_VIEW_IDENTITY] =        { "identity",         1,  0, 0,   0,  1, 0,
                                        LEAF_IMAGE_VIEW_IDENTITY },
  [LEAF_IMAGE_VIEW_FLIP_HORIZONTAL] = { "flip-horizontal",  1,  0, 0,   0, -1, 1,
                                        LEAF_IMAGE_VIEW_FLIP_HORIZONTAL },
  [LEAF_IMAGE_VIEW_FLIP_VERTICAL] =   { "flip-vertical",   -1,  0, 1,   0,  1, 0,
                                        LEAF_IMAGE_VIEW_FLIP_VERTICAL },
  [LEAF_IMAGE_VIEW_ROTATE_90] =       { "rotate-90",        0,  1, 0,  -1,  0, 1,
                                        LEAF_IMAGE_VIEW_ROTATE_270 },
  [LEAF_IMAGE_VIEW_ROTATE_180] =      { "rotate-180",      -1,  0, 1,   0, -1, 1,
                                        LEAF_IMAGE_VIEW_ROTATE_180 },
  [LEAF_IMAGE_VIEW_ROTATE_270] =      { "rotate-270",       0, -1, 1,   1,  0, 0,
                                        LEAF_IMAGE_VIEW_ROTATE_90 },
  [LEAF_IMAGE_VIEW_TRANSPOSE] =       { "transpose",        0,  1, 0,   1,  0, 0,
                                        LEAF_IMAGE_VIEW_TRANSPOSE },
  [LEAF_IMAGE_VIEW_ANTI_TRANSPOSE] =  { "anti-transpose",   0, -1, 1,  -1,  0, 1,
                                        LEAF_IMAGE_VIEW_ANTI_TRANSPOSE },
};

/**
 * leaf_image_view_get_name:
 * @view: a #LeafImageView
 *
 * Returns: a stable identifier such as "rotate-90", for logs, files and the command line
 */
const char *
leaf_image_view_get_name (LeafImageView view)
{
  g_return_val_if_fail (view < LEAF_IMAGE_N_VIEWS, NULL);

  return views[view].name;
}

/**
 * leaf_image_view_from_name:
 * @name: a name leaf_image_view_get_name() returns
 * @view: (out): where to store the view
 *
 * Returns: %TRUE if @name is a view's name
 */
gboolean
leaf_image_view_from_name (const char    *name,
                           LeafImageView *view)
{
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (view != NULL, FALSE);

  for (guint i = 0; i < LEAF_IMAGE_N_VIEWS; i++)
    {
      if (g_str_equal (name, views[i].name))
        {
          *view = i;
          return TRUE;
        }
    }
  return FALSE;
}

/**
 * leaf_image_view_get_inverse:
 * @view: a #LeafImageView
 *
 * Returns: the view that undoes @view
 */
LeafImageView
leaf_image_view_get_inverse (LeafImageView view)
{
  g_return_val_if_fail (view < LEAF_IMAGE_N_VIEWS, LEAF_IMAGE_VIEW_IDENTITY);

  return views[view].inverse;
}

/**
 * leaf_image_view_apply:
 * @view: a #LeafImageView
 * @src_chw: (array): @n_channels square planes of @size × @size floats
 * @dst_chw: (out caller-allocates) (array): as many floats, not overlapping @src_chw
 * @n_channels: number of planes
 * @size: side of each plane
 *
 * Writes @view of every plane of @src_chw to @dst_chw.
 */
void
leaf_image_view_apply (LeafImageView  view,
                       const float   *src_chw,
                       float         *dst_chw,
                       guint          n_channels,
                       guint          size)
{
  gssize s = size;
  gssize n = s - 1;
  gssize base, di, dj;
  gsize plane = (gsize) size * size;

  g_return_if_fail (view < LEAF_IMAGE_N_VIEWS);
  g_return_if_fail (src_chw != NULL && dst_chw != NULL && src_chw != dst_chw);

  base = (views[view].si_n * s + views[view].sj_n) * n;
  di = views[view].si_i * s + views[view].sj_i;
  dj = views[view].si_j * s + views[view].sj_j;

  for (guint c = 0; c < n_channels; c++)
    {
      const float *src = src_chw + c * plane;
      float *dst = dst_chw + c * plane;

      for (gssize i = 0; i < s; i++)
        {
          const float *row = src + base + i * di;

          for (gssize j = 0; j < s; j++)
            dst[i * s + j] = row[j * dj];
        }
    }
}

/**
 * leaf_image_sample_resized_crop:
 * @rand: the generator to draw from
 * @width: the image's width
 * @height: the image's height
 * @scale_min: smallest area fraction (torchvision: 0.08)
 * @scale_max: largest area fraction (1.0)
 * @ratio_min: smallest aspect ratio, width / height (3 / 4)
 * @ratio_max: largest aspect ratio (4 / 3)
 * @region: (out): the rectangle drawn, inside the image
 *
 * `RandomResizedCrop.get_params()`: up to ten draws of an area fraction and a log-uniform aspect
 * ratio; the first that fits is placed uniformly. When none fits, the largest centred rectangle
 * whose ratio is within bounds. Pass @region to leaf_image_transform_apply_region().
 */
void
leaf_image_sample_resized_crop (GRand         *rand,
                                int            width,
                                int            height,
                                double         scale_min,
                                double         scale_max,
                                double         ratio_min,
                                double         ratio_max,
                                LeafImageRect *region)
{
  double area = (double) width * height;
  double log_ratio_min = log (ratio_min);
  double log_ratio_max = log (ratio_max);
  double in_ratio;
  int w, h;

  g_return_if_fail (rand != NULL && region != NULL);
  g_return_if_fail (width > 0 && height > 0);
  g_return_if_fail (scale_min <= scale_max && ratio_min > 0 && ratio_min <= ratio_max);

  for (int attempt = 0; attempt < 10; attempt++)
    {
      double target_area = area * g_rand_double_range (rand, scale_min, scale_max);
      double aspect = exp (g_rand_double_range (rand, log_ratio_min, log_ratio_max));

      /* Python's round(): halves to even, which nearbyint() does in the default mode. */
      w = (int) nearbyint (sqrt (target_area * aspect));
      h = (int) nearbyint (sqrt (target_area / aspect));
      if (0 < w && w <= width && 0 < h && h <= height)
        {
          region->y = g_rand_int_range (rand, 0, height - h + 1);
          region->x = g_rand_int_range (rand, 0, width - w + 1);
          region->width = w;
          region->height = h;
          return;
        }
    }

  in_ratio = (double) width / height;
  if (in_ratio < ratio_min)
    {
      w = width;
      h = (int) nearbyint (w / ratio_min);
    }
  else if (in_ratio > ratio_max)
    {
      h = height;
      w = (int) nearbyint (h * ratio_max);
    }
  else
    {
      w = width;
      h = height;
    }
  region->x = (width - w) / 2;
  region->y = (height - h) / 2;
  region->width = w;
  region->height = h;
}

static float
sample_factor (GRand  *rand,
               double  strength)
{
  if (strength <= 0)
    return 1.0f;
  return (float) g_rand_double_range (rand, MAX (0.0, 1.0 - strength), 1.0 + strength);
}

/**
 * leaf_color_jitter_sample:
 * @rand: the generator to draw from
 * @brightness: torchvision's ColorJitter brightness strength (0 for none)
 * @contrast: contrast strength (0 for none)
 * @saturation: saturation strength (0 for none)
 * @jitter: (out): the factors drawn
 *
 * `ColorJitter.get_params()` without hue: each factor uniform in [max (0, 1 - s), 1 + s], and a
 * random order.
 */
void
leaf_color_jitter_sample (GRand           *rand,
                          double           brightness,
                          double           contrast,
                          double           saturation,
                          LeafColorJitter *jitter)
{
  g_return_if_fail (rand != NULL && jitter != NULL);

  for (guint i = 0; i < 3; i++)
    jitter->order[i] = i;
  for (guint i = 2; i > 0; i--)
    {
      guint j = g_rand_int_range (rand, 0, i + 1);
      guint8 t = jitter->order[i];

      jitter->order[i] = jitter->order[j];
      jitter->order[j] = t;
    }

  jitter->brightness = sample_factor (rand, brightness);
  jitter->contrast = sample_factor (rand, contrast);
  jitter->saturation = sample_factor (rand, saturation);
}

static inline float
clamp01 (float v)
{
  return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
}

/* torchvision's rgb_to_grayscale() weights. */
static inline float
gray (float r,
      float g,
      float b)
{
  return 0.2989f * r + 0.587f * g + 0.114f * b;
}

/**
 * leaf_color_jitter_apply:
 * @jitter: factors from leaf_color_jitter_sample()
 * @chw: (inout) (array): a normalised RGB crop, as leaf_image_transform_apply() writes
 * @size: the side of the crop
 *
 * Applies the factors in their order with torchvision's tensor semantics
 * (`F.adjust_brightness`, `F.adjust_contrast`, `F.adjust_saturation` on the [0, 1] image before
 * Normalize(): blends with black, the mean grey level, the pixel's grey level, clamped to
 * [0, 1]). Unlike the PIL path of ColorJitter it does not round to 8 bits in between.
 */
void
leaf_color_jitter_apply (const LeafColorJitter *jitter,
                         float                 *chw,
                         guint                  size)
{
  gsize plane = (gsize) size * size;
  float *r = chw;
  float *g = chw + plane;
  float *b = chw + 2 * plane;

  g_return_if_fail (jitter != NULL && chw != NULL);

  for (guint c = 0; c < 3; c++)
    for (gsize p = 0; p < plane; p++)
      chw[c * plane + p] = chw[c * plane + p] * _leaf_imagenet_std[c] + _leaf_imagenet_mean[c];

  for (guint step = 0; step < 3; step++)
    {
      switch (jitter->order[step])
        {
        case 0:
          {
            float f = jitter->brightness;

            if (f == 1.0f)
              break;
            for (gsize p = 0; p < 3 * plane; p++)
              chw[p] = clamp01 (f * chw[p]);
          }
          break;

        case 1:
          {
            float f = jitter->contrast;
            double sum = 0.0;
            float mean;

            if (f == 1.0f)
              break;
            for (gsize p = 0; p < plane; p++)
              sum += gray (r[p], g[p], b[p]);
            mean = (float) (sum / plane);
            for (gsize p = 0; p < 3 * plane; p++)
              chw[p] = clamp01 (f * chw[p] + (1.0f - f) * mean);
          }
          break;

        case 2:
          {
            float f = jitter->saturation;

            if (f == 1.0f)
              break;
            for (gsize p = 0; p < plane; p++)
              {
                float l = (1.0f - f) * gray (r[p], g[p], b[p]);

                r[p] = clamp01 (f * r[p] + l);
                g[p] = clamp01 (f * g[p] + l);
                b[p] = clamp01 (f * b[p] + l);
              }
          }
          break;

        default:
          g_return_if_reached ();
        }
    }

  for (guint c = 0; c < 3; c++)
    for (gsize p = 0; p < plane; p++)
      chw[c * plane + p] = (chw[c * plane + p] - _leaf_imagenet_mean[c]) / _leaf_imagenet_std[c];
}
