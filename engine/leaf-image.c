/* leaf-image.c: decoding photos into 8-bit RGB pixbufs, safely
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-image"

#include "config.h"

#include <glib/gi18n.h>

#include "leaf-error.h"
#include "leaf-image-private.h"

/* Feeding the loader in chunks lets it report the declared size (and us refuse it) before it has
 * seen most of a large file. */
#define LOADER_CHUNK_SIZE (64 * 1024)

typedef struct
{
  guint64  max_pixels;
  guint    fit_size;
  gboolean too_large;
  int      width;
  int      height;
} DecodeState;

static void
on_size_prepared_cb (GdkPixbufLoader *loader,
                     int              width,
                     int              height,
                     gpointer         user_data)
{
  DecodeState *state = user_data;

  state->width = width;
  state->height = height;

  if (width <= 0 || height <= 0 || (guint64) width * (guint64) height > state->max_pixels)
    {
      /* A zero size makes every loader stop before it allocates the pixel buffer; this is how
       * gdk_pixbuf_get_file_info() reads only the header. */
      state->too_large = TRUE;
      gdk_pixbuf_loader_set_size (loader, 0, 0);
      return;
    }

  if (state->fit_size > 0 && (width > (int) state->fit_size || height > (int) state->fit_size))
    {
      double scale = (double) state->fit_size / MAX (width, height);

      gdk_pixbuf_loader_set_size (loader,
                                  MAX (1, (int) (width * scale + 0.5)),
                                  MAX (1, (int) (height * scale + 0.5)));
    }
}

/* GdkPixbuf's incremental loaders hand out whatever they decoded when the data runs out, so a
 * truncated JPEG or PNG would come back as a half-grey image without an error. These walk the
 * container structure to its end marker instead. Data after the end (the video that some phones
 * append to their JPEGs) is allowed. */
static gboolean
jpeg_is_complete (const guint8 *data,
                  gsize         length)
{
  gsize pos = 2;

  if (length < 4 || data[0] != 0xFF || data[1] != 0xD8)
    return FALSE;

  while (pos < length)
    {
      guint8 marker;
      gsize segment_length;

      /* libjpeg skips stray bytes between segments with a warning; so do we. */
      while (pos < length && data[pos] != 0xFF)
        pos++;
      while (pos < length && data[pos] == 0xFF)
        pos++;
      if (pos >= length)
        return FALSE;

      marker = data[pos++];
      if (marker == 0xD9)
        return TRUE;
      if (marker == 0x00 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7))
        continue;

      if (pos + 2 > length)
        return FALSE;
      segment_length = ((gsize) data[pos] << 8) | data[pos + 1];
      if (segment_length < 2 || pos + segment_length > length)
        return FALSE;
      pos += segment_length;

      if (marker == 0xDA)
        {
          /* Entropy-coded data runs up to the next marker other than a stuffed 0xFF00 or a
           * restart marker. */
          while (pos + 1 < length)
            {
              if (data[pos] == 0xFF && data[pos + 1] != 0x00 &&
                  !(data[pos + 1] >= 0xD0 && data[pos + 1] <= 0xD7))
                break;
              pos++;
            }
          if (pos + 1 >= length)
            return FALSE;
        }
    }

  return FALSE;
}

static gboolean
png_is_complete (const guint8 *data,
                 gsize         length)
{
  gsize pos = 8;

  while (pos + 12 <= length)
    {
      guint32 chunk_length = ((guint32) data[pos] << 24) | ((guint32) data[pos + 1] << 16) |
                             ((guint32) data[pos + 2] << 8) | data[pos + 3];

      if (chunk_length > G_MAXINT32 || chunk_length > length - pos - 12)
        return FALSE;
      if (memcmp (data + pos + 4, "IEND", 4) == 0)
        return TRUE;
      pos += 12 + (gsize) chunk_length;
    }

  return FALSE;
}

static gboolean
data_is_complete (const char   *format_name,
                  const guint8 *data,
                  gsize         length)
{
  if (g_strcmp0 (format_name, "jpeg") == 0)
    return jpeg_is_complete (data, length);
  if (g_strcmp0 (format_name, "png") == 0)
    return png_is_complete (data, length);
  /* Other formats: trust the loader. */
  return TRUE;
}

