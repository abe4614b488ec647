/* test-models-io.c: models exported for PyTorch, and models trained in PyTorch imported
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * models-io.py (Debian's torch and torchvision) saves one EfficientNet-B0 the ways PyTorch users
 * save it, makes photos, and says what torchvision's logits for them are. Every expected number
 * comes from PyTorch, never from the code under test.
 */

#define G_LOG_DOMAIN "test-models-io"

#include "config.h"

#include "leaf-test.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "leaf-catalog.h"
#include "leaf-error.h"
#include "leaf-import.h"
#include "leaf-model-file.h"
#include "leaf-model-io.h"
#include "leaf-predictor.h"
#include "lt-weights.h"

#define N_CLASSES 3

static const char *const classes[] = { "early_blight", "healthy", "late_blight", NULL };

static char *gen_dir;       /* what models-io.py wrote; NULL without Python */
static JsonObject *logits;  /* photo path -> torchvision's logits */
static JsonNode *logits_root;

static gboolean
require_python (void)
{
  if (gen_dir == NULL)
    g_test_skip ("LEAFSCOPE_PYTHON (Python with torch and torchvision) is not available");
  return gen_dir != NULL;
}

static char *
gen_path (const char *name)
{
  return g_build_filename (gen_dir, name, NULL);
}

static JsonNode *
run_python (const char *first, ...)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_autofree char *script = g_test_build_filename (G_TEST_DIST, "models-io", "models-io.py", NULL);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) argv = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status;
  va_list args;

  g_strv_builder_add (builder, g_getenv ("LEAFSCOPE_PYTHON"));
  g_strv_builder_add (builder, script);
  va_start (args, first);
  for (const char *a = first; a != NULL; a = va_arg (args, const char *))
    g_strv_builder_add (builder, a);
  va_end (args);
  argv = g_strv_builder_end (builder);
  g_spawn_sync (NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("models-io.py %s failed: %s", first, err);
  return *out != '\0' ? json_from_string (out, &error) : NULL;
}

/* A catalog in a folder of its own; with the made-up photos, labelled by folder, every one a
 * validation photo. */
typedef struct
{
  char *dir;
  LeafCatalog *catalog;
} Fixture;

static void
set_up_empty (Fixture       *f,
              gconstpointer  data)
{
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;

  f->dir = g_dir_make_tmp ("test-models-io-XXXXXX", NULL);
  path = g_build_filename (f->dir, "test.leafscope", NULL);
  f->catalog = leaf_catalog_open (path, LEAF_CATALOG_OPEN_CREATE, &error);
  g_assert_no_error (error);
}

