/* ws-test-server.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "leaf-test.h"

#include <glib/gstdio.h>
#include <string.h>

#include "ws-test-server.h"

#define TRICKLE_BYTES (16 * 1024)
#define TRICKLE_MS 20

typedef struct
{
  WsServer *server;
  SoupServerMessage *message;
  gsize sent;
  gboolean endless;  /* the body over and over, until the client goes away */
} Trickle;

static gboolean
trickle_cb (gpointer data)
{
  Trickle *trickle = data;
  gsize size = g_bytes_get_size (trickle->server->body);
  gsize offset = trickle->sent % size;
  gsize n = MIN (TRICKLE_BYTES, size - offset);
  const guint8 *bytes = g_bytes_get_data (trickle->server->body, NULL);
  SoupMessageBody *body = soup_server_message_get_response_body (trickle->message);

  soup_message_body_append (body, SOUP_MEMORY_COPY, bytes + offset, n);
  trickle->sent += n;
  if (!trickle->endless && trickle->sent == size)
    soup_message_body_complete (body);
  soup_server_message_unpause (trickle->message);
  if (trickle->endless || trickle->sent < size)
    return G_SOURCE_CONTINUE;
  g_hash_table_remove (trickle->server->slow, trickle->message);
  return G_SOURCE_REMOVE;
}

/* The client went away (cancelled) or the body is complete: stop trickling. */
static void
slow_finished_cb (SoupServerMessage *message,
                  WsServer          *server)
{
  gpointer id;

  if (g_hash_table_steal_extended (server->slow, message, NULL, &id))
    g_source_remove (GPOINTER_TO_UINT (id));
}

