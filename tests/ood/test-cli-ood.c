/* test-cli-ood.c: what `leafscope-cli predict --json` and `evaluate --json` say of photos unlike
 * a model's training photos, with a model that checks for them and one that does not
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "leaf-engine.h"
#include "leaf-model-file.h"
#include "leaf-ood.h"
#include "leaf-predictor.h"
#include "leaf-test.h"
#include "lt.h"

#define N_LAB 16

static const char *cli;
static const char *const class_names[] = { "green", "brown", NULL };

/* A leaf (an ellipse, green or brown) on an even grey sheet, placed and sized by seed; or, for
 * noise, coloured noise all over. */
static char *
write_photo (const char *dir,
             const char *name,
             guint       seed,
             gboolean    noise)
{
  g_autoptr(GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 96, 96);
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  guint8 *pixels = gdk_pixbuf_get_pixels (pixbuf);
  int stride = gdk_pixbuf_get_rowstride (pixbuf);
  double cx = 40 + seed % 16, cy = 44 + seed % 9, rx = 26 + seed % 7, ry = 20 + seed % 5;
  char *path = g_build_filename (dir, name, NULL);
  g_autoptr(GError) error = NULL;

  for (int y = 0; y < 96; y++)
    for (int x = 0; x < 96; x++)
      {
        guint8 *p = pixels + y * stride + x * 3;
        double dx = (x - cx) / rx, dy = (y - cy) / ry;
        gboolean leaf = dx * dx + dy * dy < 1;

        for (int c = 0; c < 3; c++)
          p[c] = noise ? g_rand_int_range (rand, 0, 256)
                 : leaf ? (seed % 2 ? (guint8[]) { 120, 80, 30 }[c] : (guint8[]) { 40, 140, 50 }[c])
                        : 150 + g_rand_int_range (rand, 0, 4);
      }
  g_assert_true (gdk_pixbuf_save (pixbuf, path, "png", &error, NULL));
  g_assert_no_error (error);
  return path;
}

static void
save (LtModel             *model,
      const char          *path,
      const LeafModelMeta *meta)
{
  g_autofree char *json = leaf_model_meta_to_json (meta);
  char *msg = NULL;

  g_assert_cmpint (lt_model_save (model, path, json, &msg), ==, LT_OK);
}

/* Runs the command line on the catalog; returns its output. */
static char *
run_cli (const char * const *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  char *out = NULL;
  int status = 0;

  g_ptr_array_add (argv, (gpointer) cli);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                &status, &error);
  g_assert_no_error (error);
  g_test_message ("%s: %s%s", args[2], out, err);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  return out;
}

static JsonObject *
run_json (JsonParser  *parser,
          const char  *command,
          const char  *model,
          const char  *path)
{
  const char *argv[] = { cli, command, "--json", "--model", model, path, NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  int status = 0;

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out,
                               &err, &status, &error));
  g_assert_no_error (error);
  g_test_message ("%s %s: %s%s", command, path, out, err);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_true (json_parser_load_from_data (parser, out, -1, &error));
  g_assert_no_error (error);
  return json_node_get_object (json_parser_get_root (parser));
}

/* A model fitted on leaves on grey refers noise as unlike them, says so in predict and counts it
 * in evaluate; the same network without the check says "ood": null. */
