/* test-group-keys.c: group keys from the window, under Xvfb: the import's choice of grouping
 * with its preview, and the Library's Set Group on selected photos, shown in their tooltips
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "test-group-keys"

#include "config.h"

#include "leaf-test.h"

#include <adwaita.h>
#include <string.h>

#include "leaf-catalog.h"
#include "leaf-group-dialog.h"
#include "leaf-import.h"
#include "leaf-library-view.h"
#include "leaf-thumbnail-cell.h"
#include "ui-test-util.h"

/* Two plants of each class, two photos of each plant: class/plant-N/photo.png */
static char *
make_plant_folders (const char *dir)
{
  char *photos = g_build_filename (dir, "photos", NULL);
  static const char *const classes[] = { "blight", "healthy" };

  for (guint c = 0; c < G_N_ELEMENTS (classes); c++)
    for (guint plant = 1; plant <= 2; plant++)
      {
        g_autofree char *name = g_strdup_printf ("plant-%u", c * 2 + plant);
        g_autofree char *folder = g_build_filename (photos, classes[c], name, NULL);

        g_free (ui_test_make_photos (folder, NULL, 2));
      }
  return photos;
}

static AdwMessageDialog *
find_dialog (void)
{
  GtkWindow *dialog = ui_test_find_toplevel (ADW_TYPE_MESSAGE_DIALOG);

  g_assert_nonnull (dialog);
  return ADW_MESSAGE_DIALOG (dialog);
}

/* As a click on the dialog's button: adw_message_dialog_response() alone leaves it open. */
static void
respond (AdwMessageDialog *dialog,
         const char       *response)
{
  adw_message_dialog_response (dialog, response);
  gtk_window_destroy (GTK_WINDOW (dialog));
  ui_test_iterate (50);
}

static void
check (AdwMessageDialog *dialog,
       const char       *title)
{
  GtkWidget *label = ui_test_find_label (GTK_WIDGET (dialog), title);

  g_assert_nonnull (label);
  gtk_check_button_set_active (GTK_CHECK_BUTTON (gtk_widget_get_ancestor (label,
                                                                          GTK_TYPE_CHECK_BUTTON)),
                               TRUE);
  ui_test_iterate (20);
}

static void
on_pattern_chosen_cb (const char *pattern,
                      gpointer    user_data)
{
  char **chosen = user_data;

  g_free (*chosen);
  *chosen = g_strdup (pattern != NULL ? pattern : "(none)");
}

