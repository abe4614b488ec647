/* catalog-test-util.c: inputs for the catalog tests, made on the spot
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "leaf-test.h"

#include <glib/gstdio.h>
#include <pwd.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <unistd.h>

#include "catalog-test-util.h"
#include "leaf-catalog-pg.h"
#include "leaf-catalog-private.h"
#include "leaf-test-pg.h"

char *
ctu_make_tmp_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("leafscope-catalog-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

GBytes *
ctu_encode_image (const char *format,
                  int         width,
                  int         height,
                  guint       seed)
{
  g_autoptr(GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, width, height);
  g_autoptr(GError) error = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  guchar *pixels = gdk_pixbuf_get_pixels (pixbuf);
  int stride = gdk_pixbuf_get_rowstride (pixbuf);
  char *buffer = NULL;
  gsize length = 0;

  for (int y = 0; y < height; y++)
    for (int x = 0; x < width * 3; x++)
      pixels[y * stride + x] = (guchar) ((x * 3 + y * 5) ^ g_rand_int_range (rand, 0, 64));
  if (g_str_equal (format, "jpeg"))
    gdk_pixbuf_save_to_buffer (pixbuf, &buffer, &length, "jpeg", &error, "quality", "85", NULL);
  else
    gdk_pixbuf_save_to_buffer (pixbuf, &buffer, &length, format, &error, NULL);
  g_assert_no_error (error);
  return g_bytes_new_take (buffer, length);
}

void
ctu_write_bytes (const char *path,
                 const void *data,
                 gsize       length)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *parent = g_path_get_dirname (path);

  g_assert_cmpint (g_mkdir_with_parents (parent, 0755), ==, 0);
  g_file_set_contents (path, data, length, &error);
  g_assert_no_error (error);
}

void
ctu_write_image (const char *path,
                 const char *format,
                 int         width,
                 int         height,
                 guint       seed)
{
  g_autoptr(GBytes) bytes = ctu_encode_image (format, width, height, seed);
  gsize length = 0;
  const void *data = g_bytes_get_data (bytes, &length);

  ctu_write_bytes (path, data, length);
}

static void
put16 (GByteArray *out,
       gboolean    big,
       guint       value)
{
  guint8 b[2] = { big ? value >> 8 : value & 0xff, big ? value & 0xff : value >> 8 };
  g_byte_array_append (out, b, 2);
}

static void
put32 (GByteArray *out,
       gboolean    big,
       guint32     value)
{
  if (big)
    {
      put16 (out, TRUE, value >> 16);
      put16 (out, TRUE, value & 0xffff);
    }
  else
    {
      put16 (out, FALSE, value & 0xffff);
      put16 (out, FALSE, value >> 16);
    }
}

/* One 12-byte IFD entry whose value (of at most 4 bytes) or offset is `value`. */
static void
put_entry (GByteArray *out,
           gboolean    big,
           guint       tag,
           guint       type,
           guint32     count,
           guint32     value)
{
  put16 (out, big, tag);
  put16 (out, big, type);
  put32 (out, big, count);
  if (type == 3 && count == 1)
    {
      /* A SHORT sits in the first two bytes of the value field. */
      put16 (out, big, value);
      put16 (out, big, 0);
    }
  else
    put32 (out, big, value);
}

GBytes *
ctu_jpeg_with_exif (GBytes     *jpeg,
                    gboolean    big_endian,
                    guint       orientation,
                    const char *date_time_original)
{
  g_autoptr(GByteArray) tiff = g_byte_array_new ();
  g_autoptr(GByteArray) out = g_byte_array_new ();
  guint n_ifd0 = (orientation > 0) + (date_time_original != NULL);
  guint32 exif_ifd = 8 + 2 + 12 * n_ifd0 + 4;
  guint32 date_offset = exif_ifd + 2 + 12 + 4;
  gsize length = 0;
  const guint8 *data = g_bytes_get_data (jpeg, &length);

  g_byte_array_append (tiff, (const guint8 *) (big_endian ? "MM" : "II"), 2);
  put16 (tiff, big_endian, 42);
  put32 (tiff, big_endian, 8);
  put16 (tiff, big_endian, n_ifd0);
  if (orientation > 0)
    put_entry (tiff, big_endian, 0x0112, 3, 1, orientation);
  if (date_time_original != NULL)
    put_entry (tiff, big_endian, 0x8769, 4, 1, exif_ifd);
  put32 (tiff, big_endian, 0);
  if (date_time_original != NULL)
    {
      g_assert_cmpuint (tiff->len, ==, exif_ifd);
      put16 (tiff, big_endian, 1);
      put_entry (tiff, big_endian, 0x9003, 2, strlen (date_time_original) + 1, date_offset);
      put32 (tiff, big_endian, 0);
      g_assert_cmpuint (tiff->len, ==, date_offset);
      g_byte_array_append (tiff, (const guint8 *) date_time_original,
                           strlen (date_time_original) + 1);
    }

  g_assert_true (length > 2 && data[0] == 0xFF && data[1] == 0xD8);
  g_byte_array_append (out, data, 2);
  g_byte_array_append (out, (const guint8 *) "\xFF\xE1", 2);
  put16 (out, TRUE, 2 + 6 + tiff->len);
  g_byte_array_append (out, (const guint8 *) "Exif\0\0", 6);
  g_byte_array_append (out, tiff->data, tiff->len);
  g_byte_array_append (out, data + 2, length - 2);
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

char *
ctu_sha256_of_file (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize length = 0;

  g_file_get_contents (path, &contents, &length, &error);
  g_assert_no_error (error);
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) contents, length);
}

