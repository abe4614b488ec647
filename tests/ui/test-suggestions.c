/* test-suggestions.c: what the active model thinks, in the Library, under Xvfb: the photos it
 * predicts when a catalog is opened, the suggestion on each thumbnail, A and Enter to accept it,
 * a class key to override it, the Disagreements line and the Uncertain filter
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The model is an untrained network whose referral threshold lies in the widest gap between its
 * own top probabilities, so that it refers some photos and not others.
 */

#define G_LOG_DOMAIN "test-suggestions"

#include "config.h"

#include "leaf-test.h"

#include <adwaita.h>

#include "leaf-engine.h"
#include "leaf-import.h"
#include "leaf-model-file.h"
#include "leaf-predictor.h"
#include "leaf-thumbnail-cell.h"
#include "leaf-viewer-window.h"
#include "leaf-window-private.h"
#include "lt.h"
#include "ui-test-util.h"

#define N_PER_CLASS 4
#define N_UNLABELLED 6
#define N_PHOTOS (2 * N_PER_CLASS + N_UNLABELLED)
/* A review of a dozen photos takes a second or two; a loaded CI machine gets far more. */
#define REVIEW_TIMEOUT_MS 120000

typedef struct
{
  char *dir;
  double refer_below;
  guint n_referred;    /* by the test's own predictor */
  LeafWindow *window;
  LeafCatalog *catalog; /* the window's */
  gint64 model_id;
  GtkWidget *grid;
} Fixture;

static const char *const class_names[] = { "late_blight", "healthy", NULL };

static int
compare_floats (gconstpointer a,
                gconstpointer b)
{
  float x = *(const float *) a, y = *(const float *) b;

  return (x > y) - (x < y);
}

/* The referral threshold in the widest gap between the model's top probabilities for the photos
 * of @catalog, so that the review, on another thread, lands on the same side; sets how many
 * photos it refers. */
static double
choose_threshold (Fixture     *f,
                  LeafCatalog *catalog,
                  const char  *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafPredictor) predictor = leaf_predictor_new_from_model (path, &error);
  g_autoptr(GPtrArray) images = leaf_catalog_query_images (catalog, NULL, 0, G_MAXUINT, &error);
  g_autoptr(GArray) tops = g_array_new (FALSE, FALSE, sizeof (float));
  guint gap = 1;

  g_assert_no_error (error);
  for (guint i = 0; i < images->len; i++)
    {
      float probabilities[2];
      float top;

      g_assert_true (leaf_predictor_predict_file (predictor,
                                                  leaf_catalog_image_get_path (images->pdata[i]),
                                                  FALSE, probabilities, NULL, &error));
      g_assert_no_error (error);
      top = MAX (probabilities[0], probabilities[1]);
      g_array_append_val (tops, top);
    }
  g_array_sort (tops, compare_floats);
  for (guint i = 2; i < tops->len; i++)
    if (g_array_index (tops, float, i) - g_array_index (tops, float, i - 1)
        > g_array_index (tops, float, gap) - g_array_index (tops, float, gap - 1))
      gap = i;
  g_assert_cmpfloat (g_array_index (tops, float, gap) - g_array_index (tops, float, gap - 1), >,
                     1e-4);
  f->n_referred = gap;
  return (g_array_index (tops, float, gap - 1) + g_array_index (tops, float, gap)) / 2;
}

/* An untrained network over the two classes, recorded in @catalog; with @refer, it refers the
 * less sure of the photos (f->refer_below). */
