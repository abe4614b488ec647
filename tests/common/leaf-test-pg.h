/* leaf-test-pg.h: a private PostgreSQL server for the tests that need one
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define LEAF_TEST_PG_ERROR (leaf_test_pg_error_quark ())

typedef enum
{
  LEAF_TEST_PG_ERROR_FAILED,
} LeafTestPgError;

GQuark leaf_test_pg_error_quark (void);

typedef struct _LeafTestPg LeafTestPg;

/* Starts a fresh cluster in a new temporary folder (initdb, then pg_ctl start -w), listening
 * only on a Unix socket in that folder. The superuser role is "leaftest". Returns NULL and sets
 * *skip_reason (the caller frees it) when the test cannot have a server here (no PostgreSQL
 * binaries; root with no unprivileged user to run them), so that the test can g_test_skip();
 * returns NULL and sets @error when a server should have started and did not. */
LeafTestPg *leaf_test_pg_start             (char        **skip_reason,
                                            GError      **error);

/* For a test program's main(), before g_test_run(): the server its server tests stand on; where
 * there can be none, NULL, and one test added at @skip_path that reports why as a skip. */
LeafTestPg *leaf_test_pg_start_or_skip     (const char   *skip_path);

/* A libpq connection URI for database @dbname as @role (NULL: the superuser), such as
 * postgresql:///leaf?host=/tmp/leafpg-Ab12Cd&port=5432&user=leaftest; no password anywhere. */
char       *leaf_test_pg_uri               (LeafTestPg   *pg,
                                            const char   *dbname,
                                            const char   *role);

/* Runs @sql (one or more statements) as the superuser on @dbname ("postgres" for admin work). */
gboolean    leaf_test_pg_exec              (LeafTestPg   *pg,
                                            const char   *dbname,
                                            const char   *sql,
                                            GError      **error);

/* Creates the database @dbname, owned by the superuser. */
gboolean    leaf_test_pg_create_db         (LeafTestPg   *pg,
                                            const char   *dbname,
                                            GError      **error);

/* Stops the server: with @immediate as a crash would (pg_ctl stop -m immediate: no checkpoint,
 * recovery from the WAL at the next start), otherwise cleanly (-m fast). */
gboolean    leaf_test_pg_stop              (LeafTestPg   *pg,
                                            gboolean      immediate,
                                            GError      **error);

/* Starts the stopped server again on the same data folder and socket (for durability tests). */
gboolean    leaf_test_pg_restart_after_stop (LeafTestPg  *pg,
                                             GError     **error);

/* Stops the server if it runs and removes its folder. */
void        leaf_test_pg_free              (LeafTestPg   *pg);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LeafTestPg, leaf_test_pg_free)

G_END_DECLS
