/* test-weights-store.c: downloading, resuming, verifying and importing base weights
 *
 * Every download goes to a SoupServer on 127.0.0.1 started here, serving bytes made here.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "leaf-test.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "leaf-error.h"
#include "leaf-weights-store.h"
#include "ws-test-server.h"

#define BODY_BYTES (3 * 1024 * 1024 + 123)

static WsServer *server;
static GBytes *body;
static char *body_sha256;
static GThread *main_thread;

typedef struct
{
  char *tmp;
  char *dir;                 /* the store's folder */
  LeafWeightsStore *store;   /* official file: body, at /ok/weights.pth */
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *official_url = ws_server_url (server, "/ok/weights.pth");

  fixture->tmp = g_dir_make_tmp ("leafscope-weights-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->dir = g_build_filename (fixture->tmp, "cache", "weights", NULL);
  fixture->store = g_object_new (LEAF_TYPE_WEIGHTS_STORE,
                                 "directory", fixture->dir,
                                 "official-sha256", body_sha256,
                                 "official-url", official_url,
                                 NULL);
  ws_server_set_body (server, body);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  /* A GTask's worker thread lets go of the task, and so of the store, a moment after the
   * result reached us. */
  g_object_add_weak_pointer (G_OBJECT (fixture->store), (gpointer *) &fixture->store);
  g_object_unref (fixture->store);
  while (g_atomic_pointer_get (&fixture->store) != NULL)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (1000);
    }
  leaf_test_remove_tree (fixture->tmp);
  g_free (fixture->dir);
  g_free (fixture->tmp);
}

static GBytes *
read_bytes (const char *path)
{
  g_autoptr(GError) error = NULL;
  char *contents;
  gsize length;

  g_assert_true (g_file_get_contents (path, &contents, &length, &error));
  g_assert_no_error (error);
  return g_bytes_new_take (contents, length);
}

static goffset
file_size (const char *path)
{
  GStatBuf st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return st.st_size;
}

static char *
in_store (Fixture    *fixture,
          const char *sha256,
          const char *extension)
{
  g_autofree char *name = g_strconcat (sha256, extension, NULL);
  return g_build_filename (fixture->dir, name, NULL);
}

static void
assert_dir_is (Fixture    *fixture,
               const char *expected)
{
  g_autofree char *names = ws_list_dir (fixture->dir);
  g_assert_cmpstr (names, ==, expected);
}

/* A fetch run to completion on the main context, as the UI runs one. */
typedef struct
{
  gboolean done;
  char *path;
  GError *error;
  GArray *received;          /* goffset, one per progress call */
  goffset total;
  GCancellable *cancellable;
  goffset cancel_at;         /* cancel once this many bytes arrived; -1 never */
} Run;

static void
progress_cb (goffset  received,
             goffset  total,
             gpointer user_data)
{
  Run *run = user_data;

  g_assert_true (g_thread_self () == main_thread);
  g_assert_false (run->done);
  g_array_append_val (run->received, received);
  run->total = total;
  if (run->cancel_at >= 0 && received >= run->cancel_at)
    g_cancellable_cancel (run->cancellable);
}

static void
fetched_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  Run *run = user_data;

  run->path = leaf_weights_store_fetch_finish (LEAF_WEIGHTS_STORE (object), result, &run->error);
  run->done = TRUE;
}

static Run *
run_new (goffset cancel_at)
{
  Run *run = g_new0 (Run, 1);

  run->received = g_array_new (FALSE, FALSE, sizeof (goffset));
  run->cancellable = g_cancellable_new ();
  run->cancel_at = cancel_at;
  return run;
}

static void
run_free (Run *run)
{
  g_free (run->path);
  g_clear_error (&run->error);
  g_array_unref (run->received);
  g_object_unref (run->cancellable);
  g_free (run);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Run, run_free)

static void
run_start (Fixture    *fixture,
           Run        *run,
           const char *path,
           const char *sha256)
{
  g_autofree char *url = path != NULL ? ws_server_url (server, path) : NULL;

  leaf_weights_store_fetch_async (fixture->store, url, sha256, run->cancellable, progress_cb,
                                  run, fetched_cb, run);
}