static void
serve_whole_or_range (WsServer          *server,
                      SoupServerMessage *message,
                      gboolean           honour_range)
{
  SoupMessageHeaders *request = soup_server_message_get_request_headers (message);
  SoupMessageHeaders *response = soup_server_message_get_response_headers (message);
  gsize size = g_bytes_get_size (server->body);
  const guint8 *bytes = g_bytes_get_data (server->body, NULL);
  SoupRange *ranges = NULL;
  int n_ranges = 0;

  if (honour_range && soup_message_headers_get_ranges (request, size, &ranges, &n_ranges)
      && n_ranges == 1)
    {
      goffset start = ranges[0].start, end = ranges[0].end;

      soup_message_headers_free_ranges (request, ranges);
      if (start >= (goffset) size)
        {
          soup_server_message_set_status (message, SOUP_STATUS_REQUESTED_RANGE_NOT_SATISFIABLE,
                                          NULL);
          return;
        }
      soup_server_message_set_status (message, SOUP_STATUS_PARTIAL_CONTENT, NULL);
      soup_message_headers_set_content_range (response, start, end, size);
      soup_message_body_append (soup_server_message_get_response_body (message),
                                SOUP_MEMORY_COPY, bytes + start, end - start + 1);
      return;
    }
  if (ranges != NULL)
    soup_message_headers_free_ranges (request, ranges);

  soup_server_message_set_status (message, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (message, "application/octet-stream", SOUP_MEMORY_COPY,
                                    (const char *) bytes, size);
}

static void
serve_cut (WsServer          *server,
           SoupServerMessage *message)
{
  g_autoptr(GIOStream) stream = soup_server_message_steal_connection (message);
  g_autofree char *head = NULL;
  gsize size = g_bytes_get_size (server->body);
  GOutputStream *output = g_io_stream_get_output_stream (stream);

  head = g_strdup_printf ("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                          "Content-Length: %" G_GSIZE_FORMAT "\r\n\r\n", size);
  g_assert_true (g_output_stream_write_all (output, head, strlen (head), NULL, NULL, NULL));
  g_assert_true (g_output_stream_write_all (output, g_bytes_get_data (server->body, NULL),
                                            size / 2, NULL, NULL, NULL));
  g_assert_true (g_io_stream_close (stream, NULL, NULL));
}

static void
serve_slow (WsServer          *server,
            SoupServerMessage *message,
            gboolean           endless)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (message);
  Trickle *trickle = g_new0 (Trickle, 1);
  guint id;

  trickle->server = server;
  trickle->message = message;
  trickle->endless = endless;
  soup_server_message_set_status (message, SOUP_STATUS_OK, NULL);
  if (endless)
    {
      soup_message_headers_set_encoding (headers, SOUP_ENCODING_CHUNKED);
      soup_message_body_set_accumulate (soup_server_message_get_response_body (message), FALSE);
    }
  else
    soup_message_headers_set_content_length (headers, g_bytes_get_size (server->body));
  g_signal_connect (message, "finished", G_CALLBACK (slow_finished_cb), server);
  soup_server_message_pause (message);
  id = g_timeout_add_full (G_PRIORITY_DEFAULT, TRICKLE_MS, trickle_cb, trickle, g_free);
  g_hash_table_insert (server->slow, message, GUINT_TO_POINTER (id));
}

static void
handle_cb (SoupServer        *soup_server,
           SoupServerMessage *message,
           const char        *path,
           GHashTable        *query,
           gpointer           user_data)
{
  WsServer *server = user_data;
  const char *range = soup_message_headers_get_one (
    soup_server_message_get_request_headers (message), "Range");

  server->n_requests++;
  g_free (server->last_range);
  server->last_range = g_strdup (range);

  if (g_str_has_prefix (path, "/ok/"))
    serve_whole_or_range (server, message, TRUE);
  else if (g_str_has_prefix (path, "/cut/") && range != NULL)
    serve_whole_or_range (server, message, TRUE);
  else if (g_str_has_prefix (path, "/cut/"))
    serve_cut (server, message);
  else if (g_str_has_prefix (path, "/norange/"))
    serve_whole_or_range (server, message, FALSE);
  else if (g_str_has_prefix (path, "/slow/"))
    serve_slow (server, message, FALSE);
  else if (g_str_has_prefix (path, "/endless/"))
    serve_slow (server, message, TRUE);
  else
    soup_server_message_set_status (message, SOUP_STATUS_NOT_FOUND, NULL);
}

WsServer *
ws_server_new (GBytes *body)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  WsServer *server = g_new0 (WsServer, 1);
  GSList *listeners;

  /* Only the loopback interface is ever contacted; keep any configured proxy out of it. */
  g_setenv ("no_proxy", "127.0.0.1,localhost", TRUE);
  g_setenv ("NO_PROXY", "127.0.0.1,localhost", TRUE);

  server->body = g_bytes_ref (body);
  server->slow = g_hash_table_new (NULL, NULL);
  server->server = soup_server_new ("server-header", "ws-test-server ", NULL);
  soup_server_add_handler (server->server, NULL, handle_cb, server, NULL);
  g_assert_true (soup_server_listen (server->server, address, 0, &error));
  g_assert_no_error (error);

  /* Not soup_server_get_uris(): libsoup 3.2 leaks a socket address in it. */
  listeners = soup_server_get_listeners (server->server);
  g_assert_nonnull (listeners);
  bound = g_socket_get_local_address (listeners->data, &error);
  g_assert_no_error (error);
  server->base_url = g_strdup_printf ("http://127.0.0.1:%u",
                                      g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  g_slist_free (listeners);
  return server;
}

void
ws_server_free (WsServer *server)
{
  GHashTableIter iter;
  gpointer id;

  g_hash_table_iter_init (&iter, server->slow);
  while (g_hash_table_iter_next (&iter, NULL, &id))
    g_source_remove (GPOINTER_TO_UINT (id));
  g_hash_table_unref (server->slow);
  soup_server_disconnect (server->server);
  g_object_unref (server->server);
  g_bytes_unref (server->body);
  g_free (server->base_url);
  g_free (server->last_range);
  g_free (server);
}

void
ws_server_set_body (WsServer *server,
                    GBytes   *body)
{
  g_bytes_unref (server->body);
  server->body = g_bytes_ref (body);
}

char *
ws_server_url (WsServer   *server,
               const char *path)
{
  return g_strconcat (server->base_url, path, NULL);
}

GBytes *
ws_make_bytes (gsize   n_bytes,
               guint32 seed)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  guint32 *words = g_new (guint32, n_bytes / 4 + 1);

  for (gsize i = 0; i < n_bytes / 4 + 1; i++)
    words[i] = g_rand_int (rand);
  return g_bytes_new_take (words, n_bytes);
}

