/* leaf-image-private.h: decoding entry point shared with the thumbnailer
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "leaf-image.h"

G_BEGIN_DECLS

/* leaf_image_load() that, when fit_size > 0, lets the decoder scale the image down (never up) to
 * fit a fit_size x fit_size box, which spares the JPEG decoder most of its work. For thumbnails
 * only: the pixels are not what the model expects. */
GdkPixbuf *_leaf_image_load_fitted (const char  *path,
                                    guint64      max_pixels,
                                    guint        fit_size,
                                    GError     **error);

/* torchvision's ImageNet statistics, as the float32 tensors Normalize() builds from them. */
extern const float _leaf_imagenet_mean[3];
extern const float _leaf_imagenet_std[3];

G_END_DECLS
