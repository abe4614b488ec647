/* test-label-next.c: the Library's Label Next view, under Xvfb: what it says without a model,
 * the batch in the ranking of `leafscope-cli next`, its count, the move to the next photo after
 * a label, and the batch size kept in GSettings
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "test-label-next"

#include "config.h"

#include "leaf-test.h"

#include <adwaita.h>

#include "leaf-catalog.h"
#include "leaf-engine.h"
#include "leaf-import.h"
#include "leaf-library-view.h"
#include "leaf-next.h"
#include "leaf-settings.h"
#include "lt.h"
#include "ui-test-util.h"

#define N_PHOTOS 12
/* Ranking a dozen photos takes a fraction of a second; a loaded CI machine gets far more. */
#define RANK_TIMEOUT_MS 120000

typedef struct
{
  char *dir;
  LeafCatalog *catalog;
  GSettings *settings;
  gint64 classes[2];
  char *model_path;
  GtkWidget *window;
  LeafLibraryView *view;
  GtkWidget *grid;
} Fixture;

#define SELECTION(f) leaf_library_view_get_selection ((f)->view)

static const char *const class_names[] = { "healthy", "blight", NULL };

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

  f->settings = leaf_settings_new ();
  g_assert_nonnull (f->settings);
  g_settings_reset (f->settings, "next-batch-size");
  g_settings_reset (f->settings, "next-advance");
  f->dir = g_dir_make_tmp ("leafscope-label-next-XXXXXX", NULL);
  photos = g_build_filename (f->dir, "photos", NULL);
  g_free (ui_test_make_photos (photos, NULL, N_PHOTOS));
  path = g_build_filename (f->dir, "test.leafscope", NULL);
  f->catalog = leaf_catalog_open (path, LEAF_CATALOG_OPEN_CREATE, &error);
  g_assert_no_error (error);
  paths[0] = photos;
  summary = leaf_import_run (f->catalog, paths, &options, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (summary->n_added, ==, N_PHOTOS);
  for (guint i = 0; i < G_N_ELEMENTS (f->classes); i++)
    {
      f->classes[i] = leaf_catalog_add_class (f->catalog, class_names[i], "#2ec27e", NULL,
                                              &error);
      g_assert_no_error (error);
    }

  f->view = LEAF_LIBRARY_VIEW (leaf_library_view_new ());
  f->window = ui_test_show (GTK_WIDGET (f->view), 1000, 700);
  leaf_library_view_set_catalog (f->view, f->catalog);
  ui_test_iterate (100);
  f->grid = ui_test_find_type (GTK_WIDGET (f->view), GTK_TYPE_GRID_VIEW);
  g_assert_nonnull (f->grid);
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
  g_clear_object (&f->settings);
  leaf_test_remove_tree (f->dir);
  g_free (f->model_path);
  g_free (f->dir);
}

/* An untrained network over the two classes, recorded as the catalog's active model. */
static void
add_active_model (Fixture *f)
{
  LeafModelMeta meta = {
    .classes = (char **) class_names,
    .n_classes = 2,
    .image_size = 64,
    .resize_size = 73,
    .temperature = 1.0,
  };
  g_autofree char *json = leaf_model_meta_to_json (&meta);
  g_autofree char *contents = NULL;
  g_autofree char *sha = NULL;
  g_autoptr(GError) error = NULL;
  LtModel *model = NULL;
  char *message = NULL;
  gsize length;
  gint64 id;

  f->model_path = g_build_filename (f->dir, "model.safetensors", NULL);
  g_assert_true (leaf_engine_init_torch (1, &error));
  lt_manual_seed (7);
  g_assert_cmpint (lt_model_new (2, &model, &message), ==, LT_OK);
  g_assert_cmpint (lt_model_save (model, f->model_path, json, &message), ==, LT_OK);
  lt_model_free (model);
  g_assert_true (g_file_get_contents (f->model_path, &contents, &length, NULL));
  sha = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) contents, length);
  id = leaf_catalog_add_model (f->catalog, 0, f->model_path, sha, class_names, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (leaf_catalog_set_active_model (f->catalog, id, &error));
  g_assert_no_error (error);
  ui_test_iterate (50);
}

/* The title of the sidebar's row */
static GtkWidget *
find_row_title (Fixture *f)
{
  GtkWidget *sidebar = ui_test_find_type (GTK_WIDGET (f->view), GTK_TYPE_LIST_BOX);
  GtkWidget *label = ui_test_find_label (sidebar, "Label Next");

  g_assert_nonnull (label);
  return label;
}

/* The count follows the title. */
static const char *
row_count (Fixture *f)
{
  return gtk_label_get_text (GTK_LABEL (gtk_widget_get_next_sibling (find_row_title (f))));
}

static void
show_label_next (Fixture *f)
{
  GtkWidget *row = gtk_widget_get_ancestor (find_row_title (f), GTK_TYPE_LIST_BOX_ROW);

  g_assert_nonnull (row);
  gtk_list_box_select_row (GTK_LIST_BOX (gtk_widget_get_parent (row)), GTK_LIST_BOX_ROW (row));
  ui_test_iterate (50);
}

/* The grid shows a ranked batch: nothing is being ranked, and the bar says how many. */
static gboolean
batch_shown (gpointer data)
{
  Fixture *f = data;

  return ui_test_find_label (GTK_WIDGET (f->view), "Ranking the unlabelled") == NULL
         && ui_test_find_label (GTK_WIDGET (f->view), "would teach the model most, the most "
                                                      "useful first") != NULL;
}

