/* test-weights-cli.c: `leafscope-cli weights fetch|import|status` as a user runs them
 *
 * The CLI runs as a child process with XDG_DATA_HOME in a temporary folder; downloads go to a
 * SoupServer on 127.0.0.1 in this process.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "leaf-test.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <string.h>

#include "ws-test-server.h"

static WsServer *server;

typedef struct
{
  char *tmp;
  char *store;   /* where the CLI keeps weights under this XDG_DATA_HOME */
} Fixture;

typedef struct
{
  gboolean done;
  int status;
  char *out;
  char *err;
} Result;

static void
result_free (Result *result)
{
  g_free (result->out);
  g_free (result->err);
  g_free (result);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Result, result_free)

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  fixture->tmp = g_dir_make_tmp ("leafscope-weights-cli-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->store = g_build_filename (fixture->tmp, "leafscope", "weights", NULL);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  leaf_test_remove_tree (fixture->tmp);
  g_free (fixture->store);
  g_free (fixture->tmp);
}

static void
communicated_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  GSubprocess *process = G_SUBPROCESS (object);
  Result *res = user_data;
  g_autoptr(GError) error = NULL;

  g_assert_true (g_subprocess_communicate_utf8_finish (process, result, &res->out, &res->err,
                                                       &error));
  g_assert_no_error (error);
  if (g_subprocess_get_if_exited (process))
    res->status = g_subprocess_get_exit_status (process);
  else
    res->status = 128 + g_subprocess_get_term_sig (process);
  res->done = TRUE;
}

static GSubprocess *
spawn_cli (Fixture           *fixture,
           const char *const *args)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  GSubprocess *process;

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                        | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_setenv (launcher, "XDG_DATA_HOME", fixture->tmp, TRUE);
  g_subprocess_launcher_setenv (launcher, "LC_ALL", "C.UTF-8", TRUE);
  g_ptr_array_add (argv, (char *) g_getenv ("LEAFSCOPE_CLI"));
  g_ptr_array_add (argv, "weights");
  for (gsize i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);
  process = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  return process;
}

static Result *
wait_cli (GSubprocess *process)
{
  Result *result = g_new0 (Result, 1);

  g_subprocess_communicate_utf8_async (process, NULL, NULL, communicated_cb, result);
  /* The server lives on this context, so keep it turning while the child talks to it. */
  while (!result->done)
    g_main_context_iteration (NULL, TRUE);
  return result;
}

static Result *
run_cli (Fixture           *fixture,
         const char *const *args)
{
  g_autoptr(GSubprocess) process = spawn_cli (fixture, args);
  return wait_cli (process);
}

static JsonObject *
status_json (Fixture   *fixture,
             JsonNode **root_out)
{
  static const char *const args[] = { "status", "--json", NULL };
  g_autoptr(Result) result = run_cli (fixture, args);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *object;

  g_assert_cmpint (result->status, ==, 0);
  g_assert_true (json_parser_load_from_data (parser, result->out, -1, &error));
  g_assert_no_error (error);
  *root_out = json_node_copy (json_parser_get_root (parser));
  object = json_node_get_object (*root_out);
  g_assert_cmpstr (json_object_get_string_member (object, "directory"), ==, fixture->store);
  return object;
}

static char *
file_sha256 (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize length;

  g_assert_true (g_file_get_contents (path, &contents, &length, &error));
  g_assert_no_error (error);
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) contents, length);
}

static void
test_status_empty (Fixture       *fixture,
                   gconstpointer  data)
{
  static const char *const args[] = { "status", NULL };
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(Result) text = NULL;
  JsonObject *status = status_json (fixture, &root);

  g_assert_true (json_object_get_null_member (status, "default"));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (status, "weights")), ==,
                    0);

  text = run_cli (fixture, args);
  g_assert_cmpint (text->status, ==, 0);
  g_assert_nonnull (strstr (text->out, "No pretrained weights"));
  g_assert_nonnull (strstr (text->out, "weights fetch"));
  g_assert_nonnull (strstr (text->out, "weights import FILE"));
  g_assert_nonnull (strstr (text->out, "--from-scratch"));
}

