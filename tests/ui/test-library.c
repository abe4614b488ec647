/* test-library.c: the labelling flow of the Library against a real catalog
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "test-library"

#include "config.h"

#include "leaf-test.h"

#include <adwaita.h>

#include "leaf-catalog.h"
#include "leaf-import.h"
#include "leaf-library-view-private.h"
#include "leaf-thumbnail-cell.h"
#include "leaf-viewer-window.h"
#include "ui-test-util.h"

typedef struct
{
  char *dir;
  LeafCatalog *catalog;
  gint64 classes[3];
  GtkWidget *window;
  LeafLibraryView *view;
  GtkWidget *grid;
} Fixture;

/* The view replaces its model when the filter changes: always ask for the current one. */
#define SELECTION(f) leaf_library_view_get_selection ((f)->view)

static const char *const class_names[] = { "healthy", "early blight", "late blight" };

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autofree char *photos = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafImportSummary) summary = NULL;
  LeafImportOptions options = { 0 };
  const char *paths[2] = { NULL, NULL };

  f->dir = g_dir_make_tmp ("leafscope-library-XXXXXX", NULL);
  photos = g_build_filename (f->dir, "photos", NULL);
  g_free (ui_test_make_photos (photos, NULL, 12));
  path = g_build_filename (f->dir, "test.leafscope", NULL);
  f->catalog = leaf_catalog_open (path, LEAF_CATALOG_OPEN_CREATE, &error);
  g_assert_no_error (error);
  paths[0] = photos;
  summary = leaf_import_run (f->catalog, paths, &options, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (summary->n_added, ==, 12);
  g_assert_cmpuint (summary->n_labeled, ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (class_names); i++)
    {
      f->classes[i] = leaf_catalog_add_class (f->catalog, class_names[i], "#2ec27e", NULL, &error);
      g_assert_no_error (error);
    }

  f->view = LEAF_LIBRARY_VIEW (leaf_library_view_new ());
  f->window = ui_test_show (GTK_WIDGET (f->view), 1000, 700);
  leaf_library_view_set_catalog (f->view, f->catalog);
  ui_test_iterate (100);
  f->grid = ui_test_find_type (GTK_WIDGET (f->view), GTK_TYPE_GRID_VIEW);
  g_assert_nonnull (f->grid);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (SELECTION (f))), ==, 12);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  GtkWidget *view = GTK_WIDGET (f->view);

  g_object_ref (view);
  gtk_window_destroy (GTK_WINDOW (f->window));
  ui_test_iterate (50);
  g_assert_finalize_object (view);
  leaf_catalog_close (f->catalog);
  g_assert_finalize_object (f->catalog);
  leaf_test_remove_tree (f->dir);
  g_free (f->dir);
}

static guint
count_class (Fixture *f,
             gint64   class_id)
{
  LeafImageQuery query = { 0 };
  g_autoptr(GError) error = NULL;
  guint count = 0;

  if (class_id == 0)
    query.labels = LEAF_LABEL_FILTER_UNLABELED;
  else
    query.class_id = class_id;
  g_assert_true (leaf_catalog_count_images (f->catalog, &query, &count, &error));
  g_assert_no_error (error);
  return count;
}

static const char *
item_class (Fixture *f,
            guint    position)
{
  g_autoptr(LeafLibraryItem) item = g_list_model_get_item (G_LIST_MODEL (SELECTION (f)), position);

  /* The list keeps the item alive; the string outlives this reference. */
  return leaf_library_item_get_class_name (item);
}

static guint64
n_selected (Fixture *f)
{
  g_autoptr(GtkBitset) bitset = gtk_selection_model_get_selection (SELECTION (f));

  return gtk_bitset_get_size (bitset);
}

