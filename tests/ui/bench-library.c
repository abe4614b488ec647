/* bench-library.c: how quickly the Library grid shows and scrolls a large catalog
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 *   bench-library [--json] CATALOG [STEPS]
 *
 * Opens CATALOG (for example the 100,000-image one `bench-catalog-scale --keep FILE` builds) in
 * the Library view of a 1200×800 window and times, from the change to the next painted frame:
 * showing the catalog, STEPS (default 300) scrolls of one wheel notch, and jumps to a quarter,
 * the middle, three quarters and the end; then how long after the jump to the end every photo
 * on screen has its thumbnail, and how large the cached thumbnails are. Run it under Xvfb;
 * thumbnails of files that do not exist show as missing, which costs what a cache hit does.
 */

#include "config.h"

#include "leaf-test.h"

#include <adwaita.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>

#include "leaf-library-view.h"
#include "leaf-thumbnail-cell.h"
#include "ui-test-util.h"

static gboolean painted;

static void
on_after_paint_cb (GdkFrameClock *clock,
                   gpointer       data)
{
  painted = TRUE;
}

/* Milliseconds from now until the window has painted a frame. */
static double
until_painted (gint64 start)
{
  painted = FALSE;
  while (!painted)
    g_main_context_iteration (NULL, TRUE);
  return (g_get_monotonic_time () - start) / 1000.0;
}

/* Whether every cell on screen shows its thumbnail or that it has none. */
static gboolean
screen_has_thumbnails (GtkWidget *grid)
{
  graphene_rect_t bounds;

  for (GtkWidget *child = gtk_widget_get_first_child (grid); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *cell = gtk_widget_get_first_child (child);

      if (!LEAF_IS_THUMBNAIL_CELL (cell) || !gtk_widget_get_mapped (cell) ||
          !gtk_widget_compute_bounds (child, grid, &bounds) ||
          bounds.origin.y + bounds.size.height <= 0 ||
          bounds.origin.y >= gtk_widget_get_height (grid))
        continue;
      if (!leaf_thumbnail_cell_has_thumbnail (LEAF_THUMBNAIL_CELL (cell)) &&
          ui_test_find_type (cell, GTK_TYPE_IMAGE) != NULL &&
          g_strcmp0 (gtk_image_get_icon_name (GTK_IMAGE (ui_test_find_type (cell, GTK_TYPE_IMAGE))),
                     "image-loading-symbolic") == 0)
        return FALSE;
    }
  return TRUE;
}

typedef struct
{
  guint   n_files;
  guint64 total;
  guint64 largest;
} CacheSize;

