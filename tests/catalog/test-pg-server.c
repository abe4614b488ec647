/* test-pg-server.c: the private PostgreSQL server of tests/common/leaf-test-pg.c: it starts,
 * keeps what it acknowledged through an immediate stop, enforces roles, and leaves nothing
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "leaf-test.h"
#include "leaf-test-pg.h"

#include <libpq-fe.h>
#include <string.h>

/* A server, or NULL after g_test_skip() where this machine cannot have one. */
static LeafTestPg *
start_or_skip (void)
{
  g_autofree char *skip_reason = NULL;
  g_autoptr(GError) error = NULL;
  LeafTestPg *pg = leaf_test_pg_start (&skip_reason, &error);

  if (skip_reason != NULL)
    {
      g_assert_null (pg);
      g_test_skip (skip_reason);
      return NULL;
    }
  g_assert_no_error (error);
  g_assert_nonnull (pg);
  return pg;
}

static PGconn *
connect_uri (const char *uri)
{
  PGconn *conn = PQconnectdb (uri);

  if (PQstatus (conn) != CONNECTION_OK)
    g_error ("could not connect to %s: %s", uri, PQerrorMessage (conn));
  return conn;
}

/* The one value @sql returns. */
static char *
query_value (PGconn     *conn,
             const char *sql)
{
  PGresult *result = PQexec (conn, sql);
  char *value;

  if (PQresultStatus (result) != PGRES_TUPLES_OK)
    g_error ("%s: %s", sql, PQresultErrorMessage (result));
  g_assert_cmpint (PQntuples (result), ==, 1);
  g_assert_cmpint (PQnfields (result), ==, 1);
  value = g_strdup (PQgetvalue (result, 0, 0));
  PQclear (result);
  return value;
}

static char *
uri_host (const char *uri)
{
  PQconninfoOption *options = PQconninfoParse (uri, NULL);
  char *host = NULL;

  g_assert_nonnull (options);
  for (PQconninfoOption *option = options; option->keyword != NULL; option++)
    if (strcmp (option->keyword, "host") == 0)
      host = g_strdup (option->val);
  PQconninfoFree (options);
  return host;
}

/* Rows written before an immediate stop, by the harness and by a client of its own, are there
 * after the restart: the stop skips the checkpoint, so they come back from the WAL. */
static void
test_survives_immediate_stop (void)
{
  g_autoptr(LeafTestPg) pg = start_or_skip ();
  g_autoptr(GError) error = NULL;
  g_autofree char *uri = NULL;
  g_autofree char *value = NULL;
  g_autofree char *count = NULL;
  PGconn *conn;
  PGresult *result;

  if (pg == NULL)
    return;

  g_assert_true (leaf_test_pg_create_db (pg, "leaf", &error));
  g_assert_no_error (error);
  g_assert_true (leaf_test_pg_exec (pg, "leaf",
                                    "CREATE TABLE notes (id integer PRIMARY KEY, body text);"
                                    "INSERT INTO notes VALUES (1, 'first leaf ✓')",
                                    &error));
  g_assert_no_error (error);

  uri = leaf_test_pg_uri (pg, "leaf", NULL);
  g_assert_true (g_str_has_prefix (uri, "postgresql:///leaf?host=/"));
  conn = connect_uri (uri);
  value = query_value (conn, "SELECT body FROM notes WHERE id = 1");
  g_assert_cmpstr (value, ==, "first leaf ✓");
  result = PQexec (conn, "INSERT INTO notes VALUES (2, 'acknowledged')");
  g_assert_cmpint (PQresultStatus (result), ==, PGRES_COMMAND_OK);
  PQclear (result);

  g_assert_true (leaf_test_pg_stop (pg, TRUE, &error));
  g_assert_no_error (error);
  /* The client's connection went with the server. */
  result = PQexec (conn, "SELECT 1");
  g_assert_cmpint (PQresultStatus (result), !=, PGRES_TUPLES_OK);
  PQclear (result);
  PQfinish (conn);
  /* Starting twice is a mistake the harness reports. */
  g_assert_true (leaf_test_pg_restart_after_stop (pg, &error));
  g_assert_no_error (error);
  g_assert_false (leaf_test_pg_restart_after_stop (pg, &error));
  g_assert_error (error, LEAF_TEST_PG_ERROR, LEAF_TEST_PG_ERROR_FAILED);
  g_clear_error (&error);

  conn = connect_uri (uri);
  count = query_value (conn, "SELECT count(*) FROM notes");
  g_assert_cmpstr (count, ==, "2");
  g_clear_pointer (&value, g_free);
  value = query_value (conn, "SELECT string_agg(body, '|' ORDER BY id) FROM notes");
  g_assert_cmpstr (value, ==, "first leaf ✓|acknowledged");
  PQfinish (conn);

  /* A clean stop and start too. */
  g_assert_true (leaf_test_pg_stop (pg, FALSE, &error));
  g_assert_no_error (error);
  g_assert_true (leaf_test_pg_restart_after_stop (pg, &error));
  g_assert_no_error (error);
  g_assert_true (leaf_test_pg_exec (pg, "leaf", "SELECT 1 FROM notes WHERE id = 2", &error));
  g_assert_no_error (error);
}

