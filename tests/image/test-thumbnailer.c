/* test-thumbnailer.c: thumbnails, their disk cache and cancellation
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "test-thumbnailer"

#include "config.h"

#include "leaf-test.h"

#include <glib/gstdio.h>
#include <string.h>

#include "leaf-error.h"
#include "leaf-thumbnailer-private.h"

#include "image-test-util.h"

static char *scratch_dir;

typedef struct
{
  char      *photo;
  char      *sha256;
  char      *cache_dir;
} Fixture;

/* A photo-sized JPEG with a distinct gradient per seed. */
static char *
write_photo (const char *dir,
             const char *name,
             int         width,
             int         height,
             guint       seed,
             char      **sha256)
{
  g_autoptr(GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, width, height);
  g_autoptr(GError) error = NULL;
  g_autofree char *buffer = NULL;
  guint8 *pixels = gdk_pixbuf_get_pixels (pixbuf);
  int stride = gdk_pixbuf_get_rowstride (pixbuf);
  char *path = g_build_filename (dir, name, NULL);
  gsize length = 0;

  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      {
        guint8 *p = pixels + (gsize) y * stride + 3 * x;

        p[0] = (x + seed * 37) & 0xFF;
        p[1] = (y * 2 + seed) & 0xFF;
        p[2] = (x + y) * 255 / (width + height);
      }

  gdk_pixbuf_save_to_buffer (pixbuf, &buffer, &length, "jpeg", &error, "quality", "90", NULL);
  g_assert_no_error (error);
  g_file_set_contents (path, buffer, length, &error);
  g_assert_no_error (error);
  *sha256 = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guint8 *) buffer, length);
  return path;
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autofree char *dir = NULL;
  g_autoptr(GError) error = NULL;

  dir = g_build_filename (scratch_dir, "XXXXXX", NULL);
  g_assert_nonnull (g_mkdtemp (dir));
  fixture->photo = write_photo (dir, "leaf.jpg", 640, 480, 1, &fixture->sha256);
  fixture->cache_dir = g_build_filename (dir, "cache", NULL);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  g_free (fixture->photo);
  g_free (fixture->sha256);
  g_free (fixture->cache_dir);
}

static char *
cache_file_with_suffix (const char *cache_dir,
                        guint       size,
                        const char *sha256,
                        const char *suffix)
{
  g_autofree char *size_dir = g_strdup_printf ("%u", size);
  g_autofree char *name = g_strconcat (sha256, suffix, NULL);

  return g_build_filename (cache_dir, size_dir, name, NULL);
}

static char *
cache_file (const char *cache_dir,
            guint       size,
            const char *sha256)
{
  return cache_file_with_suffix (cache_dir, size, sha256, ".jpg");
}

/* JPEG loses a little: same size, channels within a few levels on average (the test photos'
 * sharp stripes cost more than a leaf's). */
static gboolean
pixbufs_close (GdkPixbuf *a,
               GdkPixbuf *b)
{
  int width = gdk_pixbuf_get_width (a);
  int height = gdk_pixbuf_get_height (a);
  gsize total = 0, n_values = (gsize) width * height * 3;

  if (width != gdk_pixbuf_get_width (b) || height != gdk_pixbuf_get_height (b) ||
      gdk_pixbuf_get_n_channels (a) != 3 || gdk_pixbuf_get_n_channels (b) != 3)
    return FALSE;

  for (int y = 0; y < height; y++)
    {
      const guint8 *pa = gdk_pixbuf_read_pixels (a) + (gsize) y * gdk_pixbuf_get_rowstride (a);
      const guint8 *pb = gdk_pixbuf_read_pixels (b) + (gsize) y * gdk_pixbuf_get_rowstride (b);

      for (int x = 0; x < width * 3; x++)
        total += ABS ((int) pa[x] - (int) pb[x]);
    }
  g_test_message ("mean difference %.2f levels", (double) total / n_values);
  return total <= 8 * n_values;
}

static void
on_load_finished_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

