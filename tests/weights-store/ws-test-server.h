/* ws-test-server.h: a loopback HTTP server for the weights-store tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "leaf-test.h"

#include <libsoup/soup.h>

G_BEGIN_DECLS

/* Serves one body on 127.0.0.1 from the thread-default main context, whatever the path, with a
 * behaviour chosen by the path's first component:
 *   /ok/...       200, or 206 for a Range request
 *   /cut/...      without Range: promises the whole body, sends half, closes the connection;
 *                 with Range: as /ok/
 *   /norange/...  always 200 with the whole body, Range or not
 *   /slow/...     200, the body trickling out in small pieces
 *   /endless/...  200 without a length, the body trickling out over and over, never ending
 *   anything else 404 */
typedef struct
{
  SoupServer *server;
  char *base_url;    /* http://127.0.0.1:PORT */
  GBytes *body;
  guint n_requests;
  char *last_range;  /* the Range header of the latest request, NULL when it had none */
  GHashTable *slow;  /* SoupServerMessage -> its trickle source id */
} WsServer;

WsServer *ws_server_new        (GBytes     *body);
void      ws_server_free       (WsServer   *server);
void      ws_server_set_body   (WsServer   *server,
                                GBytes     *body);
char     *ws_server_url        (WsServer   *server,
                                const char *path);

/* Writes n_bytes of reproducible pseudo-random data. */
GBytes   *ws_make_bytes        (gsize       n_bytes,
                                guint32     seed);

/* A folder holding weight files written by torchvision through LEAFSCOPE_PYTHON, made on first
 * use: compatible.pth (efficientnet_b0(num_classes=10)), shape.pth (one tensor of the wrong
 * shape), missing.pth (one key removed), and with every key and shape right but values nothing
 * can train from: nan.pth (one NaN), negative-var.pth (one negative BatchNorm variance) and
 * integer.pth (int64 stem weights). NULL, after g_test_skip(), without torch. */
const char *ws_torch_files         (void);
void        ws_torch_files_remove  (void);

/* The names in dir, sorted, joined with spaces ("" when empty). */
char     *ws_list_dir          (const char *dir);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (WsServer, ws_server_free)

G_END_DECLS
