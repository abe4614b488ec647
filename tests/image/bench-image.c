/* bench-image.c: decode and preprocess throughput
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * bench-image [--dir DIR] [--threads N] [--json]
 *
 * Decodes and preprocesses (Resize 256 bicubic, CenterCrop 224, normalise) every JPEG and PNG
 * under DIR (default $LEAFSCOPE_SHARED/data/tomato5-dev, else 200 generated 256×256 JPEGs), on
 * one thread and on N threads (default: all cores), and a few generated 12-megapixel photos.
 */

#define G_LOG_DOMAIN "bench-image"

#include "config.h"

#include "leaf-test.h"

#include <json-glib/json-glib.h>
#include <stdio.h>

#include "leaf-image.h"
#include "leaf-image-transform.h"

#include "image-test-util.h"

typedef enum
{
  WORK_DECODE,
  WORK_PREPROCESS,
  WORK_DECODE_PREPROCESS,
} Work;

typedef struct
{
  GPtrArray          *paths;
  GPtrArray          *pixbufs;   /* decoded paths, for WORK_PREPROCESS */
  LeafImageTransform *transform;
  Work                work;
  guint               repeats;
  int                 next;      /* atomic: next job index */
  int                 failures;  /* atomic */
} Bench;

static void
run_one (Bench *bench,
         guint  index,
         float *out)
{
  g_autoptr(GdkPixbuf) pixbuf = NULL;
  g_autoptr(GError) error = NULL;

  if (bench->work == WORK_PREPROCESS)
    {
      leaf_image_transform_apply (bench->transform, bench->pixbufs->pdata[index], out);
      return;
    }

  pixbuf = leaf_image_load (bench->paths->pdata[index], 0, &error);
  if (pixbuf == NULL)
    {
      g_printerr ("%s\n", error->message);
      g_atomic_int_inc (&bench->failures);
      return;
    }
  if (bench->work == WORK_DECODE_PREPROCESS)
    leaf_image_transform_apply (bench->transform, pixbuf, out);
}

static gpointer
worker (gpointer data)
{
  Bench *bench = data;
  g_autofree float *out = g_new (float, leaf_image_transform_get_n_values (bench->transform));
  int total = bench->paths->len * bench->repeats;
  int job;

  while ((job = g_atomic_int_add (&bench->next, 1)) < total)
    run_one (bench, job % bench->paths->len, out);
  return NULL;
}

/* Returns images per second. */
static double
measure (Bench *bench,
         guint  n_threads)
{
  g_autoptr(GPtrArray) threads = g_ptr_array_new ();
  gint64 start;

  bench->next = 0;
  start = g_get_monotonic_time ();
  for (guint t = 0; t < n_threads; t++)
    g_ptr_array_add (threads, g_thread_new ("bench", worker, bench));
  for (guint t = 0; t < n_threads; t++)
    g_thread_join (threads->pdata[t]);

  return (double) bench->paths->len * bench->repeats * G_USEC_PER_SEC /
         (double) (g_get_monotonic_time () - start);
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return g_strcmp0 (*(const char * const *) a, *(const char * const *) b);
}

static void
collect (const char *dir,
         GPtrArray  *paths)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);

  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *path = g_build_filename (dir, names->pdata[i], NULL);
      g_autofree char *lower = g_ascii_strdown (names->pdata[i], -1);

      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        collect (path, paths);
      else if (g_str_has_suffix (lower, ".jpg") || g_str_has_suffix (lower, ".jpeg") ||
               g_str_has_suffix (lower, ".png"))
        g_ptr_array_add (paths, g_steal_pointer (&path));
    }
}

