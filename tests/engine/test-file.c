/* test-file.c: the SHA-256 of a file, as every part of the engine computes it
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gstdio.h>

#include "leaf-file.h"
#include "leaf-test.h"

/* More than one piece of the reader's 64 KiB, and a known answer for a short one. */
static void
test_sha256 (void)
{
  g_autofree char *dir = g_dir_make_tmp ("leafscope-file-XXXXXX", NULL);
  g_autofree char *small = g_build_filename (dir, "abc", NULL);
  g_autofree char *large = g_build_filename (dir, "large", NULL);
  g_autofree guint8 *data = g_malloc (200000);
  g_autofree char *expected = NULL;
  g_autofree char *found = NULL;
  g_autofree char *abc = NULL;

  for (gsize i = 0; i < 200000; i++)
    data[i] = (guint8) (i * 7 + i / 251);
  g_assert_true (g_file_set_contents (small, "abc", 3, NULL));
  g_assert_true (g_file_set_contents (large, (const char *) data, 200000, NULL));

  abc = leaf_file_sha256 (small, NULL, NULL);
  g_assert_cmpstr (abc, ==, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  expected = g_compute_checksum_for_data (G_CHECKSUM_SHA256, data, 200000);
  found = leaf_file_sha256 (large, NULL, NULL);
  g_assert_cmpstr (found, ==, expected);
  leaf_test_remove_tree (dir);
}

static void
test_sha256_missing (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *sha = leaf_file_sha256 ("/nonexistent/leafscope/model.safetensors", NULL,
                                           &error);

  g_assert_null (sha);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
}

int
main (int   argc,
      char *argv[])
{
  leaf_test_init (&argc, &argv);
  g_test_add_func ("/file/sha256", test_sha256);
  g_test_add_func ("/file/sha256-missing", test_sha256_missing);
  return g_test_run ();
}
