/* leaf-catalog-pg.h: the PostgreSQL side of the catalog's connections
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "leaf-catalog-private.h"

G_BEGIN_DECLS

/* A statement as the server runs it: the catalog's SQL with its parameters numbered $1, $2...,
 * the values bound to them, and the rows of its last run. */
typedef struct _LeafPgStmt LeafPgStmt;

/* Whether a catalog location names a server rather than a file. */
gboolean    _leaf_pg_is_location     (const char   *location);
/* The location as messages show it: the password a URI may hold is left out. */
char       *_leaf_pg_display_name    (const char   *location);

gboolean    _leaf_pg_open            (LeafDb       *db,
                                      gboolean      create,
                                      LeafDbRole    role,
                                      GError      **error);
/* Notifications of commits to the catalog, on a connection of their own; NULL when it cannot
 * connect (the watch's ticks still notice). Used by one thread. */
typedef struct _LeafPgListener LeafPgListener;
LeafPgListener *_leaf_pg_listener_new  (LeafDb          *db);
/* Readable when a notification may have come. */
int             _leaf_pg_listener_fd   (LeafPgListener  *listener);
/* Reads what came: heard is whether another connection than the catalog's own committed.
 * FALSE when the connection is lost. */
gboolean        _leaf_pg_listener_read (LeafPgListener  *listener,
                                        gboolean        *heard);
void            _leaf_pg_listener_free (LeafPgListener  *listener);
/* Whether the connection was lost outside a transaction: a new one may take its place. */
gboolean    _leaf_pg_connection_lost (LeafDb       *db);
/* A new connection to the server at location, or NULL; made without touching any LeafDb, so that
 * a thread may wait for the network without holding the catalog's lock. */
struct pg_conn *_leaf_pg_connect_again (const char *location);
/* Puts conn in place of db's lost connection (the caller holds the catalog's lock); when db is
 * closed or its connection was not lost after all, conn is closed and FALSE returned. */
gboolean    _leaf_pg_adopt           (LeafDb          *db,
                                      struct pg_conn  *conn);
/* The role the connection logged in as. */
const char *_leaf_pg_role            (LeafDb       *db);
void        _leaf_pg_close           (LeafDb       *db);
gboolean    _leaf_pg_exec            (LeafDb       *db,
                                      const char   *sql,
                                      GError      **error);
gboolean    _leaf_pg_fail            (LeafDb       *db,
                                      GError      **error);
gboolean    _leaf_pg_begin           (LeafDb       *db,
                                      GError      **error);
void        _leaf_pg_rollback        (LeafDb       *db);
gboolean    _leaf_pg_commit          (LeafDb       *db,
                                      GError      **error);
gboolean    _leaf_pg_data_version    (LeafDb       *db,
                                      gint64       *version,
                                      GError      **error);

LeafPgStmt *_leaf_pg_stmt_new        (const char   *sql);
void        _leaf_pg_stmt_free       (LeafPgStmt   *stmt);
/* Forgets the rows of the last run; the bindings stay. */
void        _leaf_pg_stmt_reset      (LeafPgStmt   *stmt);
void        _leaf_pg_stmt_clear      (LeafPgStmt   *stmt);
int         _leaf_pg_stmt_n_params   (LeafPgStmt   *stmt);
/* value NULL binds NULL; type is the server's type oid (0: let the server decide). */
void        _leaf_pg_bind            (LeafPgStmt   *stmt,
                                      int           index,
                                      unsigned int  type,
                                      const void   *value,
                                      gsize         length,
                                      gboolean      binary);
LeafStep    _leaf_pg_step            (LeafDb       *db,
                                      LeafPgStmt   *stmt);
const char *_leaf_pg_column_text     (LeafPgStmt   *stmt,
                                      int           column);
gint64      _leaf_pg_column_int64    (LeafPgStmt   *stmt,
                                      int           column);
gconstpointer _leaf_pg_column_blob   (LeafPgStmt   *stmt,
                                      int           column,
                                      gsize        *size);

G_END_DECLS
