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

/**
 * leaf_heatmap_overlay_photo:
 * @photo: the whole photo, as the model's preprocessing received it
 * @map: (array): @map_size x @map_size values in 0..1, over the centre crop the model saw
 * @map_size: the model's crop size
 * @resize_size: the shorter side the photo was resized to before that crop
 * @opacity: weight of the colour map over the photo, 0..1
 *
 * Draws the map over the part of the full-resolution photo that the crop came from, and dims
 * the rest, which the model never saw.
 *
 * Returns: (transfer full): a new RGB image the size of @photo
 */
GdkPixbuf *
leaf_heatmap_overlay_photo (GdkPixbuf   *photo,
                            const float *map,
                            guint        map_size,
                            guint        resize_size,
                            double       opacity)
{
  g_autoptr(GdkPixbuf) heat = NULL;
  GdkPixbuf *result;
  int width, height, stride, n_channels;
  double scale, resized_w, resized_h, left, top;
  int x0, y0, x1, y1;
  guint8 *pixels;

  g_return_val_if_fail (GDK_IS_PIXBUF (photo), NULL);
  g_return_val_if_fail (map != NULL, NULL);
  g_return_val_if_fail (map_size > 0 && map_size <= resize_size, NULL);

  width = gdk_pixbuf_get_width (photo);
  height = gdk_pixbuf_get_height (photo);
  /* Where the crop lies, in the resized photo and then in the photo's own pixels. */
  scale = (double) MIN (width, height) / resize_size;
  resized_w = width <= height ? resize_size : floor ((double) resize_size * width / height);
  resized_h = height <= width ? resize_size : floor ((double) resize_size * height / width);
  left = round ((resized_w - map_size) / 2) * scale;
  top = round ((resized_h - map_size) / 2) * scale;
  x0 = CLAMP ((int) lrint (left), 0, width);
  y0 = CLAMP ((int) lrint (top), 0, height);
  x1 = CLAMP ((int) lrint (left + map_size * scale), x0, width);
  y1 = CLAMP ((int) lrint (top + map_size * scale), y0, height);

  heat = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, map_size, map_size);
  {
    guint8 *out = gdk_pixbuf_get_pixels (heat);
    int heat_stride = gdk_pixbuf_get_rowstride (heat);

    for (guint y = 0; y < map_size; y++)
      for (guint x = 0; x < map_size; x++)
        leaf_heatmap_color (map[(gsize) y * map_size + x], out + y * heat_stride + x * 3);
  }

  result = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, width, height);
  gdk_pixbuf_copy_area (photo, 0, 0, width, height, result, 0, 0);
  pixels = gdk_pixbuf_get_pixels (result);
  stride = gdk_pixbuf_get_rowstride (result);
  n_channels = gdk_pixbuf_get_n_channels (result);
  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      if (x < x0 || x >= x1 || y < y0 || y >= y1)
        for (int c = 0; c < 3; c++)
          pixels[y * stride + x * n_channels + c] /= 2;
  if (x1 > x0 && y1 > y0)
    gdk_pixbuf_composite (heat, result, x0, y0, x1 - x0, y1 - y0, left, top, scale, scale,
                          GDK_INTERP_BILINEAR, (int) lrint (255 * CLAMP (opacity, 0.0, 1.0)));
  return result;
}
