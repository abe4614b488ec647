/* leaf-cli-weights.c: `leafscope-cli weights VERB ...`
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-cli-weights"

#include "config.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

#include "leaf-cli.h"
#include "leaf-cli-weights-store.h"
#include "leaf-json.h"
#include "leaf-weights-file.h"

/* inspect ------------------------------------------------------------------------------------ */

static char *
shape_to_string (const LeafTensorInfo *tensor)
{
  GString *s = g_string_new ("[");

  for (guint d = 0; d < tensor->n_dims; d++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, d > 0 ? ", " : "", tensor->shape[d]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

static void
print_inspect_json (const char            *path,
                    const LeafWeightsFile *info)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;

  json_builder_begin_object (b);
  leaf_json_add_string (b, "file", path);
  leaf_json_add_string (b, "sha256", info->sha256);
  leaf_json_add_int (b, "tensor_count", info->tensors->len);
  leaf_json_add_int (b, "parameter_count", info->n_values);
  leaf_json_begin_object (b, "metadata");
  for (guint i = 0; info->metadata_keys[i] != NULL; i++)
    leaf_json_add_string (b, info->metadata_keys[i], info->metadata_values[i]);
  json_builder_end_object (b);
  leaf_json_begin_array (b, "tensors");
  for (guint i = 0; i < info->tensors->len; i++)
    {
      const LeafTensorInfo *tensor = info->tensors->pdata[i];

      json_builder_begin_object (b);
      leaf_json_add_string (b, "name", tensor->name);
      leaf_json_add_string (b, "dtype", tensor->dtype);
      leaf_json_begin_array (b, "shape");
      for (guint d = 0; d < tensor->n_dims; d++)
        json_builder_add_int_value (b, tensor->shape[d]);
      json_builder_end_array (b);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  text = json_to_string (root, TRUE);
  printf ("%s\n", text);
}

/* Names, keys and values may hold any character: escaped, each stays on its line. */
static void
print_inspect_text (const char            *path,
                    const LeafWeightsFile *info)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *file = leaf_cli_escape (path);
  int name_width = 0;

  printf ("%-12s %s\n", _("File:"), file);
  printf ("%-12s %s\n", _("SHA-256:"), info->sha256);
  printf ("%-12s %u\n", _("Tensors:"), info->tensors->len);
  /* TRANSLATORS: the number of values in all tensors of a weight file */
  printf ("%-12s %" G_GINT64_FORMAT " %s\n", _("Parameters:"), info->n_values,
          _("(all tensors, buffers included)"));
  for (guint i = 0; info->metadata_keys[i] != NULL; i++)
    {
      g_autofree char *key = leaf_cli_escape (info->metadata_keys[i]);
      g_autofree char *value = leaf_cli_escape (info->metadata_values[i]);

      printf ("%-12s %s = %s\n", i == 0 ? _("Metadata:") : "", key, value);
    }

  for (guint i = 0; i < info->tensors->len; i++)
    {
      char *name = leaf_cli_escape (((LeafTensorInfo *) info->tensors->pdata[i])->name);

      name_width = MAX (name_width, (int) strlen (name));
      g_ptr_array_add (names, name);
    }
  printf ("\n");
  for (guint i = 0; i < info->tensors->len; i++)
    {
      const LeafTensorInfo *tensor = info->tensors->pdata[i];
      g_autofree char *shape = shape_to_string (tensor);

      printf ("  %-*s  %-8s  %s\n", name_width, (const char *) names->pdata[i], tensor->dtype,
              shape);
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
  g_autoptr(LeafWeightsFile) info = NULL;

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

  info = leaf_weights_file_inspect (argv[1], &error);
  if (info == NULL)
    return leaf_cli_fail (&error);
  if (json)
    print_inspect_json (argv[1], info);
  else
    print_inspect_text (argv[1], info);
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

int
leaf_cli_weights (LeafCli  *cli,
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