/* A damaged index used to crash every command that lists weights. */
static void
test_status_damaged_index (Fixture       *fixture,
                           gconstpointer  data)
{
  g_autoptr(GBytes) bytes = ws_make_bytes (4096, 6);
  g_autofree char *sha256 = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
  g_autofree char *name = g_strconcat (sha256, ".pth", NULL);
  g_autofree char *path = g_build_filename (fixture->store, name, NULL);
  g_autofree char *index = g_build_filename (fixture->store, "index.json", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) root = NULL;
  JsonArray *weights;

  g_assert_cmpint (g_mkdir_with_parents (fixture->store, 0755), ==, 0);
  g_assert_true (g_file_set_contents (path, g_bytes_get_data (bytes, NULL),
                                      g_bytes_get_size (bytes), &error));
  g_assert_true (g_file_set_contents (index, "{\"files\":[{\"sha256\": 5}]}", -1, &error));
  g_assert_no_error (error);

  weights = json_object_get_array_member (status_json (fixture, &root), "weights");
  g_assert_cmpuint (json_array_get_length (weights), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (weights, 0),
                                                  "sha256"), ==, sha256);
}

static void
test_import_rejected (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autoptr(GBytes) junk = ws_make_bytes (4096, 5);
  g_autofree char *path = g_build_filename (fixture->tmp, "not-weights.pth", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(Result) result = NULL;
  g_autoptr(JsonNode) root = NULL;
  const char *args[] = { "import", path, NULL };
  JsonObject *status;

  g_assert_true (g_file_set_contents (path, g_bytes_get_data (junk, NULL),
                                      g_bytes_get_size (junk), &error));
  g_assert_no_error (error);
  result = run_cli (fixture, args);
  g_assert_cmpint (result->status, ==, 1);
  g_assert_cmpstr (result->out, ==, "");
  g_assert_nonnull (strstr (result->err, path));
  g_assert_nonnull (strstr (result->err, "not a weight file"));

  status = status_json (fixture, &root);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (status, "weights")), ==,
                    0);
}

static void
test_import_compatible (Fixture       *fixture,
                        gconstpointer  data)
{
  const char *torch_dir;
  g_autofree char *path = NULL;
  g_autofree char *sha256 = NULL;
  g_autofree char *stored = NULL;
  g_autoptr(Result) result = NULL;
  g_autoptr(JsonNode) root = NULL;
  JsonObject *status, *entry;
  JsonArray *weights;

  torch_dir = ws_torch_files ();
  if (torch_dir == NULL)
    return;
  path = g_build_filename (torch_dir, "compatible.pth", NULL);
  sha256 = file_sha256 (path);
  {
    const char *args[] = { "import", path, NULL };
    result = run_cli (fixture, args);
  }
  g_assert_cmpint (result->status, ==, 0);
  g_assert_nonnull (strstr (result->err, "warning"));
  g_assert_nonnull (strstr (result->err, "not torchvision’s official"));
  stored = g_strdup_printf ("%s/%s.pth\n", fixture->store, sha256);
  g_assert_cmpstr (result->out, ==, stored);

  status = status_json (fixture, &root);
  weights = json_object_get_array_member (status, "weights");
  g_assert_cmpuint (json_array_get_length (weights), ==, 1);
  entry = json_array_get_object_element (weights, 0);
  g_assert_cmpstr (json_object_get_string_member (entry, "sha256"), ==, sha256);
  g_assert_false (json_object_get_boolean_member (entry, "official"));
  g_assert_cmpstr (json_object_get_string_member (entry, "origin"), ==, "import");
  g_assert_cmpstr (json_object_get_string_member (entry, "source"), ==, path);
  stored[strlen (stored) - 1] = '\0';
  g_assert_cmpstr (json_object_get_string_member (entry, "path"), ==, stored);
  g_assert_cmpstr (json_object_get_string_member (status, "default"), ==, stored);
}

