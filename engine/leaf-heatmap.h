/* leaf-heatmap.h: a Grad-CAM map drawn over the crop the model saw
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gdk-pixbuf/gdk-pixbuf.h>

G_BEGIN_DECLS

/* The colour map's weight over the photo in the heatmaps Leafscope draws. */
#define LEAF_HEATMAP_OPACITY 0.5

void       leaf_heatmap_color         (double       value,
                                       guint8      *rgb);
GdkPixbuf *leaf_heatmap_overlay       (GdkPixbuf   *crop,
                                       const float *map,
                                       double       opacity);
GdkPixbuf *leaf_heatmap_overlay_photo (GdkPixbuf   *photo,
                                       const float *map,
                                       guint        map_size,
                                       guint        resize_size,
                                       double       opacity);

G_END_DECLS
