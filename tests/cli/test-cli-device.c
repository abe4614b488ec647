/* test-cli-device.c: `leafscope-cli --device` and LEAFSCOPE_DEVICE: a device that is not there
 * is a clear message and a failed command, never a crash; the CPU works
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

#define NO_CUDA "This libtorch has no CUDA device (it was built without CUDA, or no GPU is visible)"

typedef struct
{
  char *dir;
  char *catalog;
  char *weights;
  char *photo;
} Fixture;

/* Runs leafscope-cli ARGS... with the variables of env ("NAME=VALUE", or "NAME" to unset; may
 * be NULL) and LEAFSCOPE_DEVICE unset unless env sets it; returns the exit status. */
static int
run_cli (const char * const *env,
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

  g_subprocess_launcher_unsetenv (launcher, "LEAFSCOPE_DEVICE");
  g_subprocess_launcher_setenv (launcher, "LC_ALL", "C.UTF-8", TRUE);
  g_subprocess_launcher_unsetenv (launcher, "LANGUAGE");
  for (guint i = 0; env != NULL && env[i] != NULL; i++)
    {
      g_auto(GStrv) pair = g_strsplit (env[i], "=", 2);

      if (pair[1] != NULL)
        g_subprocess_launcher_setenv (launcher, pair[0], pair[1], TRUE);
      else
        g_subprocess_launcher_unsetenv (launcher, pair[0]);
    }
  g_ptr_array_add (argv, (char *) ctu_cli_path ());
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);
  process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, out, err, &error);
  g_assert_no_error (error);
  status = g_subprocess_get_if_exited (process) ? g_subprocess_get_exit_status (process)
                                                : 128 + g_subprocess_get_term_sig (process);
  {
    g_autofree char *line = g_strjoinv (" ", (char **) args);

    g_test_message ("%s %s → %d\n%s%s", env != NULL && env[0] != NULL ? env[0] : "", line,
                    status, *out, *err);
  }
  return status;
}

/* A catalog, one photo, and the weights of a seeded random three-class network. */
static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  fixture->dir = ctu_make_tmp_dir ();
  fixture->catalog = g_build_filename (fixture->dir, "device.leafscope", NULL);
  fixture->weights = g_build_filename (fixture->dir, "three.safetensors", NULL);
  fixture->photo = g_build_filename (fixture->dir, "leaf.png", NULL);
  ctu_write_image (fixture->photo, "png", 40, 40, 1);

  leaf_test_write_seeded_weights (fixture->weights, 3, 3);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  leaf_test_remove_tree (fixture->dir);
  g_free (fixture->photo);
  g_free (fixture->weights);
  g_free (fixture->catalog);
  g_free (fixture->dir);
}

/* predict with the raw weights; device_option (may be NULL) comes first. */
static int
predict (Fixture            *fixture,
         const char * const *env,
         const char         *device_option,
         char              **out,
         char              **err)
{
  const char *args[] = { "--catalog", fixture->catalog, "predict", "--weights", fixture->weights,
                         fixture->photo, NULL, NULL };

  if (device_option != NULL)
    {
      /* "--device=NAME" before the catalog option, as global options may come in any order. */
      memmove (args + 1, args, 6 * sizeof (char *));
      args[0] = device_option;
      return run_cli (env, out, err, args);
    }
  return run_cli (env, out, err, args);
}

static gboolean
need_cli_without_cuda (void)
{
  if (ctu_cli_path () == NULL)
    {
      g_test_skip ("LEAFSCOPE_CLI is not set");
      return FALSE;
    }
  if (lt_cuda_device_count () > 0)
    {
      g_test_skip ("this libtorch has a CUDA device");
      return FALSE;
    }
  return TRUE;
}

static void
test_cuda_missing (Fixture       *fixture,
                   gconstpointer  data)
{
  const char *const options[] = { "--device=cuda", "--device=cuda:1" };

  if (!need_cli_without_cuda ())
    return;
  for (guint i = 0; i < G_N_ELEMENTS (options); i++)
    {
      g_autofree char *out = NULL;
      g_autofree char *err = NULL;

      g_assert_cmpint (predict (fixture, NULL, options[i], &out, &err), ==, 1);
      g_assert_cmpstr (out, ==, "");
      g_assert_cmpstr (err, ==, "leafscope-cli: " NO_CUDA "; use --device cpu\n");
    }
}