static gint64
add_model (Fixture     *f,
           LeafCatalog *catalog,
           guint64      seed,
           gboolean     refer)
{
  LeafModelMeta meta = {
    .classes = (char **) class_names,
    .n_classes = 2,
    .image_size = 64,
    .resize_size = 73,
    .temperature = 1.0,
  };
  g_autofree char *name = g_strdup_printf ("model-%" G_GUINT64_FORMAT ".safetensors", seed);
  g_autofree char *path = g_build_filename (f->dir, name, NULL);
  g_autofree char *json = leaf_model_meta_to_json (&meta);
  g_autofree char *contents = NULL;
  g_autofree char *sha = NULL;
  g_autoptr(GError) error = NULL;
  static float weight[2 * 1280];
  int64_t shape[2] = { 2, 1280 };
  LtModel *model = NULL;
  LtTensor *tensor = NULL;
  char *message = NULL;
  gsize length;
  gint64 id;

  g_assert_true (leaf_engine_init_torch (1, &error));
  lt_manual_seed (seed);
  g_assert_cmpint (lt_model_new (2, &model, &message), ==, LT_OK);
  /* A new network's pooled features are tiny: a louder classifier tells the photos apart. */
  g_assert_cmpint (lt_model_get_tensor (model, "classifier.1.weight", &tensor, &message), ==,
                   LT_OK);
  g_assert_cmpint (lt_tensor_copy_f32 (tensor, weight, G_N_ELEMENTS (weight), &message), ==,
                   LT_OK);
  lt_tensor_free (tensor);
  for (guint i = 0; i < G_N_ELEMENTS (weight); i++)
    weight[i] *= 3e13f;
  g_assert_cmpint (lt_tensor_new_f32 (weight, shape, 2, &tensor, &message), ==, LT_OK);
  g_assert_cmpint (lt_model_set_tensor (model, "classifier.1.weight", tensor, &message), ==,
                   LT_OK);
  lt_tensor_free (tensor);
  g_assert_cmpint (lt_model_save (model, path, json, &message), ==, LT_OK);
  if (refer)
    {
      /* Saved again with the same weights and the threshold they call for. */
      f->refer_below = meta.refer_below = choose_threshold (f, catalog, path);
      g_free (json);
      json = leaf_model_meta_to_json (&meta);
      g_assert_cmpint (lt_model_save (model, path, json, &message), ==, LT_OK);
    }
  lt_model_free (model);

  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
  sha = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) contents, length);
  id = leaf_catalog_add_model (catalog, 0, path, sha, class_names, NULL, &error);
  g_assert_no_error (error);
  return id;
}

static gboolean
review_done (gpointer data)
{
  Fixture *f = data;
  LeafImageQuery unreviewed = { .model_id = f->model_id, .unreviewed_only = TRUE };
  guint count = G_MAXUINT;

  return f->window->task_cancellable == NULL
         && leaf_catalog_count_images (f->catalog, &unreviewed, &count, NULL) && count == 0;
}

/* A catalog with labelled and unlabelled photos and an active model that has predicted none of
 * them, opened in a window. */
static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autofree char *labelled = NULL;
  g_autofree char *unlabelled = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafImportSummary) summary = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(GFile) file = NULL;
  LeafImportOptions options = { 0 };
  const char *paths[3] = { NULL, NULL, NULL };

  f->dir = g_dir_make_tmp ("leafscope-suggestions-XXXXXX", NULL);
  labelled = g_build_filename (f->dir, "labelled", NULL);
  unlabelled = g_build_filename (f->dir, "unlabelled", NULL);
  g_free (ui_test_make_photos (labelled, class_names, N_PER_CLASS));
  g_free (ui_test_make_photos (unlabelled, NULL, N_UNLABELLED));
  path = g_build_filename (f->dir, "test.leafscope", NULL);
  catalog = leaf_catalog_open (path, LEAF_CATALOG_OPEN_CREATE, &error);
  g_assert_no_error (error);
  paths[0] = labelled;
  paths[1] = unlabelled;
  summary = leaf_import_run (catalog, paths, &options, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (summary->n_added, ==, N_PHOTOS);
  g_assert_cmpuint (summary->n_labeled, ==, 2 * N_PER_CLASS);
  f->model_id = add_model (f, catalog, 11, TRUE);
  g_assert_true (leaf_catalog_set_active_model (catalog, f->model_id, &error));
  g_assert_no_error (error);
  leaf_catalog_close (catalog);

  f->window = leaf_window_new (NULL);
  gtk_window_set_default_size (GTK_WINDOW (f->window), 1180, 780);
  gtk_window_present (GTK_WINDOW (f->window));
  file = g_file_new_for_path (path);
  leaf_window_open_catalog (f->window, file);
  f->catalog = f->window->catalog;
  g_assert_nonnull (f->catalog);
  /* Opening a catalog whose active model has not seen its photos starts the review. */
  g_assert_nonnull (f->window->task_cancellable);
  g_assert_true (ui_test_wait_for (review_done, f, REVIEW_TIMEOUT_MS));
  ui_test_iterate (200);
  f->grid = ui_test_find_type (GTK_WIDGET (f->window->library_view), GTK_TYPE_GRID_VIEW);
  g_assert_nonnull (f->grid);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  gtk_window_destroy (GTK_WINDOW (f->window));
  ui_test_iterate (100);
  leaf_test_remove_tree (f->dir);
  g_free (f->dir);
}

