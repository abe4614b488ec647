/* test-dist.c: how a process learns its place in a distributed run from its environment
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "leaf-test.h"

#include <string.h>

#include "leaf-dist.h"
#include "leaf-error.h"

static const char *variables[] = {
  "RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "LEAFSCOPE_DIST_TIMEOUT",
  "TORCHELASTIC_USE_AGENT_STORE", "TORCHELASTIC_RESTART_COUNT",
};

static void
clear_environment (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (variables); i++)
    g_unsetenv (variables[i]);
}

/* Nothing set, or a world of one: an ordinary run. */
static void
test_dist_ordinary (void)
{
  g_autoptr(GError) error = NULL;
  LeafDistConfig config;

  clear_environment ();
  g_assert_true (leaf_dist_config_from_environment (&config, &error));
  g_assert_no_error (error);
  g_assert_cmpint (config.world_size, ==, 1);
  g_assert_null (config.master_addr);
  leaf_dist_config_clear (&config);

  g_setenv ("WORLD_SIZE", "1", TRUE);
  g_assert_true (leaf_dist_config_from_environment (&config, &error));
  g_assert_cmpint (config.world_size, ==, 1);
  leaf_dist_config_clear (&config);
}

/* What torchrun sets for the second of four processes; PyTorch 2's agent store. */
static void
test_dist_torchrun (void)
{
  g_autoptr(GError) error = NULL;
  LeafDistConfig config, copy;

  clear_environment ();
  g_setenv ("RANK", "1", TRUE);
  g_setenv ("WORLD_SIZE", "4", TRUE);
  g_setenv ("LOCAL_RANK", "1", TRUE);
  g_setenv ("MASTER_ADDR", "node1.example", TRUE);
  g_setenv ("MASTER_PORT", "29501", TRUE);
  g_setenv ("LEAFSCOPE_DIST_TIMEOUT", "90.5", TRUE);
  g_assert_true (leaf_dist_config_from_environment (&config, &error));
  g_assert_no_error (error);
  g_assert_cmpint (config.rank, ==, 1);
  g_assert_cmpint (config.world_size, ==, 4);
  g_assert_cmpint (config.local_rank, ==, 1);
  g_assert_cmpstr (config.master_addr, ==, "node1.example");
  g_assert_cmpint (config.master_port, ==, 29501);
  g_assert_cmpfloat (config.timeout_seconds, ==, 90.5);
  g_assert_null (config.agent_prefix);
  leaf_dist_config_clear (&config);

  g_setenv ("TORCHELASTIC_USE_AGENT_STORE", "True", TRUE);
  g_setenv ("TORCHELASTIC_RESTART_COUNT", "2", TRUE);
  g_assert_true (leaf_dist_config_from_environment (&config, &error));
  g_assert_cmpstr (config.agent_prefix, ==, "/worker/attempt_2");
  leaf_dist_config_copy (&copy, &config);
  leaf_dist_config_clear (&config);
  g_assert_cmpstr (copy.agent_prefix, ==, "/worker/attempt_2");
  g_assert_cmpstr (copy.master_addr, ==, "node1.example");
  leaf_dist_config_clear (&copy);
}

/* Values that cannot be right name their variable. */
static void
test_dist_bad_values (void)
{
  struct { const char *name, *value, *expected; } cases[] = {
    { "WORLD_SIZE", "two", "WORLD_SIZE is “two”" },
    { "RANK", "2", "RANK is “2”; it must be a whole number from 0 to 1" },
    { "MASTER_PORT", "70000", "MASTER_PORT is “70000”" },
    { "LEAFSCOPE_DIST_TIMEOUT", "-3", "LEAFSCOPE_DIST_TIMEOUT is “-3”" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      LeafDistConfig config;

      clear_environment ();
      g_setenv ("WORLD_SIZE", "2", TRUE);
      g_setenv ("RANK", "0", TRUE);
      g_setenv (cases[i].name, cases[i].value, TRUE);
      g_assert_false (leaf_dist_config_from_environment (&config, &error));
      g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID);
      g_assert_nonnull (strstr (error->message, cases[i].expected));
      leaf_dist_config_clear (&config);
    }

  {
    g_autoptr(GError) error = NULL;
    LeafDistConfig config;

    clear_environment ();
    g_setenv ("WORLD_SIZE", "2", TRUE);
    g_assert_false (leaf_dist_config_from_environment (&config, &error));
    g_assert_nonnull (strstr (error->message, "RANK is not"));
    leaf_dist_config_clear (&config);
  }
}

/* A machine with several GPUs gives each local rank its own; an explicit choice stands. */
static void
test_dist_device_for_local_rank (void)
{
  const struct { const char *device; int local_rank, n_cuda; const char *expected; } cases[] = {
    { "auto", 1, 4, "cuda:1" },
    { "cuda", 5, 4, "cuda:1" },
    { "cuda", 0, 2, "cuda:0" },
    { "auto", 3, 1, "auto" },      /* one GPU: every rank shares it */
    { "auto", 3, 0, "auto" },      /* none: the CPU */
    { "cpu", 1, 4, "cpu" },
    { "cuda:3", 1, 4, "cuda:3" },
    { "cuda", -1, 4, "cuda" },     /* not a distributed run */
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *device = leaf_dist_device_for_local_rank (cases[i].device,
                                                                 cases[i].local_rank,
                                                                 cases[i].n_cuda);
      g_assert_cmpstr (device, ==, cases[i].expected);
    }
}

int
main (int   argc,
      char *argv[])
{
  leaf_test_init (&argc, &argv);

  g_test_add_func ("/dist/ordinary", test_dist_ordinary);
  g_test_add_func ("/dist/torchrun", test_dist_torchrun);
  g_test_add_func ("/dist/bad-values", test_dist_bad_values);
  g_test_add_func ("/dist/device-for-local-rank", test_dist_device_for_local_rank);

  return g_test_run ();
}
