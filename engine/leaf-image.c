/* leaf-image.c: decoding photos into 8-bit RGB pixbufs, safely
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-image"

#include "config.h"

#include <glib/gi18n.h>

#include "leaf-error.h"
#include "leaf-image-private.h"
#include "leaf-import-private.h"

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

/* ---- Which formats ---- */

/* Only photo formats whose decoders do work in proportion to the declared pixels (and, for JPEG,
 * its scans) are read. GdkPixbuf would also open SVG, GIF, TGA, PNM, XPM, ICO and more through
 * whichever loader claims the bytes; an SVG's rendering time has no such bound (a 24 KB drawing
 * kept predict busy for minutes), and none of them is a leaf photo. */
static const char *const photo_mime_types[] = {
  "image/jpeg", "image/png", "image/tiff", "image/webp", "image/bmp", NULL
};

static const guint8 png_signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n' };

/* Animated WebP is a clip, not a photo, and its decoder works per frame. */
static gboolean
webp_is_animated (const guint8 *data,
                  gsize         length)
{
  return length >= 21 && memcmp (data + 12, "VP8X", 4) == 0 && (data[20] & 0x02) != 0;
}

/**
 * leaf_image_sniff_format:
 * @data: (array length=length): the start of a file, or all of it
 * @length: bytes in @data; 16 are enough
 *
 * Identifies a photo format Leafscope reads from the file's first bytes, whatever its name:
 * import, predict, evaluate, Diagnose and thumbnails all go by this one answer, and no other
 * GdkPixbuf loader ever sees the data.
 *
 * Returns: (nullable): GdkPixbuf's name of the format: `jpeg`, `png`, `tiff`, `webp` or `bmp`,
 *   or %NULL for anything else
 */
const char *
leaf_image_sniff_format (const guint8 *data,
                         gsize         length)
{
  g_return_val_if_fail (data != NULL || length == 0, NULL);

  if (length >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
    return "jpeg";
  if (length >= 8 && memcmp (data, png_signature, 8) == 0)
    return "png";
  if (length >= 4 && (memcmp (data, "II*\0", 4) == 0 || memcmp (data, "MM\0*", 4) == 0))
    return "tiff";
  if (length >= 16 && memcmp (data, "RIFF", 4) == 0 && memcmp (data + 8, "WEBP", 4) == 0 &&
      !webp_is_animated (data, length))
    return "webp";
  if (length >= 18 && data[0] == 'B' && data[1] == 'M')
    return "bmp";
  return NULL;
}

/* The ASCII text of a file, past a byte-order mark and blanks, starts with prefix. */
static gboolean
text_starts_with (const guint8 *data,
                  gsize         length,
                  const char   *prefix)
{
  gsize pos = 0;
  gsize n = strlen (prefix);

  if (length >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF)
    pos = 3;
  while (pos < length && g_ascii_isspace (data[pos]))
    pos++;
  return length - pos >= n && g_ascii_strncasecmp ((const char *) data + pos, prefix, n) == 0;
}

static gboolean
looks_like_svg (const guint8 *data,
                gsize         length)
{
  gsize head = MIN (length, 4096);

  if (!text_starts_with (data, length, "<"))
    return FALSE;
  for (gsize i = 0; i + 4 <= head; i++)
    if (memcmp (data + i, "<svg", 4) == 0)
      return TRUE;
  return FALSE;
}

/* TGA has no signature: a version 2 file ends with one, and a version 1 header is recognised by
 * fields that each allow only a few values. */
static gboolean
looks_like_tga (const guint8 *data,
                gsize         length)
{
  static const char footer[] = "TRUEVISION-XFILE.";
  guint type, depth;

  if (length >= 26 && memcmp (data + length - 18, footer, sizeof footer) == 0)
    return TRUE;
  if (length < 18)
    return FALSE;
  type = data[2];
  depth = data[16];
  return data[1] <= 1 && (type == 1 || type == 2 || type == 3 || type == 9 || type == 10 ||
                          type == 11) &&
         (depth == 8 || depth == 15 || depth == 16 || depth == 24 || depth == 32) &&
         (data[12] | data[13]) != 0 && (data[14] | data[15]) != 0 &&
         (data[1] == 1 || (data[3] | data[4] | data[5] | data[6] | data[7]) == 0);
}

const char *
_leaf_image_name_refused (const guint8 *data,
                          gsize         length)
{
  static const char *const heif_brands[] = { "heic", "heix", "hevc", "heim", "heis", "mif1",
                                             "msf1", "avif", "avis" };

  if (length >= 4 && memcmp (data, "GIF8", 4) == 0)
    return "GIF";
  if (length >= 12 && memcmp (data, "RIFF", 4) == 0 && memcmp (data + 8, "WEBP", 4) == 0)
    return _("animated WebP");
  if (length >= 12 && memcmp (data + 4, "ftyp", 4) == 0)
    for (guint i = 0; i < G_N_ELEMENTS (heif_brands); i++)
      if (memcmp (data + 8, heif_brands[i], 4) == 0)
        return "HEIF/AVIF";
  if ((length >= 2 && data[0] == 0xFF && data[1] == 0x0A) ||
      (length >= 12 && memcmp (data, "\0\0\0\x0cJXL \r\n\x87\n", 12) == 0))
    return "JPEG XL";
  if (looks_like_svg (data, length))
    return "SVG";
  if (text_starts_with (data, length, "/* XPM */"))
    return "XPM";
  if (length >= 3 && data[0] == 'P' && data[1] >= '1' && data[1] <= '7' &&
      g_ascii_isspace (data[2]))
    return "PNM";
  if (length >= 6 && data[0] == 0 && data[1] == 0 && (data[2] == 1 || data[2] == 2) &&
      data[3] == 0 && (data[4] | data[5]) != 0)
    return "ICO";
  if (looks_like_tga (data, length))
    return "TGA";
  return NULL;
}

gboolean
_leaf_image_has_loader (const char *format)
{
  g_autoptr(GSList) formats = gdk_pixbuf_get_formats ();

  for (GSList *l = formats; l != NULL; l = l->next)
    {
      g_autofree char *name = gdk_pixbuf_format_get_name (l->data);

      if (g_strcmp0 (name, format) == 0)
        return TRUE;
    }
  return FALSE;
}

/**
 * leaf_image_is_photo_name:
 * @name: a file's name, without its folder
 *
 * Whether a file found in a folder is taken as a photo (and then read, or reported as
 * unreadable) by import and evaluate: by its extension, the photo formats Leafscope reads and
 * the common ones it refuses (GIF, HEIC, HEIF, AVIF), so that those are reported rather than
 * passed over. Hidden files (`.` first: thumbnails, macOS's `._` companions) are not photos.
 *
 * Returns: %TRUE for names such as `leaf.JPG`
 */
gboolean
leaf_image_is_photo_name (const char *name)
{
  static const char *const extensions[] = {
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".tif", ".tiff", ".webp", ".bmp",
    ".gif", ".heic", ".heif", ".avif",
  };
  const char *dot;

  g_return_val_if_fail (name != NULL, FALSE);

  dot = strrchr (name, '.');
  if (name[0] == '.' || dot == NULL)
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (extensions); i++)
    if (g_ascii_strcasecmp (dot, extensions[i]) == 0)
      return TRUE;
  return FALSE;
}

