/* leaf-cli-models.c: `leafscope-cli models`: the catalog's models, and the one diagnoses use
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gi18n.h>
#include <inttypes.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "leaf-catalog.h"
#include "leaf-cli.h"
#include "leaf-json.h"
#include "leaf-model-io.h"

/* The model ID names, or 0 after printing a usage error. */
static gint64
parse_model_id (const char *text)
{
  gint64 id = 0;

  if (!g_ascii_string_to_signed (text, 10, 1, G_MAXINT64, &id, NULL))
    {
      g_printerr (_("leafscope-cli: “%s” is not a model ID; “leafscope-cli models list” shows "
                    "them\n"), text);
      return 0;
    }
  return id;
}

/* Parses a verb's options and checks it got n_args arguments after the verb; else prints why
 * and returns FALSE. */
static gboolean
parse_verb (GOptionContext  *context,
            int             *argc,
            char          ***argv,
            int              n_args)
{
  if (!leaf_cli_parse (context, argc, argv))
    return FALSE;
  if (*argc != n_args + 1)
    {
      g_autofree char *help = g_option_context_get_help (context, TRUE, NULL);

      g_printerr (g_dngettext (GETTEXT_PACKAGE, "leafscope-cli: models %s takes %d argument\n",
                               "leafscope-cli: models %s takes %d arguments\n", n_args),
                  (*argv)[0], n_args);
      g_printerr ("%s", help);
      return FALSE;
    }
  return TRUE;
}

static void
add_model_json (JsonBuilder         *b,
                const LeafModelInfo *info)
{
  g_autofree char *title = leaf_model_info_get_title (info);
  g_autofree char *description = leaf_model_info_describe (info);
  g_autofree char *created = info->created != NULL ? g_date_time_format_iso8601 (info->created)
                                                   : NULL;
  g_autofree char *path = g_filename_display_name (info->path);

  json_builder_begin_object (b);
  leaf_json_add_int (b, "id", info->id);
  leaf_json_add_string (b, "name", info->name);
  leaf_json_add_string (b, "title", title);
  leaf_json_add_string (b, "description", description);
  if (info->run_id > 0)
    leaf_json_add_int (b, "run_id", info->run_id);
  else
    leaf_json_add_node (b, "run_id", json_node_new (JSON_NODE_NULL));
  leaf_json_add_string (b, "run_status", leaf_run_status_to_string (info->run_status));
  if (!isnan (info->val_accuracy))
    leaf_json_add_double (b, "val_accuracy", info->val_accuracy);
  else
    leaf_json_add_node (b, "val_accuracy", json_node_new (JSON_NODE_NULL));
  leaf_json_add_string (b, "created", created);
  leaf_json_add_boolean (b, "active", info->active);
  leaf_json_add_string (b, "path", path);
  leaf_json_add_string (b, "sha256", info->sha256);
  leaf_json_begin_array (b, "classes");
  for (guint c = 0; info->classes[c] != NULL; c++)
    json_builder_add_string_value (b, info->classes[c]);
  json_builder_end_array (b);
  leaf_json_add_string (b, "note", info->note);
  json_builder_end_object (b);
}

static int
models_list (LeafCli  *cli,
             int       argc,
             char    **argv)
{
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("List as one JSON array"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(GPtrArray) models = NULL;

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, _("List the catalog's models, newest first; “*” marks "
                                           "the active one, which Diagnose, predict, evaluate, "
                                           "next and model-card use."));
  if (!parse_verb (context, &argc, &argv, 0))
    return 2;
  if ((catalog = leaf_cli_open_catalog (cli, FALSE, &error)) == NULL ||
      (models = leaf_catalog_list_models (catalog, &error)) == NULL)
    return leaf_cli_fail (&error);

  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;
      g_autofree char *text = NULL;

      json_builder_begin_array (b);
      for (guint i = 0; i < models->len; i++)
        add_model_json (b, models->pdata[i]);
      json_builder_end_array (b);
      root = json_builder_get_root (b);
      text = json_to_string (root, TRUE);
      printf ("%s\n", text);
      return 0;
    }
  if (models->len == 0)
    {
      printf ("%s\n", _("The catalog has no models yet; train one with “leafscope-cli train”."));
      return 0;
    }
  for (guint i = 0; i < models->len; i++)
    {
      LeafModelInfo *info = models->pdata[i];
      g_autofree char *description = leaf_model_info_describe (info);
      g_autofree char *path = leaf_cli_escape (info->path);

      printf ("%s %4" G_GINT64_FORMAT "  %s\n       %s\n", info->active ? "*" : " ", info->id,
              description, path);
    }
  return 0;
}

