/* leaf-feature-cache.c
 *
 * Frozen stages with BatchNorm in inference mode are a fixed function of their input, so their
 * output for one image and one training view never changes while the base weights, the image size
 * and the cut point stay the same. Those, with the catalog, name a folder; in it each view has
 * one table: a file of fixed-size slots, each the fp16 activations of one photo behind the
 * photo's SHA-256 and a checksum. Training maps the tables instead of copying them into memory,
 * so what a run keeps resident does not grow with the number of photos: the kernel's page cache
 * holds what fits and reads the rest from disk.
 *
 * Slots are only ever appended, under an exclusive lock on the file, and written whole in one
 * write; a slot that a crash or a full disk left short, or whose checksum does not match, is
 * not found and its photo is computed again. The cache is trimmed a whole table at a time, the
 * least recently used first, and never a table that is open.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-feature-cache"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include "leaf-error.h"
#include "leaf-feature-cache.h"

#define TABLE_MAGIC "LFT1"
#define TABLE_SUFFIX ".f16"
#define SLOT_MAGIC 0x544f4c53u   /* "SLOT" */
#define ALIGN 64

typedef struct
{
  char magic[4];
  guint32 view;
  guint64 row_bytes;
  guint8 reserved[ALIGN - 16];
} TableHeader;

typedef struct
{
  guint8 sha256[32];
  guint64 checksum;   /* of the key and the data */
  guint32 magic;
  guint8 reserved[ALIGN - 44];
} SlotHeader;

G_STATIC_ASSERT (sizeof (TableHeader) == ALIGN);
G_STATIC_ASSERT (sizeof (SlotHeader) == ALIGN);

typedef struct
{
  guint8 sha256[32];
  guint64 slot;
} IndexEntry;

struct _LeafFeatureCache
{
  GObject parent_instance;

  char *directory;
  guint64 max_bytes;

  /* Guards size and open_tables. */
  GMutex lock;
  guint64 size;
  gboolean size_known;
  GHashTable *open_tables;   /* path -> number of open handles */
};

struct _LeafFeatureTable
{
  LeafFeatureCache *cache;
  char *path;
  int fd;
  guint view;
  gsize row_bytes;
  gsize stride;
  GArray *index;      /* IndexEntry */
  gboolean sorted;
  guint8 *slot_buffer;
  guint8 *map;
  gsize map_length;
};

G_DEFINE_FINAL_TYPE (LeafFeatureCache, leaf_feature_cache, G_TYPE_OBJECT)

static void
leaf_feature_cache_finalize (GObject *object)
{
  LeafFeatureCache *self = LEAF_FEATURE_CACHE (object);

  g_clear_pointer (&self->directory, g_free);
  g_clear_pointer (&self->open_tables, g_hash_table_unref);
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
  self->open_tables = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

/**
 * leaf_feature_cache_new:
 * @directory: where tables live; created when needed
 * @max_bytes: the bound past which the least recently used tables are removed
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
 * @catalog_key: which catalog the photos come from (its path), so that one catalog's tables
 *   are used, and trimmed, together
 *
 * Everything but the image and the view that decides what a frozen prefix computes.
 *
 * Returns: (transfer full): a short name for the folder of tables that share these
 */
char *
leaf_feature_cache_namespace (const char *catalog_key,
                              const char *base_weights_sha256,
                              guint       image_size,
                              guint       cut)
{
  g_autofree char *key = g_strdup_printf ("%s/%u/%u/%s", base_weights_sha256, image_size, cut,
                                          catalog_key);
  g_autofree char *digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, key, -1);

  return g_strdup_printf ("b0-%u-%u-%.16s", image_size, cut, digest);
}

/**
 * leaf_feature_cache_row_size:
 * @row_bytes: the activations of one photo in one view
 *
 * Returns: what one row takes on disk, and counts against the cache's bound
 */
guint64
leaf_feature_cache_row_size (gsize row_bytes)
{
  return sizeof (SlotHeader) + (row_bytes + ALIGN - 1) / ALIGN * ALIGN;
}

