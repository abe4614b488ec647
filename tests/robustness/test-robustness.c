/* test-robustness.c: SIGKILL during training and model saving, a full disk, a read-only catalog
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Kills during import and labelling are tests/catalog/test-durability.c; this covers what a
 * training run writes (the run rows, the models folder) and what happens when writes fail.
 */

#include "config.h"

#include "leaf-test.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "catalog-test-util.h"
#include "leaf-catalog.h"
#include "leaf-engine.h"
#include "leaf-predictor.h"
#include "lt.h"

#define TRAIN_ATTEMPTS 20
#define SEED        20261126
#define NOBODY      65534

static const char *const classes[] = { "red", "green" };

typedef struct
{
  char *dir;
  char *photos;
  char *catalog;
  char *models;    /* the folder the trainer writes models into, beside the catalog */
  char *weights;
} Setup;

static void
setup_free (Setup *setup)
{
  leaf_test_remove_tree (setup->dir);
  g_free (setup->dir);
  g_free (setup->photos);
  g_free (setup->catalog);
  g_free (setup->models);
  g_free (setup->weights);
  g_free (setup);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Setup, setup_free)

/* An ImageFolder tree of photos_per_class photos per class and, when with_weights, base
 * weights from a seeded random network. The catalog is not created yet. */
static Setup *
setup_new (guint    photos_per_class,
           gboolean with_weights)
{
  Setup *setup = g_new0 (Setup, 1);

  setup->dir = ctu_make_tmp_dir ();
  setup->photos = g_build_filename (setup->dir, "photos", NULL);
  setup->catalog = g_build_filename (setup->dir, "robust.leafscope", NULL);
  setup->models = g_build_filename (setup->dir, "robust.models", NULL);
  for (guint c = 0; c < G_N_ELEMENTS (classes); c++)
    {
      g_autofree char *folder = g_build_filename (setup->photos, classes[c], NULL);
      g_assert_cmpint (g_mkdir_with_parents (folder, 0755), ==, 0);
      for (guint i = 0; i < photos_per_class; i++)
        {
          g_autofree char *name = g_strdup_printf ("%s-%03u.png", classes[c], i);
          g_autofree char *path = g_build_filename (folder, name, NULL);
          leaf_test_write_class_photo (path, c, c * 1000 + i, 72, 72);
        }
    }
  if (with_weights)
    {
      g_autoptr(GError) error = NULL;
      LtModel *model = NULL;
      char *msg = NULL;

      g_assert_true (leaf_engine_init_torch (0, &error));
      g_assert_no_error (error);
      lt_manual_seed (7);
      g_assert_cmpint (lt_model_new (10, &model, &msg), ==, LT_OK);
      setup->weights = g_build_filename (setup->dir, "base.safetensors", NULL);
      g_assert_cmpint (lt_model_save (model, setup->weights, NULL, &msg), ==, LT_OK);
      lt_model_free (model);
    }
  return setup;
}

static void
assert_sound (const char *catalog)
{
  sqlite3 *db = ctu_sql_open (catalog);
  g_autofree char *integrity = ctu_sql_text (db, "PRAGMA integrity_check");

  g_assert_cmpstr (integrity, ==, "ok");
  g_assert_cmpint (ctu_sql_int (db, "SELECT count(*) FROM pragma_foreign_key_check"), ==, 0);
  sqlite3_close (db);
}

static gint64
sql_int (const char *catalog,
         const char *sql)
{
  sqlite3 *db = ctu_sql_open (catalog);
  gint64 value = ctu_sql_int (db, sql);

  sqlite3_close (db);
  return value;
}

/* Every file in the models folder is a temporary one (the writer's "<name>.tmp-<pid>-<random>",
 * never loaded by anyone) or a complete model that loads; every model the catalog lists is
 * there. Returns the number of complete models. */
