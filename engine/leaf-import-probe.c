/* leaf-import-probe.c: is this file a complete image we can read, and what does EXIF say?
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-import"

#include "config.h"

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <glib/gi18n.h>

#include "leaf-image-private.h"
#include "leaf-import-private.h"

/* Import reads each file whole to hash it, so checking the container's structure costs a pass
 * over bytes already in memory; decoding a JPEG would cost ten times the hashing. */

void
_leaf_image_probe_clear (LeafImageProbe *probe)
{
  g_clear_pointer (&probe->captured, g_free);
}

/* ---- EXIF (a TIFF structure) ---- */

typedef struct
{
  const guint8 *data;
  gsize length;
  gboolean big_endian;
} Tiff;

static gboolean
tiff_u16 (const Tiff *tiff,
          gsize       offset,
          guint      *value)
{
  const guint8 *p;

  if (tiff->length < 2 || offset > tiff->length - 2)
    return FALSE;
  p = tiff->data + offset;
  *value = tiff->big_endian ? (p[0] << 8) | p[1] : (p[1] << 8) | p[0];
  return TRUE;
}

static gboolean
tiff_u32 (const Tiff *tiff,
          gsize       offset,
          guint32    *value)
{
  const guint8 *p;

  if (tiff->length < 4 || offset > tiff->length - 4)
    return FALSE;
  p = tiff->data + offset;
  if (tiff->big_endian)
    *value = ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | p[3];
  else
    *value = ((guint32) p[3] << 24) | ((guint32) p[2] << 16) | ((guint32) p[1] << 8) | p[0];
  return TRUE;
}

#define TIFF_TYPE_ASCII 2
#define TIFF_TYPE_SHORT 3
#define TIFF_TYPE_LONG  4
#define TIFF_TYPE_IFD   13

#define TAG_ORIENTATION          0x0112
#define TAG_EXIF_IFD             0x8769
#define TAG_DATE_TIME_ORIGINAL   0x9003
#define TAG_DATE_TIME_DIGITIZED  0x9004

/* No real IFD has this many entries; a corrupt count would make us read garbage for long. */
#define MAX_IFD_ENTRIES 1024

/* "YYYY:MM:DD HH:MM:SS" → "YYYY-MM-DDTHH:MM:SS"; NULL for blanks ("    :  :  ") and
 * impossible dates, which cameras without a set clock write. */
static char *
exif_date (const Tiff *tiff,
           gsize       entry)
{
  guint type = 0;
  guint32 count = 0;
  guint32 offset = 0;
  const char *text;
  int y, mo, d, h, mi, s;
  g_autoptr(GDateTime) time = NULL;

  if (!tiff_u16 (tiff, entry + 2, &type) || type != TIFF_TYPE_ASCII ||
      !tiff_u32 (tiff, entry + 4, &count) || count < 19 || count > 64 ||
      !tiff_u32 (tiff, entry + 8, &offset) || offset > tiff->length ||
      tiff->length - offset < 19)
    return NULL;
  text = (const char *) tiff->data + offset;
  for (int i = 0; i < 19; i++)
    {
      gboolean separator = i == 4 || i == 7 || i == 10 || i == 13 || i == 16;

      if (separator ? text[i] != (i == 10 ? ' ' : ':') : !g_ascii_isdigit (text[i]))
        return NULL;
    }
  y = g_ascii_digit_value (text[0]) * 1000 + g_ascii_digit_value (text[1]) * 100 +
      g_ascii_digit_value (text[2]) * 10 + g_ascii_digit_value (text[3]);
#define TWO(i) (g_ascii_digit_value (text[i]) * 10 + g_ascii_digit_value (text[(i) + 1]))
  mo = TWO (5);
  d = TWO (8);
  h = TWO (11);
  mi = TWO (14);
  s = TWO (17);
#undef TWO
  if (y < 1800 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59)
    return NULL;
  time = g_date_time_new_utc (y, mo, d, h, mi, s);
  if (time == NULL || g_date_time_get_day_of_month (time) != d)
    return NULL;
  return g_strdup_printf ("%04d-%02d-%02dT%02d:%02d:%02d", y, mo, d, h, mi, s);
}

/* Calls visit for each entry of the IFD at offset; entries are 12 bytes after a 2-byte count. */
static void
walk_ifd (const Tiff  *tiff,
          guint32      offset,
          void       (*visit) (const Tiff *, gsize, guint, gpointer),
          gpointer     data)
{
  guint count = 0;

  if (!tiff_u16 (tiff, offset, &count))
    return;
  count = MIN (count, MAX_IFD_ENTRIES);
  for (guint i = 0; i < count; i++)
    {
      gsize entry = (gsize) offset + 2 + 12 * (gsize) i;
      guint tag = 0;

      if (!tiff_u16 (tiff, entry, &tag) || entry + 12 > tiff->length)
        return;
      visit (tiff, entry, tag, data);
    }
}

