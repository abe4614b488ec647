/* leafscope-cli.c: the headless front end to the Leafscope engine
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leafscope-cli"

#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/leaf-cli.h"
#include "leaf-catalog.h"

/* Defined in leafscope-cli-model only: see leaf-cli-commands.c. */
#pragma weak leaf_cli_use_device

static const LeafCliCommand *const command_groups[] = {
  leaf_cli_catalog_commands,
  leaf_cli_model_commands,
};

/* The program with the model library: beside this one in the build folder, else where it is
 * installed relative to this one (which holds when the whole tree moved, as in a DESTDIR), else
 * where it was installed. */
static char *
model_program_path (void)
{
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *dir = self != NULL ? g_path_get_dirname (self) : NULL;
  const char *const places[] = { ".", LEAF_CLI_MODEL_RELATIVE_DIR, LEAF_CLI_MODEL_DIR };

  for (gsize i = 0; i < G_N_ELEMENTS (places); i++)
    {
      g_autofree char *path = g_path_is_absolute (places[i])
                              ? g_build_filename (places[i], "leafscope-cli-model", NULL)
                              : dir != NULL ? g_build_filename (dir, places[i],
                                                                "leafscope-cli-model", NULL)
                                            : NULL;

      if (path != NULL && g_file_test (path, G_FILE_TEST_IS_EXECUTABLE))
        return g_steal_pointer (&path);
    }
  return g_build_filename (LEAF_CLI_MODEL_DIR, "leafscope-cli-model", NULL);
}

/* Replaces this process by leafscope-cli-model with the same command line. */
static int
run_model_program (const char *command,
                   char       *argv[])
{
  g_autofree char *path = model_program_path ();
  int saved_errno;

  execv (path, argv);
  saved_errno = errno;
  g_printerr (_("leafscope-cli: cannot run %s, which “%s” needs: %s\n"), path, command,
              g_strerror (saved_errno));
  return 1;
}

int
leaf_cli_fail (GError **error)
{
  g_printerr ("leafscope-cli: %s\n", (*error)->message);
  g_clear_error (error);
  return 1;
}

LeafCatalog *
leaf_cli_open_catalog (LeafCli   *cli,
                       gboolean   create,
                       GError   **error)
{
  g_autofree char *path = cli->catalog_path != NULL ? g_strdup (cli->catalog_path)
                                                     : leaf_catalog_get_default_path ();

  LeafCatalog *catalog = leaf_catalog_open (path, create ? LEAF_CATALOG_OPEN_CREATE
                                                         : LEAF_CATALOG_OPEN_DEFAULT, error);

  if (catalog != NULL && cli->labeller != NULL)
    leaf_catalog_set_labeller (catalog, cli->labeller);
  return catalog;
}

static LeafCliNumber *
find_number (LeafCliNumber *numbers,
             const char    *option_name)
{
  const char *name = option_name + strspn (option_name, "-");

  for (; numbers->name != NULL; numbers++)
    if (g_str_equal (numbers->name, name))
      return numbers;
  g_assert_not_reached ();
}

/* “above 0 and below 1”, “at least 1”: the range a number must be in, as the messages say it. */
static char *
describe_range (const LeafCliNumber *number)
{
  /* %.15g writes whole numbers up to 2^32 and more in full. */
  g_autofree char *min = g_strdup_printf ("%.15g", number->min);
  g_autofree char *max = g_strdup_printf ("%.15g", number->max);
  g_autofree char *lower = NULL;
  g_autofree char *upper = NULL;

  if (isfinite (number->min))
    lower = g_strdup_printf (number->min_open ? _("above %s") : _("at least %s"), min);
  if (isfinite (number->max))
    upper = g_strdup_printf (number->max_open ? _("below %s") : _("at most %s"), max);
  if (lower != NULL && upper != NULL)
    /* TRANSLATORS: a range, as in “above 0 and below 1” */
    return g_strdup_printf (_("%s and %s"), lower, upper);
  return g_strdup (lower != NULL ? lower : upper);
}

static gboolean
parse_number_cb (const char  *option_name,
                 const char  *text,
                 gpointer     user_data,
                 GError     **error)
{
  LeafCliNumber *number = find_number (user_data, option_name);
  double min = number->min, max = number->max;
  gint64 whole = 0;
  double value = NAN;
  char *end = NULL;

  if (number->type == LEAF_CLI_DOUBLE)
    {
      value = g_strtod (text, &end);
      if (end == text || *end != '\0' || !isfinite (value))
        value = NAN;
    }
  else if (g_ascii_string_to_signed (text, 10, G_MININT64, G_MAXINT64, &whole, NULL))
    value = (double) whole;
  if (number->type == LEAF_CLI_INT)
    {
      min = MAX (min, G_MININT);
      max = MIN (max, G_MAXINT);
    }

  /* NaN fails every comparison, so it lands here too. */
  if (!(value >= min && value <= max) || (number->min_open && value == min) ||
      (number->max_open && value == max))
    {
      g_autofree char *range = describe_range (number);

      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   number->type == LEAF_CLI_DOUBLE ? _("--%s takes a finite number %s, not “%s”")
                                                   : _("--%s takes a whole number %s, not “%s”"),
                   number->name, range, text);
      return FALSE;
    }
  switch (number->type)
    {
    case LEAF_CLI_INT:
      *(int *) number->value = (int) whole;
      break;
    case LEAF_CLI_INT64:
      *(gint64 *) number->value = whole;
      break;
    case LEAF_CLI_DOUBLE:
    default:
      *(double *) number->value = value;
      break;
    }
  number->given = TRUE;
  return TRUE;
}