sqlite3 *
ctu_sql_open (const char *path)
{
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 10000);
  return db;
}

gint64
ctu_sql_int (sqlite3    *db,
             const char *sql)
{
  sqlite3_stmt *stmt = NULL;
  gint64 value;

  if (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) != SQLITE_OK)
    g_error ("%s: %s", sql, sqlite3_errmsg (db));
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  value = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  return value;
}

char *
ctu_sql_text (sqlite3    *db,
              const char *sql)
{
  sqlite3_stmt *stmt = NULL;
  char *value;

  if (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) != SQLITE_OK)
    g_error ("%s: %s", sql, sqlite3_errmsg (db));
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  value = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  sqlite3_finalize (stmt);
  return value;
}

/* Every image of the catalog at path, one line each in SHA-256 order: its class, labeller,
 * time, how, group and split; what an export must carry for an import to make it again. */
char *
ctu_catalog_state (const char *path)
{
  sqlite3 *db = ctu_sql_open (path);
  char *state = ctu_sql_text (db,
    "SELECT group_concat (line, char (10)) FROM (SELECT i.sha256 || ' ' || ifnull (c.name, '-') "
    "  || ' ' || ifnull (l.user, '-') || ' ' || ifnull (l.time, '-') || ' ' || "
    "  ifnull (l.how, '-') || ' ' || ifnull (i.group_key, '-') || ' ' || ifnull (s.split, 0) "
    "  AS line FROM images i LEFT JOIN labels l ON l.image_id = i.id "
    "  LEFT JOIN classes c ON c.id = l.class_id LEFT JOIN splits s ON s.image_id = i.id "
    "  ORDER BY i.sha256)");

  sqlite3_close (db);
  return state;
}

void
ctu_sql_exec (sqlite3    *db,
              const char *sql)
{
  char *message = NULL;

  if (sqlite3_exec (db, sql, NULL, NULL, &message) != SQLITE_OK)
    g_error ("%s: %s", sql, message);
}

const char *
ctu_cli_path (void)
{
  return g_getenv ("LEAFSCOPE_CLI");
}

/* Runs in the forked child before exec: only async-signal-safe calls. */
static void
become_user (gpointer data)
{
  const struct passwd *user = data;

  if (setgid (user->pw_gid) != 0 || setuid (user->pw_uid) != 0)
    _exit (125);
}

static int
run_cli_valist (const char            *catalog,
                const struct passwd   *user,
                char                 **out,
                char                 **err,
                va_list                args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  int status = 0;
  const char *arg;

  g_assert_nonnull (ctu_cli_path ());
  g_ptr_array_add (argv, (char *) ctu_cli_path ());
  g_ptr_array_add (argv, (char *) "--catalog");
  g_ptr_array_add (argv, (char *) catalog);
  while ((arg = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, (char *) arg);
  g_ptr_array_add (argv, NULL);

  g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT,
                user != NULL ? become_user : NULL, (gpointer) user, out, err, &status, &error);
  g_assert_no_error (error);
  return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
}

int
ctu_run_cli (const char  *catalog,
             char       **out,
             char       **err,
             ...)
{
  va_list args;
  int status;

  va_start (args, err);
  status = run_cli_valist (catalog, NULL, out, err, args);
  va_end (args);
  return status;
}

int
ctu_run_cli_as_nobody (const char  *catalog,
                       char       **out,
                       char       **err,
                       ...)
{
  /* Looked up here: the child may only make async-signal-safe calls. */
  const struct passwd *nobody = getpwnam ("nobody");
  struct passwd copy;
  va_list args;
  int status;

  g_assert_nonnull (nobody);
  copy = *nobody;
  va_start (args, err);
  status = run_cli_valist (catalog, &copy, out, err, args);
  va_end (args);
  return status;
}