static GListModel *
shown (Fixture *f)
{
  return G_LIST_MODEL (leaf_library_view_get_selection (f->window->library_view));
}

static LeafCatalogImage *
get_image (Fixture *f,
           gint64   id)
{
  g_autoptr(GError) error = NULL;
  LeafCatalogImage *image = leaf_catalog_get_image (f->catalog, id, &error);

  g_assert_no_error (error);
  return image;
}

/* The grid position of the first photo that is (or is not) labelled. */
static guint
find_position (Fixture  *f,
               gboolean  labelled)
{
  for (guint i = 0; i < g_list_model_get_n_items (shown (f)); i++)
    {
      g_autoptr(LeafLibraryItem) item = g_list_model_get_item (shown (f), i);

      if ((leaf_library_item_get_class_name (item) != NULL) == labelled)
        return i;
    }
  g_assert_not_reached ();
}

/* Whether some cell of the grid says @text in its tooltip and accessible label. */
static gboolean
grid_describes (Fixture    *f,
                const char *text)
{
  for (GtkWidget *child = gtk_widget_get_first_child (f->grid); child;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *cell = ui_test_find_type (child, LEAF_TYPE_THUMBNAIL_CELL);
      const char *tooltip = cell ? gtk_widget_get_tooltip_text (cell) : NULL;

      if (tooltip != NULL && g_str_equal (tooltip, text))
        return TRUE;
    }
  return FALSE;
}

static void
select_filter (Fixture    *f,
               const char *title)
{
  GtkWidget *sidebar = ui_test_find_type (GTK_WIDGET (f->window->library_view),
                                          GTK_TYPE_LIST_BOX);
  GtkWidget *label = ui_test_find_label (sidebar, title);

  g_assert_nonnull (label);
  gtk_list_box_select_row (GTK_LIST_BOX (sidebar),
                           GTK_LIST_BOX_ROW (gtk_widget_get_ancestor (label,
                                                                      GTK_TYPE_LIST_BOX_ROW)));
  ui_test_iterate (200);
}

static guint
sidebar_count (Fixture    *f,
               const char *title)
{
  GtkWidget *sidebar = ui_test_find_type (GTK_WIDGET (f->window->library_view),
                                          GTK_TYPE_LIST_BOX);
  GtkWidget *row = gtk_widget_get_ancestor (ui_test_find_label (sidebar, title),
                                            GTK_TYPE_LIST_BOX_ROW);

  return atoi (gtk_label_get_text (g_object_get_data (G_OBJECT (row), "leaf-count-label")));
}

/* Every photo has a prediction; each unlabelled one shows it as a suggestion, outlined, and its
 * cell says so to a screen reader. */
static void
test_suggestions_shown (Fixture       *f,
                        gconstpointer  data)
{
  guint n_suggested = 0;

  g_assert_cmpuint (g_list_model_get_n_items (shown (f)), ==, N_PHOTOS);
  for (guint i = 0; i < N_PHOTOS; i++)
    {
      g_autoptr(LeafLibraryItem) item = g_list_model_get_item (shown (f), i);
      g_autoptr(GError) error = NULL;
      g_autoptr(LeafPrediction) prediction =
        leaf_catalog_get_prediction (f->catalog, f->model_id, leaf_library_item_get_id (item),
                                     &error);
      LeafCatalogImage *image = leaf_library_item_get_image (item);
      const char *name = NULL;
      double probability = 0;
      g_autofree char *chip = NULL;
      g_autofree char *description = NULL;

      g_assert_no_error (error);
      g_assert_true (leaf_library_item_get_prediction (item, &name, NULL, &probability));
      g_assert_cmpstr (name, ==, class_names[prediction->top_index]);
      g_assert_cmpfloat_with_epsilon (probability,
                                      prediction->probabilities[prediction->top_index], 1e-6);
      if (leaf_library_item_get_class_name (item) != NULL)
        continue;

      chip = g_strdup_printf ("%s %.0f %%", name, 100 * probability);
      description = g_strdup_printf ("%s, unlabelled, suggested %s (%.0f %%): press A to accept",
                                     leaf_catalog_image_get_name (image), name,
                                     100 * probability);
      g_assert_true (grid_describes (f, description));
      g_assert_true (gtk_widget_has_css_class (
        gtk_widget_get_parent (ui_test_find_label (f->grid, chip)), "suggestion-chip"));
      n_suggested++;
    }
  g_assert_cmpuint (n_suggested, ==, N_UNLABELLED);
}

