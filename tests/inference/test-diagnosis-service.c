/* test-diagnosis-service.c: diagnoses, heatmaps and catalog reviews through the one service
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "leaf-test.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "leaf-catalog.h"
#include "leaf-diagnosis-service.h"
#include "leaf-engine.h"
#include "leaf-error.h"
#include "leaf-image.h"
#include "leaf-import.h"
#include "leaf-model-file.h"
#include "leaf-predictor.h"
#include "lt.h"

#define IMAGE_SIZE 64
#define RESIZE_SIZE 73
/* More than one batch of a review, so that a diagnosis can come between two. */
#define N_REVIEW_PHOTOS 40

static const char *const class_names[] = { "healthy", "blight", NULL };

typedef struct
{
  char *dir;
  char *model;    /* two classes, calibrated, referral threshold 0.99 */
  char *photo;    /* 90 x 70 */
} Fixture;

/* Reddish or greenish noise, so that photos differ. */
static void
write_photo (const char *path,
             guint       seed)
{
  g_autoptr(GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 90, 70);
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  guint8 *pixels = gdk_pixbuf_get_pixels (pixbuf);
  int stride = gdk_pixbuf_get_rowstride (pixbuf);
  g_autoptr(GError) error = NULL;

  for (int y = 0; y < 70; y++)
    for (int x = 0; x < 90; x++)
      for (int c = 0; c < 3; c++)
        pixels[y * stride + x * 3 + c] = (guint8) g_rand_int_range (rand, seed % 2 ? 0 : 100,
                                                                    c == 1 ? 256 : 160);
  g_assert_true (gdk_pixbuf_save (pixbuf, path, "png", &error, NULL));
  g_assert_no_error (error);
}

/* An untrained network of n_classes, seeded; with Leafscope's metadata unless meta is NULL.
 * A new network's pooled features are tiny (about 1e-13), so that every photo would get the
 * same probabilities: a louder classifier makes them differ from photo to photo. */
static void
write_model (const char          *path,
             guint                n_classes,
             guint64              seed,
             const LeafModelMeta *meta)
{
  g_autofree char *json = meta ? leaf_model_meta_to_json (meta) : NULL;
  g_autofree float *weight = g_new (float, n_classes * 1280);
  int64_t shape[2] = { n_classes, 1280 };
  g_autoptr(GError) error = NULL;
  LtModel *model = NULL;
  LtTensor *tensor = NULL;
  char *msg = NULL;

  g_assert_true (leaf_engine_init_torch (0, &error));
  g_assert_no_error (error);
  lt_manual_seed (seed);
  g_assert_cmpint (lt_model_new (n_classes, &model, &msg), ==, LT_OK);
  g_assert_cmpint (lt_model_get_tensor (model, "classifier.1.weight", &tensor, &msg), ==, LT_OK);
  g_assert_cmpint (lt_tensor_copy_f32 (tensor, weight, n_classes * 1280, &msg), ==, LT_OK);
  lt_tensor_free (tensor);
  for (guint i = 0; i < n_classes * 1280; i++)
    weight[i] *= 1e13f;
  g_assert_cmpint (lt_tensor_new_f32 (weight, shape, 2, &tensor, &msg), ==, LT_OK);
  g_assert_cmpint (lt_model_set_tensor (model, "classifier.1.weight", tensor, &msg), ==, LT_OK);
  lt_tensor_free (tensor);
  g_assert_cmpint (lt_model_save (model, path, json, &msg), ==, LT_OK);
  lt_model_free (model);
}

static void
write_leafscope_model (const char *path,
                       guint64     seed)
{
  LeafModelMeta meta = {
    .classes = (char **) class_names,
    .n_classes = 2,
    .image_size = IMAGE_SIZE,
    .resize_size = RESIZE_SIZE,
    .created = (char *) "2024-01-01T00:00:00Z",
    .temperature = 1.5,
    .refer_below = 0.99,
  };

  write_model (path, 2, seed, &meta);
}