static void
run_wait (Run *run)
{
  while (!run->done)
    g_main_context_iteration (NULL, TRUE);
  /* Anything still queued must not reach progress_cb, which asserts !done. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static Run *
fetch (Fixture    *fixture,
       const char *path,
       const char *sha256,
       goffset     cancel_at)
{
  Run *run = run_new (cancel_at);

  run_start (fixture, run, path, sha256);
  run_wait (run);
  return run;
}

/* Updates coalesce, so the first one seen may already count bytes of this transfer. */
static void
assert_progress_sane (Run    *run,
                      goffset first,
                      goffset last)
{
  g_assert_cmpuint (run->received->len, >, 0);
  g_assert_cmpint (g_array_index (run->received, goffset, 0), >=, first);
  for (guint i = 1; i < run->received->len; i++)
    g_assert_cmpint (g_array_index (run->received, goffset, i), >=,
                     g_array_index (run->received, goffset, i - 1));
  g_assert_cmpint (g_array_index (run->received, goffset, run->received->len - 1), ==, last);
  g_assert_cmpint (run->total, ==, g_bytes_get_size (body));
}

static void
assert_holds_body (const char *path)
{
  g_autoptr(GBytes) bytes = read_bytes (path);
  g_assert_true (g_bytes_equal (bytes, body));
}

static void
test_fetch_success (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(Run) run = fetch (fixture, NULL, NULL, -1);
  g_autoptr(Run) again = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(LeafWeightsInfo) best = NULL;
  g_autofree char *expected = in_store (fixture, body_sha256, ".pth");
  g_autofree char *names = g_strdup_printf ("%s.pth index.json index.lock", body_sha256);
  g_autofree char *official_url = ws_server_url (server, "/ok/weights.pth");
  LeafWeightsInfo *info;
  guint n_requests;

  g_assert_no_error (run->error);
  g_assert_cmpstr (run->path, ==, expected);
  assert_holds_body (run->path);
  assert_progress_sane (run, 0, g_bytes_get_size (body));
  g_assert_null (server->last_range);
  assert_dir_is (fixture, names);

  list = leaf_weights_store_list (fixture->store);
  g_assert_cmpuint (list->len, ==, 1);
  info = list->pdata[0];
  g_assert_cmpstr (info->path, ==, expected);
  g_assert_cmpstr (info->sha256, ==, body_sha256);
  g_assert_cmpuint (info->size, ==, g_bytes_get_size (body));
  g_assert_true (info->official);
  g_assert_cmpstr (info->origin, ==, "download");
  g_assert_cmpstr (info->source, ==, official_url);
  g_assert_cmpint (info->added, >, 0);
  best = leaf_weights_store_find_default (fixture->store);
  g_assert_nonnull (best);
  g_assert_cmpstr (best->path, ==, expected);

  /* Present already: no request at all. */
  n_requests = server->n_requests;
  again = fetch (fixture, "/ok/weights.pth", body_sha256, -1);
  g_assert_no_error (again->error);
  g_assert_cmpstr (again->path, ==, expected);
  g_assert_cmpuint (server->n_requests, ==, n_requests);
}

static void
test_fetch_wrong_hash (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autoptr(GBytes) other = ws_make_bytes (1000, 99);
  g_autofree char *other_sha256 = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, other);
  g_autoptr(Run) run = fetch (fixture, "/ok/weights.pth", other_sha256, -1);

  g_assert_error (run->error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_MISMATCH);
  g_test_message ("%s", run->error->message);
  g_assert_nonnull (strstr (run->error->message, body_sha256));
  g_assert_nonnull (strstr (run->error->message, other_sha256));
  g_assert_nonnull (strstr (run->error->message, "deleted"));
  g_assert_null (run->path);
  /* Neither the partial file nor anything under the final name. */
  assert_dir_is (fixture, "");
  g_assert_null (leaf_weights_store_find_default (fixture->store));
}

static void
cut_half_way (Fixture *fixture)
{
  g_autoptr(Run) run = fetch (fixture, "/cut/weights.pth", NULL, -1);
  g_autofree char *part = in_store (fixture, body_sha256, ".pth.part");
  g_autofree char *names = g_strdup_printf ("%s.pth.part", body_sha256);
  g_autoptr(GPtrArray) list = NULL;

  g_assert_error (run->error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO);
  g_test_message ("%s", run->error->message);
  g_assert_nonnull (strstr (run->error->message, "kept"));
  g_assert_null (server->last_range);
  assert_dir_is (fixture, names);
  g_assert_cmpint (file_size (part), ==, g_bytes_get_size (body) / 2);
  g_assert_null (leaf_weights_store_find_default (fixture->store));
  list = leaf_weights_store_list (fixture->store);
  g_assert_cmpuint (list->len, ==, 0);
}

