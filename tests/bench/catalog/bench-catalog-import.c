/* bench-catalog-import.c: images per second imported from an ImageFolder tree of 256×256 JPEGs
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 *   bench-catalog-import [--images N] [--batch-size B] [--keep DIR] [--json]
 *
 * Writes N photo-like 256×256 JPEGs (default 5,000) in 5 class folders, then times a first
 * import into a new catalog (read, SHA-256, header and end-marker checks, EXIF, insert, folder
 * label) and a second import of the same tree (read and SHA-256 only). The files were just
 * written, so they come from the page cache: this measures the importer, not the disk.
 */

#include "config.h"

#include "leaf-test.h"

#include <glib/gstdio.h>
#include <stdio.h>

#include "catalog-test-util.h"
#include "leaf-catalog.h"
#include "leaf-import.h"

/* Smooth gradients and noise, so that JPEG sizes are about 20 KB, a little above real 256×256 leaf photos (17 KB). */
static GBytes *
photo_like_jpeg (guint seed)
{
  g_autoptr(GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 256, 256);
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  g_autoptr(GError) error = NULL;
  guchar *pixels = gdk_pixbuf_get_pixels (pixbuf);
  int stride = gdk_pixbuf_get_rowstride (pixbuf);
  int cx = g_rand_int_range (rand, 0, 256), cy = g_rand_int_range (rand, 0, 256);
  char *buffer = NULL;
  gsize length = 0;

  guint32 state = seed * 2654435761u + 1;

  for (int y = 0; y < 256; y++)
    for (int x = 0; x < 256; x++)
      {
        int d = ((x - cx) * (x - cx) + (y - cy) * (y - cy)) / 256;
        guchar *p = pixels + y * stride + 3 * x;

        /* xorshift: noise without the cost of GRand per pixel */
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        p[0] = CLAMP (60 + d / 2 + (int) (state & 31) - 16, 0, 255);
        p[1] = CLAMP (160 - d / 3 + (int) ((state >> 8) & 31) - 16, 0, 255);
        p[2] = CLAMP (50 + (int) ((state >> 16) & 31) - 16, 0, 255);
      }
  if (!gdk_pixbuf_save_to_buffer (pixbuf, &buffer, &length, "jpeg", &error, "quality", "90",
                                  NULL))
    g_error ("%s", error->message);
  return g_bytes_new_take (buffer, length);
}

static double
import_seconds (LeafCatalog             *catalog,
                const char              *tree,
                const LeafImportOptions *options,
                LeafImportSummary      **summary)
{
  g_autoptr(GError) error = NULL;
  const char *paths[] = { tree, NULL };
  gint64 start = g_get_monotonic_time ();

  *summary = leaf_import_run (catalog, paths, options, NULL, NULL, NULL, &error);
  if (*summary == NULL)
    g_error ("%s", error->message);
  return (g_get_monotonic_time () - start) / 1e6;
}

int
main (int   argc,
      char *argv[])
{
  int n_images = 5000, batch_size = 0;
  gboolean json = FALSE;
  g_autofree char *keep = NULL;
  GOptionEntry entries[] = {
    { "images", 0, 0, G_OPTION_ARG_INT, &n_images, "JPEGs to import (5000)", "N" },
    { "batch-size", 0, 0, G_OPTION_ARG_INT, &batch_size, "Files per transaction (256)", "B" },
    { "keep", 0, 0, G_OPTION_ARG_FILENAME, &keep, "Write the tree and catalog here", "DIR" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON object", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(LeafImportSummary) first = NULL;
  g_autoptr(LeafImportSummary) second = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *tree = NULL;
  g_autofree char *path = NULL;
  LeafImportOptions options = { 0 };
  guint64 total_bytes = 0;
  double first_s, second_s;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  dir = keep != NULL ? g_strdup (keep) : g_dir_make_tmp ("leafscope-bench-XXXXXX", &error);
  if (dir == NULL)
    g_error ("%s", error->message);
  tree = g_build_filename (dir, "tree", NULL);
  path = g_build_filename (dir, "import.leafscope", NULL);

  for (int i = 0; i < n_images; i++)
    {
      g_autoptr(GBytes) jpeg = photo_like_jpeg (i);
      g_autofree char *file = g_strdup_printf ("%s/class-%d/leaf-%06d.jpg", tree, i % 5, i);

      ctu_write_bytes (file, g_bytes_get_data (jpeg, NULL), g_bytes_get_size (jpeg));
      total_bytes += g_bytes_get_size (jpeg);
    }

  catalog = leaf_catalog_open (path, LEAF_CATALOG_OPEN_CREATE, &error);
  if (catalog == NULL)
    g_error ("%s", error->message);
  options.batch_size = batch_size;
  first_s = import_seconds (catalog, tree, &options, &first);
  second_s = import_seconds (catalog, tree, &options, &second);
  if (first->n_added != (guint) n_images || second->n_present != (guint) n_images)
    g_error ("imported %u, then found %u present, of %d", first->n_added, second->n_present,
             n_images);

  if (json)
    printf ("{\"images\": %d, \"mean_file_bytes\": %" G_GUINT64_FORMAT ", "
            "\"first_import_s\": %.3f, \"first_import_images_per_s\": %.0f, "
            "\"reimport_s\": %.3f, \"reimport_images_per_s\": %.0f}\n",
            n_images, total_bytes / n_images, first_s, n_images / first_s, second_s,
            n_images / second_s);
  else
    {
      printf ("%d JPEGs of 256x256, %" G_GUINT64_FORMAT " bytes on average\n", n_images,
              total_bytes / n_images);
      printf ("  first import  %6.2f s  %7.0f images/s\n", first_s, n_images / first_s);
      printf ("  re-import     %6.2f s  %7.0f images/s\n", second_s, n_images / second_s);
    }

  g_clear_object (&catalog);
  if (keep == NULL)
    leaf_test_remove_tree (dir);
  return 0;
}