/* Runs one request to the end on the default main context. */
static GdkPixbuf *
load_sync (LeafThumbnailer  *thumbnailer,
           const char       *path,
           const char       *sha256,
           guint             size,
           GCancellable     *cancellable,
           GError          **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  leaf_thumbnailer_load_async (thumbnailer, path, sha256, size, cancellable,
                               on_load_finished_cb, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return leaf_thumbnailer_load_finish (thumbnailer, result, error);
}

static void
test_creates_cache_file (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autoptr(LeafThumbnailer) thumbnailer = leaf_thumbnailer_new (fixture->cache_dir);
  g_autofree char *cached_path = cache_file (fixture->cache_dir, 128, fixture->sha256);
  g_autoptr(GdkPixbuf) thumbnail = NULL;
  g_autoptr(GdkPixbuf) cached = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_false (g_file_test (cached_path, G_FILE_TEST_EXISTS));

  thumbnail = load_sync (thumbnailer, fixture->photo, fixture->sha256, 128, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (gdk_pixbuf_get_width (thumbnail), ==, 128);
  g_assert_cmpint (gdk_pixbuf_get_height (thumbnail), ==, 96);
  g_assert_false (gdk_pixbuf_get_has_alpha (thumbnail));

  cached = gdk_pixbuf_new_from_file (cached_path, &error);
  g_assert_no_error (error);
  g_assert_true (pixbufs_close (cached, thumbnail));
}

/* A photo's thumbnail is a JPEG: a sixth of a PNG's size. */
static void
test_cache_is_compact (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autoptr(LeafThumbnailer) thumbnailer = leaf_thumbnailer_new (fixture->cache_dir);
  g_autofree char *cached_path = cache_file (fixture->cache_dir, 256, fixture->sha256);
  g_autoptr(GdkPixbuf) thumbnail = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *png = NULL;
  gsize length = 0, png_length = 0;

  thumbnail = load_sync (thumbnailer, fixture->photo, fixture->sha256, 256, NULL, &error);
  g_assert_no_error (error);
  g_file_get_contents (cached_path, &contents, &length, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (length, >, 3);
  g_assert_cmpmem (contents, 3, "\xff\xd8\xff", 3);

  gdk_pixbuf_save_to_buffer (thumbnail, &png, &png_length, "png", &error, NULL);
  g_assert_no_error (error);
  g_test_message ("JPEG %" G_GSIZE_FORMAT " bytes, PNG %" G_GSIZE_FORMAT, length, png_length);
  g_assert_cmpuint (length * 3, <, png_length);
}

static void
collect_leaves (const char *dir,
                GPtrArray  *paths)
{
  g_autoptr(GDir) listing = g_dir_open (dir, 0, NULL);
  const char *name;

  while (listing != NULL && (name = g_dir_read_name (listing)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        collect_leaves (path, paths);
      else if (g_str_has_suffix (name, ".jpg"))
        g_ptr_array_add (paths, g_steal_pointer (&path));
    }
}

/* Real leaves' thumbnails, grainy ones included, keep within 25 KB at 256 pixels. */
static void
test_real_leaves_within_budget (Fixture       *fixture,
                                gconstpointer  data)
{
  const char *shared = g_getenv ("LEAFSCOPE_SHARED");
  g_autofree char *dir = shared ? g_build_filename (shared, "data", "tomato5-dev", NULL) : NULL;
  g_autoptr(LeafThumbnailer) thumbnailer = leaf_thumbnailer_new (fixture->cache_dir);
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  guint64 total = 0, largest = 0;
  guint n;

  if (dir == NULL || !g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      g_test_skip ("no shared photos ($LEAFSCOPE_SHARED/data/tomato5-dev)");
      return;
    }
  collect_leaves (dir, paths);
  g_ptr_array_sort (paths, (GCompareFunc) g_strcmp0);
  /* Enough for the grainiest tenth to be there more than once. */
  n = MIN (paths->len, 200);
  g_assert_cmpuint (n, >, 0);
  for (guint i = 0; i < n; i++)
    {
      const char *path = g_ptr_array_index (paths, i);
      g_autofree char *contents = NULL;
      g_autofree char *sha256 = NULL;
      g_autofree char *cached_path = NULL;
      g_autoptr(GdkPixbuf) thumbnail = NULL;
      g_autoptr(GError) error = NULL;
      GStatBuf info;
      gsize length;

      g_file_get_contents (path, &contents, &length, &error);
      g_assert_no_error (error);
      sha256 = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) contents, length);
      thumbnail = load_sync (thumbnailer, path, sha256, 256, NULL, &error);
      g_assert_no_error (error);
      cached_path = cache_file (fixture->cache_dir, 256, sha256);
      g_assert_cmpint (g_stat (cached_path, &info), ==, 0);
      g_assert_cmpint (info.st_size, <=, 25 * 1024 * gdk_pixbuf_get_width (thumbnail)
                                         * gdk_pixbuf_get_height (thumbnail) / (256 * 256));
      total += info.st_size;
      largest = MAX (largest, (guint64) info.st_size);
    }
  g_test_message ("%u leaves: %.1f KB on average, %.1f KB at most", n, total / 1024.0 / n,
                  largest / 1024.0);
}

/* The PNGs of earlier versions are served, then rewritten as JPEG. */
static void
test_reads_legacy_png (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autoptr(LeafThumbnailer) thumbnailer = leaf_thumbnailer_new (fixture->cache_dir);
  g_autofree char *png_path = cache_file_with_suffix (fixture->cache_dir, 128, fixture->sha256,
                                                      ".png");
  g_autofree char *jpeg_path = cache_file (fixture->cache_dir, 128, fixture->sha256);
  g_autofree char *png_dir = g_path_get_dirname (png_path);
  g_autoptr(GdkPixbuf) legacy = image_test_make_gradient (128, 96);
  g_autoptr(GdkPixbuf) thumbnail = NULL;
  g_autoptr(GdkPixbuf) again = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (png_dir, 0700), ==, 0);
  gdk_pixbuf_save (legacy, png_path, "png", &error, NULL);
  g_assert_no_error (error);
  /* With the photo gone, only the old cache can answer. */
  g_assert_cmpint (g_unlink (fixture->photo), ==, 0);

  thumbnail = load_sync (thumbnailer, fixture->photo, fixture->sha256, 128, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (image_test_pixbufs_equal (thumbnail, legacy));
  g_assert_false (g_file_test (png_path, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (jpeg_path, G_FILE_TEST_EXISTS));

  again = load_sync (thumbnailer, fixture->photo, fixture->sha256, 128, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (pixbufs_close (again, legacy));
}

static void
test_served_from_cache (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autoptr(LeafThumbnailer) thumbnailer = leaf_thumbnailer_new (fixture->cache_dir);
  g_autoptr(GdkPixbuf) first = NULL;
  g_autoptr(GdkPixbuf) second = NULL;
  g_autoptr(GdkPixbuf) other_size = NULL;
  g_autoptr(GError) error = NULL;

  first = load_sync (thumbnailer, fixture->photo, fixture->sha256, 128, NULL, &error);
  g_assert_no_error (error);

  /* With the photo gone, only the cache can answer. */
  g_assert_cmpint (g_unlink (fixture->photo), ==, 0);
  second = load_sync (thumbnailer, fixture->photo, fixture->sha256, 128, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (pixbufs_close (first, second));

  /* Another size is another cache entry. */
  other_size = load_sync (thumbnailer, fixture->photo, fixture->sha256, 64, NULL, &error);
  g_assert_null (other_size);
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND);
}

static void
test_replaces_damaged_cache (Fixture       *fixture,
                             gconstpointer  data)
{
  g_autoptr(LeafThumbnailer) thumbnailer = leaf_thumbnailer_new (fixture->cache_dir);
  g_autofree char *cached_path = cache_file (fixture->cache_dir, 128, fixture->sha256);
  g_autofree char *cached_dir = g_path_get_dirname (cached_path);
  g_autoptr(GdkPixbuf) thumbnail = NULL;
  g_autoptr(GdkPixbuf) cached = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (cached_dir, 0700), ==, 0);
  g_file_set_contents (cached_path, "\x89PNG\r\n\x1a\n garbage", -1, &error);
  g_assert_no_error (error);

  thumbnail = load_sync (thumbnailer, fixture->photo, fixture->sha256, 128, NULL, &error);
  g_assert_no_error (error);
  cached = gdk_pixbuf_new_from_file (cached_path, &error);
  g_assert_no_error (error);
  g_assert_true (pixbufs_close (cached, thumbnail));
}

static void
test_small_photo_not_enlarged (Fixture       *fixture,
                               gconstpointer  data)
{
  g_autoptr(LeafThumbnailer) thumbnailer = leaf_thumbnailer_new (fixture->cache_dir);
  g_autofree char *dir = g_path_get_dirname (fixture->photo);
  g_autofree char *sha256 = NULL;
  g_autofree char *path = write_photo (dir, "tiny.jpg", 50, 70, 2, &sha256);
  g_autoptr(GdkPixbuf) thumbnail = NULL;
  g_autoptr(GError) error = NULL;

  thumbnail = load_sync (thumbnailer, path, sha256, 128, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (gdk_pixbuf_get_width (thumbnail), ==, 50);
  g_assert_cmpint (gdk_pixbuf_get_height (thumbnail), ==, 70);
}

static void
test_cancelled_never_decodes (Fixture       *fixture,
                              gconstpointer  data)
{
  g_autoptr(LeafThumbnailer) thumbnailer = leaf_thumbnailer_new (fixture->cache_dir);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autofree char *cached_path = cache_file (fixture->cache_dir, 128, fixture->sha256);
  g_autoptr(GdkPixbuf) thumbnail = NULL;
  g_autoptr(GError) error = NULL;

  g_cancellable_cancel (cancellable);
  thumbnail = load_sync (thumbnailer, fixture->photo, fixture->sha256, 128, cancellable, &error);
  g_assert_null (thumbnail);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (g_file_test (cached_path, G_FILE_TEST_EXISTS));
}

/* What a grid does when the user scrolls past: queue many, cancel them while they wait. */
static void
test_cancel_queued (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(LeafThumbnailer) thumbnailer = leaf_thumbnailer_new (fixture->cache_dir);
  g_autofree char *dir = g_path_get_dirname (fixture->photo);
  const guint n_requests = 24;
  GAsyncResult *results[24] = { NULL, };
  char *hashes[24];
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  guint n_done = 0, n_ok = 0, n_cancelled = 0, n_cached = 0;
  guint max_in_flight = MAX (1, g_get_num_processors () / 2);

  char *paths[24];

  for (guint i = 0; i < n_requests; i++)
    {
      g_autofree char *name = g_strdup_printf ("photo-%u.jpg", i);

      paths[i] = write_photo (dir, name, 800, 600, i + 10, &hashes[i]);
    }
  for (guint i = 0; i < n_requests; i++)
    leaf_thumbnailer_load_async (thumbnailer, paths[i], hashes[i], 128, cancellable,
                                 on_load_finished_cb, &results[i]);
  g_cancellable_cancel (cancellable);

  while (n_done < n_requests)
    {
      g_main_context_iteration (NULL, TRUE);
      n_done = 0;
      for (guint i = 0; i < n_requests; i++)
        n_done += results[i] != NULL;
    }

  for (guint i = 0; i < n_requests; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GdkPixbuf) thumbnail = leaf_thumbnailer_load_finish (thumbnailer, results[i],
                                                                     &error);
      g_autofree char *cached_path = cache_file (fixture->cache_dir, 128, hashes[i]);

      if (thumbnail != NULL)
        n_ok++;
      else
        {
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
          n_cancelled++;
        }
      n_cached += g_file_test (cached_path, G_FILE_TEST_EXISTS);
      g_object_unref (results[i]);
      g_free (hashes[i]);
      g_free (paths[i]);
    }

  /* Requests finished before the cancellation report it too, as GIO does. */
  g_test_message ("%u finished, %u cancelled, %u decoded (%u threads)", n_ok, n_cancelled,
                  n_cached, max_in_flight);
  g_assert_cmpuint (n_cancelled, ==, n_requests);
  /* Only the few that workers had taken before the cancellation were decoded. */
  g_assert_cmpuint (n_cached, <, n_requests / 2);
}

typedef struct
{
  guint         index;
  GArray       *order;
  GAsyncResult *result;
} Slot;

static void
on_slot_finished_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  Slot *slot = user_data;

  slot->result = g_object_ref (result);
  g_array_append_val (slot->order, slot->index);
}

/* After a jump through a grid, the cells on screen asked last: they come first, and the cells
 * scrolled past, which cancelled their requests, cost no decoding. */
static void
test_newest_first (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(LeafThumbnailer) thumbnailer = g_object_new (LEAF_TYPE_THUMBNAILER,
                                                         "cache-dir", fixture->cache_dir,
                                                         "threads", 1,
                                                         NULL);
  g_autofree char *dir = g_path_get_dirname (fixture->photo);
  g_autoptr(GArray) order = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(GArray) served = g_array_new (FALSE, FALSE, sizeof (guint));
  enum { N_REQUESTS = 12 };
  const guint kept[] = { 11, 10, 9, 1 }; /* in the order they must be served */
  GCancellable *cancellables[N_REQUESTS];
  char *paths[N_REQUESTS], *hashes[N_REQUESTS];
  Slot slots[N_REQUESTS];

  _leaf_thumbnailer_set_held (thumbnailer, TRUE);
  for (guint i = 0; i < N_REQUESTS; i++)
    {
      g_autofree char *name = g_strdup_printf ("photo-%u.jpg", i);

      paths[i] = write_photo (dir, name, 320, 240, i + 10, &hashes[i]);
      cancellables[i] = g_cancellable_new ();
      slots[i] = (Slot) { i, order, NULL };
      leaf_thumbnailer_load_async (thumbnailer, paths[i], hashes[i], 64, cancellables[i],
                                   on_slot_finished_cb, &slots[i]);
    }
  for (guint i = 0; i < N_REQUESTS; i++)
    {
      gboolean keep = FALSE;

      for (guint k = 0; k < G_N_ELEMENTS (kept); k++)
        keep |= kept[k] == i;
      if (!keep)
        g_cancellable_cancel (cancellables[i]);
    }
  _leaf_thumbnailer_set_held (thumbnailer, FALSE);

  while (order->len < N_REQUESTS)
    g_main_context_iteration (NULL, TRUE);

  for (guint n = 0; n < order->len; n++)
    {
      guint i = g_array_index (order, guint, n);
      g_autoptr(GError) error = NULL;
      g_autoptr(GdkPixbuf) thumbnail = leaf_thumbnailer_load_finish (thumbnailer,
                                                                     slots[i].result, &error);
      g_autofree char *cached_path = cache_file (fixture->cache_dir, 64, hashes[i]);

      if (thumbnail != NULL)
        g_array_append_val (served, i);
      else
        g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      /* A request cancelled while it waited was never decoded. */
      g_assert_true (g_file_test (cached_path, G_FILE_TEST_EXISTS) == (thumbnail != NULL));
    }
  g_assert_cmpmem (served->data, served->len * sizeof (guint), kept, sizeof kept);

  for (guint i = 0; i < N_REQUESTS; i++)
    {
      g_object_unref (slots[i].result);
      g_object_unref (cancellables[i]);
      g_free (paths[i]);
      g_free (hashes[i]);
    }
}

static void
test_rejects_bad_hash (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autoptr(LeafThumbnailer) thumbnailer = leaf_thumbnailer_new (fixture->cache_dir);
  g_autoptr(GdkPixbuf) thumbnail = NULL;
  g_autoptr(GError) error = NULL;

  thumbnail = load_sync (thumbnailer, fixture->photo, "../../../escape", 128, NULL, &error);
  g_assert_null (thumbnail);
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID);
  g_assert_false (g_file_test (fixture->cache_dir, G_FILE_TEST_EXISTS));
}

static void
test_unreadable_photo (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autoptr(LeafThumbnailer) thumbnailer = leaf_thumbnailer_new (fixture->cache_dir);
  g_autofree char *dir = g_path_get_dirname (fixture->photo);
  g_autofree char *path = g_build_filename (dir, "notes.jpg", NULL);
  const char text[] = "not a photo";
  g_autofree char *sha256 = g_compute_checksum_for_string (G_CHECKSUM_SHA256, text, -1);
  g_autofree char *cached_path = cache_file (fixture->cache_dir, 128, sha256);
  g_autoptr(GdkPixbuf) thumbnail = NULL;
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
  thumbnail = load_sync (thumbnailer, path, sha256, 128, NULL, &error);
  g_assert_null (thumbnail);
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "notes.jpg"));
  g_assert_false (g_file_test (cached_path, G_FILE_TEST_EXISTS));
}