static void
test_fetch_resume (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(Run) run = NULL;
  g_autofree char *range = g_strdup_printf ("bytes=%" G_GSIZE_FORMAT "-",
                                            g_bytes_get_size (body) / 2);
  g_autofree char *names = g_strdup_printf ("%s.pth index.json index.lock", body_sha256);

  cut_half_way (fixture);
  run = fetch (fixture, "/cut/weights.pth", NULL, -1);
  g_assert_no_error (run->error);
  g_assert_cmpstr (server->last_range, ==, range);
  assert_holds_body (run->path);
  assert_progress_sane (run, g_bytes_get_size (body) / 2, g_bytes_get_size (body));
  assert_dir_is (fixture, names);
}

static void
test_fetch_resume_refused (Fixture       *fixture,
                           gconstpointer  data)
{
  g_autoptr(Run) run = NULL;
  g_autofree char *names = g_strdup_printf ("%s.pth index.json index.lock", body_sha256);

  /* The server answers the range request with the whole file: start again, do not append. */
  cut_half_way (fixture);
  run = fetch (fixture, "/norange/weights.pth", NULL, -1);
  g_assert_no_error (run->error);
  g_assert_nonnull (server->last_range);
  assert_holds_body (run->path);
  assert_dir_is (fixture, names);
}

static void
test_fetch_part_complete (Fixture       *fixture,
                          gconstpointer  data)
{
  g_autofree char *part = in_store (fixture, body_sha256, ".pth.part");
  g_autoptr(GError) error = NULL;
  g_autoptr(Run) run = NULL;

  /* A crash between the last byte and the rename: the server has nothing more (416). */
  g_assert_cmpint (g_mkdir_with_parents (fixture->dir, 0755), ==, 0);
  g_assert_true (g_file_set_contents (part, g_bytes_get_data (body, NULL),
                                      g_bytes_get_size (body), &error));
  g_assert_no_error (error);
  run = fetch (fixture, "/ok/weights.pth", NULL, -1);
  g_assert_no_error (run->error);
  g_assert_nonnull (server->last_range);
  assert_holds_body (run->path);
  g_assert_false (g_file_test (part, G_FILE_TEST_EXISTS));
}

static void
test_fetch_part_foreign (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autofree char *part = in_store (fixture, body_sha256, ".pth.part");
  g_autoptr(GBytes) junk = ws_make_bytes (g_bytes_get_size (body) + 10, 7);
  g_autoptr(GError) error = NULL;
  g_autoptr(Run) run = NULL;

  /* A partial file longer than the file on the server cannot be part of it. */
  g_assert_cmpint (g_mkdir_with_parents (fixture->dir, 0755), ==, 0);
  g_assert_true (g_file_set_contents (part, g_bytes_get_data (junk, NULL),
                                      g_bytes_get_size (junk), &error));
  g_assert_no_error (error);
  run = fetch (fixture, "/ok/weights.pth", NULL, -1);
  g_assert_no_error (run->error);
  assert_holds_body (run->path);
  g_assert_false (g_file_test (part, G_FILE_TEST_EXISTS));
}

static void
test_fetch_not_found (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autoptr(Run) run = fetch (fixture, "/nothing/here.pth", NULL, -1);

  g_assert_error (run->error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND);
  g_test_message ("%s", run->error->message);
  g_assert_nonnull (strstr (run->error->message, "404"));
  g_assert_nonnull (strstr (run->error->message, "/nothing/here.pth"));
  assert_dir_is (fixture, "");
}

static void
test_fetch_cancel (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(Run) run = fetch (fixture, "/slow/weights.pth", NULL, 64 * 1024);
  g_autoptr(Run) resumed = NULL;
  g_autofree char *part = in_store (fixture, body_sha256, ".pth.part");
  g_autofree char *part_name = g_strdup_printf ("%s.pth.part", body_sha256);
  g_autofree char *range = NULL;
  goffset kept;

  g_assert_error (run->error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_CANCELLED);
  g_test_message ("%s", run->error->message);
  g_assert_nonnull (strstr (run->error->message, "resumes"));
  /* Documented: the bytes received stay in the .part for the next attempt; nothing is under
   * the final name. */
  assert_dir_is (fixture, part_name);
  kept = file_size (part);
  g_assert_cmpint (kept, >=, 64 * 1024);
  g_assert_cmpint (kept, <, g_bytes_get_size (body));

  resumed = fetch (fixture, "/ok/weights.pth", NULL, -1);
  g_assert_no_error (resumed->error);
  range = g_strdup_printf ("bytes=%" G_GOFFSET_FORMAT "-", kept);
  g_assert_cmpstr (server->last_range, ==, range);
  assert_holds_body (resumed->path);
}

