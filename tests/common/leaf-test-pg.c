/* leaf-test-pg.c: a private PostgreSQL server for the tests that need one
 *
 * Each server lives in a folder of its own, /tmp/leafpg-XXXXXX: its socket, its log and its data
 * folder. It listens on no TCP port at all, only on the socket in that folder, so that test
 * processes running at once never meet even though they all use the same port number.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <grp.h>
#include <libpq-fe.h>
#include <locale.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "leaf-test-pg.h"
#include "leaf-test.h"

/* Fixed: initdb -U makes it so whichever OS user runs the server. */
#define SUPERUSER "leaftest"
/* The same for every server: the socket's folder is what keeps servers apart. */
#define PORT 5432
/* Seconds pg_ctl waits for a start or a stop before giving up. */
#define PG_CTL_WAIT "60"
/* After a crash, the server makes everything in the data folder durable before recovering. One
 * fsync per file takes seconds for a cluster initdb --no-sync left in the page cache; one
 * syncfs() of the file system takes a fraction of one. Only that start changes: commits are
 * still flushed as they are acknowledged. */
#ifdef __linux__
#define RECOVERY_SYNC "recovery_init_sync_method = syncfs\n"
#else
#define RECOVERY_SYNC ""
#endif
/* Lines of the server's log an error message carries. */
#define LOG_TAIL_LINES 25
/* A Unix socket's path holds 107 bytes; the socket is <folder>/.s.PGSQL.5432. */
#define MAX_FOLDER_LENGTH (107 - sizeof "/.s.PGSQL.5432")

struct _LeafTestPg
{
  char *bindir;       /* where initdb, pg_ctl and postgres are */
  char *dir;          /* the socket's folder, holding the log and the data folder */
  char *data;
  char *log;
  gboolean as_other;  /* run the programs as uid:gid (we are root, which PostgreSQL refuses) */
  uid_t uid;
  gid_t gid;
  int watchdog;       /* our end of the watchdog's stdin, or -1 */
  gboolean running;   /* may be running: set before a start, cleared by a stop that worked */
};

G_DEFINE_QUARK (leaf-test-pg-error-quark, leaf_test_pg_error)

static gboolean
has_server_programs (const char *bindir)
{
  static const char *const programs[] = { "initdb", "pg_ctl", "postgres" };

  for (guint i = 0; i < G_N_ELEMENTS (programs); i++)
    {
      g_autofree char *path = g_build_filename (bindir, programs[i], NULL);

      if (!g_file_test (path, G_FILE_TEST_IS_EXECUTABLE))
        return FALSE;
    }
  return TRUE;
}

/* The folder holding initdb, pg_ctl and postgres together: $LEAFSCOPE_PG_BINDIR if set (for
 * systems that keep them elsewhere), else initdb's folder if initdb is in PATH, else the newest
 * /usr/lib/postgresql/N/bin, where Debian and Ubuntu keep them out of PATH. */
static char *
find_bindir (void)
{
  const char *explicit = g_getenv ("LEAFSCOPE_PG_BINDIR");
  g_autofree char *initdb = NULL;
  g_autoptr(GDir) versions = NULL;
  g_autofree char *newest = NULL;
  gint64 newest_version = -1;
  const char *name;

  if (explicit != NULL && explicit[0] != '\0')
    return has_server_programs (explicit) ? g_strdup (explicit) : NULL;

  initdb = g_find_program_in_path ("initdb");
  if (initdb != NULL)
    {
      /* A link in PATH (Debian's pg_wrapper, or a link to one version's initdb): the programs
       * that go with it are next to the file it stands for. */
      g_autofree char *real = realpath (initdb, NULL);
      g_autofree char *bindir = g_path_get_dirname (real != NULL ? real : initdb);

      if (has_server_programs (bindir))
        return g_steal_pointer (&bindir);
    }

  versions = g_dir_open ("/usr/lib/postgresql", 0, NULL);
  while (versions != NULL && (name = g_dir_read_name (versions)) != NULL)
    {
      g_autofree char *bindir = g_build_filename ("/usr/lib/postgresql", name, "bin", NULL);
      gint64 version;

      if (g_ascii_string_to_signed (name, 10, 1, G_MAXINT, &version, NULL)
          && version > newest_version && has_server_programs (bindir))
        {
          newest_version = version;
          g_free (newest);
          newest = g_steal_pointer (&bindir);
        }
    }
  return g_steal_pointer (&newest);
}

