/* test-next-catalog.c: the unlabelled photos of a catalog ranked with a model, as
 * `leafscope-cli next` lists them and the Library's Label Next shows them
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "leaf-test.h"

#include <glib/gstdio.h>

#include "leaf-catalog.h"
#include "leaf-engine.h"
#include "leaf-import.h"
#include "leaf-next.h"
#include "lt.h"

static const char *const class_names[] = { "healthy", "blight", NULL };

#define N_PHOTOS 8

typedef struct
{
  char *dir;
  LeafCatalog *catalog;
  LeafPredictor *predictor;
  gint64 model_id;
  gint64 ids[N_PHOTOS];   /* in import order */
  char *unreadable;       /* the photo that cannot be decoded */
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  LeafModelMeta meta = {
    .classes = (char **) class_names,
    .n_classes = 2,
    .image_size = 64,
    .resize_size = 72,
    .temperature = 1.0,
  };
  g_autofree char *json = leaf_model_meta_to_json (&meta);
  g_autofree char *photos = NULL;
  g_autofree char *catalog_path = NULL;
  g_autofree char *model_path = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *sha = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafImportSummary) summary = NULL;
  g_autoptr(GPtrArray) images = NULL;
  LeafImportOptions options = { 0 };
  LeafImageQuery all = { 0 };
  const char *paths[2] = { NULL, NULL };
  LtModel *model = NULL;
  char *message = NULL;
  gsize length;
  gint64 class_id;

  f->dir = g_build_filename (g_get_user_data_dir (), "next-catalog", NULL);
  photos = g_build_filename (f->dir, "photos", NULL);
  g_assert_cmpint (g_mkdir_with_parents (photos, 0755), ==, 0);
  for (guint i = 0; i < N_PHOTOS; i++)
    {
      g_autofree char *name = g_strdup_printf ("photo-%u.png", i);
      g_autofree char *path = g_build_filename (photos, name, NULL);

      leaf_test_write_class_photo (path, i % 2, i, 48, 48);
    }

  catalog_path = g_build_filename (f->dir, "test.leafscope", NULL);
  f->catalog = leaf_catalog_open (catalog_path, LEAF_CATALOG_OPEN_CREATE, &error);
  g_assert_no_error (error);
  paths[0] = photos;
  summary = leaf_import_run (f->catalog, paths, &options, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (summary->n_added, ==, N_PHOTOS);
  images = leaf_catalog_query_images (f->catalog, &all, 0, G_MAXUINT, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (images->len, ==, N_PHOTOS);
  for (guint i = 0; i < N_PHOTOS; i++)
    f->ids[i] = leaf_catalog_image_get_id (images->pdata[i]);

  /* Photos 0 and 1 are labelled; photo 2 can no longer be decoded. */
  class_id = leaf_catalog_add_class (f->catalog, "healthy", "#2ec27e", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (leaf_catalog_set_labels (f->catalog, f->ids, 2, class_id, LEAF_LABEL_HOW_MANUAL,
                                          &error));
  f->unreadable = g_strdup (leaf_catalog_image_get_path (images->pdata[2]));
  g_assert_true (g_file_set_contents (f->unreadable, "not a photo", -1, &error));

  model_path = g_build_filename (f->dir, "model.safetensors", NULL);
  g_assert_true (leaf_engine_init_torch (1, &error));
  lt_manual_seed (3);
  g_assert_cmpint (lt_model_new (2, &model, &message), ==, LT_OK);
  g_assert_cmpint (lt_model_save (model, model_path, json, &message), ==, LT_OK);
  lt_model_free (model);
  g_assert_true (g_file_get_contents (model_path, &contents, &length, NULL));
  sha = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) contents, length);
  f->model_id = leaf_catalog_add_model (f->catalog, 0, model_path, sha, class_names, NULL,
                                        &error);
  g_assert_no_error (error);
  f->predictor = leaf_predictor_new_from_model (model_path, &error);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_clear_object (&f->predictor);
  leaf_catalog_close (f->catalog);
  g_assert_finalize_object (f->catalog);
  leaf_test_remove_tree (f->dir);
  g_free (f->unreadable);
  g_free (f->dir);
}

