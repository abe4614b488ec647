/* leaf-weights-store.c
 *
 * The store is one folder, $XDG_DATA_HOME/leafscope/weights by default, holding:
 *
 *   <sha256>.pth, <sha256>.safetensors   verified weight files, named after their SHA-256
 *   <sha256>.pth.part                    a download in progress or interrupted; the next fetch
 *                                        of the same hash resumes it with an HTTP range request
 *   import-XXXXXX.tmp                    an import being copied and checked
 *   index.json, index.lock               where each file came from, and the lock guarding it
 *
 * A file only ever gets its final name by a rename after its hash (and, for files that are not
 * the official ones, its keys and shapes) were checked, so a crash or a cut connection can leave
 * a .part file but never a half-written weight file. A .part is kept after a network error or a
 * cancellation so that the next attempt continues where this one stopped; it is deleted when the
 * finished download has the wrong hash, when the server sends more than any weight file holds
 * (nothing to resume there), and when it holds no bytes at all.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-weights-store"

#include "config.h"

#include <inttypes.h>

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "leaf-error-private.h"
#include "leaf-json-private.h"
#include "leaf-json.h"
#include "leaf-post.h"
#include "leaf-weights-store.h"
#include "lt-weights.h"
#include "lt.h"

/* EfficientNet-B0 is 21 MB in float32; anything this large is not it, and a hostile or broken
 * mirror must not be able to fill the disk. */
#define MAX_WEIGHTS_BYTES (G_GINT64_CONSTANT (256) * 1024 * 1024)
#define CHUNK_BYTES (64 * 1024)
#define INDEX_VERSION 1

struct _LeafWeightsStore
{
  GObject parent_instance;

  char *directory;
  char *official_sha256;
  char *official_url;
  gint64 max_bytes;
};

G_DEFINE_FINAL_TYPE (LeafWeightsStore, leaf_weights_store, G_TYPE_OBJECT)
G_DEFINE_BOXED_TYPE (LeafWeightsInfo, leaf_weights_info, leaf_weights_info_copy,
                     leaf_weights_info_free)

enum {
  PROP_0,
  PROP_DIRECTORY,
  PROP_OFFICIAL_SHA256,
  PROP_OFFICIAL_URL,
  PROP_MAX_BYTES,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* Serialises index updates between stores of one process; index.lock does it between
 * processes. */
static GMutex index_mutex;

/* LeafWeightsInfo */

LeafWeightsInfo *
leaf_weights_info_copy (const LeafWeightsInfo *info)
{
  LeafWeightsInfo *copy;

  g_return_val_if_fail (info != NULL, NULL);

  copy = g_new0 (LeafWeightsInfo, 1);
  *copy = *info;
  copy->path = g_strdup (info->path);
  copy->sha256 = g_strdup (info->sha256);
  copy->origin = g_strdup (info->origin);
  copy->source = g_strdup (info->source);
  return copy;
}

void
leaf_weights_info_free (LeafWeightsInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->path);
  g_free (info->sha256);
  g_free (info->origin);
  g_free (info->source);
  g_free (info);
}

/* Object */

static void
leaf_weights_store_finalize (GObject *object)
{
  LeafWeightsStore *self = LEAF_WEIGHTS_STORE (object);

  g_clear_pointer (&self->directory, g_free);
  g_clear_pointer (&self->official_sha256, g_free);
  g_clear_pointer (&self->official_url, g_free);

  G_OBJECT_CLASS (leaf_weights_store_parent_class)->finalize (object);
}

/* Older versions kept the store in $XDG_CACHE_HOME, which cache cleaners empty: without a
 * network the weights cannot be fetched again. */
static void
leaf_weights_store_constructed (GObject *object)
{
  LeafWeightsStore *self = LEAF_WEIGHTS_STORE (object);
  g_autofree char *default_dir = leaf_weights_store_default_dir ();
  g_autofree char *old_dir = NULL;
  g_autoptr(GError) error = NULL;

  G_OBJECT_CLASS (leaf_weights_store_parent_class)->constructed (object);
  if (g_strcmp0 (self->directory, default_dir) != 0)
    return;
  old_dir = g_build_filename (g_get_user_cache_dir (), "leafscope", "weights", NULL);
  if (!leaf_weights_store_migrate (old_dir, default_dir, &error))
    g_warning ("%s", error->message);
}