/**
 * leaf_image_get_mime_types:
 *
 * The MIME types of the formats leaf_image_sniff_format() accepts, for file choosers.
 *
 * Returns: (transfer none) (array zero-terminated=1): the MIME types
 */
const char * const *
leaf_image_get_mime_types (void)
{
  return photo_mime_types;
}

/* ---- Containers ---- */

/* Walks JPEG segments from SOI to EOI, skipping entropy-coded data, counting scans and finding
 * the first EXIF APP1 segment. */
static LeafContainerState
walk_jpeg (const guint8  *data,
           gsize          length,
           const guint8 **exif,
           gsize         *exif_length)
{
  gsize pos = 2;
  guint scans = 0;

  if (length < 2 || data[0] != 0xFF || data[1] != 0xD8)
    return LEAF_CONTAINER_DAMAGED;
  while (pos < length)
    {
      guint marker;
      gsize segment;

      /* libjpeg skips stray bytes between segments with a warning; so do we. */
      while (pos < length && data[pos] != 0xFF)
        pos++;
      while (pos < length && data[pos] == 0xFF)
        pos++;
      if (pos >= length)
        return LEAF_CONTAINER_TRUNCATED;
      marker = data[pos++];
      if (marker == 0xD9)
        return LEAF_CONTAINER_COMPLETE;
      if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7))
        continue;
      if (marker == 0x00 || marker == 0xD8)
        return LEAF_CONTAINER_DAMAGED;
      if (length - pos < 2)
        return LEAF_CONTAINER_TRUNCATED;
      segment = ((gsize) data[pos] << 8) | data[pos + 1];
      if (segment < 2)
        return LEAF_CONTAINER_DAMAGED;
      if (segment > length - pos)
        return LEAF_CONTAINER_TRUNCATED;
      if (marker == 0xE1 && *exif == NULL && segment >= 2 + 6 + 8 &&
          memcmp (data + pos + 2, "Exif\0\0", 6) == 0)
        {
          *exif = data + pos + 2 + 6;
          *exif_length = segment - 2 - 6;
        }
      pos += segment;
      if (marker == 0xDA)
        {
          if (++scans > LEAF_IMAGE_MAX_JPEG_SCANS)
            return LEAF_CONTAINER_TOO_MANY_SCANS;
          /* Entropy-coded data ends at the first 0xFF that is neither a stuffed 0xFF00 nor a
           * restart marker; memchr keeps this pass at memory speed. */
          for (;;)
            {
              const guint8 *ff = memchr (data + pos, 0xFF, length - pos);

              if (ff == NULL || (gsize) (ff - data) + 1 >= length)
                return LEAF_CONTAINER_TRUNCATED;
              pos = ff - data;
              if (data[pos + 1] != 0x00 && !(data[pos + 1] >= 0xD0 && data[pos + 1] <= 0xD7))
                break;
              pos += 2;
            }
        }
    }
  return LEAF_CONTAINER_TRUNCATED;
}