static void
test_import_dialog (void)
{
  g_autofree char *dir = g_dir_make_tmp ("leafscope-group-XXXXXX", NULL);
  g_autofree char *photos = make_plant_folders (dir);
  g_autofree char *path = g_build_filename (dir, "test.leafscope", NULL);
  g_autofree char *chosen = NULL;
  g_autoptr(GFile) folder = g_file_new_for_path (photos);
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(LeafImportSummary) summary = NULL;
  g_autoptr(GPtrArray) images = NULL;
  g_autoptr(GError) error = NULL;
  GtkWidget *window = ui_test_show (gtk_label_new (NULL), 800, 600);
  LeafImportOptions options = { 0 };
  LeafImageQuery all = { 0 };
  const char *paths[] = { photos, NULL };
  AdwMessageDialog *dialog;
  GtkEditable *entry;

  leaf_import_group_dialog_present (GTK_WINDOW (window), folder, on_pattern_chosen_cb, &chosen,
                                    NULL);
  ui_test_iterate (50);
  dialog = find_dialog ();
  /* None is the default, and says what it means. */
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (dialog), "on its own, at random"));

  /* The folder of each photo: two photos per plant, four plants, previewed by path. */
  check (dialog, "Sub-folder");
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (dialog),
                                        "8 of the first 8 photos get a group key, 4 groups"));
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (dialog), "→ blight/plant-1\n"));
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (dialog), "→ healthy/plant-4"));
  g_assert_null (ui_test_find_label (GTK_WIDGET (dialog), "Each group is a whole top folder"));

  /* A pattern of one's own: a wrong one cannot be imported with, and says why. */
  check (dialog, "File-name pattern");
  entry = GTK_EDITABLE (ui_test_find_type (GTK_WIDGET (dialog), GTK_TYPE_ENTRY));
  g_assert_true (gtk_widget_get_sensitive (GTK_WIDGET (entry)));
  gtk_editable_set_text (entry, "(plant-");
  ui_test_iterate (20);
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (dialog), "Not a valid pattern"));
  g_assert_false (adw_message_dialog_get_response_enabled (dialog, "import"));
  gtk_editable_set_text (entry, "(plant-[12])/");
  ui_test_iterate (20);
  g_assert_true (adw_message_dialog_get_response_enabled (dialog, "import"));
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (dialog),
                                        "4 of the first 8 photos get a group key, 2 groups"));
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (dialog), "photo-"));
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (dialog), "→ no group"));
  respond (dialog, "import");
  g_assert_cmpstr (chosen, ==, "(plant-[12])/");

  /* The import gives the keys the preview showed. */
  catalog = leaf_catalog_open (path, LEAF_CATALOG_OPEN_CREATE, &error);
  g_assert_no_error (error);
  options.group_pattern = chosen;
  summary = leaf_import_run (catalog, paths, &options, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  images = leaf_catalog_query_images (catalog, &all, 0, G_MAXUINT, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (images->len, ==, 8);
  for (guint i = 0; i < images->len; i++)
    {
      const char *image_path = leaf_catalog_image_get_path (images->pdata[i]);
      const char *key = leaf_catalog_image_get_group_key (images->pdata[i]);

      if (strstr (image_path, "plant-1") != NULL)
        g_assert_cmpstr (key, ==, "plant-1");
      else if (strstr (image_path, "plant-2") != NULL)
        g_assert_cmpstr (key, ==, "plant-2");
      else
        g_assert_null (key);
    }

  /* Cancelling imports nothing. */
  g_clear_pointer (&chosen, g_free);
  leaf_import_group_dialog_present (GTK_WINDOW (window), folder, on_pattern_chosen_cb, &chosen,
                                    NULL);
  ui_test_iterate (50);
  respond (find_dialog (), "cancel");
  g_assert_null (chosen);

  /* Photos straight in their class folders: grouping by folder would put a class in one split,
   * and the dialog says so. */
  {
    static const char *const classes[] = { "blight", "healthy", NULL };
    g_autofree char *flat = g_build_filename (dir, "flat", NULL);
    g_autoptr(GFile) flat_folder = g_file_new_for_path (flat);

    g_free (ui_test_make_photos (flat, classes, 2));
    leaf_import_group_dialog_present (GTK_WINDOW (window), flat_folder, on_pattern_chosen_cb,
                                      &chosen, NULL);
    ui_test_iterate (50);
    dialog = find_dialog ();
    check (dialog, "Sub-folder");
    g_assert_nonnull (ui_test_find_label (GTK_WIDGET (dialog), "Each group is a whole top folder"));
    /* Plant folders below the class folders do not get the warning (above). */
    respond (dialog, "cancel");
  }

  gtk_window_destroy (GTK_WINDOW (window));
  ui_test_iterate (50);
  leaf_catalog_close (catalog);
  leaf_test_remove_tree (dir);
}

static const char *
cell_tooltip (GtkWidget *grid,
              guint      position)
{
  /* The grid's cells come in the order of their photos. */
  GtkWidget *cell = ui_test_find_type (grid, LEAF_TYPE_THUMBNAIL_CELL);

  for (guint i = 0; i < position && cell != NULL; i++)
    cell = ui_test_find_type (gtk_widget_get_next_sibling (gtk_widget_get_parent (cell)),
                              LEAF_TYPE_THUMBNAIL_CELL);
  g_assert_nonnull (cell);
  return gtk_widget_get_tooltip_text (cell);
}

static void
set_group (LeafLibraryView *view,
           const char      *key,
           const char      *expected_prefill)
{
  AdwMessageDialog *dialog;
  GtkEditable *entry;

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "library.set-group", NULL));
  ui_test_iterate (50);
  dialog = find_dialog ();
  entry = GTK_EDITABLE (ui_test_find_type (GTK_WIDGET (dialog), GTK_TYPE_ENTRY));
  g_assert_cmpstr (gtk_editable_get_text (entry), ==, expected_prefill);
  gtk_editable_set_text (entry, key);
  respond (dialog, "set");
}