static void
leaf_weights_store_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  LeafWeightsStore *self = LEAF_WEIGHTS_STORE (object);

  switch (prop_id)
    {
    case PROP_DIRECTORY: g_value_set_string (value, self->directory); break;
    case PROP_OFFICIAL_SHA256: g_value_set_string (value, self->official_sha256); break;
    case PROP_OFFICIAL_URL: g_value_set_string (value, self->official_url); break;
    case PROP_MAX_BYTES: g_value_set_int64 (value, self->max_bytes); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
leaf_weights_store_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  LeafWeightsStore *self = LEAF_WEIGHTS_STORE (object);
  const char *str = G_VALUE_HOLDS_STRING (value) ? g_value_get_string (value) : NULL;

  /* NULL keeps the default set in init. */
  switch (prop_id)
    {
    case PROP_DIRECTORY:
      if (str != NULL)
        {
          g_free (self->directory);
          self->directory = g_strdup (str);
        }
      break;
    case PROP_OFFICIAL_SHA256:
      if (str != NULL)
        {
          g_free (self->official_sha256);
          self->official_sha256 = g_ascii_strdown (str, -1);
        }
      break;
    case PROP_OFFICIAL_URL:
      if (str != NULL)
        {
          g_free (self->official_url);
          self->official_url = g_strdup (str);
        }
      break;
    case PROP_MAX_BYTES:
      self->max_bytes = g_value_get_int64 (value);
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
leaf_weights_store_class_init (LeafWeightsStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = leaf_weights_store_constructed;
  object_class->finalize = leaf_weights_store_finalize;
  object_class->get_property = leaf_weights_store_get_property;
  object_class->set_property = leaf_weights_store_set_property;

  properties[PROP_DIRECTORY] =
    g_param_spec_string ("directory", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /* The official file's identity; tests replace it so they need not serve the real 20 MB. */
  properties[PROP_OFFICIAL_SHA256] =
    g_param_spec_string ("official-sha256", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_OFFICIAL_URL] =
    g_param_spec_string ("official-url", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /* The largest file the store takes, downloaded or imported; tests lower it so that they
   * need not send 256 MiB to see a download stopped. */
  properties[PROP_MAX_BYTES] =
    g_param_spec_int64 ("max-bytes", NULL, NULL, 1, G_MAXINT64, MAX_WEIGHTS_BYTES,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
leaf_weights_store_init (LeafWeightsStore *self)
{
  self->directory = leaf_weights_store_default_dir ();
  self->official_sha256 = g_strdup (LEAF_WEIGHTS_OFFICIAL_SHA256);
  self->official_url = g_strdup (LEAF_WEIGHTS_OFFICIAL_URL);
}

/**
 * leaf_weights_store_default_dir:
 *
 * Returns: (transfer full): `$XDG_DATA_HOME/leafscope/weights`
 */
char *
leaf_weights_store_default_dir (void)
{
  return g_build_filename (g_get_user_data_dir (), "leafscope", "weights", NULL);
}

static gboolean
copy_folder (const char  *from,
             const char  *to,
             GError     **error)
{
  g_autoptr(GDir) dir = g_dir_open (from, 0, error);
  const char *name;

  if (dir == NULL)
    return FALSE;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *source_path = g_build_filename (from, name, NULL);
      g_autofree char *target_path = g_build_filename (to, name, NULL);
      g_autoptr(GFile) source = g_file_new_for_path (source_path);
      g_autoptr(GFile) target = g_file_new_for_path (target_path);

      if (!g_file_test (source_path, G_FILE_TEST_IS_REGULAR))
        continue;
      if (!g_file_copy (source, target, G_FILE_COPY_NOFOLLOW_SYMLINKS, NULL, NULL, NULL, error))
        return FALSE;
    }
  return TRUE;
}

static void
remove_folder (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      g_unlink (child);
    }
  g_rmdir (path);
}

/**
 * leaf_weights_store_migrate:
 * @old_dir: where an older version kept the store
 * @new_dir: where the store belongs now
 * @error: set when the store could not be moved
 *
 * Moves the store's folder from @old_dir to @new_dir, unless @old_dir does not exist or
 * @new_dir already does (a store there is never mixed with another). Across file systems the
 * files are copied to a folder beside @new_dir that takes its name only when every copy
 * succeeded, so that a full disk or a killed process leaves the old store whole.
 *
 * Returns: %FALSE with @error set when the move failed; @old_dir is then unchanged
 */
gboolean
leaf_weights_store_migrate (const char  *old_dir,
                            const char  *new_dir,
                            GError     **error)
{
  g_autofree char *parent = NULL;
  g_autofree char *staging = NULL;
  g_autoptr(GError) local_error = NULL;
  int saved_errno = 0;

  if (!g_file_test (old_dir, G_FILE_TEST_IS_DIR) || g_file_test (new_dir, G_FILE_TEST_EXISTS))
    return TRUE;
  parent = g_path_get_dirname (new_dir);
  if (g_mkdir_with_parents (parent, 0755) != 0)
    saved_errno = errno;
  else if (g_rename (old_dir, new_dir) == 0)
    return TRUE;
  else if (errno != EXDEV)
    saved_errno = errno;
  else
    {
      staging = g_build_filename (parent, "weights.moving-XXXXXX", NULL);
      if (g_mkdtemp (staging) == NULL)
        saved_errno = errno;
      else if (!copy_folder (old_dir, staging, &local_error))
        remove_folder (staging);
      else if (g_rename (staging, new_dir) != 0)
        {
          saved_errno = errno;
          remove_folder (staging);
        }
      else
        {
          remove_folder (old_dir);
          return TRUE;
        }
    }

  if (local_error == NULL)
    g_set_error_literal (&local_error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                         g_strerror (saved_errno));
  g_set_error (error, local_error->domain, local_error->code,
               _("Could not move the weights from %s to %s: %s"),
               old_dir, new_dir, local_error->message);
  return FALSE;
}

/**
 * leaf_weights_store_new:
 * @directory: (nullable): the store's folder, created when first written; %NULL for
 *   leaf_weights_store_default_dir()
 *
 * Returns: (transfer full): a store whose official weights are torchvision's
 */
LeafWeightsStore *
leaf_weights_store_new (const char *directory)
{
  return g_object_new (LEAF_TYPE_WEIGHTS_STORE, "directory", directory, NULL);
}

const char *
leaf_weights_store_get_directory (LeafWeightsStore *self)
{
  g_return_val_if_fail (LEAF_IS_WEIGHTS_STORE (self), NULL);
  return self->directory;
}

const char *
leaf_weights_store_get_official_sha256 (LeafWeightsStore *self)
{
  g_return_val_if_fail (LEAF_IS_WEIGHTS_STORE (self), NULL);
  return self->official_sha256;
}

const char *
leaf_weights_store_get_official_url (LeafWeightsStore *self)
{
  g_return_val_if_fail (LEAF_IS_WEIGHTS_STORE (self), NULL);
  return self->official_url;
}

/* Small helpers */

static gboolean
is_sha256_hex (const char *str)
{
  gsize i;

  for (i = 0; str[i] != '\0'; i++)
    if (!g_ascii_isxdigit (str[i]) || g_ascii_isupper (str[i]))
      return FALSE;
  return i == 64;
}

static gboolean
is_http_url (const char *url)
{
  g_autoptr(GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);

  return uri != NULL && g_uri_get_host (uri) != NULL && *g_uri_get_host (uri) != '\0'
         && (g_ascii_strcasecmp (g_uri_get_scheme (uri), "http") == 0
             || g_ascii_strcasecmp (g_uri_get_scheme (uri), "https") == 0);
}

/* The name a verified file with this hash has, or would have, in the store. */
static char *
weights_path (LeafWeightsStore *self,
              const char       *sha256,
              const char       *extension)
{
  g_autofree char *name = g_strconcat (sha256, extension, NULL);
  return g_build_filename (self->directory, name, NULL);
}

static char *
find_existing (LeafWeightsStore *self,
               const char       *sha256)
{
  static const char *const extensions[] = { ".pth", ".safetensors" };

  for (gsize i = 0; i < G_N_ELEMENTS (extensions); i++)
    {
      g_autofree char *path = weights_path (self, sha256, extensions[i]);
      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        return g_steal_pointer (&path);
    }
  return NULL;
}

static gboolean
ensure_directory (LeafWeightsStore  *self,
                  GError           **error)
{
  if (g_mkdir_with_parents (self->directory, 0755) != 0)
    {
      int saved = errno;
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                   _("Cannot create the weights folder %s: %s"), self->directory,
                   g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

static gboolean
write_all (int            fd,
           const guint8  *data,
           gsize          n_bytes)
{
  while (n_bytes > 0)
    {
      gssize n = write (fd, data, n_bytes);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      data += n;
      n_bytes -= n;
    }
  return TRUE;
}

/* Makes a rename into the folder survive a power cut. Failure only costs durability. */
static void
sync_directory (const char *directory)
{
  int fd = open (directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0)
    {
      fsync (fd);
      close (fd);
    }
}

/* Key-and-shape check: the file must load into torchvision's EfficientNet-B0 with every key
 * present and every shape right, except the classifier, which fine-tuning replaces anyway. */
static gboolean
check_compatible (const char  *path,
                  const char  *shown_name,
                  GError     **error)
{
  LtStateDict *state_dict = NULL;
  LtModel *model = NULL;
  char *message = NULL;
  LtStatus status;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GString) reason = NULL;
  g_autofree char *prefix = NULL;

  status = lt_state_dict_load (path, &state_dict, &message);
  if (status == LT_OK)
    status = lt_model_new (1000, &model, &message);
  if (status == LT_OK)
    status = lt_model_load_state_dict (model, state_dict, LT_LOAD_SKIP_MISMATCHED_HEAD,
                                       &message);
  lt_model_free (model);
  lt_state_dict_free (state_dict);
  if (status == LT_OK)
    return TRUE;

  leaf_engine_error_from_shim (status, message, &local_error);
  /* The shim's message may name our temporary copy; the user knows the file by another name,
   * which leads our message anyway. */
  reason = g_string_new (local_error->message);
  prefix = g_strconcat (path, ": ", NULL);
  if (g_str_has_prefix (reason->str, prefix))
    g_string_erase (reason, 0, strlen (prefix));
  g_string_replace (reason, path, shown_name, 0);
  g_set_error (error, LEAF_ENGINE_ERROR, local_error->code,
               _("%s is not a weight file for torchvision’s EfficientNet-B0, so it cannot "
                 "serve as pretrained weights: %s"),
               shown_name, reason->str);
  return FALSE;
}

/* Index */

typedef struct
{
  int fd;
} IndexLock;

static void
index_unlock (IndexLock *lock)
{
  if (lock->fd >= 0)
    close (lock->fd);
  g_mutex_unlock (&index_mutex);
  g_free (lock);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (IndexLock, index_unlock)

static IndexLock *
index_lock (LeafWeightsStore *self)
{
  g_autofree char *path = g_build_filename (self->directory, "index.lock", NULL);
  IndexLock *lock = g_new0 (IndexLock, 1);

  g_mutex_lock (&index_mutex);
  /* Without the lock file (a read-only cache) the index is still read; writing it fails later
   * with a clear message. */
  lock->fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock->fd >= 0)
    while (flock (lock->fd, LOCK_EX) != 0 && errno == EINTR)
      ;
  return lock;
}

/* One entry of index.json as index_add() writes it, or NULL when it is anything else. */
static LeafWeightsInfo *
index_entry (JsonNode *node)
{
  JsonObject *object = _leaf_json_node_object (node);
  const char *sha256, *origin, *source;
  gint64 added;
  LeafWeightsInfo *info;

  if (object == NULL)
    return NULL;
  sha256 = _leaf_json_string_member (object, "sha256");
  origin = _leaf_json_string_member (object, "origin");
  source = _leaf_json_string_member (object, "source");
  added = _leaf_json_int_member (object, "added", -1);
  if (sha256 == NULL || !is_sha256_hex (sha256) || origin == NULL || source == NULL || added < 0)
    return NULL;

  info = g_new0 (LeafWeightsInfo, 1);
  info->sha256 = g_strdup (sha256);
  info->origin = g_strdup (origin);
  info->source = g_strdup (source);
  info->added = added;
  return info;
}

/* Reads index.json. A missing index is an empty one, and so is a damaged one, whatever its
 * damage (then *damaged is set, when not NULL): every file in the store stands on its own, its
 * name being its verified hash, and the index only adds where it came from. */
static GPtrArray *
index_read (LeafWeightsStore *self,
            gboolean         *damaged)
{
  g_autofree char *path = g_build_filename (self->directory, "index.json", NULL);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func (
    (GDestroyNotify) leaf_weights_info_free);
  g_autoptr(GError) error = NULL;
  JsonObject *root;
  JsonArray *files;

  if (damaged != NULL)
    *damaged = FALSE;
  if (!json_parser_load_from_file (parser, path, &error))
    {
      if (damaged != NULL)
        *damaged = !g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
      return g_steal_pointer (&entries);
    }
  root = _leaf_json_node_object (json_parser_get_root (parser));
  files = root != NULL ? _leaf_json_array_member (root, "files") : NULL;
  for (guint i = 0; files != NULL && i < json_array_get_length (files); i++)
    {
      LeafWeightsInfo *info = index_entry (json_array_get_element (files, i));

      if (info == NULL)
        {
          files = NULL;
          break;
        }
      g_ptr_array_add (entries, info);
    }
  if (files == NULL)
    {
      if (damaged != NULL)
        *damaged = TRUE;
      g_ptr_array_set_size (entries, 0);
    }
  return g_steal_pointer (&entries);
}

/* Replaces index.json with entries; the caller holds the index lock. */
static gboolean
index_write (LeafWeightsStore  *self,
             GPtrArray         *entries,
             GError           **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *path = g_build_filename (self->directory, "index.json", NULL);
  g_autofree char *text = NULL;
  g_autoptr(GError) local_error = NULL;
  gsize length;

  json_builder_begin_object (builder);
  leaf_json_add_int (builder, "version", INDEX_VERSION);
  leaf_json_begin_array (builder, "files");
  for (guint i = 0; i < entries->len; i++)
    {
      LeafWeightsInfo *e = entries->pdata[i];

      json_builder_begin_object (builder);
      leaf_json_add_string (builder, "sha256", e->sha256);
      leaf_json_add_string (builder, "origin", e->origin);
      leaf_json_add_string (builder, "source", e->source);
      leaf_json_add_int (builder, "added", e->added);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  text = json_generator_to_data (generator, &length);
  if (!g_file_set_contents_full (path, text, length,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 0644, &local_error))
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                   _("Cannot update the weights index: %s"), local_error->message);
      return FALSE;
    }
  return TRUE;
}

/* A damaged index is rebuilt as the lost one would be: listing only the files in the folder,
 * by their hashes, and no longer saying where any came from. */
static void
index_rebuild (LeafWeightsStore *self)
{
  g_autoptr(IndexLock) lock = index_lock (self);
  g_autoptr(GPtrArray) entries = NULL;
  g_autoptr(GError) error = NULL;
  gboolean damaged;

  /* Another process may have rewritten it since it was read. */
  entries = index_read (self, &damaged);
  if (!damaged)
    return;
  if (index_write (self, entries, &error))
    g_message ("The weights index in %s was damaged and has been rebuilt: the weight files are "
               "all kept, but where they came from is forgotten", self->directory);
  else
    g_message ("The weights index in %s is damaged and is ignored: %s", self->directory,
               error->message);
}

/* Records where the file with this hash came from, unless the index already knows it: the
 * first origin of a file is the one worth telling. */
static gboolean
index_add (LeafWeightsStore  *self,
           const char        *sha256,
           const char        *origin,
           const char        *source,
           GError           **error)
{
  g_autoptr(IndexLock) lock = index_lock (self);
  g_autoptr(GPtrArray) entries = index_read (self, NULL);
  LeafWeightsInfo *info;

  /* A damaged index reads as empty and is replaced by a sound one here. */
  for (guint i = 0; i < entries->len; i++)
    if (g_str_equal (((LeafWeightsInfo *) entries->pdata[i])->sha256, sha256))
      return TRUE;

  info = g_new0 (LeafWeightsInfo, 1);
  info->sha256 = g_strdup (sha256);
  info->origin = g_strdup (origin);
  info->source = g_strdup (source);
  info->added = g_get_real_time () / G_USEC_PER_SEC;
  g_ptr_array_add (entries, info);
  return index_write (self, entries, error);
}

/* Listing */

static gint
compare_info (gconstpointer a,
              gconstpointer b)
{
  const LeafWeightsInfo *x = *(LeafWeightsInfo *const *) a;
  const LeafWeightsInfo *y = *(LeafWeightsInfo *const *) b;

  if (x->official != y->official)
    return x->official ? -1 : 1;
  if (x->added != y->added)
    return x->added > y->added ? -1 : 1;
  return strcmp (x->sha256, y->sha256);
}

/**
 * leaf_weights_store_list:
 *
 * Every verified weight file in the store: the official one first, then the others, most
 * recently added first. Partial downloads are not listed.
 *
 * Returns: (transfer full) (element-type LeafWeightsInfo): the files, possibly none
 */
GPtrArray *
leaf_weights_store_list (LeafWeightsStore *self)
{
  g_autoptr(GPtrArray) result = NULL;
  g_autoptr(GPtrArray) entries = NULL;
  g_autoptr(GDir) dir = NULL;
  const char *name;
  gboolean damaged;

  g_return_val_if_fail (LEAF_IS_WEIGHTS_STORE (self), NULL);

  result = g_ptr_array_new_with_free_func ((GDestroyNotify) leaf_weights_info_free);
  dir = g_dir_open (self->directory, 0, NULL);
  if (dir == NULL)
    return g_steal_pointer (&result);

  /* No lock needed to read: the index is only ever replaced whole, by a rename. */
  entries = index_read (self, &damaged);
  if (damaged)
    index_rebuild (self);

  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *sha256 = NULL;
      const char *dot = strchr (name, '.');
      LeafWeightsInfo *info;
      GStatBuf st;

      if (dot == NULL || (!g_str_equal (dot, ".pth") && !g_str_equal (dot, ".safetensors")))
        continue;
      sha256 = g_strndup (name, dot - name);
      if (!is_sha256_hex (sha256))
        continue;

      info = g_new0 (LeafWeightsInfo, 1);
      info->path = g_build_filename (self->directory, name, NULL);
      if (g_stat (info->path, &st) != 0 || !S_ISREG (st.st_mode))
        {
          leaf_weights_info_free (info);
          continue;
        }
      info->sha256 = g_steal_pointer (&sha256);
      info->size = st.st_size;
      info->official = g_str_equal (info->sha256, self->official_sha256);
      for (guint i = 0; i < entries->len; i++)
        {
          LeafWeightsInfo *e = entries->pdata[i];
          if (g_str_equal (e->sha256, info->sha256))
            {
              info->origin = g_strdup (e->origin);
              info->source = g_strdup (e->source);
              info->added = e->added;
              break;
            }
        }
      g_ptr_array_add (result, info);
    }

  g_ptr_array_sort (result, compare_info);
  return g_steal_pointer (&result);
}

/**
 * leaf_weights_store_find_default:
 *
 * The weights to start fine-tuning from: the official file when it is present, else the most
 * recently downloaded or imported compatible one. Files the index does not know (it was lost)
 * are only used when they are the official ones, recognised by their hash.
 *
 * Returns: (transfer full) (nullable): the file, or %NULL when the store has none
 */
LeafWeightsInfo *
leaf_weights_store_find_default (LeafWeightsStore *self)
{
  g_autoptr(GPtrArray) all = NULL;

  g_return_val_if_fail (LEAF_IS_WEIGHTS_STORE (self), NULL);

  all = leaf_weights_store_list (self);
  for (guint i = 0; i < all->len; i++)
    {
      LeafWeightsInfo *info = all->pdata[i];
      if (info->official || info->origin != NULL)
        return leaf_weights_info_copy (info);
    }
  return NULL;
}

/* Fetching */

/* Progress crosses from the download thread to the caller's context. Updates coalesce: at most
 * one delivery is queued at a time and it reports the latest numbers. After the caller took
 * the result, nothing more is delivered. */
typedef struct
{
  GMainContext *context;
  LeafWeightsProgressFunc func;
  gpointer data;

  GMutex lock;
  goffset received;
  goffset total;
  gboolean pending;
  gboolean finished;
} Progress;

static void
progress_clear (Progress *progress)
{
  g_main_context_unref (progress->context);
  g_mutex_clear (&progress->lock);
}

static void
progress_release (gpointer data)
{
  g_atomic_rc_box_release_full (data, (GDestroyNotify) progress_clear);
}

static gboolean
progress_deliver_cb (gpointer data)
{
  Progress *progress = data;
  goffset received, total;
  gboolean finished;

  g_mutex_lock (&progress->lock);
  progress->pending = FALSE;
  received = progress->received;
  total = progress->total;
  finished = progress->finished;
  g_mutex_unlock (&progress->lock);

  if (!finished)
    progress->func (received, total, progress->data);
  return G_SOURCE_REMOVE;
}

static void
progress_report (Progress *progress,
                 goffset   received,
                 goffset   total)
{
  gboolean queue;

  if (progress == NULL)
    return;

  g_mutex_lock (&progress->lock);
  progress->received = received;
  progress->total = total;
  queue = !progress->pending && !progress->finished;
  progress->pending |= queue;
  g_mutex_unlock (&progress->lock);

  if (queue)
    leaf_post (progress->context, progress_deliver_cb, g_atomic_rc_box_acquire (progress),
               progress_release, "[leafscope] weights download progress");
}

typedef struct
{
  char *url;
  char *sha256;
  gboolean official;
  gint64 max_bytes;
  Progress *progress;
} FetchData;

static void
fetch_data_free (FetchData *data)
{
  g_free (data->url);
  g_free (data->sha256);
  g_clear_pointer (&data->progress, progress_release);
  g_free (data);
}

/* Feeds the bytes already in the partial file into checksum; returns how many there are. */
static goffset
hash_partial (int            fd,
              GChecksum     *checksum,
              GCancellable  *cancellable,
              GError       **error)
{
  g_autofree guint8 *buffer = g_malloc (CHUNK_BYTES);
  goffset offset = 0;

  for (;;)
    {
      gssize n = pread (fd, buffer, CHUNK_BYTES, offset);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved = errno;
          g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                       _("Cannot read the partial download: %s"), g_strerror (saved));
          return -1;
        }
      if (n == 0)
        return offset;
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return -1;
      g_checksum_update (checksum, buffer, n);
      offset += n;
    }
}

static gboolean
restart_partial (int            fd,
                 GChecksum     *checksum,
                 goffset       *offset,
                 GError       **error)
{
  if (ftruncate (fd, 0) != 0 || lseek (fd, 0, SEEK_SET) != 0)
    {
      int saved = errno;
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                   _("Cannot restart the partial download: %s"), g_strerror (saved));
      return FALSE;
    }
  g_checksum_reset (checksum);
  *offset = 0;
  return TRUE;
}