/* Walks PNG chunks to IEND and finds an eXIf chunk. */
static LeafContainerState
walk_png (const guint8  *data,
          gsize          length,
          const guint8 **exif,
          gsize         *exif_length)
{
  gsize pos = 8;

  if (length < 8 || memcmp (data, png_signature, 8) != 0)
    return LEAF_CONTAINER_DAMAGED;
  while (pos < length)
    {
      guint32 chunk;

      if (length - pos < 12)
        return LEAF_CONTAINER_TRUNCATED;
      chunk = ((guint32) data[pos] << 24) | ((guint32) data[pos + 1] << 16) |
              ((guint32) data[pos + 2] << 8) | data[pos + 3];
      if (chunk > G_MAXINT32)
        return LEAF_CONTAINER_DAMAGED;
      if (chunk > length - pos - 12)
        return LEAF_CONTAINER_TRUNCATED;
      if (memcmp (data + pos + 4, "IEND", 4) == 0)
        return LEAF_CONTAINER_COMPLETE;
      if (memcmp (data + pos + 4, "eXIf", 4) == 0 && *exif == NULL)
        {
          *exif = data + pos + 8;
          *exif_length = chunk;
        }
      pos += 12 + (gsize) chunk;
    }
  return LEAF_CONTAINER_TRUNCATED;
}

/* GdkPixbuf's incremental loaders hand out whatever they decoded when the data runs out, so a
 * truncated JPEG or PNG would come back as a half-grey image without an error: their structure
 * is checked before decoding instead. */
LeafContainerState
_leaf_image_walk_container (const char    *format,
                            const guint8  *data,
                            gsize          length,
                            const guint8 **exif,
                            gsize         *exif_length)
{
  *exif = NULL;
  *exif_length = 0;
  if (g_strcmp0 (format, "jpeg") == 0)
    return walk_jpeg (data, length, exif, exif_length);
  if (g_strcmp0 (format, "png") == 0)
    return walk_png (data, length, exif, exif_length);
  return LEAF_CONTAINER_COMPLETE;
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

/* Refuses, before any loader sees them, files that are not a photo format we read and JPEG or
 * PNG files whose structure is incomplete; returns the format. */
static const char *
check_before_decoding (const guint8  *data,
                       gsize          length,
                       const char    *display_name,
                       GError       **error)
{
  const char *format = leaf_image_sniff_format (data, length);
  const char *refused;
  const guint8 *exif;
  gsize exif_length;

  if (format == NULL && (refused = _leaf_image_name_refused (data, length)) != NULL)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FORMAT,
                   /* Translators: the second %s is a format: "GIF", "SVG", "animated WebP"… */
                   _("“%s” is an image in %s format, which Leafscope does not read. Convert "
                     "it to one of the photo formats it reads: JPEG, PNG, TIFF, WebP or BMP."),
                   display_name, refused);
      return NULL;
    }
  if (format == NULL)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FORMAT,
                   _("“%s” is not an image Leafscope can read: it reads JPEG, PNG, TIFF, WebP "
                     "and BMP photos."), display_name);
      return NULL;
    }
  if (!_leaf_image_has_loader (format))
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FORMAT,
                   _("“%s” is a WebP image, and this system has no decoder for WebP: install "
                     "the webp-pixbuf-loader package, or convert the photo to JPEG or PNG."),
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

  switch (_leaf_image_walk_container (format, data, length, &exif, &exif_length))
    {
    case LEAF_CONTAINER_COMPLETE:
      return format;
    case LEAF_CONTAINER_TOO_MANY_SCANS:
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_UNSAFE,
                   _("“%s” is a JPEG with more than %d scans, so it was not decoded: cameras "
                     "write about 10, and each one costs a pass over the whole image. Save the "
                     "photo again as a baseline JPEG."),
                   display_name, LEAF_IMAGE_MAX_JPEG_SCANS);
      return NULL;
    case LEAF_CONTAINER_DAMAGED:
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FORMAT,
                   _("“%s” is not an image Leafscope can read (its structure is damaged). Copy "
                     "the photo again from its source."), display_name);
      return NULL;
    case LEAF_CONTAINER_TRUNCATED:
    default:
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FORMAT,
                   _("“%s” is truncated: its image data ends early. Copy the photo again "
                     "from its source."),
                   display_name);
      return NULL;
    }
}

