/* leaf-catalog-contents.c: the bytes of photos and models kept in the catalog itself
 *
 * A catalog on a server is opened on machines that do not have the files its photos were
 * imported from, nor the models another member trained. So a server catalog keeps each photo's
 * and each model's bytes in its contents table, by SHA-256, and a machine that lacks a file
 * fetches it into a local folder the first time it is needed; later it reads that copy. A file
 * catalog keeps contents only when it came from a server (a copy, a merge), and reads them the
 * same way.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-catalog"

#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>

#include "leaf-catalog-private.h"
#include "leaf-error.h"
#include "leaf-file.h"

/* The managed folder names files as the import's copies are named: <sha[0:2]>/<sha>.<ext>. The
 * format comes from the catalog, which on a server anyone who may write can change: only a plain
 * word becomes part of a file name, never "x/../../.bashrc". */
static const char *
extension_for (const char *format)
{
  if (g_strcmp0 (format, "jpeg") == 0)
    return "jpg";
  if (g_strcmp0 (format, "tiff") == 0)
    return "tif";
  if (format == NULL || *format == '\0' || strlen (format) > 8)
    return "img";
  for (const char *c = format; *c != '\0'; c++)
    if (!g_ascii_islower (*c) && !g_ascii_isdigit (*c))
      return "img";
  return format;
}

char *
_leaf_managed_file_path (const char *managed_dir,
                         const char *sha256,
                         const char *format)
{
  char prefix[3] = { sha256[0], sha256[1], '\0' };
  g_autofree char *name = g_strconcat (sha256, ".", extension_for (format), NULL);

  return g_build_filename (managed_dir, prefix, name, NULL);
}

char *
_leaf_catalog_held_copy_path (LeafCatalog *catalog,
                              const char  *path,
                              guint64      size,
                              const char  *sha256,
                              const char  *format)
{
  g_autofree char *managed_dir = NULL;

  /* A digest that is not one (a server's row, changed by hand) names no file of ours. */
  if (!leaf_is_sha256 (sha256) || _leaf_images_exists_at (path, size))
    return NULL;
  managed_dir = leaf_catalog_get_managed_dir (catalog);
  return _leaf_managed_file_path (managed_dir, sha256, format);
}

gboolean
_leaf_db_store_content (LeafDb         *db,
                        const char     *sha256,
                        gconstpointer   data,
                        gsize           size,
                        GError        **error)
{
  g_autoptr(LeafStmt) stmt =
    _leaf_db_prepare (db, "INSERT INTO contents (sha256, data) VALUES (?, ?) "
                      "ON CONFLICT (sha256) DO NOTHING", error);

  if (stmt == NULL)
    return FALSE;
  _leaf_bind_text (stmt, 1, sha256);
  _leaf_bind_blob (stmt, 2, data, size);
  return _leaf_db_run (db, stmt, error);
}

gboolean
_leaf_db_has_content (LeafDb      *db,
                      const char  *sha256,
                      gboolean    *has,
                      GError     **error)
{
  g_autoptr(LeafStmt) stmt = _leaf_db_prepare (db, "SELECT 1 FROM contents WHERE sha256 = ?",
                                               error);
  LeafStep rc;

  if (stmt == NULL)
    return FALSE;
  _leaf_bind_text (stmt, 1, sha256);
  if ((rc = _leaf_step (stmt)) == LEAF_STEP_FAILED)
    return _leaf_db_fail (db, error);
  *has = rc == LEAF_STEP_ROW;
  return TRUE;
}

GBytes *
_leaf_read_content (const char  *path,
                    const char  *sha256,
                    GError     **error)
{
  g_autofree char *data = NULL;
  g_autofree char *actual = NULL;
  gsize length = 0;

  if (!g_file_get_contents (path, &data, &length, error))
    return NULL;
  actual = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) data, length);
  if (g_ascii_strcasecmp (actual, sha256) != 0)
    {
      g_autofree char *display = g_filename_display_name (path);

      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FAILED,
                   _("The file “%s” is no longer the one the catalog recorded."), display);
      return NULL;
    }
  return g_bytes_new_take (g_steal_pointer (&data), length);
}

typedef struct
{
  char *sha256;
  char *path;
} Unstored;

