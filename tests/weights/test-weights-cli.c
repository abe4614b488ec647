/* test-weights-cli.c: `leafscope-cli weights inspect`
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Usage: test-weights-cli PATH-TO-LEAFSCOPE-CLI. make-weights.py --minimal writes the files and
 * what PyTorch and hashlib say about them.
 */

#define G_LOG_DOMAIN "test-weights-cli"

#include "config.h"

#include "leaf-test.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/wait.h>

static const char *cli_path;
static char *gen_dir;

typedef struct
{
  char *stdout_text;
  char *stderr_text;
  int exit_status;
} CliRun;

static void
cli_run_clear (CliRun *run)
{
  g_free (run->stdout_text);
  g_free (run->stderr_text);
}

static gboolean
require_files (void)
{
  if (gen_dir == NULL)
    g_test_skip ("LEAFSCOPE_PYTHON (Python with torch) is not available");
  return gen_dir != NULL;
}

static char *
gen_path (const char *name)
{
  return g_build_filename (gen_dir, name, NULL);
}

static void
spawn (const char *const *argv,
       CliRun            *run)
{
  g_autoptr(GError) error = NULL;
  int wait_status;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &run->stdout_text,
                &run->stderr_text, &wait_status, &error);
  g_assert_no_error (error);
  g_assert_true (WIFEXITED (wait_status));
  run->exit_status = WEXITSTATUS (wait_status);
}

/* Runs `leafscope-cli weights ARGS...`. */
static void
run_weights (CliRun *run,
             ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  const char *arg;
  va_list ap;

  g_ptr_array_add (argv, (gpointer) cli_path);
  g_ptr_array_add (argv, (gpointer) "weights");
  va_start (ap, run);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  spawn ((const char *const *) argv->pdata, run);
}

/* A line of a make-weights.py table whose first field is `file`. */
static GPtrArray *
table_rows (const char *table,
            const char *file)
{
  g_autofree char *path = gen_path (table);
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  GPtrArray *rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  for (char **line = lines; *line != NULL; line++)
    if (g_str_has_prefix (*line, file) && (*line)[strlen (file)] == '\t')
      g_ptr_array_add (rows, g_strsplit (*line, "\t", -1));
  g_assert_cmpuint (rows->len, >, 0);
  return rows;
}

static void
test_inspect_text (void)
{
  g_autofree char *path = NULL;
  g_autoptr(GPtrArray) files = NULL;
  g_autoptr(GPtrArray) tensors = NULL;
  g_autofree char *count_pattern = NULL;
  char **file;
  CliRun run = { 0 };

  if (!require_files ())
    return;
  path = gen_path ("small.pth");
  files = table_rows ("files.tsv", "small.pth");
  file = g_ptr_array_index (files, 0);
  run_weights (&run, "inspect", path, NULL);
  g_assert_cmpint (run.exit_status, ==, 0);

  /* hashlib's SHA-256 and torch.load's tensor count. */
  g_assert_nonnull (strstr (run.stdout_text, file[1]));
  count_pattern = g_strdup_printf ("^Tensors: +%s$", file[2]);
  g_assert_true (g_regex_match_simple (count_pattern, run.stdout_text, G_REGEX_MULTILINE, 0));

  tensors = table_rows ("expected.tsv", "small.pth");
  for (guint i = 0; i < tensors->len; i++)
    {
      char **t = g_ptr_array_index (tensors, i);
      g_auto(GStrv) dims = g_strsplit (t[3], ",", -1);
      g_autofree char *shape = g_strjoinv (", ", dims);
      g_autofree char *pattern = g_strdup_printf ("^  %s +%s +\\[%s\\]$", t[1], t[2], shape);

      if (!g_regex_match_simple (pattern, run.stdout_text, G_REGEX_MULTILINE, 0))
        g_error ("no line for %s %s [%s] in:\n%s", t[1], t[2], shape, run.stdout_text);
    }
  cli_run_clear (&run);
}