static char *torch_dir;
static gboolean torch_missing;

static gboolean
make_torch_files (const char *dir)
{
  static const char script[] =
    "import collections, sys, torch, torchvision\n"
    "torch.manual_seed(0)\n"
    "sd = torchvision.models.efficientnet_b0(num_classes=10).state_dict()\n"
    "torch.save(sd, sys.argv[1] + '/compatible.pth')\n"
    "bad = collections.OrderedDict(sd)\n"
    "assert bad['features.1.0.block.0.0.weight'].shape == (32, 1, 3, 3)\n"
    "bad['features.1.0.block.0.0.weight'] = torch.zeros(16, 1, 3, 3)\n"
    "torch.save(bad, sys.argv[1] + '/shape.pth')\n"
    "missing = collections.OrderedDict(sd)\n"
    "del missing['features.2.0.block.1.1.running_var']\n"
    "torch.save(missing, sys.argv[1] + '/missing.pth')\n"
    "for name, key, value in [('nan.pth', 'features.4.0.block.0.0.weight', float('nan')),\n"
    "                         ('negative-var.pth', 'features.3.0.block.1.1.running_var', -1.0)]:\n"
    "    changed = collections.OrderedDict(sd)\n"
    "    changed[key] = changed[key].clone()\n"
    "    changed[key].view(-1)[5] = value\n"
    "    torch.save(changed, sys.argv[1] + '/' + name)\n"
    "integer = collections.OrderedDict(sd)\n"
    "integer['features.0.0.weight'] = integer['features.0.0.weight'].round().long()\n"
    "torch.save(integer, sys.argv[1] + '/integer.pth')\n";
  const char *python = g_getenv ("LEAFSCOPE_PYTHON");
  const char *argv[] = { python, "-c", script, dir, NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  int status;

  if (python == NULL || !g_file_test (python, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("LEAFSCOPE_PYTHON is not set to a Python with torch and torchvision");
      return FALSE;
    }
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                               NULL, &err, &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    {
      if (strstr (err, "ModuleNotFoundError") != NULL)
        {
          g_test_skip ("torch or torchvision is missing from LEAFSCOPE_PYTHON");
          return FALSE;
        }
      g_error ("Generating weight files failed:\n%s", err);
    }
  return TRUE;
}

const char *
ws_torch_files (void)
{
  if (torch_dir == NULL && !torch_missing)
    {
      g_autoptr(GError) error = NULL;
      char *dir = g_dir_make_tmp ("leafscope-weights-torch-XXXXXX", &error);

      g_assert_no_error (error);
      if (make_torch_files (dir))
        torch_dir = dir;
      else
        {
          torch_missing = TRUE;
          leaf_test_remove_tree (dir);
          g_free (dir);
        }
    }
  else if (torch_missing)
    g_test_skip ("torch or torchvision is not available to LEAFSCOPE_PYTHON");
  return torch_dir;
}

void
ws_torch_files_remove (void)
{
  if (torch_dir != NULL)
    leaf_test_remove_tree (torch_dir);
  g_clear_pointer (&torch_dir, g_free);
}

static gint
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

char *
ws_list_dir (const char *dir)
{
  g_autoptr(GDir) handle = g_dir_open (dir, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  if (handle == NULL)
    return g_strdup ("");
  while ((name = g_dir_read_name (handle)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (" ", (char **) names->pdata);
}

