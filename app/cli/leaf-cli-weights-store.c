/* leaf-cli-weights-store.c: getting the pretrained weights from the terminal
 *
 *   leafscope-cli weights fetch [--url URL [--sha256 HEX]]
 *   leafscope-cli weights import FILE
 *   leafscope-cli weights status [--json]
 *
 * The path of the weight file goes to stdout, everything meant for a person to stderr.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leafscope-cli"

#include "config.h"

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "leaf-cli-weights-store.h"
#include "leaf-error.h"
#include "leaf-json.h"
#include "leaf-weights-store.h"

#define BAR_WIDTH 30
#define REDRAW_USEC (G_USEC_PER_SEC / 10)

/* The ways on when the weights cannot be downloaded. */
static void
print_alternatives (void)
{
  g_printerr ("%s\n", _("Other ways to get going:"));
  g_printerr ("  %s\n", _("download from a mirror:   leafscope-cli weights fetch --url URL"));
  g_printerr ("  %s\n", _("import a file you have:   leafscope-cli weights import FILE"));
  g_printerr ("  %s\n", _("train without them:       leafscope-cli train --from-scratch"));
}

/* fetch ---------------------------------------------------------------------------------------- */

typedef struct
{
  GMainLoop *loop;
  GCancellable *cancellable;
  const char *url;
  gboolean bar;           /* stderr is a terminal */
  gboolean announced;
  gboolean bar_drawn;
  gint64 last_draw;
  char *path;
  GError *error;
} FetchState;

static void
draw_bar (FetchState *state,
          goffset     received,
          goffset     total)
{
  g_autofree char *done = g_format_size (received);

  if (total > 0)
    {
      g_autofree char *all = g_format_size (total);
      int filled = (int) (BAR_WIDTH * (double) received / total);
      char bar[BAR_WIDTH + 1];

      for (int i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < filled ? '#' : '-';
      bar[BAR_WIDTH] = '\0';
      /* Clear to the end of the line: the sizes' widths change as they grow. */
      g_printerr ("\r[%s] %3d%%  %s / %s\033[K", bar, (int) (100.0 * received / total), done,
                  all);
    }
  else
    g_printerr ("\r%s\033[K", done);
  state->bar_drawn = TRUE;
}

static void
progress_cb (goffset  received,
             goffset  total,
             gpointer user_data)
{
  FetchState *state = user_data;
  gint64 now = g_get_monotonic_time ();

  if (!state->announced)
    {
      if (total > 0)
        {
          g_autofree char *size = g_format_size (total);
          g_printerr (_("Downloading %s (%s)\n"), state->url, size);
        }
      else
        g_printerr (_("Downloading %s\n"), state->url);
      state->announced = TRUE;
    }
  if (state->bar && (now - state->last_draw >= REDRAW_USEC || received == total))
    {
      draw_bar (state, received, total);
      state->last_draw = now;
    }
}

static void
fetched_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  FetchState *state = user_data;

  state->path = leaf_weights_store_fetch_finish (LEAF_WEIGHTS_STORE (object), result,
                                                 &state->error);
  g_main_loop_quit (state->loop);
}

static gboolean
interrupted_cb (gpointer user_data)
{
  FetchState *state = user_data;

  g_cancellable_cancel (state->cancellable);
  return G_SOURCE_CONTINUE;
}