typedef struct
{
  guint orientation;
  guint32 exif_ifd;
  char *original;
  char *digitized;
} ExifFields;

static void
visit_ifd0 (const Tiff *tiff,
            gsize       entry,
            guint       tag,
            gpointer    data)
{
  ExifFields *fields = data;
  guint type = 0;

  if (!tiff_u16 (tiff, entry + 2, &type))
    return;
  if (tag == TAG_ORIENTATION && type == TIFF_TYPE_SHORT)
    {
      guint32 count = 0;
      guint value = 0;

      /* libtiff, which decodes TIFF photos, ignores an orientation of any other count; so must
       * the size the probe announces. */
      if (tiff_u32 (tiff, entry + 4, &count) && count == 1
          && tiff_u16 (tiff, entry + 8, &value) && value >= 1 && value <= 8)
        fields->orientation = value;
    }
  else if (tag == TAG_EXIF_IFD && (type == TIFF_TYPE_LONG || type == TIFF_TYPE_IFD))
    tiff_u32 (tiff, entry + 8, &fields->exif_ifd);
}

static void
visit_exif_ifd (const Tiff *tiff,
                gsize       entry,
                guint       tag,
                gpointer    data)
{
  ExifFields *fields = data;

  if (tag == TAG_DATE_TIME_ORIGINAL && fields->original == NULL)
    fields->original = exif_date (tiff, entry);
  else if (tag == TAG_DATE_TIME_DIGITIZED && fields->digitized == NULL)
    fields->digitized = exif_date (tiff, entry);
}

gboolean
_leaf_exif_parse (const guint8  *data,
                  gsize          length,
                  guint         *orientation,
                  char         **captured)
{
  Tiff tiff = { data, length, FALSE };
  ExifFields fields = { 1, 0, NULL, NULL };
  guint magic = 0;
  guint32 ifd0 = 0;

  *orientation = 1;
  *captured = NULL;
  if (length < 8)
    return FALSE;
  if (data[0] == 'M' && data[1] == 'M')
    tiff.big_endian = TRUE;
  else if (!(data[0] == 'I' && data[1] == 'I'))
    return FALSE;
  if (!tiff_u16 (&tiff, 2, &magic) || magic != 42 || !tiff_u32 (&tiff, 4, &ifd0))
    return FALSE;

  walk_ifd (&tiff, ifd0, visit_ifd0, &fields);
  if (fields.exif_ifd != 0 && fields.exif_ifd != ifd0)
    walk_ifd (&tiff, fields.exif_ifd, visit_exif_ifd, &fields);

  *orientation = fields.orientation;
  *captured = fields.original != NULL ? g_steal_pointer (&fields.original)
                                      : g_steal_pointer (&fields.digitized);
  g_free (fields.original);
  g_free (fields.digitized);
  return TRUE;
}

static gboolean
skip (LeafImportSkipReason   why,
      LeafImportSkipReason  *reason,
      char                 **message,
      char                  *text)
{
  *reason = why;
  *message = text;
  return FALSE;
}

