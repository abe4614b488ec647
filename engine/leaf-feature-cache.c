/* leaf-feature-cache.c
 *
 * Frozen stages with BatchNorm in inference mode are a fixed function of their input, so their
 * output for one image and one training view never changes while the base weights, the image size
 * and the cut point stay the same. Those four make the key. Each entry is one file of raw fp16
 * values behind a small header; the least recently used files go first when the cache grows
 * past its bound.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-feature-cache"

#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include "leaf-error.h"
#include "leaf-feature-cache.h"

#define ENTRY_MAGIC "LFC1"

typedef struct
{
  char magic[4];
  guint32 view;
  guint64 n_bytes;
} EntryHeader;

struct _LeafFeatureCache
{
  GObject parent_instance;

  char *directory;
  guint64 max_bytes;

  /* Guards size; file operations themselves are safe to race because each store renames a
   * complete temporary file into place. */
  GMutex lock;
  guint64 size;
  gboolean size_known;
};

G_DEFINE_FINAL_TYPE (LeafFeatureCache, leaf_feature_cache, G_TYPE_OBJECT)

static void
leaf_feature_cache_finalize (GObject *object)
{
  LeafFeatureCache *self = LEAF_FEATURE_CACHE (object);

  g_clear_pointer (&self->directory, g_free);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (leaf_feature_cache_parent_class)->finalize (object);
}

static void
leaf_feature_cache_class_init (LeafFeatureCacheClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = leaf_feature_cache_finalize;
}

static void
leaf_feature_cache_init (LeafFeatureCache *self)
{
  g_mutex_init (&self->lock);
}

/**
 * leaf_feature_cache_new:
 * @directory: where entries live; created when needed
 * @max_bytes: the bound past which the least recently used entries are removed
 *
 * Returns: (transfer full): a new cache
 */
LeafFeatureCache *
leaf_feature_cache_new (const char *directory,
                        guint64     max_bytes)
{
  LeafFeatureCache *self;

  g_return_val_if_fail (directory != NULL, NULL);

  self = g_object_new (LEAF_TYPE_FEATURE_CACHE, NULL);
  self->directory = g_strdup (directory);
  self->max_bytes = max_bytes;
  return self;
}

/**
 * leaf_feature_cache_default_dir:
 *
 * Returns: (transfer full): `$XDG_CACHE_HOME/leafscope/features`
 */
char *
leaf_feature_cache_default_dir (void)
{
  return g_build_filename (g_get_user_cache_dir (), "leafscope", "features", NULL);
}

/**
 * leaf_feature_cache_namespace:
 *
 * Everything but the image and the view that decides what a frozen prefix computes.
 *
 * Returns: (transfer full): a short name for the folder of entries that share these
 */
char *
leaf_feature_cache_namespace (const char *base_weights_sha256,
                              guint       image_size,
                              guint       cut)
{
  g_autofree char *key = g_strdup_printf ("%s/%u/%u", base_weights_sha256, image_size, cut);
  g_autofree char *digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, key, -1);

  return g_strdup_printf ("b0-%u-%u-%.16s", image_size, cut, digest);
}

static char *
entry_path (LeafFeatureCache *self,
            const char       *name_space,
            const char       *image_sha256,
            guint             view)
{
  g_autofree char *file = g_strdup_printf ("%s-v%u.f16", image_sha256, view);
  char prefix[3] = { image_sha256[0], image_sha256[0] ? image_sha256[1] : 0, 0 };

  return g_build_filename (self->directory, name_space, prefix, file, NULL);
}

static gboolean
valid_key (const char *name_space,
           const char *image_sha256)
{
  /* Keys become path components: nothing that could climb out of the cache folder. */
  return name_space != NULL && image_sha256 != NULL && strlen (image_sha256) >= 2 &&
         strchr (name_space, '/') == NULL && strchr (image_sha256, '/') == NULL &&
         name_space[0] != '.' && image_sha256[0] != '.';
}

/**
 * leaf_feature_cache_lookup:
 * @data: (out caller-allocates): receives exactly @n_bytes
 *
 * Returns: %TRUE when a complete entry of that size was found and copied into @data
 */
gboolean
leaf_feature_cache_lookup (LeafFeatureCache *self,
                           const char       *name_space,
                           const char       *image_sha256,
                           guint             view,
                           gpointer          data,
                           gsize             n_bytes)
{
  g_autofree char *path = NULL;
  EntryHeader header;
  FILE *fp;
  gboolean ok;

  g_return_val_if_fail (LEAF_IS_FEATURE_CACHE (self), FALSE);
  if (!valid_key (name_space, image_sha256))
    return FALSE;

  path = entry_path (self, name_space, image_sha256, view);
  fp = g_fopen (path, "rb");
  if (fp == NULL)
    return FALSE;

  /* A damaged or foreign entry is a miss, never a crash: it is simply recomputed. */
  ok = fread (&header, sizeof header, 1, fp) == 1 &&
       memcmp (header.magic, ENTRY_MAGIC, 4) == 0 &&
       header.view == view && header.n_bytes == n_bytes &&
       fread (data, 1, n_bytes, fp) == n_bytes &&
       fgetc (fp) == EOF;
  fclose (fp);

  if (ok)
    /* Reading bumps the entry's time so that trim() removes the least recently used first. */
    g_utime (path, NULL);

  return ok;
}

static gboolean
write_all (int            fd,
           gconstpointer  data,
           gsize          n_bytes)
{
  const char *p = data;

  while (n_bytes > 0)
    {
      gssize n = write (fd, p, n_bytes);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      p += n;
      n_bytes -= (gsize) n;
    }
  return TRUE;
}

