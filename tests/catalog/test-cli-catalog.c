/* test-cli-catalog.c: the catalog's leafscope-cli subcommands, as a script would use them
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "leaf-test.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "catalog-test-util.h"

typedef struct
{
  char *dir;
  char *photos;
  char *catalog;
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  fixture->dir = ctu_make_tmp_dir ();
  fixture->photos = g_build_filename (fixture->dir, "photos", NULL);
  fixture->catalog = g_build_filename (fixture->dir, "cli.leafscope", NULL);
  /* 3 healthy, 2 blight */
  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *path = g_strdup_printf ("%s/%s/leaf-%u.jpg", fixture->photos,
                                               i < 3 ? "healthy" : "blight", i);
      ctu_write_image (path, "jpeg", 24, 24, i);
    }
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  leaf_test_remove_tree (fixture->dir);
  g_free (fixture->catalog);
  g_free (fixture->photos);
  g_free (fixture->dir);
}

static gboolean
have_cli (void)
{
  if (ctu_cli_path () != NULL)
    return TRUE;
  g_test_skip ("LEAFSCOPE_CLI is not set");
  return FALSE;
}

/* Runs leafscope-cli --catalog CATALOG ARGS... in folder cwd (NULL: ours), with input (NULL:
 * nothing) on its standard input; returns the exit status and fills the outputs. */
static int
run_cli_with (const char         *cwd,
              const char         *input,
              const char         *catalog,
              char              **out,
              char              **err,
              const char * const *args)
{
  g_autoptr(GSubprocessLauncher) launcher =
    ctu_cli_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                          G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GBytes) in = g_bytes_new (input, input != NULL ? strlen (input) : 0);
  g_autoptr(GBytes) out_bytes = NULL;
  g_autoptr(GBytes) err_bytes = NULL;
  g_autoptr(GError) error = NULL;
  int status;

  g_ptr_array_add (argv, (char *) ctu_cli_path ());
  g_ptr_array_add (argv, (char *) "--catalog");
  g_ptr_array_add (argv, (char *) catalog);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);
  if (cwd != NULL)
    g_subprocess_launcher_set_cwd (launcher, cwd);
  process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate (process, in, NULL, &out_bytes, &err_bytes, &error);
  g_assert_no_error (error);
  /* Empty GBytes may hold no data pointer at all. */
  *out = g_strndup (g_bytes_get_size (out_bytes) > 0 ? g_bytes_get_data (out_bytes, NULL) : "",
                    g_bytes_get_size (out_bytes));
  *err = g_strndup (g_bytes_get_size (err_bytes) > 0 ? g_bytes_get_data (err_bytes, NULL) : "",
                    g_bytes_get_size (err_bytes));
  status = g_subprocess_get_if_exited (process) ? g_subprocess_get_exit_status (process)
                                                : 128 + g_subprocess_get_term_sig (process);
  g_test_message ("%s → %d\n%s%s", args[0], status, *out, *err);
  return status;
}

/* Runs the CLI and expects it to succeed; returns its standard output. */
#define RUN_OK(fixture, ...) run_ok ((fixture)->catalog, __VA_ARGS__, NULL)

static char *
run_ok (const char *catalog,
        ...)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autofree char *err = NULL;
  char *out = NULL;
  const char *arg;
  va_list ap;

  va_start (ap, catalog);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (args, (char *) arg);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  if (run_cli_with (NULL, NULL, catalog, &out, &err, (const char * const *) args->pdata) != 0)
    g_error ("leafscope-cli %s failed: %s", (char *) args->pdata[0], err);
  return out;
}

static JsonNode *
parse_json (const char *text)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node = json_from_string (text, &error);

  g_assert_no_error (error);
  g_assert_nonnull (node);
  return node;
}