void
leaf_cli_add_options (GOptionContext     *context,
                      const GOptionEntry *entries,
                      LeafCliNumber      *numbers)
{
  /* The callback finds its number through the group's user data, hence a group of our own. */
  GOptionGroup *group = g_option_group_new (NULL, NULL, NULL, numbers, NULL);
  g_autoptr(GArray) generated = g_array_new (TRUE, TRUE, sizeof (GOptionEntry));

  g_option_group_set_translation_domain (group, GETTEXT_PACKAGE);
  if (entries != NULL)
    g_option_group_add_entries (group, entries);
  for (LeafCliNumber *number = numbers; number->name != NULL; number++)
    {
      GOptionEntry entry = { number->name, 0, 0, G_OPTION_ARG_CALLBACK, (gpointer) parse_number_cb,
                             number->description, number->arg_description };
      g_array_append_val (generated, entry);
    }
  g_option_group_add_entries (group, (const GOptionEntry *) generated->data);
  g_option_context_set_main_group (context, group);
}

gboolean
leaf_cli_given (const LeafCliNumber *numbers,
                gconstpointer        value)
{
  for (; numbers->name != NULL; numbers++)
    if (numbers->value == value)
      return numbers->given;
  g_assert_not_reached ();
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
  /* GLib leaves the “--” that ended the options in argv when an argument after it starts with
   * “-” or arguments come on both sides of it; it is never an argument itself. Any “--” left is
   * that one: one GLib took out leaves no argument after it that starts with “-”. */
  for (int i = 1; i < *argc; i++)
    if (g_str_equal ((*argv)[i], "--"))
      {
        memmove (*argv + i, *argv + i + 1, (*argc - i - 1) * sizeof (char *));
        (*argv)[--*argc] = NULL;
        break;
      }
  return TRUE;
}

char *
leaf_cli_escape (const char *text)
{
  GString *out = g_string_sized_new (strlen (text));

  for (const char *p = text; *p != '\0'; p++)
    switch (*p)
      {
      case '\\': g_string_append (out, "\\\\"); break;
      case '\t': g_string_append (out, "\\t"); break;
      case '\n': g_string_append (out, "\\n"); break;
      case '\r': g_string_append (out, "\\r"); break;
      default: g_string_append_c (out, *p); break;
      }
  return g_string_free (out, FALSE);
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
  fprintf (out, "  --catalog FILE %s\n", _("Catalog to use: a file or a postgresql:// URI (default: $XDG_DATA_HOME/leafscope/default.leafscope)"));
  fprintf (out, "  --labeller NAME %s\n", _("Label, adjudicate and undo as NAME (default: your user name; on a server, your role)"));
  fprintf (out, "  --device NAME  %s\n", _("Compute on auto, cpu, cuda or cuda:N (default: $LEAFSCOPE_DEVICE, else auto: a CUDA GPU when there is one)"));
  fprintf (out, "  --version      %s\n", _("Print the version and exit"));
  fprintf (out, "  --help         %s\n", _("Show this help; SUBCOMMAND --help shows a subcommand's"));
}

/* What --device accepts, checked here so that a mistake is a usage error even in leafscope-cli,
 * which does not load the model library; whether the device is there, only that library knows. */
static gboolean
is_device_name (const char *name)
{
  const char *index = name + strlen ("cuda:");

  if (g_str_equal (name, "auto") || g_str_equal (name, "cpu") || g_str_equal (name, "cuda"))
    return TRUE;
  return g_str_has_prefix (name, "cuda:") && index[0] != '\0' && strlen (index) <= 4
         && strspn (index, "0123456789") == strlen (index);
}

static void
cli_clear (LeafCli *cli)
{
  g_free (cli->catalog_path);
  g_free (cli->device);
  g_free (cli->labeller);
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
  LeafCli cli = { NULL, isatty (STDOUT_FILENO), NULL, NULL };
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
      if (g_str_equal (argv[i], "--"))
        {
          i++;
          break;
        }
      else if (g_str_equal (argv[i], "--version"))
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
      else if ((g_str_equal (argv[i], "--labeller") && i + 1 < argc)
               || g_str_has_prefix (argv[i], "--labeller="))
        {
          g_free (cli.labeller);
          cli.labeller = g_strdup (argv[i][strlen ("--labeller")] == '='
                                   ? argv[i] + strlen ("--labeller=") : argv[++i]);
        }
      else if ((g_str_equal (argv[i], "--device") && i + 1 < argc)
               || g_str_has_prefix (argv[i], "--device="))
        {
          const char *name = argv[i][strlen ("--device")] == '=' ? argv[i] + strlen ("--device=")
                                                                  : argv[++i];

          if (!is_device_name (name))
            {
              g_printerr (_("leafscope-cli: --device takes auto, cpu, cuda or cuda:N, not “%s”\n"),
                          name);
              cli_clear (&cli);
              return 2;
            }
          g_free (cli.device);
          cli.device = g_strdup (name);
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

  if (command->func == NULL)
    {
      cli_clear (&cli);
      return run_model_program (command->name, argv);
    }
  if (cli.device != NULL && leaf_cli_use_device != NULL)
    {
      g_autoptr(GError) error = NULL;

      if (!leaf_cli_use_device (&cli, &error))
        {
          cli_clear (&cli);
          return leaf_cli_fail (&error);
        }
    }
  status = command->func (&cli, argc - i, argv + i);
  cli_clear (&cli);
  return status;
}
