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

#include "leaf-error.h"
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

#define ROW_BYTES 200

static LeafFeatureTable *
open_table (LeafFeatureCache *cache,
            const char       *ns,
            guint             view,
            gsize             row_bytes)
{
  g_autoptr(GError) error = NULL;
  LeafFeatureTable *table = leaf_feature_cache_open_table (cache, ns, view, row_bytes, &error);

  g_assert_no_error (error);
  g_assert_nonnull (table);
  return table;
}

static void
fill (guint16 *row,
      guint    seed)
{
  for (guint i = 0; i < ROW_BYTES / 2; i++)
    row[i] = (guint16) (i * 7919u + seed);
}

static void
test_round_trip (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autoptr(LeafFeatureCache) cache = leaf_feature_cache_new (dir, 1 << 20);
  g_autofree char *ns = leaf_feature_cache_namespace ("/a.leafscope", SHA_B, 224, 7);
  g_autoptr(LeafFeatureTable) table = open_table (cache, ns, 0, ROW_BYTES);
  g_autoptr(GError) error = NULL;
  guint16 a[ROW_BYTES / 2], b[ROW_BYTES / 2], out[ROW_BYTES / 2];
  guint64 slot_a, slot_b, slot;

  fill (a, 1);
  fill (b, 2);
  g_assert_false (leaf_feature_table_lookup (table, SHA_A, &slot));
  g_assert_true (leaf_feature_table_append (table, SHA_A, a, &slot_a, &error));
  g_assert_no_error (error);
  g_assert_true (leaf_feature_table_append (table, SHA_B, b, &slot_b, &error));
  g_assert_cmpuint (slot_a, !=, slot_b);
  g_assert_true (leaf_feature_table_lookup (table, SHA_A, &slot));
  g_assert_cmpuint (slot, ==, slot_a);
  g_assert_true (leaf_feature_table_read (table, slot_b, out, &error));
  g_assert_cmpmem (b, sizeof b, out, sizeof out);

  /* Training reads the rows through the mapping. */
  g_assert_true (leaf_feature_table_map (table, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (leaf_feature_table_row (table, slot_a), ROW_BYTES, a, sizeof a);
  g_assert_cmpmem (leaf_feature_table_row (table, slot_b), ROW_BYTES, b, sizeof b);
  /* Letting the pages go loses nothing: they come back from the file. */
  leaf_feature_table_release (table);
  g_assert_cmpmem (leaf_feature_table_row (table, slot_a), ROW_BYTES, a, sizeof a);

  /* Another view, another row size or another namespace (weights, size, cut, catalog) is
   * another table. */
  {
    g_autoptr(LeafFeatureTable) other_view = open_table (cache, ns, 1, ROW_BYTES);
    g_autofree char *other_catalog = leaf_feature_cache_namespace ("/b.leafscope", SHA_B, 224,
                                                                   7);
    g_autofree char *other_size = leaf_feature_cache_namespace ("/a.leafscope", SHA_B, 160, 7);
    g_autoptr(LeafFeatureTable) elsewhere = open_table (cache, other_catalog, 0, ROW_BYTES);

    g_assert_false (leaf_feature_table_lookup (other_view, SHA_A, &slot));
    g_assert_false (leaf_feature_table_lookup (elsewhere, SHA_A, &slot));
    g_assert_cmpstr (other_size, !=, ns);
    g_assert_cmpstr (other_catalog, !=, ns);
  }

  /* A reopened cache sees what an earlier one stored. */
  {
    g_autoptr(LeafFeatureCache) again = leaf_feature_cache_new (dir, 1 << 20);
    g_autoptr(LeafFeatureTable) reopened = open_table (again, ns, 0, ROW_BYTES);

    g_assert_true (leaf_feature_table_lookup (reopened, SHA_B, &slot));
    g_assert_true (leaf_feature_table_read (reopened, slot, out, NULL));
    g_assert_cmpmem (b, sizeof b, out, sizeof out);
    g_assert_cmpuint (leaf_feature_cache_get_size (again), >=, 2 * ROW_BYTES);
  }
  /* Opened with another row size, the file is not this table: it starts again. */
  {
    g_autoptr(LeafFeatureCache) again = leaf_feature_cache_new (dir, 1 << 20);
    g_autoptr(LeafFeatureTable) resized = open_table (again, ns, 0, ROW_BYTES + 2);

    g_assert_false (leaf_feature_table_lookup (resized, SHA_A, &slot));
  }

  leaf_test_remove_tree (dir);
}

static void
test_damaged_rows_are_misses (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autoptr(LeafFeatureCache) cache = leaf_feature_cache_new (dir, 1 << 20);
  g_autofree char *ns = leaf_feature_cache_namespace ("/a.leafscope", SHA_B, 224, 7);
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *path = NULL;
  guint16 a[ROW_BYTES / 2], b[ROW_BYTES / 2];
  guint64 slot;
  gsize len;

  fill (a, 1);
  fill (b, 2);
  {
    g_autoptr(LeafFeatureTable) table = open_table (cache, ns, 3, ROW_BYTES);
    g_assert_true (leaf_feature_table_append (table, SHA_A, a, &slot, NULL));
    g_assert_true (leaf_feature_table_append (table, SHA_B, b, &slot, NULL));
    path = g_strdup (leaf_feature_table_get_path (table));
  }
  g_assert_true (g_file_get_contents (path, &contents, &len, NULL));

  /* A flipped byte in the first row's data: that row is a miss, the second still found. */
  contents[len - 2 * leaf_feature_cache_row_size (ROW_BYTES) + 100] ^= 0x40;
  g_assert_true (g_file_set_contents (path, contents, len, NULL));
  {
    g_autoptr(LeafFeatureTable) table = open_table (cache, ns, 3, ROW_BYTES);
    g_assert_false (leaf_feature_table_lookup (table, SHA_A, &slot));
    g_assert_true (leaf_feature_table_lookup (table, SHA_B, &slot));
    /* Computed again, the row is filed anew and found. */
    g_assert_true (leaf_feature_table_append (table, SHA_A, a, &slot, NULL));
    g_assert_true (leaf_feature_table_lookup (table, SHA_A, &slot));
  }

  /* Cut short, as a crash or a full disk might have left it: the short row is a miss and the
   * next append writes over it. */
  g_assert_true (g_file_set_contents (path, contents, len - 1, NULL));
  {
    g_autoptr(LeafFeatureTable) table = open_table (cache, ns, 3, ROW_BYTES);
    guint64 again;

    g_assert_false (leaf_feature_table_lookup (table, SHA_B, &slot));
    g_assert_true (leaf_feature_table_append (table, SHA_B, b, &again, NULL));
    g_assert_true (leaf_feature_table_lookup (table, SHA_B, &slot));
    g_assert_cmpuint (slot, ==, again);
    g_assert_true (leaf_feature_table_map (table, &error));
    g_assert_cmpmem (leaf_feature_table_row (table, slot), ROW_BYTES, b, sizeof b);
  }

  /* Foreign bytes: the file is replaced by an empty table. */
  g_assert_true (g_file_set_contents (path, "not a cache table at all, just some text", -1, NULL));
  {
    g_autoptr(LeafFeatureTable) table = open_table (cache, ns, 3, ROW_BYTES);
    g_assert_false (leaf_feature_table_lookup (table, SHA_B, &slot));
    g_assert_true (leaf_feature_table_append (table, SHA_B, b, &slot, NULL));
  }

  /* Keys that would climb out of the cache folder are refused. */
  g_assert_null (leaf_feature_cache_open_table (cache, "../escape", 0, ROW_BYTES, &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  {
    g_autoptr(LeafFeatureTable) table = open_table (cache, ns, 0, ROW_BYTES);
    g_assert_false (leaf_feature_table_append (table, "../../x", a, &slot, &error));
    g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID);
  }

  leaf_test_remove_tree (dir);
}

static void
set_mtime (LeafFeatureTable *table,
           time_t            when)
{
  struct utimbuf t = { when, when };
  g_assert_cmpint (g_utime (leaf_feature_table_get_path (table), &t), ==, 0);
}

/* Trimming removes whole tables, the least recently used first, and never an open one. */
static void
test_trim_removes_least_recently_used (void)
{
  g_autofree char *dir = make_tmpdir ();
  guint64 row = leaf_feature_cache_row_size (ROW_BYTES);
  /* Room for about three tables of four rows. */
  g_autoptr(LeafFeatureCache) cache = leaf_feature_cache_new (dir, 3 * (4 * row + 64) + 10);
  g_autoptr(LeafFeatureTable) in_use = NULL;
  guint16 a[ROW_BYTES / 2];
  char *paths[4] = { NULL };
  guint64 slot;

  fill (a, 1);
  for (guint t = 0; t < 4; t++)
    {
      g_autofree char *ns = g_strdup_printf ("catalog-%u", t);
      g_autoptr(LeafFeatureTable) table = open_table (cache, ns, 0, ROW_BYTES);

      for (guint i = 0; i < 4; i++)
        {
          g_autofree char *sha = g_strdup_printf ("%02u%062u", i, 0);
          g_assert_true (leaf_feature_table_append (table, sha, a, &slot, NULL));
        }
      /* Tables are ordered by modification time, which has one-second resolution on some file
       * systems; set it explicitly instead of sleeping. */
      set_mtime (table, 1000000 + t * 10);
      paths[t] = g_strdup (leaf_feature_table_get_path (table));
    }

  /* Table 0 is the oldest, but it is open (a run uses it): table 1 goes instead. */
  in_use = open_table (cache, "catalog-0", 0, ROW_BYTES);
  set_mtime (in_use, 1000000);
  leaf_feature_cache_trim (cache);
  g_assert_cmpuint (leaf_feature_cache_get_size (cache), <=, 3 * (4 * row + 64) + 10);
  g_assert_true (g_file_test (paths[0], G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (paths[1], G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (paths[2], G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (paths[3], G_FILE_TEST_EXISTS));
  {
    g_autofree char *sha = g_strdup_printf ("%02u%062u", 0, 0);
    g_assert_true (leaf_feature_table_lookup (in_use, sha, &slot));
  }

  /* Closed, it is the least recently used and goes when the cache passes its bound again. */
  g_clear_pointer (&in_use, leaf_feature_table_free);
  leaf_feature_cache_set_max_bytes (cache, 2 * (4 * row + 64) + 10);
  leaf_feature_cache_trim (cache);
  g_assert_false (g_file_test (paths[0], G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (paths[2], G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (paths[3], G_FILE_TEST_EXISTS));

  for (guint t = 0; t < G_N_ELEMENTS (paths); t++)
    g_free (paths[t]);
  leaf_test_remove_tree (dir);
}

/* Compacting keeps one intact row of each photo still in the catalog, readable from the same
 * handle and from a new one, and leaves the file smaller; another handle opened before keeps
 * reading what it had. */
static void
test_compact_keeps_catalog_photos (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autoptr(LeafFeatureCache) cache = leaf_feature_cache_new (dir, 1 << 20);
  g_autoptr(LeafFeatureTable) table = open_table (cache, "catalog", 0, ROW_BYTES);
  g_autoptr(LeafFeatureTable) other = NULL;
  g_autoptr(LeafFeatureTable) again = NULL;
  g_autoptr(GHashTable) keep = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GError) error = NULL;
  guint16 rows[6][ROW_BYTES / 2], out[ROW_BYTES / 2];
  guint64 slot, n_removed = 0, before, after;
  GStatBuf st;

  /* Photos 0-5; photo 1 stored twice (two runs at once); photos 3 and 5 deleted since. */
  for (guint i = 0; i < 6; i++)
    {
      g_autofree char *sha = g_strdup_printf ("%02u%062u", i, 0);

      fill (rows[i], 10 + i);
      g_assert_true (leaf_feature_table_append (table, sha, rows[i], &slot, &error));
      g_assert_no_error (error);
      if (i == 1)
        g_assert_true (leaf_feature_table_append (table, sha, rows[i], &slot, &error));
      if (i != 3 && i != 5)
        g_hash_table_add (keep, g_steal_pointer (&sha));
    }
  g_assert_cmpuint (leaf_feature_table_get_n_rows (table), ==, 7);
  g_assert_cmpuint (leaf_feature_table_count_stale (table, keep), ==, 3);
  other = open_table (cache, "catalog", 0, ROW_BYTES);
  g_assert_true (leaf_feature_table_map (other, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (leaf_feature_table_get_path (table), &st), ==, 0);
  before = st.st_size;

  g_assert_true (leaf_feature_table_compact (table, keep, &n_removed, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n_removed, ==, 3);
  g_assert_cmpuint (leaf_feature_table_get_n_rows (table), ==, 4);
  g_assert_cmpuint (leaf_feature_table_count_stale (table, keep), ==, 0);
  g_assert_cmpint (g_stat (leaf_feature_table_get_path (table), &st), ==, 0);
  after = st.st_size;
  g_assert_cmpuint (before - after, ==, 3 * leaf_feature_cache_row_size (ROW_BYTES));

  again = open_table (cache, "catalog", 0, ROW_BYTES);
  for (guint i = 0; i < 6; i++)
    {
      g_autofree char *sha = g_strdup_printf ("%02u%062u", i, 0);
      gboolean kept = i != 3 && i != 5;

      g_assert_cmpint (leaf_feature_table_lookup (table, sha, &slot), ==, kept);
      if (kept)
        {
          g_assert_true (leaf_feature_table_read (table, slot, out, &error));
          g_assert_no_error (error);
          g_assert_cmpmem (out, sizeof out, rows[i], sizeof rows[i]);
        }
      g_assert_cmpint (leaf_feature_table_lookup (again, sha, &slot), ==, kept);
      /* The handle opened before reads the old file, all of it. */
      g_assert_true (leaf_feature_table_lookup (other, sha, &slot));
      g_assert_cmpmem (leaf_feature_table_row (other, slot), ROW_BYTES, rows[i], sizeof rows[i]);
    }
  /* The compacted table takes new rows as before. */
  g_assert_true (leaf_feature_table_append (table, SHA_A, rows[0], &slot, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (slot, ==, 4);

  g_clear_pointer (&table, leaf_feature_table_free);
  g_clear_pointer (&other, leaf_feature_table_free);
  g_clear_pointer (&again, leaf_feature_table_free);
  leaf_test_remove_tree (dir);
}

int
main (int   argc,
      char *argv[])
{
  leaf_test_init (&argc, &argv);
  g_test_add_func ("/feature-cache/round-trip", test_round_trip);
  g_test_add_func ("/feature-cache/compact-keeps-catalog-photos",
                   test_compact_keeps_catalog_photos);
  g_test_add_func ("/feature-cache/damaged-rows-are-misses", test_damaged_rows_are_misses);
  g_test_add_func ("/feature-cache/trim-removes-least-recently-used",
                   test_trim_removes_least_recently_used);
  return g_test_run ();
}