static void
set_up_with_photos (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(LeafImportSummary) summary = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *photos = NULL;
  LeafImportOptions options = { .folder_labels = LEAF_FOLDER_LABELS_ALWAYS };
  LeafSplitOptions split = { .validation = 1.0 };

  set_up_empty (f, data);
  if (gen_dir == NULL)
    return;
  photos = gen_path ("photos");
  summary = leaf_import_run (f->catalog, (const char *[]) { photos, NULL }, &options, NULL,
                             NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (leaf_catalog_assign_splits (f->catalog, &split, NULL, &error));
  g_assert_no_error (error);
}

static void
tear_down (Fixture       *f,
           gconstpointer  data)
{
  leaf_catalog_close (f->catalog);
  g_clear_object (&f->catalog);
  leaf_test_remove_tree (f->dir);
  g_free (f->dir);
}

static const char *
photo_class (const char *photo)
{
  for (guint c = 0; c < N_CLASSES; c++)
    {
      g_autofree char *folder = g_strdup_printf ("/%s/", classes[c]);
      if (strstr (photo, folder) != NULL)
        return classes[c];
    }
  g_assert_not_reached ();
}

/* Within 1e-4 of the largest logit: float32 convolutions summed in another order. */
static void
assert_logits_close (JsonArray   *want,
                     const float *got,
                     const char  *what)
{
  double scale = 1e-3;

  g_assert_cmpuint (json_array_get_length (want), ==, N_CLASSES);
  for (guint c = 0; c < N_CLASSES; c++)
    scale = MAX (scale, fabs (json_array_get_double_element (want, c)));
  for (guint c = 0; c < N_CLASSES; c++)
    if (fabs (json_array_get_double_element (want, c) - got[c]) > 1e-4 * scale)
      g_error ("%s: logit %u is %g, PyTorch says %g", what, c, got[c],
               json_array_get_double_element (want, c));
}

typedef struct
{
  const char *file;
  const char *prefix;
} ImportCase;

static const ImportCase import_cases[] = {
  { "plain.pth", "" },
  { "state-dict.pth", "" },
  { "model-state-dict.pth", "" },
  { "module.pth", "module." },
  { "lightning.ckpt", "model." },
};

/* Each way of saving gives the model torchvision has: the same logits on every photo, measured
 * and calibrated on the catalog's validation photos. */
static void
test_import (Fixture       *f,
             gconstpointer  data)
{
  const ImportCase *c = data;
  g_autofree char *source = NULL;
  g_autoptr(LeafModelImport) import = NULL;
  g_autoptr(LeafModelInfo) info = NULL;
  g_autoptr(LeafPredictor) predictor = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GList) photos = NULL;
  const LeafModelMeta *meta;
  guint correct = 0;

  if (!require_python ())
    return;
  source = gen_path (c->file);
  import = leaf_model_import (f->catalog, source, classes, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (import);
  g_assert_cmpstr (import->key_prefix, ==, c->prefix);
  g_assert_cmpuint (import->n_classes, ==, N_CLASSES);
  g_assert_true (g_str_has_prefix (import->path, f->dir));

  info = leaf_catalog_get_model (f->catalog, import->model_id, &error);
  g_assert_no_error (error);
  g_assert_cmpint (info->run_id, ==, 0);
  g_assert_cmpstrv (info->classes, classes);
  g_assert_cmpstr (info->path, ==, import->path);

  predictor = leaf_predictor_new_from_model (import->path, &error);
  g_assert_no_error (error);
  photos = json_object_get_members (logits);
  for (GList *l = photos; l != NULL; l = l->next)
    {
      JsonArray *want = json_object_get_array_member (logits, l->data);
      float got[N_CLASSES], probabilities[N_CLASSES];
      guint best = 0;

      g_assert_true (leaf_predictor_predict_file (predictor, l->data, FALSE, probabilities, got,
                                                  &error));
      g_assert_no_error (error);
      assert_logits_close (want, got, l->data);
      for (guint k = 1; k < N_CLASSES; k++)
        if (json_array_get_double_element (want, k) > json_array_get_double_element (want, best))
          best = k;
      correct += g_str_equal (classes[best], photo_class (l->data));
    }

  /* Every photo is a validation photo of one of its classes. */
  g_assert_cmpuint (import->n_calibration, ==, g_list_length (photos));
  g_assert_cmpfloat_with_epsilon (import->val_accuracy, (double) correct / import->n_calibration,
                                  1e-9);
  meta = leaf_predictor_get_meta (predictor);
  g_assert_cmpfloat (import->calibration.temperature, >, 0);
  g_assert_cmpfloat (import->calibration.temperature, !=, 1.0);
  g_assert_cmpfloat_with_epsilon (meta->temperature, import->calibration.temperature, 1e-9);
  g_assert_cmpfloat_with_epsilon (meta->refer_below, import->calibration.refer_below, 1e-9);
  g_assert_nonnull (meta->metrics_json);
  g_assert_nonnull (strstr (info->metrics_json, "\"status\":\"imported\""));

}

static void
assert_import_fails (LeafCatalog        *catalog,
                     const char         *file,
                     const char * const *names,
                     int                 code,
                     const char         *message)
{
  g_autofree char *source = gen_path (file);
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafModelImport) import = leaf_model_import (catalog, source, names, NULL, &error);

  g_assert_null (import);
  g_assert_error (error, LEAF_ENGINE_ERROR, code);
  if (strstr (error->message, message) == NULL)
    g_error ("“%s” does not say “%s”", error->message, message);
}