/* Turns a transfer failure into the error the user sees; the bytes already received stay in
 * the partial file for the next attempt. */
static void
set_transfer_error (GError     **error,
                    GError      *cause,
                    const char  *url,
                    goffset      kept)
{
  g_autofree char *kept_text = NULL;

  if (kept > 0)
    {
      g_autofree char *size = g_format_size (kept);
      kept_text = g_strdup_printf (_("The %s received so far are kept; the next attempt resumes "
                                     "from there."), size);
    }

  if (g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_CANCELLED,
                 _("The download of the pretrained weights was cancelled.%s%s"),
                 kept_text ? " " : "", kept_text ? kept_text : "");
  else
    g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                 _("Cannot download the pretrained weights from %s: %s.%s%s"), url,
                 cause->message, kept_text ? " " : "", kept_text ? kept_text : "");
}

/* Downloads url into fd, resuming after the bytes already there, and leaves in checksum the
 * hash of the whole file. */
static gboolean
download (FetchData     *data,
          int            fd,
          GChecksum     *checksum,
          GCancellable  *cancellable,
          GError       **error)
{
  g_autoptr(SoupSession) session = NULL;
  g_autoptr(GError) hash_error = NULL;
  g_autofree guint8 *buffer = NULL;
  goffset offset;

  offset = hash_partial (fd, checksum, cancellable, &hash_error);
  if (offset < 0)
    {
      if (g_error_matches (hash_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        set_transfer_error (error, hash_error, data->url, 0);
      else
        g_propagate_error (error, g_steal_pointer (&hash_error));
      return FALSE;
    }
  if (lseek (fd, offset, SEEK_SET) != offset)
    {
      int saved = errno;
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                   _("Cannot read the partial download: %s"), g_strerror (saved));
      return FALSE;
    }

  /* The session's default proxy resolver follows the desktop's and the environment's proxy
   * settings. Without the content decoder no compression is negotiated, so range offsets count
   * the file's own bytes. */
  session = soup_session_new_with_options ("user-agent", "Leafscope/" PACKAGE_VERSION,
                                           "timeout", 60,
                                           NULL);
  soup_session_remove_feature_by_type (session, SOUP_TYPE_CONTENT_DECODER);
  buffer = g_malloc (CHUNK_BYTES);

  /* The second round only happens when the server refused our range (416): the partial file
   * was then restarted from zero. */
  for (int round = 0; round < 2; round++)
    {
      g_autoptr(SoupMessage) message = soup_message_new (SOUP_METHOD_GET, data->url);
      g_autoptr(GInputStream) stream = NULL;
      g_autoptr(GError) local_error = NULL;
      SoupMessageHeaders *headers;
      goffset total = -1;
      guint status;

      if (offset > 0)
        soup_message_headers_set_range (soup_message_get_request_headers (message), offset, -1);

      stream = soup_session_send (session, message, cancellable, &local_error);
      if (stream == NULL)
        {
          set_transfer_error (error, local_error, data->url, offset);
          return FALSE;
        }

      status = soup_message_get_status (message);
      headers = soup_message_get_response_headers (message);
      if (status == SOUP_STATUS_PARTIAL_CONTENT && offset > 0)
        {
          goffset start, end;

          if (!soup_message_headers_get_content_range (headers, &start, &end, &total)
              || start != offset)
            {
              g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FORMAT,
                           _("The server at %s answered a request to resume the download with "
                             "the wrong part of the file."), data->url);
              return FALSE;
            }
        }
      else if (status == SOUP_STATUS_OK)
        {
          /* A 200 to a range request is the whole file: start again from zero. */
          if (offset > 0 && !restart_partial (fd, checksum, &offset, error))
            return FALSE;
          if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CONTENT_LENGTH)
            total = soup_message_headers_get_content_length (headers);
        }
      else if (status == SOUP_STATUS_REQUESTED_RANGE_NOT_SATISFIABLE && offset > 0 && round == 0)
        {
          /* Either the partial file is already complete, or it is longer than the file on
           * the server and cannot be part of it. */
          g_autoptr(GChecksum) copy = g_checksum_copy (checksum);
          if (g_str_equal (g_checksum_get_string (copy), data->sha256))
            return TRUE;
          if (!restart_partial (fd, checksum, &offset, error))
            return FALSE;
          continue;
        }
      else
        {
          g_set_error (error, LEAF_ENGINE_ERROR,
                       status == SOUP_STATUS_NOT_FOUND || status == SOUP_STATUS_GONE
                         ? LEAF_ENGINE_ERROR_NOT_FOUND : LEAF_ENGINE_ERROR_IO,
                       _("Cannot download the pretrained weights: the server answered “%u %s” "
                         "for %s."), status, soup_message_get_reason_phrase (message),
                       data->url);
          return FALSE;
        }

      if (total > data->max_bytes)
        {
          g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_UNSAFE,
                       _("%s is %" PRId64 " bytes long, far more than any "
                         "EfficientNet-B0 weight file; it was not downloaded."),
                       data->url, (gint64) total);
          return FALSE;
        }

      progress_report (data->progress, offset, total);
      for (;;)
        {
          gssize n = g_input_stream_read (stream, buffer, CHUNK_BYTES, cancellable,
                                          &local_error);
          if (n < 0)
            {
              set_transfer_error (error, local_error, data->url, offset);
              return FALSE;
            }
          if (n == 0)
            break;
          if (offset + n > data->max_bytes)
            {
              g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_UNSAFE,
                           _("%s sends more data than any EfficientNet-B0 weight file holds; "
                             "the download was stopped and what it sent was deleted."),
                           data->url);
              return FALSE;
            }
          if (!write_all (fd, buffer, n))
            {
              int saved = errno;
              g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                           _("Cannot write the download: %s"), g_strerror (saved));
              return FALSE;
            }
          g_checksum_update (checksum, buffer, n);
          offset += n;
          progress_report (data->progress, offset, total);
        }

      if (total >= 0 && offset != total)
        {
          g_autoptr(GError) cause = g_error_new (G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT,
                                                 _("the connection closed early"));
          set_transfer_error (error, cause, data->url, offset);
          return FALSE;
        }
      return TRUE;
    }
  g_assert_not_reached ();
}