static GArray *
grid_ids (Fixture *f)
{
  GListModel *model = G_LIST_MODEL (SELECTION (f));
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint64));

  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(LeafLibraryItem) item = g_list_model_get_item (model, i);
      gint64 id = leaf_library_item_get_id (item);

      g_array_append_val (ids, id);
    }
  return ids;
}

static gint64
class_of (Fixture *f,
          gint64   id)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalogImage) image = leaf_catalog_get_image (f->catalog, id, &error);

  g_assert_no_error (error);
  return leaf_catalog_image_get_class_id (image);
}

static guint
selected_position (Fixture *f)
{
  g_autoptr(GtkBitset) bitset = gtk_selection_model_get_selection (SELECTION (f));

  g_assert_cmpuint (gtk_bitset_get_size (bitset), ==, 1);
  return gtk_bitset_get_minimum (bitset);
}

/* Without a model, the view says what it needs instead of an empty grid. */
static void
test_needs_model (Fixture       *f,
                  gconstpointer  data)
{
  show_label_next (f);
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (f->view), "Label Next Needs a Model"));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (SELECTION (f))), ==, 0);
  g_assert_cmpstr (row_count (f), ==, "");
}

static void
test_batch (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr(LeafPredictor) predictor = NULL;
  g_autoptr(GPtrArray) expected = NULL;
  g_autoptr(GArray) ids = NULL;
  g_autoptr(GError) error = NULL;
  GtkWidget *button;

  add_active_model (f);
  /* Before it is ranked, the sidebar says how many photos the batch will hold. */
  g_assert_cmpstr (row_count (f), ==, G_STRINGIFY (N_PHOTOS));
  g_settings_set_int (f->settings, "next-batch-size", 10);
  ui_test_iterate (20);
  g_assert_cmpstr (row_count (f), ==, "10");
  show_label_next (f);
  g_assert_true (ui_test_wait_for (batch_shown, f, RANK_TIMEOUT_MS));

  /* The batch is the engine's ranking, in its order, as `next` lists it. */
  predictor = leaf_predictor_new_from_model (f->model_path, &error);
  g_assert_no_error (error);
  expected = leaf_next_rank_catalog (f->catalog, predictor, 0, 10,
                                     LEAF_NEXT_DEFAULT_MAX_SIMILARITY, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  ids = grid_ids (f);
  g_assert_cmpuint (ids->len, ==, 10);
  for (guint i = 0; i < ids->len; i++)
    g_assert_cmpint (g_array_index (ids, gint64, i), ==,
                     leaf_catalog_image_get_id (((LeafNextItem *) expected->pdata[i])->image));
  g_assert_cmpstr (row_count (f), ==, "10");

  /* A label moves the selection on to the next photo, and the count down. */
  gtk_selection_model_select_item (SELECTION (f), 0, TRUE);
  g_assert_true (ui_test_press_key (f->grid, GDK_KEY_1, 0));
  ui_test_iterate (50);
  g_assert_cmpint (class_of (f, g_array_index (ids, gint64, 0)), ==, f->classes[0]);
  g_assert_cmpuint (selected_position (f), ==, 1);
  g_assert_cmpstr (row_count (f), ==, "9");
  /* The labelled photo stays in the batch, so that a wrong key can be put right. */
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (SELECTION (f))), ==, 10);

  /* Removing a label does not move on; the setting turned off keeps the selection too. */
  g_assert_true (ui_test_press_key (f->grid, GDK_KEY_0, 0));
  ui_test_iterate (50);
  g_assert_cmpuint (selected_position (f), ==, 1);
  g_settings_set_boolean (f->settings, "next-advance", FALSE);
  ui_test_iterate (50);
  g_assert_true (ui_test_press_key (f->grid, GDK_KEY_2, 0));
  ui_test_iterate (50);
  g_assert_cmpint (class_of (f, g_array_index (ids, gint64, 1)), ==, f->classes[1]);
  g_assert_cmpuint (selected_position (f), ==, 1);
  g_assert_cmpstr (row_count (f), ==, "8");

  /* A batch size of 25 ranks again: the ten photos still unlabelled, the labelled ones gone. */
  g_settings_set_int (f->settings, "next-batch-size", 25);
  ui_test_iterate (50);
  g_assert_true (ui_test_wait_for (batch_shown, f, RANK_TIMEOUT_MS));
  g_clear_pointer (&ids, g_array_unref);
  ids = grid_ids (f);
  g_assert_cmpuint (ids->len, ==, N_PHOTOS - 2);
  for (guint i = 0; i < ids->len; i++)
    g_assert_cmpint (class_of (f, g_array_index (ids, gint64, i)), ==, 0);
  g_assert_cmpstr (row_count (f), ==, "10");

  /* Next Batch ranks again after more labels. */
  gtk_selection_model_select_item (SELECTION (f), 0, TRUE);
  g_assert_true (ui_test_press_key (f->grid, GDK_KEY_1, 0));
  ui_test_iterate (50);
  button = gtk_widget_get_ancestor (ui_test_find_label (GTK_WIDGET (f->view), "Next Batch"),
                                    GTK_TYPE_BUTTON);
  g_signal_emit_by_name (button, "clicked");
  ui_test_iterate (50);
  g_assert_true (ui_test_wait_for (batch_shown, f, RANK_TIMEOUT_MS));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (SELECTION (f))), ==, N_PHOTOS - 3);
}

int
main (int    argc,
      char **argv)
{
  ui_test_init (&argc, &argv);
  g_test_add ("/label-next/needs-model", Fixture, NULL, fixture_setup, test_needs_model,
              fixture_teardown);
  g_test_add ("/label-next/batch", Fixture, NULL, fixture_setup, test_batch, fixture_teardown);
  return g_test_run ();
}