static void
test_keys_label_selection (Fixture       *f,
                           gconstpointer  data)
{
  gtk_selection_model_select_range (SELECTION (f), 0, 3, TRUE);
  gtk_widget_grab_focus (f->grid);

  /* 2 labels with the second class of the sidebar. */
  g_assert_true (ui_test_press_key (f->grid, GDK_KEY_2, 0));
  g_assert_cmpuint (count_class (f, f->classes[1]), ==, 3);
  g_assert_cmpstr (item_class (f, 0), ==, "early blight");
  g_assert_cmpstr (item_class (f, 2), ==, "early blight");
  g_assert_null (item_class (f, 3));
  /* Labels change in place: the selection stays for the next key. */
  g_assert_cmpuint (n_selected (f), ==, 3);

  g_assert_true (ui_test_press_key (f->grid, GDK_KEY_KP_3, 0));
  g_assert_cmpuint (count_class (f, f->classes[1]), ==, 0);
  g_assert_cmpuint (count_class (f, f->classes[2]), ==, 3);

  /* 0 removes the label. */
  g_assert_true (ui_test_press_key (f->grid, GDK_KEY_0, 0));
  g_assert_cmpuint (count_class (f, 0), ==, 12);
  g_assert_null (item_class (f, 1));

  /* A key without a class changes nothing. */
  g_assert_true (ui_test_press_key (f->grid, GDK_KEY_8, 0));
  g_assert_cmpuint (count_class (f, 0), ==, 12);
}

static void
test_undo_updates_grid (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *description = NULL;

  gtk_selection_model_select_item (SELECTION (f), 5, TRUE);
  g_assert_true (ui_test_press_key (f->grid, GDK_KEY_1, 0));
  g_assert_cmpstr (item_class (f, 5), ==, "healthy");

  g_assert_true (leaf_catalog_undo (f->catalog, &description, &error));
  g_assert_no_error (error);
  g_assert_null (item_class (f, 5));
  g_assert_true (leaf_catalog_redo (f->catalog, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (item_class (f, 5), ==, "healthy");
}

static void
test_sidebar_filters (Fixture       *f,
                      gconstpointer  data)
{
  GtkListBox *sidebar = GTK_LIST_BOX (ui_test_find_type (GTK_WIDGET (f->view), GTK_TYPE_LIST_BOX));
  GtkListBoxRow *row;

  gtk_selection_model_select_range (SELECTION (f), 0, 4, TRUE);
  g_assert_true (ui_test_press_key (f->grid, GDK_KEY_1, 0));

  /* Rows: All, Unlabelled, the three classes, Disagreements, Uncertain. */
  row = gtk_list_box_get_row_at_index (sidebar, 1);
  gtk_list_box_select_row (sidebar, row);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (SELECTION (f))), ==, 8);
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (row), "8"));

  row = gtk_list_box_get_row_at_index (sidebar, 2);
  gtk_list_box_select_row (sidebar, row);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (SELECTION (f))), ==, 4);
  g_assert_cmpstr (item_class (f, 0), ==, "healthy");

  /* Without a model the review filters cannot be chosen. */
  g_assert_false (gtk_widget_get_sensitive (GTK_WIDGET (gtk_list_box_get_row_at_index (sidebar, 5))));

  gtk_list_box_select_row (sidebar, gtk_list_box_get_row_at_index (sidebar, 0));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (SELECTION (f))), ==, 12);
}

/* Two labellers disagree on two photos: the Disputed row appears with its count and the
 * agreement in its tooltip, and a label given there is a decision, not a third vote. */