/* Opens and locks the partial file. Another process may finish (rename) or delete the file
 * between our open and our lock, so the lock only counts if the name still leads to the file we
 * locked. */
static int
open_partial (const char  *part_path,
              GError     **error)
{
  for (int attempt = 0; attempt < 3; attempt++)
    {
      struct stat by_fd, by_name;
      int fd = open (part_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

      if (fd < 0)
        {
          int saved = errno;
          g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                       _("Cannot create %s: %s"), part_path, g_strerror (saved));
          return -1;
        }
      if (flock (fd, LOCK_EX | LOCK_NB) != 0)
        {
          close (fd);
          g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FAILED,
                       _("These weights are already being downloaded into %s; wait for that "
                         "download to finish."), part_path);
          return -1;
        }
      if (fstat (fd, &by_fd) == 0 && stat (part_path, &by_name) == 0
          && by_fd.st_dev == by_name.st_dev && by_fd.st_ino == by_name.st_ino)
        return fd;
      close (fd);
    }
  g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FAILED,
               _("Cannot lock %s: another program keeps replacing it."), part_path);
  return -1;
}

static void
fetch_thread (GTask        *task,
              gpointer      source_object,
              gpointer      task_data,
              GCancellable *cancellable)
{
  LeafWeightsStore *self = source_object;
  FetchData *data = task_data;
  g_autofree char *final_path = NULL;
  g_autofree char *part_path = NULL;
  g_autoptr(GChecksum) checksum = NULL;
  g_autoptr(GError) error = NULL;
  const char *digest;
  gboolean keep_partial = TRUE;
  GStatBuf st;
  int fd = -1;

  final_path = find_existing (self, data->sha256);
  if (final_path != NULL)
    goto done;
  if (!ensure_directory (self, &error))
    goto failed;

  final_path = weights_path (self, data->sha256, ".pth");
  part_path = g_strconcat (final_path, ".part", NULL);
  fd = open_partial (part_path, &error);
  if (fd < 0)
    goto failed;
  /* Another process may have completed the same download while we waited. */
  if (g_file_test (final_path, G_FILE_TEST_IS_REGULAR))
    goto done;

  checksum = g_checksum_new (G_CHECKSUM_SHA256);
  if (!download (data, fd, checksum, cancellable, &error))
    {
      /* More than any weight file holds is nothing to resume. */
      keep_partial = !g_error_matches (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_UNSAFE);
      goto failed;
    }

  digest = g_checksum_get_string (checksum);
  if (!g_str_equal (digest, data->sha256))
    {
      keep_partial = FALSE;
      g_set_error (&error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_MISMATCH,
                   _("The file downloaded from %s is not the expected one: its SHA-256 is %s "
                     "where %s was expected. It was deleted. If this is a mirror, it serves "
                     "a different file."), data->url, digest, data->sha256);
      goto failed;
    }
  if (fsync (fd) != 0)
    {
      int saved = errno;
      g_set_error (&error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                   _("Cannot write %s: %s"), part_path, g_strerror (saved));
      goto failed;
    }
  if (!data->official && !check_compatible (part_path, data->url, &error))
    {
      keep_partial = FALSE;
      goto failed;
    }
  if (g_rename (part_path, final_path) != 0)
    {
      int saved = errno;
      g_set_error (&error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                   _("Cannot move the download into place as %s: %s"), final_path,
                   g_strerror (saved));
      goto failed;
    }
  sync_directory (self->directory);
  close (fd);
  fd = -1;

  /* The file is in place; failing to note its origin only loses the "downloaded from" line. */
  if (!index_add (self, data->sha256, "download", data->url, &error))
    {
      g_warning ("%s", error->message);
      g_clear_error (&error);
    }

done:
  if (fd >= 0)
    close (fd);
  g_task_return_pointer (task, g_steal_pointer (&final_path), g_free);
  return;

failed:
  if (fd >= 0)
    {
      /* Still holding the lock, so nobody else is writing it. */
      if (!keep_partial || (fstat (fd, &st) == 0 && st.st_size == 0))
        g_unlink (part_path);
      close (fd);
    }
  g_task_return_error (task, g_steal_pointer (&error));
}