static void
test_cpu (Fixture       *fixture,
          gconstpointer  data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *out_default = NULL;
  g_autofree char *err_default = NULL;

  if (ctu_cli_path () == NULL)
    {
      g_test_skip ("LEAFSCOPE_CLI is not set");
      return;
    }
  g_assert_cmpint (predict (fixture, NULL, "--device=cpu", &out, &err), ==, 0);
  g_assert_true (g_str_has_prefix (out, fixture->photo));
  /* Without a GPU, the default (auto) is the CPU, with the same answer. */
  g_assert_cmpint (predict (fixture, NULL, NULL, &out_default, &err_default), ==, 0);
  if (lt_cuda_device_count () == 0)
    g_assert_cmpstr (out_default, ==, out);
}

/* A name that is no device is a usage error, found before the model library loads. */
static void
test_bad_name (Fixture       *fixture,
               gconstpointer  data)
{
  const char *const bad[][4] = {
    { "--device", "gpu7", "stats", NULL },
    { "--device=gpu7", "predict", "x.png", NULL },
    { "--device=", "stats", NULL, NULL },
  };

  if (ctu_cli_path () == NULL)
    {
      g_test_skip ("LEAFSCOPE_CLI is not set");
      return;
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *out = NULL;
      g_autofree char *err = NULL;
      g_autofree char *expected = g_strdup_printf ("leafscope-cli: --device takes auto, cpu, "
                                                   "cuda or cuda:N, not “%s”\n",
                                                   i == 0 ? "gpu7" : bad[i][0] + 9);

      g_assert_cmpint (run_cli (NULL, &out, &err, bad[i]), ==, 2);
      g_assert_cmpstr (err, ==, expected);
    }
}

/* LEAFSCOPE_DEVICE chooses when --device does not. */
static void
test_environment (Fixture       *fixture,
                  gconstpointer  data)
{
  const char *const cuda[] = { "LEAFSCOPE_DEVICE=cuda", NULL };
  const char *const cpu[] = { "LEAFSCOPE_DEVICE=cpu", NULL };
  const char *const bad[] = { "LEAFSCOPE_DEVICE=gpu7", NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  if (!need_cli_without_cuda ())
    return;
  g_assert_cmpint (predict (fixture, cuda, NULL, &out, &err), ==, 1);
  g_assert_cmpstr (err, ==, "leafscope-cli: " NO_CUDA "; set LEAFSCOPE_DEVICE to cpu\n");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (predict (fixture, bad, NULL, &out, &err), ==, 1);
  g_assert_cmpstr (err, ==, "leafscope-cli: LEAFSCOPE_DEVICE is “gpu7”, which is not a device: "
                            "use auto, cpu, cuda or cuda:N\n");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (predict (fixture, cpu, NULL, &out, &err), ==, 0);
  g_assert_true (g_str_has_prefix (out, fixture->photo));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* The command line comes first. */
  g_assert_cmpint (predict (fixture, cuda, "--device=cpu", &out, &err), ==, 0);
  g_assert_true (g_str_has_prefix (out, fixture->photo));
}

/* Commands that never compute work whatever the device. */
static void
test_not_needed (Fixture       *fixture,
                 gconstpointer  data)
{
  const char *const init[] = { "--catalog", fixture->catalog, "init", NULL };
  const char *const args[] = { "--device", "cuda", "--catalog", fixture->catalog, "models",
                               "list", NULL };
  g_autofree char *init_out = NULL;
  g_autofree char *init_err = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  if (!need_cli_without_cuda ())
    return;
  g_assert_cmpint (run_cli (NULL, &init_out, &init_err, init), ==, 0);
  g_assert_cmpint (run_cli (NULL, &out, &err, args), ==, 0);
  g_assert_cmpstr (err, ==, "");
}

int
main (int   argc,
      char *argv[])
{
  leaf_test_init (&argc, &argv);

  g_test_add ("/cli/device/cuda-missing", Fixture, NULL, fixture_set_up, test_cuda_missing,
              fixture_tear_down);
  g_test_add ("/cli/device/cpu", Fixture, NULL, fixture_set_up, test_cpu, fixture_tear_down);
  g_test_add ("/cli/device/bad-name", Fixture, NULL, fixture_set_up, test_bad_name,
              fixture_tear_down);
  g_test_add ("/cli/device/environment", Fixture, NULL, fixture_set_up, test_environment,
              fixture_tear_down);
  g_test_add ("/cli/device/not-needed", Fixture, NULL, fixture_set_up, test_not_needed,
              fixture_tear_down);

  return g_test_run ();
}