/* Runs in the child between fork and exec: only async-signal-safe calls. Supplementary groups
 * go first, while we still may drop them; the uid last, as it takes the right to change the
 * others. */
static void
become_server_user (gpointer user_data)
{
  const LeafTestPg *pg = user_data;

  if (pg->as_other && (setgroups (0, NULL) != 0 || setgid (pg->gid) != 0 || setuid (pg->uid) != 0))
    _exit (126);
}

/* Our environment without the PG* variables, which would point pg_ctl at another data folder or
 * libpq inside the programs at another server. */
static char **
child_environment (void)
{
  char **envp = g_get_environ ();
  GPtrArray *kept = g_ptr_array_new ();

  for (guint i = 0; envp[i] != NULL; i++)
    if (g_str_has_prefix (envp[i], "PG"))
      g_free (envp[i]);
    else
      g_ptr_array_add (kept, envp[i]);
  g_free (envp);
  g_ptr_array_add (kept, NULL);
  return (char **) g_ptr_array_free (kept, FALSE);
}

static char *
log_tail (LeafTestPg *pg)
{
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  guint n, first;

  if (!g_file_get_contents (pg->log, &contents, NULL, NULL))
    return g_strdup ("(no server log)");
  lines = g_strsplit (g_strchomp (contents), "\n", -1);
  n = g_strv_length (lines);
  first = n > LOG_TAIL_LINES ? n - LOG_TAIL_LINES : 0;
  return g_strjoinv ("\n", lines + first);
}

/* Runs one of the server's programs (as the server's user) and waits for it; on failure the
 * error carries what it printed, and with @with_log the end of the server's log. */
static gboolean
run_program (LeafTestPg         *pg,
             const char *const  *argv,
             gboolean            with_log,
             GError            **error)
{
  g_auto(GStrv) envp = child_environment ();
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) local_error = NULL;
  int status;

  if (!g_spawn_sync (pg->dir, (char **) argv, envp, G_SPAWN_DEFAULT, become_server_user, pg,
                     &out, &err, &status, error))
    return FALSE;
  if (!g_spawn_check_wait_status (status, &local_error))
    {
      g_autofree char *name = g_path_get_basename (argv[0]);
      g_autofree char *tail = with_log ? log_tail (pg) : NULL;

      g_set_error (error, LEAF_TEST_PG_ERROR, LEAF_TEST_PG_ERROR_FAILED,
                   "%s %s failed (%s): %s%s%s%s%s", name, argv[1], local_error->message,
                   g_strchomp (out), out[0] != '\0' ? "\n" : "", g_strchomp (err),
                   with_log ? "\nEnd of the server log:\n" : "", with_log ? tail : "");
      return FALSE;
    }
  return TRUE;
}

/* pg_ctl start (@mode NULL) or stop -m @mode, waiting until it is done. */
static gboolean
pg_ctl (LeafTestPg  *pg,
        const char  *action,
        const char  *mode,
        GError     **error)
{
  g_autofree char *program = g_build_filename (pg->bindir, "pg_ctl", NULL);
  const char *argv[] = { program, action, "-w", "-t", PG_CTL_WAIT, "-s", "-D", pg->data,
                         mode != NULL ? "-m" : "-l", mode != NULL ? mode : pg->log, NULL };

  return run_program (pg, argv, TRUE, error);
}