/**
 * leaf_weights_store_fetch_async:
 * @url: (nullable): where to download from; %NULL for the official address
 * @sha256: (nullable): the expected SHA-256 in hex; %NULL for the official file's
 * @progress: (nullable) (scope call): called on the current thread-default main context as
 *   bytes arrive, never after leaf_weights_store_fetch_finish() was called
 * @progress_data: data for @progress; must live until @callback runs
 *
 * Gets a weight file into the store unless it is there already, resuming an earlier partial
 * download of the same hash. The transfer follows the system proxy settings. When the hash is
 * not the official one, the file must also pass the key-and-shape check.
 *
 * A cancelled or interrupted download leaves `<sha256>.pth.part` behind for the next attempt;
 * a download with the wrong hash, an incompatible file, or one larger than any weight file
 * (#LeafWeightsStore:max-bytes) is deleted.
 */
void
leaf_weights_store_fetch_async (LeafWeightsStore        *self,
                                const char              *url,
                                const char              *sha256,
                                GCancellable            *cancellable,
                                LeafWeightsProgressFunc  progress,
                                gpointer                 progress_data,
                                GAsyncReadyCallback      callback,
                                gpointer                 user_data)
{
  g_autoptr(GTask) task = NULL;
  FetchData *data;

  g_return_if_fail (LEAF_IS_WEIGHTS_STORE (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, leaf_weights_store_fetch_async);
  /* Our own cancellation error says what was kept; GTask's would hide it. */
  g_task_set_check_cancellable (task, FALSE);

  data = g_new0 (FetchData, 1);
  data->url = g_strdup (url != NULL ? url : self->official_url);
  data->sha256 = g_ascii_strdown (sha256 != NULL ? sha256 : self->official_sha256, -1);
  data->official = g_str_equal (data->sha256, self->official_sha256);
  data->max_bytes = self->max_bytes;
  if (progress != NULL)
    {
      data->progress = g_atomic_rc_box_new0 (Progress);
      data->progress->context = g_main_context_ref_thread_default ();
      data->progress->func = progress;
      data->progress->data = progress_data;
      g_mutex_init (&data->progress->lock);
    }
  g_task_set_task_data (task, data, (GDestroyNotify) fetch_data_free);

  if (!is_sha256_hex (data->sha256))
    {
      g_task_return_new_error (task, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                               _("“%s” is not a SHA-256 hash (64 hexadecimal digits)"), sha256);
      return;
    }
  if (!is_http_url (data->url))
    {
      g_task_return_new_error (task, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                               _("“%s” is not an http or https address"), data->url);
      return;
    }
  g_task_run_in_thread (task, fetch_thread);
}

/**
 * leaf_weights_store_fetch_finish:
 *
 * Returns: (transfer full): the path of the verified file in the store, or %NULL with @error
 *   set; LEAF_ENGINE_ERROR_CANCELLED when cancelled
 */
char *
leaf_weights_store_fetch_finish (LeafWeightsStore  *self,
                                 GAsyncResult      *result,
                                 GError           **error)
{
  FetchData *data;

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == leaf_weights_store_fetch_async,
                        NULL);

  data = g_task_get_task_data (G_TASK (result));
  if (data->progress != NULL)
    {
      g_mutex_lock (&data->progress->lock);
      data->progress->finished = TRUE;
      g_mutex_unlock (&data->progress->lock);
    }
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Importing */

/* Copies path into a new temporary file in the store while hashing it, so that the hash
 * describes exactly the bytes kept even if the source changes meanwhile. */
static char *
copy_to_temporary (LeafWeightsStore  *self,
                   const char        *path,
                   GChecksum         *checksum,
                   GCancellable      *cancellable,
                   GError           **error)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFileInputStream) input = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *temp_path = NULL;
  g_autofree guint8 *buffer = NULL;
  goffset copied = 0;
  int fd;

  input = g_file_read (file, cancellable, &local_error);
  if (input == NULL)
    {
      g_set_error (error, LEAF_ENGINE_ERROR,
                   g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND)
                     ? LEAF_ENGINE_ERROR_NOT_FOUND : LEAF_ENGINE_ERROR_IO,
                   _("Cannot read %s: %s"), path, local_error->message);
      return NULL;
    }
  if (!ensure_directory (self, error))
    return NULL;

  temp_path = g_build_filename (self->directory, "import-XXXXXX.tmp", NULL);
  fd = g_mkstemp_full (temp_path, O_RDWR | O_CLOEXEC, 0644);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                   _("Cannot write in the weights folder %s: %s"), self->directory,
                   g_strerror (saved));
      return NULL;
    }

  buffer = g_malloc (CHUNK_BYTES);
  for (;;)
    {
      gssize n = g_input_stream_read (G_INPUT_STREAM (input), buffer, CHUNK_BYTES, cancellable,
                                      &local_error);
      if (n < 0)
        {
          g_set_error (error, LEAF_ENGINE_ERROR,
                       g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
                         ? LEAF_ENGINE_ERROR_CANCELLED : LEAF_ENGINE_ERROR_IO,
                       _("Cannot read %s: %s"), path, local_error->message);
          break;
        }
      if (copied + n > self->max_bytes)
        {
          g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_UNSAFE,
                       _("%s is larger than any EfficientNet-B0 weight file; it was not "
                         "imported."), path);
          break;
        }
      if ((n > 0 && !write_all (fd, buffer, n)) || (n == 0 && fsync (fd) != 0))
        {
          int saved = errno;
          g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                       _("Cannot write in the weights folder %s: %s"), self->directory,
                       g_strerror (saved));
          break;
        }
      if (n == 0)
        {
          close (fd);
          return g_steal_pointer (&temp_path);
        }
      g_checksum_update (checksum, buffer, n);
      copied += n;
    }

  close (fd);
  g_unlink (temp_path);
  return NULL;
}

