/* test-weights-file.c: what a weight file holds, as the engine reads it and `weights inspect`
 * prints it
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Usage: test-weights-file PATH-TO-LEAFSCOPE-CLI
 */

#include "config.h"

#include <string.h>
#include <sys/wait.h>

#include "leaf-error.h"
#include "leaf-test.h"
#include "leaf-weights-file.h"

static const char *cli_path;

/* Tensor names with a line feed and a tab, and metadata with a line feed in key and value. */
static const char header[] =
  "{\"__metadata__\":{\"k\\ney\":\"v\\nal\",\"format\":\"pt\"},"
  "\"evil\\nname\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
  "\"tab\\there\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[24,32]}}";

/* A safetensors file: the header's length in 8 little-endian bytes, the header, the data. */
static char *
write_safetensors (const char *dir,
                   gsize      *length)
{
  g_autofree char *path = g_build_filename (dir, "odd names.safetensors", NULL);
  g_autoptr(GByteArray) bytes = g_byte_array_new ();
  guint64 header_length = GUINT64_TO_LE (sizeof header - 1);
  guint8 zeros[32] = { 0 };
  g_autoptr(GError) error = NULL;

  g_byte_array_append (bytes, (const guint8 *) &header_length, 8);
  g_byte_array_append (bytes, (const guint8 *) header, sizeof header - 1);
  g_byte_array_append (bytes, zeros, sizeof zeros);
  g_assert_true (g_file_set_contents (path, (const char *) bytes->data, bytes->len, &error));
  g_assert_no_error (error);
  *length = bytes->len;
  return g_steal_pointer (&path);
}

static void
test_inspect (void)
{
  g_autofree char *dir = g_dir_make_tmp ("weights-file-XXXXXX", NULL);
  g_autofree char *contents = NULL;
  g_autofree char *sha256 = NULL;
  g_autofree char *path = NULL;
  g_autoptr(LeafWeightsFile) file = NULL;
  g_autoptr(GError) error = NULL;
  const LeafTensorInfo *tensor;
  gsize length;

  path = write_safetensors (dir, &length);
  file = leaf_weights_file_inspect (path, &error);
  g_assert_no_error (error);

  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
  sha256 = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) contents, length);
  g_assert_cmpstr (file->sha256, ==, sha256);
  g_assert_cmpint (file->n_values, ==, 7);
  g_assert_cmpuint (file->tensors->len, ==, 2);
  tensor = file->tensors->pdata[0];
  g_assert_cmpstr (tensor->name, ==, "evil\nname");
  g_assert_cmpstr (tensor->dtype, ==, "float32");
  g_assert_cmpuint (tensor->n_dims, ==, 2);
  g_assert_cmpint (tensor->shape[0], ==, 2);
  g_assert_cmpint (tensor->shape[1], ==, 3);
  g_assert_cmpint (tensor->n_values, ==, 6);
  tensor = file->tensors->pdata[1];
  g_assert_cmpstr (tensor->name, ==, "tab\there");
  g_assert_cmpstr (tensor->dtype, ==, "int64");
  g_assert_cmpuint (tensor->n_dims, ==, 0);
  g_assert_cmpint (tensor->n_values, ==, 1);
  g_assert_cmpuint (g_strv_length (file->metadata_keys), ==, 2);
  g_assert_true (g_strv_contains ((const char * const *) file->metadata_keys, "k\ney"));
  for (guint i = 0; file->metadata_keys[i] != NULL; i++)
    g_assert_cmpstr (file->metadata_values[i], ==,
                     g_str_equal (file->metadata_keys[i], "format") ? "pt" : "v\nal");

  leaf_test_remove_tree (dir);
}

static void
test_inspect_damaged (void)
{
  g_autofree char *dir = g_dir_make_tmp ("weights-file-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "damaged.safetensors", NULL);
  g_autofree char *missing = g_build_filename (dir, "missing.pth", NULL);
  g_autoptr(LeafWeightsFile) damaged = NULL;
  g_autoptr(LeafWeightsFile) absent = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_set_contents (path, "\x10\0\0\0\0\0\0\0{\"a\":", 13, NULL));
  damaged = leaf_weights_file_inspect (path, &error);
  g_assert_null (damaged);
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FORMAT);
  g_clear_error (&error);

  absent = leaf_weights_file_inspect (missing, &error);
  g_assert_null (absent);
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO);

  leaf_test_remove_tree (dir);
}

/* Each name stays on its line, escaped as the command line's other plain outputs do. */
static void
test_cli_escapes_names (void)
{
  g_autofree char *dir = g_dir_make_tmp ("weights-file-XXXXXX", NULL);
  g_autofree char *path = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  const char *argv[] = { cli_path, "weights", "inspect", NULL, NULL };
  g_auto(GStrv) lines = NULL;
  gsize length;
  int status;

  path = write_safetensors (dir, &length);
  argv[3] = path;
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                               &status, &error));
  g_assert_no_error (error);
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  g_assert_true (g_regex_match_simple ("^  evil\\\\nname +float32 +\\[2, 3\\]$", out,
                                       G_REGEX_MULTILINE, 0));
  g_assert_true (g_regex_match_simple ("^  tab\\\\there +int64 +\\[\\]$", out,
                                       G_REGEX_MULTILINE, 0));
  g_assert_true (g_regex_match_simple ("^(Metadata:)? +k\\\\ney = v\\\\nal$", out, G_REGEX_MULTILINE, 0));
  /* Four lines about the file, one per metadata entry, a blank one, one per tensor, and nothing
   * after the last line feed. */
  lines = g_strsplit (out, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 4 + 2 + 1 + 2 + 1);
  leaf_test_remove_tree (dir);
}

int
main (int   argc,
      char *argv[])
{
  leaf_test_init (&argc, &argv);
  cli_path = argc > 1 ? argv[1] : NULL;

  g_test_add_func ("/weights-file/inspect", test_inspect);
  g_test_add_func ("/weights-file/inspect-damaged", test_inspect_damaged);
  if (cli_path != NULL)
    g_test_add_func ("/weights-file/cli-escapes-names", test_cli_escapes_names);

  return g_test_run ();
}