static void
unstored_clear (gpointer data)
{
  Unstored *unstored = data;

  g_free (unstored->sha256);
  g_free (unstored->path);
}

gboolean
_leaf_db_store_local_contents (LeafDb   *db,
                               guint    *n_stored,
                               guint    *n_absent,
                               GError  **error)
{
  g_autoptr(GArray) unstored = g_array_new (FALSE, FALSE, sizeof (Unstored));
  g_autoptr(LeafStmt) stmt = NULL;
  LeafStep rc;

  *n_stored = *n_absent = 0;
  g_array_set_clear_func (unstored, unstored_clear);
  stmt = _leaf_db_prepare (db, "SELECT sha256, path FROM images i WHERE NOT EXISTS "
                           "(SELECT 1 FROM contents c WHERE c.sha256 = i.sha256) ORDER BY id",
                           error);
  if (stmt == NULL)
    return FALSE;
  while ((rc = _leaf_step (stmt)) == LEAF_STEP_ROW)
    {
      Unstored row = { g_strdup (_leaf_column_text (stmt, 0)),
                       g_strdup (_leaf_column_text (stmt, 1)) };

      g_array_append_val (unstored, row);
    }
  if (rc != LEAF_STEP_DONE)
    return _leaf_db_fail (db, error);
  g_clear_pointer (&stmt, _leaf_stmt_release);

  for (guint i = 0; i < unstored->len; i++)
    {
      Unstored *row = &g_array_index (unstored, Unstored, i);
      g_autoptr(GBytes) bytes = _leaf_read_content (row->path, row->sha256, NULL);
      gsize size = 0;
      gconstpointer data;

      if (bytes == NULL)
        {
          *n_absent += 1;
          continue;
        }
      data = g_bytes_get_data (bytes, &size);
      if (!_leaf_db_store_content (db, row->sha256, data, size, error))
        return FALSE;
      *n_stored += 1;
    }
  return TRUE;
}

/* Writes the bytes where a reader may find them: whole or not at all. */
static gboolean
write_whole (const char     *path,
             gconstpointer   data,
             gsize           size,
             GError        **error)
{
  g_autofree char *folder = g_path_get_dirname (path);

  if (g_mkdir_with_parents (folder, 0755) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                   _("Could not create the folder “%s” for files fetched from the catalog: %s"),
                   folder, g_strerror (saved_errno));
      return FALSE;
    }
  return g_file_set_contents_full (path, data, size, G_FILE_SET_CONTENTS_CONSISTENT, 0644,
                                   error);
}

static gboolean
fetch_on (LeafDb      *db,
          const char  *sha256,
          const char  *path,
          GError     **error)
{
  g_autoptr(LeafStmt) stmt = NULL;
  g_autofree char *actual = NULL;
  gconstpointer data;
  gsize size = 0;
  LeafStep rc;

  /* Another thread may have fetched it while this one waited for the lock. */
  if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
    return TRUE;
  if ((stmt = _leaf_db_prepare (db, "SELECT data FROM contents WHERE sha256 = ?", error)) == NULL)
    return FALSE;
  _leaf_bind_text (stmt, 1, sha256);
  if ((rc = _leaf_step (stmt)) == LEAF_STEP_FAILED)
    return _leaf_db_fail (db, error);
  if (rc == LEAF_STEP_DONE)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND,
                   _("The catalog “%s” does not hold the file %.12s…."), db->display_name,
                   sha256);
      return FALSE;
    }
  data = _leaf_column_blob (stmt, 0, &size);
  actual = g_compute_checksum_for_data (G_CHECKSUM_SHA256, data, size);
  if (g_ascii_strcasecmp (actual, sha256) != 0)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FORMAT,
                   _("The catalog “%s” holds damaged bytes for the file %.12s…: they do not have "
                     "its SHA-256."), db->display_name, sha256);
      return FALSE;
    }
  return write_whole (path, data, size, error);
}

gboolean
_leaf_catalog_fetch_content (LeafCatalog  *catalog,
                             const char   *sha256,
                             const char   *path,
                             GError      **error)
{
  LeafDb *db = _leaf_catalog_lock_fetch_db (catalog, error);
  gboolean ok;

  if (db == NULL)
    return FALSE;
  ok = fetch_on (db, sha256, path, error);
  _leaf_catalog_unlock_fetch_db (catalog);
  return ok;
}