static void
assert_stats (Fixture    *fixture,
              guint       images,
              guint       labeled,
              guint       missing,
              const char *first_class,
              guint       first_count)
{
  g_autofree char *out = RUN_OK (fixture, "stats", "--json");
  g_autoptr(JsonNode) node = parse_json (out);
  JsonObject *object = json_node_get_object (node);
  JsonObject *classes = json_object_get_object_member (object, "classes");
  g_autoptr(GList) names = json_object_get_members (classes);

  g_assert_cmpuint (json_object_get_size (object), ==, 5);
  g_assert_true (json_object_has_member (object, "agreement"));
  g_assert_cmpint (json_object_get_int_member (object, "images"), ==, images);
  g_assert_cmpint (json_object_get_int_member (object, "labeled"), ==, labeled);
  g_assert_cmpint (json_object_get_int_member (object, "missing"), ==, missing);
  /* Classes come in their order. */
  g_assert_cmpstr (names->data, ==, first_class);
  g_assert_cmpint (json_object_get_int_member (classes, first_class), ==, first_count);
}

static guint
count_listed (Fixture    *fixture,
              const char *option,
              const char *value)
{
  g_autofree char *out = RUN_OK (fixture, "list", "--json", option, value);
  g_autoptr(JsonNode) node = parse_json (out);

  return json_array_get_length (json_node_get_array (node));
}

static void
test_workflow (Fixture       *fixture,
               gconstpointer  data)
{
  g_autofree char *init = NULL;
  g_autofree char *import = NULL;
  g_autofree char *reimport = NULL;
  g_autofree char *labelled = NULL;
  g_autofree char *undone = NULL;
  g_autofree char *redone = NULL;
  g_autofree char *classes = NULL;
  g_autofree char *csv = g_build_filename (fixture->dir, "labels.csv", NULL);
  g_autofree char *csv_out = NULL;
  g_autofree char *csv_text = NULL;
  g_autofree char *tree = g_build_filename (fixture->dir, "tree", NULL);
  g_autofree char *tree_out = NULL;
  g_autofree char *leaf0 = g_build_filename (fixture->photos, "healthy", "leaf-0.jpg", NULL);
  g_autofree char *leaf1 = g_build_filename (fixture->photos, "healthy", "leaf-1.jpg", NULL);
  g_autofree char *sha1 = NULL;
  g_autofree char *prefix1 = NULL;
  g_autoptr(JsonNode) summary = NULL;
  g_autoptr(JsonNode) class_list = NULL;
  g_auto(GStrv) csv_lines = NULL;

  if (!have_cli ())
    return;

  init = RUN_OK (fixture, "init");
  g_assert_nonnull (strstr (init, "0 images"));
  g_clear_pointer (&init, g_free);
  init = RUN_OK (fixture, "init");

  import = RUN_OK (fixture, "import", "--json", fixture->photos);
  summary = parse_json (import);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (summary), "added"), ==, 5);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (summary), "labeled"), ==, 5);
  reimport = RUN_OK (fixture, "import", fixture->photos);
  g_assert_nonnull (strstr (reimport, "Added 0, already present 5"));
  assert_stats (fixture, 5, 5, 0, "blight", 2);

  /* Classes: add one with a colour and key, move it first, rename it. */
  g_free (RUN_OK (fixture, "classes", "add", "leaf mold", "--color", "#aabbcc", "--key", "m"));
  g_free (RUN_OK (fixture, "classes", "move", "leaf mold", "1"));
  g_free (RUN_OK (fixture, "classes", "rename", "leaf mold", "mold"));
  classes = RUN_OK (fixture, "classes", "--json");
  class_list = parse_json (classes);
  {
    JsonObject *first = json_array_get_object_element (json_node_get_array (class_list), 0);

    g_assert_cmpuint (json_array_get_length (json_node_get_array (class_list)), ==, 3);
    g_assert_cmpstr (json_object_get_string_member (first, "name"), ==, "mold");
    g_assert_cmpstr (json_object_get_string_member (first, "color"), ==, "#aabbcc");
    g_assert_cmpstr (json_object_get_string_member (first, "shortcut"), ==, "m");
  }

  /* Label by path and by SHA-256 prefix; unlabel; undo and redo. */
  sha1 = ctu_sha256_of_file (leaf1);
  prefix1 = g_strndup (sha1, 10);
  labelled = RUN_OK (fixture, "label", leaf0, "mold");
  g_assert_true (g_str_has_prefix (labelled, "labeled "));
  g_free (RUN_OK (fixture, "label", prefix1, "mold"));
  assert_stats (fixture, 5, 5, 0, "mold", 2);
  g_assert_cmpuint (count_listed (fixture, "--class", "mold"), ==, 2);
  g_free (RUN_OK (fixture, "unlabel", sha1));
  g_assert_cmpuint (count_listed (fixture, "--unlabeled", NULL), ==, 1);
  undone = RUN_OK (fixture, "undo");
  g_assert_true (g_str_has_prefix (undone, "Undone: "));
  g_assert_cmpuint (count_listed (fixture, "--unlabeled", NULL), ==, 0);
  g_free (RUN_OK (fixture, "undo"));
  assert_stats (fixture, 5, 5, 0, "mold", 1);
  redone = RUN_OK (fixture, "redo");
  g_assert_true (g_str_has_prefix (redone, "Redone: "));
  assert_stats (fixture, 5, 5, 0, "mold", 2);

  /* Export: one CSV line per label, and a tree. */
  csv_out = RUN_OK (fixture, "export-csv", csv);
  g_assert_true (g_file_get_contents (csv, &csv_text, NULL, NULL));
  csv_lines = g_strsplit (g_strchomp (csv_text), "\n", -1);
  g_assert_cmpuint (g_strv_length (csv_lines), ==, 1 + 5);
  g_assert_cmpstr (csv_lines[0], ==, "sha256,path,class,labeller,time,how");
  tree_out = RUN_OK (fixture, "export-folder", tree);
  g_assert_nonnull (strstr (tree_out, "Exported 5 labelled and 0 unlabelled images"));

  /* A file that vanishes is missing, not gone. */
  g_assert_cmpint (g_unlink (leaf0), ==, 0);
  assert_stats (fixture, 5, 5, 1, "mold", 2);
  g_assert_cmpuint (count_listed (fixture, "--missing", NULL), ==, 1);
}

