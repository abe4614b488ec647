/* leaf-screenshots.c: renders docs/screenshots/{library,train,diagnose}.png from a real session
 * (Diagnose with its heatmap on)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * With base weights it also saves library-suggestions.png (the trained model's suggestions on
 * the photos that lost their label) and label-next.png.
 *
 * Usage (under Xvfb, with XDG_DATA_HOME and XDG_CACHE_HOME pointing at scratch folders):
 *   leaf-screenshots CATALOG PHOTO_FOLDER OUTPUT_FOLDER [BASE_WEIGHTS]
 * imports the photo folder into a new catalog, labels and trains through the window as a user
 * would, and saves each view as it is drawn. Without base weights the Train view is shown
 * before training.
 */

#define G_LOG_DOMAIN "leaf-screenshots"

#include "config.h"

#include <adwaita.h>

#include "leaf-application.h"
#include "leaf-thumbnail-cell.h"
#include "leaf-weights-store.h"
#include "leaf-window-private.h"
#include "ui-test-util.h"

/* An import, or the review of the photos by a new model. */
static gboolean
task_done (gpointer data)
{
  return LEAF_WINDOW (data)->task_cancellable == NULL;
}

static void
collect_drop_downs (GtkWidget *widget,
                    GPtrArray *found)
{
  if (GTK_IS_DROP_DOWN (widget))
    g_ptr_array_add (found, widget);
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child;
       child = gtk_widget_get_next_sibling (child))
    collect_drop_downs (child, found);
}

static gboolean
training_done (gpointer data)
{
  return !leaf_train_view_is_running (LEAF_WINDOW (data)->train_view);
}

static gboolean
diagnosis_done (gpointer data)
{
  return !leaf_diagnose_view_is_busy (LEAF_WINDOW (data)->diagnose_view);
}

static gboolean
heatmap_shown (gpointer data)
{
  return leaf_diagnose_view_is_showing_heatmap (LEAF_WINDOW (data)->diagnose_view);
}

static void
collect_cells (GtkWidget *widget,
               GPtrArray *cells)
{
  if (LEAF_IS_THUMBNAIL_CELL (widget) && gtk_widget_get_mapped (widget))
    g_ptr_array_add (cells, widget);
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child;
       child = gtk_widget_get_next_sibling (child))
    collect_cells (child, cells);
}

static gboolean
thumbnails_shown (gpointer data)
{
  g_autoptr(GPtrArray) cells = g_ptr_array_new ();

  collect_cells (GTK_WIDGET (LEAF_WINDOW (data)->library_view), cells);
  for (guint i = 0; i < cells->len; i++)
    if (!leaf_thumbnail_cell_has_thumbnail (g_ptr_array_index (cells, i)))
      return FALSE;
  return cells->len > 0;
}

/* Selects the row of the Library's sidebar that shows this title. */
static void
show_sidebar_row (LeafWindow *window,
                  const char *title)
{
  GtkWidget *sidebar = ui_test_find_type (GTK_WIDGET (window->library_view), GTK_TYPE_LIST_BOX);
  GtkWidget *label = ui_test_find_label (sidebar, title);
  GtkWidget *row = label ? gtk_widget_get_ancestor (label, GTK_TYPE_LIST_BOX_ROW) : NULL;

  if (row == NULL)
    g_error ("The Library's sidebar has no row “%s”", title);
  gtk_list_box_select_row (GTK_LIST_BOX (gtk_widget_get_parent (row)), GTK_LIST_BOX_ROW (row));
  ui_test_iterate (300);
}

static gboolean
label_next_ranked (gpointer data)
{
  GtkWidget *view = GTK_WIDGET (LEAF_WINDOW (data)->library_view);

  return ui_test_find_label (view, "Ranking the unlabelled") == NULL
         && ui_test_find_label (view, "would teach the model most") != NULL;
}

static void
save (LeafWindow *window,
      const char *folder,
      const char *name)
{
  g_autoptr(GdkTexture) texture = NULL;
  g_autofree char *path = g_build_filename (folder, name, NULL);

  ui_test_iterate (600);
  /* The content holds the header bar too; the window itself adds only its frame. */
  texture = ui_test_render (adw_application_window_get_content (ADW_APPLICATION_WINDOW (window)));
  if (!gdk_texture_save_to_png (texture, path))
    g_error ("Could not write %s", path);
  g_print ("%s\n", path);
}

/* "early_blight" reads as "Early blight". */
static void
tidy_class_names (LeafCatalog *catalog)
{
  g_autoptr(GPtrArray) classes = leaf_catalog_list_classes (catalog, NULL);

  for (guint i = 0; classes && i < classes->len; i++)
    {
      LeafClassInfo *info = g_ptr_array_index (classes, i);
      g_autofree char *name = g_strdelimit (g_strdup (info->name), "_", ' ');

      name[0] = g_ascii_toupper (name[0]);
      if (!g_str_equal (name, info->name))
        leaf_catalog_rename_class (catalog, info->id, name, NULL);
    }
}

