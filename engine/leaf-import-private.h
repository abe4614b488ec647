/* leaf-import-private.h: the header checks behind an import, shared with their tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "leaf-import.h"

G_BEGIN_DECLS

typedef struct
{
  const char *format;  /* GdkPixbuf's name: "jpeg", "png", "tiff", "webp" or "bmp" */
  guint width;         /* as displayed: after the EXIF orientation */
  guint height;
  guint orientation;   /* EXIF, 1..8 */
  char *captured;      /* EXIF DateTimeOriginal as "YYYY-MM-DDTHH:MM:SS", or NULL */
} LeafImageProbe;

void     _leaf_image_probe_clear (LeafImageProbe        *probe);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (LeafImageProbe, _leaf_image_probe_clear)

/* Checks that data (the whole file at path) is a complete image we can read, without decoding
 * JPEG and PNG: the format by content (leaf_image_sniff_format()), the size from its loader's
 * header, the pixel limit, the container's end marker, and EXIF. Other formats are decoded
 * once. On failure fills reason and message (UTF-8). */
gboolean _leaf_import_probe      (const char            *path,
                                  GBytes                *data,
                                  guint64                max_pixels,
                                  LeafImageProbe        *probe,
                                  LeafImportSkipReason  *reason,
                                  char                 **message);

/* Reads the orientation (left at 1 when absent) and DateTimeOriginal from a TIFF structure: an
 * EXIF block without its "Exif\0\0" prefix, or a TIFF file. FALSE when the structure is not
 * TIFF. */
gboolean _leaf_exif_parse        (const guint8          *tiff,
                                  gsize                  length,
                                  guint                 *orientation,
                                  char                 **captured);
guint    _leaf_image_orientation (const char            *format,
                                  const guint8          *data,
                                  gsize                  length);

G_END_DECLS