static void
test_errors (Fixture       *fixture,
             gconstpointer  data)
{
  struct { const char *args[5]; int status; const char *message; } cases[] = {
    { { "stats" }, 1, "no catalog" },
    { { "init" }, 0, NULL },
    { { "label", "/nonexistent.jpg", "healthy" }, 1, "no image" },
    { { "classes", "remove", "nothing" }, 1, "no class" },
    { { "classes", "add", "a/b" }, 1, "cannot name a class" },
    { { "undo" }, 1, "nothing to undo" },
    { { "list", "--class", "x", "--unlabeled" }, 2, "choose one" },
    { { "stats", "--frobnicate" }, 2, "Unknown option" },
    { { "export-folder", "/" }, 1, "not empty" },
  };

  if (!have_cli ())
    return;
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *out = NULL;
      g_autofree char *err = NULL;
      int status = run_cli_with (NULL, NULL, fixture->catalog, &out, &err, cases[i].args);

      g_assert_cmpint (status, ==, cases[i].status);
      if (cases[i].message != NULL)
        {
          g_autofree char *lower = g_utf8_strdown (err, -1);
          g_autofree char *wanted = g_utf8_strdown (cases[i].message, -1);

          g_assert_nonnull (strstr (lower, wanted));
          g_assert_cmpstr (out, ==, "");
        }
    }
}

/* Runs the CLI with args (NULL-terminated) and expects exit status 0. */
static char *
run_args_ok (Fixture            *fixture,
             const char         *cwd,
             const char * const *args)
{
  g_autofree char *err = NULL;
  char *out = NULL;

  g_assert_cmpint (run_cli_with (cwd, NULL, fixture->catalog, &out, &err, args), ==, 0);
  return out;
}