/* torchvision's pipeline calls PIL's convert("RGB"), which drops alpha without compositing. */
static GdkPixbuf *
drop_alpha (GdkPixbuf *pixbuf)
{
  int width = gdk_pixbuf_get_width (pixbuf);
  int height = gdk_pixbuf_get_height (pixbuf);
  int src_stride = gdk_pixbuf_get_rowstride (pixbuf);
  const guint8 *src = gdk_pixbuf_read_pixels (pixbuf);
  GdkPixbuf *rgb;
  guint8 *dst;
  int dst_stride;

  rgb = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, width, height);
  if (rgb == NULL)
    return NULL;
  dst = gdk_pixbuf_get_pixels (rgb);
  dst_stride = gdk_pixbuf_get_rowstride (rgb);

  for (int y = 0; y < height; y++)
    {
      const guint8 *s = src + (gsize) y * src_stride;
      guint8 *d = dst + (gsize) y * dst_stride;

      for (int x = 0; x < width; x++)
        {
          d[3 * x + 0] = s[4 * x + 0];
          d[3 * x + 1] = s[4 * x + 1];
          d[3 * x + 2] = s[4 * x + 2];
        }
    }

  return rgb;
}

/* GdkPixbuf's BMP loader buffers everything up to the info header's end and then up to the
 * pixel data before it checks either: a 60-byte file declaring a 4 GB info header, or pixels
 * 4 GB in, makes it allocate 4 GB. No BMP version has an info header over 124 bytes
 * (BITMAPV5HEADER), and in a whole file the pixels start inside it: refuse other claims before
 * the loader sees them. */
static gboolean
bmp_header_is_absurd (const guint8 *data,
                      gsize         length)
{
  guint32 pixels_offset, info_size;

  if (length < 18 || data[0] != 'B' || data[1] != 'M')
    return FALSE;
  pixels_offset = data[10] | (data[11] << 8) | (data[12] << 16) | ((guint32) data[13] << 24);
  info_size = data[14] | (data[15] << 8) | (data[16] << 16) | ((guint32) data[17] << 24);
  return info_size > 124 || pixels_offset > length;
}

static GdkPixbuf *
decode (const guint8  *data,
        gsize          length,
        const char    *display_name,
        guint64        max_pixels,
        guint          fit_size,
        GError       **error)
{
  g_autoptr(GdkPixbufLoader) loader = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GdkPixbuf) oriented = NULL;
  DecodeState state = { 0, };
  GdkPixbufFormat *format;
  g_autofree char *format_name = NULL;
  GdkPixbuf *pixbuf;

  if (length == 0)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FORMAT,
                   _("“%s” is empty (0 bytes). Copy the photo again from its source."),
                   display_name);
      return NULL;
    }

  if (bmp_header_is_absurd (data, length))
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FORMAT,
                   _("“%s” is not an image Leafscope can read (a damaged BMP header). "
                     "Use JPEG or PNG photos."), display_name);
      return NULL;
    }

  state.max_pixels = max_pixels > 0 ? max_pixels : LEAF_IMAGE_DEFAULT_MAX_PIXELS;
  state.fit_size = fit_size;

  loader = gdk_pixbuf_loader_new ();
  g_signal_connect (loader, "size-prepared", G_CALLBACK (on_size_prepared_cb), &state);

  for (gsize offset = 0; offset < length && !state.too_large; offset += LOADER_CHUNK_SIZE)
    {
      if (!gdk_pixbuf_loader_write (loader, data + offset,
                                    MIN (LOADER_CHUNK_SIZE, length - offset), &local_error))
        break;
    }
  /* Always close: a loader finalized unclosed warns. Keep the first error. */
  gdk_pixbuf_loader_close (loader, local_error == NULL ? &local_error : NULL);

  if (state.too_large)
    {
      guint64 limit = state.max_pixels;

      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_UNSAFE,
                   _("“%s” declares %d × %d pixels (%.1f megapixels), more than the limit of "
                     "%.1f megapixels, so it was not decoded: it may be a decompression bomb. "
                     "Shrink the photo before using it."),
                   display_name, state.width, state.height,
                   (double) state.width * (double) state.height / 1e6, (double) limit / 1e6);
      return NULL;
    }

  if (local_error != NULL)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FORMAT,
                   _("“%s” is not an image Leafscope can read (%s). Use JPEG or PNG photos."),
                   display_name, local_error->message);
      return NULL;
    }

  pixbuf = gdk_pixbuf_loader_get_pixbuf (loader);
  format = gdk_pixbuf_loader_get_format (loader);
  if (format != NULL)
    format_name = gdk_pixbuf_format_get_name (format);

  if (pixbuf == NULL || !data_is_complete (format_name, data, length))
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FORMAT,
                   _("“%s” is truncated: its image data ends early. Copy the photo again "
                     "from its source."),
                   display_name);
      return NULL;
    }

  if (gdk_pixbuf_get_bits_per_sample (pixbuf) != 8 ||
      gdk_pixbuf_get_colorspace (pixbuf) != GDK_COLORSPACE_RGB)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FORMAT,
                   _("“%s” uses a pixel format Leafscope cannot read. Save it as an 8-bit RGB "
                     "JPEG or PNG."),
                   display_name);
      return NULL;
    }

  /* Applies the EXIF orientation tag that the JPEG and TIFF loaders record, as PIL's
   * ImageOps.exif_transpose() does. */
  oriented = gdk_pixbuf_apply_embedded_orientation (pixbuf);
  if (oriented == NULL)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FAILED,
                   _("Not enough memory to rotate “%s”."), display_name);
      return NULL;
    }

  if (!gdk_pixbuf_get_has_alpha (oriented))
    return g_steal_pointer (&oriented);

  pixbuf = drop_alpha (oriented);
  if (pixbuf == NULL)
    g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FAILED,
                 _("Not enough memory to decode “%s”."), display_name);
  return pixbuf;
}

