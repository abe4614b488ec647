/* test-cli-catalog.c: the catalog's leafscope-cli subcommands, as a script would use them
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

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
  ctu_remove_tree (fixture->dir);
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
  int status;

  va_start (ap, catalog);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (args, (char *) arg);
  va_end (ap);
  g_assert_cmpuint (args->len, <=, 8);
  while (args->len < 8)
    g_ptr_array_add (args, NULL);
  status = ctu_run_cli (catalog, &out, &err, args->pdata[0], args->pdata[1], args->pdata[2],
                        args->pdata[3], args->pdata[4], args->pdata[5], args->pdata[6],
                        args->pdata[7], NULL);
  if (status != 0)
    g_error ("leafscope-cli %s failed (%d): %s", (char *) args->pdata[0], status, err);
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

  g_assert_cmpuint (json_object_get_size (object), ==, 4);
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
  g_assert_nonnull (strstr (tree_out, "Exported 5 images"));

  /* A file that vanishes is missing, not gone. */
  g_assert_cmpint (g_unlink (leaf0), ==, 0);
  assert_stats (fixture, 5, 5, 1, "mold", 2);
  g_assert_cmpuint (count_listed (fixture, "--missing", NULL), ==, 1);
}

static void
test_errors (Fixture       *fixture,
             gconstpointer  data)
{
  struct { const char *args[4]; int status; const char *message; } cases[] = {
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
      int status = ctu_run_cli (fixture->catalog, &out, &err, cases[i].args[0], cases[i].args[1],
                                cases[i].args[2], cases[i].args[3], NULL);

      g_test_message ("%s → %d: %s", cases[i].args[0], status, err);
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

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/catalog/cli/workflow", Fixture, NULL, fixture_set_up, test_workflow,
              fixture_tear_down);
  g_test_add ("/catalog/cli/errors-on-stderr", Fixture, NULL, fixture_set_up, test_errors,
              fixture_tear_down);

  return g_test_run ();
}