static char *
leaf_path (Fixture *fixture,
           guint    i)
{
  return g_strdup_printf ("%s/%s/leaf-%u.jpg", fixture->photos, i < 3 ? "healthy" : "blight", i);
}

/* Every line of `label --stdin` is applied or reported by its number, also after a line in
 * another encoding (a Windows-1252 TSV); the exit status says whether all were applied. */
static void
test_label_stdin_every_line (Fixture       *fixture,
                             gconstpointer  data)
{
  g_auto(GStrv) leaf = g_new0 (char *, 6);
  g_autofree char *input = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  const char *label_args[] = { "label", "--stdin", NULL };

  if (!have_cli ())
    return;
  for (guint i = 0; i < 5; i++)
    leaf[i] = leaf_path (fixture, i);
  g_free (RUN_OK (fixture, "import", fixture->photos));
  input = g_strdup_printf ("%s\tblight\n"            /* 1: applied */
                           "%s\ttiz\xf3n_tard\xedo\n" /* 2: Windows-1252 */
                           "%s\tblight\n"            /* 3: applied */
                           "no tab on this line\n"   /* 4 */
                           "%s\tno such class\n"     /* 5 */
                           "\n"                      /* 6: blank, nothing to do */
                           "%s\thealthy",            /* 7: applied, no final newline */
                           leaf[0], leaf[1], leaf[2], leaf[3], leaf[4]);

  g_assert_cmpint (run_cli_with (NULL, input, fixture->catalog, &out, &err, label_args), ==, 1);
  g_assert_cmpuint (ctu_count_lines (out), ==, 3);
  g_assert_nonnull (strstr (err, "line 2:"));
  g_assert_nonnull (strstr (err, "UTF-8"));
  g_assert_nonnull (strstr (err, "line 4:"));
  g_assert_nonnull (strstr (err, "line 5:"));
  g_assert_null (strstr (err, "line 1:"));
  g_assert_null (strstr (err, "line 3:"));
  g_assert_null (strstr (err, "line 7:"));
  /* blight: leaf-0 and leaf-2 by lines 1 and 3, leaf-3 as imported. */
  assert_stats (fixture, 5, 5, 0, "blight", 3);
}

/* Relocating checks each file's content: a different photo of the same size and name stays
 * unmatched (and missing), and so does one that is not there; both are reported. */
static void
test_relocate_checks_content (Fixture       *fixture,
                              gconstpointer  data)
{
  g_autofree char *moved = g_build_filename (fixture->dir, "moved", NULL);
  g_autofree char *swapped = g_build_filename (moved, "healthy", "leaf-1.jpg", NULL);
  g_autofree char *gone = g_build_filename (moved, "blight", "leaf-4.jpg", NULL);
  g_autofree char *bytes = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  const char *args[] = { "relocate", fixture->photos, moved, NULL };
  gsize length = 0;

  if (!have_cli ())
    return;
  g_free (RUN_OK (fixture, "import", fixture->photos));
  g_assert_cmpint (g_rename (fixture->photos, moved), ==, 0);
  /* Another scan under the same name, byte for byte as long. */
  g_assert_true (g_file_get_contents (swapped, &bytes, &length, NULL));
  bytes[length / 2] ^= 0x5a;
  g_assert_true (g_file_set_contents (swapped, bytes, length, NULL));
  g_assert_cmpint (g_unlink (gone), ==, 0);

  g_assert_cmpint (run_cli_with (NULL, NULL, fixture->catalog, &out, &err, args), ==, 1);
  g_assert_nonnull (strstr (out, "3 files"));
  g_assert_nonnull (strstr (err, swapped));
  g_assert_nonnull (strstr (err, "leaf-4.jpg"));
  g_assert_nonnull (strstr (err, "2 files"));
  /* The swapped scan kept the old path (missing), not another photo's label. */
  assert_stats (fixture, 5, 5, 2, "blight", 2);
  g_assert_cmpuint (count_listed (fixture, "--missing", NULL), ==, 2);
}

