/* leaf-cli-weights.c: `leafscope-cli weights VERB ...`
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-cli-weights"

#include "config.h"

#include <gio/gio.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

#include "leaf-cli.h"
#include "leaf-cli-weights-store.h"
#include "leaf-error.h"
#include "leaf-json.h"
#include "lt-weights.h"

/* inspect ------------------------------------------------------------------------------------ */

static char *
file_sha256 (const char  *path,
             GError     **error)
{
  g_autoptr(GFile) file = g_file_new_for_commandline_arg (path);
  g_autoptr(GFileInputStream) stream = g_file_read (file, NULL, error);
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree guint8 *buffer = g_malloc (1 << 16);
  gssize n;

  if (stream == NULL)
    return NULL;
  while ((n = g_input_stream_read (G_INPUT_STREAM (stream), buffer, 1 << 16, NULL, error)) > 0)
    g_checksum_update (checksum, buffer, n);
  if (n < 0)
    return NULL;
  return g_strdup (g_checksum_get_string (checksum));
}

static char *
shape_to_string (const LtStateDict *sd,
                 size_t             i)
{
  int64_t dims[LT_MAX_DIMS];
  int ndim = lt_state_dict_shape (sd, i, dims, LT_MAX_DIMS);
  GString *s = g_string_new ("[");

  for (int d = 0; d < ndim; d++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, d > 0 ? ", " : "", dims[d]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

static gint64
count_values (const LtStateDict *sd)
{
  gint64 total = 0;

  for (size_t i = 0; i < lt_state_dict_count (sd); i++)
    total += lt_state_dict_numel (sd, i);
  return total;
}

static void
print_inspect_json (const char        *path,
                    const char        *sha256,
                    const LtStateDict *sd)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;
  const char *key;

  json_builder_begin_object (b);
  leaf_json_add_string (b, "file", path);
  leaf_json_add_string (b, "sha256", sha256);
  leaf_json_add_int (b, "tensor_count", lt_state_dict_count (sd));
  leaf_json_add_int (b, "parameter_count", count_values (sd));
  leaf_json_begin_object (b, "metadata");
  for (size_t i = 0; (key = lt_state_dict_metadata_key (sd, i)) != NULL; i++)
    {
      leaf_json_add_string (b, key, lt_state_dict_metadata (sd, key));
    }
  json_builder_end_object (b);
  leaf_json_begin_array (b, "tensors");
  for (size_t i = 0; i < lt_state_dict_count (sd); i++)
    {
      int64_t dims[LT_MAX_DIMS];
      int ndim = lt_state_dict_shape (sd, i, dims, LT_MAX_DIMS);

      json_builder_begin_object (b);
      leaf_json_add_string (b, "name", lt_state_dict_name (sd, i));
      leaf_json_add_string (b, "dtype", lt_state_dict_dtype_name (sd, i));
      leaf_json_begin_array (b, "shape");
      for (int d = 0; d < ndim; d++)
        json_builder_add_int_value (b, dims[d]);
      json_builder_end_array (b);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  text = json_to_string (root, TRUE);
  printf ("%s\n", text);
}

static void
print_inspect_text (const char        *path,
                    const char        *sha256,
                    const LtStateDict *sd)
{
  int name_width = 0;
  const char *key;

  printf ("%-12s %s\n", _("File:"), path);
  printf ("%-12s %s\n", _("SHA-256:"), sha256);
  printf ("%-12s %zu\n", _("Tensors:"), lt_state_dict_count (sd));
  /* TRANSLATORS: the number of values in all tensors of a weight file */
  printf ("%-12s %" G_GINT64_FORMAT " %s\n", _("Parameters:"), count_values (sd),
          _("(all tensors, buffers included)"));
  for (size_t i = 0; (key = lt_state_dict_metadata_key (sd, i)) != NULL; i++)
    printf ("%-12s %s = %s\n", i == 0 ? _("Metadata:") : "", key, lt_state_dict_metadata (sd, key));

  for (size_t i = 0; i < lt_state_dict_count (sd); i++)
    name_width = MAX (name_width, (int) strlen (lt_state_dict_name (sd, i)));
  printf ("\n");
  for (size_t i = 0; i < lt_state_dict_count (sd); i++)
    {
      g_autofree char *shape = shape_to_string (sd, i);
      printf ("  %-*s  %-8s  %s\n", name_width, lt_state_dict_name (sd, i),
              lt_state_dict_dtype_name (sd, i), shape);
    }
}

static int
weights_inspect (LeafCli  *cli,
                 int       argc,
                 char    **argv)
{
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print one JSON object"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_("FILE"));
  g_autoptr(GError) error = NULL;
  g_autofree char *sha256 = NULL;
  LtStateDict *sd = NULL;
  char *message = NULL;
  LtStatus status;

  g_option_context_set_summary (context,
                                _("List the tensors of a weight file (torch.save .pth or "
                                  "safetensors) with their dtypes and shapes, the number of "
                                  "values and the file’s SHA-256. Loading never runs code from "
                                  "the file."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!leaf_cli_parse (context, &argc, &argv))
    return 2;
  if (argc != 2)
    {
      g_printerr (_("leafscope-cli: weights inspect takes one FILE\n"));
      return 2;
    }

  status = lt_state_dict_load (argv[1], &sd, &message);
  if (status != LT_OK)
    {
      leaf_engine_error_from_shim (status, message, &error);
      return leaf_cli_fail (&error);
    }
  sha256 = file_sha256 (argv[1], &error);
  if (sha256 == NULL)
    {
      lt_state_dict_free (sd);
      return leaf_cli_fail (&error);
    }

  if (json)
    print_inspect_json (argv[1], sha256, sd);
  else
    print_inspect_text (argv[1], sha256, sd);
  lt_state_dict_free (sd);
  return 0;
}

/* weights VERB ------------------------------------------------------------------------------- */

/* One row per verb of `leafscope-cli weights`. */
static const LeafCliCommand weights_verbs[] = {
  { "inspect", weights_inspect, N_("List the tensors, size and SHA-256 of a weight file") },
  { "fetch", leaf_cli_weights_fetch, N_("Download and verify the pretrained ImageNet weights") },
  { "import", leaf_cli_weights_import, N_("Add a weight file from disk to the weights folder") },
  { "status", leaf_cli_weights_status, N_("Show which pretrained weights are present") },
  { NULL, NULL, NULL },
};

static void
print_weights_usage (FILE *out)
{
  fprintf (out, "%s\n", _("Usage: leafscope-cli weights COMMAND [OPTIONS...]"));
  fprintf (out, "\n%s\n", _("Commands:"));
  for (const LeafCliCommand *v = weights_verbs; v->name != NULL; v++)
    fprintf (out, "  %-10s %s\n", v->name, _(v->summary));
}

static int
weights_main (LeafCli  *cli,
              int       argc,
              char    **argv)
{
  if (argc < 2)
    {
      print_weights_usage (stderr);
      return 2;
    }
  if (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h"))
    {
      print_weights_usage (stdout);
      return 0;
    }
  for (const LeafCliCommand *v = weights_verbs; v->name != NULL; v++)
    if (g_str_equal (v->name, argv[1]))
      return v->func (cli, argc - 1, argv + 1);

  g_printerr (_("leafscope-cli: unknown weights command “%s”\n"), argv[1]);
  print_weights_usage (stderr);
  return 2;
}

const LeafCliCommand leaf_cli_weights_commands[] = {
  { "weights", weights_main, N_("Inspect weight files (see weights --help)") },
  { NULL, NULL, NULL },
};