/* A and Enter record the suggestion as the label, as a suggestion accepted, undoably; a class key
 * overrides it; Enter on a labelled photo opens the viewer as before. */
static void
test_accept (Fixture       *f,
             gconstpointer  data)
{
  guint position = find_position (f, FALSE);
  g_autoptr(LeafLibraryItem) item = g_list_model_get_item (shown (f), position);
  gint64 id = leaf_library_item_get_id (item);
  g_autoptr(LeafCatalogImage) before = get_image (f, id);
  g_autoptr(LeafCatalogImage) accepted = NULL;
  g_autoptr(LeafCatalogImage) undone = NULL;
  g_autoptr(LeafCatalogImage) entered = NULL;
  g_autoptr(LeafCatalogImage) overridden = NULL;
  g_autoptr(LeafCatalogImage) opened = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) classes = NULL;
  gint64 predicted = 0;
  guint labelled, other_key;
  GtkWindow *viewer;

  g_assert_cmpint (leaf_catalog_image_get_class_id (before), ==, 0);
  g_assert_true (leaf_catalog_image_get_prediction (leaf_library_item_get_image (item),
                                                    &predicted, NULL, NULL));
  g_assert_cmpint (predicted, >, 0);

  leaf_library_view_select_only (f->window->library_view, position);
  gtk_widget_grab_focus (f->grid);
  g_assert_true (ui_test_press_key (f->grid, GDK_KEY_a, 0));
  ui_test_iterate (50);
  accepted = get_image (f, id);
  g_assert_cmpint (leaf_catalog_image_get_class_id (accepted), ==, predicted);
  g_assert_cmpint (leaf_catalog_image_get_label_how (accepted), ==, LEAF_LABEL_HOW_SUGGESTION);

  g_assert_true (leaf_catalog_undo (f->catalog, NULL, &error));
  g_assert_no_error (error);
  undone = get_image (f, id);
  g_assert_cmpint (leaf_catalog_image_get_class_id (undone), ==, 0);

  /* Enter on an unlabelled photo with a suggestion accepts it too. */
  ui_test_iterate (50);
  leaf_library_view_select_only (f->window->library_view, position);
  g_assert_true (ui_test_press_key (f->grid, GDK_KEY_Return, 0));
  ui_test_iterate (50);
  entered = get_image (f, id);
  g_assert_cmpint (leaf_catalog_image_get_class_id (entered), ==, predicted);
  g_assert_cmpint (leaf_catalog_image_get_label_how (entered), ==, LEAF_LABEL_HOW_SUGGESTION);
  g_assert_null (ui_test_find_toplevel (LEAF_TYPE_VIEWER_WINDOW));

  /* The other class's key overrides it, as a person's choice. */
  classes = leaf_catalog_list_classes (f->catalog, &error);
  g_assert_no_error (error);
  other_key = ((LeafClassInfo *) classes->pdata[0])->id == predicted ? 2 : 1;
  leaf_library_view_select_only (f->window->library_view, position);
  g_assert_true (ui_test_press_key (f->grid, GDK_KEY_0 + other_key, 0));
  ui_test_iterate (50);
  overridden = get_image (f, id);
  g_assert_cmpint (leaf_catalog_image_get_class_id (overridden), !=, predicted);
  g_assert_cmpint (leaf_catalog_image_get_class_id (overridden), >, 0);
  g_assert_cmpint (leaf_catalog_image_get_label_how (overridden), ==, LEAF_LABEL_HOW_MANUAL);

  /* Enter on a labelled photo keeps its label, and goes on to the grid, which opens it. */
  labelled = find_position (f, TRUE);
  {
    g_autoptr(LeafLibraryItem) kept = g_list_model_get_item (shown (f), labelled);
    g_autoptr(LeafCatalogImage) kept_before = get_image (f, leaf_library_item_get_id (kept));

    leaf_library_view_select_only (f->window->library_view, labelled);
    ui_test_press_key (f->grid, GDK_KEY_Return, 0);
    opened = get_image (f, leaf_library_item_get_id (kept));
    g_assert_cmpint (leaf_catalog_image_get_class_id (opened), ==,
                     leaf_catalog_image_get_class_id (kept_before));
    g_assert_true (g_date_time_equal (leaf_catalog_image_get_label_time (opened),
                                      leaf_catalog_image_get_label_time (kept_before)));
  }
  /* Without a selection, Enter on the photo that has the focus opens it. */
  gtk_selection_model_unselect_all (GTK_SELECTION_MODEL (shown (f)));
  g_assert_true (ui_test_press_key (ui_test_focus_item (f->grid), GDK_KEY_Return, 0));
  ui_test_iterate (200);
  viewer = ui_test_find_toplevel (LEAF_TYPE_VIEWER_WINDOW);
  g_assert_nonnull (viewer);
  gtk_window_destroy (viewer);
  ui_test_iterate (50);
}