/* A path named on the command line that is not there is an error; the rest is imported. */
static void
test_import_missing_path (Fixture       *fixture,
                          gconstpointer  data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  const char *args[] = { "import", fixture->photos, "/no/such/folder", NULL };

  if (!have_cli ())
    return;
  g_assert_cmpint (run_cli_with (NULL, NULL, fixture->catalog, &out, &err, args), ==, 1);
  g_assert_nonnull (strstr (err, "/no/such/folder"));
  assert_stats (fixture, 5, 5, 0, "blight", 2);
}

/* Numbers outside their range are usage errors that name the option, never a silent default. */
static void
test_numbers_validated (Fixture       *fixture,
                        gconstpointer  data)
{
  struct { const char *args[6]; const char *message; } cases[] = {
    { { "import", "--batch-size", "0", "/nonexistent" }, "--batch-size" },
    { { "import", "--max-pixels", "-1", "/nonexistent" }, "--max-pixels" },
    { { "list", "--limit", "-2" }, "--limit" },
    { { "list", "--offset", "-1" }, "--offset" },
    { { "list", "--offset", "3x" }, "--offset" },
    { { "split", "--val-fraction", "2" }, "--val-fraction" },
    { { "split", "--val-fraction", "0" }, "--val-fraction" },
    { { "split", "--test-fraction", "nan" }, "--test-fraction" },
    { { "split", "--val-fraction", "0.6", "--test-fraction", "0.5" }, "--test-fraction" },
    { { "split", "--seed", "-1" }, "--seed" },
    { { "train", "--head-epochs", "-5" }, "--head-epochs" },
    { { "train", "--finetune-epochs", "-1" }, "--finetune-epochs" },
    { { "train", "--head-lr", "-1" }, "--head-lr" },
    { { "train", "--finetune-lr", "inf" }, "--finetune-lr" },
    { { "train", "--label-smoothing", "-0.5" }, "--label-smoothing" },
    { { "train", "--label-smoothing", "1" }, "--label-smoothing" },
    { { "train", "--val-fraction", "1" }, "--val-fraction" },
    { { "train", "--batch-size", "0" }, "--batch-size" },
    { { "train", "--image-size", "16" }, "--image-size" },
    { { "train", "--unfreeze", "9" }, "--unfreeze" },
    { { "train", "--patience", "0" }, "--patience" },
    { { "train", "--views", "3" }, "views" },
    { { "train", "--seed", "-3" }, "--seed" },
    { { "train", "--head-epochs", "0", "--finetune-epochs", "0" }, "epoch" },
    { { "predict", "--top", "0", "leaf.jpg" }, "--top" },
    { { "next", "--count", "0" }, "--count" },
    { { "next", "--max-similarity", "2" }, "--max-similarity" },
  };

  if (!have_cli ())
    return;
  g_free (RUN_OK (fixture, "init"));
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *out = NULL;
      g_autofree char *err = NULL;

      g_assert_cmpint (run_cli_with (NULL, NULL, fixture->catalog, &out, &err, cases[i].args), ==,
                       2);
      g_assert_nonnull (strstr (err, cases[i].message));
      g_assert_cmpstr (out, ==, "");
    }
}