static void
test_disputed_queue (Fixture       *f,
                     gconstpointer  data)
{
  GtkListBox *sidebar = GTK_LIST_BOX (ui_test_find_type (GTK_WIDGET (f->view), GTK_TYPE_LIST_BOX));
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafAgreement) agreement = NULL;
  g_autofree char *labeller = NULL;
  GtkListBoxRow *disputed = NULL, *row;
  g_autofree char *tooltip = NULL;
  gint64 ids[4], undecided;

  for (guint i = 0; i < 4; i++)
    {
      g_autoptr(LeafLibraryItem) item = g_list_model_get_item (G_LIST_MODEL (SELECTION (f)), i);

      ids[i] = leaf_library_item_get_id (item);
    }
  /* Rows: All, Unlabelled, the three classes, Disagreements, Uncertain, Disputed. */
  disputed = gtk_list_box_get_row_at_index (sidebar, 7);
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (disputed)));

  leaf_catalog_set_labeller (f->catalog, "ana");
  g_assert_true (leaf_catalog_set_labels (f->catalog, ids, 4, f->classes[0],
                                          LEAF_LABEL_HOW_MANUAL, &error));
  leaf_catalog_set_labeller (f->catalog, "bo");
  g_assert_true (leaf_catalog_set_labels (f->catalog, ids, 2, f->classes[1],
                                          LEAF_LABEL_HOW_MANUAL, &error));
  g_assert_true (leaf_catalog_set_labels (f->catalog, ids + 2, 2, f->classes[0],
                                          LEAF_LABEL_HOW_MANUAL, &error));
  g_assert_no_error (error);
  ui_test_iterate (50);

  disputed = gtk_list_box_get_row_at_index (sidebar, 7);
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (disputed)));
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (disputed), "Disputed"));
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (disputed), "2"));
  g_assert_true (gtk_widget_get_has_tooltip (GTK_WIDGET (disputed)));
  tooltip = _leaf_library_view_dup_disputed_tooltip (f->view);
  g_assert_nonnull (strstr (tooltip, "Cohen"));

  gtk_list_box_select_row (sidebar, disputed);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (SELECTION (f))), ==, 2);
  {
    g_autoptr(LeafLibraryItem) first = g_list_model_get_item (G_LIST_MODEL (SELECTION (f)), 0);

    undecided = leaf_library_item_get_id (first) == ids[0] ? ids[1] : ids[0];
  }
  gtk_selection_model_select_item (SELECTION (f), 0, TRUE);
  /* Key 3: the third class, which neither labeller chose; as "carol". */
  leaf_catalog_set_labeller (f->catalog, "carol");
  g_assert_true (ui_test_press_key (f->grid, GDK_KEY_3, 0));
  ui_test_iterate (50);
  row = gtk_list_box_get_row_at_index (sidebar, 7);
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (row), "1"));
  g_assert_cmpuint (count_class (f, f->classes[2]), ==, 1);
  gtk_list_box_select_row (sidebar, gtk_list_box_get_row_at_index (sidebar, 0));
  gtk_list_box_select_row (sidebar, row);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (SELECTION (f))), ==, 1);
  ui_test_iterate (50);

  /* Under the photo, its votes, kept up to date. */
  g_assert_nonnull (ui_test_find_label (f->grid, "ana: healthy · bo: early blight"));
  leaf_catalog_set_labeller (f->catalog, "dan");
  g_assert_true (leaf_catalog_set_labels (f->catalog, &undecided, 1, f->classes[2],
                                          LEAF_LABEL_HOW_MANUAL, &error));
  g_assert_no_error (error);
  ui_test_iterate (20);
  g_assert_nonnull (ui_test_find_label (f->grid,
                                        "ana: healthy · bo: early blight · dan: late blight"));

  agreement = leaf_catalog_get_agreement (f->catalog, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (agreement->n_adjudicated, ==, 1);
  g_assert_cmpuint (agreement->n_disputed, ==, 1);
  /* ana, bo and dan voted; carol only decided. */
  g_assert_cmpuint (agreement->n_labellers, ==, 3);
}

static void
collect_type (GtkWidget *widget,
              GType      type,
              GPtrArray *found)
{
  if (g_type_is_a (G_OBJECT_TYPE (widget), type))
    g_ptr_array_add (found, widget);
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child;
       child = gtk_widget_get_next_sibling (child))
    collect_type (child, type, found);
}

static gboolean
one_photo_shown (gpointer data)
{
  Fixture *f = data;

  return g_list_model_get_n_items (G_LIST_MODEL (SELECTION (f))) == 1;
}

static void
test_search_bar (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GPtrArray) drop_downs = g_ptr_array_new ();
  GtkEditable *name = GTK_EDITABLE (ui_test_find_type (GTK_WIDGET (f->view), GTK_TYPE_SEARCH_ENTRY));
  GtkDropDown *labels;

  gtk_selection_model_select_range (SELECTION (f), 0, 5, TRUE);
  g_assert_true (ui_test_press_key (f->grid, GDK_KEY_3, 0));
  g_object_set (f->view, "search-mode", TRUE, NULL);
  collect_type (ui_test_find_type (GTK_WIDGET (f->view), GTK_TYPE_SEARCH_BAR), GTK_TYPE_DROP_DOWN,
                drop_downs);
  /* The search bar's: label, date, order. */
  g_assert_cmpuint (drop_downs->len, ==, 3);
  labels = g_ptr_array_index (drop_downs, 0);

  /* Any label, unlabelled, then the classes in sidebar order. */
  g_assert_cmpuint (g_list_model_get_n_items (gtk_drop_down_get_model (labels)), ==, 2 + 3);
  gtk_drop_down_set_selected (labels, 2 + 2);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (SELECTION (f))), ==, 5);
  g_assert_cmpstr (item_class (f, 0), ==, "late blight");
  gtk_drop_down_set_selected (labels, 1);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (SELECTION (f))), ==, 7);
  gtk_drop_down_set_selected (labels, 0);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (SELECTION (f))), ==, 12);

  /* File names: the generated photos are photo-NNN.png with consecutive numbers. */
  {
    g_autoptr(LeafLibraryItem) item = g_list_model_get_item (G_LIST_MODEL (SELECTION (f)), 11);
    const char *last = leaf_catalog_image_get_name (leaf_library_item_get_image (item));

    gtk_editable_set_text (name, last);
    /* The search entry waits for typing to pause before it reports a change. */
    g_assert_true (ui_test_wait_for (one_photo_shown, f, 2000));
  }

  /* Closing the search bar drops its filters. */
  g_object_set (f->view, "search-mode", FALSE, NULL);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (SELECTION (f))), ==, 12);
}

