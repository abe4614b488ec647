/* test-durability.c: SIGKILL in the middle of an import and of rapid labelling loses nothing
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "leaf-test.h"

#include <gio/gio.h>
#include <signal.h>

#include "catalog-test-util.h"

/* Enough files that an import takes a good second with small transactions, so that kills land
 * in the middle of it. */
#define N_IMAGES      1800
#define N_CLASSES     3
#define IMPORT_KILLS  12
#define LABEL_KILLS   12
#define SEED          20240501

static const char *const classes[N_CLASSES] = { "healthy", "blight", "rust" };

typedef struct
{
  char *dir;
  char *photos;
  char *catalog;
  char **sha;       /* of image i */
  guint *folder;    /* class index of image i's folder */
} Setup;

static void
setup_free (Setup *setup)
{
  leaf_test_remove_tree (setup->dir);
  for (guint i = 0; i < N_IMAGES; i++)
    g_free (setup->sha[i]);
  g_free (setup->sha);
  g_free (setup->folder);
  g_free (setup->catalog);
  g_free (setup->photos);
  g_free (setup->dir);
  g_free (setup);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Setup, setup_free)

static Setup *
setup_new (void)
{
  Setup *setup = g_new0 (Setup, 1);

  setup->dir = ctu_make_tmp_dir ();
  setup->photos = g_build_filename (setup->dir, "photos", NULL);
  setup->catalog = g_build_filename (setup->dir, "durable.leafscope", NULL);
  setup->sha = g_new0 (char *, N_IMAGES);
  setup->folder = g_new0 (guint, N_IMAGES);
  for (guint i = 0; i < N_IMAGES; i++)
    {
      g_autofree char *path = NULL;

      setup->folder[i] = i % N_CLASSES;
      path = g_strdup_printf ("%s/%s/%04u.jpg", setup->photos, classes[setup->folder[i]], i);
      ctu_write_image (path, "jpeg", 16, 16, i);
      setup->sha[i] = ctu_sha256_of_file (path);
    }
  return setup;
}

static void
assert_sound (Setup *setup)
{
  sqlite3 *db = ctu_sql_open (setup->catalog);
  g_autofree char *integrity = ctu_sql_text (db, "PRAGMA integrity_check");

  g_assert_cmpstr (integrity, ==, "ok");
  g_assert_cmpint (ctu_sql_int (db, "SELECT count(*) FROM pragma_foreign_key_check"), ==, 0);
  g_assert_cmpint (ctu_sql_int (db, "SELECT count(*) - count(DISTINCT sha256) FROM images"), ==, 0);
  /* An image and its folder label go in together: no image row without its label. */
  g_assert_cmpint (ctu_sql_int (db, "SELECT count(*) FROM images i LEFT JOIN labels l "
                                    "ON l.image_id = i.id WHERE l.image_id IS NULL"), ==, 0);
  sqlite3_close (db);
}

static gint64
count_images (Setup *setup)
{
  sqlite3 *db = ctu_sql_open (setup->catalog);
  gint64 n = ctu_sql_int (db, "SELECT count(*) FROM images");

  sqlite3_close (db);
  return n;
}

static GSubprocess *
spawn_cli (Setup                *setup,
           GSubprocessFlags      flags,
           const char * const   *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  GSubprocess *process;

  g_ptr_array_add (argv, (char *) ctu_cli_path ());
  g_ptr_array_add (argv, (char *) "--catalog");
  g_ptr_array_add (argv, setup->catalog);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);
  process = g_subprocess_newv ((const char * const *) argv->pdata, flags, &error);
  g_assert_no_error (error);
  return process;
}

static gboolean
wait_killed (GSubprocess *process)
{
  g_autoptr(GError) error = NULL;

  g_subprocess_wait (process, NULL, &error);
  g_assert_no_error (error);
  return g_subprocess_get_if_signaled (process) &&
         g_subprocess_get_term_sig (process) == SIGKILL;
}

static void
import_under_fire (Setup *setup,
                   GRand *rand)
{
  const char *args[] = { "import", "--batch-size", "20", setup->photos, NULL };
  guint kills = 0, attempts = 0;
  gint64 previous = 0;

  while (kills < IMPORT_KILLS)
    {
      g_autoptr(GSubprocess) process = NULL;
      gint64 now, target;

      g_assert_cmpuint (++attempts, <, 4 * IMPORT_KILLS);
      process = spawn_cli (setup, G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                           G_SUBPROCESS_FLAGS_STDERR_SILENCE, args);
      /* Kill once the catalog holds a random number more images: certainly in the middle of
       * the import, whatever the speed of the machine. */
      target = previous + g_rand_int_range (rand, 10, 110);
      for (guint waited = 0; count_images (setup) < target; waited++)
        {
          g_assert_cmpuint (waited, <, 60000);
          g_usleep (g_rand_int_range (rand, 500, 3000));
        }
      g_subprocess_force_exit (process);
      if (wait_killed (process))
        kills++;
      assert_sound (setup);
      /* What was committed stays committed. */
      now = count_images (setup);
      g_test_message ("import kill %u: %" G_GINT64_FORMAT " images", kills, now);
      g_assert_cmpint (now, >=, previous);
      previous = now;
    }
  g_assert_cmpint (previous, <, N_IMAGES);

  /* The same import, run to the end, completes the rest without duplicates. */
  {
    g_autoptr(GSubprocess) process = spawn_cli (setup, G_SUBPROCESS_FLAGS_STDOUT_SILENCE, args);
    g_autoptr(GError) error = NULL;
    sqlite3 *db;

    g_subprocess_wait_check (process, NULL, &error);
    g_assert_no_error (error);
    assert_sound (setup);
    g_assert_cmpint (count_images (setup), ==, N_IMAGES);
    db = ctu_sql_open (setup->catalog);
    for (guint i = 0; i < N_IMAGES; i++)
      {
        g_autofree char *sql =
          g_strdup_printf ("SELECT c.name FROM images i JOIN labels l ON l.image_id = i.id "
                           "JOIN classes c ON c.id = l.class_id WHERE i.sha256 = '%s'",
                           setup->sha[i]);
        g_autofree char *name = ctu_sql_text (db, sql);

        g_assert_cmpstr (name, ==, classes[setup->folder[i]]);
      }
    sqlite3_close (db);
  }
}