static void
test_import_refused (Fixture       *f,
                     gconstpointer  data)
{
  static const char *const two[] = { "healthy", "late_blight", NULL };
  static const char *const twice[] = { "healthy", "healthy", "late_blight", NULL };
  g_autofree char *models = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) folder = NULL;

  if (!require_python ())
    return;
  assert_import_fails (f->catalog, "four-classes.pth", classes, LEAF_ENGINE_ERROR_MISMATCH,
                       "has a classifier of 4 classes, but 3 class names were given "
                       "(early_blight, healthy, late_blight)");
  assert_import_fails (f->catalog, "plain.pth", two, LEAF_ENGINE_ERROR_MISMATCH,
                       "has a classifier of 3 classes, but 2 class names were given");
  assert_import_fails (f->catalog, "plain.pth", twice, LEAF_ENGINE_ERROR_INVALID, "given twice");
  assert_import_fails (f->catalog, "logits.json", classes, LEAF_ENGINE_ERROR_FORMAT,
                       "logits.json: it is a text file");
  assert_import_fails (f->catalog, "photos/healthy/0.png", classes, LEAF_ENGINE_ERROR_FORMAT,
                       "not a weight file");

  /* Nothing was recorded, and no file left behind. */
  list = leaf_catalog_list_models (f->catalog, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 0);
  models = leaf_catalog_get_models_dir (f->catalog);
  folder = g_dir_open (models, 0, NULL);
  g_assert_true (folder == NULL || g_dir_read_name (folder) == NULL);

}