static void
test_fetch_mirror (Fixture       *fixture,
                   gconstpointer  data)
{
  const char *torch_dir;
  g_autofree char *path = NULL;
  g_autofree char *sha256 = NULL;
  g_autofree char *url = ws_server_url (server, "/ok/mirror.pth");
  g_autofree char *stored = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(Result) result = NULL;
  g_autoptr(JsonNode) root = NULL;
  JsonObject *status, *entry;
  char *contents;
  gsize length;

  torch_dir = ws_torch_files ();
  if (torch_dir == NULL)
    return;
  path = g_build_filename (torch_dir, "compatible.pth", NULL);
  g_assert_true (g_file_get_contents (path, &contents, &length, &error));
  g_assert_no_error (error);
  bytes = g_bytes_new_take (contents, length);
  sha256 = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
  ws_server_set_body (server, bytes);
  {
    const char *args[] = { "fetch", "--url", url, "--sha256", sha256, NULL };
    result = run_cli (fixture, args);
  }
  g_assert_cmpint (result->status, ==, 0);
  g_assert_nonnull (strstr (result->err, url));
  stored = g_strdup_printf ("%s/%s.pth\n", fixture->store, sha256);
  g_assert_cmpstr (result->out, ==, stored);

  status = status_json (fixture, &root);
  entry = json_array_get_object_element (json_object_get_array_member (status, "weights"), 0);
  g_assert_cmpstr (json_object_get_string_member (entry, "origin"), ==, "download");
  g_assert_cmpstr (json_object_get_string_member (entry, "source"), ==, url);
  g_assert_false (json_object_get_boolean_member (entry, "official"));
}

static void
test_fetch_not_found (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autofree char *url = ws_server_url (server, "/gone/weights.pth");
  const char *args[] = { "fetch", "--url", url, NULL };
  g_autoptr(Result) result = run_cli (fixture, args);
  g_autofree char *names = NULL;

  g_assert_cmpint (result->status, ==, 1);
  g_assert_cmpstr (result->out, ==, "");
  g_assert_nonnull (strstr (result->err, "404"));
  g_assert_nonnull (strstr (result->err, "--url URL"));
  g_assert_nonnull (strstr (result->err, "weights import FILE"));
  g_assert_nonnull (strstr (result->err, "--from-scratch"));
  names = ws_list_dir (fixture->store);
  g_assert_cmpstr (names, ==, "");
}

static void
test_fetch_usage (Fixture       *fixture,
                  gconstpointer  data)
{
  static const char *const args[] = {
    "fetch", "--sha256", "7f5810bc96def8f7552d5b7e68d53c4786f81167d28291b21c0d90e1fca14934", NULL
  };
  g_autoptr(Result) result = run_cli (fixture, args);

  g_assert_cmpint (result->status, ==, 2);
  g_assert_nonnull (strstr (result->err, "--url"));
}

static void
test_fetch_interrupted (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autoptr(GBytes) body = ws_make_bytes (2 * 1024 * 1024, 11);
  g_autofree char *sha256 = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, body);
  g_autofree char *url = ws_server_url (server, "/slow/weights.pth");
  g_autofree char *part_name = g_strconcat (sha256, ".pth.part", NULL);
  g_autofree char *part = g_build_filename (fixture->store, part_name, NULL);
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(Result) result = NULL;
  g_autofree char *names = NULL;
  const char *args[] = { "fetch", "--url", url, "--sha256", sha256, NULL };
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  GStatBuf st;

  /* Ctrl+C: the CLI cancels, keeps the partial download and says so. */
  ws_server_set_body (server, body);
  process = spawn_cli (fixture, args);
  while (g_stat (part, &st) != 0 || st.st_size == 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
  g_subprocess_send_signal (process, SIGINT);
  result = wait_cli (process);
  g_assert_cmpint (result->status, ==, 130);
  g_assert_nonnull (strstr (result->err, "cancelled"));
  g_assert_nonnull (strstr (result->err, "kept"));
  names = ws_list_dir (fixture->store);
  g_assert_cmpstr (names, ==, part_name);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GBytes) body = NULL;
  int status;

  leaf_test_init (&argc, &argv);
  if (g_getenv ("LEAFSCOPE_CLI") == NULL)
    {
      g_print ("1..0 # SKIP LEAFSCOPE_CLI is not set\n");
      return 0;
    }
  body = ws_make_bytes (1024, 1);
  server = ws_server_new (body);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/weights-store/cli/status-empty", test_status_empty);
  ADD ("/weights-store/cli/status-damaged-index", test_status_damaged_index);
  ADD ("/weights-store/cli/import-rejected", test_import_rejected);
  ADD ("/weights-store/cli/import-compatible", test_import_compatible);
  ADD ("/weights-store/cli/fetch-mirror", test_fetch_mirror);
  ADD ("/weights-store/cli/fetch-not-found", test_fetch_not_found);
  ADD ("/weights-store/cli/fetch-usage", test_fetch_usage);
  ADD ("/weights-store/cli/fetch-interrupted", test_fetch_interrupted);
#undef ADD

  status = g_test_run ();

  ws_server_free (server);
  ws_torch_files_remove ();
  return status;
}
