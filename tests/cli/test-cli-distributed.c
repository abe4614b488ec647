/* test-cli-distributed.c: `leafscope-cli train` as two processes of a data-parallel run over
 * the loopback address, started with the variables torchrun sets
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "leaf-test.h"
#include "leaf-test-weights.h"

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "catalog-test-util.h"
#include "leaf-engine.h"
#include "lt-dist.h"
#include "lt.h"

/* Largest difference allowed between a parameter (or a logit) of the model two processes
 * train and of the one a single process trains: the gradients are the same sums taken in
 * another order, in float32, so the two differ by rounding only (6e-8 and 2e-9 measured). */
#define PARAMETER_TOLERANCE 1e-5
#define LOGIT_TOLERANCE 1e-5

typedef struct
{
  char *dir;
  char *catalog;
  char *weights;
} Fixture;

/* Three classes of eight photos, imported, and base weights of a seeded random network. */
static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  const char *classes[] = { "healthy", "blight", "mold" };
  g_autoptr(GSubprocessLauncher) launcher = ctu_cli_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_autoptr(GSubprocess) import = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *photos = NULL;

  fixture->dir = ctu_make_tmp_dir ();
  fixture->catalog = g_build_filename (fixture->dir, "dist.leafscope", NULL);
  fixture->weights = g_build_filename (fixture->dir, "base.safetensors", NULL);
  photos = g_build_filename (fixture->dir, "photos", NULL);
  for (guint i = 0; i < 24; i++)
    {
      g_autofree char *path = g_strdup_printf ("%s/%s/leaf-%u.png", photos, classes[i % 3], i);
      ctu_write_image (path, "png", 40, 40, i);
    }
  if (ctu_cli_path () == NULL)
    return;
  import = g_subprocess_launcher_spawn (launcher, &error, ctu_cli_path (), "--catalog",
                                        fixture->catalog, "import", photos, NULL);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_wait_check (import, NULL, &error));
  g_assert_no_error (error);

  leaf_test_write_seeded_weights (fixture->weights, 11, 10);
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

static gboolean
can_run (void)
{
  if (ctu_cli_path () == NULL)
    {
      g_test_skip ("LEAFSCOPE_CLI is not set");
      return FALSE;
    }
  if (!lt_dist_available ())
    {
      g_test_skip ("this build has no distributed engine (libgloo-dev was missing)");
      return FALSE;
    }
  return TRUE;
}

/* A port nothing listens on now: the kernel picks it for a socket we close again. */
static guint16
free_port (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_TCP, &error);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;

  g_assert_no_error (error);
  g_assert_true (g_socket_bind (socket, any, TRUE, &error));
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

/* train --json with the test's recipe (both phases, no early stopping: the number of epochs
 * is the same however the ranks round), then extra arguments. Without label smoothing: with it
 * (the default preset's 0.1), some of the head's gradients settle near zero, where Adam turns
 * the rounding left by the all-reduce into whole steps of either sign (0.0007 apart after this
 * run, where SGD with smoothing ends 2e-9 apart), so no tolerance would say anything. */
static GPtrArray *
train_argv (Fixture    *fixture,
            const char *seed,
            const char *head_epochs)
{
  GPtrArray *argv = g_ptr_array_new ();
  const char *args[] = {
    "train", "--json", "--weights", fixture->weights, "--image-size", "32", "--batch-size", "6",
    "--views", "2", "--head-epochs", head_epochs, "--finetune-epochs", "2", "--unfreeze", "3",
    "--seed", seed,
    "--recipe", "{\"head_early_stopping\": false, \"finetune_early_stopping\": false, "
    "\"label_smoothing\": 0}", NULL
  };

  g_ptr_array_add (argv, (char *) ctu_cli_path ());
  g_ptr_array_add (argv, (char *) "--catalog");
  g_ptr_array_add (argv, fixture->catalog);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);
  return argv;
}