static gboolean
disagreement_shown (gpointer data)
{
  gpointer *args = data;

  return ui_test_find_label (args[0], args[1]) != NULL;
}

/* Each photo of the Disagreements filter says what it is labelled and what the model says. */
static void
test_disagreements (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  guint position = find_position (f, TRUE);
  g_autoptr(LeafLibraryItem) item = g_list_model_get_item (shown (f), position);
  gint64 id = leaf_library_item_get_id (item);
  g_autoptr(LeafPrediction) prediction = leaf_catalog_get_prediction (f->catalog, f->model_id, id,
                                                                      &error);
  const char *predicted = class_names[prediction->top_index];
  const char *label = class_names[1 - prediction->top_index];
  g_autoptr(LeafClassInfo) info = leaf_catalog_find_class (f->catalog, label, &error);
  g_autofree char *line = NULL;
  g_autofree char *description = NULL;
  g_autoptr(LeafCatalogImage) image = NULL;
  gpointer args[2];

  /* One disagreement at least, whatever the untrained network thinks. */
  g_assert_true (leaf_catalog_set_labels (f->catalog, &id, 1, info->id, LEAF_LABEL_HOW_MANUAL,
                                          &error));
  g_assert_no_error (error);
  select_filter (f, "Disagreements");
  g_assert_cmpuint (g_list_model_get_n_items (shown (f)), ==, sidebar_count (f, "Disagreements"));
  g_assert_cmpuint (g_list_model_get_n_items (shown (f)), >, 0);

  line = g_strdup_printf ("labelled %s, model says %s (%.0f %%)", label, predicted,
                          100 * prediction->probabilities[prediction->top_index]);
  args[0] = f->grid;
  args[1] = line;
  g_assert_true (ui_test_wait_for (disagreement_shown, args, 5000));
  image = get_image (f, id);
  description = g_strdup_printf ("%s, %s", leaf_catalog_image_get_name (image), line);
  g_assert_true (grid_describes (f, description));

  for (guint i = 0; i < g_list_model_get_n_items (shown (f)); i++)
    {
      g_autoptr(LeafLibraryItem) shown_item = g_list_model_get_item (shown (f), i);
      const char *name = NULL;

      g_assert_true (leaf_library_item_get_prediction (shown_item, &name, NULL, NULL));
      g_assert_nonnull (leaf_library_item_get_class_name (shown_item));
      g_assert_cmpstr (name, !=, leaf_library_item_get_class_name (shown_item));
    }
}

/* Uncertain holds the photos the model would refer, by its threshold, counted apart from the
 * stored predictions, and its sidebar count is the grid's. */
