/* leaf-file.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "leaf-file.h"

/**
 * leaf_file_sha256:
 * @path: (type filename): any file
 * @cancellable: (nullable): a #GCancellable
 * @error: where to say why the file could not be read
 *
 * Reads @path in pieces, since weight and model files run to hundreds of megabytes.
 *
 * Returns: (transfer full): the SHA-256 of @path's contents in lower-case hex, or %NULL with
 *   @error set
 */
char *
leaf_file_sha256 (const char    *path,
                  GCancellable  *cancellable,
                  GError       **error)
{
  g_autoptr(GFile) file = NULL;
  g_autoptr(GFileInputStream) stream = NULL;
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree guint8 *buffer = g_malloc (1 << 16);
  gssize n;

  g_return_val_if_fail (path != NULL, NULL);

  file = g_file_new_for_path (path);
  stream = g_file_read (file, cancellable, error);
  if (stream == NULL)
    return NULL;
  while ((n = g_input_stream_read (G_INPUT_STREAM (stream), buffer, 1 << 16, cancellable,
                                   error)) > 0)
    g_checksum_update (checksum, buffer, n);
  if (n < 0)
    return NULL;
  return g_strdup (g_checksum_get_string (checksum));
}