/* Rank `rank` of two, as torchrun starts it; its stdout goes to a pipe when out_file is NULL. */
static GSubprocess *
spawn_rank (Fixture    *fixture,
            int         rank,
            guint16     port,
            const char *seed,
            const char *head_epochs,
            const char *out_file,
            const char *err_file)
{
  g_autoptr(GSubprocessLauncher) launcher =
    ctu_cli_launcher_new (out_file == NULL ? G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                           : G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GPtrArray) argv = train_argv (fixture, seed, head_epochs);
  g_autofree char *rank_text = g_strdup_printf ("%d", rank);
  g_autofree char *port_text = g_strdup_printf ("%u", port);
  g_autoptr(GError) error = NULL;
  GSubprocess *process;

  g_subprocess_launcher_setenv (launcher, "RANK", rank_text, TRUE);
  g_subprocess_launcher_setenv (launcher, "LOCAL_RANK", rank_text, TRUE);
  g_subprocess_launcher_setenv (launcher, "WORLD_SIZE", "2", TRUE);
  g_subprocess_launcher_setenv (launcher, "MASTER_ADDR", "127.0.0.1", TRUE);
  g_subprocess_launcher_setenv (launcher, "MASTER_PORT", port_text, TRUE);
  /* A dead peer is noticed when its connection closes; this bounds any other wait. */
  g_subprocess_launcher_setenv (launcher, "LEAFSCOPE_DIST_TIMEOUT", "120", TRUE);
  /* Two processes on a small machine: one compute thread each. */
  g_subprocess_launcher_setenv (launcher, "OMP_NUM_THREADS", "1", TRUE);
  if (out_file != NULL)
    g_subprocess_launcher_set_stdout_file_path (launcher, out_file);
  g_subprocess_launcher_set_stderr_file_path (launcher, err_file);
  process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  return process;
}

static char *
read_file (const char *path)
{
  g_autoptr(GError) error = NULL;
  char *text = NULL;

  g_file_get_contents (path, &text, NULL, &error);
  g_assert_no_error (error);
  return text;
}

/* The summary: the last line of train --json's output. */
static JsonObject *
summary_of (const char *output)
{
  g_auto(GStrv) lines = g_strsplit (output, "\n", -1);
  guint n = g_strv_length (lines);
  const char *last = NULL;
  g_autoptr(JsonNode) node = NULL;

  for (guint i = n; i > 0 && last == NULL; i--)
    if (*lines[i - 1] != '\0')
      last = lines[i - 1];
  g_assert_nonnull (last);
  node = json_from_string (last, NULL);
  g_assert_nonnull (node);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (node), "event"), ==,
                   "summary");
  return json_object_ref (json_node_get_object (node));
}

/* Runs one process of an ordinary run to the end; returns its summary. */
static JsonObject *
train_alone (Fixture *fixture)
{
  g_autoptr(GSubprocessLauncher) launcher =
    ctu_cli_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GPtrArray) argv = train_argv (fixture, "5", "4");
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_subprocess_launcher_setenv (launcher, "OMP_NUM_THREADS", "1", TRUE);
  process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  g_test_message ("one process:\n%s", err);
  g_assert_true (g_subprocess_get_if_exited (process));
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 0);
  return summary_of (out);
}

/* The largest difference between two model files' float tensors, which must have the same
 * names and shapes. */
static double
max_difference (const char *path_a,
                const char *path_b,
                const char *prefix)
{
  LtStateDict *a = NULL, *b = NULL;
  char *msg = NULL;
  double largest = 0;

  g_assert_cmpint (lt_state_dict_load (path_a, &a, &msg), ==, LT_OK);
  g_assert_cmpint (lt_state_dict_load (path_b, &b, &msg), ==, LT_OK);
  g_assert_cmpuint (lt_state_dict_count (a), ==, lt_state_dict_count (b));
  for (size_t i = 0; i < lt_state_dict_count (a); i++)
    {
      int64_t n = lt_state_dict_numel (a, i);
      g_autofree float *x = NULL;
      g_autofree float *y = NULL;

      g_assert_cmpstr (lt_state_dict_name (a, i), ==, lt_state_dict_name (b, i));
      if (!g_str_has_prefix (lt_state_dict_name (a, i), prefix) ||
          g_strcmp0 (lt_state_dict_dtype_name (a, i), "float32") != 0)
        continue;
      g_assert_cmpint (n, ==, lt_state_dict_numel (b, i));
      x = g_new (float, n);
      y = g_new (float, n);
      g_assert_cmpint (lt_state_dict_read (a, i, x, n * sizeof (float), &msg), ==, LT_OK);
      g_assert_cmpint (lt_state_dict_read (b, i, y, n * sizeof (float), &msg), ==, LT_OK);
      for (int64_t k = 0; k < n; k++)
        largest = MAX (largest, fabs ((double) x[k] - y[k]));
    }
  lt_state_dict_free (a);
  lt_state_dict_free (b);
  return largest;
}

