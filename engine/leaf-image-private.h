/* leaf-image-private.h: decoding entry points shared with the thumbnailer and the import probe
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "leaf-image.h"

G_BEGIN_DECLS

/* A progressive JPEG's decoder passes over the whole image once per scan, so a small file with
 * thousands of scans costs thousands of decodes. Encoders write about 10; 256 is the limit
 * nvImageCodec applies after the libjpeg-turbo security audit (Cure53, 2019). */
#define LEAF_IMAGE_MAX_JPEG_SCANS 256

/* leaf_image_load() that, when fit_size > 0, lets the decoder scale the image down (never up) to
 * fit a fit_size x fit_size box, which spares the JPEG decoder most of its work. For thumbnails
 * only: the pixels are not what the model expects. */
GdkPixbuf *_leaf_image_load_fitted (const char  *path,
                                    guint64      max_pixels,
                                    guint        fit_size,
                                    GError     **error);

typedef enum
{
  LEAF_CONTAINER_COMPLETE,
  LEAF_CONTAINER_TRUNCATED,
  LEAF_CONTAINER_DAMAGED,
  LEAF_CONTAINER_TOO_MANY_SCANS, /* a JPEG with more than LEAF_IMAGE_MAX_JPEG_SCANS */
} LeafContainerState;

/* Walks a JPEG's segments or a PNG's chunks to the end marker without decoding, and finds the
 * EXIF block (NULL when there is none); other formats are COMPLETE. Bytes after the end (the
 * video some phones append) are allowed. */
LeafContainerState _leaf_image_walk_container (const char    *format,
                                               const guint8  *data,
                                               gsize          length,
                                               const guint8 **exif,
                                               gsize         *exif_length);

/* What kind of image data holds when leaf_image_sniff_format() refuses it ("GIF", "SVG"...), so
 * that people hear what they have; NULL when it is not an image we know of. */
const char        *_leaf_image_name_refused   (const guint8  *data,
                                               gsize          length);

/* Whether GdkPixbuf has a loader for an accepted format here (WebP's is a separate package). */
gboolean           _leaf_image_has_loader     (const char    *format);

/* The size an accepted image declares, read by its own loader from the header alone. */
gboolean           _leaf_image_read_size      (const char    *format,
                                               const guint8  *data,
                                               gsize          length,
                                               int           *width,
                                               int           *height);

/* torchvision's ImageNet statistics, as the float32 tensors Normalize() builds from them. */
extern const float _leaf_imagenet_mean[3];
extern const float _leaf_imagenet_std[3];

G_END_DECLS
