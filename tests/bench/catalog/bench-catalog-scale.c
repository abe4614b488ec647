/* bench-catalog-scale.c: how fast a catalog of 100,000 images opens, counts, pages and filters
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 *   bench-catalog-scale [--images N] [--classes K] [--keep FILE] [--json]
 *
 * Builds a catalog of N images (default 100,000; 60 % labelled across K = 10 classes) with plain
 * SQL in one transaction, then times, as the interface would call them, the median of several
 * runs of: opening it, counting per class, counting and paging through unlabelled images
 * (first, middle and last page), and filtering by class.
 */

#include "config.h"

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <stdio.h>

#include "leaf-catalog.h"

#define REPEATS   7
#define PAGE_SIZE 200

static int
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

static double
median (double *values,
        guint   n)
{
  qsort (values, n, sizeof (double), (int (*) (const void *, const void *)) compare_doubles);
  return values[n / 2];
}

static void
exec_or_die (sqlite3    *db,
             const char *sql)
{
  char *message = NULL;

  if (sqlite3_exec (db, sql, NULL, NULL, &message) != SQLITE_OK)
    g_error ("%s: %s", sql, message);
}

static void
generate (const char *path,
          guint       n_images,
          guint       n_classes)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = leaf_catalog_open (path, LEAF_CATALOG_OPEN_CREATE, &error);
  g_autoptr(GRand) rand = g_rand_new_with_seed (1);
  sqlite3 *db = NULL;
  sqlite3_stmt *image = NULL, *label = NULL;

  if (catalog == NULL)
    g_error ("%s", error->message);
  for (guint c = 0; c < n_classes; c++)
    {
      g_autofree char *name = g_strdup_printf ("class %02u", c);

      if (leaf_catalog_add_class (catalog, name, NULL, NULL, &error) == 0)
        g_error ("%s", error->message);
    }
  g_clear_object (&catalog);

  if (sqlite3_open (path, &db) != SQLITE_OK)
    g_error ("cannot open %s", path);
  exec_or_die (db, "BEGIN");
  sqlite3_prepare_v2 (db, "INSERT INTO images (id, sha256, path, name, size, width, height, "
                      "format, imported, captured, batch_id) VALUES (?, printf ('%064x', ?), "
                      "printf ('/data/leaves/session-%03d/IMG_%06d.jpg', ? / 1000, ?), "
                      "printf ('IMG_%06d.jpg', ?), 40000, 256, 256, 'jpeg', "
                      "'2024-01-01T00:00:00.000000Z', NULL, NULL)", -1, &image, NULL);
  sqlite3_prepare_v2 (db, "INSERT INTO labels (image_id, class_id, user, time, how) "
                      "VALUES (?, ?, 'bench', '2024-01-02T00:00:00.000000Z', 'manual')",
                      -1, &label, NULL);
  for (guint i = 1; i <= n_images; i++)
    {
      sqlite3_bind_int (image, 1, i);
      for (int p = 2; p <= 5; p++)
        sqlite3_bind_int (image, p, i);
      if (sqlite3_step (image) != SQLITE_DONE)
        g_error ("insert: %s", sqlite3_errmsg (db));
      sqlite3_reset (image);
      /* 60 % labelled, classes of uneven sizes as in real collections. */
      if (g_rand_double (rand) < 0.6)
        {
          double r = g_rand_double (rand);

          sqlite3_bind_int (label, 1, i);
          sqlite3_bind_int (label, 2, 1 + (int) (n_classes * r * r));
          if (sqlite3_step (label) != SQLITE_DONE)
            g_error ("label: %s", sqlite3_errmsg (db));
          sqlite3_reset (label);
        }
    }
  sqlite3_finalize (image);
  sqlite3_finalize (label);
  exec_or_die (db, "COMMIT");
  /* What the catalog's own close does, so that the planner knows the tables' sizes. */
  exec_or_die (db, "PRAGMA optimize");
  sqlite3_close (db);
}

typedef struct
{
  double open;
  double count_per_class;
  double count_unlabelled;
  double page_unlabelled_first;
  double page_unlabelled_middle;
  double page_unlabelled_last;
  double count_class;
  double page_class_first;
  double page_class_last;
  double name_search;
  guint n_unlabelled;
  guint n_in_class;
} Timings;

static double
ms_since (gint64 start)
{
  return (g_get_monotonic_time () - start) / 1000.0;
}

static double
time_page (LeafCatalog          *catalog,
           const LeafImageQuery *query,
           guint                 offset)
{
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();
  g_autoptr(GPtrArray) page = leaf_catalog_query_images (catalog, query, offset, PAGE_SIZE, &error);
  double ms = ms_since (start);

  if (page == NULL)
    g_error ("%s", error->message);
  if (page->len == 0)
    g_error ("empty page at %u", offset);
  return ms;
}