/* The logits both models give a fixed batch of random photos. */
static double
max_logit_difference (const char *path_a,
                      const char *path_b)
{
  const char *paths[] = { path_a, path_b };
  int64_t shape[4] = { 4, 3, 32, 32 };
  g_autofree float *pixels = g_new (float, 4 * 3 * 32 * 32);
  float logits[2][4 * 3];
  g_autoptr(GRand) rand = g_rand_new_with_seed (3);
  LtTensor *input = NULL;
  char *msg = NULL;
  double largest = 0;

  for (guint i = 0; i < 4 * 3 * 32 * 32; i++)
    pixels[i] = g_rand_double_range (rand, -2, 2);
  g_assert_cmpint (lt_tensor_new_f32 (pixels, shape, 4, &input, &msg), ==, LT_OK);
  for (guint m = 0; m < 2; m++)
    {
      LtModel *model = NULL;
      LtTensor *out = NULL;

      g_assert_cmpint (lt_model_new (3, &model, &msg), ==, LT_OK);
      g_assert_cmpint (lt_model_load (model, paths[m], LT_LOAD_STRICT, NULL, &msg), ==, LT_OK);
      g_assert_cmpint (lt_model_forward (model, input, &out, &msg), ==, LT_OK);
      g_assert_cmpint (lt_tensor_copy_f32 (out, logits[m], 4 * 3, &msg), ==, LT_OK);
      lt_tensor_free (out);
      lt_model_free (model);
    }
  lt_tensor_free (input);
  for (guint k = 0; k < 4 * 3; k++)
    largest = MAX (largest, fabs ((double) logits[0][k] - logits[1][k]));
  return largest;
}

/* Two ranks, each extracting and training on its share, give the model one process gives with
 * the same seed and global batch; only rank 0 records it. */
static void
test_distributed_matches_one_process (Fixture       *fixture,
                                      gconstpointer  data)
{
  g_autofree char *out0 = g_build_filename (fixture->dir, "rank0.out", NULL);
  g_autofree char *err0 = g_build_filename (fixture->dir, "rank0.err", NULL);
  g_autofree char *out1 = g_build_filename (fixture->dir, "rank1.out", NULL);
  g_autofree char *err1 = g_build_filename (fixture->dir, "rank1.err", NULL);
  g_autoptr(GSubprocess) rank0 = NULL;
  g_autoptr(GSubprocess) rank1 = NULL;
  g_autoptr(JsonObject) summary0 = NULL;
  g_autoptr(JsonObject) summary1 = NULL;
  g_autoptr(JsonObject) alone = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text0 = NULL;
  g_autofree char *text1 = NULL;
  g_autofree char *log0 = NULL;
  g_autofree char *log1 = NULL;
  guint16 port;
  const char *model;
  double parameters, head, logits;

  if (!can_run ())
    return;
  port = free_port ();
  /* The distributed run first, so that each rank computes its share of the frozen stages. */
  rank0 = spawn_rank (fixture, 0, port, "5", "4", out0, err0);
  rank1 = spawn_rank (fixture, 1, port, "5", "4", out1, err1);
  g_subprocess_wait (rank0, NULL, &error);
  g_assert_no_error (error);
  g_subprocess_wait (rank1, NULL, &error);
  g_assert_no_error (error);
  log0 = read_file (err0);
  log1 = read_file (err1);
  g_test_message ("rank 0:\n%s\nrank 1:\n%s", log0, log1);
  g_assert_true (g_subprocess_get_if_exited (rank0));
  g_assert_cmpint (g_subprocess_get_exit_status (rank0), ==, 0);
  g_assert_true (g_subprocess_get_if_exited (rank1));
  g_assert_cmpint (g_subprocess_get_exit_status (rank1), ==, 0);

  text0 = read_file (out0);
  text1 = read_file (out1);
  summary0 = summary_of (text0);
  summary1 = summary_of (text1);
  g_assert_cmpint (json_object_get_int_member (summary0, "rank"), ==, 0);
  g_assert_cmpint (json_object_get_int_member (summary1, "rank"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (summary0, "world_size"), ==, 2);
  /* One run in the catalog, rank 0's; rank 1 reports it under the same id, with no model. */
  g_assert_cmpint (json_object_get_int_member (summary0, "run_id"), >, 0);
  g_assert_cmpint (json_object_get_int_member (summary1, "run_id"), ==,
                   json_object_get_int_member (summary0, "run_id"));
  g_assert_true (json_object_get_null_member (summary1, "model"));
  /* Validation is reduced over the ranks: both measured the same. */
  g_assert_cmpfloat (json_object_get_double_member (summary0, "val_accuracy"), ==,
                     json_object_get_double_member (summary1, "val_accuracy"));
  g_assert_cmpfloat (json_object_get_double_member (summary0, "val_loss"), ==,
                     json_object_get_double_member (summary1, "val_loss"));

  alone = train_alone (fixture);
  g_assert_cmpint (json_object_get_int_member (alone, "run_id"), >,
                   json_object_get_int_member (summary0, "run_id"));
  g_assert_cmpint (json_object_get_int_member (alone, "kept_epoch"), ==,
                   json_object_get_int_member (summary0, "kept_epoch"));
  g_assert_cmpfloat (json_object_get_double_member (alone, "val_accuracy"), ==,
                     json_object_get_double_member (summary0, "val_accuracy"));
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (alone, "val_loss"),
                                  json_object_get_double_member (summary0, "val_loss"), 1e-3);

  model = json_object_get_string_member (summary0, "model");
  parameters = max_difference (model, json_object_get_string_member (alone, "model"), "");
  head = max_difference (model, json_object_get_string_member (alone, "model"), "classifier");
  logits = max_logit_difference (model, json_object_get_string_member (alone, "model"));
  g_test_message ("largest differences: parameters %.3g (head %.3g), logits %.3g", parameters,
                  head, logits);
  g_assert_cmpfloat (parameters, <=, PARAMETER_TOLERANCE);
  g_assert_cmpfloat (logits, <=, LOGIT_TOLERANCE);
  /* ... and the run really trained: the fine-tuned stages moved from their seeded start. */
  g_assert_cmpfloat (max_difference (model, fixture->weights, "features.8"), >, 0);
}