static void
test_uncertain (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GPtrArray) images = leaf_catalog_query_images (f->catalog, NULL, 0, G_MAXUINT, NULL);
  g_autoptr(GHashTable) below = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  double previous = G_MAXDOUBLE;

  for (guint i = 0; i < images->len; i++)
    {
      gint64 id = leaf_catalog_image_get_id (images->pdata[i]);
      g_autoptr(GError) error = NULL;
      g_autoptr(LeafPrediction) prediction = leaf_catalog_get_prediction (f->catalog, f->model_id,
                                                                          id, &error);

      g_assert_no_error (error);
      if (prediction->probabilities[prediction->top_index] < f->refer_below)
        g_hash_table_add (below, g_memdup2 (&id, sizeof id));
    }
  g_assert_cmpuint (g_hash_table_size (below), ==, f->n_referred);
  g_assert_cmpuint (g_hash_table_size (below), <, N_PHOTOS);

  select_filter (f, "Uncertain");
  g_assert_cmpuint (g_list_model_get_n_items (shown (f)), ==, f->n_referred);
  g_assert_cmpuint (sidebar_count (f, "Uncertain"), ==, f->n_referred);
  for (guint i = 0; i < g_list_model_get_n_items (shown (f)); i++)
    {
      g_autoptr(LeafLibraryItem) item = g_list_model_get_item (shown (f), i);
      gint64 id = leaf_library_item_get_id (item);
      double entropy = 0;

      g_autofree char *chip = NULL;
      const char *name = NULL;
      double probability = 0;

      g_assert_true (g_hash_table_contains (below, &id));
      /* Each shows the model's probability, the point of the filter, whatever its label. */
      g_assert_true (leaf_library_item_get_prediction (item, &name, NULL, &probability));
      chip = g_strdup_printf ("%s %.0f %%", name, 100 * probability);
      g_assert_nonnull (ui_test_find_label (f->grid, chip));
      /* The least certain first. */
      g_assert_true (leaf_catalog_image_get_prediction (leaf_library_item_get_image (item), NULL,
                                                        NULL, &entropy));
      g_assert_cmpfloat (entropy, <=, previous);
      previous = entropy;
    }
}

/* Another model chosen while one reviews the photos stops that review, and its own follows. */
static void
test_model_switch (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  gint64 first = f->model_id;
  gint64 second = add_model (f, f->catalog, 12, FALSE);
  gint64 third = add_model (f, f->catalog, 13, FALSE);

  g_assert_true (leaf_catalog_set_active_model (f->catalog, second, &error));
  g_assert_no_error (error);
  g_assert_cmpint (f->window->reviewed_model, ==, second);
  g_assert_true (leaf_catalog_set_active_model (f->catalog, third, &error));
  g_assert_no_error (error);
  f->model_id = third;
  g_assert_true (ui_test_wait_for (review_done, f, REVIEW_TIMEOUT_MS));

  /* Back to a model that has seen every photo: nothing to do. */
  g_assert_true (leaf_catalog_set_active_model (f->catalog, first, &error));
  g_assert_no_error (error);
  g_assert_null (f->window->task_cancellable);
}

static gboolean
photos_imported (gpointer data)
{
  Fixture *f = data;
  LeafImageQuery all = { 0 };
  guint count = 0;

  return leaf_catalog_count_images (f->catalog, &all, &count, NULL) && count == N_PHOTOS + 3;
}

/* Import, asked for while a review predicts the photos, goes first: the review stops, the import
 * runs, and the review then predicts every photo, the new ones too. Before, the import was
 * refused with "Another task is running" until the review had ended. */
static void
test_import_during_review (Fixture       *f,
                           gconstpointer  data)
{
  g_autofree char *more = g_build_filename (f->dir, "more", NULL);
  g_autoptr(GFile) folder = g_file_new_for_path (more);
  g_autoptr(GError) error = NULL;
  gint64 second = add_model (f, f->catalog, 12, FALSE);

  g_free (ui_test_make_photos (more, NULL, 3));
  g_assert_true (leaf_catalog_set_active_model (f->catalog, second, &error));
  g_assert_no_error (error);
  f->model_id = second;
  g_assert_cmpint (f->window->reviewed_model, ==, second);
  g_assert_nonnull (f->window->task_cancellable);

  _leaf_window_import_folder (f->window, folder, NULL);
  g_assert_true (ui_test_wait_for (photos_imported, f, REVIEW_TIMEOUT_MS));
  g_assert_true (ui_test_wait_for (review_done, f, REVIEW_TIMEOUT_MS));
}

int
main (int   argc,
      char *argv[])
{
  ui_test_init (&argc, &argv);

  g_test_add ("/suggestions/shown", Fixture, NULL, fixture_setup, test_suggestions_shown,
              fixture_teardown);
  g_test_add ("/suggestions/accept", Fixture, NULL, fixture_setup, test_accept, fixture_teardown);
  g_test_add ("/suggestions/disagreements", Fixture, NULL, fixture_setup, test_disagreements,
              fixture_teardown);
  g_test_add ("/suggestions/uncertain", Fixture, NULL, fixture_setup, test_uncertain,
              fixture_teardown);
  g_test_add ("/suggestions/model-switch", Fixture, NULL, fixture_setup, test_model_switch,
              fixture_teardown);
  g_test_add ("/suggestions/import-during-review", Fixture, NULL, fixture_setup,
              test_import_during_review, fixture_teardown);
  return g_test_run ();
}