/* The files live in the test's own data folder, which GLib removes after the test. */
static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  f->dir = g_build_filename (g_get_user_data_dir (), "diagnosis", NULL);
  g_assert_cmpint (g_mkdir_with_parents (f->dir, 0755), ==, 0);
  f->model = g_build_filename (f->dir, "model.safetensors", NULL);
  write_leafscope_model (f->model, 3);
  f->photo = g_build_filename (f->dir, "photo.png", NULL);
  write_photo (f->photo, 1);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_free (f->dir);
  g_free (f->model);
  g_free (f->photo);
}

static void
on_result_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

static GAsyncResult *
wait_for_result (GAsyncResult **result)
{
  while (*result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *result;
}

static void
assert_probabilities_equal (const float *a,
                            const float *b,
                            guint        n)
{
  for (guint c = 0; c < n; c++)
    g_assert_cmpfloat_with_epsilon (a[c], b[c], 1e-6);
}

/* What a predictor of the test's own says about the photo. */
static void
expected_probabilities (const char *model,
                        const char *photo,
                        gboolean    tta,
                        float      *probabilities,
                        float      *logits)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafPredictor) predictor = leaf_predictor_new_from_model (model, &error);

  g_assert_no_error (error);
  g_assert_true (leaf_predictor_predict_file (predictor, photo, tta, probabilities, logits,
                                              &error));
  g_assert_no_error (error);
}

/* A diagnosis that must succeed. */
static LeafDiagnosisResult *
diagnose (LeafDiagnosisService *service,
          const char           *model,
          LeafDiagnoseFlags     flags,
          const char           *photo)
{
  g_autoptr(GError) error = NULL;
  LeafDiagnosisResult *result = leaf_diagnosis_service_diagnose_file (service, model, flags,
                                                                      photo, NULL, &error);

  g_assert_no_error (error);
  return result;
}

static void
test_diagnoses_a_file_and_bytes (Fixture       *f,
                                 gconstpointer  data)
{
  g_autoptr(LeafDiagnosisService) service = leaf_diagnosis_service_new ();
  g_autoptr(LeafDiagnosisResult) result = NULL;
  g_autoptr(LeafDiagnosisResult) from_bytes = NULL;
  g_autoptr(LeafDiagnosisResult) with_tta = NULL;
  g_autoptr(GAsyncResult) async_result = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize length;
  float probabilities[2], logits[2], tta[2];
  double top;

  expected_probabilities (f->model, f->photo, FALSE, probabilities, logits);
  expected_probabilities (f->model, f->photo, TRUE, tta, NULL);

  result = diagnose (service, f->model, LEAF_DIAGNOSE_DEFAULT, f->photo);
  g_assert_cmpstr (result->model_path, ==, f->model);
  g_assert_cmpuint (result->n_classes, ==, 2);
  g_assert_cmpstrv (result->classes, class_names);
  assert_probabilities_equal (result->probabilities, probabilities, 2);
  assert_probabilities_equal (result->logits, logits, 2);
  g_assert_cmpfloat (result->refer_below, ==, 0.99);
  g_assert_cmpint (gdk_pixbuf_get_width (result->image), ==, 90);
  g_assert_cmpint (gdk_pixbuf_get_height (result->image), ==, 70);
  /* The ranking puts the most probable class first. */
  g_assert_cmpuint (result->ranking[0] + result->ranking[1], ==, 1);
  g_assert_cmpfloat (result->probabilities[result->ranking[0]], >=,
                     result->probabilities[result->ranking[1]]);

  /* Two classes never reach 0.99 at temperature 1.5 from an untrained head: the model's own
   * threshold refers; another threshold decides for itself. */
  top = result->probabilities[result->ranking[0]];
  g_assert_cmpfloat (top, <, 0.99);
  g_assert_true (leaf_diagnosis_result_should_refer (result, -1));
  g_assert_false (leaf_diagnosis_result_should_refer (result, 0));
  g_assert_false (leaf_diagnosis_result_should_refer (result, top));
  g_assert_true (leaf_diagnosis_result_should_refer (result, top + 1e-3));

  /* The same photo as bytes, asynchronously. */
  g_assert_true (g_file_get_contents (f->photo, &contents, &length, NULL));
  bytes = g_bytes_new_take (g_steal_pointer (&contents), length);
  leaf_diagnosis_service_diagnose_bytes_async (service, f->model, LEAF_DIAGNOSE_DEFAULT, bytes,
                                               "Pasted image", NULL, on_result_cb,
                                               &async_result);
  from_bytes = leaf_diagnosis_service_diagnose_finish (service, wait_for_result (&async_result),
                                                       &error);
  g_assert_no_error (error);
  assert_probabilities_equal (from_bytes->probabilities, probabilities, 2);

  with_tta = diagnose (service, f->model, LEAF_DIAGNOSE_TTA, f->photo);
  assert_probabilities_equal (with_tta->probabilities, tta, 2);
}