/* Stops the server and removes the folder if this process dies without leaf_test_pg_free(): a
 * failed g_assert() aborts, and a server left behind would run until the machine stops. It is a
 * shell that waits on a socket only we hold: we write "done" in leaf_test_pg_free(), and the
 * kernel closes it when we die any other way. In a session of its own so that a timeout killing
 * the test's process group spares it; as the server's user, whose files it removes. */
static void
watchdog_setup (gpointer user_data)
{
  setsid ();
  become_server_user (user_data);
}

static gboolean
start_watchdog (LeafTestPg  *pg,
                GError     **error)
{
  static const char script[] =
    "read line; [ \"$line\" = done ] && exit 0; "
    "\"$0\" stop -D \"$1\" -m immediate -w -t 30 >/dev/null 2>&1; rm -rf \"$2\"";
  g_autofree char *program = g_build_filename (pg->bindir, "pg_ctl", NULL);
  const char *argv[] = { "/bin/sh", "-c", script, program, pg->data, pg->dir, NULL };
  g_auto(GStrv) envp = child_environment ();
  int fds[2];
  gboolean started;

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    {
      int saved = errno;

      g_set_error (error, LEAF_TEST_PG_ERROR, LEAF_TEST_PG_ERROR_FAILED, "socketpair: %s",
                   g_strerror (saved));
      return FALSE;
    }
  /* Not G_SPAWN_DO_NOT_REAP_CHILD: GLib then forks twice, so that no zombie waits on us. */
  started = g_spawn_async_with_pipes_and_fds (pg->dir, argv, (const char *const *) envp,
                                              G_SPAWN_STDOUT_TO_DEV_NULL
                                              | G_SPAWN_STDERR_TO_DEV_NULL,
                                              watchdog_setup, pg, fds[1], -1, -1, NULL, NULL, 0,
                                              NULL, NULL, NULL, NULL, error);
  close (fds[1]);
  if (!started)
    {
      close (fds[0]);
      return FALSE;
    }
  pg->watchdog = fds[0];
  return TRUE;
}

static gboolean
run_initdb (LeafTestPg  *pg,
            GError     **error)
{
  g_autofree char *program = g_build_filename (pg->bindir, "initdb", NULL);
  locale_t c_utf8 = newlocale (LC_ALL_MASK, "C.UTF-8", (locale_t) 0);
  const char *locale = c_utf8 != (locale_t) 0 ? "--locale=C.UTF-8" : "--locale=C";
  /* --auth=trust: any local connection gets in with no password. For tests only, and safe here:
   * there is no TCP listener, and the socket is in a folder only the server's user (and root)
   * can enter. --no-sync: a test cluster need not survive the machine stopping; the server
   * itself runs with fsync on. */
  const char *argv[] = { program, "-D", pg->data, "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
                         locale, "--no-sync", NULL };

  if (c_utf8 != (locale_t) 0)
    freelocale (c_utf8);
  return run_program (pg, argv, FALSE, error);
}

/* Settings go into postgresql.conf rather than on pg_ctl's command line: pg_ctl hands -o to a
 * shell, whose quoting would eat listen_addresses = '' and mangle a folder name; and a restart
 * then needs nothing repeated. Appended: later lines win over initdb's, and the file stays the
 * server's user's, which a new file written as root would not. */
static gboolean
write_settings (LeafTestPg  *pg,
                GError     **error)
{
  g_autofree char *conf = g_build_filename (pg->data, "postgresql.conf", NULL);
  g_auto(GStrv) quote_split = g_strsplit (pg->dir, "'", -1);
  g_autofree char *quoted_dir = g_strjoinv ("''", quote_split);
  FILE *file;
  gboolean written;

  file = fopen (conf, "a");
  if (file == NULL)
    {
      int saved = errno;

      g_set_error (error, LEAF_TEST_PG_ERROR, LEAF_TEST_PG_ERROR_FAILED, "%s: %s", conf,
                   g_strerror (saved));
      return FALSE;
    }
  /* fsync stays on: tests check that commits the server acknowledged survive an immediate
   * stop. */
  written = fprintf (file,
                     "\n"
                     "# Leafscope tests: a private server, reachable only through the socket in\n"
                     "# its own folder.\n"
                     "listen_addresses = ''\n"
                     "unix_socket_directories = '%s'\n"
                     "port = %d\n"
                     "fsync = on\n"
                     "max_connections = 50\n"
                     "shared_buffers = 16MB\n"
                     "%s",
                     quoted_dir, PORT, RECOVERY_SYNC) > 0;
  written = fclose (file) == 0 && written;
  if (!written)
    {
      g_set_error (error, LEAF_TEST_PG_ERROR, LEAF_TEST_PG_ERROR_FAILED, "could not write %s",
                   conf);
      return FALSE;
    }
  return TRUE;
}