static gboolean
parse_sha256 (const char *hex,
              guint8      out[32])
{
  if (hex == NULL || strlen (hex) != 64)
    return FALSE;
  for (guint i = 0; i < 32; i++)
    {
      int hi = g_ascii_xdigit_value (hex[2 * i]);
      int lo = g_ascii_xdigit_value (hex[2 * i + 1]);
      if (hi < 0 || lo < 0)
        return FALSE;
      out[i] = (guint8) (hi << 4 | lo);
    }
  return TRUE;
}

/* Not cryptographic: it only has to notice a slot that a crash or a bad disk damaged, at the
 * speed of memory, since every run checks every slot it reuses. */
static guint64
slot_checksum (const guint8  sha256[32],
               gconstpointer data,
               gsize         n_bytes)
{
  const guint8 *p = data;
  guint64 h = G_GUINT64_CONSTANT (0x9e3779b97f4a7c15) ^ n_bytes;
  guint64 word;

  for (guint i = 0; i < 4; i++)
    {
      memcpy (&word, sha256 + 8 * i, 8);
      h = (h ^ word) * G_GUINT64_CONSTANT (0xff51afd7ed558ccd);
      h ^= h >> 29;
    }
  for (; n_bytes >= 8; p += 8, n_bytes -= 8)
    {
      memcpy (&word, p, 8);
      h = (h ^ word) * G_GUINT64_CONSTANT (0xff51afd7ed558ccd);
      h ^= h >> 29;
    }
  word = 0;
  memcpy (&word, p, n_bytes);
  h = (h ^ word) * G_GUINT64_CONSTANT (0xc4ceb9fe1a85ec53);
  return h ^ (h >> 32);
}

static int
compare_entries (gconstpointer a,
                 gconstpointer b)
{
  return memcmp (((const IndexEntry *) a)->sha256, ((const IndexEntry *) b)->sha256, 32);
}

/* All of n_bytes at offset, through short transfers and interruptions. */
static gboolean
transfer_exactly (int       fd,
                  guint8   *p,
                  gsize     n_bytes,
                  goffset   offset,
                  gboolean  writing)
{
  while (n_bytes > 0)
    {
      gssize n = writing ? pwrite (fd, p, n_bytes, offset) : pread (fd, p, n_bytes, offset);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      p += n;
      offset += n;
      n_bytes -= (gsize) n;
    }
  return TRUE;
}

static gboolean
read_exactly (int       fd,
              gpointer  data,
              gsize     n_bytes,
              goffset   offset)
{
  return transfer_exactly (fd, data, n_bytes, offset, FALSE);
}

static gboolean
write_exactly (int           fd,
               gconstpointer data,
               gsize         n_bytes,
               goffset       offset)
{
  /* pwrite() only reads the buffer. */
  return transfer_exactly (fd, (guint8 *) data, n_bytes, offset, TRUE);
}

static goffset
slot_offset (LeafFeatureTable *table,
             guint64           slot)
{
  return sizeof (TableHeader) + (goffset) slot * table->stride;
}

static guint64
complete_slots (LeafFeatureTable *table)
{
  GStatBuf st;

  if (fstat (table->fd, &st) != 0 || st.st_size < (goffset) sizeof (TableHeader))
    return 0;
  return (st.st_size - sizeof (TableHeader)) / table->stride;
}

/* Reads the keys of the slots whose headers are whole; their data is checked when looked up. */
static void
load_index (LeafFeatureTable *table)
{
  guint64 n_slots = complete_slots (table);

  for (guint64 slot = 0; slot < n_slots; slot++)
    {
      SlotHeader header;
      IndexEntry entry;

      if (!read_exactly (table->fd, &header, sizeof header, slot_offset (table, slot)) ||
          header.magic != SLOT_MAGIC)
        continue;
      memcpy (entry.sha256, header.sha256, 32);
      entry.slot = slot;
      g_array_append_val (table->index, entry);
    }
  table->sorted = FALSE;
}

static gboolean
valid_name_space (const char *name_space)
{
  /* It becomes a path component: nothing that could climb out of the cache folder. */
  return name_space != NULL && name_space[0] != '\0' && name_space[0] != '.' &&
         strchr (name_space, '/') == NULL;
}