GSubprocessLauncher *
ctu_cli_launcher_new (GSubprocessFlags flags)
{
  GSubprocessLauncher *launcher = g_subprocess_launcher_new (flags);

  g_subprocess_launcher_setenv (launcher, "HOME", g_get_home_dir (), TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_CACHE_HOME", g_get_user_cache_dir (), TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_CONFIG_HOME", g_get_user_config_dir (), TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_DATA_HOME", g_get_user_data_dir (), TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_STATE_HOME", g_get_user_state_dir (), TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_RUNTIME_DIR", g_get_user_runtime_dir (), TRUE);
  /* The system's folders are only read: the defaults. */
  g_subprocess_launcher_unsetenv (launcher, "XDG_DATA_DIRS");
  g_subprocess_launcher_unsetenv (launcher, "XDG_CONFIG_DIRS");
  return launcher;
}

void
ctu_insert_images (const char *path,
                   guint       first,
                   guint       n)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafDb) server = NULL;
  sqlite3 *db = NULL;

  if (_leaf_pg_is_location (path))
    {
      server = _leaf_db_open (path, FALSE, LEAF_DB_WORKER, &error);
      g_assert_no_error (error);
      g_assert_true (_leaf_db_exec (server, "BEGIN", &error));
    }
  else
    {
      db = ctu_sql_open (path);
      ctu_sql_exec (db, "BEGIN");
    }
  for (guint i = first; i < first + n; i++)
    {
      g_autofree char *sql =
        g_strdup_printf ("INSERT INTO images (id, sha256, path, name, size, width, height, "
                         "format, imported, captured) VALUES (%u, '%064x', '/photos/img-%04u.jpg', "
                         "'img-%04u.jpg', 1000, 256, 256, 'jpeg', '2024-01-01T00:00:00.000000Z', "
                         "%s)", i, i, i, i, i % 2 == 0 ? "'2023-05-01T12:00:00'" : "NULL");

      if (server != NULL)
        g_assert_true (_leaf_db_exec (server, sql, &error));
      else
        ctu_sql_exec (db, sql);
    }
  if (server != NULL)
    {
      /* Ids given by hand leave the server's own count behind. */
      g_assert_true (_leaf_db_exec (server, "SELECT setval (pg_get_serial_sequence ('images', "
                                    "'id'), (SELECT max (id) FROM images)); COMMIT", &error));
      g_assert_no_error (error);
      return;
    }
  ctu_sql_exec (db, "COMMIT");
  sqlite3_close (db);
}

static LeafTestPg *server;
static char *server_skip_reason;
static guint n_server_catalogs;

gboolean
ctu_server_available (char **skip_reason)
{
  static gboolean tried;
  g_autoptr(GError) error = NULL;

  if (!tried)
    {
      tried = TRUE;
      server = leaf_test_pg_start (&server_skip_reason, &error);
      g_assert_no_error (error);
    }
  if (server == NULL && skip_reason != NULL)
    *skip_reason = g_strdup (server_skip_reason);
  return server != NULL;
}

char *
ctu_server_catalog (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;
  g_autofree char *create = NULL;

  g_assert_true (ctu_server_available (NULL));
  name = g_strdup_printf ("catalog%u", ++n_server_catalogs);
  /* Names sort as they do in a catalog file (SQLite compares bytes). */
  create = g_strdup_printf ("CREATE DATABASE %s TEMPLATE template0 LC_COLLATE 'C' "
                            "LC_CTYPE 'C.UTF-8'", name);
  g_assert_true (leaf_test_pg_exec (server, "postgres", create, &error));
  g_assert_no_error (error);
  return leaf_test_pg_uri (server, name, NULL);
}

void
ctu_server_stop (void)
{
  g_clear_pointer (&server, leaf_test_pg_free);
  g_clear_pointer (&server_skip_reason, g_free);
}

gint64
ctu_query_int (const char *location,
               const char *sql)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafDb) db = _leaf_db_open (location, FALSE, LEAF_DB_WORKER, &error);
  g_autoptr(LeafStmt) stmt = NULL;

  g_assert_no_error (error);
  stmt = _leaf_db_prepare (db, sql, &error);
  g_assert_no_error (error);
  g_assert_cmpint (_leaf_step (stmt), ==, LEAF_STEP_ROW);
  return _leaf_column_int64 (stmt, 0);
}

guint
ctu_count_lines (const char *text)
{
  guint n = 0;

  for (const char *p = text; *p != '\0'; p++)
    n += *p == '\n';
  return n;
}