static const char *
group_of (LeafCatalog *catalog,
          GtkSelectionModel *selection,
          guint        position)
{
  g_autoptr(LeafLibraryItem) item = g_list_model_get_item (G_LIST_MODEL (selection), position);
  g_autoptr(LeafCatalogImage) image = leaf_catalog_get_image (catalog,
                                                             leaf_library_item_get_id (item),
                                                             NULL);
  static char key[64];

  g_snprintf (key, sizeof key, "%s", leaf_catalog_image_get_group_key (image) ?: "(none)");
  return key;
}

static void
test_set_group (void)
{
  g_autofree char *dir = g_dir_make_tmp ("leafscope-group-XXXXXX", NULL);
  g_autofree char *photos = g_build_filename (dir, "photos", NULL);
  g_autofree char *path = g_build_filename (dir, "test.leafscope", NULL);
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(LeafImportSummary) summary = NULL;
  g_autoptr(GError) error = NULL;
  LeafImportOptions options = { 0 };
  const char *paths[] = { photos, NULL };
  LeafLibraryView *view;
  GtkSelectionModel *selection;
  GtkWidget *window, *grid;

  g_free (ui_test_make_photos (photos, NULL, 4));
  catalog = leaf_catalog_open (path, LEAF_CATALOG_OPEN_CREATE, &error);
  g_assert_no_error (error);
  summary = leaf_import_run (catalog, paths, &options, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  view = LEAF_LIBRARY_VIEW (leaf_library_view_new ());
  window = ui_test_show (GTK_WIDGET (view), 1000, 700);
  leaf_library_view_set_catalog (view, catalog);
  ui_test_iterate (100);
  grid = ui_test_find_type (GTK_WIDGET (view), GTK_TYPE_GRID_VIEW);
  selection = leaf_library_view_get_selection (view);

  /* Without a selection there is nothing to group. */
  g_assert_false (gtk_widget_activate_action (GTK_WIDGET (view), "library.set-group", NULL)
                  && ui_test_find_toplevel (ADW_TYPE_MESSAGE_DIALOG) != NULL);

  gtk_selection_model_select_range (selection, 0, 2, TRUE);
  ui_test_iterate (20);
  set_group (view, "plant-7", "");
  g_assert_cmpstr (group_of (catalog, selection, 0), ==, "plant-7");
  g_assert_cmpstr (group_of (catalog, selection, 1), ==, "plant-7");
  g_assert_cmpstr (group_of (catalog, selection, 2), ==, "(none)");
  /* The tooltips say it at once. */
  g_assert_true (g_str_has_suffix (cell_tooltip (grid, 0), ", group plant-7"));
  g_assert_null (strstr (cell_tooltip (grid, 2), "group"));

  /* The dialog offers the key the photos share; an empty key removes it. */
  set_group (view, "", "plant-7");
  g_assert_cmpstr (group_of (catalog, selection, 0), ==, "(none)");
  g_assert_null (strstr (cell_tooltip (grid, 0), "group"));

  gtk_window_destroy (GTK_WINDOW (window));
  ui_test_iterate (50);
  leaf_catalog_close (catalog);
  leaf_test_remove_tree (dir);
}

int
main (int    argc,
      char **argv)
{
  ui_test_init (&argc, &argv);
  g_test_add_func ("/group-keys/import-dialog", test_import_dialog);
  g_test_add_func ("/group-keys/set-group", test_set_group);
  return g_test_run ();
}