/* “--” ends the options, so that names starting with “-” are names. */
static void
test_double_dash (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autofree char *dashed = g_build_filename (fixture->dir, "-leaf.jpg", NULL);
  g_autofree char *import = NULL;
  g_autofree char *classes = NULL;
  g_autoptr(JsonNode) summary = NULL;
  g_autoptr(JsonNode) class_list = NULL;
  const char *import_args[] = { "import", "--json", "--", "-leaf.jpg", NULL };
  const char *class_args[] = { "classes", "add", "--", "-mild", NULL };
  const char *label_args[] = { "label", "--", "-leaf.jpg", "-mild", NULL };
  const char *global_args[] = { "--", "classes", "--json", NULL };
  JsonObject *object;

  if (!have_cli ())
    return;
  ctu_write_image (dashed, "jpeg", 20, 20, 99);
  import = run_args_ok (fixture, fixture->dir, import_args);
  summary = parse_json (import);
  object = json_node_get_object (summary);
  g_assert_cmpint (json_object_get_int_member (object, "added"), ==, 1);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (object, "skipped")), ==,
                    0);
  g_free (run_args_ok (fixture, NULL, class_args));
  g_free (run_args_ok (fixture, fixture->dir, label_args));
  classes = run_args_ok (fixture, NULL, global_args);
  class_list = parse_json (classes);
  {
    JsonObject *first = json_array_get_object_element (json_node_get_array (class_list), 0);

    g_assert_cmpstr (json_object_get_string_member (first, "name"), ==, "-mild");
    g_assert_cmpint (json_object_get_int_member (first, "images"), ==, 1);
  }
}

/* Paths holding tabs, line breaks and backslashes: escaped as \t, \n and \\ in the plain list and
 * the split's TSV, so that one photo stays one line; exact in JSON. */
static void
test_tabs_and_newlines_escaped (Fixture       *fixture,
                                gconstpointer  data)
{
  static const char *const names[] = { "tab\there.jpg", "new\nline.jpg", "back\\slash.jpg" };
  static const char *const escaped[] = { "tab\\there.jpg", "new\\nline.jpg", "back\\\\slash.jpg" };
  g_autofree char *tsv = g_build_filename (fixture->dir, "split.tsv", NULL);
  g_autofree char *tsv_text = NULL;
  g_autofree char *list = NULL;
  g_autofree char *json = NULL;
  g_autoptr(JsonNode) images = NULL;
  g_auto(GStrv) rows = NULL;
  guint n_exact = 0;

  if (!have_cli ())
    return;
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *path = g_build_filename (fixture->photos, "healthy", names[i], NULL);
      ctu_write_image (path, "jpeg", 20, 20, 50 + i);
    }
  g_free (RUN_OK (fixture, "import", fixture->photos));

  list = RUN_OK (fixture, "list");
  g_assert_cmpuint (ctu_count_lines (list), ==, 8);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    g_assert_nonnull (strstr (list, escaped[i]));

  json = RUN_OK (fixture, "list", "--json");
  images = parse_json (json);
  for (guint i = 0; i < json_array_get_length (json_node_get_array (images)); i++)
    {
      JsonObject *image = json_array_get_object_element (json_node_get_array (images), i);
      g_autofree char *base = g_path_get_basename (json_object_get_string_member (image, "path"));

      for (guint n = 0; n < G_N_ELEMENTS (names); n++)
        n_exact += g_str_equal (base, names[n]);
    }
  g_assert_cmpuint (n_exact, ==, G_N_ELEMENTS (names));

  g_free (RUN_OK (fixture, "split", "--export", tsv));
  g_assert_true (g_file_get_contents (tsv, &tsv_text, NULL, NULL));
  g_assert_cmpuint (ctu_count_lines (tsv_text), ==, 8);
  rows = g_strsplit (g_strchomp (tsv_text), "\n", -1);
  for (guint i = 0; rows[i] != NULL; i++)
    {
      g_auto(GStrv) fields = g_strsplit (rows[i], "\t", -1);
      g_assert_cmpuint (g_strv_length (fields), ==, 3);
    }
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    g_assert_nonnull (strstr (tsv_text, escaped[i]));
}

/* import-labels applies what it can, names every line it could not apply on standard error
 * and in --json, and exits with 1; export-labels writes Label Studio's form; a tree that
 * export-folder wrote imports into a new catalog with its labels and unlabelled photos. */
