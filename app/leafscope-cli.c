/* leafscope-cli.c: the headless front end to the Leafscope engine
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leafscope-cli"

#include "config.h"

#include <glib/gi18n.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/leaf-cli.h"

static const LeafCliCommand *const command_groups[] = {
  leaf_cli_catalog_commands,
  leaf_cli_model_commands,
  leaf_cli_weights_commands,
};

int
leaf_cli_fail (GError **error)
{
  g_printerr ("leafscope-cli: %s\n", (*error)->message);
  g_clear_error (error);
  return 1;
}

gboolean
leaf_cli_parse (GOptionContext   *context,
                int              *argc,
                char           ***argv)
{
  g_autoptr(GError) error = NULL;

  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      g_printerr ("leafscope-cli: %s\n", error->message);
      g_printerr (_("Run with --help for usage.\n"));
      return FALSE;
    }
  return TRUE;
}

static void
print_usage (FILE *out)
{
  fprintf (out, "%s\n", _("Usage: leafscope-cli [--catalog FILE] SUBCOMMAND [OPTIONS...]"));
  fprintf (out, "\n%s\n", _("Subcommands:"));
  for (gsize g = 0; g < G_N_ELEMENTS (command_groups); g++)
    for (const LeafCliCommand *c = command_groups[g]; c->name != NULL; c++)
      fprintf (out, "  %-14s %s\n", c->name, _(c->summary));
  fprintf (out, "\n%s\n", _("Options:"));
  fprintf (out, "  --catalog FILE %s\n", _("Catalog to use (default: $XDG_DATA_HOME/leafscope/default.leafscope)"));
  fprintf (out, "  --version      %s\n", _("Print the version and exit"));
  fprintf (out, "  --help         %s\n", _("Show this help; SUBCOMMAND --help shows a subcommand's"));
}

static const LeafCliCommand *
find_command (const char *name)
{
  for (gsize g = 0; g < G_N_ELEMENTS (command_groups); g++)
    for (const LeafCliCommand *c = command_groups[g]; c->name != NULL; c++)
      if (g_str_equal (c->name, name))
        return c;
  return NULL;
}

int
main (int   argc,
      char *argv[])
{
  LeafCli cli = { NULL, isatty (STDOUT_FILENO) };
  int i = 1;
  int status;

  setlocale (LC_ALL, "");
  /* LEAFSCOPE_LOCALEDIR lets the tests use the catalogs built in the build tree. */
  bindtextdomain (GETTEXT_PACKAGE, g_getenv ("LEAFSCOPE_LOCALEDIR") ?: LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  /* Global options come before the subcommand; everything after it belongs to the subcommand. */
  for (; i < argc && argv[i][0] == '-'; i++)
    {
      if (g_str_equal (argv[i], "--version"))
        {
          printf ("leafscope-cli %s\n", PACKAGE_VERSION);
          return 0;
        }
      else if (g_str_equal (argv[i], "--help") || g_str_equal (argv[i], "-h"))
        {
          print_usage (stdout);
          return 0;
        }
      else if (g_str_equal (argv[i], "--catalog") && i + 1 < argc)
        {
          g_free (cli.catalog_path);
          cli.catalog_path = g_strdup (argv[++i]);
        }
      else if (g_str_has_prefix (argv[i], "--catalog="))
        {
          g_free (cli.catalog_path);
          cli.catalog_path = g_strdup (argv[i] + strlen ("--catalog="));
        }
      else
        {
          g_printerr (_("leafscope-cli: unknown option “%s”\n"), argv[i]);
          print_usage (stderr);
          return 2;
        }
    }

  if (i >= argc)
    {
      print_usage (stderr);
      return 2;
    }

  const LeafCliCommand *command = find_command (argv[i]);
  if (command == NULL)
    {
      g_printerr (_("leafscope-cli: unknown subcommand “%s”\n"), argv[i]);
      print_usage (stderr);
      return 2;
    }

  status = command->func (&cli, argc - i, argv + i);
  g_free (cli.catalog_path);
  return status;
}
