/* test-evaluation.c: a model evaluated on an ImageFolder tree, which `evaluate` prints
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "leaf-test.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "leaf-engine.h"
#include "leaf-catalog.h"
#include "leaf-evaluation.h"
#include "leaf-import.h"
#include "lt.h"

static const char *const class_names[] = { "healthy", "blight", "rust", NULL };

static void
write_photo (const char *path,
             guint32     rgba)
{
  g_autoptr(GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 48, 40);
  g_autoptr(GError) error = NULL;

  gdk_pixbuf_fill (pixbuf, rgba);
  g_assert_true (gdk_pixbuf_save (pixbuf, path, "png", &error, NULL));
  g_assert_no_error (error);
}

static char *
write_file_in (const char *folder,
               const char *class_name,
               const char *name)
{
  g_autofree char *dir = g_build_filename (folder, class_name, NULL);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  return g_build_filename (dir, name, NULL);
}

/* The photo goes into folder/class_name; returns the class the model gives it. */
static guint
add_photo (LeafPredictor *predictor,
           const char    *folder,
           const char    *class_name,
           const char    *name,
           guint32        rgba)
{
  g_autofree char *path = write_file_in (folder, class_name, name);
  float probabilities[3], logits[3];
  g_autoptr(GError) error = NULL;
  guint best;

  write_photo (path, rgba);
  g_assert_true (leaf_predictor_predict_file (predictor, path, FALSE, probabilities, logits,
                                              &error));
  g_assert_no_error (error);
  leaf_predictor_top_k (probabilities, 3, &best, 1);
  return best;
}

static LeafPredictor *
predictor_new (const char *dir)
{
  LeafModelMeta meta = {
    .classes = (char **) class_names,
    .n_classes = 3,
    .image_size = 64,
    .resize_size = 72,
    .temperature = 1.5,
  };
  g_autofree char *json = leaf_model_meta_to_json (&meta);
  g_autofree char *path = g_build_filename (dir, "model.safetensors", NULL);
  g_autoptr(GError) error = NULL;
  LeafPredictor *predictor;
  LtModel *model = NULL;
  char *msg = NULL;

  g_assert_true (leaf_engine_init_torch (0, &error));
  lt_manual_seed (5);
  g_assert_cmpint (lt_model_new (3, &model, &msg), ==, LT_OK);
  g_assert_cmpint (lt_model_save (model, path, json, &msg), ==, LT_OK);
  lt_model_free (model);
  predictor = leaf_predictor_new_from_model (path, &error);
  g_assert_no_error (error);
  return predictor;
}

static void
test_evaluate_folder (void)
{
  g_autofree char *dir = g_build_filename (g_get_user_data_dir (), "evaluation", NULL);
  g_autofree char *folder = g_build_filename (dir, "photos", NULL);
  g_autoptr(LeafPredictor) predictor = NULL;
  g_autoptr(LeafEvaluation) evaluation = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) json = NULL;
  g_autofree char *broken = NULL;
  g_autofree char *notes = NULL;
  g_autofree char *loose = NULL;
  g_autofree char *stray = NULL;
  guint expected[9] = { 0 };
  JsonObject *ece;

  g_assert_cmpint (g_mkdir_with_parents (folder, 0755), ==, 0);
  predictor = predictor_new (dir);
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *name = g_strdup_printf ("leaf-%u.png", i);

      expected[0 * 3 + add_photo (predictor, folder, "healthy", name, 0x208020ff + (i << 24))]++;
    }
  expected[1 * 3 + add_photo (predictor, folder, "blight", "d.png", 0x806020ff)]++;
  expected[1 * 3 + add_photo (predictor, folder, "blight", "e.png", 0x504030ff)]++;
  /* Skipped and listed: a photo that does not decode, a folder of no class of the model. */
  broken = write_file_in (folder, "blight", "broken.jpg");
  g_assert_true (g_file_set_contents (broken, "not a JPEG", -1, NULL));
  add_photo (predictor, folder, "unknown", "f.png", 0x102030ff);
  /* Ignored: names that are not photos, and files beside the class folders. */
  notes = write_file_in (folder, "blight", "notes.txt");
  g_assert_true (g_file_set_contents (notes, "seen on 3 May", -1, NULL));
  loose = g_build_filename (folder, "loose.png", NULL);
  write_photo (loose, 0xffffffff);
  stray = write_file_in (folder, "rust", "README");
  g_assert_true (g_file_set_contents (stray, "empty on purpose", -1, NULL));

  evaluation = leaf_evaluation_run (predictor, folder, FALSE, &error);
  g_assert_no_error (error);
  g_assert_nonnull (evaluation);

  g_assert_cmpint (evaluation->metrics->n, ==, 5);
  g_assert_nonnull (evaluation->metrics->confusion);
  for (guint t = 0; t < 3; t++)
    for (guint p = 0; p < 3; p++)
      g_assert_cmpuint (leaf_confusion_get_count (evaluation->metrics->confusion, t, p), ==,
                        expected[t * 3 + p]);
  g_assert_cmpint (evaluation->metrics->per_class[0].support, ==, 3);
  g_assert_cmpint (evaluation->metrics->per_class[1].support, ==, 2);
  g_assert_cmpint (evaluation->metrics->per_class[2].support, ==, 0);
  g_assert_true (isnan (evaluation->metrics->per_class[2].recall));

  g_assert_cmpuint (evaluation->unknown_classes->len, ==, 1);
  g_assert_cmpstr (evaluation->unknown_classes->pdata[0], ==, "unknown");
  g_assert_cmpuint (evaluation->failures->len, ==, 1);
  g_assert_nonnull (strstr (((GError *) evaluation->failures->pdata[0])->message, "broken.jpg"));

  g_assert_cmpfloat (evaluation->temperature, ==, 1.5);
  g_assert_cmpfloat (evaluation->ece_before, >=, 0.0);
  g_assert_cmpfloat (evaluation->ece_before, <=, 1.0);
  g_assert_cmpfloat (evaluation->ece_after, >=, 0.0);
  g_assert_cmpfloat (evaluation->ece_after, <=, 1.0);
  json = leaf_evaluation_to_json (evaluation);
  ece = json_object_get_object_member (json_node_get_object (json), "ece");
  g_assert_cmpfloat (json_object_get_double_member (ece, "temperature"), ==, 1.5);
  g_assert_cmpfloat (json_object_get_double_member (ece, "before"), ==, evaluation->ece_before);
  g_assert_cmpfloat (json_object_get_double_member (ece, "after"), ==, evaluation->ece_after);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (json), "n"), ==, 5);
}