static guint
check_models (Setup *setup)
{
  g_autoptr(GDir) dir = g_dir_open (setup->models, 0, NULL);
  const char *name;
  guint complete = 0;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (setup->models, name, NULL);
      g_autoptr(LeafPredictor) predictor = NULL;
      g_autoptr(GError) error = NULL;

      if (strstr (name, ".tmp-") != NULL)
        continue;
      predictor = leaf_predictor_new_from_model (path, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (leaf_predictor_get_n_classes (predictor), ==, G_N_ELEMENTS (classes));
      complete++;
    }
  {
    sqlite3 *db = ctu_sql_open (setup->catalog);
    sqlite3_stmt *stmt = NULL;
    g_autofree char *folder = g_path_get_dirname (setup->catalog);

    g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT path FROM models", -1, &stmt, NULL), ==,
                     SQLITE_OK);
    /* Paths inside the catalog's folder are kept relative to it. */
    while (sqlite3_step (stmt) == SQLITE_ROW)
      {
        const char *stored = (const char *) sqlite3_column_text (stmt, 0);
        g_autofree char *path = g_path_is_absolute (stored)
                                  ? g_strdup (stored) : g_build_filename (folder, stored, NULL);

        g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
      }
    sqlite3_finalize (stmt);
    sqlite3_close (db);
  }
  return complete;
}

static GSubprocess *
spawn_train (Setup *setup)
{
  g_autoptr(GError) error = NULL;
  GSubprocess *process =
    g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error,
                      ctu_cli_path (), "--catalog", setup->catalog, "train",
                      "--weights", setup->weights, "--image-size", "64", "--batch-size", "6",
                      "--head-epochs", "3", "--finetune-epochs", "2", "--views", "1",
                      "--json", NULL);

  g_assert_no_error (error);
  return process;
}

/* Reads the run's JSON events; with kill_after > 0, kills the CLI after that many lines, and
 * with rand a random few milliseconds more (so that the kill lands inside whatever follows the
 * event: a step, an evaluation, a model being written). Returns the lines read. */
static GPtrArray *
watch_train (GSubprocess *process,
             guint        kill_after,
             GRand       *rand)
{
  g_autoptr(GDataInputStream) events =
    g_data_input_stream_new (g_subprocess_get_stdout_pipe (process));
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  char *line;

  while ((line = g_data_input_stream_read_line_utf8 (events, NULL, NULL, &error)) != NULL)
    {
      g_ptr_array_add (lines, line);
      if (lines->len == kill_after)
        {
          if (rand != NULL)
            g_usleep (g_rand_int_range (rand, 0, 40000));
          g_subprocess_force_exit (process);
        }
    }
  g_assert_no_error (error);
  g_subprocess_wait (process, NULL, &error);
  g_assert_no_error (error);
  return g_steal_pointer (&lines);
}

/* The first event of a run is its prepare phase, and already carries the id of the run's
 * row: returns that id. */
static gint64
first_event_run_id (GPtrArray *lines)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *event;

  g_assert_cmpuint (lines->len, >, 0);
  json_parser_load_from_data (parser, lines->pdata[0], -1, &error);
  g_assert_no_error (error);
  event = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (event, "event"), ==, "phase");
  g_assert_cmpstr (json_object_get_string_member (event, "phase"), ==, "prepare");
  g_assert_cmpint (json_object_get_int_member (event, "run_id"), >, 0);
  return json_object_get_int_member (event, "run_id");
}

static char *
run_status (const char *catalog,
            gint64      run_id)
{
  sqlite3 *db = ctu_sql_open (catalog);
  g_autofree char *sql = g_strdup_printf ("SELECT status FROM runs WHERE id = %" G_GINT64_FORMAT,
                                          run_id);
  char *status = ctu_sql_text (db, sql);

  sqlite3_close (db);
  return status;
}

/* Kills the CLI at random points of a run. Each test has its own cache folder (a warm or cold
 * feature cache changes how many events a run prints), and nothing asserted depends on where a
 * kill lands: a kill can come after the run ended, or the run can end before it. */
