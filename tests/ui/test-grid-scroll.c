/* test-grid-scroll.c: the Library grid scrolled fast while its list changes logs nothing
 *
 * GTK 4.8's grid view forgets the heights of its rows when its whole model changes, until its
 * next allocation; scrolling in between made it warn "GtkGridView failed to scroll to given
 * position" (and "ran out of items"). GLib's test framework makes any warning fatal here.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "test-grid-scroll"

#include "config.h"

#include "leaf-test.h"

#include <adwaita.h>

#include "leaf-catalog.h"
#include "leaf-library-view.h"
#include "ui-test-util.h"

#define N_PHOTOS 300 /* ui_test_make_photos() makes 300 different ones */

static gboolean painted;

static void
on_after_paint_cb (GdkFrameClock *clock,
                   gpointer       data)
{
  painted = TRUE;
}

static void
test_fast_scroll_while_reloading (void)
{
  g_autofree char *dir = g_dir_make_tmp ("leafscope-grid-scroll-XXXXXX", NULL);
  g_autofree char *path = ui_test_make_catalog (dir, NULL, N_PHOTOS);
  g_autoptr(GError) error = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (17);
  LeafCatalog *catalog;
  LeafLibraryView *view;
  GtkWidget *window, *grid;
  GtkAdjustment *adjustment;
  gulong handler;

  catalog = leaf_catalog_open (path, LEAF_CATALOG_OPEN_DEFAULT, &error);
  g_assert_no_error (error);

  view = LEAF_LIBRARY_VIEW (leaf_library_view_new ());
  window = ui_test_show (GTK_WIDGET (view), 1000, 700);
  leaf_library_view_set_catalog (view, catalog);
  ui_test_iterate (200);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (leaf_library_view_get_selection (view))),
                    ==, N_PHOTOS);
  grid = ui_test_find_type (GTK_WIDGET (view), GTK_TYPE_GRID_VIEW);
  g_assert_nonnull (grid);
  adjustment = gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (grid));
  handler = g_signal_connect (gtk_widget_get_frame_clock (window), "after-paint",
                              G_CALLBACK (on_after_paint_cb), NULL);

  for (guint round = 0; round < 60; round++)
    {
      GtkSelectionModel *selection = leaf_library_view_get_selection (view);
      LeafImageList *list = LEAF_IMAGE_LIST (gtk_multi_selection_get_model (GTK_MULTI_SELECTION (selection)));
      double value = gtk_adjustment_get_value (adjustment);
      double top = gtk_adjustment_get_upper (adjustment) - gtk_adjustment_get_page_size (adjustment);

      /* The list changes as a whole (a filter's photos after an import, a new sort order)... */
      if (round % 3 == 0)
        {
          g_assert_true (leaf_image_list_reload (list, &error));
          g_assert_no_error (error);
        }
      /* ...and a fast wheel moves the grid several times before the next frame. */
      for (guint step = 0; step < 6; step++)
        {
          value = CLAMP (value + g_rand_double_range (rand, -200, 900), 0, top);
          gtk_adjustment_set_value (adjustment, value);
        }
      painted = FALSE;
      while (!painted)
        g_main_context_iteration (NULL, TRUE);
    }

  g_signal_handler_disconnect (gtk_widget_get_frame_clock (window), handler);
  g_object_ref (view);
  gtk_window_destroy (GTK_WINDOW (window));
  ui_test_iterate (50);
  g_assert_finalize_object (view);
  leaf_catalog_close (catalog);
  g_assert_finalize_object (catalog);
  leaf_test_remove_tree (dir);
}

int
main (int   argc,
      char *argv[])
{
  ui_test_init (&argc, &argv);
  g_test_add_func ("/ui/grid/fast-scroll-while-reloading", test_fast_scroll_while_reloading);
  return g_test_run ();
}