static void
table_set_open (LeafFeatureCache *self,
                const char       *path,
                gboolean          open)
{
  guint count;

  g_mutex_lock (&self->lock);
  count = GPOINTER_TO_UINT (g_hash_table_lookup (self->open_tables, path));
  if (open)
    g_hash_table_insert (self->open_tables, g_strdup (path), GUINT_TO_POINTER (count + 1));
  else if (count > 1)
    g_hash_table_insert (self->open_tables, g_strdup (path), GUINT_TO_POINTER (count - 1));
  else
    g_hash_table_remove (self->open_tables, path);
  g_mutex_unlock (&self->lock);
}

/* A file that is not a table of this row size (a foreign file, a torn header) is replaced. */
static gboolean
check_or_write_header (LeafFeatureTable  *table,
                       GError           **error)
{
  TableHeader want = { .view = table->view, .row_bytes = table->row_bytes };
  TableHeader have;
  gboolean ok;

  memcpy (want.magic, TABLE_MAGIC, 4);
  flock (table->fd, LOCK_EX);
  ok = read_exactly (table->fd, &have, sizeof have, 0) && memcmp (&have, &want, sizeof want) == 0;
  if (!ok)
    ok = ftruncate (table->fd, 0) == 0 && write_exactly (table->fd, &want, sizeof want, 0);
  if (!ok)
    {
      int saved = errno;
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                   _("Cannot write the feature cache %s: %s"), table->path, g_strerror (saved));
    }
  flock (table->fd, LOCK_UN);
  return ok;
}

/**
 * leaf_feature_cache_open_table:
 * @name_space: from leaf_feature_cache_namespace()
 * @view: which view of the photos the table holds
 * @row_bytes: the activations of one photo
 *
 * Opens, or creates, the table of one view. An open table is never trimmed from this cache.
 * A table is used by one thread at a time.
 *
 * Returns: (transfer full): the table, or %NULL with @error set when its file cannot be made
 */
LeafFeatureTable *
leaf_feature_cache_open_table (LeafFeatureCache  *self,
                               const char        *name_space,
                               guint              view,
                               gsize              row_bytes,
                               GError           **error)
{
  g_autoptr(LeafFeatureTable) table = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *file = NULL;

  g_return_val_if_fail (LEAF_IS_FEATURE_CACHE (self), NULL);
  g_return_val_if_fail (row_bytes > 0, NULL);

  if (!valid_name_space (name_space))
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                   _("Invalid feature cache key “%s”"), name_space ? name_space : "(null)");
      return NULL;
    }
  dir = g_build_filename (self->directory, name_space, NULL);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved = errno;
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                   _("Cannot create the feature cache folder %s: %s"), dir, g_strerror (saved));
      return NULL;
    }

  file = g_strdup_printf ("view-%u" TABLE_SUFFIX, view);
  table = g_new0 (LeafFeatureTable, 1);
  table->path = g_build_filename (dir, file, NULL);
  table->view = view;
  table->row_bytes = row_bytes;
  table->stride = leaf_feature_cache_row_size (row_bytes);
  table->index = g_array_new (FALSE, FALSE, sizeof (IndexEntry));
  table->fd = g_open (table->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (table->fd < 0)
    {
      int saved = errno;
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                   _("Cannot open the feature cache %s: %s"), table->path, g_strerror (saved));
      return NULL;
    }
  if (!check_or_write_header (table, error))
    return NULL;
  load_index (table);
  /* Opening counts as use, for the least-recently-used order of trim(). */
  g_utime (table->path, NULL);
  table->cache = g_object_ref (self);
  table_set_open (self, table->path, TRUE);
  return g_steal_pointer (&table);
}

/**
 * leaf_feature_table_lookup:
 * @slot: (out): where the photo's row is
 *
 * Returns: %TRUE when the table holds an intact row for the photo
 */
gboolean
leaf_feature_table_lookup (LeafFeatureTable *table,
                           const char       *image_sha256,
                           guint64          *slot)
{
  IndexEntry key;
  guint found;

  if (!parse_sha256 (image_sha256, key.sha256))
    return FALSE;
  if (!table->sorted)
    {
      g_array_sort (table->index, compare_entries);
      table->sorted = TRUE;
    }
  if (!g_array_binary_search (table->index, &key, compare_entries, &found))
    return FALSE;
  /* Equal keys sit together; any intact one will do. */
  while (found > 0 && compare_entries (&g_array_index (table->index, IndexEntry, found - 1),
                                       &key) == 0)
    found--;
  for (; found < table->index->len; found++)
    {
      const IndexEntry *e = &g_array_index (table->index, IndexEntry, found);
      if (compare_entries (e, &key) != 0)
        break;
      if (leaf_feature_table_read (table, e->slot, NULL, NULL))
        {
          *slot = e->slot;
          return TRUE;
        }
    }
  return FALSE;
}