/**
 * leaf_weights_store_import:
 * @path: a weight file on disk
 * @is_official: (out) (optional): whether it is the official file, recognised by its hash
 *
 * Copies a weight file into the store under its hash's name. The official file is recognised
 * by its hash; any other file is accepted only when it passes the key-and-shape check against
 * torchvision's EfficientNet-B0 (the classifier excepted), and callers should then warn that
 * the base weights are not the official ones. Blocks while it copies and checks; the UI uses
 * leaf_weights_store_import_async().
 *
 * Returns: (transfer full): the path of the file in the store, or %NULL with @error set
 *   (LEAF_ENGINE_ERROR_MISMATCH or _FORMAT for a file that does not fit)
 */
char *
leaf_weights_store_import (LeafWeightsStore  *self,
                           const char        *path,
                           gboolean          *is_official,
                           GCancellable      *cancellable,
                           GError           **error)
{
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree char *temp_path = NULL;
  g_autofree char *final_path = NULL;
  g_autofree char *absolute = NULL;
  const char *sha256;
  gboolean official;

  g_return_val_if_fail (LEAF_IS_WEIGHTS_STORE (self), NULL);
  g_return_val_if_fail (path != NULL, NULL);

  temp_path = copy_to_temporary (self, path, checksum, cancellable, error);
  if (temp_path == NULL)
    return NULL;

  sha256 = g_checksum_get_string (checksum);
  official = g_str_equal (sha256, self->official_sha256);
  if (!official && !check_compatible (temp_path, path, error))
    {
      g_unlink (temp_path);
      return NULL;
    }

  final_path = find_existing (self, sha256);
  if (final_path != NULL)
    g_unlink (temp_path);
  else
    {
      final_path = weights_path (self, sha256,
                                 g_str_has_suffix (path, ".safetensors") ? ".safetensors"
                                                                         : ".pth");
      if (g_rename (temp_path, final_path) != 0)
        {
          int saved = errno;
          g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                       _("Cannot move the imported file into place as %s: %s"), final_path,
                       g_strerror (saved));
          g_unlink (temp_path);
          return NULL;
        }
      sync_directory (self->directory);
    }

  absolute = g_canonicalize_filename (path, NULL);
  if (!index_add (self, sha256, "import", absolute, error))
    return NULL;
  if (is_official != NULL)
    *is_official = official;
  return g_steal_pointer (&final_path);
}