/* A server that never stops sending is cut off at the store's limit, and what it sent, which
 * cannot be the start of any weight file, is not kept to be resumed. */
static void
test_fetch_endless (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(Run) run = run_new (-1);
  g_autoptr(LeafWeightsStore) small = g_object_new (LEAF_TYPE_WEIGHTS_STORE,
                                                    "directory", fixture->dir,
                                                    "max-bytes", (gint64) 256 * 1024,
                                                    NULL);
  g_autofree char *url = ws_server_url (server, "/endless/weights.pth");

  leaf_weights_store_fetch_async (small, url, body_sha256, run->cancellable, progress_cb, run,
                                  fetched_cb, run);
  run_wait (run);
  g_assert_error (run->error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_UNSAFE);
  g_test_message ("%s", run->error->message);
  g_assert_nonnull (strstr (run->error->message, "stopped"));
  g_assert_cmpint (g_array_index (run->received, goffset, run->received->len - 1), <=,
                   256 * 1024);
  assert_dir_is (fixture, "");
}

static void
test_fetch_busy (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autoptr(Run) slow = run_new (-1);
  g_autoptr(Run) second = NULL;
  g_autofree char *part_name = g_strdup_printf ("%s.pth.part", body_sha256);

  /* Two downloads of one file must not write into the same .part. */
  run_start (fixture, slow, "/slow/weights.pth", NULL);
  /* The first report (0 bytes) comes before any data; an empty .part is not kept. */
  while (slow->received->len == 0 ||
         g_array_index (slow->received, goffset, slow->received->len - 1) == 0)
    g_main_context_iteration (NULL, TRUE);
  second = fetch (fixture, "/ok/weights.pth", NULL, -1);
  g_assert_error (second->error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FAILED);
  g_assert_nonnull (strstr (second->error->message, "already being downloaded"));

  g_cancellable_cancel (slow->cancellable);
  run_wait (slow);
  g_assert_error (slow->error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_CANCELLED);
  assert_dir_is (fixture, part_name);
}

static void
test_fetch_bad_arguments (Fixture       *fixture,
                          gconstpointer  data)
{
  g_autoptr(Run) bad_hash = fetch (fixture, "/ok/weights.pth", "12345", -1);
  g_autoptr(Run) bad_url = run_new (-1);

  g_assert_error (bad_hash->error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID);
  leaf_weights_store_fetch_async (fixture->store, "ftp://127.0.0.1/weights.pth", NULL, NULL,
                                  NULL, NULL, fetched_cb, bad_url);
  run_wait (bad_url);
  g_assert_error (bad_url->error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID);
  g_assert_nonnull (strstr (bad_url->error->message, "ftp://127.0.0.1/weights.pth"));
  assert_dir_is (fixture, "");
}

static char *
write_temp (Fixture    *fixture,
            const char *name,
            GBytes     *bytes)
{
  g_autoptr(GError) error = NULL;
  char *path = g_build_filename (fixture->tmp, name, NULL);

  g_assert_true (g_file_set_contents (path, g_bytes_get_data (bytes, NULL),
                                      g_bytes_get_size (bytes), &error));
  g_assert_no_error (error);
  return path;
}

static void
test_import_official (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autofree char *source = write_temp (fixture, "downloaded.pth", body);
  g_autofree char *expected = in_store (fixture, body_sha256, ".pth");
  g_autofree char *names = g_strdup_printf ("%s.pth index.json index.lock", body_sha256);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autofree char *path = NULL;
  LeafWeightsInfo *info;
  gboolean official = FALSE;

  path = leaf_weights_store_import (fixture->store, source, &official, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (official);
  g_assert_cmpstr (path, ==, expected);
  assert_holds_body (path);
  assert_dir_is (fixture, names);

  list = leaf_weights_store_list (fixture->store);
  g_assert_cmpuint (list->len, ==, 1);
  info = list->pdata[0];
  g_assert_true (info->official);
  g_assert_cmpstr (info->origin, ==, "import");
  g_assert_cmpstr (info->source, ==, source);
}

static void
test_import_not_weights (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autoptr(GBytes) junk = ws_make_bytes (50000, 3);
  g_autofree char *source = write_temp (fixture, "holiday.jpg", junk);
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  gboolean official = TRUE;

  path = leaf_weights_store_import (fixture->store, source, &official, NULL, &error);
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FORMAT);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, source));
  g_assert_null (path);
  g_assert_true (official);  /* untouched on failure */
  assert_dir_is (fixture, "");
}