static void
test_kill_training (void)
{
  g_autoptr(Setup) setup = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (SEED);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  guint full_lines, kills = 0;

  if (ctu_cli_path () == NULL)
    {
      g_test_skip ("LEAFSCOPE_CLI is not set");
      return;
    }
  setup = setup_new (8, TRUE);
  g_assert_cmpint (ctu_run_cli (setup->catalog, &out, &err, "init", NULL), ==, 0);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (ctu_run_cli (setup->catalog, &out, &err, "import", setup->photos, NULL), ==, 0);

  /* One whole run tells how many events a run prints, and must leave one good model. */
  {
    g_autoptr(GSubprocess) process = spawn_train (setup);
    g_autoptr(GPtrArray) lines = watch_train (process, 0, NULL);

    g_assert_true (g_subprocess_get_if_exited (process));
    g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 0);
    g_assert_cmpint (first_event_run_id (lines), ==, 1);
    g_assert_cmpuint (check_models (setup), ==, 1);
    g_assert_cmpint (sql_int (setup->catalog, "SELECT count(*) FROM runs "
                                              "WHERE status = 'completed'"), ==, 1);
    full_lines = lines->len;
  }
  g_assert_cmpuint (full_lines, >, 5);

  for (guint attempt = 1; attempt <= TRAIN_ATTEMPTS; attempt++)
    {
      g_autoptr(GSubprocess) process = spawn_train (setup);
      /* The first kill lands right after the first event, which the run's row precedes. */
      guint kill_after = attempt == 1 ? 1 : g_rand_int_range (rand, 1, full_lines);
      g_autoptr(GPtrArray) lines = watch_train (process, kill_after, attempt == 1 ? NULL : rand);
      gint64 run_id = first_event_run_id (lines);
      gboolean killed = g_subprocess_get_if_signaled (process);
      g_autofree char *status = NULL;

      if (killed)
        {
          g_assert_cmpint (g_subprocess_get_term_sig (process), ==, SIGKILL);
          kills++;
        }
      else
        {
          g_assert_true (g_subprocess_get_if_exited (process));
          g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 0);
        }

      assert_sound (setup->catalog);
      /* Reopening the catalog marks a killed run interrupted, in the file itself. */
      {
        g_autoptr(GError) error = NULL;
        g_autoptr(LeafCatalog) catalog =
          leaf_catalog_open (setup->catalog, LEAF_CATALOG_OPEN_DEFAULT, &error);
        g_assert_no_error (error);
        g_assert_nonnull (catalog);
      }
      assert_sound (setup->catalog);

      /* Every run has its row, this one's is the newest, and none is left running. */
      g_assert_cmpint (sql_int (setup->catalog, "SELECT count(*) FROM runs"), ==, 1 + attempt);
      g_assert_cmpint (sql_int (setup->catalog, "SELECT max(id) FROM runs"), ==, run_id);
      g_assert_cmpint (sql_int (setup->catalog, "SELECT count(*) FROM runs WHERE status NOT IN "
                                                "('completed', 'interrupted')"), ==, 0);
      status = run_status (setup->catalog, run_id);
      /* A kill may land after the run ended and before the process exited. */
      if (!killed)
        g_assert_cmpstr (status, ==, "completed");
      /* A completed run always has its model, and every model listed is there and loads. */
      g_assert_cmpint (sql_int (setup->catalog, "SELECT count(*) FROM runs r WHERE status = "
                                                "'completed' AND NOT EXISTS (SELECT 1 FROM "
                                                "models m WHERE m.run_id = r.id)"), ==, 0);
      g_test_message ("run %" G_GINT64_FORMAT " %s after %u of %u events (%u read): %s, "
                      "%u complete models", run_id, killed ? "killed" : "not killed",
                      kill_after, full_lines, lines->len, status, check_models (setup));
    }
  /* The first attempt is killed while it prepares, long before its run could end. */
  g_assert_cmpuint (kills, >, 0);
}

typedef struct
{
  rlim_t max_file_size;  /* 0: no limit */
  gboolean as_nobody;
} ChildLimits;

/* Runs in the forked child before exec: only async-signal-safe calls. */
static void
limit_child (gpointer data)
{
  const ChildLimits *limits = data;

  if (limits->max_file_size > 0)
    {
      struct rlimit limit = { limits->max_file_size, limits->max_file_size };
      /* A write past the limit then fails with EFBIG, as on a full disk, instead of killing. */
      signal (SIGXFSZ, SIG_IGN);
      if (setrlimit (RLIMIT_FSIZE, &limit) != 0)
        _exit (125);
    }
  if (limits->as_nobody && (setgid (NOBODY) != 0 || setuid (NOBODY) != 0))
    _exit (125);
}

