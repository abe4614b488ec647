/* bench-library.c: how quickly the Library grid shows and scrolls a large catalog
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 *   bench-library CATALOG [STEPS]
 *
 * Opens CATALOG (for example the 100,000-image one `bench-catalog-scale --keep FILE` builds) in
 * the Library view of a 1200×800 window and times, from the change to the next painted frame:
 * showing the catalog, STEPS (default 300) scrolls of one wheel notch, and jumps to a quarter,
 * the middle, three quarters and the end. Run it under Xvfb; thumbnails of files that do not
 * exist show as missing, which costs what a cache hit does.
 */

#include "config.h"

#include "leaf-test.h"

#include <adwaita.h>
#include <stdio.h>
#include <stdlib.h>

#include "leaf-library-view.h"
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
  guint steps = argc > 2 ? (guint) atoi (argv[2]) : 300;
  g_autofree double *times = NULL;
  double show, jumps[4];
  gint64 start;

  if (argc < 2)
    {
      fprintf (stderr, "Usage: %s CATALOG [STEPS]\n", argv[0]);
      return 2;
    }
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
  qsort (times, steps, sizeof (double), compare_doubles);

  printf ("%u photos in the grid\n",
          g_list_model_get_n_items (G_LIST_MODEL (leaf_library_view_get_selection (LEAF_LIBRARY_VIEW (view)))));
  printf ("show the catalog              %7.1f ms\n", show);
  printf ("scroll one notch, median      %7.1f ms\n", times[steps / 2]);
  printf ("scroll one notch, 95th pct    %7.1f ms\n", times[steps * 95 / 100]);
  printf ("scroll one notch, worst       %7.1f ms\n", times[steps - 1]);
  printf ("jump to 25%% / 50%% / 75%% / end %5.1f / %.1f / %.1f / %.1f ms\n",
          jumps[0], jumps[1], jumps[2], jumps[3]);

  gtk_window_destroy (GTK_WINDOW (window));
  leaf_test_remove_tree (cache);
  return 0;
}
