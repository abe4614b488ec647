/* fuzz-image.c: libFuzzer target for what an import reads from a photo
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The header probe (format, size, end marker, EXIF) that decides whether a file is imported,
 * then the decoder behind thumbnails and training. A probe that accepts a file promises that
 * any decoded picture has the size the probe announced (a damaged middle may still fail to
 * decode: the probe does not decode JPEG or PNG).
 */

#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "leaf-image.h"
#include "leaf-import-private.h"

/* Small enough that libFuzzer's memory and time limits are not what stops an input. */
#define MAX_PIXELS (1u << 22)

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GBytes) bytes = g_bytes_new (data, size);
  g_auto(LeafImageProbe) probe = { 0 };
  LeafImportSkipReason reason = 0;
  g_autofree char *message = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkPixbuf) pixbuf = NULL;
  gboolean accepted;

  accepted = _leaf_import_probe ("fuzz.bin", bytes, MAX_PIXELS, &probe, &reason, &message);
  if (!accepted && (message == NULL || !g_utf8_validate (message, -1, NULL)))
    abort ();

  pixbuf = leaf_image_load_from_bytes (bytes, "fuzz.bin", MAX_PIXELS, &error);
  if (pixbuf == NULL)
    {
      if (error == NULL)
        abort ();
      return 0;
    }
  if (gdk_pixbuf_get_n_channels (pixbuf) != 3 || gdk_pixbuf_get_has_alpha (pixbuf)
      || (guint64) gdk_pixbuf_get_width (pixbuf) * gdk_pixbuf_get_height (pixbuf) > MAX_PIXELS)
    abort ();
  if (accepted && ((guint) gdk_pixbuf_get_width (pixbuf) != probe.width
                   || (guint) gdk_pixbuf_get_height (pixbuf) != probe.height))
    abort ();
  return 0;
}
