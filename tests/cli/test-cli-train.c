/* test-cli-train.c: `leafscope-cli train` and `predict` as a script or a log file sees them
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "leaf-test.h"
#include "leaf-test-weights.h"

#include <gio/gio.h>
#include <string.h>

#include "catalog-test-util.h"
#include "leaf-engine.h"
#include "lt.h"

typedef struct
{
  char *dir;
  char *catalog;
  char *weights;
} Fixture;

/* Runs leafscope-cli --catalog CATALOG ARGS... in folder cwd, its outputs pipes (as in a log
 * file or a script); returns the exit status. */
static int
run_cli_in (Fixture            *fixture,
            const char         *cwd,
            char              **out,
            char              **err,
            const char * const *args)
{
  g_autoptr(GSubprocessLauncher) launcher =
    ctu_cli_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  int status;

  g_ptr_array_add (argv, (char *) ctu_cli_path ());
  g_ptr_array_add (argv, (char *) "--catalog");
  g_ptr_array_add (argv, fixture->catalog);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);
  g_subprocess_launcher_set_cwd (launcher, cwd);
  process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, out, err, &error);
  g_assert_no_error (error);
  status = g_subprocess_get_if_exited (process) ? g_subprocess_get_exit_status (process)
                                                : 128 + g_subprocess_get_term_sig (process);
  g_test_message ("%s → %d\n%s%s", args[0], status, *out, *err);
  return status;
}

/* Two classes of four photos each, imported, and base weights of a seeded random network. */
static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *photos = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  const char *import_args[] = { "import", NULL, NULL };

  fixture->dir = ctu_make_tmp_dir ();
  fixture->catalog = g_build_filename (fixture->dir, "train.leafscope", NULL);
  fixture->weights = g_build_filename (fixture->dir, "base.safetensors", NULL);
  photos = g_build_filename (fixture->dir, "photos", NULL);
  for (guint i = 0; i < 8; i++)
    {
      g_autofree char *path = g_strdup_printf ("%s/%s/leaf-%u.png", photos,
                                               i < 4 ? "healthy" : "blight", i);
      ctu_write_image (path, "png", 40, 40, i);
    }
  if (ctu_cli_path () == NULL)
    return;
  import_args[1] = photos;
  g_assert_cmpint (run_cli_in (fixture, fixture->dir, &out, &err, import_args), ==, 0);

  leaf_test_write_seeded_weights (fixture->weights, 7, 10);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  leaf_test_remove_tree (fixture->dir);
  g_free (fixture->weights);
  g_free (fixture->catalog);
  g_free (fixture->dir);
}

/* With its output not a terminal, train still says how the feature pass goes: plain lines
 * naming the phase and the share done, no carriage returns; then predict reads a photo whose
 * name starts with “-” after “--”. */
static void
test_train_progress_in_a_pipe (Fixture       *fixture,
                               gconstpointer  data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *predicted = NULL;
  g_autofree char *predict_err = NULL;
  g_autofree char *dashed = g_build_filename (fixture->dir, "-leaf.png", NULL);
  g_auto(GStrv) lines = NULL;
  const char *train_args[] = { "train", "--weights", fixture->weights, "--image-size", "32",
                               "--batch-size", "2", "--views", "1", "--head-epochs", "1",
                               "--finetune-epochs", "0", NULL };
  const char *predict_args[] = { "predict", "--", "-leaf.png", NULL };
  guint n_extract = 0;
  gboolean finished = FALSE;

  if (ctu_cli_path () == NULL)
    {
      g_test_skip ("LEAFSCOPE_CLI is not set");
      return;
    }
  g_assert_cmpint (run_cli_in (fixture, fixture->dir, &out, &err, train_args), ==, 0);
  g_assert_null (strchr (err, '\r'));
  lines = g_strsplit (err, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], "extract") && strchr (lines[i], '%') != NULL)
      {
        n_extract++;
        finished |= strstr (lines[i], "100%") != NULL;
      }
  /* The first report of the pass and its end are always printed; what lies between, every few
   * seconds. */
  g_assert_cmpuint (n_extract, >=, 2);
  g_assert_true (finished);

  ctu_write_image (dashed, "png", 40, 40, 3);
  g_assert_cmpint (run_cli_in (fixture, fixture->dir, &predicted, &predict_err, predict_args), ==,
                   0);
  g_assert_true (g_str_has_prefix (predicted, "-leaf.png\n"));
}

int
main (int   argc,
      char *argv[])
{
  leaf_test_init (&argc, &argv);

  g_test_add ("/cli/train/progress-in-a-pipe", Fixture, NULL, fixture_set_up,
              test_train_progress_in_a_pipe, fixture_tear_down);

  return g_test_run ();
}