static void
test_labels_in_and_out (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autofree char *csv = g_build_filename (fixture->dir, "sheet.csv", NULL);
  g_autofree char *json_path = g_build_filename (fixture->dir, "ls.json", NULL);
  g_autofree char *tree = g_build_filename (fixture->dir, "tree", NULL);
  g_autofree char *copy = g_build_filename (fixture->dir, "copy.leafscope", NULL);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *exported = NULL;
  g_autofree char *reimported = NULL;
  g_autoptr(JsonNode) report = NULL;
  g_autoptr(JsonNode) tasks = NULL;
  g_autoptr(GError) error = NULL;
  JsonArray *not_applied;
  const char *plain_args[] = { "import-labels", csv, NULL };
  const char *json_args[] = { "import-labels", "--json", "--create-classes", csv, NULL };
  const char *bad_format[] = { "export-labels", "--format=yaml", json_path, NULL };
  const char *import_tree[] = { "import", tree, NULL };

  if (!have_cli ())
    return;
  g_free (RUN_OK (fixture, "import", "--no-folder-labels", fixture->photos));
  g_free (RUN_OK (fixture, "classes", "add", "healthy"));
  g_file_set_contents (csv, "path,class,labeller\n"
                       "photos/healthy/leaf-0.jpg,healthy,ana\n"
                       "photos/blight/leaf-3.jpg,rust,ana\n"
                       "photos/nope.jpg,healthy,ana\n", -1, &error);
  g_assert_no_error (error);

  g_assert_cmpint (run_cli_with (NULL, NULL, fixture->catalog, &out, &err, plain_args), ==, 1);
  g_assert_nonnull (strstr (err, "Line 3: "));
  g_assert_nonnull (strstr (err, "--create-classes"));
  g_assert_nonnull (strstr (err, "Line 4: "));
  g_assert_null (strstr (err, "Line 2: "));
  g_assert_nonnull (strstr (out, "Labelled 1,"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (run_cli_with (NULL, NULL, fixture->catalog, &out, &err, json_args), ==, 1);
  report = parse_json (out);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (report), "labelled"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (report), "unchanged"), ==,
                   1);
  not_applied = json_object_get_array_member (json_node_get_object (report), "not_applied");
  g_assert_cmpuint (json_array_get_length (not_applied), ==, 1);
  g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (not_applied, 0),
                                               "line"), ==, 4);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_free (RUN_OK (fixture, "export-labels", "--format=label-studio", json_path));
  g_assert_true (g_file_get_contents (json_path, &out, NULL, NULL));
  tasks = parse_json (out);
  g_assert_cmpuint (json_array_get_length (json_node_get_array (tasks)), ==, 2);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (run_cli_with (NULL, NULL, fixture->catalog, &out, &err, bad_format), ==, 2);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_free (RUN_OK (fixture, "export-folder", tree));
  g_assert_cmpint (run_cli_with (NULL, NULL, copy, &out, &err, import_tree), ==, 0);
  g_assert_nonnull (strstr (out, "Added 5,"));
  g_assert_nonnull (strstr (out, "labelled 2,"));
  exported = ctu_catalog_state (fixture->catalog);
  reimported = ctu_catalog_state (copy);
  g_assert_cmpstr (reimported, ==, exported);
}

int
main (int   argc,
      char *argv[])
{
  leaf_test_init (&argc, &argv);

#define ADD(path, func) \
  g_test_add ("/catalog/cli/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

  ADD ("workflow", test_workflow);
  ADD ("errors-on-stderr", test_errors);
  ADD ("label-stdin-reports-every-line", test_label_stdin_every_line);
  ADD ("relocate-checks-content", test_relocate_checks_content);
  ADD ("import-missing-path", test_import_missing_path);
  ADD ("numbers-validated", test_numbers_validated);
  ADD ("double-dash-ends-options", test_double_dash);
  ADD ("tabs-and-newlines-escaped", test_tabs_and_newlines_escaped);
  ADD ("labels-in-and-out", test_labels_in_and_out);

  return g_test_run ();
}