gboolean
_leaf_import_probe (const char            *path,
                    GBytes                *bytes,
                    guint64                max_pixels,
                    LeafImageProbe        *probe,
                    LeafImportSkipReason  *reason,
                    char                 **message)
{
  gsize length = 0;
  const guint8 *data = g_bytes_get_data (bytes, &length);
  const guint8 *exif = NULL;
  gsize exif_length = 0;
  const char *name;
  const char *refused;
  int width = 0, height = 0;

  memset (probe, 0, sizeof *probe);
  probe->orientation = 1;
  if (max_pixels == 0)
    max_pixels = LEAF_IMPORT_DEFAULT_MAX_PIXELS;

  /* The same formats, told apart the same way, as everything that decodes photos later. */
  name = leaf_image_sniff_format (data, length);
  if (name == NULL && (refused = _leaf_image_name_refused (data, length)) != NULL)
    return skip (LEAF_IMPORT_SKIP_UNSUPPORTED_FORMAT, reason, message,
                 g_strdup_printf (_("%s images are not supported; convert them to JPEG, PNG, "
                                    "TIFF, WebP or BMP"), refused));
  if (name == NULL)
    return skip (LEAF_IMPORT_SKIP_NOT_AN_IMAGE, reason, message,
                 g_strdup (_("not an image in a format Leafscope reads (JPEG, PNG, TIFF, WebP "
                             "or BMP)")));
  if (!_leaf_image_has_loader (name))
    return skip (LEAF_IMPORT_SKIP_UNSUPPORTED_FORMAT, reason, message,
                 g_strdup (_("WebP images cannot be read on this system; install the "
                             "webp-pixbuf-loader package, or convert them to JPEG or PNG")));

  if (!_leaf_image_read_size (name, data, length, &width, &height))
    {
      /* A JPEG or PNG cut short inside its header has no size; say so rather than "damaged". */
      if ((g_strcmp0 (name, "jpeg") == 0 || g_strcmp0 (name, "png") == 0) &&
          _leaf_image_walk_container (name, data, length, &exif, &exif_length) !=
          LEAF_CONTAINER_COMPLETE)
        return skip (LEAF_IMPORT_SKIP_TRUNCATED, reason, message,
                     g_strdup (_("the file ends in the middle of the image")));
      return skip (LEAF_IMPORT_SKIP_DAMAGED, reason, message,
                   g_strdup (_("the image's header is damaged")));
    }
  if ((guint64) width * (guint64) height > max_pixels)
    return skip (LEAF_IMPORT_SKIP_TOO_LARGE, reason, message,
                 g_strdup_printf (_("%d × %d pixels is over the limit of %.1f megapixels"),
                                  width, height, max_pixels / 1e6));

  switch (_leaf_image_walk_container (name, data, length, &exif, &exif_length))
    {
    case LEAF_CONTAINER_COMPLETE:
      break;
    case LEAF_CONTAINER_TRUNCATED:
      return skip (LEAF_IMPORT_SKIP_TRUNCATED, reason, message,
                   g_strdup (_("the file ends in the middle of the image")));
    case LEAF_CONTAINER_TOO_MANY_SCANS:
      return skip (LEAF_IMPORT_SKIP_TOO_LARGE, reason, message,
                   g_strdup_printf (_("a JPEG with more than %d scans costs too much to decode; "
                                      "save it again as a baseline JPEG"),
                                    LEAF_IMAGE_MAX_JPEG_SCANS));
    case LEAF_CONTAINER_DAMAGED:
    default:
      return skip (LEAF_IMPORT_SKIP_DAMAGED, reason, message,
                   g_strdup (_("the image's structure is damaged")));
    }

  if (g_strcmp0 (name, "jpeg") == 0 || g_strcmp0 (name, "png") == 0)
    {
      if (exif != NULL)
        _leaf_exif_parse (exif, exif_length, &probe->orientation, &probe->captured);
    }
  else
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GdkPixbuf) pixbuf = NULL;
      g_autofree char *display = g_filename_display_name (path);

      /* Formats without a cheap structural check are decoded once; they are rare in
       * practice. A TIFF file is itself the structure EXIF uses. */
      if (g_strcmp0 (name, "tiff") == 0)
        _leaf_exif_parse (data, length, &probe->orientation, &probe->captured);
      pixbuf = leaf_image_load_from_bytes (bytes, display, max_pixels, &error);
      if (pixbuf == NULL)
        {
          g_clear_pointer (&probe->captured, g_free);
          return skip (LEAF_IMPORT_SKIP_DAMAGED, reason, message,
                       g_strdup_printf (_("the image cannot be decoded: %s"), error->message));
        }
    }

  probe->format = name;
  /* Orientations 5 to 8 turn the picture a quarter: width and height swap on screen. */
  probe->width = probe->orientation >= 5 ? height : width;
  probe->height = probe->orientation >= 5 ? width : height;
  return TRUE;
}

/* The orientation the probe announces a photo's size with, and the decoder turns it by: one
 * reading, so that the two always agree (libjpeg's and libtiff's own readings differ from it on
 * damaged EXIF blocks). */
guint
_leaf_image_orientation (const char   *format,
                         const guint8 *data,
                         gsize         length)
{
  g_autofree char *captured = NULL;
  const guint8 *exif = NULL;
  gsize exif_length = 0;
  guint orientation = 1;

  if (g_strcmp0 (format, "tiff") == 0)
    _leaf_exif_parse (data, length, &orientation, &captured);
  else if ((g_strcmp0 (format, "jpeg") == 0 || g_strcmp0 (format, "png") == 0)
           && _leaf_image_walk_container (format, data, length, &exif, &exif_length)
              == LEAF_CONTAINER_COMPLETE
           && exif != NULL)
    _leaf_exif_parse (exif, exif_length, &orientation, &captured);
  return orientation;
}