/* A torchvision weight file has its own head: its classes are named by their index. */
static void
test_raw_weights (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(LeafDiagnosisService) service = leaf_diagnosis_service_new ();
  g_autoptr(LeafDiagnosisResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *weights = g_build_filename (f->dir, "weights.safetensors", NULL);

  write_model (weights, 12, 5, NULL);
  result = diagnose (service, weights, LEAF_DIAGNOSE_RAW_WEIGHTS, f->photo);
  g_assert_cmpuint (result->n_classes, ==, 12);
  g_assert_cmpstr (result->classes[11], ==, "11");
  for (guint rank = 1; rank < 12; rank++)
    g_assert_cmpfloat (result->probabilities[result->ranking[rank]], <=,
                       result->probabilities[result->ranking[rank - 1]]);

  /* Without the flag it is not a model Leafscope trained. */
  g_assert_false (leaf_diagnosis_service_load (service, weights, LEAF_DIAGNOSE_DEFAULT, NULL,
                                               &error));
  g_assert_nonnull (error);
}

static void
test_errors_say_which_file (Fixture       *f,
                            gconstpointer  data)
{
  g_autoptr(LeafDiagnosisService) service = leaf_diagnosis_service_new ();
  g_autoptr(LeafDiagnosisResult) result = NULL;
  g_autoptr(GdkPixbuf) photo = leaf_image_load (f->photo, 0, NULL);
  g_autoptr(GdkPixbuf) heatmap = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *missing = g_build_filename (f->dir, "missing.safetensors", NULL);
  g_autofree char *text = g_build_filename (f->dir, "notes.png", NULL);

  g_assert_false (leaf_diagnosis_service_load (service, missing, LEAF_DIAGNOSE_DEFAULT, NULL,
                                               &error));
  g_assert_nonnull (strstr (error->message, "missing.safetensors"));
  g_clear_error (&error);
  g_assert_null (leaf_diagnosis_service_diagnose_file (service, missing, LEAF_DIAGNOSE_DEFAULT,
                                                       f->photo, NULL, &error));
  g_assert_nonnull (strstr (error->message, "missing.safetensors"));
  g_clear_error (&error);

  g_assert_true (g_file_set_contents (text, "not a photo\n", -1, NULL));
  g_assert_null (leaf_diagnosis_service_diagnose_file (service, f->model, LEAF_DIAGNOSE_DEFAULT,
                                                       text, NULL, &error));
  g_assert_nonnull (strstr (error->message, "notes.png"));
  g_clear_error (&error);

  g_assert_null (leaf_diagnosis_service_heatmap (service, f->model, LEAF_DIAGNOSE_DEFAULT, photo,
                                                 2, LEAF_HEATMAP_OVER_PHOTO, NULL, &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID);
  g_clear_error (&error);

  g_cancellable_cancel (cancellable);
  g_assert_null (leaf_diagnosis_service_diagnose_file (service, f->model, LEAF_DIAGNOSE_DEFAULT,
                                                       f->photo, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  /* None of that got in the way of the next diagnosis. */
  result = diagnose (service, f->model, LEAF_DIAGNOSE_DEFAULT, f->photo);
}

/* The service keeps models loaded, but a model written again at the same path is read again. */
static void
test_replaced_model_is_reloaded (Fixture       *f,
                                 gconstpointer  data)
{
  g_autoptr(LeafDiagnosisService) service = leaf_diagnosis_service_new ();
  g_autoptr(LeafDiagnosisResult) before = NULL;
  g_autoptr(LeafDiagnosisResult) after = NULL;
  float expected[2];

  before = diagnose (service, f->model, LEAF_DIAGNOSE_DEFAULT, f->photo);
  write_leafscope_model (f->model, 11);
  expected_probabilities (f->model, f->photo, FALSE, expected, NULL);
  g_assert_cmpfloat (fabsf (expected[0] - before->probabilities[0]), >, 1e-4);

  after = diagnose (service, f->model, LEAF_DIAGNOSE_DEFAULT, f->photo);
  assert_probabilities_equal (after->probabilities, expected, 2);
}

/* A model file deleted after it was loaded still explains the diagnoses it made. */
static void
test_deleted_model_stays_loaded (Fixture       *f,
                                 gconstpointer  data)
{
  g_autoptr(LeafDiagnosisService) service = leaf_diagnosis_service_new ();
  g_autoptr(LeafDiagnosisResult) result = NULL;
  g_autoptr(LeafDiagnosisResult) again = NULL;
  g_autoptr(GdkPixbuf) heatmap = NULL;
  g_autoptr(GError) error = NULL;

  result = diagnose (service, f->model, LEAF_DIAGNOSE_DEFAULT, f->photo);
  g_assert_cmpint (g_remove (f->model), ==, 0);

  heatmap = leaf_diagnosis_service_heatmap (service, f->model, LEAF_DIAGNOSE_DEFAULT,
                                            result->image, (int) result->ranking[0],
                                            LEAF_HEATMAP_OVER_PHOTO, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (heatmap);
  again = diagnose (service, f->model, LEAF_DIAGNOSE_DEFAULT, f->photo);
  assert_probabilities_equal (again->probabilities, result->probabilities, 2);

  /* Another service never loaded it. */
  {
    g_autoptr(LeafDiagnosisService) other = leaf_diagnosis_service_new ();

    g_assert_false (leaf_diagnosis_service_load (other, f->model, LEAF_DIAGNOSE_DEFAULT, NULL,
                                                 &error));
    g_assert_nonnull (error);
  }
}

static gboolean
pixbufs_equal (GdkPixbuf *a,
               GdkPixbuf *b)
{
  g_autoptr(GBytes) pixels_a = gdk_pixbuf_read_pixel_bytes (a);
  g_autoptr(GBytes) pixels_b = gdk_pixbuf_read_pixel_bytes (b);

  return gdk_pixbuf_get_width (a) == gdk_pixbuf_get_width (b)
         && gdk_pixbuf_get_height (a) == gdk_pixbuf_get_height (b)
         && g_bytes_equal (pixels_a, pixels_b);
}

static void
test_heatmaps (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(LeafDiagnosisService) service = leaf_diagnosis_service_new ();
  g_autoptr(LeafDiagnosisResult) result = NULL;
  g_autoptr(GdkPixbuf) over_photo = NULL;
  g_autoptr(GdkPixbuf) of_top = NULL;
  g_autoptr(GdkPixbuf) of_other = NULL;
  g_autoptr(GdkPixbuf) over_crop = NULL;
  g_autoptr(GAsyncResult) async_result = NULL;
  g_autoptr(GError) error = NULL;

  result = diagnose (service, f->model, LEAF_DIAGNOSE_DEFAULT, f->photo);

  /* -1 explains the most probable class, over the whole photo. */
  leaf_diagnosis_service_heatmap_async (service, f->model, LEAF_DIAGNOSE_DEFAULT, result->image,
                                        -1, LEAF_HEATMAP_OVER_PHOTO, NULL, on_result_cb,
                                        &async_result);
  over_photo = leaf_diagnosis_service_heatmap_finish (service, wait_for_result (&async_result),
                                                      &error);
  g_assert_no_error (error);
  g_assert_cmpint (gdk_pixbuf_get_width (over_photo), ==, 90);
  g_assert_cmpint (gdk_pixbuf_get_height (over_photo), ==, 70);
  of_top = leaf_diagnosis_service_heatmap (service, f->model, LEAF_DIAGNOSE_DEFAULT,
                                           result->image, (int) result->ranking[0],
                                           LEAF_HEATMAP_OVER_PHOTO, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (pixbufs_equal (over_photo, of_top));
  of_other = leaf_diagnosis_service_heatmap (service, f->model, LEAF_DIAGNOSE_DEFAULT,
                                             result->image, (int) result->ranking[1],
                                             LEAF_HEATMAP_OVER_PHOTO, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (pixbufs_equal (over_photo, of_other));

  /* Over the crop the model saw, at its input size. */
  over_crop = leaf_diagnosis_service_heatmap (service, f->model, LEAF_DIAGNOSE_DEFAULT,
                                              result->image, (int) result->ranking[0],
                                              LEAF_HEATMAP_OVER_CROP, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (gdk_pixbuf_get_width (over_crop), ==, IMAGE_SIZE);
  g_assert_cmpint (gdk_pixbuf_get_height (over_crop), ==, IMAGE_SIZE);
}

typedef struct
{
  GAsyncResult *result;
  guint *n_done;
  guint place;       /* 1 for the first to finish */
} Ordered;

static void
on_ordered_result_cb (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  Ordered *ordered = user_data;

  ordered->result = g_object_ref (result);
  ordered->place = ++*ordered->n_done;
}

/* Requests are served in the order they were made, whatever becomes of each. */
static void
test_served_in_order (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(LeafDiagnosisService) service = leaf_diagnosis_service_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *missing = g_build_filename (f->dir, "missing.png", NULL);
  const char *photos[] = { f->photo, missing, f->photo };
  Ordered ordered[G_N_ELEMENTS (photos)];
  guint n_done = 0;

  for (guint i = 0; i < G_N_ELEMENTS (photos); i++)
    {
      ordered[i] = (Ordered) { NULL, &n_done, 0 };
      leaf_diagnosis_service_diagnose_file_async (service, f->model,
                                                  i == 2 ? LEAF_DIAGNOSE_TTA
                                                         : LEAF_DIAGNOSE_DEFAULT,
                                                  photos[i], NULL, on_ordered_result_cb,
                                                  &ordered[i]);
    }
  while (n_done < G_N_ELEMENTS (photos))
    g_main_context_iteration (NULL, TRUE);
  for (guint i = 0; i < G_N_ELEMENTS (photos); i++)
    {
      g_autoptr(LeafDiagnosisResult) result = NULL;

      g_assert_cmpuint (ordered[i].place, ==, i + 1);
      result = leaf_diagnosis_service_diagnose_finish (service, ordered[i].result, &error);
      g_assert_true ((result == NULL) == (photos[i] == missing));
      g_clear_error (&error);
      g_object_unref (ordered[i].result);
    }
}

typedef struct
{
  guint n_reports;
  guint done;
  guint total;
  gboolean diagnosed;
  guint done_when_diagnosed;
} ReviewProbe;

static void
on_review_progress_cb (guint    done,
                       guint    total,
                       gpointer user_data)
{
  ReviewProbe *probe = user_data;

  g_assert_cmpuint (done, >, probe->done);
  g_assert_cmpuint (done, <=, total);
  probe->n_reports++;
  probe->done = done;
  probe->total = total;
}

static void
on_review_diagnosed_cb (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  ReviewProbe *probe = user_data;
  g_autoptr(LeafDiagnosisResult) diagnosis = NULL;
  g_autoptr(GError) error = NULL;

  diagnosis = leaf_diagnosis_service_diagnose_finish (LEAF_DIAGNOSIS_SERVICE (source), result,
                                                      &error);
  g_assert_no_error (error);
  probe->diagnosed = TRUE;
  probe->done_when_diagnosed = probe->done;
}

static char *
sha256_of (const char *path)
{
  g_autofree char *contents = NULL;
  gsize length;

  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) contents, length);
}

/* The new model's prediction for every readable photo goes into the catalog, batch by batch; a
 * diagnosis asked for meanwhile does not wait for the end. */
static void
test_reviews_a_catalog (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(LeafDiagnosisService) service = leaf_diagnosis_service_new ();
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(LeafImportSummary) summary = NULL;
  g_autoptr(GPtrArray) images = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *photos = g_build_filename (f->dir, "photos", NULL);
  g_autofree char *catalog_path = g_build_filename (f->dir, "test.leafscope", NULL);
  g_autofree char *gone = NULL;
  g_autofree char *sha = NULL;
  LeafImageQuery all = { 0 };
  ReviewProbe probe = { 0 };
  gint64 model_id;
  guint n_predicted = 0;

  g_assert_cmpint (g_mkdir_with_parents (photos, 0755), ==, 0);
  for (guint i = 0; i < N_REVIEW_PHOTOS; i++)
    {
      g_autofree char *name = g_strdup_printf ("photo-%02u.png", i);
      g_autofree char *path = g_build_filename (photos, name, NULL);

      write_photo (path, 100 + i);
    }
  catalog = leaf_catalog_open (catalog_path, LEAF_CATALOG_OPEN_CREATE, &error);
  g_assert_no_error (error);
  summary = leaf_import_run (catalog, (const char *[]) { photos, NULL }, NULL, NULL, NULL, NULL,
                             &error);
  g_assert_no_error (error);
  g_assert_cmpuint (summary->n_added, ==, N_REVIEW_PHOTOS);
  model_id = leaf_catalog_add_model (catalog, 0, f->model, (sha = sha256_of (f->model)),
                                     class_names, NULL, &error);
  g_assert_no_error (error);
  /* A photo deleted behind the catalog's back gets no prediction. */
  gone = g_build_filename (photos, "photo-07.png", NULL);
  g_assert_cmpint (g_remove (gone), ==, 0);

  leaf_diagnosis_service_review_catalog_async (service, catalog, model_id, on_review_progress_cb,
                                               &probe, NULL, on_result_cb, &result);
  leaf_diagnosis_service_diagnose_file_async (service, f->model, LEAF_DIAGNOSE_DEFAULT, f->photo,
                                              NULL, on_review_diagnosed_cb, &probe);
  wait_for_result (&result);
  g_assert_true (leaf_diagnosis_service_review_catalog_finish (service, result, &error));
  g_assert_no_error (error);
  g_assert_true (probe.diagnosed);
  g_assert_cmpuint (probe.done_when_diagnosed, <, N_REVIEW_PHOTOS);
  g_assert_cmpuint (probe.n_reports, ==, 2);
  g_assert_cmpuint (probe.done, ==, N_REVIEW_PHOTOS);
  g_assert_cmpuint (probe.total, ==, N_REVIEW_PHOTOS);

  images = leaf_catalog_query_images (catalog, &all, 0, N_REVIEW_PHOTOS, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < images->len; i++)
    {
      LeafCatalogImage *image = g_ptr_array_index (images, i);
      g_autoptr(LeafPrediction) prediction = NULL;
      g_autoptr(GError) missing = NULL;
      float expected[2];

      prediction = leaf_catalog_get_prediction (catalog, model_id,
                                                leaf_catalog_image_get_id (image), &missing);
      if (g_strcmp0 (leaf_catalog_image_get_path (image), gone) == 0)
        {
          g_assert_null (prediction);
          continue;
        }
      g_assert_no_error (missing);
      expected_probabilities (f->model, leaf_catalog_image_get_path (image), FALSE, expected,
                              NULL);
      assert_probabilities_equal (prediction->probabilities, expected, 2);
      n_predicted++;
    }
  g_assert_cmpuint (n_predicted, ==, N_REVIEW_PHOTOS - 1);
  leaf_catalog_close (catalog);
}

int
main (int   argc,
      char *argv[])
{
  leaf_test_init (&argc, &argv);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/diagnosis-service/diagnoses-a-file-and-bytes", test_diagnoses_a_file_and_bytes);
  ADD ("/diagnosis-service/raw-weights", test_raw_weights);
  ADD ("/diagnosis-service/errors-say-which-file", test_errors_say_which_file);
  ADD ("/diagnosis-service/replaced-model-is-reloaded", test_replaced_model_is_reloaded);
  ADD ("/diagnosis-service/deleted-model-stays-loaded", test_deleted_model_stays_loaded);
  ADD ("/diagnosis-service/heatmaps", test_heatmaps);
  ADD ("/diagnosis-service/served-in-order", test_served_in_order);
  ADD ("/diagnosis-service/reviews-a-catalog", test_reviews_a_catalog);
#undef ADD
  return g_test_run ();
}
