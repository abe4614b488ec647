/* leaf-thumbnailer.c: thumbnails decoded off the main thread and cached on disk
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Requests queue on a pool of low-priority threads, at most half the cores, so that scrolling a
 * grid of thousands of photos never competes with the interface or a training run. The pool's
 * threads are its own (exclusive) because lowering a thread's priority cannot be undone without
 * privileges, and GLib's shared threads also run other work.
 *
 * The newest request is served first: after a jump through a long grid the cells on screen asked
 * last, and the requests of the cells scrolled past wait (their cells cancelled them, so they
 * cost nothing when their turn comes). The pool only counts requests; the requests themselves
 * wait on a stack, since a GThreadPool's queue is first in, first out.
 *
 * Each thumbnail is a JPEG at <cache_dir>/<size>/<sha256>.jpg, so a photo that moves keeps its
 * thumbnail and an edited one (new hash) gets a new one. Thumbnails are photos without alpha, and
 * JPEG keeps them at a sixth of a PNG's size (17 KB rather than 104 KB for a 256-pixel leaf), at
 * most 25 KB for 256 × 256 pixels. A PNG left by an earlier version is read and rewritten as JPEG.
 */

#define G_LOG_DOMAIN "leaf-thumbnailer"

#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#ifdef __linux__
#include <sys/resource.h>
#endif

#include "leaf-error.h"
#include "leaf-file.h"
#include "leaf-image-private.h"
#include "leaf-thumbnailer-private.h"

#define MAX_THUMBNAIL_SIZE 2048

/* Tried in turn until a thumbnail fits its budget. On the tomato leaves of the tests' data, 86 %
 * fit at the first, the grainiest at the last; quality 85 costs a quarter more for no difference
 * seen at that size. */
static const char *const qualities[] = { "80", "70", "60" };
#define BUDGET_PER_PIXEL (25.0 * 1024 / (256 * 256))

/* The nice value of the pool's threads. */
#define THUMBNAIL_NICE 10

struct _LeafThumbnailer
{
  GObject      parent_instance;

  char        *cache_dir;
  guint        n_threads;
  GThreadPool *pool; /* one item, a reference to self, per request on the stack */

  GMutex       lock;
  GQueue       pending; /* GTask, the newest first */
  gboolean     held;
  GCond        released;
};

G_DEFINE_FINAL_TYPE (LeafThumbnailer, leaf_thumbnailer, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_CACHE_DIR,
  PROP_THREADS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

typedef struct
{
  char  *path;
  LeafCatalogImage *image; /* or its photo: its path is read in the worker, which may fetch it */
  char  *cache_path;
  char  *legacy_path; /* the PNG of earlier versions */
  guint  size;
} Request;

static void
request_free (gpointer data)
{
  Request *request = data;

  g_free (request->path);
  g_clear_object (&request->image);
  g_free (request->cache_path);
  g_free (request->legacy_path);
  g_free (request);
}

static void
lower_thread_priority (void)
{
#ifdef __linux__
  static GPrivate lowered = G_PRIVATE_INIT (NULL);

  /* On Linux this sets the calling thread's nice value, not the whole process's. */
  if (g_private_get (&lowered) == NULL)
    {
      if (setpriority (PRIO_PROCESS, 0, THUMBNAIL_NICE) != 0)
        g_debug ("Could not lower the thumbnail thread's priority: %s", g_strerror (errno));
      g_private_set (&lowered, GINT_TO_POINTER (1));
    }
#endif
}

/* Temp file and rename (G_FILE_SET_CONTENTS_CONSISTENT), so that a reader sees the whole JPEG or
 * none, even when two thumbnailers race on one photo. */
static gboolean
save_thumbnail (GdkPixbuf   *thumbnail,
                const char  *cache_path,
                GError     **error)
{
  g_autofree char *dir = g_path_get_dirname (cache_path);
  g_autofree char *buffer = NULL;
  gsize length = 0;
  gsize budget = (gsize) (BUDGET_PER_PIXEL * gdk_pixbuf_get_width (thumbnail)
                          * gdk_pixbuf_get_height (thumbnail));

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   "%s: %s", dir, g_strerror (saved_errno));
      return FALSE;
    }

  for (guint i = 0; i < G_N_ELEMENTS (qualities); i++)
    {
      g_clear_pointer (&buffer, g_free);
      if (!gdk_pixbuf_save_to_buffer (thumbnail, &buffer, &length, "jpeg", error,
                                      "quality", qualities[i], NULL))
        return FALSE;
      if (length <= budget)
        break;
    }
  return g_file_set_contents_full (cache_path, buffer, length,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}

/* Reads a cached thumbnail; a damaged one is removed, to be made again. */
static GdkPixbuf *
load_cached (const char *cache_path)
{
  g_autoptr(GError) error = NULL;
  GdkPixbuf *thumbnail = leaf_image_load (cache_path, 0, &error);

  if (thumbnail == NULL &&
      !g_error_matches (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND))
    {
      g_debug ("Replacing the unreadable cached thumbnail %s: %s", cache_path, error->message);
      g_unlink (cache_path);
    }
  return thumbnail;
}