static gboolean
start_server (LeafTestPg  *pg,
              GError     **error)
{
  /* Set before trying: a start that timed out may still leave a server to stop. */
  pg->running = TRUE;
  return pg_ctl (pg, "start", NULL, error);
}

/* The folder: in $TMPDIR unless its path leaves no room under the socket limit. */
static char *
make_folder (GError **error)
{
  const char *base = g_get_tmp_dir ();
  g_autofree char *folder = NULL;

  if (strlen (base) + sizeof "/leafpg-XXXXXX" - 1 > MAX_FOLDER_LENGTH)
    base = "/tmp";
  folder = g_build_filename (base, "leafpg-XXXXXX", NULL);
  if (g_mkdtemp_full (folder, 0700) == NULL)
    {
      int saved = errno;

      g_set_error (error, LEAF_TEST_PG_ERROR, LEAF_TEST_PG_ERROR_FAILED, "%s: %s", folder,
                   g_strerror (saved));
      return NULL;
    }
  return g_steal_pointer (&folder);
}

/**
 * leaf_test_pg_start:
 * @skip_reason: (out): why there can be no server here; the caller frees it
 * @error: why a server that should have started did not
 *
 * initdb, then pg_ctl start -w, in a new folder. As root, which initdb and postgres refuse, the
 * programs run as the user "postgres" (Debian's package makes it), else as "nobody", and the
 * folder becomes theirs.
 *
 * Returns: (transfer full) (nullable): the running server, or NULL with @skip_reason or @error
 */