/* Without labelled validation photos the model keeps its raw probabilities and never refers. */
static void
test_import_uncalibrated (Fixture       *f,
                          gconstpointer  data)
{
  g_autofree char *source = NULL;
  g_autoptr(LeafModelImport) import = NULL;
  g_autoptr(LeafPredictor) predictor = NULL;
  g_autoptr(GError) error = NULL;

  if (!require_python ())
    return;
  source = gen_path ("plain.pth");
  import = leaf_model_import (f->catalog, source, classes, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (import->n_calibration, ==, 0);
  g_assert_true (isnan (import->val_accuracy));
  predictor = leaf_predictor_new_from_model (import->path, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (leaf_predictor_get_meta (predictor)->temperature, ==, 1.0);
  g_assert_cmpfloat (leaf_predictor_get_meta (predictor)->refer_below, ==, 0.0);

}

/* An imported model, exported: the snippet of docs/model-format.md (safetensors) and torch.load
 * (torch.save) give torchvision's logits and the model's calibrated probabilities. */
static void
test_export (Fixture       *f,
             gconstpointer  data)
{
  g_autofree char *source = NULL;
  g_autofree char *safetensors = NULL;
  g_autofree char *torch_file = NULL;
  g_autofree char *doc = NULL;
  g_autoptr(LeafModelImport) import = NULL;
  g_autoptr(LeafModelImport) again = NULL;
  g_autoptr(LeafPredictor) predictor = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GList) photos = NULL;
  g_autoptr(JsonNode) snippet = NULL;
  g_autoptr(JsonNode) loaded = NULL;
  const char *photo;
  LtStateDict *sd = NULL;
  char *message = NULL;
  float got[N_CLASSES], probabilities[N_CLASSES];
  JsonArray *want;

  if (!require_python ())
    return;
  source = gen_path ("module.pth");
  import = leaf_model_import (f->catalog, source, classes, NULL, &error);
  g_assert_no_error (error);
  predictor = leaf_predictor_new_from_model (import->path, &error);
  g_assert_no_error (error);
  photos = json_object_get_members (logits);
  photo = photos->data;
  want = json_object_get_array_member (logits, photo);
  g_assert_true (leaf_predictor_predict_file (predictor, photo, FALSE, probabilities, got, &error));

  safetensors = g_build_filename (f->dir, "exported.safetensors", NULL);
  g_assert_true (leaf_model_export (f->catalog, import->model_id, safetensors,
                                    LEAF_MODEL_FORMAT_SAFETENSORS, &error));
  g_assert_no_error (error);
  doc = g_test_build_filename (G_TEST_DIST, "..", "docs", "model-format.md", NULL);
  snippet = run_python ("snippet", doc, safetensors, photo, NULL);
  {
    JsonObject *o = json_node_get_object (snippet);
    JsonArray *p = json_object_get_array_member (o, "probabilities");

    assert_logits_close (json_object_get_array_member (o, "logits"), got, "the snippet");
    assert_logits_close (want, got, "leafscope");
    for (guint c = 0; c < N_CLASSES; c++)
      g_assert_cmpfloat_with_epsilon (json_array_get_double_element (p, c), probabilities[c],
                                      1e-4);
  }
  /* The catalog's path stays home. */
  g_assert_cmpint (lt_state_dict_load (safetensors, &sd, &message), ==, LT_OK);
  g_assert_cmpstr (lt_state_dict_metadata (sd, "format"), ==, "pt");
  g_assert_null (strstr (lt_state_dict_metadata (sd, "leafscope"), "\"catalog\""));
  lt_state_dict_free (sd);

  torch_file = g_build_filename (f->dir, "exported.pth", NULL);
  g_assert_true (leaf_model_export (f->catalog, import->model_id, torch_file,
                                    leaf_model_format_for_path (torch_file), &error));
  g_assert_no_error (error);
  loaded = run_python ("torch", torch_file, "3", photo, NULL);
  assert_logits_close (json_object_get_array_member (json_node_get_object (loaded), "logits"),
                       got, "torch.load");

  /* What left comes back in. */
  again = leaf_model_import (f->catalog, torch_file, classes, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (again->model_id, !=, import->model_id);
  g_assert_cmpstr (again->path, !=, import->path);
  g_assert_cmpfloat_with_epsilon (again->calibration.temperature, import->calibration.temperature,
                                  1e-6);

  g_assert_false (leaf_model_export (f->catalog, import->model_id, "/nonexistent-leafscope-dir/m.pth",
                                     LEAF_MODEL_FORMAT_TORCH, &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO);

}

static void
test_formats (void)
{
  LeafModelFormat format = LEAF_MODEL_FORMAT_SAFETENSORS;

  g_assert_true (leaf_model_format_from_string ("torch", &format));
  g_assert_cmpint (format, ==, LEAF_MODEL_FORMAT_TORCH);
  g_assert_true (leaf_model_format_from_string ("safetensors", &format));
  g_assert_cmpint (format, ==, LEAF_MODEL_FORMAT_SAFETENSORS);
  g_assert_false (leaf_model_format_from_string ("onnx", &format));
  g_assert_cmpint (leaf_model_format_for_path ("m.pth"), ==, LEAF_MODEL_FORMAT_TORCH);
  g_assert_cmpint (leaf_model_format_for_path ("m.pt"), ==, LEAF_MODEL_FORMAT_TORCH);
  g_assert_cmpint (leaf_model_format_for_path ("m.safetensors"), ==,
                   LEAF_MODEL_FORMAT_SAFETENSORS);
}

int
main (int argc, char *argv[])
{
  const char *python = g_getenv ("LEAFSCOPE_PYTHON");
  int result;

  leaf_test_init (&argc, &argv);
  g_setenv ("LEAFSCOPE_THREADS", "2", FALSE);

  if (python != NULL && g_file_test (python, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_autofree char *file = NULL;
      g_autofree char *text = NULL;
      g_autoptr(GError) error = NULL;

      gen_dir = g_dir_make_tmp ("test-models-io-gen-XXXXXX", NULL);
      g_assert_null (run_python ("make", gen_dir, NULL));
      file = gen_path ("logits.json");
      g_assert_true (g_file_get_contents (file, &text, NULL, &error));
      logits_root = json_from_string (text, &error);
      g_assert_no_error (error);
      logits = json_node_get_object (logits_root);
    }

  g_test_add_func ("/models-io/formats", test_formats);
  for (gsize i = 0; i < G_N_ELEMENTS (import_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/models-io/import/%s", import_cases[i].file);
      g_test_add (path, Fixture, &import_cases[i], set_up_with_photos, test_import, tear_down);
    }
  g_test_add ("/models-io/import/refused", Fixture, NULL, set_up_empty, test_import_refused,
              tear_down);
  g_test_add ("/models-io/import/uncalibrated", Fixture, NULL, set_up_empty,
              test_import_uncalibrated, tear_down);
  g_test_add ("/models-io/export", Fixture, NULL, set_up_with_photos, test_export, tear_down);

  result = g_test_run ();

  g_clear_pointer (&logits_root, json_node_unref);
  leaf_test_remove_tree (gen_dir);
  g_free (gen_dir);
  return result;
}