static void
measure (const char *path,
         Timings    *t)
{
  double samples[12][REPEATS];
  g_autoptr(GError) error = NULL;

  for (guint r = 0; r < REPEATS; r++)
    {
      g_autoptr(LeafCatalog) catalog = NULL;
      g_autoptr(GPtrArray) classes = NULL;
      LeafImageQuery unlabelled = { .labels = LEAF_LABEL_FILTER_UNLABELED };
      LeafImageQuery by_class = { 0 };
      LeafImageQuery by_name = { .name_contains = "IMG_0421" };
      gint64 start;
      guint n = 0;

      start = g_get_monotonic_time ();
      catalog = leaf_catalog_open (path, LEAF_CATALOG_OPEN_DEFAULT, &error);
      samples[0][r] = ms_since (start);
      if (catalog == NULL)
        g_error ("%s", error->message);

      start = g_get_monotonic_time ();
      classes = leaf_catalog_list_classes (catalog, &error);
      samples[1][r] = ms_since (start);

      start = g_get_monotonic_time ();
      leaf_catalog_count_images (catalog, &unlabelled, &t->n_unlabelled, &error);
      samples[2][r] = ms_since (start);
      samples[3][r] = time_page (catalog, &unlabelled, 0);
      samples[4][r] = time_page (catalog, &unlabelled, t->n_unlabelled / 2);
      samples[5][r] = time_page (catalog, &unlabelled, t->n_unlabelled - PAGE_SIZE);

      /* The largest class. */
      by_class.class_id = ((LeafClassInfo *) classes->pdata[0])->id;
      start = g_get_monotonic_time ();
      leaf_catalog_count_images (catalog, &by_class, &t->n_in_class, &error);
      samples[6][r] = ms_since (start);
      samples[7][r] = time_page (catalog, &by_class, 0);
      samples[8][r] = time_page (catalog, &by_class, t->n_in_class - PAGE_SIZE);

      start = g_get_monotonic_time ();
      leaf_catalog_count_images (catalog, &by_name, &n, &error);
      samples[9][r] = ms_since (start);
      if (error != NULL)
        g_error ("%s", error->message);
    }
  t->open = median (samples[0], REPEATS);
  t->count_per_class = median (samples[1], REPEATS);
  t->count_unlabelled = median (samples[2], REPEATS);
  t->page_unlabelled_first = median (samples[3], REPEATS);
  t->page_unlabelled_middle = median (samples[4], REPEATS);
  t->page_unlabelled_last = median (samples[5], REPEATS);
  t->count_class = median (samples[6], REPEATS);
  t->page_class_first = median (samples[7], REPEATS);
  t->page_class_last = median (samples[8], REPEATS);
  t->name_search = median (samples[9], REPEATS);
}

int
main (int   argc,
      char *argv[])
{
  int n_images = 100000, n_classes = 10;
  gboolean json = FALSE;
  g_autofree char *keep = NULL;
  GOptionEntry entries[] = {
    { "images", 0, 0, G_OPTION_ARG_INT, &n_images, "Images in the catalog (100000)", "N" },
    { "classes", 0, 0, G_OPTION_ARG_INT, &n_classes, "Classes (10)", "K" },
    { "keep", 0, 0, G_OPTION_ARG_FILENAME, &keep, "Build the catalog here and keep it", "FILE" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON object", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  gint64 start;
  double build_s;
  Timings t = { 0 };

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  if (n_images < 2 * PAGE_SIZE || n_classes < 1)
    {
      g_printerr ("need at least %d images and one class\n", 2 * PAGE_SIZE);
      return 2;
    }
  if (keep != NULL)
    path = g_strdup (keep);
  else
    {
      dir = g_dir_make_tmp ("leafscope-bench-XXXXXX", &error);
      if (dir == NULL)
        g_error ("%s", error->message);
      path = g_build_filename (dir, "scale.leafscope", NULL);
    }

  start = g_get_monotonic_time ();
  generate (path, n_images, n_classes);
  build_s = (g_get_monotonic_time () - start) / 1e6;
  measure (path, &t);

  if (json)
    printf ("{\"images\": %d, \"classes\": %d, \"unlabelled\": %u, \"largest_class\": %u, "
            "\"build_s\": %.2f, \"open_ms\": %.2f, \"count_per_class_ms\": %.2f, "
            "\"count_unlabelled_ms\": %.2f, \"page_unlabelled_first_ms\": %.2f, "
            "\"page_unlabelled_middle_ms\": %.2f, \"page_unlabelled_last_ms\": %.2f, "
            "\"count_class_ms\": %.2f, \"page_class_first_ms\": %.2f, "
            "\"page_class_last_ms\": %.2f, \"name_search_ms\": %.2f, \"page_size\": %d}\n",
            n_images, n_classes, t.n_unlabelled, t.n_in_class, build_s, t.open,
            t.count_per_class, t.count_unlabelled, t.page_unlabelled_first,
            t.page_unlabelled_middle, t.page_unlabelled_last, t.count_class, t.page_class_first,
            t.page_class_last, t.name_search, PAGE_SIZE);
  else
    {
      printf ("catalog of %d images (%u unlabelled, largest class %u), built in %.1f s\n",
              n_images, t.n_unlabelled, t.n_in_class, build_s);
      printf ("median of %d runs, pages of %d rows:\n", REPEATS, PAGE_SIZE);
      printf ("  open                         %7.2f ms\n", t.open);
      printf ("  count per class              %7.2f ms\n", t.count_per_class);
      printf ("  count unlabelled             %7.2f ms\n", t.count_unlabelled);
      printf ("  unlabelled page, first       %7.2f ms\n", t.page_unlabelled_first);
      printf ("  unlabelled page, middle      %7.2f ms\n", t.page_unlabelled_middle);
      printf ("  unlabelled page, last        %7.2f ms\n", t.page_unlabelled_last);
      printf ("  filter by class, count       %7.2f ms\n", t.count_class);
      printf ("  filter by class, first page  %7.2f ms\n", t.page_class_first);
      printf ("  filter by class, last page   %7.2f ms\n", t.page_class_last);
      printf ("  file name search (count)     %7.2f ms\n", t.name_search);
    }

  if (dir != NULL)
    {
      g_autofree char *wal = g_strconcat (path, "-wal", NULL);
      g_autofree char *shm = g_strconcat (path, "-shm", NULL);

      g_unlink (path);
      g_unlink (wal);
      g_unlink (shm);
      g_rmdir (dir);
    }
  return 0;
}