static void
count_skipped (const GError *error,
               gpointer      user_data)
{
  guint *skipped = user_data;

  g_assert_nonnull (error);
  (*skipped)++;
}

static gboolean
has_prediction (Fixture *f,
                gint64   image_id)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafPrediction) prediction = leaf_catalog_get_prediction (f->catalog, f->model_id,
                                                                     image_id, &error);

  return prediction != NULL;
}

/* The unlabelled, readable photos, ranked: each once, with the model's likeliest class; the
 * photo that cannot be read is reported and left out, and the predictions are stored only for
 * the model the catalog knows. */
static void
test_rank_catalog (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GPtrArray) unstored = NULL;
  g_autoptr(GPtrArray) ranked = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_int64_hash, g_int64_equal,
                                                                g_free, NULL);
  guint skipped = 0;

  unstored = leaf_next_rank_catalog (f->catalog, f->predictor, 0, 3,
                                     LEAF_NEXT_DEFAULT_MAX_SIMILARITY, count_skipped, &skipped,
                                     NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (unstored->len, ==, 3);
  g_assert_cmpuint (skipped, ==, 1);
  for (guint i = 0; i < N_PHOTOS; i++)
    g_assert_false (has_prediction (f, f->ids[i]));

  skipped = 0;
  ranked = leaf_next_rank_catalog (f->catalog, f->predictor, f->model_id, 10,
                                   LEAF_NEXT_DEFAULT_MAX_SIMILARITY, count_skipped, &skipped,
                                   NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (skipped, ==, 1);
  /* Eight photos, two labelled, one unreadable */
  g_assert_cmpuint (ranked->len, ==, 5);
  for (guint r = 0; r < ranked->len; r++)
    {
      LeafNextItem *item = ranked->pdata[r];
      gint64 id = leaf_catalog_image_get_id (item->image);
      g_autoptr(LeafPrediction) prediction = leaf_catalog_get_prediction (f->catalog,
                                                                         f->model_id, id,
                                                                         &error);

      g_assert_no_error (error);
      g_assert_cmpint (leaf_catalog_image_get_class_id (item->image), ==, 0);
      g_assert_cmpstr (leaf_catalog_image_get_path (item->image), !=, f->unreadable);
      g_assert_false (g_hash_table_contains (seen, &id));
      g_hash_table_add (seen, g_memdup2 (&id, sizeof id));
      g_assert_nonnull (prediction);
      g_assert_cmpuint (prediction->top_index, ==, item->top);
      g_assert_cmpfloat_with_epsilon (prediction->probabilities[item->top], item->probability,
                                      1e-6);
      g_assert_cmpfloat_with_epsilon (item->pick.margin,
                                      leaf_next_margin (prediction->probabilities, 2), 1e-6);
    }
  g_assert_false (has_prediction (f, f->ids[0]));
  g_assert_false (has_prediction (f, f->ids[2]));
  /* A smaller batch comes from the same photos */
  for (guint r = 0; r < unstored->len; r++)
    {
      gint64 id = leaf_catalog_image_get_id (((LeafNextItem *) unstored->pdata[r])->image);

      g_assert_true (g_hash_table_contains (seen, &id));
    }
}

static void
test_cancelled (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GPtrArray) ranked = NULL;
  g_autoptr(GError) error = NULL;

  g_cancellable_cancel (cancellable);
  ranked = leaf_next_rank_catalog (f->catalog, f->predictor, f->model_id, 3,
                                   LEAF_NEXT_DEFAULT_MAX_SIMILARITY, NULL, NULL, cancellable,
                                   &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (ranked);
}

int
main (int    argc,
      char **argv)
{
  leaf_test_init (&argc, &argv);
  g_test_add ("/next-catalog/rank", Fixture, NULL, fixture_setup, test_rank_catalog,
              fixture_teardown);
  g_test_add ("/next-catalog/cancelled", Fixture, NULL, fixture_setup, test_cancelled,
              fixture_teardown);
  return g_test_run ();
}
