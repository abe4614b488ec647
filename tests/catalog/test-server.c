/* test-server.c: catalogs on a PostgreSQL server: roles that may only read, and a server that
 * stops in the middle of a labelling burst
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "leaf-test.h"

#include <gio/gio.h>
#include <signal.h>
#include <string.h>

#include "catalog-test-util.h"
#include "leaf-catalog.h"
#include "leaf-catalog-private.h"
#include "leaf-error.h"
#include "leaf-test-pg.h"

static LeafTestPg *server;

/* A catalog with photos 1-6 and the classes healthy and blight, on a database of its own. */
static char *
make_catalog (const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *create = g_strdup_printf ("CREATE DATABASE %s TEMPLATE template0 "
                                             "LC_COLLATE 'C' LC_CTYPE 'C.UTF-8'", name);
  char *location;
  g_autoptr(LeafCatalog) catalog = NULL;

  g_assert_true (leaf_test_pg_exec (server, "postgres", create, &error));
  g_assert_no_error (error);
  location = leaf_test_pg_uri (server, name, NULL);
  catalog = leaf_catalog_open (location, LEAF_CATALOG_OPEN_CREATE, &error);
  g_assert_no_error (error);
  ctu_insert_images (location, 1, 6);
  leaf_catalog_add_class (catalog, "healthy", NULL, NULL, &error);
  g_assert_no_error (error);
  leaf_catalog_add_class (catalog, "blight", NULL, NULL, &error);
  g_assert_no_error (error);
  return location;
}

/* A role granted only SELECT browses the catalog, and every change it tries is refused with a
 * message that says why, leaving the catalog as it was. */