static void
test_import_missing_file (Fixture       *fixture,
                          gconstpointer  data)
{
  g_autofree char *source = g_build_filename (fixture->tmp, "nowhere.pth", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *path = leaf_weights_store_import (fixture->store, source, NULL, NULL, &error);

  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, source));
  g_assert_null (path);
}

static void
test_import_compatible (Fixture       *fixture,
                        gconstpointer  data)
{
  const char *torch_dir;
  g_autofree char *source = NULL;
  g_autofree char *official_source = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autofree char *sha256 = NULL;
  g_autofree char *expected = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  g_autofree char *official_path = NULL;
  g_autoptr(LeafWeightsInfo) best = NULL;
  g_autoptr(LeafWeightsInfo) best_after = NULL;
  g_autoptr(GPtrArray) list = NULL;
  gboolean official = TRUE;

  torch_dir = ws_torch_files ();
  if (torch_dir == NULL)
    return;
  source = g_build_filename (torch_dir, "compatible.pth", NULL);
  bytes = read_bytes (source);
  sha256 = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
  expected = in_store (fixture, sha256, ".pth");

  path = leaf_weights_store_import (fixture->store, source, &official, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (official);
  g_assert_cmpstr (path, ==, expected);
  best = leaf_weights_store_find_default (fixture->store);
  g_assert_cmpstr (best->path, ==, expected);
  g_assert_false (best->official);
  g_assert_cmpstr (best->origin, ==, "import");

  /* The official file, once present, comes first. */
  official_source = write_temp (fixture, "official.pth", body);
  official_path = leaf_weights_store_import (fixture->store, official_source, &official, NULL,
                                             &error);
  g_assert_no_error (error);
  g_assert_true (official);
  best_after = leaf_weights_store_find_default (fixture->store);
  g_assert_cmpstr (best_after->path, ==, official_path);
  list = leaf_weights_store_list (fixture->store);
  g_assert_cmpuint (list->len, ==, 2);
}

static void
assert_import_rejected (Fixture        *fixture,
                        const char     *name,
                        LeafEngineError code,
                        const char     *reason)
{
  const char *torch_dir;
  g_autofree char *source = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;

  torch_dir = ws_torch_files ();
  if (torch_dir == NULL)
    return;
  source = g_build_filename (torch_dir, name, NULL);
  path = leaf_weights_store_import (fixture->store, source, NULL, NULL, &error);
  g_assert_error (error, LEAF_ENGINE_ERROR, (gint) code);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, source));
  g_assert_nonnull (strstr (error->message, reason));
  g_assert_null (path);
  assert_dir_is (fixture, "");
}

static void
test_import_wrong_shape (Fixture       *fixture,
                         gconstpointer  data)
{
  assert_import_rejected (fixture, "shape.pth", LEAF_ENGINE_ERROR_MISMATCH,
                          "features.1.0.block.0.0.weight");
}

static void
test_import_missing_key (Fixture       *fixture,
                         gconstpointer  data)
{
  assert_import_rejected (fixture, "missing.pth", LEAF_ENGINE_ERROR_MISMATCH,
                          "features.2.0.block.1.1.running_var");
}

static void
test_import_nan (Fixture       *fixture,
                 gconstpointer  data)
{
  assert_import_rejected (fixture, "nan.pth", LEAF_ENGINE_ERROR_FORMAT,
                          "features.4.0.block.0.0.weight has NaN or infinite values");
}

static void
test_import_negative_variance (Fixture       *fixture,
                               gconstpointer  data)
{
  assert_import_rejected (fixture, "negative-var.pth", LEAF_ENGINE_ERROR_FORMAT,
                          "features.3.0.block.1.1.running_var has negative values");
}

static void
test_import_integer (Fixture       *fixture,
                     gconstpointer  data)
{
  assert_import_rejected (fixture, "integer.pth", LEAF_ENGINE_ERROR_FORMAT,
                          "features.0.0.weight holds int64 values");
}

static void
imported_cb (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  Run *run = user_data;
  gboolean official = FALSE;

  g_assert_true (g_thread_self () == main_thread);
  run->path = leaf_weights_store_import_finish (LEAF_WEIGHTS_STORE (object), result, &official,
                                                &run->error);
  g_assert_true (run->error != NULL || official);
  run->done = TRUE;
}