static GFile *
photo_in (const char *folder,
          const char *class_name,
          guint       index)
{
  g_autofree char *dir = g_build_filename (folder, class_name, NULL);
  g_autoptr(GDir) listing = g_dir_open (dir, 0, NULL);
  const char *name = NULL;

  for (guint i = 0; listing && i <= index; i++)
    name = g_dir_read_name (listing);
  g_assert (name != NULL);
  return g_file_new_build_filename (dir, name, NULL);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(LeafApplication) app = NULL;
  g_autoptr(GFile) catalog_file = NULL;
  g_autoptr(GError) error = NULL;
  GtkSelectionModel *selection;
  LeafWindow *window;
  const char *output;

  if (argc < 4)
    {
      g_printerr ("Usage: %s CATALOG PHOTO_FOLDER OUTPUT_FOLDER [BASE_WEIGHTS]\n", argv[0]);
      return 2;
    }
  output = argv[3];
  gtk_init ();
  adw_init ();

  if (argc > 4)
    {
      g_autoptr(LeafWeightsStore) store = leaf_weights_store_new (NULL);
      g_autofree char *stored = leaf_weights_store_import (store, argv[4], NULL, NULL, &error);

      if (stored == NULL)
        g_error ("%s", error->message);
    }

  app = leaf_application_new (G_APPLICATION_NON_UNIQUE);
  if (!g_application_register (G_APPLICATION (app), NULL, &error))
    g_error ("%s", error->message);
  catalog_file = g_file_new_for_commandline_arg (argv[1]);
  g_application_open (G_APPLICATION (app), &catalog_file, 1, "");
  window = LEAF_WINDOW (gtk_application_get_active_window (GTK_APPLICATION (app)));
  gtk_window_set_default_size (GTK_WINDOW (window), 1200, 780);
  ui_test_iterate (300);

  {
    g_autoptr(GFile) photos = g_file_new_for_commandline_arg (argv[2]);

    _leaf_window_import_folder (window, photos, NULL);
    ui_test_wait_for (task_done, window, 120000);
  }
  tidy_class_names (window->catalog);
  /* Let the import's toast go before the first picture. */
  ui_test_iterate (9000);
  selection = leaf_library_view_get_selection (window->library_view);

  /* A few photos lose their label, to be labelled again with the keys. */
  {
    gint64 ids[36];

    for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
      {
        g_autoptr(LeafLibraryItem) item = g_list_model_get_item (G_LIST_MODEL (selection),
                                                                 i * 16 + 3);

        ids[i] = leaf_library_item_get_id (item);
      }
    leaf_catalog_set_labels (window->catalog, ids, G_N_ELEMENTS (ids), 0, LEAF_LABEL_HOW_MANUAL,
                             NULL);
  }
  /* Open the search bar and sort by file name, which mixes the classes. */
  {
    g_autoptr(GPtrArray) drop_downs = g_ptr_array_new ();

    g_object_set (window->library_view, "search-mode", TRUE, NULL);
    collect_drop_downs (ui_test_find_type (GTK_WIDGET (window->library_view),
                                           GTK_TYPE_SEARCH_BAR), drop_downs);
    /* Label, date, order. */
    g_assert (drop_downs->len == 3);
    gtk_drop_down_set_selected (g_ptr_array_index (drop_downs, 2), 1);
  }
  selection = leaf_library_view_get_selection (window->library_view);
  for (guint i = 0; i < 3; i++)
    gtk_selection_model_select_item (selection, 6 + i, FALSE);
  /* Thumbnails are made on a low-priority thread; wait for those on screen. */
  ui_test_wait_for (thumbnails_shown, window, 120000);
  save (window, output, "library.png");
  g_object_set (window->library_view, "search-mode", FALSE, NULL);

  leaf_window_show_view (window, "train");
  gtk_window_set_default_size (GTK_WINDOW (window), 1280, 1040);
  if (argc > 4)
    {
      LeafRecipe recipe;

      leaf_recipe_init_preset (&recipe, LEAF_PRESET_DEFAULT);
      recipe.head_epochs = 12;
      recipe.head_early_stopping = FALSE;
      recipe.finetune_epochs = 4;
      recipe.finetune_early_stopping = FALSE;
      recipe.views = 1;
      leaf_train_view_set_recipe (window->train_view, &recipe);
      gtk_widget_activate_action (GTK_WIDGET (window->train_view), "train.start", NULL);
      ui_test_wait_for (training_done, window, 3600 * 1000);
      ui_test_wait_for (task_done, window, 3600 * 1000);
    }
  save (window, output, "train.png");

  gtk_window_set_default_size (GTK_WINDOW (window), 1200, 780);
  leaf_window_show_view (window, "diagnose");
  {
    GFile *files[3];

    files[0] = photo_in (argv[2], "late_blight", 3);
    files[1] = photo_in (argv[2], "healthy", 5);
    files[2] = photo_in (argv[2], "early_blight", 7);
    leaf_diagnose_view_open_files (window->diagnose_view, files, G_N_ELEMENTS (files));
    ui_test_wait_for (diagnosis_done, window, 120000);
    for (guint i = 0; i < G_N_ELEMENTS (files); i++)
      g_object_unref (files[i]);
  }
  leaf_diagnose_view_set_show_heatmap (window->diagnose_view, TRUE);
  ui_test_wait_for (heatmap_shown, window, 120000);
  save (window, output, "diagnose.png");

  if (argc > 4)
    {
      /* The model's suggestions on the photos that lost their label, then Label Next. */
      leaf_window_show_view (window, "library");
      ui_test_wait_for (task_done, window, 3600 * 1000);
      show_sidebar_row (window, "Unlabelled");
      ui_test_wait_for (thumbnails_shown, window, 120000);
      save (window, output, "library-suggestions.png");
      show_sidebar_row (window, "Label Next");
      ui_test_wait_for (label_next_ranked, window, 600000);
      ui_test_wait_for (thumbnails_shown, window, 120000);
      save (window, output, "label-next.png");
    }

  gtk_window_destroy (GTK_WINDOW (window));
  ui_test_iterate (100);
  return 0;
}