LeafTestPg *
leaf_test_pg_start (char   **skip_reason,
                    GError **error)
{
  g_autoptr(LeafTestPg) pg = NULL;
  g_autofree char *bindir = NULL;
  struct passwd *user = NULL;

  g_return_val_if_fail (skip_reason != NULL && *skip_reason == NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  bindir = find_bindir ();
  if (bindir == NULL)
    {
      *skip_reason = g_strdup ("no PostgreSQL server programs (initdb, pg_ctl, postgres) in "
                               "$LEAFSCOPE_PG_BINDIR, in PATH or in /usr/lib/postgresql/*/bin");
      return NULL;
    }
  if (geteuid () == 0)
    {
      user = getpwnam ("postgres");
      if (user == NULL)
        user = getpwnam ("nobody");
      if (user == NULL)
        {
          *skip_reason = g_strdup ("running as root, which PostgreSQL refuses, and there is no "
                                   "user postgres or nobody to run it as");
          return NULL;
        }
    }

  pg = g_new0 (LeafTestPg, 1);
  pg->watchdog = -1;
  pg->bindir = g_steal_pointer (&bindir);
  if (user != NULL)
    {
      pg->as_other = TRUE;
      pg->uid = user->pw_uid;
      pg->gid = user->pw_gid;
    }
  pg->dir = make_folder (error);
  if (pg->dir == NULL)
    return NULL;
  pg->data = g_build_filename (pg->dir, "data", NULL);
  pg->log = g_build_filename (pg->dir, "server.log", NULL);
  if (pg->as_other && chown (pg->dir, pg->uid, pg->gid) != 0)
    {
      int saved = errno;

      g_set_error (error, LEAF_TEST_PG_ERROR, LEAF_TEST_PG_ERROR_FAILED, "chown %s: %s",
                   pg->dir, g_strerror (saved));
      return NULL;
    }
  if (!start_watchdog (pg, error)
      || !run_initdb (pg, error)
      || !write_settings (pg, error)
      || !start_server (pg, error))
    return NULL;
  return g_steal_pointer (&pg);
}

/**
 * leaf_test_pg_uri:
 * @dbname: the database
 * @role: (nullable): the role to connect as; NULL for the superuser
 *
 * Returns: (transfer full): a libpq connection URI, with no password (the server trusts its
 * socket's connections)
 */
char *
leaf_test_pg_uri (LeafTestPg *pg,
                  const char *dbname,
                  const char *role)
{
  g_autofree char *db = NULL;
  g_autofree char *host = NULL;
  g_autofree char *user = NULL;

  g_return_val_if_fail (pg != NULL && dbname != NULL, NULL);

  db = g_uri_escape_string (dbname, NULL, FALSE);
  host = g_uri_escape_string (pg->dir, "/", FALSE);
  user = g_uri_escape_string (role != NULL ? role : SUPERUSER, NULL, FALSE);
  return g_strdup_printf ("postgresql:///%s?host=%s&port=%d&user=%s", db, host, PORT, user);
}

static PGconn *
connect_superuser (LeafTestPg  *pg,
                   const char  *dbname,
                   GError     **error)
{
  g_autofree char *uri = leaf_test_pg_uri (pg, dbname, NULL);
  PGconn *conn = PQconnectdb (uri);

  if (PQstatus (conn) != CONNECTION_OK)
    {
      g_autofree char *message = g_strdup (PQerrorMessage (conn));

      g_set_error (error, LEAF_TEST_PG_ERROR, LEAF_TEST_PG_ERROR_FAILED,
                   "could not connect to %s: %s", uri, g_strchomp (message));
      PQfinish (conn);
      return NULL;
    }
  return conn;
}

static gboolean
exec_on (PGconn      *conn,
         const char  *sql,
         GError     **error)
{
  PGresult *result = PQexec (conn, sql);
  ExecStatusType status = PQresultStatus (result);
  gboolean ok = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK
                || status == PGRES_EMPTY_QUERY;

  if (!ok)
    {
      const char *state = PQresultErrorField (result, PG_DIAG_SQLSTATE);
      g_autofree char *message = g_strdup (result != NULL ? PQresultErrorMessage (result)
                                                          : PQerrorMessage (conn));

      /* The SQLSTATE, so that a test can tell "permission denied" (42501) from the rest. */
      g_set_error (error, LEAF_TEST_PG_ERROR, LEAF_TEST_PG_ERROR_FAILED, "%s (SQLSTATE %s)",
                   g_strchomp (message), state != NULL ? state : "none");
    }
  PQclear (result);
  return ok;
}

/**
 * leaf_test_pg_exec:
 * @dbname: the database; "postgres" for work on the cluster
 * @sql: one or more statements; several run as one implicit transaction, as psql -c runs them
 *
 * Runs @sql as the superuser, on a connection of its own.
 */
gboolean
leaf_test_pg_exec (LeafTestPg  *pg,
                   const char  *dbname,
                   const char  *sql,
                   GError     **error)
{
  PGconn *conn;
  gboolean ok;

  g_return_val_if_fail (pg != NULL && dbname != NULL && sql != NULL, FALSE);

  conn = connect_superuser (pg, dbname, error);
  if (conn == NULL)
    return FALSE;
  ok = exec_on (conn, sql, error);
  PQfinish (conn);
  return ok;
}

gboolean
leaf_test_pg_create_db (LeafTestPg  *pg,
                        const char  *dbname,
                        GError     **error)
{
  PGconn *conn;
  char *quoted;
  g_autofree char *sql = NULL;
  gboolean ok;

  g_return_val_if_fail (pg != NULL && dbname != NULL, FALSE);

  conn = connect_superuser (pg, "postgres", error);
  if (conn == NULL)
    return FALSE;
  quoted = PQescapeIdentifier (conn, dbname, strlen (dbname));
  if (quoted == NULL)
    {
      g_autofree char *message = g_strdup (PQerrorMessage (conn));

      g_set_error (error, LEAF_TEST_PG_ERROR, LEAF_TEST_PG_ERROR_FAILED, "%s",
                   g_strchomp (message));
      PQfinish (conn);
      return FALSE;
    }
  sql = g_strdup_printf ("CREATE DATABASE %s", quoted);
  PQfreemem (quoted);
  ok = exec_on (conn, sql, error);
  PQfinish (conn);
  return ok;
}

/**
 * leaf_test_pg_stop:
 * @immediate: TRUE to stop as a crash would (no checkpoint: the next start recovers from the
 *   WAL), FALSE to stop cleanly
 */
gboolean
leaf_test_pg_stop (LeafTestPg  *pg,
                   gboolean     immediate,
                   GError     **error)
{
  g_return_val_if_fail (pg != NULL, FALSE);

  if (!pg_ctl (pg, "stop", immediate ? "immediate" : "fast", error))
    return FALSE;
  pg->running = FALSE;
  return TRUE;
}

gboolean
leaf_test_pg_restart_after_stop (LeafTestPg  *pg,
                                 GError     **error)
{
  g_return_val_if_fail (pg != NULL, FALSE);

  if (pg->running)
    {
      g_set_error (error, LEAF_TEST_PG_ERROR, LEAF_TEST_PG_ERROR_FAILED,
                   "the server in %s was not stopped", pg->dir);
      return FALSE;
    }
  return start_server (pg, error);
}

/* The last resort when pg_ctl cannot stop the server: its children notice the postmaster's death
 * and leave on their own. */
static void
kill_postmaster (LeafTestPg *pg)
{
  g_autofree char *pid_file = g_build_filename (pg->data, "postmaster.pid", NULL);
  g_autofree char *contents = NULL;
  gint64 pid;

  /* Its first line is the postmaster's pid. */
  if (g_file_get_contents (pid_file, &contents, NULL, NULL))
    {
      contents[strcspn (contents, "\n")] = '\0';
      if (g_ascii_string_to_signed (contents, 10, 1, G_MAXINT, &pid, NULL))
        kill ((pid_t) pid, SIGKILL);
    }
}

/**
 * leaf_test_pg_free:
 *
 * Stops the server if it may be running, whatever state a failed test left it in, and removes
 * its folder.
 */
void
leaf_test_pg_free (LeafTestPg *pg)
{
  if (pg == NULL)
    return;

  if (pg->running && pg->dir != NULL)
    {
      g_autoptr(GError) error = NULL;

      if (!leaf_test_pg_stop (pg, FALSE, &error))
        {
          g_clear_error (&error);
          if (!leaf_test_pg_stop (pg, TRUE, &error))
            kill_postmaster (pg);
        }
    }
  if (pg->watchdog >= 0)
    {
      /* MSG_NOSIGNAL: a watchdog that is gone must not take us with it through SIGPIPE. */
      send (pg->watchdog, "done\n", 5, MSG_NOSIGNAL);
      close (pg->watchdog);
    }
  leaf_test_remove_tree (pg->dir);
  g_free (pg->log);
  g_free (pg->data);
  g_free (pg->dir);
  g_free (pg->bindir);
  g_free (pg);
}

static void
skip_cb (gconstpointer data)
{
  g_test_skip (data);
}

LeafTestPg *
leaf_test_pg_start_or_skip (const char *skip_path)
{
  g_autoptr(GError) error = NULL;
  char *skip_reason = NULL;
  LeafTestPg *pg = leaf_test_pg_start (&skip_reason, &error);

  g_assert_no_error (error);
  /* The reason lives as long as the test program. */
  if (pg == NULL)
    g_test_add_data_func_full (skip_path, skip_reason, skip_cb, g_free);
  return pg;
}