static int
models_use (LeafCli  *cli,
            int       argc,
            char    **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new (_("ID"));
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(LeafModelInfo) info = NULL;
  g_autofree char *description = NULL;
  gint64 id;

  g_option_context_set_summary (context, _("Make a model the active one: Diagnose, predict, "
                                           "evaluate, next and model-card use it, whatever its "
                                           "run and its accuracy."));
  if (!parse_verb (context, &argc, &argv, 1) || (id = parse_model_id (argv[1])) == 0)
    return 2;
  if ((catalog = leaf_cli_open_catalog (cli, FALSE, &error)) == NULL ||
      !leaf_catalog_set_active_model (catalog, id, &error) ||
      (info = leaf_catalog_get_model (catalog, id, &error)) == NULL)
    return leaf_cli_fail (&error);
  description = leaf_model_info_describe (info);
  printf (_("Diagnose now uses model %" PRId64 ": %s\n"), id, description);
  return 0;
}

static int
models_rename (LeafCli  *cli,
               int       argc,
               char    **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new (_("ID NAME"));
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  gint64 id;

  g_option_context_set_summary (context, _("Give a model a name, shown wherever it is; an empty "
                                           "NAME gives it back its run's."));
  if (!parse_verb (context, &argc, &argv, 2) || (id = parse_model_id (argv[1])) == 0)
    return 2;
  if ((catalog = leaf_cli_open_catalog (cli, FALSE, &error)) == NULL ||
      !leaf_catalog_rename_model (catalog, id, argv[2], &error))
    return leaf_cli_fail (&error);
  return 0;
}

static int
models_remove (LeafCli  *cli,
               int       argc,
               char    **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new (_("ID"));
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(LeafModelInfo) info = NULL;
  g_autofree char *description = NULL;
  gint64 id;

  g_option_context_set_summary (context, _("Forget a model and its predictions, and delete its "
                                           "file when it lies in the catalog's models folder. "
                                           "When it was the active model, none is active "
                                           "until you choose one."));
  if (!parse_verb (context, &argc, &argv, 1) || (id = parse_model_id (argv[1])) == 0)
    return 2;
  if ((catalog = leaf_cli_open_catalog (cli, FALSE, &error)) == NULL ||
      (info = leaf_catalog_get_model (catalog, id, &error)) == NULL ||
      !leaf_catalog_remove_model (catalog, id, &error))
    return leaf_cli_fail (&error);
  description = leaf_model_info_describe (info);
  printf (_("Removed model %" PRId64 ": %s\n"), id, description);
  if (info->active)
    printf ("%s\n", _("No model is active now: choose one with “leafscope-cli models use ID”."));
  return 0;
}

static int
models_export (LeafCli  *cli,
               int       argc,
               char    **argv)
{
  g_autofree char *format_name = NULL;
  GOptionEntry entries[] = {
    { "format", 0, 0, G_OPTION_ARG_STRING, &format_name,
      N_("safetensors (with the classes, preprocessing and calibration) or torch (a plain "
         "torch.save state dict); by default, torch for a name ending in .pth or .pt"),
      N_("FORMAT") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_("ID FILE"));
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autofree char *shown = NULL;
  LeafModelFormat format;
  gint64 id;

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, _("Write model ID with torchvision's parameter names, "
                                           "for PyTorch's efficientnet_b0 (docs/model-format.md "
                                           "shows how to load it)."));
  if (!parse_verb (context, &argc, &argv, 2) || (id = parse_model_id (argv[1])) == 0)
    return 2;
  format = leaf_model_format_for_path (argv[2]);
  if (format_name != NULL && !leaf_model_format_from_string (format_name, &format))
    {
      g_printerr (_("leafscope-cli: “%s” is not a format: use safetensors or torch\n"),
                  format_name);
      return 2;
    }
  if ((catalog = leaf_cli_open_catalog (cli, FALSE, &error)) == NULL ||
      !leaf_model_export (catalog, id, argv[2], format, &error))
    return leaf_cli_fail (&error);
  shown = leaf_cli_escape (argv[2]);
  printf (_("Exported model %" PRId64 " to %s\n"), id, shown);
  return 0;
}

