/* leaf-image-augment.h: training views of a preprocessed crop
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

#include "leaf-image-transform.h"

G_BEGIN_DECLS

/* The eight symmetries of the square, as index 0..7. Rotations are counter-clockwise, like
 * torch.rot90 (x, k, dims=(-2, -1)). */
typedef enum
{
  LEAF_IMAGE_VIEW_IDENTITY,
  LEAF_IMAGE_VIEW_FLIP_HORIZONTAL, /* torch.flip (x, (-1,)): mirror left-right */
  LEAF_IMAGE_VIEW_FLIP_VERTICAL,   /* torch.flip (x, (-2,)): mirror top-bottom */
  LEAF_IMAGE_VIEW_ROTATE_90,
  LEAF_IMAGE_VIEW_ROTATE_180,
  LEAF_IMAGE_VIEW_ROTATE_270,
  LEAF_IMAGE_VIEW_TRANSPOSE,       /* x.transpose (-2, -1): mirror about the main diagonal */
  LEAF_IMAGE_VIEW_ANTI_TRANSPOSE,  /* mirror about the other diagonal */
} LeafImageView;

#define LEAF_IMAGE_N_VIEWS 8

const char    *leaf_image_view_get_name        (LeafImageView  view);
gboolean       leaf_image_view_from_name       (const char    *name,
                                                LeafImageView *view);
LeafImageView  leaf_image_view_get_inverse     (LeafImageView  view);
void           leaf_image_view_apply           (LeafImageView  view,
                                                const float   *src_chw,
                                                float         *dst_chw,
                                                guint          n_channels,
                                                guint          size);

void           leaf_image_sample_resized_crop  (GRand         *rand,
                                                int            width,
                                                int            height,
                                                double         scale_min,
                                                double         scale_max,
                                                double         ratio_min,
                                                double         ratio_max,
                                                LeafImageRect *region);

/* Factors of torchvision's ColorJitter; 1 leaves the image as it is. */
typedef struct
{
  float  brightness;
  float  contrast;
  float  saturation;
  guint8 order[3];   /* the order to apply them in: 0 brightness, 1 contrast, 2 saturation */
} LeafColorJitter;

void           leaf_color_jitter_sample        (GRand           *rand,
                                                double           brightness,
                                                double           contrast,
                                                double           saturation,
                                                LeafColorJitter *jitter);
void           leaf_color_jitter_apply         (const LeafColorJitter *jitter,
                                                float                 *chw,
                                                guint                  size);

G_END_DECLS