/* Runs leafscope-cli --catalog CATALOG ARGS under limits; returns the exit status, or -1 when
 * a signal ended it, and the standard error. */
static int
run_limited (const char          *catalog,
             const ChildLimits   *limits,
             char               **err,
             const char * const  *args)
{
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;

  g_ptr_array_add (argv, (char *) ctu_cli_path ());
  g_ptr_array_add (argv, (char *) "--catalog");
  g_ptr_array_add (argv, (char *) catalog);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);
  g_subprocess_launcher_set_child_setup (launcher, limit_child, (gpointer) limits, NULL);
  process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, NULL, err, &error);
  g_assert_no_error (error);
  g_test_message ("leafscope-cli %s: %s", args[0], *err);
  return g_subprocess_get_if_exited (process) ? g_subprocess_get_exit_status (process) : -1;
}

static gint64
file_size (const char *path)
{
  GStatBuf st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return st.st_size;
}

/* An import that runs out of room stops with a message and leaves the catalog with what it
 * had committed; the same import with room then completes it. */
static void
test_full_disk (void)
{
  g_autoptr(Setup) setup = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  const char *import[] = { "import", "--batch-size", "10", NULL, NULL };
  ChildLimits limits = { 0, FALSE };
  gint64 before, after;
  int status;

  if (ctu_cli_path () == NULL)
    {
      g_test_skip ("LEAFSCOPE_CLI is not set");
      return;
    }
  setup = setup_new (400, FALSE);
  import[3] = setup->photos;
  g_assert_cmpint (ctu_run_cli (setup->catalog, &out, &err, "init", NULL), ==, 0);
  before = sql_int (setup->catalog, "SELECT count(*) FROM images");

  /* Room for a few transactions, not for 800 images. */
  limits.max_file_size = file_size (setup->catalog) + 48 * 1024;
  g_clear_pointer (&err, g_free);
  status = run_limited (setup->catalog, &limits, &err, import);
  g_assert_cmpint (status, >, 0);
  g_assert_nonnull (strstr (err, "robust.leafscope"));
  assert_sound (setup->catalog);
  after = sql_int (setup->catalog, "SELECT count(*) FROM images");
  g_assert_cmpint (after, >=, before);
  g_assert_cmpint (after, <, 800);
  /* Every image that made it has its folder's label. */
  g_assert_cmpint (sql_int (setup->catalog, "SELECT count(*) FROM images i LEFT JOIN labels l "
                                            "ON l.image_id = i.id WHERE l.image_id IS NULL"),
                   ==, 0);

  limits.max_file_size = 0;
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_limited (setup->catalog, &limits, &err, import), ==, 0);
  assert_sound (setup->catalog);
  g_assert_cmpint (sql_int (setup->catalog, "SELECT count(*) FROM images"), ==, 800);
}

/* A disk that fills up while the model is written: the run fails with the reason the model
 * library gives (every such failure used to say "unknown error in the model library"), the
 * run's row keeps it, and the catalog stays sound. */