static void
test_predict_and_evaluate (void)
{
  g_autofree char *dir = g_build_filename (g_get_user_data_dir (), "ood", NULL);
  g_autofree char *folder = g_build_filename (dir, "eval", NULL);
  g_autofree char *green = g_build_filename (folder, "green", NULL);
  g_autofree char *without = g_build_filename (dir, "without.safetensors", NULL);
  g_autofree char *with = g_build_filename (dir, "with.safetensors", NULL);
  g_autoptr(GPtrArray) lab = g_ptr_array_new_with_free_func (g_object_unref);
  g_autofree float *features = g_new (float, 2 * N_LAB * LEAF_PREDICTOR_N_FEATURES);
  guint labels[2 * N_LAB];
  g_autofree char *noise = NULL;
  g_autofree char *familiar = NULL;
  g_autoptr(LeafPredictor) predictor = NULL;
  g_autoptr(LeafOod) ood = NULL;
  g_autoptr(GError) error = NULL;
  LeafModelMeta meta = {
    .classes = (char **) class_names, .n_classes = 2, .image_size = 64, .resize_size = 73,
    .temperature = 1.0, .train_photos = N_LAB, .val_photos = N_LAB, .plain_background = 1.0,
  };
  LtModel *model = NULL;
  char *msg = NULL;

  g_assert_cmpint (g_mkdir_with_parents (green, 0755), ==, 0);
  g_assert_true (leaf_engine_init_torch (0, &error));
  lt_manual_seed (1);
  g_assert_cmpint (lt_model_new (2, &model, &msg), ==, LT_OK);
  save (model, without, &meta);

  /* The detector, fitted on the features of this very network: half the leaves to fit it, the
   * other half to choose its threshold. */
  predictor = leaf_predictor_new_from_model (without, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < 2 * N_LAB; i++)
    {
      g_autofree char *name = g_strdup_printf ("lab-%u.png", i);
      g_autofree char *path = write_photo (dir, name, i, FALSE);

      g_ptr_array_add (lab, gdk_pixbuf_new_from_file (path, NULL));
      labels[i] = i % 2;
    }
  g_assert_true (leaf_predictor_predict_batch (predictor, (GdkPixbuf **) lab->pdata, lab->len,
                                               NULL, features, &error));
  g_assert_no_error (error);
  ood = leaf_ood_fit (features, labels, N_LAB, LEAF_PREDICTOR_N_FEATURES, 2, &error);
  g_assert_no_error (error);
  leaf_ood_choose_threshold (ood, features + N_LAB * LEAF_PREDICTOR_N_FEATURES, N_LAB,
                             LEAF_OOD_FLAGGED_SHARE);
  meta.ood = ood;
  save (model, with, &meta);
  lt_model_free (model);

  familiar = write_photo (green, "leaf.png", 2, FALSE);
  noise = write_photo (green, "noise.png", 7, TRUE);

  {
    g_autoptr(JsonParser) parser = json_parser_new ();
    JsonObject *o = run_json (parser, "predict", with, noise);

    g_assert_true (json_object_get_boolean_member (o, "ood"));
    g_assert_cmpfloat (json_object_get_double_member (o, "ood_score"), >,
                       leaf_ood_get_threshold (ood));
    g_assert_true (json_object_get_boolean_member (o, "refer"));
    g_assert_cmpstr (json_object_get_string_member (o, "referral"), ==, "unfamiliar");
  }
  {
    g_autoptr(JsonParser) parser = json_parser_new ();
    JsonObject *o = run_json (parser, "predict", with, familiar);

    g_assert_false (json_object_get_boolean_member (o, "ood"));
    g_assert_cmpfloat (json_object_get_double_member (o, "ood_score"), <=,
                       leaf_ood_get_threshold (ood));
  }
  {
    g_autoptr(JsonParser) parser = json_parser_new ();
    JsonObject *o = run_json (parser, "predict", without, noise);

    g_assert_true (json_object_get_null_member (o, "ood"));
    g_assert_true (json_object_get_null_member (o, "ood_score"));
  }
  {
    g_autoptr(JsonParser) parser = json_parser_new ();
    JsonObject *o = run_json (parser, "evaluate", with, folder);
    JsonObject *counts = json_object_get_object_member (o, "ood");

    /* Two photos, both labelled green: the noise is flagged, the leaf kept. */
    g_assert_cmpint (json_object_get_int_member (counts, "flagged"), ==, 1);
    g_assert_true (json_object_has_member (counts, "accuracy_rest"));
  }
  {
    g_autoptr(JsonParser) parser = json_parser_new ();
    JsonObject *o = run_json (parser, "evaluate", without, folder);

    g_assert_true (json_object_get_null_member (o, "ood"));
  }
  leaf_test_remove_tree (dir);
}

/* A run fits the check and keeps it in its model: predict answers "ood" yes or no, and the
 * model card says what the model was trained on. Tiny photos, from scratch, one epoch. */
static void
test_training_fits_it (void)
{
  g_autofree char *dir = g_build_filename (g_get_user_data_dir (), "ood-train", NULL);
  g_autofree char *catalog = g_build_filename (dir, "t.leafscope", NULL);
  g_autofree char *photos = g_build_filename (dir, "photos", NULL);
  g_autofree char *card = g_build_filename (dir, "card.md", NULL);
  g_autofree char *probe = NULL;
  g_autofree char *out = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *o;

  for (guint i = 0; i < 20; i++)
    {
      g_autofree char *folder = g_build_filename (photos, class_names[i % 2], NULL);
      g_autofree char *name = g_strdup_printf ("%u.png", i);
      g_autofree char *path = NULL;

      g_assert_cmpint (g_mkdir_with_parents (folder, 0755), ==, 0);
      path = write_photo (folder, name, i, FALSE);
    }
  probe = write_photo (dir, "probe.png", 31, TRUE);

  g_free (run_cli ((const char *[]) { "--catalog", catalog, "init", NULL }));
  g_free (run_cli ((const char *[]) { "--catalog", catalog, "import", photos, NULL }));
  g_free (run_cli ((const char *[]) { "--catalog", catalog, "train", "--from-scratch",
                                      "--image-size", "32", "--head-epochs", "1",
                                      "--finetune-epochs", "0", "--batch-size", "4", NULL }));

  out = run_cli ((const char *[]) { "--catalog", catalog, "predict", "--json", probe, NULL });
  g_assert_true (json_parser_load_from_data (parser, out, -1, &error));
  g_assert_no_error (error);
  o = json_node_get_object (json_parser_get_root (parser));
  g_assert_true (JSON_NODE_HOLDS_VALUE (json_object_get_member (o, "ood")));
  g_assert_cmpfloat (json_object_get_double_member (o, "ood_score"), >, 0);
  g_clear_pointer (&out, g_free);

  g_free (run_cli ((const char *[]) { "--catalog", catalog, "model-card", card, NULL }));
  g_assert_true (g_file_get_contents (card, &out, NULL, &error));
  g_assert_no_error (error);
  g_assert_nonnull (strstr (out, "What it was trained on"));
  g_assert_nonnull (strstr (out, "Trained on "));
  g_assert_nonnull (strstr (out, "Photos unlike the training photos: a Mahalanobis distance"));
  leaf_test_remove_tree (dir);
}

int
main (int   argc,
      char *argv[])
{
  leaf_test_init (&argc, &argv);
  g_assert_cmpint (argc, >=, 2);
  cli = argv[1];

  g_test_add_func ("/ood/cli/predict-and-evaluate", test_predict_and_evaluate);
  g_test_add_func ("/ood/cli/training-fits-it", test_training_fits_it);
  return g_test_run ();
}