/**
 * leaf_feature_table_read:
 * @data: (out caller-allocates) (nullable): receives the row's bytes
 *
 * Reads one row and checks it against its checksum.
 */
gboolean
leaf_feature_table_read (LeafFeatureTable  *table,
                         guint64            slot,
                         gpointer           data,
                         GError           **error)
{
  const SlotHeader *header;

  if (table->slot_buffer == NULL)
    table->slot_buffer = g_malloc (table->stride);
  header = (const SlotHeader *) table->slot_buffer;
  if (!read_exactly (table->fd, table->slot_buffer, table->stride, slot_offset (table, slot)) ||
      header->magic != SLOT_MAGIC ||
      header->checksum != slot_checksum (header->sha256, table->slot_buffer + sizeof *header,
                                         table->row_bytes))
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                   _("The feature cache %s is damaged; delete it and train again"), table->path);
      return FALSE;
    }
  if (data != NULL)
    memcpy (data, table->slot_buffer + sizeof *header, table->row_bytes);
  return TRUE;
}

/**
 * leaf_feature_table_append:
 * @data: the row, leaf_feature_cache_open_table()'s row_bytes long
 * @slot: (out): where it went
 *
 * Writes the row in a new slot, in one write under an exclusive lock, so that processes that
 * share the cache never write over each other.
 */
gboolean
leaf_feature_table_append (LeafFeatureTable  *table,
                           const char        *image_sha256,
                           gconstpointer      data,
                           guint64           *slot,
                           GError           **error)
{
  SlotHeader *header;
  IndexEntry entry;
  int saved = 0;
  gboolean ok;

  if (!parse_sha256 (image_sha256, entry.sha256))
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                   _("Invalid feature cache key “%s”"), image_sha256 ? image_sha256 : "(null)");
      return FALSE;
    }
  if (table->slot_buffer == NULL)
    table->slot_buffer = g_malloc (table->stride);
  memset (table->slot_buffer, 0, table->stride);
  header = (SlotHeader *) table->slot_buffer;
  memcpy (header->sha256, entry.sha256, 32);
  header->magic = SLOT_MAGIC;
  memcpy (table->slot_buffer + sizeof *header, data, table->row_bytes);
  header->checksum = slot_checksum (entry.sha256, data, table->row_bytes);

  flock (table->fd, LOCK_EX);
  /* A slot left short by a crash is written over. */
  entry.slot = complete_slots (table);
  ok = write_exactly (table->fd, table->slot_buffer, table->stride,
                      slot_offset (table, entry.slot));
  if (!ok)
    {
      saved = errno;
      /* Leave no short slot behind for the next append to trip on. */
      if (ftruncate (table->fd, slot_offset (table, entry.slot)) != 0)
        g_debug ("could not cut %s back: %s", table->path, g_strerror (errno));
    }
  flock (table->fd, LOCK_UN);
  if (!ok)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                   _("Cannot write the feature cache %s: %s"), table->path,
                   g_strerror (saved != 0 ? saved : ENOSPC));
      return FALSE;
    }

  g_array_append_val (table->index, entry);
  table->sorted = FALSE;
  *slot = entry.slot;

  g_mutex_lock (&table->cache->lock);
  if (table->cache->size_known)
    table->cache->size += table->stride;
  g_mutex_unlock (&table->cache->lock);
  return TRUE;
}

static void
format_sha256 (const guint8 sha256[32],
               char         hex[65])
{
  for (guint i = 0; i < 32; i++)
    g_snprintf (hex + 2 * i, 3, "%02x", sha256[i]);
}

/* Whether a row of this photo is still wanted: its photo is in @keep, and no row of it is in
 * @kept yet (it is then added there). */
