/* image-test-util.c: helpers shared by the image tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "image-test"

#include "config.h"

#include "leaf-test.h"

#include <glib/gstdio.h>
#include <string.h>

#include "image-test-util.h"

/* Same size, same layout of channels, same pixel bytes (row padding ignored). */
gboolean
image_test_pixbufs_equal (GdkPixbuf *a,
                          GdkPixbuf *b)
{
  int width = gdk_pixbuf_get_width (a);
  int height = gdk_pixbuf_get_height (a);
  gsize row_bytes = (gsize) width * gdk_pixbuf_get_n_channels (a);

  if (width != gdk_pixbuf_get_width (b) || height != gdk_pixbuf_get_height (b) ||
      gdk_pixbuf_get_n_channels (a) != gdk_pixbuf_get_n_channels (b))
    return FALSE;

  for (int y = 0; y < height; y++)
    if (memcmp (gdk_pixbuf_read_pixels (a) + (gsize) y * gdk_pixbuf_get_rowstride (a),
                gdk_pixbuf_read_pixels (b) + (gsize) y * gdk_pixbuf_get_rowstride (b),
                row_bytes) != 0)
      return FALSE;
  return TRUE;
}

GdkPixbuf *
image_test_make_gradient (int width,
                          int height)
{
  GdkPixbuf *pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, width, height);
  guint8 *pixels = gdk_pixbuf_get_pixels (pixbuf);
  int stride = gdk_pixbuf_get_rowstride (pixbuf);

  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      {
        guint8 *p = pixels + (gsize) y * stride + 3 * x;

        p[0] = x * 255 / width;
        p[1] = y * 255 / height;
        p[2] = (x ^ y) & 0xFF;
      }
  return pixbuf;
}
