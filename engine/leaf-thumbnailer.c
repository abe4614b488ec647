/* leaf-thumbnailer.c: thumbnails decoded off the main thread and cached on disk
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Requests queue on a pool of low-priority threads, at most half the cores, so that scrolling a
 * grid of thousands of photos never competes with the interface or a training run. The pool's
 * threads are its own (exclusive) because lowering a thread's priority cannot be undone without
 * privileges, and GLib's shared threads also run other work. Each thumbnail is a PNG at
 * <cache_dir>/<size>/<sha256>.png, so a photo that moves keeps its thumbnail and an edited one
 * (new hash) gets a new one.
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
#include "leaf-image-private.h"
#include "leaf-thumbnailer.h"

#define MAX_THUMBNAIL_SIZE 2048

/* The nice value of the pool's threads. */
#define THUMBNAIL_NICE 10

struct _LeafThumbnailer
{
  GObject      parent_instance;

  char        *cache_dir;
  GThreadPool *pool;
};

G_DEFINE_FINAL_TYPE (LeafThumbnailer, leaf_thumbnailer, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_CACHE_DIR,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

typedef struct
{
  char  *path;
  char  *cache_path;
  guint  size;
} Request;

static void
request_free (gpointer data)
{
  Request *request = data;

  g_free (request->path);
  g_free (request->cache_path);
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

/* Temp file and rename (G_FILE_SET_CONTENTS_CONSISTENT), so that a reader sees the whole PNG or
 * none, even when two thumbnailers race on one photo. */
static gboolean
save_thumbnail (GdkPixbuf   *thumbnail,
                const char  *cache_path,
                GError     **error)
{
  g_autofree char *dir = g_path_get_dirname (cache_path);
  g_autofree char *buffer = NULL;
  gsize length = 0;

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   "%s: %s", dir, g_strerror (saved_errno));
      return FALSE;
    }

  return gdk_pixbuf_save_to_buffer (thumbnail, &buffer, &length, "png", error, NULL) &&
         g_file_set_contents_full (cache_path, buffer, length,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}

static void
thumbnail_worker (gpointer data,
                  gpointer user_data)
{
  g_autoptr(GTask) task = data;
  Request *request = g_task_get_task_data (task);
  g_autoptr(GdkPixbuf) thumbnail = NULL;
  g_autoptr(GError) error = NULL;

  lower_thread_priority ();

  if (g_task_return_error_if_cancelled (task))
    return;

  thumbnail = leaf_image_load (request->cache_path, 0, &error);
  if (thumbnail != NULL)
    {
      g_task_return_pointer (task, g_steal_pointer (&thumbnail), g_object_unref);
      return;
    }
  if (!g_error_matches (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND))
    {
      g_debug ("Replacing the unreadable cached thumbnail %s: %s",
               request->cache_path, error->message);
      g_unlink (request->cache_path);
    }
  g_clear_error (&error);

  thumbnail = _leaf_image_load_fitted (request->path, 0, request->size, &error);
  if (thumbnail == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (!save_thumbnail (thumbnail, request->cache_path, &error))
    g_warning_once ("Could not cache thumbnails in %s: %s", request->cache_path, error->message);

  g_task_return_pointer (task, g_steal_pointer (&thumbnail), g_object_unref);
}

static gboolean
is_sha256 (const char *text)
{
  gsize i;

  for (i = 0; text[i] != '\0'; i++)
    if (!g_ascii_isxdigit (text[i]))
      return FALSE;
  return i == 64;
}

static void
leaf_thumbnailer_constructed (GObject *object)
{
  LeafThumbnailer *self = (LeafThumbnailer *) object;
  g_autoptr(GError) error = NULL;

  G_OBJECT_CLASS (leaf_thumbnailer_parent_class)->constructed (object);

  if (self->cache_dir == NULL)
    self->cache_dir = g_build_filename (g_get_user_cache_dir (), "leafscope", "thumbnails", NULL);

  /* Failing to start threads is as fatal here as it is inside GLib. */
  self->pool = g_thread_pool_new (thumbnail_worker, NULL,
                                  MAX (1, (int) g_get_num_processors () / 2), TRUE, &error);
  if (self->pool == NULL)
    g_error ("Could not start the thumbnail threads: %s", error->message);
}

static void
leaf_thumbnailer_finalize (GObject *object)
{
  LeafThumbnailer *self = (LeafThumbnailer *) object;

  /* Every queued request holds a reference to self, so the queue is empty. This may run on a
   * pool thread (when a worker drops the last reference), hence no waiting. */
  g_thread_pool_free (self->pool, TRUE, FALSE);
  g_clear_pointer (&self->cache_dir, g_free);

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
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
leaf_thumbnailer_init (LeafThumbnailer *self)
{
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
 * Serves `<cache_dir>/<size>/<sha256>.png` when it exists; otherwise decodes the photo (EXIF
 * orientation applied, alpha dropped, the default pixel limit enforced), scales it into a
 * @size × @size box and caches it.
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
  g_autoptr(GTask) task = NULL;
  g_autofree char *size_dir = NULL;
  g_autofree char *file_name = NULL;
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
  if (!is_sha256 (sha256))
    {
      g_task_return_new_error (task, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                               _("“%s” is not a SHA-256 digest; cannot cache the thumbnail "
                                 "of “%s”."), sha256, path);
      return;
    }

  hash = g_ascii_strdown (sha256, -1);
  size_dir = g_strdup_printf ("%u", size);
  file_name = g_strconcat (hash, ".png", NULL);

  request = g_new0 (Request, 1);
  request->path = g_strdup (path);
  request->cache_path = g_build_filename (self->cache_dir, size_dir, file_name, NULL);
  request->size = size;
  g_task_set_task_data (task, request, request_free);

  g_thread_pool_push (self->pool, g_steal_pointer (&task), NULL);
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