static void
test_add_and_remove_class (Fixture       *f,
                           gconstpointer  data)
{
  AdwMessageDialog *dialog;
  GtkWidget *entry;
  g_autoptr(GPtrArray) classes = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->view), "library.add-class", NULL));
  ui_test_iterate (50);
  dialog = ADW_MESSAGE_DIALOG (ui_test_find_message_dialog ());
  g_assert_nonnull (dialog);
  entry = adw_message_dialog_get_extra_child (dialog);
  gtk_editable_set_text (GTK_EDITABLE (entry), "leaf mold");
  adw_message_dialog_response (dialog, "apply");
  gtk_window_destroy (GTK_WINDOW (dialog));
  ui_test_iterate (50);
  classes = leaf_catalog_list_classes (f->catalog, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (classes->len, ==, 4);
  g_assert_cmpuint (leaf_library_view_get_classes (f->view)->len, ==, 4);

  /* The new class is fourth: key 4 labels with it. */
  gtk_selection_model_select_range (SELECTION (f), 0, 2, TRUE);
  g_assert_true (ui_test_press_key (f->grid, GDK_KEY_4, 0));
  g_assert_cmpstr (item_class (f, 1), ==, "leaf mold");

  /* Removing asks first; its labels go back to Unlabelled, and undo brings both back. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->view), "library.remove-class", "x",
                                             ((LeafClassInfo *) g_ptr_array_index (classes, 3))->id));
  ui_test_iterate (50);
  dialog = ADW_MESSAGE_DIALOG (ui_test_find_message_dialog ());
  g_assert_nonnull (dialog);
  g_assert_cmpuint (leaf_library_view_get_classes (f->view)->len, ==, 4);
  adw_message_dialog_response (dialog, "remove");
  gtk_window_destroy (GTK_WINDOW (dialog));
  ui_test_iterate (50);
  g_assert_cmpuint (leaf_library_view_get_classes (f->view)->len, ==, 3);
  g_assert_null (item_class (f, 1));
  g_assert_cmpuint (count_class (f, 0), ==, 12);

  g_assert_true (leaf_catalog_undo (f->catalog, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (leaf_library_view_get_classes (f->view)->len, ==, 4);
  g_assert_cmpstr (item_class (f, 1), ==, "leaf mold");
}

static void
test_cells_follow_changes (Fixture       *f,
                           gconstpointer  data)
{
  g_autofree char *more = g_build_filename (f->dir, "more", NULL);
  const char *paths[] = { more, NULL };
  LeafImportOptions options = { 0 };
  g_autoptr(LeafImportSummary) summary = NULL;
  g_autoptr(GError) error = NULL;

  /* Photos imported while the grid shows the list join its end. */
  g_free (ui_test_make_photos (more, NULL, 3));
  summary = leaf_import_run (f->catalog, paths, &options, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  ui_test_iterate (100);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (SELECTION (f))), ==, 15);

  /* What the cells on screen show follows labels and class renames. */
  gtk_selection_model_select_item (SELECTION (f), 0, TRUE);
  g_assert_true (ui_test_press_key (f->grid, GDK_KEY_1, 0));
  gtk_selection_model_select_item (SELECTION (f), 13, TRUE);
  g_assert_true (ui_test_press_key (f->grid, GDK_KEY_2, 0));
  ui_test_iterate (100);
  g_assert_nonnull (ui_test_find_label (f->grid, "healthy"));
  g_assert_nonnull (ui_test_find_label (f->grid, "early blight"));

  g_assert_true (leaf_catalog_rename_class (f->catalog, f->classes[0], "sound", &error));
  g_assert_no_error (error);
  ui_test_iterate (100);
  g_assert_null (ui_test_find_label (f->grid, "healthy"));
  g_assert_nonnull (ui_test_find_label (f->grid, "sound"));
  g_assert_cmpstr (item_class (f, 0), ==, "sound");
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
all_cells_have_thumbnails (gpointer data)
{
  Fixture *f = data;
  g_autoptr(GPtrArray) cells = g_ptr_array_new ();

  collect_cells (f->grid, cells);
  g_assert_cmpuint (cells->len, >=, 12);
  for (guint i = 0; i < cells->len; i++)
    if (!leaf_thumbnail_cell_has_thumbnail (g_ptr_array_index (cells, i)))
      return FALSE;
  return TRUE;
}