static void
test_import_async (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autofree char *source = write_temp (fixture, "downloaded.pth", body);
  g_autofree char *expected = in_store (fixture, body_sha256, ".pth");
  g_autoptr(Run) run = run_new (-1);

  leaf_weights_store_import_async (fixture->store, source, NULL, imported_cb, run);
  run_wait (run);
  g_assert_no_error (run->error);
  g_assert_cmpstr (run->path, ==, expected);
}

static void
test_fetch_compatible (Fixture       *fixture,
                       gconstpointer  data)
{
  const char *torch_dir;
  g_autoptr(GBytes) good = NULL;
  g_autoptr(GBytes) bad = NULL;
  g_autofree char *good_sha256 = NULL;
  g_autofree char *bad_sha256 = NULL;
  g_autofree char *good_path = NULL;
  g_autofree char *bad_path = NULL;
  g_autofree char *names = NULL;
  g_autoptr(Run) accepted = NULL;
  g_autoptr(Run) rejected = NULL;

  torch_dir = ws_torch_files ();
  if (torch_dir == NULL)
    return;
  good_path = g_build_filename (torch_dir, "compatible.pth", NULL);
  bad_path = g_build_filename (torch_dir, "shape.pth", NULL);
  good = read_bytes (good_path);
  bad = read_bytes (bad_path);
  good_sha256 = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, good);
  bad_sha256 = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bad);

  /* A mirror serving other weights than the official file: they must still fit. */
  ws_server_set_body (server, bad);
  rejected = fetch (fixture, "/ok/other.pth", bad_sha256, -1);
  g_assert_error (rejected->error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_MISMATCH);
  g_assert_nonnull (strstr (rejected->error->message, "features.1.0.block.0.0.weight"));
  assert_dir_is (fixture, "");

  ws_server_set_body (server, good);
  accepted = fetch (fixture, "/ok/other.pth", good_sha256, -1);
  g_assert_no_error (accepted->error);
  names = g_strdup_printf ("%s.pth index.json index.lock", good_sha256);
  assert_dir_is (fixture, names);
}

static void
test_index_lost (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autofree char *source = write_temp (fixture, "downloaded.pth", body);
  g_autofree char *index = g_build_filename (fixture->dir, "index.json", NULL);
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(LeafWeightsInfo) best = NULL;
  LeafWeightsInfo *info;

  path = leaf_weights_store_import (fixture->store, source, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_unlink (index), ==, 0);

  /* The file still stands on its own: its name is its verified hash. */
  list = leaf_weights_store_list (fixture->store);
  g_assert_cmpuint (list->len, ==, 1);
  info = list->pdata[0];
  g_assert_true (info->official);
  g_assert_null (info->origin);
  best = leaf_weights_store_find_default (fixture->store);
  g_assert_cmpstr (best->path, ==, path);
}

static void
assert_index_lists (const char *index,
                    guint       n_files)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *root;

  g_assert_true (json_parser_load_from_file (parser, index, &error));
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  root = json_node_get_object (json_parser_get_root (parser));
  g_assert_true (JSON_NODE_HOLDS_ARRAY (json_object_get_member (root, "files")));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (root, "files")), ==,
                    n_files);
}

/* Each replaces the index after an import of the official file; @SHA@ is that file's hash. */
static const char *const damaged_indexes[] = {
  "{\"files\":[{\"sha256\": 5}]}",
  "{\"files\":{\"sha256\":\"@SHA@\"}}",
  "{\"files\":[5]}",
  "{\"files\":[null]}",
  "{\"files\":[{\"sha256\":\"@SHA@\",\"origin\":[\"import\"],\"source\":\"/x\","
    "\"added\":1}]}",
  "{\"files\":[{\"sha256\":\"@SHA@\",\"origin\":\"import\",\"source\":{},\"added\":1}]}",
  "{\"files\":[{\"sha256\":\"@SHA@\",\"origin\":\"import\",\"source\":\"/x\","
    "\"added\":{\"day\":1}}]}",
  "{\"files\":[{\"sha256\":\"@SHA@\",\"origin\":\"import\",\"source\":\"/x\","
    "\"added\":\"yesterday\"}]}",
  "{\"files\":[{\"sha256\":\"@SHA@\",\"origin\":null,\"source\":\"/x\",\"added\":1}]}",
  "[\"@SHA@\"]",
  "{\"files\":[{\"sha256\":\"@SHA@\"",
};

