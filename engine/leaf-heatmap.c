/* leaf-heatmap.c: a Grad-CAM map drawn over the crop the model saw
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-heatmap"

#include "config.h"

#include <math.h>

#include "leaf-heatmap.h"

/**
 * leaf_heatmap_color:
 * @value: in 0..1 (clamped)
 * @rgb: (out caller-allocates): three bytes
 *
 * A jet-like colour map: dark blue for 0, through cyan, yellow and red, to dark red for 1.
 */
void
leaf_heatmap_color (double  value,
                    guint8 *rgb)
{
  double v = CLAMP (value, 0.0, 1.0);
  double channel[3] = {
    1.5 - fabs (4 * v - 3),
    1.5 - fabs (4 * v - 2),
    1.5 - fabs (4 * v - 1),
  };

  for (guint c = 0; c < 3; c++)
    rgb[c] = (guint8) lrint (255 * CLAMP (channel[c], 0.0, 1.0));
}

/**
 * leaf_heatmap_overlay:
 * @crop: an RGB image of width w and height h
 * @map: (array): w x h values in 0..1, row by row
 * @opacity: weight of the colour map over the photo, 0..1
 *
 * Returns: (transfer full): a new RGB image of the same size
 */
GdkPixbuf *
leaf_heatmap_overlay (GdkPixbuf   *crop,
                      const float *map,
                      double       opacity)
{
  int width, height, n_channels, in_stride, out_stride;
  const guint8 *in;
  guint8 *out;
  GdkPixbuf *result;

  g_return_val_if_fail (GDK_IS_PIXBUF (crop), NULL);
  g_return_val_if_fail (map != NULL, NULL);

  width = gdk_pixbuf_get_width (crop);
  height = gdk_pixbuf_get_height (crop);
  n_channels = gdk_pixbuf_get_n_channels (crop);
  in_stride = gdk_pixbuf_get_rowstride (crop);
  in = gdk_pixbuf_read_pixels (crop);
  result = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, width, height);
  out = gdk_pixbuf_get_pixels (result);
  out_stride = gdk_pixbuf_get_rowstride (result);
  opacity = CLAMP (opacity, 0.0, 1.0);

  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      {
        guint8 color[3];

        leaf_heatmap_color (map[(gsize) y * width + x], color);
        for (int c = 0; c < 3; c++)
          out[y * out_stride + x * 3 + c] =
            (guint8) lrint ((1 - opacity) * in[y * in_stride + x * n_channels + c] +
                            opacity * color[c]);
      }
  return result;
}
