/* test-models.c: the catalog's models: the active one, names, removal, paths that travel, and
 * the update of catalogs that had none of these
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "leaf-test.h"

#include <glib/gstdio.h>
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
  g_autofree char *paths[3] = { NULL };
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
                                               &error));
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

  return g_test_run ();
}
