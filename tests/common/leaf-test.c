/* leaf-test.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <glib/gstdio.h>
#include <stdlib.h>

#include "leaf-test.h"

static char *test_home;

static void
remove_test_home (void)
{
  leaf_test_remove_tree (test_home);
  g_clear_pointer (&test_home, g_free);
}

/**
 * leaf_test_init:
 *
 * g_test_init(), after giving the program a home and XDG folders of its own in the environment,
 * removed at exit. Not G_TEST_OPTION_ISOLATE_DIRS: that changes only what GLib in this process
 * answers and leaves HOME and XDG_* at /dev/null for the `leafscope-cli` and Python processes the
 * tests start; and it hides XDG_DATA_DIRS, where GTK and GdkPixbuf find the MIME database.
 */
void
leaf_test_init (int    *argc,
                char ***argv)
{
  static const char *const kinds[] = { "CACHE", "CONFIG", "DATA", "STATE" };

  test_home = g_dir_make_tmp ("leafscope-test-home-XXXXXX", NULL);
  g_assert_nonnull (test_home);
  atexit (remove_test_home);
  g_setenv ("HOME", test_home, TRUE);
  for (guint i = 0; i < G_N_ELEMENTS (kinds); i++)
    {
      g_autofree char *variable = g_strdup_printf ("XDG_%s_HOME", kinds[i]);
      g_autofree char *lower = g_ascii_strdown (kinds[i], -1);
      g_autofree char *folder = g_build_filename (test_home, lower, NULL);

      g_setenv (variable, folder, TRUE);
    }
  g_test_init (argc, argv, NULL);
}

/**
 * leaf_test_remove_tree:
 * @path: a file or folder; nothing happens when it does not exist
 *
 * Removes @path and everything below it, giving back the permissions tests take away.
 */
void
leaf_test_remove_tree (const char *path)
{
  g_autoptr(GDir) dir = NULL;
  const char *name;
  GStatBuf st;

  if (path == NULL || g_lstat (path, &st) != 0)
    return;
  if (S_ISDIR (st.st_mode))
    {
      g_chmod (path, 0700);
      dir = g_dir_open (path, 0, NULL);
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          leaf_test_remove_tree (child);
        }
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

/**
 * leaf_test_write_class_photo:
 * @path: the PNG to write
 * @klass: 0 for reddish noise, anything else for greenish noise
 * @seed: which noise
 *
 * Two classes a network can tell apart from a few photos, so that a short run has something to
 * learn; each seed gives another photo.
 */
void
leaf_test_write_class_photo (const char *path,
                             guint       klass,
                             guint       seed,
                             int         width,
                             int         height)
{
  g_autoptr(GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, width, height);
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  guint8 *pixels = gdk_pixbuf_get_pixels (pixbuf);
  int stride = gdk_pixbuf_get_rowstride (pixbuf);
  g_autoptr(GError) error = NULL;

  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      {
        guint8 *p = pixels + y * stride + x * 3;
        int noise = g_rand_int_range (rand, 0, 80);

        p[0] = klass == 0 ? 150 + noise : 40 + noise / 2;
        p[1] = klass == 0 ? 60 + noise / 2 : 140 + noise;
        p[2] = 50 + ((x + y) % 16) * 4;
      }
  g_assert_true (gdk_pixbuf_save (pixbuf, path, "png", &error, NULL));
  g_assert_no_error (error);
}