static void
serve (GTask *task)
{
  Request *request = g_task_get_task_data (task);
  g_autoptr(GdkPixbuf) thumbnail = NULL;
  g_autoptr(GError) error = NULL;

  if (g_task_return_error_if_cancelled (task))
    return;

  thumbnail = load_cached (request->cache_path);
  if (thumbnail != NULL)
    {
      g_task_return_pointer (task, g_steal_pointer (&thumbnail), g_object_unref);
      return;
    }

  thumbnail = load_cached (request->legacy_path);
  if (thumbnail == NULL)
    thumbnail = _leaf_image_load_fitted (request->image != NULL
                                         ? leaf_catalog_image_get_path (request->image)
                                         : request->path, 0, request->size, &error);
  if (thumbnail == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (!save_thumbnail (thumbnail, request->cache_path, &error))
    g_warning_once ("Could not cache thumbnails in %s: %s", request->cache_path, error->message);
  else
    g_unlink (request->legacy_path);

  g_task_return_pointer (task, g_steal_pointer (&thumbnail), g_object_unref);
}

static void
thumbnail_worker (gpointer data,
                  gpointer user_data)
{
  /* The reference keeps self alive until the request is taken from the stack. */
  g_autoptr(LeafThumbnailer) self = data;
  g_autoptr(GTask) task = NULL;

  lower_thread_priority ();

  g_mutex_lock (&self->lock);
  while (self->held)
    g_cond_wait (&self->released, &self->lock);
  task = g_queue_pop_head (&self->pending);
  g_mutex_unlock (&self->lock);

  serve (task);
}

static void
leaf_thumbnailer_constructed (GObject *object)
{
  LeafThumbnailer *self = (LeafThumbnailer *) object;
  g_autoptr(GError) error = NULL;

  G_OBJECT_CLASS (leaf_thumbnailer_parent_class)->constructed (object);

  if (self->cache_dir == NULL)
    self->cache_dir = g_build_filename (g_get_user_cache_dir (), "leafscope", "thumbnails", NULL);

  if (self->n_threads == 0)
    self->n_threads = MAX (1, g_get_num_processors () / 2);

  /* Failing to start threads is as fatal here as it is inside GLib. */
  self->pool = g_thread_pool_new (thumbnail_worker, NULL, (int) self->n_threads, TRUE, &error);
  if (self->pool == NULL)
    g_error ("Could not start the thumbnail threads: %s", error->message);
}

static void
leaf_thumbnailer_finalize (GObject *object)
{
  LeafThumbnailer *self = (LeafThumbnailer *) object;

  /* Every queued request holds a reference to self, so the stack and the pool's queue are empty.
   * This may run on a pool thread (when a worker drops the last reference), hence no waiting. */
  g_thread_pool_free (self->pool, TRUE, FALSE);
  g_clear_pointer (&self->cache_dir, g_free);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->released);

  G_OBJECT_CLASS (leaf_thumbnailer_parent_class)->finalize (object);
}