static void
test_full_disk_saving_model (void)
{
  g_autoptr(Setup) setup = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *message = NULL;
  const char *train[] = { "train", "--weights", NULL, "--image-size", "64", "--batch-size", "6",
                          "--head-epochs", "1", "--finetune-epochs", "1", "--views", "1", NULL };
  /* Room for the catalog and the feature cache, not for a 16 MB model. */
  ChildLimits limits = { 4 << 20, FALSE };

  if (ctu_cli_path () == NULL)
    {
      g_test_skip ("LEAFSCOPE_CLI is not set");
      return;
    }
  setup = setup_new (8, TRUE);
  train[2] = setup->weights;
  g_assert_cmpint (ctu_run_cli (setup->catalog, &out, &err, "init", NULL), ==, 0);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (ctu_run_cli (setup->catalog, &out, &err, "import", setup->photos, NULL), ==, 0);

  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_limited (setup->catalog, &limits, &err, train), ==, 1);
  g_assert_nonnull (strstr (err, "robust.models/run-1.safetensors"));
  g_assert_nonnull (strstr (err, "cannot write"));
  g_assert_nonnull (strstr (err, "free some disk space"));
  g_assert_null (strstr (err, "unknown error"));

  assert_sound (setup->catalog);
  g_assert_cmpuint (check_models (setup), ==, 0);
  g_assert_cmpint (sql_int (setup->catalog, "SELECT count(*) FROM models"), ==, 0);
  g_assert_cmpint (sql_int (setup->catalog, "SELECT count(*) FROM runs WHERE status = 'failed'"),
                   ==, 1);
  {
    sqlite3 *db = ctu_sql_open (setup->catalog);
    message = ctu_sql_text (db, "SELECT message FROM runs");
    sqlite3_close (db);
  }
  g_assert_nonnull (strstr (message, "cannot write"));
}

/* A catalog its user may not write: a command that writes fails with a message naming it and
 * changes nothing. Root writes anything, so as root the command runs as nobody. */
static void
test_read_only_catalog (void)
{
  g_autoptr(Setup) setup = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *sha_before = NULL;
  g_autofree char *photo = NULL;
  ChildLimits limits = { 0, getuid () == 0 };
  const char *label[] = { "label", NULL, "green", NULL };

  if (ctu_cli_path () == NULL)
    {
      g_test_skip ("LEAFSCOPE_CLI is not set");
      return;
    }
  setup = setup_new (3, FALSE);
  g_assert_cmpint (ctu_run_cli (setup->catalog, &out, &err, "init", NULL), ==, 0);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (ctu_run_cli (setup->catalog, &out, &err, "import", setup->photos, NULL), ==, 0);
  photo = g_build_filename (setup->photos, "red", "red-000.png", NULL);
  label[1] = photo;
  /* A photo gone since the import: reading commands say so without recording it (they used to
   * try, and failed with "attempt to write a readonly database"). */
  {
    g_autofree char *gone = g_build_filename (setup->photos, "red", "red-001.png", NULL);

    g_assert_cmpint (g_unlink (gone), ==, 0);
  }

  /* The folder stays listable (nobody must reach the files), the catalog itself is read-only. */
  g_assert_cmpint (g_chmod (setup->dir, 0555), ==, 0);
  g_assert_cmpint (g_chmod (setup->catalog, 0444), ==, 0);
  sha_before = ctu_sha256_of_file (setup->catalog);

  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_limited (setup->catalog, &limits, &err, label), >, 0);
  g_assert_nonnull (strstr (err, "robust.leafscope"));
  /* Reading still works: the catalog opens read-only. */
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (limits.as_nobody ? ctu_run_cli_as_nobody (setup->catalog, &out, &err, "stats", NULL)
                                    : ctu_run_cli (setup->catalog, &out, &err, "stats", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "Missing:   1"));

  g_assert_cmpint (g_chmod (setup->dir, 0755), ==, 0);
  g_assert_cmpint (g_chmod (setup->catalog, 0644), ==, 0);
  {
    g_autofree char *sha_after = ctu_sha256_of_file (setup->catalog);
    g_assert_cmpstr (sha_after, ==, sha_before);
  }
  assert_sound (setup->catalog);
  g_assert_cmpint (sql_int (setup->catalog, "SELECT count(*) FROM labels l JOIN classes c "
                                            "ON c.id = l.class_id WHERE c.name = 'green'"), ==, 3);
}

int
main (int    argc,
      char **argv)
{
  /* Each test gets its own home, cache, data and configuration folders, which the CLI it runs
   * inherits: a feature cache left by an earlier run never changes what a test sees. */
  leaf_test_init (&argc, &argv);
  g_test_add_func ("/robustness/kill-during-training", test_kill_training);
  g_test_add_func ("/robustness/full-disk", test_full_disk);
  g_test_add_func ("/robustness/full-disk-saving-model", test_full_disk_saving_model);
  g_test_add_func ("/robustness/read-only-catalog", test_read_only_catalog);
  return g_test_run ();
}