static void
test_read_only_role (void)
{
  g_autofree char *location = make_catalog ("readonly");
  g_autofree char *reader_location = leaf_test_pg_uri (server, "readonly", "reader");
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(GPtrArray) classes = NULL;
  LeafImageQuery all = { 0 };
  guint n = 0;
  gint64 photo = 1;

  g_assert_true (leaf_test_pg_exec (server, "readonly",
                                    "CREATE ROLE reader LOGIN;"
                                    "GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader",
                                    &error));
  g_assert_no_error (error);

  catalog = leaf_catalog_open (reader_location, LEAF_CATALOG_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  g_assert_true (leaf_catalog_count_images (catalog, &all, &n, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, 6);
  classes = leaf_catalog_list_classes (catalog, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (classes->len, ==, 2);

  g_assert_false (leaf_catalog_set_labels (catalog, &photo, 1,
                                           ((LeafClassInfo *) classes->pdata[0])->id,
                                           LEAF_LABEL_HOW_MANUAL, &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "may only be read"));
  g_clear_error (&error);
  g_assert_cmpint (leaf_catalog_add_class (catalog, "rust", NULL, NULL, &error), <=, 0);
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO);
  g_clear_error (&error);

  g_assert_cmpint (ctu_query_int (location, "SELECT count(*) FROM votes"), ==, 0);
  g_assert_cmpint (ctu_query_int (location, "SELECT count(*) FROM classes"), ==, 2);
}

/* A run's record ends as on a file: the count of rows a change touched is the change's own,
 * whatever the commit after it said. */
static void
test_run_ends (void)
{
  g_autofree char *location = make_catalog ("runs");
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = leaf_catalog_open (location, LEAF_CATALOG_OPEN_DEFAULT, &error);
  gint64 run;

  g_assert_no_error (error);
  run = leaf_catalog_begin_run (catalog, "{}", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (run, >, 0);
  g_assert_true (leaf_catalog_end_run (catalog, run, LEAF_RUN_COMPLETED, NULL, &error));
  g_assert_no_error (error);
  /* A second end finds no running run. */
  g_assert_false (leaf_catalog_end_run (catalog, run, LEAF_RUN_FAILED, NULL, &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND);
}

static gpointer
write_all_cb (gpointer data)
{
  GSubprocess *process = data;
  GString *lines = g_string_new (NULL);

  /* Every line its own action, relabelling the six photos again and again. */
  for (guint i = 0; i < 3000; i++)
    g_string_append_printf (lines, "%064x\t%s\n", i % 6 + 1,
                            i / 6 % 2 == 0 ? "blight" : "healthy");
  g_output_stream_write_all (g_subprocess_get_stdin_pipe (process), lines->str, lines->len, NULL,
                             NULL, NULL);
  g_output_stream_close (g_subprocess_get_stdin_pipe (process), NULL, NULL);
  g_string_free (lines, TRUE);
  return NULL;
}

/* Reads a labeller's error output while it runs, so that the pipe never fills. */
static gpointer
read_all_cb (gpointer data)
{
  g_autoptr(GOutputStream) memory = g_memory_output_stream_new_resizable ();

  g_output_stream_splice (memory, data, G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET, NULL, NULL);
  g_output_stream_write_all (memory, "", 1, NULL, NULL, NULL);
  return g_memory_output_stream_steal_data (G_MEMORY_OUTPUT_STREAM (memory));
}

/* The server stops as a crash would while a labeller's labels stream in: every label the
 * labeller was told is saved is there when the server is back (at most one more: saved, but the
 * answer was lost with the connection), and the rest fail with a message naming the server. */
static void
test_stopped_mid_burst (void)
{
  g_autofree char *location = make_catalog ("burst");
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  GThread *writer;
  GThread *reader;
  guint acknowledged = 0;
  gint64 saved;
  char *line;

  if (ctu_cli_path () == NULL)
    {
      g_test_skip ("LEAFSCOPE_CLI is not set");
      return;
    }
  launcher = ctu_cli_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                   G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                   G_SUBPROCESS_FLAGS_STDERR_PIPE);
  process = g_subprocess_launcher_spawn (launcher, &error, ctu_cli_path (), "--catalog",
                                         location, "--labeller", "ana", "label", "--stdin", NULL);
  g_assert_no_error (error);
  writer = g_thread_new ("writer", write_all_cb, process);
  reader = g_thread_new ("reader", read_all_cb, g_subprocess_get_stderr_pipe (process));
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (process));

  while ((line = g_data_input_stream_read_line (out, NULL, NULL, &error)) != NULL)
    {
      acknowledged += g_str_has_prefix (line, "labeled ");
      g_free (line);
      if (acknowledged == 100)
        {
          g_assert_true (leaf_test_pg_stop (server, TRUE, &error));
          g_assert_no_error (error);
        }
    }
  g_assert_no_error (error);
  g_thread_join (writer);
  g_assert_true (g_subprocess_wait (process, NULL, &error));
  g_assert_no_error (error);
  err = g_thread_join (reader);
  g_assert_nonnull (strstr (err, "Lost the connection to the catalog server"));
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 1);
  g_assert_cmpuint (acknowledged, >=, 100);
  g_assert_cmpuint (acknowledged, <, 3000);

  g_assert_true (leaf_test_pg_restart_after_stop (server, &error));
  g_assert_no_error (error);
  saved = ctu_query_int (location, "SELECT count(*) FROM label_actions");
  g_test_message ("acknowledged %u, saved %" G_GINT64_FORMAT, acknowledged, saved);
  g_assert_cmpint (saved, >=, acknowledged);
  g_assert_cmpint (saved, <=, acknowledged + 1);

  /* The catalog works as before. */
  catalog = leaf_catalog_open (location, LEAF_CATALOG_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
}

static void
test_skip (gconstpointer data)
{
  g_test_skip (data);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  g_autofree char *no_server = NULL;
  int status;

  leaf_test_init (&argc, &argv);
  /* A labeller's input pipe may be closed when the test writes to it. */
  signal (SIGPIPE, SIG_IGN);

  server = leaf_test_pg_start (&no_server, &error);
  g_assert_no_error (error);
  if (server != NULL)
    {
      g_test_add_func ("/server/read-only-role", test_read_only_role);
      g_test_add_func ("/server/stopped-mid-burst", test_stopped_mid_burst);
      g_test_add_func ("/server/run-ends", test_run_ends);
    }
  else
    g_test_add_data_func ("/server", no_server, test_skip);
  status = g_test_run ();
  g_clear_pointer (&server, leaf_test_pg_free);
  return status;
}