/* Smooth colour fields with some texture, JPEG quality 90, like a leaf photo compresses. */
static void
generate (const char *dir,
          guint       count,
          int         width,
          int         height,
          GPtrArray  *paths)
{
  for (guint i = 0; i < count; i++)
    {
      g_autoptr(GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, width, height);
      g_autofree char *name = g_strdup_printf ("gen-%dx%d-%u.jpg", width, height, i);
      g_autoptr(GError) error = NULL;
      guint8 *pixels = gdk_pixbuf_get_pixels (pixbuf);
      int stride = gdk_pixbuf_get_rowstride (pixbuf);
      char *path = g_build_filename (dir, name, NULL);

      for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
          {
            guint8 *p = pixels + (gsize) y * stride + 3 * x;
            guint h = (guint) (x * 2654435761u) ^ (guint) (y * 40503u) ^ i;

            p[0] = (x * 200 / width + (h & 15)) & 0xFF;
            p[1] = (y * 180 / height + 40 + ((h >> 4) & 15)) & 0xFF;
            p[2] = ((x + y) * 120 / (width + height) + ((h >> 8) & 15)) & 0xFF;
          }
      if (!gdk_pixbuf_save (pixbuf, path, "jpeg", &error, "quality", "90", NULL))
        g_error ("%s", error->message);
      g_ptr_array_add (paths, path);
    }
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *dir = NULL;
  g_autofree char *tmp_dir = NULL;
  int n_threads = g_get_num_processors ();
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "dir", 0, 0, G_OPTION_ARG_FILENAME, &dir, "Photos to decode", "DIR" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &n_threads, "Threads for the parallel run", "N" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON object", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- image pipeline benchmark");
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) large = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) pixbufs = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(LeafImageTransform) transform = leaf_image_transform_new (256, 224);
  const char *source;
  double decode_1, preprocess_1, full_1, full_n, large_1, large_n;
  Bench bench = { 0, };

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  n_threads = MAX (1, n_threads);

  tmp_dir = g_dir_make_tmp ("leafscope-bench-XXXXXX", &error);
  g_assert_no_error (error);

  if (dir == NULL && g_getenv ("LEAFSCOPE_SHARED") != NULL)
    {
      dir = g_build_filename (g_getenv ("LEAFSCOPE_SHARED"), "data", "tomato5-dev", NULL);
      if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
        g_clear_pointer (&dir, g_free);
    }
  if (dir != NULL)
    {
      collect (dir, paths);
      source = dir;
    }
  else
    {
      generate (tmp_dir, 200, 256, 256, paths);
      source = "generated 256x256 JPEGs";
    }
  if (paths->len == 0)
    {
      g_printerr ("No JPEG or PNG photos under %s\n", dir);
      return 1;
    }
  generate (tmp_dir, 4, 4032, 3024, large);

  bench.transform = transform;
  bench.paths = paths;
  bench.pixbufs = pixbufs;
  bench.repeats = 1;

  /* A first pass warms the page cache and the coefficient cache. */
  bench.work = WORK_DECODE;
  measure (&bench, 1);
  decode_1 = measure (&bench, 1);

  for (guint i = 0; i < paths->len; i++)
    g_ptr_array_add (pixbufs, leaf_image_load (paths->pdata[i], 0, NULL));
  bench.work = WORK_PREPROCESS;
  bench.repeats = 4;
  preprocess_1 = measure (&bench, 1);

  bench.work = WORK_DECODE_PREPROCESS;
  bench.repeats = 1;
  full_1 = measure (&bench, 1);
  full_n = measure (&bench, n_threads);

  bench.paths = large;
  bench.repeats = 2;
  large_1 = measure (&bench, 1);
  large_n = measure (&bench, n_threads);

  if (json)
    {
      g_autoptr(JsonBuilder) builder = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;
      g_autofree char *text = NULL;

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "source");
      json_builder_add_string_value (builder, source);
      json_builder_set_member_name (builder, "images");
      json_builder_add_int_value (builder, paths->len);
      json_builder_set_member_name (builder, "threads");
      json_builder_add_int_value (builder, n_threads);
      json_builder_set_member_name (builder, "decode_images_per_s");
      json_builder_add_double_value (builder, decode_1);
      json_builder_set_member_name (builder, "preprocess_images_per_s");
      json_builder_add_double_value (builder, preprocess_1);
      json_builder_set_member_name (builder, "decode_preprocess_images_per_s");
      json_builder_add_double_value (builder, full_1);
      json_builder_set_member_name (builder, "decode_preprocess_images_per_s_threads");
      json_builder_add_double_value (builder, full_n);
      json_builder_set_member_name (builder, "photo_12mp_images_per_s");
      json_builder_add_double_value (builder, large_1);
      json_builder_set_member_name (builder, "photo_12mp_images_per_s_threads");
      json_builder_add_double_value (builder, large_n);
      json_builder_set_member_name (builder, "failures");
      json_builder_add_int_value (builder, bench.failures);
      json_builder_end_object (builder);
      root = json_builder_get_root (builder);
      text = json_to_string (root, FALSE);
      printf ("%s\n", text);
    }
  else
    printf ("%u photos from %s\n"
            "  decode only, 1 thread:            %8.1f images/s\n"
            "  preprocess only, 1 thread:        %8.1f images/s\n"
            "  decode + preprocess, 1 thread:    %8.1f images/s\n"
            "  decode + preprocess, %2d threads:  %8.1f images/s\n"
            "4032x3024 JPEGs, decode + preprocess\n"
            "  1 thread:                         %8.2f images/s\n"
            "  %2d threads:                       %8.2f images/s\n",
            paths->len, source, decode_1, preprocess_1, full_1, n_threads, full_n,
            large_1, n_threads, large_n);

  leaf_test_remove_tree (tmp_dir);
  return bench.failures == 0 ? 0 : 1;
}