static gboolean
row_needed (const guint8  sha256[32],
            GHashTable   *keep,
            GHashTable   *kept)
{
  char hex[65];

  format_sha256 (sha256, hex);
  return g_hash_table_contains (keep, hex) && g_hash_table_add (kept, g_strdup (hex));
}

/**
 * leaf_feature_table_get_n_rows:
 *
 * Returns: the rows the table holds, a photo stored twice (by two runs at once) counting twice
 */
guint64
leaf_feature_table_get_n_rows (LeafFeatureTable *table)
{
  return table->index->len;
}

/**
 * leaf_feature_table_count_stale:
 * @keep: (element-type utf8 utf8): a set of the SHA-256 (hex) of the photos whose rows stay
 *
 * Returns: the rows leaf_feature_table_compact() would leave out, damaged ones aside: those of
 *   photos not in @keep, and second rows of a photo
 */
guint64
leaf_feature_table_count_stale (LeafFeatureTable *table,
                                GHashTable       *keep)
{
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint64 n = 0;

  for (guint i = 0; i < table->index->len; i++)
    {
      if (!row_needed (g_array_index (table->index, IndexEntry, i).sha256, keep, seen))
        n++;
    }
  return n;
}

/**
 * leaf_feature_table_compact:
 * @keep: (element-type utf8 utf8): a set of the SHA-256 (hex) of the photos whose rows stay
 * @n_removed: (out) (optional): how many rows went
 *
 * Writes the table again with one intact row of each photo in @keep, leaving out the photos no
 * longer in the catalog, rows stored twice and damaged ones. The new file replaces the old one
 * by renaming: another process that has the old one open keeps reading it, and whatever it still
 * appends there is computed again by the next run. Call it before mapping the table.
 *
 * Returns: %FALSE with @error set when the new file could not be written (a full disk); the
 *   table is then as it was
 */
gboolean
leaf_feature_table_compact (LeafFeatureTable  *table,
                            GHashTable        *keep,
                            guint64           *n_removed,
                            GError           **error)
{
  g_autofree char *tmp_path = g_strconcat (table->path, ".XXXXXX", NULL);
  g_autoptr(GArray) index = g_array_new (FALSE, FALSE, sizeof (IndexEntry));
  g_autoptr(GHashTable) written = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree guint8 *buffer = g_malloc (table->stride);
  TableHeader header = { .view = table->view, .row_bytes = table->row_bytes };
  const SlotHeader *slot_header = (const SlotHeader *) buffer;
  guint64 n_slots;
  int fd, saved = 0;
  gboolean ok;

  g_return_val_if_fail (table->map == NULL, FALSE);
  g_return_val_if_fail (keep != NULL, FALSE);

  memcpy (header.magic, TABLE_MAGIC, 4);
  /* No append lands in the old file while its rows are copied. */
  flock (table->fd, LOCK_EX);
  fd = g_mkstemp_full (tmp_path, O_RDWR | O_CLOEXEC, 0600);
  ok = fd >= 0 && write_exactly (fd, &header, sizeof header, 0);
  n_slots = complete_slots (table);
  for (guint64 slot = 0; ok && slot < n_slots; slot++)
    {
      IndexEntry entry;

      if (!read_exactly (table->fd, buffer, table->stride, slot_offset (table, slot))
          || slot_header->magic != SLOT_MAGIC
          || slot_header->checksum != slot_checksum (slot_header->sha256,
                                                     buffer + sizeof *slot_header,
                                                     table->row_bytes))
        continue;
      if (!row_needed (slot_header->sha256, keep, written))
        continue;
      memcpy (entry.sha256, slot_header->sha256, 32);
      entry.slot = index->len;
      ok = write_exactly (fd, buffer, table->stride, slot_offset (table, entry.slot));
      g_array_append_val (index, entry);
    }
  ok = ok && fsync (fd) == 0 && g_rename (tmp_path, table->path) == 0;
  if (!ok)
    {
      saved = errno;
      if (fd >= 0)
        {
          close (fd);
          g_unlink (tmp_path);
        }
      flock (table->fd, LOCK_UN);
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                   _("Cannot write the feature cache %s: %s"), table->path,
                   g_strerror (saved != 0 ? saved : ENOSPC));
      return FALSE;
    }
  /* Closing the old file lets go of its lock. */
  close (table->fd);
  table->fd = fd;
  if (n_removed != NULL)
    *n_removed = table->index->len - MIN (table->index->len, index->len);
  g_array_unref (table->index);
  table->index = g_steal_pointer (&index);
  table->sorted = FALSE;

  g_mutex_lock (&table->cache->lock);
  table->cache->size_known = FALSE;
  g_mutex_unlock (&table->cache->lock);
  return TRUE;
}

