/* test-models.c: the catalog's models: the active one, names, removal, paths that travel, and
 * the update of catalogs that had none of these
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "leaf-test.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "catalog-test-util.h"
#include "leaf-catalog-private.h"
#include "leaf-error.h"
#include "leaf-import.h"

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static const char *const classes[] = { "healthy", "blight", NULL };

typedef struct
{
  char *dir;
  char *path;
  char *models_dir;
  LeafCatalog *catalog;
  guint n_active_changed;
} Fixture;

static void
on_active_model_changed_cb (LeafCatalog *catalog,
                            Fixture     *fixture)
{
  fixture->n_active_changed++;
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  fixture->dir = ctu_make_tmp_dir ();
  fixture->path = g_build_filename (fixture->dir, "lab.leafscope", NULL);
  fixture->catalog = leaf_catalog_open (fixture->path, LEAF_CATALOG_OPEN_CREATE, &error);
  g_assert_no_error (error);
  fixture->models_dir = leaf_catalog_get_models_dir (fixture->catalog);
  g_assert_cmpint (g_mkdir_with_parents (fixture->models_dir, 0755), ==, 0);
  g_signal_connect (fixture->catalog, "active-model-changed",
                    G_CALLBACK (on_active_model_changed_cb), fixture);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  g_clear_object (&fixture->catalog);
  leaf_test_remove_tree (fixture->dir);
  g_free (fixture->dir);
  g_free (fixture->path);
  g_free (fixture->models_dir);
}

/* Writes a stand-in model file (the catalog never reads it) and records it. */
static gint64
add_model (LeafCatalog *catalog,
           const char  *path,
           gint64       run_id,
           const char  *metrics_json)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *sha = NULL;
  gint64 id;

  ctu_write_bytes (path, path, strlen (path));
  sha = ctu_sha256_of_file (path);
  id = leaf_catalog_add_model (catalog, run_id, path, sha, classes, metrics_json, &error);
  g_assert_no_error (error);
  g_assert_cmpint (id, >, 0);
  return id;
}

static gint64
active_id (LeafCatalog *catalog)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafModelInfo) active = leaf_catalog_get_active_model (catalog, &error);

  if (active == NULL)
    {
      g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NO_MODEL);
      return 0;
    }
  g_assert_true (active->active);
  return active->id;
}

/* A model is active only when chosen; the choice is announced, listed, and refused for a model
 * the catalog does not have. */