int
leaf_cli_weights_fetch (LeafCli  *cli,
                        int       argc,
                        char    **argv)
{
  g_autofree char *url = NULL;
  g_autofree char *sha256 = NULL;
  GOptionEntry entries[] = {
    { "url", 0, 0, G_OPTION_ARG_STRING, &url,
      N_("Download from this address instead (a mirror)"), "URL" },
    { "sha256", 0, 0, G_OPTION_ARG_STRING, &sha256,
      N_("SHA-256 the file at --url must have (default: the official file's)"), "HEX" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(LeafWeightsStore) store = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GCancellable) cancellable = NULL;
  FetchState state = { 0 };
  guint sigint;
  int status;

  g_option_context_set_summary (context,
                                _("Download torchvision’s ImageNet weights for EfficientNet-B0, "
                                  "check their SHA-256 and keep them in the weights folder. An "
                                  "interrupted download resumes where it stopped."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!leaf_cli_parse (context, &argc, &argv))
    return 2;
  if (argc > 1)
    {
      g_printerr (_("leafscope-cli: unexpected argument “%s”\n"), argv[1]);
      return 2;
    }
  if (sha256 != NULL && url == NULL)
    {
      g_printerr (_("leafscope-cli: --sha256 goes with --url; the official address always "
                    "serves the official file\n"));
      return 2;
    }

  store = leaf_weights_store_new (NULL);
  loop = g_main_loop_new (NULL, FALSE);
  cancellable = g_cancellable_new ();
  state.loop = loop;
  state.cancellable = cancellable;
  state.url = url != NULL ? url : leaf_weights_store_get_official_url (store);
  state.bar = isatty (STDERR_FILENO);

  /* Ctrl+C cancels, which keeps the partial download for the next attempt. */
  sigint = g_unix_signal_add (SIGINT, interrupted_cb, &state);
  leaf_weights_store_fetch_async (store, url, sha256, cancellable, progress_cb, &state,
                                  fetched_cb, &state);
  g_main_loop_run (loop);
  g_source_remove (sigint);
  if (state.bar_drawn)
    g_printerr ("\n");

  if (state.path != NULL)
    {
      printf ("%s\n", state.path);
      g_free (state.path);
      return 0;
    }

  status = g_error_matches (state.error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_CANCELLED) ? 130 : 1;
  g_printerr ("leafscope-cli: %s\n", state.error->message);
  if (status != 130 && !g_error_matches (state.error, LEAF_ENGINE_ERROR,
                                         LEAF_ENGINE_ERROR_INVALID))
    print_alternatives ();
  g_clear_error (&state.error);
  return status;
}

/* import --------------------------------------------------------------------------------------- */

int
leaf_cli_weights_import (LeafCli  *cli,
                         int       argc,
                         char    **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new (_("FILE"));
  g_autoptr(LeafWeightsStore) store = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  gboolean official = FALSE;

  g_option_context_set_summary (context,
                                _("Copy a weight file into the weights folder. The official "
                                  "torchvision file is recognised by its SHA-256; any other "
                                  "file must have every layer of torchvision’s EfficientNet-B0 "
                                  "(the classifier aside) with the right shape."));
  if (!leaf_cli_parse (context, &argc, &argv))
    return 2;
  if (argc != 2)
    {
      g_printerr (_("leafscope-cli: weights import takes one FILE\n"));
      return 2;
    }

  store = leaf_weights_store_new (NULL);
  path = leaf_weights_store_import (store, argv[1], &official, NULL, &error);
  if (path == NULL)
    return leaf_cli_fail (&error);

  if (official)
    g_printerr (_("Imported torchvision’s official ImageNet weights.\n"));
  else
    g_printerr (_("warning: %s is not torchvision’s official ImageNet file; it was accepted "
                  "because its layers fit EfficientNet-B0. Training runs that start from it say "
                  "so in their record.\n"), argv[1]);
  printf ("%s\n", path);
  return 0;
}

/* status --------------------------------------------------------------------------------------- */

static void
print_json (LeafWeightsStore *store,
            GPtrArray        *list,
            LeafWeightsInfo  *best)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;

  json_builder_begin_object (builder);
  leaf_json_add_string (builder, "directory", leaf_weights_store_get_directory (store));
  leaf_json_add_string (builder, "official_sha256", leaf_weights_store_get_official_sha256 (store));
  leaf_json_add_string (builder, "default", best != NULL ? best->path : NULL);
  leaf_json_begin_array (builder, "weights");
  for (guint i = 0; i < list->len; i++)
    {
      LeafWeightsInfo *info = list->pdata[i];

      json_builder_begin_object (builder);
      leaf_json_add_string (builder, "path", info->path);
      leaf_json_add_string (builder, "sha256", info->sha256);
      leaf_json_add_int (builder, "size", info->size);
      leaf_json_add_boolean (builder, "official", info->official);
      leaf_json_add_string (builder, "origin", info->origin);
      leaf_json_add_string (builder, "source", info->source);
      leaf_json_add_int (builder, "added", info->added);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  text = json_generator_to_data (generator, NULL);
  printf ("%s\n", text);
}

static void
print_text (LeafWeightsStore *store,
            GPtrArray        *list,
            LeafWeightsInfo  *best)
{
  const char *directory = leaf_weights_store_get_directory (store);

  if (list->len == 0)
    {
      printf (_("No pretrained weights in %s.\n"), directory);
      printf ("%s\n", _("Download them with “leafscope-cli weights fetch”, import a file with "
                        "“leafscope-cli weights import FILE”, or train with “leafscope-cli train "
                        "--from-scratch”."));
      return;
    }

  printf (_("Pretrained weights in %s:\n"), directory);
  for (guint i = 0; i < list->len; i++)
    {
      LeafWeightsInfo *info = list->pdata[i];
      g_autofree char *size = g_format_size (info->size);

      printf ("\n%s\n", info->sha256);
      printf ("  %-9s %s\n", _("kind"),
              info->official
                ? _("official (torchvision EfficientNet_B0_Weights.IMAGENET1K_V1)")
                : _("not official (its layers fit EfficientNet-B0)"));
      printf ("  %-9s %s\n", _("file"), info->path);
      printf ("  %-9s %s\n", _("size"), size);
      if (g_strcmp0 (info->origin, "download") == 0)
        printf ("  %-9s %s %s\n", _("source"), _("downloaded from"), info->source);
      else if (g_strcmp0 (info->origin, "import") == 0)
        printf ("  %-9s %s %s\n", _("source"), _("imported from"), info->source);
      else
        printf ("  %-9s %s\n", _("source"), _("unknown"));
      if (best != NULL && g_str_equal (best->path, info->path))
        printf ("  %-9s %s\n", _("default"), _("yes, training starts from this file"));
    }
}

int
leaf_cli_weights_status (LeafCli  *cli,
                         int       argc,
                         char    **argv)
{
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print one JSON object"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(LeafWeightsStore) store = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(LeafWeightsInfo) best = NULL;

  g_option_context_set_summary (context,
                                _("Show which pretrained weights are in the weights folder, "
                                  "their SHA-256, and whether they are the official ones."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!leaf_cli_parse (context, &argc, &argv))
    return 2;
  if (argc > 1)
    {
      g_printerr (_("leafscope-cli: unexpected argument “%s”\n"), argv[1]);
      return 2;
    }

  store = leaf_weights_store_new (NULL);
  list = leaf_weights_store_list (store);
  best = leaf_weights_store_find_default (store);
  if (json)
    print_json (store, list, best);
  else
    print_text (store, list, best);
  return 0;
}
