/* replay.c: runs a fuzz target's LLVMFuzzerTestOneInput over files, without libFuzzer
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Linked with each target's source, it makes the seed corpus and every input a fuzzer found
 * (tests/fuzz/corpus-<target>/regression-*) ordinary regression tests of any build: a target
 * aborts on anything wrong, and the tests' G_DEBUG=fatal-criticals makes a critical abort too.
 * Usage: replay-<target> DIR...; prints TAP, one test per file.
 */

#include "config.h"

#include <glib.h>
#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static int
compare_paths (gconstpointer a,
               gconstpointer b)
{
  return g_strcmp0 (*(char * const *) a, *(char * const *) b);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);

  for (int i = 1; i < argc; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GDir) dir = g_dir_open (argv[i], 0, &error);
      const char *name;

      if (dir == NULL)
        {
          printf ("Bail out! %s\n", error->message);
          return 1;
        }
      while ((name = g_dir_read_name (dir)) != NULL)
        g_ptr_array_add (paths, g_build_filename (argv[i], name, NULL));
    }
  g_ptr_array_sort (paths, compare_paths);

  printf ("1..%u\n", paths->len);
  for (guint i = 0; i < paths->len; i++)
    {
      const char *path = g_ptr_array_index (paths, i);
      g_autofree char *data = NULL;
      gsize length = 0;
      g_autoptr(GError) error = NULL;

      if (!g_file_get_contents (path, &data, &length, &error))
        {
          printf ("not ok %u - %s: %s\n", i + 1, path, error->message);
          continue;
        }
      fflush (stdout);
      LLVMFuzzerTestOneInput ((const uint8_t *) data, length);
      printf ("ok %u - %s\n", i + 1, path);
    }
  return 0;
}