/* A damaged index counts as lost: every file is still listed, by its hash alone, and the next
 * import writes a sound index again. */
static void
test_index_damaged (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autofree char *source = write_temp (fixture, "downloaded.pth", body);
  g_autofree char *index = g_build_filename (fixture->dir, "index.json", NULL);
  g_autoptr(GString) text = g_string_new (data);
  g_autofree char *path = NULL;
  g_autofree char *again = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(GPtrArray) relisted = NULL;
  g_autoptr(LeafWeightsInfo) best = NULL;
  LeafWeightsInfo *info;

  path = leaf_weights_store_import (fixture->store, source, NULL, NULL, &error);
  g_assert_no_error (error);
  g_string_replace (text, "@SHA@", body_sha256, 0);
  g_assert_true (g_file_set_contents (index, text->str, -1, &error));
  g_assert_no_error (error);

  list = leaf_weights_store_list (fixture->store);
  g_assert_cmpuint (list->len, ==, 1);
  info = list->pdata[0];
  g_assert_cmpstr (info->path, ==, path);
  g_assert_true (info->official);
  g_assert_null (info->origin);
  g_assert_null (info->source);
  best = leaf_weights_store_find_default (fixture->store);
  g_assert_cmpstr (best->path, ==, path);
  /* Rebuilt at once, as the lost index would be: a sound index that knows no origin. */
  assert_index_lists (index, 0);

  again = leaf_weights_store_import (fixture->store, source, NULL, NULL, &error);
  g_assert_no_error (error);
  relisted = leaf_weights_store_list (fixture->store);
  g_assert_cmpuint (relisted->len, ==, 1);
  info = relisted->pdata[0];
  g_assert_cmpstr (info->origin, ==, "import");
  g_assert_cmpstr (info->source, ==, source);
  assert_index_lists (index, 1);
}

static void
make_old_store (const char *dir)
{
  g_autofree char *weights = g_build_filename (dir, "0123.pth", NULL);
  g_autofree char *index = g_build_filename (dir, "index.json", NULL);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (weights, "weights", -1, NULL));
  g_assert_true (g_file_set_contents (index, "{}", -1, NULL));
}

