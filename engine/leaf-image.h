/* leaf-image.h: decoding photos into 8-bit RGB pixbufs, safely
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gdk-pixbuf/gdk-pixbuf.h>

G_BEGIN_DECLS

/* 2^28 pixels (about 268 megapixels, 0.8 GB as RGB): above the largest phone sensors, far below
 * what a decompression bomb asks for. Pass 0 as max_pixels to use it. */
#define LEAF_IMAGE_DEFAULT_MAX_PIXELS (G_GUINT64_CONSTANT (1) << 28)

GdkPixbuf          *leaf_image_load            (const char    *path,
                                                guint64        max_pixels,
                                                GError       **error);
GdkPixbuf          *leaf_image_load_from_bytes (GBytes        *bytes,
                                                const char    *display_name,
                                                guint64        max_pixels,
                                                GError       **error);

const char         *leaf_image_sniff_format    (const guint8  *data,
                                                gsize          length);
gboolean            leaf_image_is_photo_name   (const char    *name);
const char * const *leaf_image_get_mime_types  (void);

G_END_DECLS