static void
leaf_thumbnailer_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  LeafThumbnailer *self = LEAF_THUMBNAILER (object);

  switch (prop_id)
    {
    case PROP_CACHE_DIR:
      g_value_set_string (value, self->cache_dir);
      break;
    case PROP_THREADS:
      g_value_set_uint (value, self->n_threads);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
leaf_thumbnailer_set_property (GObject      *object,
                               guint         prop_id,
                               const GValue *value,
                               GParamSpec   *pspec)
{
  LeafThumbnailer *self = LEAF_THUMBNAILER (object);

  switch (prop_id)
    {
    case PROP_CACHE_DIR:
      self->cache_dir = g_value_dup_string (value);
      break;
    case PROP_THREADS:
      self->n_threads = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
leaf_thumbnailer_class_init (LeafThumbnailerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = leaf_thumbnailer_constructed;
  object_class->finalize = leaf_thumbnailer_finalize;
  object_class->get_property = leaf_thumbnailer_get_property;
  object_class->set_property = leaf_thumbnailer_set_property;

  properties[PROP_CACHE_DIR] =
    g_param_spec_string ("cache-dir", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /* How many photos decode at once; 0 for half the cores. */
  properties[PROP_THREADS] =
    g_param_spec_uint ("threads", NULL, NULL, 0, 64, 0,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
leaf_thumbnailer_init (LeafThumbnailer *self)
{
  g_mutex_init (&self->lock);
  g_cond_init (&self->released);
}

/**
 * leaf_thumbnailer_new:
 * @cache_dir: (nullable): where to keep thumbnails, or %NULL for
 *   `$XDG_CACHE_HOME/leafscope/thumbnails`
 *
 * Returns: (transfer full): a new #LeafThumbnailer
 */
LeafThumbnailer *
leaf_thumbnailer_new (const char *cache_dir)
{
  return g_object_new (LEAF_TYPE_THUMBNAILER, "cache-dir", cache_dir, NULL);
}

const char *
leaf_thumbnailer_get_cache_dir (LeafThumbnailer *self)
{
  g_return_val_if_fail (LEAF_IS_THUMBNAILER (self), NULL);

  return self->cache_dir;
}

static void
queue_request (LeafThumbnailer     *self,
               const char          *path,
               LeafCatalogImage    *image,
               const char          *sha256,
               guint                size,
               GCancellable        *cancellable,
               GAsyncReadyCallback  callback,
               gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *size_dir = NULL;
  g_autofree char *file_name = NULL;
  g_autofree char *legacy_name = NULL;
  g_autofree char *hash = NULL;
  Request *request;

  g_return_if_fail (LEAF_IS_THUMBNAILER (self));
  g_return_if_fail (path != NULL);
  g_return_if_fail (sha256 != NULL);
  g_return_if_fail (size > 0 && size <= MAX_THUMBNAIL_SIZE);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, leaf_thumbnailer_load_async);
  g_task_set_name (task, "[leaf] thumbnail");

  /* The hash becomes a file name: refuse anything else, such as "../x". */
  if (!leaf_is_sha256 (sha256))
    {
      g_task_return_new_error (task, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                               _("“%s” is not a SHA-256 digest; cannot cache the thumbnail "
                                 "of “%s”."), sha256, path);
      return;
    }

  hash = g_ascii_strdown (sha256, -1);
  size_dir = g_strdup_printf ("%u", size);
  file_name = g_strconcat (hash, ".jpg", NULL);
  legacy_name = g_strconcat (hash, ".png", NULL);

  request = g_new0 (Request, 1);
  request->path = g_strdup (path);
  request->image = image != NULL ? g_object_ref (image) : NULL;
  request->cache_path = g_build_filename (self->cache_dir, size_dir, file_name, NULL);
  request->legacy_path = g_build_filename (self->cache_dir, size_dir, legacy_name, NULL);
  request->size = size;
  g_task_set_task_data (task, request, request_free);

  g_mutex_lock (&self->lock);
  g_queue_push_head (&self->pending, g_steal_pointer (&task));
  g_mutex_unlock (&self->lock);
  g_thread_pool_push (self->pool, g_object_ref (self), NULL);
}

/**
 * leaf_thumbnailer_load_async:
 * @self: a #LeafThumbnailer
 * @path: the photo
 * @sha256: the photo's SHA-256 in hex, which names the cached file
 * @size: the largest width or height of the thumbnail; smaller photos are not enlarged
 * @cancellable: (nullable): cancelling it before the request's turn skips the decoding
 * @callback: called on the thread-default main context of the caller
 * @user_data: for @callback
 *
 * Serves `<cache_dir>/<size>/<sha256>.jpg` when it exists; otherwise decodes the photo (EXIF
 * orientation applied, alpha dropped, the default pixel limit enforced), scales it into a
 * @size × @size box and caches it. The newest request is served first.
 */
void
leaf_thumbnailer_load_async (LeafThumbnailer     *self,
                             const char          *path,
                             const char          *sha256,
                             guint                size,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  queue_request (self, path, NULL, sha256, size, cancellable, callback, user_data);
}

/**
 * leaf_thumbnailer_load_image_async:
 * @self: a #LeafThumbnailer
 * @image: a photo of a catalog
 * @size: as for leaf_thumbnailer_load_async()
 * @cancellable: (nullable): as for leaf_thumbnailer_load_async()
 * @callback: as for leaf_thumbnailer_load_async()
 * @user_data: for @callback
 *
 * The same for a catalog's photo, which the thumbnailer's thread fetches from the catalog when
 * neither its thumbnail nor its file is on this machine; finish with
 * leaf_thumbnailer_load_finish().
 */
void
leaf_thumbnailer_load_image_async (LeafThumbnailer     *self,
                                   LeafCatalogImage    *image,
                                   guint                size,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_return_if_fail (LEAF_IS_CATALOG_IMAGE (image));

  queue_request (self, leaf_catalog_image_peek_path (image), image,
                 leaf_catalog_image_get_sha256 (image), size, cancellable, callback, user_data);
}

/* Tests: while held, requests wait on the stack, so that their order can be set up. */
void
_leaf_thumbnailer_set_held (LeafThumbnailer *self,
                            gboolean         held)
{
  g_return_if_fail (LEAF_IS_THUMBNAILER (self));

  g_mutex_lock (&self->lock);
  self->held = held;
  if (!held)
    g_cond_broadcast (&self->released);
  g_mutex_unlock (&self->lock);
}

/**
 * leaf_thumbnailer_load_finish:
 * @self: a #LeafThumbnailer
 * @result: the result passed to the callback
 * @error: return location for a #LEAF_ENGINE_ERROR, or G_IO_ERROR_CANCELLED
 *
 * Returns: (transfer full): an 8-bit RGB thumbnail, or %NULL
 */
GdkPixbuf *
leaf_thumbnailer_load_finish (LeafThumbnailer  *self,
                              GAsyncResult     *result,
                              GError          **error)
{
  g_return_val_if_fail (LEAF_IS_THUMBNAILER (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
