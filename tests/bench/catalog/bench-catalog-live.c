/* bench-catalog-live.c: how many labels a second one labeller saves, and how long a label takes
 * to reach another program that has the catalog open
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 *   bench-catalog-live [--labels N] [--rounds R] [--server] [--json]
 *
 * Two connections to one catalog, as two programs would have (a SQLite file; with --server, a
 * database on a private PostgreSQL server started for the run, on this machine's Unix socket): one labels N photos one at
 * a time, each in its own transaction and on disk when the call returns (as the Library and
 * `label --stdin` save them); then, R times, it labels one photo and the time until the other
 * connection, watching (leaf_catalog_watch()), announces labels-changed is measured.
 */

#include "config.h"

#include <stdio.h>

#include "catalog-test-util.h"
#include "leaf-catalog.h"
#include "leaf-test.h"

static int
compare_doubles (const void *a,
                 const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

static void
on_labels_changed_cb (LeafCatalog *catalog,
                      GArray      *ids,
                      gint64      *seen)
{
  *seen = g_get_monotonic_time ();
}

int
main (int   argc,
      char *argv[])
{
  int n_labels = 500, n_rounds = 20;
  gboolean json = FALSE;
  gboolean on_server = FALSE;
  GOptionEntry entries[] = {
    { "labels", 0, 0, G_OPTION_ARG_INT, &n_labels, "Labels saved one at a time (500)", "N" },
    { "rounds", 0, 0, G_OPTION_ARG_INT, &n_rounds, "Labels timed to the other program (20)", "R" },
    { "server", 0, 0, G_OPTION_ARG_NONE, &on_server, "On a PostgreSQL server", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON object", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  g_autoptr(LeafCatalog) writer = NULL;
  g_autoptr(LeafCatalog) watcher = NULL;
  g_autofree double *reach = NULL;
  gint64 healthy, blight, start, seen = 0;
  double seconds, per_second;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  if (n_labels < 1 || n_rounds < 1)
    {
      g_printerr ("need at least one label and one round\n");
      return 2;
    }
  dir = g_dir_make_tmp ("leafscope-bench-XXXXXX", &error);
  if (dir == NULL)
    g_error ("%s", error->message);
  if (on_server)
    {
      g_autofree char *no_server = NULL;

      if (!ctu_server_available (&no_server))
        g_error ("no server: %s", no_server);
      path = ctu_server_catalog ();
    }
  else
    path = g_build_filename (dir, "live.leafscope", NULL);
  writer = leaf_catalog_open (path, LEAF_CATALOG_OPEN_CREATE, &error);
  if (writer == NULL)
    g_error ("%s", error->message);
  ctu_insert_images (path, 1, n_labels + n_rounds);
  healthy = leaf_catalog_add_class (writer, "healthy", NULL, NULL, &error);
  blight = leaf_catalog_add_class (writer, "blight", NULL, NULL, &error);
  if (healthy <= 0 || blight <= 0)
    g_error ("%s", error->message);
  watcher = leaf_catalog_open (path, LEAF_CATALOG_OPEN_DEFAULT, &error);
  if (watcher == NULL)
    g_error ("%s", error->message);
  leaf_catalog_set_labeller (writer, "ana");

  start = g_get_monotonic_time ();
  for (gint64 id = 1; id <= n_labels; id++)
    if (!leaf_catalog_set_labels (writer, &id, 1, id % 2 ? healthy : blight,
                                  LEAF_LABEL_HOW_MANUAL, &error))
      g_error ("%s", error->message);
  seconds = (g_get_monotonic_time () - start) / 1e6;
  per_second = n_labels / seconds;

  leaf_catalog_watch (watcher);
  g_signal_connect (watcher, "labels-changed", G_CALLBACK (on_labels_changed_cb), &seen);
  reach = g_new (double, n_rounds);
  for (int r = 0; r < n_rounds; r++)
    {
      gint64 id = n_labels + 1 + r, sent;

      /* Let the last round's watch settle, and start rounds at varying points of its period. */
      while (g_main_context_iteration (NULL, FALSE))
        ;
      g_usleep (37000 * (r % 13));
      seen = 0;
      sent = g_get_monotonic_time ();
      if (!leaf_catalog_set_labels (writer, &id, 1, healthy, LEAF_LABEL_HOW_MANUAL, &error))
        g_error ("%s", error->message);
      while (seen == 0)
        g_main_context_iteration (NULL, TRUE);
      reach[r] = (seen - sent) / 1e3;
    }
  qsort (reach, n_rounds, sizeof *reach, compare_doubles);

  if (json)
    printf ("{\"catalog\": \"%s\", \"labels\": %d, \"labels_per_second\": %.1f, "
            "\"rounds\": %d, \"reach_ms\": {\"median\": %.1f, \"max\": %.1f}, "
            "\"watch_period_ms\": 500}\n", on_server ? "server" : "file",
            n_labels, per_second, n_rounds, reach[n_rounds / 2], reach[n_rounds - 1]);
  else
    printf ("%d labels, one transaction each: %.1f a second\n"
            "a label reaches another program in %.1f ms (median of %d), at most %.1f ms\n",
            n_labels, per_second, reach[n_rounds / 2], n_rounds, reach[n_rounds - 1]);

  g_clear_object (&watcher);
  g_clear_object (&writer);
  ctu_server_stop ();
  leaf_test_remove_tree (dir);
  return 0;
}