/**
 * leaf_feature_cache_store:
 *
 * Writes the entry through a temporary file and a rename, so a reader (or a crash) never sees
 * half an entry. A cache that cannot be written is not fatal to training: callers may log the
 * error and go on.
 */
gboolean
leaf_feature_cache_store (LeafFeatureCache  *self,
                          const char        *name_space,
                          const char        *image_sha256,
                          guint              view,
                          gconstpointer      data,
                          gsize              n_bytes,
                          GError           **error)
{
  g_autofree char *path = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *tmp = NULL;
  EntryHeader header = { ENTRY_MAGIC, view, n_bytes };
  int fd;

  g_return_val_if_fail (LEAF_IS_FEATURE_CACHE (self), FALSE);
  if (!valid_key (name_space, image_sha256))
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                   _("Invalid feature cache key “%s”"), image_sha256 ? image_sha256 : "(null)");
      return FALSE;
    }

  path = entry_path (self, name_space, image_sha256, view);
  dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved = errno;
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                   _("Cannot create the feature cache folder %s: %s"), dir, g_strerror (saved));
      return FALSE;
    }

  tmp = g_strconcat (path, ".XXXXXX", NULL);
  fd = g_mkstemp (tmp);
  if (fd < 0 || !write_all (fd, &header, sizeof header) || !write_all (fd, data, n_bytes))
    {
      int saved = errno;
      if (fd >= 0)
        {
          close (fd);
          g_unlink (tmp);
        }
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                   _("Cannot write the feature cache in %s: %s"), dir, g_strerror (saved));
      return FALSE;
    }
  close (fd);
  if (g_rename (tmp, path) != 0)
    {
      int saved = errno;
      g_unlink (tmp);
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                   _("Cannot write the feature cache in %s: %s"), dir, g_strerror (saved));
      return FALSE;
    }

  g_mutex_lock (&self->lock);
  if (self->size_known)
    self->size += sizeof header + n_bytes;
  g_mutex_unlock (&self->lock);

  if (leaf_feature_cache_get_size (self) > self->max_bytes)
    leaf_feature_cache_trim (self);
  return TRUE;
}

typedef struct
{
  char *path;
  gint64 mtime;
  guint64 size;
} Entry;

static void
entry_free (gpointer data)
{
  Entry *e = data;
  g_free (e->path);
  g_free (e);
}

static void
collect_entries (const char *dir,
                 int         depth,
                 GPtrArray  *entries)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  if (d == NULL)
    return;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      GStatBuf st;

      if (g_lstat (path, &st) != 0)
        continue;
      if (S_ISDIR (st.st_mode) && depth < 2)
        collect_entries (path, depth + 1, entries);
      else if (S_ISREG (st.st_mode) && g_str_has_suffix (name, ".f16"))
        {
          Entry *e = g_new0 (Entry, 1);
          e->path = g_steal_pointer (&path);
          e->mtime = st.st_mtime;
          e->size = st.st_size;
          g_ptr_array_add (entries, e);
        }
    }
}

static int
compare_oldest_first (gconstpointer a,
                      gconstpointer b)
{
  const Entry *ea = *(const Entry **) a;
  const Entry *eb = *(const Entry **) b;

  return (ea->mtime > eb->mtime) - (ea->mtime < eb->mtime);
}

/**
 * leaf_feature_cache_get_size:
 *
 * Returns: the bytes the cache holds on disk (scanned once, then kept up to date)
 */
guint64
leaf_feature_cache_get_size (LeafFeatureCache *self)
{
  g_return_val_if_fail (LEAF_IS_FEATURE_CACHE (self), 0);

  g_mutex_lock (&self->lock);
  if (!self->size_known)
    {
      g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func (entry_free);
      collect_entries (self->directory, 0, entries);
      self->size = 0;
      for (guint i = 0; i < entries->len; i++)
        self->size += ((Entry *) entries->pdata[i])->size;
      self->size_known = TRUE;
    }
  g_mutex_unlock (&self->lock);
  return self->size;
}

/**
 * leaf_feature_cache_set_max_bytes:
 * @max_bytes: the new bound; the cache is trimmed to it only when a store passes it
 */
void
leaf_feature_cache_set_max_bytes (LeafFeatureCache *self,
                                  guint64           max_bytes)
{
  g_return_if_fail (LEAF_IS_FEATURE_CACHE (self));
  self->max_bytes = max_bytes;
}

/**
 * leaf_feature_cache_entry_size:
 * @n_bytes: the activations of one view
 *
 * Returns: what an entry of @n_bytes counts against the cache's bound
 */
guint64
leaf_feature_cache_entry_size (gsize n_bytes)
{
  return sizeof (EntryHeader) + n_bytes;
}

/**
 * leaf_feature_cache_trim:
 *
 * Removes the least recently used entries until the cache fits three quarters of its bound, so
 * that a cache at the limit is not trimmed again at every store.
 */
void
leaf_feature_cache_trim (LeafFeatureCache *self)
{
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func (entry_free);
  guint64 total = 0;

  g_return_if_fail (LEAF_IS_FEATURE_CACHE (self));

  g_mutex_lock (&self->lock);
  collect_entries (self->directory, 0, entries);
  for (guint i = 0; i < entries->len; i++)
    total += ((Entry *) entries->pdata[i])->size;

  if (total > self->max_bytes)
    {
      guint64 target = self->max_bytes / 4 * 3;
      g_ptr_array_sort (entries, compare_oldest_first);
      for (guint i = 0; i < entries->len && total > target; i++)
        {
          Entry *e = entries->pdata[i];
          if (g_unlink (e->path) == 0)
            total -= e->size;
        }
    }
  self->size = total;
  self->size_known = TRUE;
  g_mutex_unlock (&self->lock);
}