static char *
class_of (sqlite3    *db,
          const char *sha)
{
  g_autofree char *sql =
    g_strdup_printf ("SELECT c.name FROM images i JOIN labels l ON l.image_id = i.id "
                     "JOIN classes c ON c.id = l.class_id WHERE i.sha256 = '%s'", sha);

  return ctu_sql_text (db, sql);
}

/* Relabels a fresh slice of images each round (each to a class other than its folder's) through
 * `label --stdin`, reads the acknowledgements, and kills the labeller after a random number of
 * them. Every acknowledged label must be there; at most one more (committed, killed before it
 * could say so) may be. */
static void
label_under_fire (Setup *setup,
                  GRand *rand)
{
  const char *args[] = { "label", "--stdin", NULL };
  guint start = 0, kills = 0, attempts = 0;

  while (kills < LABEL_KILLS)
    {
      g_autoptr(GSubprocess) process = NULL;
      g_autoptr(GDataInputStream) acks = NULL;
      g_autoptr(GHashTable) acknowledged = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                                  g_free);
      g_autoptr(GString) commands = g_string_new (NULL);
      g_autoptr(GBytes) input = NULL;
      g_autoptr(GError) error = NULL;
      guint slice = 120, kill_after = g_rand_int_range (rand, 1, 80);
      guint n_acks = 0, n_changed = 0;
      char *line;
      sqlite3 *db;

      g_assert_cmpuint (++attempts, <, 3 * LABEL_KILLS);
      g_assert_cmpuint (start + slice, <=, N_IMAGES);
      for (guint i = start; i < start + slice; i++)
        g_string_append_printf (commands, "%s\t%s\n", setup->sha[i],
                                classes[(setup->folder[i] + 1) % N_CLASSES]);
      input = g_string_free_to_bytes (g_steal_pointer (&commands));

      process = spawn_cli (setup, G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE,
                           args);
      /* 120 lines fit in a pipe's buffer: write them all, then read acknowledgements. */
      g_output_stream_write_all (g_subprocess_get_stdin_pipe (process),
                                 g_bytes_get_data (input, NULL), g_bytes_get_size (input), NULL,
                                 NULL, &error);
      g_assert_no_error (error);
      g_output_stream_close (g_subprocess_get_stdin_pipe (process), NULL, NULL);
      acks = g_data_input_stream_new (g_subprocess_get_stdout_pipe (process));

      while ((line = g_data_input_stream_read_line_utf8 (acks, NULL, NULL, &error)) != NULL)
        {
          g_auto(GStrv) fields = g_strsplit (line, " ", 3);

          g_assert_cmpstr (fields[0], ==, "labeled");
          g_hash_table_insert (acknowledged, g_strdup (fields[1]), g_strdup (fields[2]));
          g_free (line);
          if (++n_acks == kill_after)
            g_subprocess_force_exit (process);
        }
      g_assert_no_error (error);
      if (wait_killed (process))
        kills++;
      assert_sound (setup);

      db = ctu_sql_open (setup->catalog);
      for (guint i = start; i < start + slice; i++)
        {
          g_autofree char *now = class_of (db, setup->sha[i]);
          const char *acked = g_hash_table_lookup (acknowledged, setup->sha[i]);

          if (acked != NULL)
            g_assert_cmpstr (now, ==, acked);
          n_changed += g_strcmp0 (now, classes[setup->folder[i]]) != 0;
        }
      sqlite3_close (db);
      g_test_message ("label kill %u: %u acknowledged, %u in the catalog", kills, n_acks,
                      n_changed);
      g_assert_cmpuint (n_changed, >=, n_acks);
      g_assert_cmpuint (n_changed, <=, n_acks + 1);
      start += slice;
    }
}

static void
test_sigkill (void)
{
  g_autoptr(Setup) setup = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (SEED);
  g_autofree char *out = NULL;

  if (ctu_cli_path () == NULL)
    {
      g_test_skip ("LEAFSCOPE_CLI is not set");
      return;
    }
  setup = setup_new ();
  g_assert_cmpint (ctu_run_cli (setup->catalog, &out, NULL, "init", NULL), ==, 0);
  import_under_fire (setup, rand);
  label_under_fire (setup, rand);
}

int
main (int   argc,
      char *argv[])
{
  leaf_test_init (&argc, &argv);

  g_test_add_func ("/catalog/durability/sigkill-during-import-and-labelling", test_sigkill);

  return g_test_run ();
}