GdkPixbuf *
_leaf_image_load_fitted (const char  *path,
                         guint64      max_pixels,
                         guint        fit_size,
                         GError     **error)
{
  g_autoptr(GMappedFile) mapped = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *display_name = NULL;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  display_name = g_filename_display_name (path);

  /* Mapping rather than reading: the loader sees the file's pages without a copy, and a bomb is
   * refused after its first chunk is touched. */
  mapped = g_mapped_file_new (path, FALSE, &local_error);
  if (mapped == NULL)
    {
      gboolean missing = g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT);

      g_set_error (error, LEAF_ENGINE_ERROR,
                   missing ? LEAF_ENGINE_ERROR_NOT_FOUND : LEAF_ENGINE_ERROR_IO,
                   _("Could not open the photo “%s”: %s"), display_name, local_error->message);
      return NULL;
    }

  return decode ((const guint8 *) g_mapped_file_get_contents (mapped),
                 g_mapped_file_get_length (mapped),
                 display_name, max_pixels, fit_size, error);
}

/**
 * leaf_image_load:
 * @path: a file name in the GLib file name encoding
 * @max_pixels: the largest width × height to decode, or 0 for %LEAF_IMAGE_DEFAULT_MAX_PIXELS
 * @error: return location for a #LEAF_ENGINE_ERROR
 *
 * Decodes a photo the way torchvision's training scripts see it through PIL:
 * `ImageOps.exif_transpose (Image.open (path)).convert ("RGB")`. The EXIF orientation is applied
 * and alpha is dropped (not composited). The declared size is checked against @max_pixels before
 * any pixel memory is allocated (%LEAF_ENGINE_ERROR_UNSAFE); damaged, truncated, empty and
 * unsupported files fail with %LEAF_ENGINE_ERROR_FORMAT, and the message names the file.
 *
 * Safe to call from any thread.
 *
 * Returns: (transfer full): an 8-bit RGB pixbuf without alpha, or %NULL
 */
GdkPixbuf *
leaf_image_load (const char  *path,
                 guint64      max_pixels,
                 GError     **error)
{
  return _leaf_image_load_fitted (path, max_pixels, 0, error);
}

/**
 * leaf_image_load_from_bytes:
 * @bytes: the encoded image, for example a pasted or dropped file
 * @display_name: what to call the image in error messages
 * @max_pixels: the largest width × height to decode, or 0 for %LEAF_IMAGE_DEFAULT_MAX_PIXELS
 * @error: return location for a #LEAF_ENGINE_ERROR
 *
 * leaf_image_load() for an image held in memory.
 *
 * Returns: (transfer full): an 8-bit RGB pixbuf without alpha, or %NULL
 */
GdkPixbuf *
leaf_image_load_from_bytes (GBytes      *bytes,
                            const char  *display_name,
                            guint64      max_pixels,
                            GError     **error)
{
  gsize length = 0;
  const guint8 *data;

  g_return_val_if_fail (bytes != NULL, NULL);
  g_return_val_if_fail (display_name != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  data = g_bytes_get_data (bytes, &length);
  return decode (data, length, display_name, max_pixels, 0, error);
}
