/* test-feature-cache.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "leaf-test.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <utime.h>

#include "leaf-feature-cache.h"

#define SHA_A "aa11111111111111111111111111111111111111111111111111111111111111"
#define SHA_B "bb22222222222222222222222222222222222222222222222222222222222222"

static char *
make_tmpdir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("leaf-cache-XXXXXX", &error);
  g_assert_no_error (error);
  return dir;
}

static void
test_round_trip (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autoptr(LeafFeatureCache) cache = leaf_feature_cache_new (dir, 1 << 20);
  g_autofree char *ns = leaf_feature_cache_namespace (SHA_B, 224, 7);
  g_autoptr(GError) error = NULL;
  guint16 in[100], out[100];

  for (guint i = 0; i < G_N_ELEMENTS (in); i++)
    in[i] = (guint16) (i * 7919u);

  g_assert_false (leaf_feature_cache_lookup (cache, ns, SHA_A, 0, out, sizeof out));
  g_assert_true (leaf_feature_cache_store (cache, ns, SHA_A, 0, in, sizeof in, &error));
  g_assert_no_error (error);
  memset (out, 0, sizeof out);
  g_assert_true (leaf_feature_cache_lookup (cache, ns, SHA_A, 0, out, sizeof out));
  g_assert_cmpmem (in, sizeof in, out, sizeof out);

  /* Another view, another size or another namespace is another entry. */
  g_assert_false (leaf_feature_cache_lookup (cache, ns, SHA_A, 1, out, sizeof out));
  g_assert_false (leaf_feature_cache_lookup (cache, ns, SHA_A, 0, out, sizeof out - 2));
  {
    g_autofree char *other = leaf_feature_cache_namespace (SHA_B, 160, 7);
    g_assert_cmpstr (other, !=, ns);
    g_assert_false (leaf_feature_cache_lookup (cache, other, SHA_A, 0, out, sizeof out));
  }

  /* A reopened cache sees what an earlier one stored. */
  {
    g_autoptr(LeafFeatureCache) again = leaf_feature_cache_new (dir, 1 << 20);
    g_assert_true (leaf_feature_cache_lookup (again, ns, SHA_A, 0, out, sizeof out));
    g_assert_cmpuint (leaf_feature_cache_get_size (again), >=, sizeof in);
  }

  leaf_test_remove_tree (dir);
}

static void
test_damaged_entry_is_a_miss (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autoptr(LeafFeatureCache) cache = leaf_feature_cache_new (dir, 1 << 20);
  g_autofree char *ns = leaf_feature_cache_namespace (SHA_B, 224, 7);
  g_autofree char *path = NULL;
  guint8 in[64] = { 1, 2, 3 }, out[64];
  g_autofree char *contents = NULL;
  gsize len;

  g_assert_true (leaf_feature_cache_store (cache, ns, SHA_A, 3, in, sizeof in, NULL));
  path = g_strdup_printf ("%s/%s/aa/%s-v3.f16", dir, ns, SHA_A);
  g_assert_true (g_file_get_contents (path, &contents, &len, NULL));

  /* Truncated, as a crash in an older version might have left it. */
  g_assert_true (g_file_set_contents (path, contents, len - 1, NULL));
  g_assert_false (leaf_feature_cache_lookup (cache, ns, SHA_A, 3, out, sizeof out));

  /* Foreign bytes. */
  g_assert_true (g_file_set_contents (path, "not a cache entry at all, just some text", -1, NULL));
  g_assert_false (leaf_feature_cache_lookup (cache, ns, SHA_A, 3, out, sizeof out));

  /* Keys that would climb out of the cache folder are refused. */
  g_assert_false (leaf_feature_cache_store (cache, "../escape", SHA_A, 0, in, sizeof in, NULL));
  g_assert_false (leaf_feature_cache_store (cache, ns, "../../x", 0, in, sizeof in, NULL));

  leaf_test_remove_tree (dir);
}

static void
test_trim_removes_least_recently_used (void)
{
  g_autofree char *dir = make_tmpdir ();
  /* Room for about four entries of 1 KiB. */
  g_autoptr(LeafFeatureCache) cache = leaf_feature_cache_new (dir, 4 * 1024 + 100);
  g_autofree char *ns = leaf_feature_cache_namespace (SHA_B, 224, 7);
  guint8 block[1024] = { 0 }, out[1024];
  g_autofree char *first = NULL;
  g_autofree char *sha = NULL;

  for (guint i = 0; i < 4; i++)
    {
      g_autofree char *s = g_strdup_printf ("%02u%062u", i, 0);
      g_assert_true (leaf_feature_cache_store (cache, ns, s, 0, block, sizeof block, NULL));
      /* Entries are ordered by modification time, which has one-second resolution on some file
       * systems; set it explicitly instead of sleeping. */
      {
        g_autofree char *path = g_strdup_printf ("%s/%s/%.2s/%s-v0.f16", dir, ns, s, s);
        struct utimbuf t = { 1000000 + i * 10, 1000000 + i * 10 };
        g_assert_cmpint (g_utime (path, &t), ==, 0);
      }
    }
  /* Entry 00 is the oldest, but reading it makes it the most recently used. */
  first = g_strdup_printf ("%02u%062u", 0, 0);
  g_assert_true (leaf_feature_cache_lookup (cache, ns, first, 0, out, sizeof out));

  /* One more entry overflows the bound; trim keeps three quarters of it. */
  sha = g_strdup_printf ("%02u%062u", 9, 0);
  g_assert_true (leaf_feature_cache_store (cache, ns, sha, 0, block, sizeof block, NULL));
  g_assert_cmpuint (leaf_feature_cache_get_size (cache), <=, 4 * 1024 + 100);

  g_assert_true (leaf_feature_cache_lookup (cache, ns, first, 0, out, sizeof out));
  g_assert_true (leaf_feature_cache_lookup (cache, ns, sha, 0, out, sizeof out));
  {
    g_autofree char *oldest = g_strdup_printf ("%02u%062u", 1, 0);
    g_assert_false (leaf_feature_cache_lookup (cache, ns, oldest, 0, out, sizeof out));
  }

  leaf_test_remove_tree (dir);
}

int
main (int   argc,
      char *argv[])
{
  leaf_test_init (&argc, &argv);
  g_test_add_func ("/feature-cache/round-trip", test_round_trip);
  g_test_add_func ("/feature-cache/damaged-entry-is-a-miss", test_damaged_entry_is_a_miss);
  g_test_add_func ("/feature-cache/trim-removes-least-recently-used",
                   test_trim_removes_least_recently_used);
  return g_test_run ();
}
