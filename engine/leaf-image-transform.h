/* leaf-image-transform.h: torchvision's ImageNet preprocessing, bit for bit
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gdk-pixbuf/gdk-pixbuf.h>

G_BEGIN_DECLS

/* A rectangle of source pixels. */
typedef struct
{
  int x;
  int y;
  int width;
  int height;
} LeafImageRect;

#define LEAF_TYPE_IMAGE_TRANSFORM (leaf_image_transform_get_type ())

G_DECLARE_FINAL_TYPE (LeafImageTransform, leaf_image_transform, LEAF, IMAGE_TRANSFORM, GObject)

LeafImageTransform *leaf_image_transform_new             (guint                resize_size,
                                                          guint                crop_size);
guint               leaf_image_transform_get_resize_size (LeafImageTransform  *self);
guint               leaf_image_transform_get_crop_size   (LeafImageTransform  *self);
gsize               leaf_image_transform_get_n_values    (LeafImageTransform  *self);
void                leaf_image_transform_apply           (LeafImageTransform  *self,
                                                          GdkPixbuf           *image,
                                                          float               *out_chw);
void                leaf_image_transform_apply_region    (LeafImageTransform  *self,
                                                          GdkPixbuf           *image,
                                                          const LeafImageRect *region,
                                                          float               *out_chw);

guint               leaf_image_resize_size_for_crop      (guint                crop_size);

G_END_DECLS