static void
measure_cache (const char *dir,
               CacheSize  *size)
{
  g_autoptr(GDir) listing = g_dir_open (dir, 0, NULL);
  const char *name;

  while (listing != NULL && (name = g_dir_read_name (listing)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      GStatBuf info;

      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        measure_cache (path, size);
      else if (g_stat (path, &info) == 0)
        {
          size->n_files++;
          size->total += info.st_size;
          size->largest = MAX (size->largest, (guint64) info.st_size);
        }
    }
}

static int
compare_doubles (const void *a,
                 const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *cache = NULL;
  g_autoptr(LeafThumbnailer) thumbnailer = NULL;
  GtkWidget *view, *window, *grid, *scrolled;
  GtkAdjustment *adjustment;
  g_autofree double *times = NULL;
  double show, jumps[4], end_thumbnails = -1;
  gboolean json = argc > 1 && g_strcmp0 (argv[1], "--json") == 0;
  CacheSize cache_size = { 0 };
  guint steps;
  gint64 start;

  if (json)
    {
      argv++;
      argc--;
    }
  if (argc < 2)
    {
      fprintf (stderr, "Usage: %s [--json] CATALOG [STEPS]\n", argv[0]);
      return 2;
    }
  steps = argc > 2 ? (guint) atoi (argv[2]) : 300;
  gtk_init ();
  adw_init ();
  catalog = leaf_catalog_open (argv[1], LEAF_CATALOG_OPEN_DEFAULT, &error);
  if (catalog == NULL)
    g_error ("%s", error->message);

  cache = g_dir_make_tmp ("leafscope-bench-XXXXXX", NULL);
  thumbnailer = leaf_thumbnailer_new (cache);
  view = leaf_library_view_new ();
  leaf_library_view_set_thumbnailer (LEAF_LIBRARY_VIEW (view), thumbnailer);
  window = ui_test_show (view, 1200, 800);
  g_signal_connect (gtk_widget_get_frame_clock (window), "after-paint",
                    G_CALLBACK (on_after_paint_cb), NULL);

  start = g_get_monotonic_time ();
  leaf_library_view_set_catalog (LEAF_LIBRARY_VIEW (view), catalog);
  printf ("set catalog %.1f ms\n", (g_get_monotonic_time () - start) / 1000.0);
  gtk_widget_queue_draw (window);
  show = until_painted (start);

  grid = ui_test_find_type (view, GTK_TYPE_GRID_VIEW);
  scrolled = gtk_widget_get_ancestor (grid, GTK_TYPE_SCROLLED_WINDOW);
  adjustment = gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (scrolled));
  /* Straight to the end, the thumbnails of the top still queued: how long until the photos on
   * screen have theirs. */
  while (gtk_adjustment_get_upper (adjustment) <= gtk_adjustment_get_page_size (adjustment))
    g_main_context_iteration (NULL, TRUE);
  start = g_get_monotonic_time ();
  gtk_adjustment_set_value (adjustment, gtk_adjustment_get_upper (adjustment));
  /* The cells are bound to the photos at the end as the frame is laid out. */
  until_painted (start);
  while (g_get_monotonic_time () - start < 300 * G_USEC_PER_SEC)
    {
      if (screen_has_thumbnails (grid))
        {
          end_thumbnails = (g_get_monotonic_time () - start) / 1000.0;
          break;
        }
      g_main_context_iteration (NULL, TRUE);
    }
  gtk_adjustment_set_value (adjustment, 0);
  ui_test_iterate (500);

  times = g_new0 (double, steps);
  for (guint i = 0; i < steps; i++)
    {
      start = g_get_monotonic_time ();
      gtk_adjustment_set_value (adjustment, gtk_adjustment_get_value (adjustment) + 60);
      times[i] = until_painted (start);
    }
  for (guint j = 0; j < G_N_ELEMENTS (jumps); j++)
    {
      double upper = gtk_adjustment_get_upper (adjustment) - gtk_adjustment_get_page_size (adjustment);

      start = g_get_monotonic_time ();
      gtk_adjustment_set_value (adjustment, upper * (j + 1) / G_N_ELEMENTS (jumps));
      jumps[j] = until_painted (start);
    }
  measure_cache (cache, &cache_size);
  qsort (times, steps, sizeof (double), compare_doubles);

  if (json)
    {
      printf ("{\"photos\": %u, \"show_ms\": %.1f, \"scroll_median_ms\": %.1f, "
              "\"scroll_p95_ms\": %.1f, \"scroll_worst_ms\": %.1f, "
              "\"jump_ms\": [%.1f, %.1f, %.1f, %.1f], \"end_thumbnails_ms\": %.1f, "
              "\"thumbnails\": %u, \"thumbnail_mean_bytes\": %.0f, "
              "\"thumbnail_max_bytes\": %" G_GUINT64_FORMAT "}\n",
              g_list_model_get_n_items (G_LIST_MODEL (leaf_library_view_get_selection (LEAF_LIBRARY_VIEW (view)))),
              show, times[steps / 2], times[steps * 95 / 100], times[steps - 1],
              jumps[0], jumps[1], jumps[2], jumps[3], end_thumbnails, cache_size.n_files,
              cache_size.n_files ? (double) cache_size.total / cache_size.n_files : 0,
              cache_size.largest);
    }
  else
    {
      printf ("%u photos in the grid\n",
              g_list_model_get_n_items (G_LIST_MODEL (leaf_library_view_get_selection (LEAF_LIBRARY_VIEW (view)))));
      printf ("show the catalog              %7.1f ms\n", show);
      printf ("scroll one notch, median      %7.1f ms\n", times[steps / 2]);
      printf ("scroll one notch, 95th pct    %7.1f ms\n", times[steps * 95 / 100]);
      printf ("scroll one notch, worst       %7.1f ms\n", times[steps - 1]);
      printf ("jump to 25%% / 50%% / 75%% / end %5.1f / %.1f / %.1f / %.1f ms\n",
              jumps[0], jumps[1], jumps[2], jumps[3]);
      printf ("thumbnails on screen after a first jump to the end %7.1f ms\n", end_thumbnails);
      printf ("%u thumbnails cached, %.1f KB on average, %.1f KB at most\n", cache_size.n_files,
              cache_size.n_files ? cache_size.total / 1024.0 / cache_size.n_files : 0,
              cache_size.largest / 1024.0);
    }

  gtk_window_destroy (GTK_WINDOW (window));
  leaf_test_remove_tree (cache);
  return 0;
}