/**
 * leaf_feature_table_map:
 *
 * Maps the table as it stands for leaf_feature_table_row(); map it again after appending.
 */
gboolean
leaf_feature_table_map (LeafFeatureTable  *table,
                        GError           **error)
{
  gsize length = slot_offset (table, complete_slots (table));

  if (table->map != NULL)
    munmap (table->map, table->map_length);
  table->map = NULL;
  table->map_length = 0;
  if (length == sizeof (TableHeader))
    return TRUE;
  table->map = mmap (NULL, length, PROT_READ, MAP_SHARED, table->fd, 0);
  if (table->map == MAP_FAILED)
    {
      int saved = errno;
      table->map = NULL;
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                   _("Cannot map the feature cache %s: %s"), table->path, g_strerror (saved));
      return FALSE;
    }
  table->map_length = length;
  /* Batches pick rows at random. */
  madvise (table->map, length, MADV_RANDOM);
  return TRUE;
}

/**
 * leaf_feature_table_row:
 * @slot: a slot that leaf_feature_table_lookup() or leaf_feature_table_append() gave, before
 *   the table was last mapped
 *
 * Returns: the row's bytes, valid until the table is mapped again or freed
 */
gconstpointer
leaf_feature_table_row (LeafFeatureTable *table,
                        guint64           slot)
{
  g_return_val_if_fail (table->map != NULL, NULL);
  g_return_val_if_fail ((gsize) slot_offset (table, slot + 1) <= table->map_length, NULL);

  return table->map + slot_offset (table, slot) + sizeof (SlotHeader);
}

/**
 * leaf_feature_table_release:
 *
 * Lets go of the pages read through the mapping: they stay in the page cache, shared and
 * reclaimable, but stop counting in this process's resident memory.
 */
void
leaf_feature_table_release (LeafFeatureTable *table)
{
  if (table->map != NULL)
    madvise (table->map, table->map_length, MADV_DONTNEED);
}

const char *
leaf_feature_table_get_path (LeafFeatureTable *table)
{
  return table->path;
}

void
leaf_feature_table_free (LeafFeatureTable *table)
{
  if (table == NULL)
    return;
  if (table->map != NULL)
    munmap (table->map, table->map_length);
  if (table->fd >= 0)
    close (table->fd);
  if (table->cache != NULL)
    {
      table_set_open (table->cache, table->path, FALSE);
      g_object_unref (table->cache);
    }
  if (table->index != NULL)
    g_array_unref (table->index);
  g_free (table->slot_buffer);
  g_free (table->path);
  g_free (table);
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

/* Tables sit one folder down; earlier versions kept one file per photo two folders down, and
 * those are collected too so that trim() clears them out. */
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
      else if (S_ISREG (st.st_mode) && g_str_has_suffix (name, TABLE_SUFFIX))
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
 * @max_bytes: the new bound, which trim() applies
 */
void
leaf_feature_cache_set_max_bytes (LeafFeatureCache *self,
                                  guint64           max_bytes)
{
  g_return_if_fail (LEAF_IS_FEATURE_CACHE (self));
  self->max_bytes = max_bytes;
}

/**
 * leaf_feature_cache_trim:
 *
 * Removes the least recently used tables that are not open until the cache fits its bound.
 * A process that still has a removed table open keeps reading it; the next run computes it again.
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

  g_ptr_array_sort (entries, compare_oldest_first);
  for (guint i = 0; i < entries->len && total > self->max_bytes; i++)
    {
      Entry *e = entries->pdata[i];
      if (!g_hash_table_contains (self->open_tables, e->path) && g_unlink (e->path) == 0)
        total -= e->size;
    }
  self->size = total;
  self->size_known = TRUE;
  g_mutex_unlock (&self->lock);
}