typedef struct
{
  char *path;
  gboolean official;
} ImportResult;

static void
import_result_free (ImportResult *result)
{
  g_free (result->path);
  g_free (result);
}

static void
import_thread (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  g_autoptr(GError) error = NULL;
  ImportResult *result = g_new0 (ImportResult, 1);

  result->path = leaf_weights_store_import (source_object, task_data, &result->official,
                                            cancellable, &error);
  if (result->path == NULL)
    {
      import_result_free (result);
      g_task_return_error (task, g_steal_pointer (&error));
    }
  else
    g_task_return_pointer (task, result, (GDestroyNotify) import_result_free);
}

/**
 * leaf_weights_store_import_async:
 *
 * leaf_weights_store_import() on a worker thread.
 */
void
leaf_weights_store_import_async (LeafWeightsStore    *self,
                                 const char          *path,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (LEAF_IS_WEIGHTS_STORE (self));
  g_return_if_fail (path != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, leaf_weights_store_import_async);
  g_task_set_check_cancellable (task, FALSE);
  g_task_set_task_data (task, g_strdup (path), g_free);
  g_task_run_in_thread (task, import_thread);
}

/**
 * leaf_weights_store_import_finish:
 * @is_official: (out) (optional): whether it is the official file
 *
 * Returns: (transfer full): the path of the file in the store, or %NULL with @error set
 */
char *
leaf_weights_store_import_finish (LeafWeightsStore  *self,
                                  GAsyncResult      *result,
                                  gboolean          *is_official,
                                  GError           **error)
{
  ImportResult *import;
  char *path;

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == leaf_weights_store_import_async,
                        NULL);

  import = g_task_propagate_pointer (G_TASK (result), error);
  if (import == NULL)
    return NULL;
  if (is_official != NULL)
    *is_official = import->official;
  path = g_steal_pointer (&import->path);
  import_result_free (import);
  return path;
}
