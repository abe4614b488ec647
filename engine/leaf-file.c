/* leaf-file.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <sys/statvfs.h>

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

/**
 * leaf_file_free_space:
 * @path: a file or folder, which need not exist yet
 *
 * Returns: the bytes an unprivileged process may still write on the file system that holds
 *   @path (or would hold it: its nearest existing parent is asked), or %G_MAXUINT64 when that
 *   cannot be told
 */
guint64
leaf_file_free_space (const char *path)
{
  g_autofree char *dir = g_strdup (path);
  struct statvfs fs;

  while (statvfs (dir, &fs) != 0)
    {
      char *parent = g_path_get_dirname (dir);

      if (g_str_equal (parent, dir))
        {
          g_free (parent);
          return G_MAXUINT64;
        }
      g_free (dir);
      dir = parent;
    }
  return (guint64) fs.f_bavail * fs.f_frsize;
}

/**
 * leaf_is_sha256:
 * @text: a string
 *
 * Whether @text is a SHA-256 in hex (either case): 64 hex digits, nothing else. A digest that
 * becomes part of a file name must be one, never "../x".
 *
 * Returns: %TRUE when it is
 */
gboolean
leaf_is_sha256 (const char *text)
{
  gsize i;

  g_return_val_if_fail (text != NULL, FALSE);

  for (i = 0; text[i] != '\0'; i++)
    if (!g_ascii_isxdigit (text[i]))
      return FALSE;
  return i == 64;
}