static void
test_inspect_json (gconstpointer data)
{
  const char *name = data;
  g_autofree char *path = NULL;
  g_autoptr(GPtrArray) files = NULL;
  g_autoptr(GPtrArray) tensors = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *root;
  JsonArray *list;
  gint64 values = 0;
  char **file;
  CliRun run = { 0 };

  if (!require_files ())
    return;
  path = gen_path (name);
  run_weights (&run, "inspect", "--json", path, NULL);
  g_assert_cmpint (run.exit_status, ==, 0);
  json_parser_load_from_data (parser, run.stdout_text, -1, &error);
  g_assert_no_error (error);
  root = json_node_get_object (json_parser_get_root (parser));

  files = table_rows ("files.tsv", name);
  file = g_ptr_array_index (files, 0);
  g_assert_cmpstr (json_object_get_string_member (root, "file"), ==, path);
  g_assert_cmpstr (json_object_get_string_member (root, "sha256"), ==, file[1]);
  g_assert_cmpint (json_object_get_int_member (root, "tensor_count"), ==,
                   g_ascii_strtoll (file[2], NULL, 10));

  tensors = table_rows ("expected.tsv", name);
  list = json_object_get_array_member (root, "tensors");
  g_assert_cmpuint (json_array_get_length (list), ==, tensors->len);
  for (guint i = 0; i < tensors->len; i++)
    {
      char **t = g_ptr_array_index (tensors, i);
      g_auto(GStrv) dims = g_strsplit (t[3], ",", -1);
      JsonObject *entry = NULL;
      JsonArray *shape;
      gint64 numel = 1;

      /* safetensors lists tensors in its own order: look each one up. */
      for (guint k = 0; k < json_array_get_length (list); k++)
        if (g_str_equal (json_object_get_string_member (json_array_get_object_element (list, k),
                                                        "name"), t[1]))
          entry = json_array_get_object_element (list, k);
      g_assert_nonnull (entry);
      g_assert_cmpstr (json_object_get_string_member (entry, "dtype"), ==, t[2]);
      shape = json_object_get_array_member (entry, "shape");
      g_assert_cmpuint (json_array_get_length (shape), ==, *t[3] == '\0' ? 0 : g_strv_length (dims));
      for (guint d = 0; d < json_array_get_length (shape); d++)
        {
          g_assert_cmpint (json_array_get_int_element (shape, d), ==, g_ascii_strtoll (dims[d], NULL, 10));
          numel *= json_array_get_int_element (shape, d);
        }
      values += numel;
    }
  g_assert_cmpint (json_object_get_int_member (root, "parameter_count"), ==, values);

  if (g_str_has_suffix (name, ".safetensors"))
    g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (root, "metadata"),
                                                    "format"), ==, "pt");
  else
    g_assert_cmpuint (json_object_get_size (json_object_get_object_member (root, "metadata")), ==, 0);
  cli_run_clear (&run);
}

static void
test_inspect_bad_file (void)
{
  g_autofree char *dir = g_dir_make_tmp ("test-weights-cli-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "notes.pth", NULL);
  CliRun run = { 0 };

  g_assert_true (g_file_set_contents (path, "not weights\n", -1, NULL));
  run_weights (&run, "inspect", path, NULL);
  g_assert_cmpint (run.exit_status, ==, 1);
  g_assert_cmpstr (run.stdout_text, ==, "");
  g_assert_true (g_str_has_prefix (run.stderr_text, "leafscope-cli: "));
  g_assert_nonnull (strstr (run.stderr_text, path));
  g_assert_nonnull (strstr (run.stderr_text, "it is a text file"));
  cli_run_clear (&run);

  run_weights (&run, "inspect", "/nonexistent/weights.pth", NULL);
  g_assert_cmpint (run.exit_status, ==, 1);
  g_assert_nonnull (strstr (run.stderr_text, "No such file or directory"));
  cli_run_clear (&run);

  g_assert_cmpint (g_remove (path), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

static void
test_usage (void)
{
  CliRun run = { 0 };

  run_weights (&run, NULL);
  g_assert_cmpint (run.exit_status, ==, 2);
  g_assert_nonnull (strstr (run.stderr_text, "inspect"));
  cli_run_clear (&run);

  run_weights (&run, "frobnicate", NULL);
  g_assert_cmpint (run.exit_status, ==, 2);
  g_assert_nonnull (strstr (run.stderr_text, "frobnicate"));
  cli_run_clear (&run);

  run_weights (&run, "inspect", NULL);
  g_assert_cmpint (run.exit_status, ==, 2);
  cli_run_clear (&run);

  run_weights (&run, "--help", NULL);
  g_assert_cmpint (run.exit_status, ==, 0);
  g_assert_nonnull (strstr (run.stdout_text, "inspect"));
  cli_run_clear (&run);
}

static void
remove_generated (void)
{
  g_autoptr(GDir) d = g_dir_open (gen_dir, 0, NULL);
  const char *name;

  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = gen_path (name);
      g_remove (path);
    }
  g_rmdir (gen_dir);
}

int
main (int argc, char *argv[])
{
  const char *python = g_getenv ("LEAFSCOPE_PYTHON");
  int result;

  leaf_test_init (&argc, &argv);
  g_assert_cmpint (argc, ==, 2);
  cli_path = argv[1];

  if (python != NULL && g_file_test (python, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_autofree char *script = g_test_build_filename (G_TEST_DIST, "weights", "make-weights.py", NULL);
      const char *make[] = { python, script, NULL, "--minimal", NULL };
      CliRun run = { 0 };

      gen_dir = g_dir_make_tmp ("test-weights-cli-XXXXXX", NULL);
      make[2] = gen_dir;
      spawn (make, &run);
      if (run.exit_status != 0)
        g_error ("make-weights.py failed: %s", run.stderr_text);
      cli_run_clear (&run);
    }

  g_test_add_func ("/weights/cli/inspect/text", test_inspect_text);
  g_test_add_data_func ("/weights/cli/inspect/json/small.pth", "small.pth", test_inspect_json);
  g_test_add_data_func ("/weights/cli/inspect/json/small.safetensors", "small.safetensors",
                        test_inspect_json);
  g_test_add_func ("/weights/cli/inspect/bad-file", test_inspect_bad_file);
  g_test_add_func ("/weights/cli/usage", test_usage);
  result = g_test_run ();

  if (gen_dir != NULL)
    remove_generated ();
  g_free (gen_dir);
  return result;
}