/* Feeds data to a loader for format until it is done or the size callback refuses the size. */
static GdkPixbufLoader *
run_loader (const char    *format,
            const guint8  *data,
            gsize          length,
            DecodeState   *state,
            GError       **error)
{
  g_autoptr(GdkPixbufLoader) loader = gdk_pixbuf_loader_new_with_type (format, error);
  g_autoptr(GError) local_error = NULL;

  if (loader == NULL)
    return NULL;
  g_signal_connect (loader, "size-prepared", G_CALLBACK (on_size_prepared_cb), state);
  for (gsize offset = 0; offset < length && !state->too_large; offset += LOADER_CHUNK_SIZE)
    {
      if (!gdk_pixbuf_loader_write (loader, data + offset,
                                    MIN (LOADER_CHUNK_SIZE, length - offset), &local_error))
        break;
    }
  /* Always close: a loader finalized unclosed warns. Keep the first error. */
  gdk_pixbuf_loader_close (loader, local_error == NULL ? &local_error : NULL);
  if (local_error != NULL && !state->too_large)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  return g_steal_pointer (&loader);
}

gboolean
_leaf_image_read_size (const char   *format,
                       const guint8 *data,
                       gsize         length,
                       int          *width,
                       int          *height)
{
  /* A limit of 0 pixels refuses every size: the loader stops after the header. */
  DecodeState state = { 0, };
  g_autoptr(GdkPixbufLoader) loader = NULL;

  /* The import probe comes here without check_before_decoding(). */
  if (g_strcmp0 (format, "bmp") == 0 && bmp_header_is_absurd (data, length))
    return FALSE;
  loader = run_loader (format, data, length, &state, NULL);

  *width = state.width;
  *height = state.height;
  return state.width > 0 && state.height > 0;
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
  const char *format;
  GdkPixbuf *pixbuf;

  if (length == 0)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FORMAT,
                   _("“%s” is empty (0 bytes). Copy the photo again from its source."),
                   display_name);
      return NULL;
    }
  if ((format = check_before_decoding (data, length, display_name, error)) == NULL)
    return NULL;

  state.max_pixels = max_pixels > 0 ? max_pixels : LEAF_IMAGE_DEFAULT_MAX_PIXELS;
  state.fit_size = fit_size;
  loader = run_loader (format, data, length, &state, &local_error);

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

  if (loader == NULL)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FORMAT,
                   _("“%s” is not an image Leafscope can read (%s). Use JPEG or PNG photos."),
                   display_name, local_error->message);
      return NULL;
    }

  pixbuf = gdk_pixbuf_loader_get_pixbuf (loader);
  if (pixbuf == NULL)
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

  /* Applies the EXIF orientation tag, as PIL's ImageOps.exif_transpose() does: as Leafscope
   * reads it, which the import probe announces the size with, rather than as the loader does. */
  {
    g_autofree char *orientation = g_strdup_printf ("%u",
                                                    _leaf_image_orientation (format, data,
                                                                             length));

    gdk_pixbuf_remove_option (pixbuf, "orientation");
    gdk_pixbuf_set_option (pixbuf, "orientation", orientation);
  }
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
 * and alpha is dropped (not composited). Only the formats leaf_image_sniff_format() accepts are
 * decoded, identified by content: others (SVG, GIF, TGA, PNM, XPM...) fail with
 * %LEAF_ENGINE_ERROR_FORMAT before any loader sees them. The declared size is checked against
 * @max_pixels before any pixel memory is allocated, and a JPEG's scans against
 * %LEAF_IMAGE_MAX_JPEG_SCANS before decoding (%LEAF_ENGINE_ERROR_UNSAFE), which bounds the work;
 * damaged, truncated and empty files fail with %LEAF_ENGINE_ERROR_FORMAT, and the message names
 * the file.
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