static void
assert_store_moved (const char *old_dir,
                    const char *new_dir)
{
  g_autofree char *weights = g_build_filename (new_dir, "0123.pth", NULL);
  g_autofree char *index = g_build_filename (new_dir, "index.json", NULL);
  g_autofree char *contents = NULL;

  g_assert_true (g_file_get_contents (weights, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "weights");
  g_assert_true (g_file_test (index, G_FILE_TEST_IS_REGULAR));
  g_assert_false (g_file_test (old_dir, G_FILE_TEST_EXISTS));
}

/* Weights cannot be fetched again offline: they live with the user's data, not in the cache
 * that cleaners empty, and a store an older version kept in the cache moves there. Runs
 * first, before anything else made the default store. */
static void
test_default_dir (void)
{
  g_autofree char *old_dir = g_build_filename (g_get_user_cache_dir (), "leafscope", "weights",
                                               NULL);
  g_autofree char *expected = g_build_filename (g_get_user_data_dir (), "leafscope", "weights",
                                                NULL);
  g_autoptr(LeafWeightsStore) store = NULL;

  make_old_store (old_dir);
  store = leaf_weights_store_new (NULL);
  g_assert_cmpstr (leaf_weights_store_get_directory (store), ==, expected);
  assert_store_moved (old_dir, expected);
  g_assert_cmpstr (leaf_weights_store_get_official_sha256 (store), ==,
                   LEAF_WEIGHTS_OFFICIAL_SHA256);
  g_assert_cmpstr (leaf_weights_store_get_official_url (store), ==, LEAF_WEIGHTS_OFFICIAL_URL);
}

/* A store already in the new place is never mixed with the old one, which stays as it was. */
static void
test_migrate_keeps_existing (void)
{
  g_autofree char *dir = g_dir_make_tmp ("leafscope-migrate-XXXXXX", NULL);
  g_autofree char *old_dir = g_build_filename (dir, "old", NULL);
  g_autofree char *new_dir = g_build_filename (dir, "new", NULL);
  g_autofree char *kept = g_build_filename (old_dir, "0123.pth", NULL);
  g_autoptr(GError) error = NULL;

  make_old_store (old_dir);
  g_assert_cmpint (g_mkdir (new_dir, 0700), ==, 0);
  g_assert_true (leaf_weights_store_migrate (old_dir, new_dir, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_test (kept, G_FILE_TEST_IS_REGULAR));
  leaf_test_remove_tree (dir);
}

/* Across file systems (tmpfs to disk) the files are copied, then the old folder goes. */
static void
test_migrate_across_file_systems (void)
{
  g_autofree char *shm = g_dir_make_tmp ("leafscope-migrate-XXXXXX", NULL);
  g_autofree char *dir = NULL;
  g_autofree char *old_dir = NULL;
  g_autofree char *new_dir = NULL;
  g_autoptr(GError) error = NULL;
  GStatBuf a, b;

  dir = g_build_filename ("/dev/shm", "leafscope-migrate-XXXXXX", NULL);
  if (!g_file_test ("/dev/shm", G_FILE_TEST_IS_DIR) || g_mkdtemp (dir) == NULL
      || g_stat (dir, &a) != 0 || g_stat (shm, &b) != 0 || a.st_dev == b.st_dev)
    {
      g_test_skip ("needs /dev/shm on a file system other than the temporary folder's");
      leaf_test_remove_tree (shm);
      if (g_file_test (dir, G_FILE_TEST_IS_DIR))
        leaf_test_remove_tree (dir);
      return;
    }
  old_dir = g_build_filename (dir, "weights", NULL);
  new_dir = g_build_filename (shm, "data", "weights", NULL);
  make_old_store (old_dir);
  g_assert_true (leaf_weights_store_migrate (old_dir, new_dir, &error));
  g_assert_no_error (error);
  assert_store_moved (old_dir, new_dir);
  leaf_test_remove_tree (dir);
  leaf_test_remove_tree (shm);
}

int
main (int   argc,
      char *argv[])
{
  int status;

  leaf_test_init (&argc, &argv);
  main_thread = g_thread_self ();
  body = ws_make_bytes (BODY_BYTES, 42);
  body_sha256 = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, body);
  server = ws_server_new (body);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  g_test_add_func ("/weights-store/default-dir", test_default_dir);
  g_test_add_func ("/weights-store/migrate/keeps-existing", test_migrate_keeps_existing);
  g_test_add_func ("/weights-store/migrate/across-file-systems", test_migrate_across_file_systems);
  ADD ("/weights-store/fetch/success", test_fetch_success);
  ADD ("/weights-store/fetch/wrong-hash", test_fetch_wrong_hash);
  ADD ("/weights-store/fetch/resume", test_fetch_resume);
  ADD ("/weights-store/fetch/resume-refused", test_fetch_resume_refused);
  ADD ("/weights-store/fetch/part-complete", test_fetch_part_complete);
  ADD ("/weights-store/fetch/part-foreign", test_fetch_part_foreign);
  ADD ("/weights-store/fetch/not-found", test_fetch_not_found);
  ADD ("/weights-store/fetch/cancel-slow", test_fetch_cancel);
  ADD ("/weights-store/fetch/busy", test_fetch_busy);
  ADD ("/weights-store/fetch/endless", test_fetch_endless);
  ADD ("/weights-store/fetch/bad-arguments", test_fetch_bad_arguments);
  ADD ("/weights-store/fetch/compatible-mirror", test_fetch_compatible);
  ADD ("/weights-store/import/official", test_import_official);
  ADD ("/weights-store/import/async", test_import_async);
  ADD ("/weights-store/import/not-weights", test_import_not_weights);
  ADD ("/weights-store/import/missing-file", test_import_missing_file);
  ADD ("/weights-store/import/compatible", test_import_compatible);
  ADD ("/weights-store/import/wrong-shape", test_import_wrong_shape);
  ADD ("/weights-store/import/missing-key", test_import_missing_key);
  ADD ("/weights-store/import/nan", test_import_nan);
  ADD ("/weights-store/import/negative-variance", test_import_negative_variance);
  ADD ("/weights-store/import/integer", test_import_integer);
  ADD ("/weights-store/list/index-lost", test_index_lost);
#undef ADD
  for (gsize i = 0; i < G_N_ELEMENTS (damaged_indexes); i++)
    {
      g_autofree char *path = g_strdup_printf ("/weights-store/list/index-damaged/%" G_GSIZE_FORMAT,
                                               i);
      g_test_add (path, Fixture, damaged_indexes[i], fixture_set_up, test_index_damaged,
                  fixture_tear_down);
    }

  status = g_test_run ();

  ws_server_free (server);
  g_bytes_unref (body);
  g_free (body_sha256);
  ws_torch_files_remove ();
  return status;
}