/* A role granted SELECT only reads through its URI and is refused an INSERT; the harness's
 * errors carry the SQLSTATE. */
static void
test_read_only_role (void)
{
  g_autoptr(LeafTestPg) pg = start_or_skip ();
  g_autoptr(GError) error = NULL;
  g_autofree char *uri = NULL;
  g_autofree char *value = NULL;
  PGconn *conn;
  PGresult *result;

  if (pg == NULL)
    return;

  g_assert_true (leaf_test_pg_create_db (pg, "leaf", &error));
  g_assert_no_error (error);
  g_assert_true (leaf_test_pg_exec (pg, "leaf",
                                    "CREATE TABLE notes (id integer PRIMARY KEY, body text);"
                                    "INSERT INTO notes VALUES (1, 'visible');"
                                    "CREATE ROLE reader LOGIN;"
                                    "GRANT SELECT ON notes TO reader",
                                    &error));
  g_assert_no_error (error);

  uri = leaf_test_pg_uri (pg, "leaf", "reader");
  g_assert_nonnull (strstr (uri, "user=reader"));
  conn = connect_uri (uri);
  value = query_value (conn, "SELECT current_user || ':' || body FROM notes");
  g_assert_cmpstr (value, ==, "reader:visible");
  result = PQexec (conn, "INSERT INTO notes VALUES (2, 'forbidden')");
  g_assert_cmpint (PQresultStatus (result), ==, PGRES_FATAL_ERROR);
  g_assert_cmpstr (PQresultErrorField (result, PG_DIAG_SQLSTATE), ==, "42501");
  g_assert_nonnull (strstr (PQresultErrorMessage (result), "permission denied"));
  PQclear (result);
  PQfinish (conn);

  /* The harness's own failures: a bad statement, a database that does not exist, one made
   * twice. */
  g_assert_false (leaf_test_pg_exec (pg, "leaf", "SELECT * FROM no_such_table", &error));
  g_assert_error (error, LEAF_TEST_PG_ERROR, LEAF_TEST_PG_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "42P01"));
  g_clear_error (&error);
  g_assert_false (leaf_test_pg_exec (pg, "no_such_db", "SELECT 1", &error));
  g_assert_error (error, LEAF_TEST_PG_ERROR, LEAF_TEST_PG_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_false (leaf_test_pg_create_db (pg, "leaf", &error));
  g_assert_error (error, LEAF_TEST_PG_ERROR, LEAF_TEST_PG_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "42P04"));
}

/* Two servers at once, each in its own folder on the same port, each with its own data; freeing
 * one stops it and removes its folder, and leaves the other alone. */
static void
test_apart (void)
{
  g_autoptr(LeafTestPg) first = start_or_skip ();
  g_autoptr(LeafTestPg) second = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *first_uri = NULL;
  g_autofree char *second_uri = NULL;
  g_autofree char *first_host = NULL;
  g_autofree char *second_host = NULL;
  g_autofree char *value = NULL;
  PGconn *conn;

  if (first == NULL)
    return;
  second = start_or_skip ();
  g_assert_nonnull (second);

  g_assert_true (leaf_test_pg_exec (first, "postgres", "CREATE TABLE mine (v text);"
                                    "INSERT INTO mine VALUES ('first')", &error));
  g_assert_no_error (error);
  g_assert_true (leaf_test_pg_exec (second, "postgres", "CREATE TABLE mine (v text);"
                                    "INSERT INTO mine VALUES ('second')", &error));
  g_assert_no_error (error);

  first_uri = leaf_test_pg_uri (first, "postgres", NULL);
  second_uri = leaf_test_pg_uri (second, "postgres", NULL);
  first_host = uri_host (first_uri);
  second_host = uri_host (second_uri);
  g_assert_cmpstr (first_host, !=, second_host);
  g_assert_true (g_file_test (first_host, G_FILE_TEST_IS_DIR));

  g_clear_pointer (&first, leaf_test_pg_free);
  g_assert_false (g_file_test (first_host, G_FILE_TEST_EXISTS));
  conn = PQconnectdb (first_uri);
  g_assert_cmpint (PQstatus (conn), ==, CONNECTION_BAD);
  PQfinish (conn);

  conn = connect_uri (second_uri);
  value = query_value (conn, "SELECT v FROM mine");
  g_assert_cmpstr (value, ==, "second");
  PQfinish (conn);
}

int
main (int   argc,
      char *argv[])
{
  leaf_test_init (&argc, &argv);

  g_test_add_func ("/pg-server/survives-immediate-stop", test_survives_immediate_stop);
  g_test_add_func ("/pg-server/read-only-role", test_read_only_role);
  g_test_add_func ("/pg-server/apart", test_apart);

  return g_test_run ();
}
