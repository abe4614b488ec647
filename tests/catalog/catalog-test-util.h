/* catalog-test-util.h: inputs for the catalog tests, made on the spot
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "leaf-test.h"

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <sqlite3.h>

G_BEGIN_DECLS

/* A fresh temporary folder; remove it with leaf_test_remove_tree(). */
char      *ctu_make_tmp_dir        (void);

/* Encodes a width x height picture whose pixels depend on seed (so that every seed gives other
 * bytes) as "jpeg" or "png". */
GBytes    *ctu_encode_image        (const char  *format,
                                    int          width,
                                    int          height,
                                    guint        seed);
void       ctu_write_image         (const char  *path,
                                    const char  *format,
                                    int          width,
                                    int          height,
                                    guint        seed);
void       ctu_write_bytes         (const char  *path,
                                    const void  *data,
                                    gsize        length);
/* Inserts an EXIF APP1 segment with an orientation (0: none) and a DateTimeOriginal (NULL: none)
 * right after the SOI marker of a JPEG, written independently of the parser under test. */
GBytes    *ctu_jpeg_with_exif      (GBytes      *jpeg,
                                    gboolean     big_endian,
                                    guint        orientation,
                                    const char  *date_time_original);

char      *ctu_sha256_of_file      (const char  *path);

/* A raw connection to a catalog file, beside the catalog object under test. */
sqlite3   *ctu_sql_open            (const char  *path);
gint64     ctu_sql_int             (sqlite3     *db,
                                    const char  *sql);
char      *ctu_sql_text            (sqlite3     *db,
                                    const char  *sql);
char      *ctu_catalog_state       (const char  *path);
void       ctu_sql_exec            (sqlite3     *db,
                                    const char  *sql);
/* Images as an import would leave them, written with plain SQL: ids first..first+n-1, the
 * SHA-256 the id in hex, the name img-NNNN.jpg. */
void       ctu_insert_images       (const char  *path,
                                    guint        first,
                                    guint        n);

/* Catalogs on a server: this process's private PostgreSQL server (tests/common/leaf-test-pg.h),
 * started at the first call. Whether there can be one here; when not, why (the caller frees). */
gboolean   ctu_server_available    (char       **skip_reason);
/* A new database on the server, as the location of a catalog that does not exist yet. */
char      *ctu_server_catalog      (void);
/* Stops the server, if one was started: at the end of the test program. */
void       ctu_server_stop         (void);
/* The first column of the first row of sql, in a catalog of either kind: file or server. */
gint64     ctu_query_int           (const char  *location,
                                    const char  *sql);

/* How many lines text holds (its line breaks). */
guint      ctu_count_lines         (const char  *text);

/* The leafscope-cli built with the tests (env LEAFSCOPE_CLI); NULL when not set. */
const char *ctu_cli_path           (void);
/* Runs leafscope-cli --catalog CATALOG ARGS...; returns the exit status and fills the outputs. */
int        ctu_run_cli             (const char  *catalog,
                                    char       **out,
                                    char       **err,
                                    ...) G_GNUC_NULL_TERMINATED;
/* The same as the user nobody, who may not write what root's tests made (the caller is root). */
int        ctu_run_cli_as_nobody   (const char  *catalog,
                                    char       **out,
                                    char       **err,
                                    ...) G_GNUC_NULL_TERMINATED;
/* A launcher whose children get the test's own home and XDG folders: under
 * G_TEST_OPTION_ISOLATE_DIRS GLib gives them to the test's process only, and children see
 * /dev/null. */
GSubprocessLauncher *ctu_cli_launcher_new (GSubprocessFlags flags);

G_END_DECLS