static void
test_choose_active (Fixture       *fixture,
                    gconstpointer  data)
{
  LeafCatalog *catalog = fixture->catalog;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) models = NULL;
  g_autofree char *first_path = g_build_filename (fixture->models_dir, "run-1.safetensors", NULL);
  g_autofree char *second_path = g_build_filename (fixture->models_dir, "run-2.safetensors", NULL);
  gint64 first, second;

  g_assert_null (leaf_catalog_get_active_model (catalog, &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NO_MODEL);
  g_assert_nonnull (strstr (error->message, "Train one"));
  g_clear_error (&error);

  /* Recorded is not chosen: a run decides with leaf_catalog_settle_model(). */
  first = add_model (catalog, first_path, 0, "{\"val_accuracy\": 0.87}");
  second = add_model (catalog, second_path, 0, NULL);
  g_assert_null (leaf_catalog_get_active_model (catalog, &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NO_MODEL);
  g_assert_nonnull (strstr (error->message, "models use ID"));
  g_clear_error (&error);
  g_assert_cmpuint (fixture->n_active_changed, ==, 0);

  g_assert_true (leaf_catalog_set_active_model (catalog, first, &error));
  g_assert_no_error (error);
  g_assert_cmpint (active_id (catalog), ==, first);
  g_assert_cmpuint (fixture->n_active_changed, ==, 1);
  models = leaf_catalog_list_models (catalog, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (models->len, ==, 2);
  /* Newest first. */
  g_assert_cmpint (((LeafModelInfo *) models->pdata[0])->id, ==, second);
  g_assert_false (((LeafModelInfo *) models->pdata[0])->active);
  g_assert_true (isnan (((LeafModelInfo *) models->pdata[0])->val_accuracy));
  g_assert_true (((LeafModelInfo *) models->pdata[1])->active);
  g_assert_cmpfloat (((LeafModelInfo *) models->pdata[1])->val_accuracy, ==, 0.87);

  g_assert_false (leaf_catalog_set_active_model (catalog, second + 10, &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_cmpint (active_id (catalog), ==, first);

  g_assert_true (leaf_catalog_set_active_model (catalog, second, &error));
  g_assert_cmpint (active_id (catalog), ==, second);
  g_assert_true (leaf_catalog_set_active_model (catalog, 0, &error));
  g_assert_no_error (error);
  g_assert_cmpint (active_id (catalog), ==, 0);
  g_assert_cmpuint (fixture->n_active_changed, ==, 3);
}

/* A run's decision replaces only the model it compared against: a choice the user made in the
 * meantime stands. Its note is kept either way. */
static void
test_settle_keeps_the_users_choice (Fixture       *fixture,
                                    gconstpointer  data)
{
  LeafCatalog *catalog = fixture->catalog;
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafModelInfo) info = NULL;
  g_auto(GStrv) paths = g_new0 (char *, 4);
  gint64 ids[3];
  gboolean activated = TRUE;

  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *name = g_strdup_printf ("run-%u.safetensors", i + 1);

      paths[i] = g_build_filename (fixture->models_dir, name, NULL);
      ids[i] = add_model (catalog, paths[i], 0, NULL);
    }

  g_assert_true (leaf_catalog_settle_model (catalog, ids[0], TRUE, 0, "first", &activated,
                                            &error));
  g_assert_no_error (error);
  g_assert_true (activated);
  g_assert_cmpint (active_id (catalog), ==, ids[0]);

  /* Decided against model 1, but the user chose model 2 meanwhile. */
  g_assert_true (leaf_catalog_set_active_model (catalog, ids[1], &error));
  g_assert_true (leaf_catalog_settle_model (catalog, ids[2], TRUE, ids[0], "better", &activated,
                                            &error));
  g_assert_no_error (error);
  g_assert_false (activated);
  g_assert_cmpint (active_id (catalog), ==, ids[1]);

  g_assert_true (leaf_catalog_settle_model (catalog, ids[2], FALSE, 0, "stopped", &activated,
                                            &error));
  g_assert_false (activated);
  info = leaf_catalog_get_model (catalog, ids[2], &error);
  g_assert_no_error (error);
  g_assert_cmpstr (info->note, ==, "stopped");
  g_assert_false (info->active);
}

/* Names are one line; blank gives the title back; the line that describes a model says what
 * tells it apart. */
static void
test_rename_and_describe (Fixture       *fixture,
                          gconstpointer  data)
{
  LeafCatalog *catalog = fixture->catalog;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (fixture->models_dir, "imported.safetensors", NULL);
  g_autoptr(LeafModelInfo) info = NULL;
  g_autofree char *title = NULL;
  g_autofree char *line = NULL;
  gint64 id;

  id = add_model (catalog, path, 0, "{\"val_accuracy\": 0.871}");
  info = leaf_catalog_get_model (catalog, id, &error);
  title = leaf_model_info_get_title (info);
  g_assert_cmpstr (title, ==, "Model 1");
  line = leaf_model_info_describe (info);
  g_assert_true (g_str_has_prefix (line, "Model 1 · 87 % validation · "));
  g_clear_pointer (&info, leaf_model_info_free);
  g_clear_pointer (&title, g_free);
  g_clear_pointer (&line, g_free);

  g_assert_true (leaf_catalog_rename_model (catalog, id, "  Lab photos, Dec  ", &error));
  g_assert_no_error (error);
  info = leaf_catalog_get_model (catalog, id, &error);
  g_assert_cmpstr (info->name, ==, "Lab photos, Dec");
  title = leaf_model_info_get_title (info);
  g_assert_cmpstr (title, ==, "Lab photos, Dec");
  g_clear_pointer (&info, leaf_model_info_free);

  g_assert_false (leaf_catalog_rename_model (catalog, id, "two\nlines", &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (leaf_catalog_rename_model (catalog, id + 1, "none", &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_true (leaf_catalog_rename_model (catalog, id, " ", &error));
  info = leaf_catalog_get_model (catalog, id, &error);
  g_assert_null (info->name);

  /* A stopped run's model says so. */
  {
    gint64 run = leaf_catalog_begin_run (catalog, "{}", NULL, &error);
    g_autofree char *stopped_path = g_build_filename (fixture->models_dir, "run-1.safetensors",
                                                      NULL);
    g_autoptr(LeafModelInfo) stopped = NULL;
    g_autofree char *stopped_line = NULL;
    gint64 stopped_id = add_model (catalog, stopped_path, run, "{\"val_accuracy\": 0.58}");

    g_assert_true (leaf_catalog_end_run (catalog, run, LEAF_RUN_CANCELLED, NULL, &error));
    stopped = leaf_catalog_get_model (catalog, stopped_id, &error);
    g_assert_no_error (error);
    g_assert_cmpint (stopped->run_status, ==, LEAF_RUN_CANCELLED);
    stopped_line = leaf_model_info_describe (stopped);
    g_assert_true (g_str_has_prefix (stopped_line, "Run 1 · 58 % validation · stopped · "));
  }
}

/* Removing a model forgets its predictions and deletes its file from the models folder, never
 * a file elsewhere; removing the active one leaves none active rather than an older model. */
static void
test_remove (Fixture       *fixture,
             gconstpointer  data)
{
  LeafCatalog *catalog = fixture->catalog;
  g_autoptr(GError) error = NULL;
  g_autofree char *inside = g_build_filename (fixture->models_dir, "run-1.safetensors", NULL);
  g_autofree char *outside_dir = ctu_make_tmp_dir ();
  g_autofree char *outside = g_build_filename (outside_dir, "mine.safetensors", NULL);
  g_autofree char *photo = g_build_filename (fixture->dir, "leaf.png", NULL);
  g_autoptr(LeafImportSummary) summary = NULL;
  g_autoptr(GPtrArray) models = NULL;
  float probabilities[] = { 0.9f, 0.1f };
  gint64 image = 1, kept, removed;

  ctu_write_image (photo, "png", 8, 8, 1);
  summary = leaf_import_run (catalog, (const char *[]) { photo, NULL }, NULL, NULL, NULL, NULL,
                             &error);
  g_assert_no_error (error);
  kept = add_model (catalog, outside, 0, NULL);
  removed = add_model (catalog, inside, 0, NULL);
  g_assert_true (leaf_catalog_add_predictions (catalog, removed, &image, 1, probabilities, 2,
                                               NULL, &error));
  g_assert_true (leaf_catalog_set_active_model (catalog, removed, &error));
  g_assert_no_error (error);
  fixture->n_active_changed = 0;

  g_assert_true (leaf_catalog_remove_model (catalog, removed, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (inside, G_FILE_TEST_EXISTS));
  g_assert_cmpint (active_id (catalog), ==, 0);
  g_assert_cmpuint (fixture->n_active_changed, ==, 1);
  g_assert_null (leaf_catalog_get_prediction (catalog, removed, image, &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (leaf_catalog_remove_model (catalog, removed, &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_true (leaf_catalog_remove_model (catalog, kept, &error));
  g_assert_true (g_file_test (outside, G_FILE_TEST_IS_REGULAR));
  models = leaf_catalog_list_models (catalog, &error);
  g_assert_cmpuint (models->len, ==, 0);
  leaf_test_remove_tree (outside_dir);
}

/* Inside the catalog's folder a model's path is stored relative to it, so that a copy of the
 * folder elsewhere finds its models; outside it stays absolute. */
static void
test_paths_travel (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *inside = g_build_filename (fixture->models_dir, "run-1.safetensors", NULL);
  g_autofree char *outside_dir = ctu_make_tmp_dir ();
  g_autofree char *outside = g_build_filename (outside_dir, "mine.safetensors", NULL);
  g_autofree char *copy_dir = ctu_make_tmp_dir ();
  g_autofree char *copy_path = g_build_filename (copy_dir, "lab.leafscope", NULL);
  g_autofree char *copy_model = g_build_filename (copy_dir, "lab.models", "run-1.safetensors",
                                                  NULL);
  g_autofree char *stored = NULL;
  g_autofree char *stored_outside = NULL;
  g_autofree char *command = NULL;
  g_autoptr(LeafCatalog) copy = NULL;
  g_autoptr(LeafModelInfo) moved = NULL;
  g_autoptr(LeafModelInfo) stayed = NULL;
  gint64 inside_id, outside_id;
  sqlite3 *db;

  inside_id = add_model (fixture->catalog, inside, 0, NULL);
  outside_id = add_model (fixture->catalog, outside, 0, NULL);
  g_clear_object (&fixture->catalog);

  db = ctu_sql_open (fixture->path);
  stored = ctu_sql_text (db, "SELECT path FROM models ORDER BY id LIMIT 1");
  stored_outside = ctu_sql_text (db, "SELECT path FROM models ORDER BY id DESC LIMIT 1");
  sqlite3_close (db);
  g_assert_cmpstr (stored, ==, "lab.models/run-1.safetensors");
  g_assert_cmpstr (stored_outside, ==, outside);

  command = g_strdup_printf ("cp -R '%s/.' '%s'", fixture->dir, copy_dir);
  g_assert_cmpint (system (command), ==, 0);
  copy = leaf_catalog_open (copy_path, LEAF_CATALOG_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  moved = leaf_catalog_get_model (copy, inside_id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (moved->path, ==, copy_model);
  stayed = leaf_catalog_get_model (copy, outside_id, &error);
  g_assert_cmpstr (stayed->path, ==, outside);
  leaf_test_remove_tree (outside_dir);
  leaf_test_remove_tree (copy_dir);
}

/* relocate repairs a model file outside the catalog's folder that moved with its folder, by
 * content, like photos; a file of other content in its place is reported and not taken. */
static void
test_relocate (Fixture       *fixture,
               gconstpointer  data)
{
  LeafCatalog *catalog = fixture->catalog;
  g_autoptr(GError) error = NULL;
  g_autofree char *outside_dir = ctu_make_tmp_dir ();
  g_autofree char *old_dir = g_build_filename (outside_dir, "old", NULL);
  g_autofree char *new_dir = g_build_filename (outside_dir, "new", NULL);
  g_autofree char *good = g_build_filename (old_dir, "good.safetensors", NULL);
  g_autofree char *other = g_build_filename (old_dir, "other.safetensors", NULL);
  g_autofree char *good_new = g_build_filename (new_dir, "good.safetensors", NULL);
  g_autofree char *other_new = g_build_filename (new_dir, "other.safetensors", NULL);
  g_autoptr(GPtrArray) differing = NULL;
  g_autoptr(GPtrArray) not_found = NULL;
  g_autoptr(LeafModelInfo) repaired = NULL;
  g_autoptr(LeafModelInfo) left = NULL;
  gint64 good_id, other_id;
  guint n_repaired = 0;

  g_assert_cmpint (g_mkdir_with_parents (old_dir, 0755), ==, 0);
  good_id = add_model (catalog, good, 0, NULL);
  other_id = add_model (catalog, other, 0, NULL);
  g_assert_cmpint (g_rename (old_dir, new_dir), ==, 0);
  ctu_write_bytes (other_new, "changed", 7);

  g_assert_true (leaf_catalog_relocate (catalog, old_dir, new_dir, &n_repaired, &differing,
                                        &not_found, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n_repaired, ==, 1);
  g_assert_cmpuint (differing->len, ==, 1);
  g_assert_cmpstr (differing->pdata[0], ==, other_new);
  g_assert_cmpuint (not_found->len, ==, 0);
  repaired = leaf_catalog_get_model (catalog, good_id, &error);
  g_assert_cmpstr (repaired->path, ==, good_new);
  left = leaf_catalog_get_model (catalog, other_id, &error);
  g_assert_cmpstr (left->path, ==, other);
  leaf_test_remove_tree (outside_dir);
}

/* A catalog of version 2 (no active model, absolute paths) is updated so that diagnoses keep
 * the latest model of a completed run, not a stopped run's that came after it, and its model
 * paths become relative. Without any completed run, the latest model stays in use. */
static void
test_migration_keeps_the_model (void)
{
  for (guint any_completed = 0; any_completed < 2; any_completed++)
    {
      g_autofree char *dir = ctu_make_tmp_dir ();
      g_autofree char *path = g_build_filename (dir, "old.leafscope", NULL);
      g_autofree char *model_1 = g_build_filename (dir, "old.models", "run-1.safetensors", NULL);
      g_autofree char *model_2 = g_build_filename (dir, "old.models", "run-2.safetensors", NULL);
      g_autofree char *sql = NULL;
      g_autofree char *stored = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(LeafCatalog) catalog = NULL;
      g_autoptr(LeafModelInfo) active = NULL;
      sqlite3 *db;

      _leaf_db_create_at_version (path, 2, &error);
      g_assert_no_error (error);
      db = ctu_sql_open (path);
      sql = g_strdup_printf ("INSERT INTO runs (id, config, status, started, host, pid) VALUES "
                             "(1, '{}', '%s', '2024-12-04T10:00:00Z', 'h', 1),"
                             "(2, '{}', 'cancelled', '2024-12-05T10:00:00Z', 'h', 1);"
                             "INSERT INTO models (id, run_id, path, sha256, classes, created) "
                             "VALUES (1, 1, '%s', '" SHA_A "', '[\"a\",\"b\"]', "
                             "'2024-12-04T11:00:00Z'),"
                             "(2, 2, '%s', '" SHA_A "', '[\"a\",\"b\"]', '2024-12-05T11:00:00Z');",
                             any_completed ? "completed" : "failed", model_1, model_2);
      ctu_sql_exec (db, sql);
      sqlite3_close (db);

      catalog = leaf_catalog_open (path, LEAF_CATALOG_OPEN_DEFAULT, &error);
      g_assert_no_error (error);
      active = leaf_catalog_get_active_model (catalog, &error);
      g_assert_no_error (error);
      g_assert_cmpint (active->id, ==, any_completed ? 1 : 2);
      g_assert_cmpstr (active->path, ==, any_completed ? model_1 : model_2);
      g_clear_object (&catalog);

      db = ctu_sql_open (path);
      stored = ctu_sql_text (db, "SELECT path FROM models WHERE id = 1");
      sqlite3_close (db);
      g_assert_cmpstr (stored, ==, "old.models/run-1.safetensors");
      leaf_test_remove_tree (dir);
    }
}

/* A copy of a model file whose metadata names its classes in the other order: the same
 * network, so its answers carry the other name. */
static void
write_with_classes_reversed (const char *from,
                             const char *to)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *header_text = NULL;
  g_autofree char *meta_text = NULL;
  g_autofree char *new_header = NULL;
  g_autoptr(JsonNode) header = NULL;
  g_autoptr(JsonNode) meta = NULL;
  g_autoptr(JsonArray) reversed = json_array_new ();
  g_autoptr(GString) out = g_string_new (NULL);
  JsonObject *metadata;
  JsonArray *names;
  gsize length = 0;
  guint64 size, new_size;

  g_assert_true (g_file_get_contents (from, &contents, &length, &error));
  memcpy (&size, contents, sizeof size);
  size = GUINT64_FROM_LE (size);
  header_text = g_strndup (contents + 8, size);
  header = json_from_string (header_text, &error);
  g_assert_no_error (error);
  metadata = json_object_get_object_member (json_node_get_object (header), "__metadata__");
  meta = json_from_string (json_object_get_string_member (metadata, "leafscope"), &error);
  g_assert_no_error (error);
  names = json_object_get_array_member (json_node_get_object (meta), "classes");
  for (guint i = json_array_get_length (names); i-- > 0;)
    json_array_add_string_element (reversed, json_array_get_string_element (names, i));
  json_object_set_array_member (json_node_get_object (meta), "classes",
                                json_array_ref (reversed));
  meta_text = json_to_string (meta, FALSE);
  json_object_set_string_member (metadata, "leafscope", meta_text);
  new_header = json_to_string (header, FALSE);

  /* The tensors' offsets count from the end of the header, whatever its length. */
  new_size = GUINT64_TO_LE ((guint64) strlen (new_header));
  g_string_append_len (out, (const char *) &new_size, sizeof new_size);
  g_string_append (out, new_header);
  g_string_append_len (out, contents + 8 + size, length - 8 - size);
  ctu_write_bytes (to, out->str, out->len);
}

/* Runs leafscope-cli and parses its output (the last line with --json), which must succeed. */
static JsonNode *
cli_json (const char *catalog,
          ...) G_GNUC_NULL_TERMINATED;

static JsonNode *
cli_json (const char *catalog,
          ...)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocessLauncher) launcher = ctu_cli_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                                  G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GSubprocess) process = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_auto(GStrv) lines = NULL;
  JsonNode *node;
  const char *arg;
  va_list va;
  guint n;

  g_ptr_array_add (args, g_strdup (ctu_cli_path ()));
  g_ptr_array_add (args, g_strdup ("--catalog"));
  g_ptr_array_add (args, g_strdup (catalog));
  va_start (va, catalog);
  while ((arg = va_arg (va, const char *)) != NULL)
    g_ptr_array_add (args, g_strdup (arg));
  va_end (va);
  g_ptr_array_add (args, NULL);
  process = g_subprocess_launcher_spawnv (launcher, (const char * const *) args->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  if (!g_subprocess_get_successful (process))
    g_error ("%s failed: %s", (const char *) args->pdata[3], err);
  /* An array comes whole; objects one a line, the last the one wanted. */
  lines = g_strsplit (g_strstrip (out), "\n", -1);
  n = g_strv_length (lines);
  g_assert_cmpuint (n, >, 0);
  node = json_from_string (out[0] == '[' ? out : lines[n - 1], &error);
  g_assert_no_error (error);
  return node;
}

/* The class predict gives the photo, with the catalog's active model. */
static char *
predicted_class (const char *catalog,
                 const char *photo)
{
  g_autoptr(JsonNode) result = cli_json (catalog, "predict", "--json", photo, NULL);
  JsonArray *top = json_object_get_array_member (json_node_get_object (result), "top");

  return g_strdup (json_object_get_string_member (json_array_get_object_element (top, 0),
                                                  "class"));
}

/* Through leafscope-cli, on real photos and weights: the first completed run's model is active,
 * predict follows `models use`, a copy of the catalog with its models folder predicts with its
 * own files, and removing the active model leaves predict saying how to choose one. */
static void
test_cli (void)
{
  const char *shared = g_getenv ("LEAFSCOPE_SHARED");
  const char *wanted[] = { "early_blight", "healthy" };
  g_autofree char *photos = g_build_filename (shared != NULL ? shared : "", "data",
                                              "tomato5-dev", NULL);
  g_autofree char *weights = g_build_filename (shared != NULL ? shared : "", "weights",
                                               "leafnet-b0.pth", NULL);
  g_autofree char *dir = NULL;
  g_autofree char *labelled = NULL;
  g_autofree char *catalog = NULL;
  g_autofree char *photo = NULL;
  g_autofree char *first_class = NULL;
  g_autofree char *copy_dir = NULL;
  g_autofree char *command = NULL;
  g_autofree char *elsewhere = NULL;
  g_autofree char *swapped = NULL;
  g_autofree char *models_dir = NULL;
  g_autofree char *models_away = NULL;
  g_autofree char *out = NULL;
  g_autoptr(JsonNode) summary = NULL;
  g_autoptr(JsonNode) list = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *object;
  JsonObject *first;

  if (ctu_cli_path () == NULL || shared == NULL || !g_file_test (photos, G_FILE_TEST_IS_DIR) ||
      !g_file_test (weights, G_FILE_TEST_IS_REGULAR))
    {
      g_test_skip ("needs leafscope-cli and the shared photos and weights");
      return;
    }
  dir = ctu_make_tmp_dir ();
  labelled = g_build_filename (dir, "labelled", NULL);
  catalog = g_build_filename (dir, "lab.leafscope", NULL);
  for (guint c = 0; c < G_N_ELEMENTS (wanted); c++)
    {
      g_autofree char *from = g_build_filename (photos, wanted[c], NULL);
      g_autofree char *to = g_build_filename (labelled, wanted[c], NULL);
      g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
      g_autoptr(GDir) listing = g_dir_open (from, 0, &error);
      const char *name;

      g_assert_no_error (error);
      while ((name = g_dir_read_name (listing)) != NULL)
        if (g_str_has_suffix (name, ".jpg"))
          g_ptr_array_add (names, g_strdup (name));
      g_ptr_array_sort (names, (GCompareFunc) g_strcmp0);
      g_assert_cmpint (g_mkdir_with_parents (to, 0755), ==, 0);
      for (guint i = 0; i < 6; i++)
        {
          g_autofree char *source = g_build_filename (from, names->pdata[i], NULL);
          g_autofree char *target = g_build_filename (to, names->pdata[i], NULL);
          g_autofree char *contents = NULL;
          gsize length = 0;

          g_assert_true (g_file_get_contents (source, &contents, &length, NULL));
          ctu_write_bytes (target, contents, length);
          if (photo == NULL)
            photo = g_strdup (target);
        }
    }

  g_assert_cmpint (ctu_run_cli (catalog, &out, NULL, "import", labelled, NULL), ==, 0);
  summary = cli_json (catalog, "train", "--weights", weights, "--head-epochs", "2",
                      "--finetune-epochs", "0", "--val-fraction", "0.4", "--json", NULL);
  object = json_node_get_object (summary);
  g_assert_true (json_object_get_boolean_member (object, "activated"));
  g_assert_true (g_str_has_prefix (json_object_get_string_member (object, "activation_note"),
                                   "Diagnose now uses Run 1"));
  g_clear_pointer (&list, json_node_unref);
  list = cli_json (catalog, "models", "list", "--json", NULL);
  g_assert_cmpuint (json_array_get_length (json_node_get_array (list)), ==, 1);
  first = json_array_get_object_element (json_node_get_array (list), 0);
  g_assert_true (json_object_get_boolean_member (first, "active"));
  g_assert_cmpstr (json_object_get_string_member (first, "run_status"), ==, "completed");
  g_assert_cmpstr (json_object_get_string_member (first, "path"), ==,
                   json_object_get_string_member (object, "model"));
  first_class = predicted_class (catalog, photo);

  /* A copy elsewhere predicts with its own model file, the original's being out of reach. */
  copy_dir = ctu_make_tmp_dir ();
  command = g_strdup_printf ("cp -R '%s/.' '%s'", dir, copy_dir);
  g_assert_cmpint (system (command), ==, 0);
  models_dir = g_build_filename (dir, "lab.models", NULL);
  models_away = g_build_filename (dir, "lab.models-away", NULL);
  g_assert_cmpint (g_rename (models_dir, models_away), ==, 0);
  {
    g_autofree char *copy_catalog = g_build_filename (copy_dir, "lab.leafscope", NULL);
    g_autofree char *in_copy = predicted_class (copy_catalog, photo);

    g_assert_cmpstr (in_copy, ==, first_class);
  }
  g_assert_cmpint (g_rename (models_away, models_dir), ==, 0);

  /* predict follows `models use`: the same network with its names reversed answers the
   * other class. */
  elsewhere = ctu_make_tmp_dir ();
  swapped = g_build_filename (elsewhere, "swapped.safetensors", NULL);
  write_with_classes_reversed (json_object_get_string_member (object, "model"), swapped);
  {
    g_autoptr(LeafCatalog) opened = leaf_catalog_open (catalog, LEAF_CATALOG_OPEN_DEFAULT, &error);
    g_autofree char *sha = ctu_sha256_of_file (swapped);
    const char *reversed[] = { wanted[1], wanted[0], NULL };

    g_assert_no_error (error);
    g_assert_cmpint (leaf_catalog_add_model (opened, 0, swapped, sha, reversed, NULL, &error), ==,
                     2);
  }
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (ctu_run_cli (catalog, &out, NULL, "models", "use", "2", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "Diagnose now uses model 2"));
  {
    g_autofree char *now = predicted_class (catalog, photo);

    g_assert_cmpstr (now, !=, first_class);
  }
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (ctu_run_cli (catalog, &out, NULL, "models", "rename", "2", "Reversed", NULL),
                   ==, 0);

  /* Removed, the active model leaves none; its file outside the models folder stays. */
  {
    g_autofree char *err = NULL;

    g_clear_pointer (&out, g_free);
    g_assert_cmpint (ctu_run_cli (catalog, &out, NULL, "models", "remove", "2", NULL), ==, 0);
    g_assert_nonnull (strstr (out, "Removed model 2: Reversed"));
    g_assert_true (g_file_test (swapped, G_FILE_TEST_IS_REGULAR));
    g_clear_pointer (&out, g_free);
    g_assert_cmpint (ctu_run_cli (catalog, &out, &err, "predict", photo, NULL), ==, 1);
    g_assert_nonnull (strstr (err, "models use ID"));
    g_clear_pointer (&err, g_free);
    g_clear_pointer (&out, g_free);
    g_assert_cmpint (ctu_run_cli (catalog, &out, &err, "models", "use", "7", NULL), ==, 1);
    g_assert_nonnull (strstr (err, "no model 7"));
  }
  leaf_test_remove_tree (elsewhere);
  leaf_test_remove_tree (copy_dir);
  leaf_test_remove_tree (dir);
}

int
main (int   argc,
      char *argv[])
{
  leaf_test_init (&argc, &argv);

#define ADD(path, func) \
  g_test_add ("/models/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

  ADD ("choose-active", test_choose_active);
  ADD ("settle-keeps-the-users-choice", test_settle_keeps_the_users_choice);
  ADD ("rename-and-describe", test_rename_and_describe);
  ADD ("remove", test_remove);
  ADD ("paths-travel", test_paths_travel);
  ADD ("relocate", test_relocate);
  g_test_add_func ("/models/migration-keeps-the-model", test_migration_keeps_the_model);
  g_test_add_func ("/models/cli", test_cli);

  return g_test_run ();
}