static void
test_selection_keeps_thumbnails (Fixture       *f,
                                 gconstpointer  data)
{
  g_autofree char *cache = g_build_filename (f->dir, "thumbnails", NULL);
  g_autoptr(LeafThumbnailer) thumbnailer = leaf_thumbnailer_new (cache);

  leaf_library_view_set_thumbnailer (f->view, thumbnailer);
  g_assert_true (ui_test_wait_for (all_cells_have_thumbnails, f, 10000));

  /* Selecting and labelling must not send the cells back to decoding, which would show the
   * placeholder until the thumbnail came back from the thread pool. */
  gtk_selection_model_select_range (SELECTION (f), 0, 6, TRUE);
  g_assert_true (all_cells_have_thumbnails (f));
  g_assert_true (ui_test_press_key (f->grid, GDK_KEY_3, 0));
  g_assert_true (all_cells_have_thumbnails (f));
}

static void
test_viewer_navigates_and_labels (Fixture       *f,
                                  gconstpointer  data)
{
  LeafViewerWindow *viewer;

  gtk_selection_model_select_item (SELECTION (f), 2, TRUE);
  gtk_widget_grab_focus (f->grid);
  g_assert_true (ui_test_press_key (f->grid, GDK_KEY_space, 0));
  ui_test_iterate (100);
  viewer = LEAF_VIEWER_WINDOW (ui_test_find_toplevel (LEAF_TYPE_VIEWER_WINDOW));
  g_assert_nonnull (viewer);
  g_assert_cmpuint (leaf_viewer_window_get_position (viewer), ==, 2);

  g_assert_true (ui_test_press_key (GTK_WIDGET (viewer), GDK_KEY_Right, 0));
  g_assert_cmpuint (leaf_viewer_window_get_position (viewer), ==, 3);
  /* The grid follows the viewer. */
  g_assert_true (gtk_selection_model_is_selected (SELECTION (f), 3));
  g_assert_cmpuint (n_selected (f), ==, 1);

  g_assert_true (ui_test_press_key (GTK_WIDGET (viewer), GDK_KEY_3, 0));
  g_assert_cmpstr (item_class (f, 3), ==, "late blight");
  g_assert_null (item_class (f, 2));

  g_assert_true (ui_test_press_key (GTK_WIDGET (viewer), GDK_KEY_Left, 0));
  g_assert_true (ui_test_press_key (GTK_WIDGET (viewer), GDK_KEY_plus, 0));
  g_assert_cmpfloat (leaf_viewer_window_get_zoom (viewer), >, 0);
  g_assert_true (ui_test_press_key (GTK_WIDGET (viewer), GDK_KEY_0, GDK_CONTROL_MASK));
  g_assert_cmpfloat (leaf_viewer_window_get_zoom (viewer), ==, 0);

  g_object_ref (viewer);
  g_assert_true (ui_test_press_key (GTK_WIDGET (viewer), GDK_KEY_Escape, 0));
  ui_test_iterate (50);
  g_assert_finalize_object (viewer);
}

int
main (int   argc,
      char *argv[])
{
  ui_test_init (&argc, &argv);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/ui/library/keys-label-selection", test_keys_label_selection);
  ADD ("/ui/library/undo-updates-grid", test_undo_updates_grid);
  ADD ("/ui/library/sidebar-filters", test_sidebar_filters);
  ADD ("/ui/library/disputed-queue", test_disputed_queue);
  ADD ("/ui/library/search-bar", test_search_bar);
  ADD ("/ui/library/add-and-remove-class", test_add_and_remove_class);
  ADD ("/ui/library/cells-follow-changes", test_cells_follow_changes);
  ADD ("/ui/library/selection-keeps-thumbnails", test_selection_keeps_thumbnails);
  ADD ("/ui/library/viewer-navigates-and-labels", test_viewer_navigates_and_labels);
#undef ADD

  return g_test_run ();
}