/* The catalog's test split, as a dataset export gave it (train/ and test/ above the class
 * folders): the photos in the split, compared with their labels. */
static void
test_evaluate_split (void)
{
  g_autofree char *dir = g_build_filename (g_get_user_data_dir (), "evaluation-split", NULL);
  g_autofree char *folder = g_build_filename (dir, "photos", NULL);
  g_autofree char *test_folder = g_build_filename (folder, "test", NULL);
  g_autofree char *train_folder = g_build_filename (folder, "train", NULL);
  g_autofree char *catalog_path = g_build_filename (dir, "split.leafscope", NULL);
  const char *paths[] = { folder, NULL };
  g_autoptr(LeafPredictor) predictor = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(LeafImportSummary) summary = NULL;
  g_autoptr(LeafEvaluation) evaluation = NULL;
  g_autoptr(GError) error = NULL;
  guint expected[9] = { 0 };

  g_assert_cmpint (g_mkdir_with_parents (folder, 0755), ==, 0);
  predictor = predictor_new (dir);
  expected[0 * 3 + add_photo (predictor, test_folder, "healthy", "a.png", 0x208020ff)]++;
  expected[0 * 3 + add_photo (predictor, test_folder, "healthy", "b.png", 0x30a030ff)]++;
  expected[1 * 3 + add_photo (predictor, test_folder, "blight", "c.png", 0x806020ff)]++;
  add_photo (predictor, test_folder, "unknown", "d.png", 0x102030ff);
  /* Training photos are not in the test split. */
  add_photo (predictor, train_folder, "healthy", "e.png", 0x40b040ff);
  add_photo (predictor, train_folder, "blight", "f.png", 0x705010ff);

  catalog = leaf_catalog_open (catalog_path, LEAF_CATALOG_OPEN_CREATE, &error);
  g_assert_no_error (error);
  summary = leaf_import_run (catalog, paths, NULL, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (summary->n_split[LEAF_SPLIT_TEST], ==, 4);

  evaluation = leaf_evaluation_run_split (predictor, catalog, LEAF_SPLIT_TEST, FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpint (evaluation->metrics->n, ==, 3);
  for (guint t = 0; t < 3; t++)
    for (guint p = 0; p < 3; p++)
      g_assert_cmpuint (leaf_confusion_get_count (evaluation->metrics->confusion, t, p), ==,
                        expected[t * 3 + p]);
  g_assert_cmpuint (evaluation->unknown_classes->len, ==, 1);
  g_assert_cmpstr (evaluation->unknown_classes->pdata[0], ==, "unknown");
  g_assert_cmpuint (evaluation->failures->len, ==, 0);
}

static void
test_evaluate_missing_folder (void)
{
  g_autofree char *dir = g_build_filename (g_get_user_data_dir (), "evaluation", NULL);
  g_autofree char *missing = g_build_filename (dir, "no-such-folder", NULL);
  g_autoptr(LeafPredictor) predictor = NULL;
  g_autoptr(LeafEvaluation) evaluation = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  predictor = predictor_new (dir);
  evaluation = leaf_evaluation_run (predictor, missing, FALSE, &error);
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_assert_null (evaluation);
}

int
main (int   argc,
      char *argv[])
{
  leaf_test_init (&argc, &argv);

  g_test_add_func ("/evaluation/folder", test_evaluate_folder);
  g_test_add_func ("/evaluation/missing-folder", test_evaluate_missing_folder);
  g_test_add_func ("/evaluation/split", test_evaluate_split);

  return g_test_run ();
}