/* The last reference may go with a request's task on a pool thread; that must not deadlock. */
static void
test_released_while_loading (Fixture       *fixture,
                             gconstpointer  data)
{
  for (guint round = 0; round < 5; round++)
    {
      LeafThumbnailer *thumbnailer = leaf_thumbnailer_new (fixture->cache_dir);
      g_autoptr(GAsyncResult) result = NULL;
      g_autoptr(GdkPixbuf) thumbnail = NULL;
      g_autoptr(GError) error = NULL;
      GWeakRef weak;

      g_weak_ref_init (&weak, thumbnailer);
      leaf_thumbnailer_load_async (thumbnailer, fixture->photo, fixture->sha256, 32 + round,
                                   NULL, on_load_finished_cb, &result);
      g_object_unref (thumbnailer);
      while (result == NULL)
        g_main_context_iteration (NULL, TRUE);

      thumbnail = g_task_propagate_pointer (G_TASK (result), &error);
      g_assert_no_error (error);
      g_clear_object (&result);
      for (;;)
        {
          g_autoptr(LeafThumbnailer) alive = g_weak_ref_get (&weak);

          if (alive == NULL)
            break;
          g_main_context_iteration (NULL, FALSE);
        }
      g_weak_ref_clear (&weak);
    }
}

static void
test_default_cache_dir (void)
{
  g_autoptr(LeafThumbnailer) thumbnailer = leaf_thumbnailer_new (NULL);
  g_autofree char *expected = g_build_filename (g_getenv ("XDG_CACHE_HOME"), "leafscope",
                                                "thumbnails", NULL);

  g_assert_cmpstr (leaf_thumbnailer_get_cache_dir (thumbnailer), ==, expected);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  int status;

  leaf_test_init (&argc, &argv);

  scratch_dir = g_dir_make_tmp ("leafscope-thumbnailer-XXXXXX", &error);
  g_assert_no_error (error);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/thumbnailer/creates-cache-file", test_creates_cache_file);
  ADD ("/thumbnailer/cache-is-compact", test_cache_is_compact);
  ADD ("/thumbnailer/reads-legacy-png", test_reads_legacy_png);
  ADD ("/thumbnailer/real-leaves-within-budget", test_real_leaves_within_budget);
  ADD ("/thumbnailer/served-from-cache", test_served_from_cache);
  ADD ("/thumbnailer/replaces-damaged-cache", test_replaces_damaged_cache);
  ADD ("/thumbnailer/small-photo-not-enlarged", test_small_photo_not_enlarged);
  ADD ("/thumbnailer/cancelled-never-decodes", test_cancelled_never_decodes);
  ADD ("/thumbnailer/cancel-queued", test_cancel_queued);
  ADD ("/thumbnailer/newest-first", test_newest_first);
  ADD ("/thumbnailer/rejects-bad-hash", test_rejects_bad_hash);
  ADD ("/thumbnailer/unreadable-photo", test_unreadable_photo);
  ADD ("/thumbnailer/released-while-loading", test_released_while_loading);
#undef ADD
  g_test_add_func ("/thumbnailer/default-cache-dir", test_default_cache_dir);

  status = g_test_run ();
  leaf_test_remove_tree (scratch_dir);
  return status;
}