static int
models_import (LeafCli  *cli,
               int       argc,
               char    **argv)
{
  g_autofree char *class_list = NULL;
  GOptionEntry entries[] = {
    { "classes", 0, 0, G_OPTION_ARG_STRING, &class_list,
      N_("The class of each output of the model's classifier, in order, separated by commas "
         "(required)"), N_("A,B,...") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_("FILE"));
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(LeafModelImport) import = NULL;
  g_auto(GStrv) classes = NULL;
  g_autofree char *shown = NULL;

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, _("Add an EfficientNet-B0 trained in PyTorch (a state "
                                           "dict saved with torch.save or as safetensors, plain "
                                           "or in a checkpoint, DataParallel and Lightning "
                                           "prefixes too) to the catalog's models, calibrated on "
                                           "its validation photos. Nothing in the file is run."));
  if (!parse_verb (context, &argc, &argv, 1))
    return 2;
  if (class_list == NULL)
    {
      g_printerr ("%s\n", _("leafscope-cli: models import needs --classes A,B,... naming the "
                            "outputs of the model's classifier in order"));
      return 2;
    }
  classes = g_strsplit (class_list, ",", -1);
  for (char **c = classes; *c != NULL; c++)
    g_strstrip (*c);
  if ((catalog = leaf_cli_open_catalog (cli, FALSE, &error)) == NULL ||
      (import = leaf_model_import (catalog, argv[1], (const char * const *) classes, NULL,
                                   &error)) == NULL)
    return leaf_cli_fail (&error);

  shown = leaf_cli_escape (argv[1]);
  printf (_("Imported %s as model %" PRId64 "\n"), shown, import->model_id);
  if (*import->key_prefix != '\0')
    printf (_("Tensor names lost their prefix “%s”\n"), import->key_prefix);
  if (import->n_calibration > 0)
    printf (g_dngettext (GETTEXT_PACKAGE,
                         "Calibrated on %u validation photo: %.1f %% right, temperature %.3f, "
                         "expected calibration error %.1f %% → %.1f %%\n",
                         "Calibrated on %u validation photos: %.1f %% right, temperature %.3f, "
                         "expected calibration error %.1f %% → %.1f %%\n",
                         import->n_calibration),
            import->n_calibration, 100 * import->val_accuracy, import->calibration.temperature,
            100 * import->calibration.ece_before, 100 * import->calibration.ece_after);
  else
    printf ("%s\n", _("Not calibrated: the catalog has no labelled validation photos of its "
                      "classes (leafscope-cli split assigns them)"));
  printf (_("Diagnose with it: leafscope-cli models use %" PRId64 "\n"),
          import->model_id);
  return 0;
}

static const LeafCliCommand models_verbs[] = {
  { "list", models_list, N_("List the models; “*” marks the active one (the default)") },
  { "use", models_use, N_("Make model ID the one diagnoses use") },
  { "rename", models_rename, N_("Name model ID") },
  { "remove", models_remove, N_("Forget model ID, and delete its file from the models folder") },
  { "export", models_export, N_("Write model ID for PyTorch (safetensors or torch.save)") },
  { "import", models_import, N_("Add a model trained in PyTorch, with its class names") },
  { NULL, NULL, NULL },
};

static void
print_verbs (FILE *out)
{
  fprintf (out, "%s\n\n", _("Usage: leafscope-cli models [COMMAND] [OPTIONS...]"));
  fprintf (out, "%s\n", _("Commands:"));
  for (const LeafCliCommand *v = models_verbs; v->name != NULL; v++)
    fprintf (out, "  %-10s %s\n", v->name, _(v->summary));
  fprintf (out, "\n%s\n", _("COMMAND --help shows a command's options."));
}

int
leaf_cli_models (LeafCli  *cli,
                 int       argc,
                 char    **argv)
{
  /* Without a verb (or with options only), the models are listed. */
  if (argc < 2 || argv[1][0] == '-')
    {
      if (argc >= 2 && (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h")))
        {
          print_verbs (stdout);
          return 0;
        }
      argv[0] = (char *) "list";
      return models_list (cli, argc, argv);
    }
  for (const LeafCliCommand *v = models_verbs; v->name != NULL; v++)
    if (g_str_equal (v->name, argv[1]))
      return v->func (cli, argc - 1, argv + 1);
  g_printerr (_("leafscope-cli: unknown models command “%s”\n"), argv[1]);
  print_verbs (stderr);
  return 2;
}