/* A rank killed in the middle of training makes the other fail with a message, not hang. */
static void
test_distributed_rank_killed (Fixture       *fixture,
                              gconstpointer  data)
{
  g_autofree char *out0 = g_build_filename (fixture->dir, "rank0.out", NULL);
  g_autofree char *err0 = g_build_filename (fixture->dir, "rank0.err", NULL);
  g_autofree char *err1 = g_build_filename (fixture->dir, "rank1.err", NULL);
  g_autoptr(GSubprocess) rank0 = NULL;
  g_autoptr(GSubprocess) rank1 = NULL;
  g_autoptr(GDataInputStream) lines = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *said = NULL;
  g_autofree char *printed = NULL;
  gboolean training = FALSE;
  guint16 port;

  if (!can_run ())
    return;
  port = free_port ();
  rank0 = spawn_rank (fixture, 0, port, "5", "1000", out0, err0);
  rank1 = spawn_rank (fixture, 1, port, "5", "1000", NULL, err1);
  /* Killed once it has trained an epoch: rank 0 still needs it for 999 more. */
  lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (rank1));
  while (!training)
    {
      g_autofree char *line = g_data_input_stream_read_line_utf8 (lines, NULL, NULL, &error);

      g_assert_no_error (error);
      g_assert_nonnull (line);
      training = g_str_has_prefix (line, "{\"event\":\"epoch\"");
    }
  g_subprocess_force_exit (rank1);
  g_subprocess_wait (rank1, NULL, &error);
  g_assert_no_error (error);

  g_subprocess_wait (rank0, NULL, &error);
  g_assert_no_error (error);
  said = read_file (err0);
  printed = read_file (out0);
  g_test_message ("rank 0:\n%s\n%s", said, printed);
  g_assert_true (g_subprocess_get_if_exited (rank0));
  g_assert_cmpint (g_subprocess_get_exit_status (rank0), !=, 0);
  g_assert_nonnull (strstr (printed, "the other processes of this distributed run stopped "
                                     "answering"));
}

/* Ranks started with different options refuse to train together, and say why. */
static void
test_distributed_different_options (Fixture       *fixture,
                                    gconstpointer  data)
{
  char *out[2] = { g_build_filename (fixture->dir, "rank0.out", NULL),
                              g_build_filename (fixture->dir, "rank1.out", NULL) };
  char *err[2] = { g_build_filename (fixture->dir, "rank0.err", NULL),
                              g_build_filename (fixture->dir, "rank1.err", NULL) };
  GSubprocess *ranks[2];
  guint16 port;

  if (!can_run ())
    return;
  port = free_port ();
  ranks[0] = spawn_rank (fixture, 0, port, "5", "4", out[0], err[0]);
  ranks[1] = spawn_rank (fixture, 1, port, "6", "4", out[1], err[1]);
  for (guint r = 0; r < 2; r++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *printed = NULL;

      g_subprocess_wait (ranks[r], NULL, &error);
      g_assert_no_error (error);
      printed = read_file (out[r]);
      g_test_message ("rank %u: %s", r, printed);
      g_assert_cmpint (g_subprocess_get_exit_status (ranks[r]), !=, 0);
      g_assert_nonnull (strstr (printed, "does not see the same photos, labels, splits"));
      g_object_unref (ranks[r]);
      g_free (out[r]);
      g_free (err[r]);
    }
}

int
main (int   argc,
      char *argv[])
{
  leaf_test_init (&argc, &argv);

  g_test_add ("/cli/distributed/matches-one-process", Fixture, NULL, fixture_set_up,
              test_distributed_matches_one_process, fixture_tear_down);
  g_test_add ("/cli/distributed/rank-killed", Fixture, NULL, fixture_set_up,
              test_distributed_rank_killed, fixture_tear_down);
  g_test_add ("/cli/distributed/different-options", Fixture, NULL, fixture_set_up,
              test_distributed_different_options, fixture_tear_down);

  return g_test_run ();
}
