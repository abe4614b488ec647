/* leaf-cli-catalog.c: the catalog's subcommands (init, import, classes, label, list, export…)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-cli-catalog"

#include "config.h"

#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>
#include <glib-unix.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "leaf-catalog.h"
#include "leaf-cli.h"
#include "leaf-error.h"
#include "leaf-export.h"
#include "leaf-import.h"
#include "leaf-json.h"
#include "leaf-label-import.h"

static int
usage_error (GOptionContext *context,
             const char     *message)
{
  g_autofree char *help = g_option_context_get_help (context, TRUE, NULL);

  g_printerr ("leafscope-cli: %s\n", message);
  g_printerr ("%s", help);
  return 2;
}

static void
print_json (JsonNode *node,
            gboolean  pretty)
{
  g_autofree char *text = json_to_string (node, pretty);

  printf ("%s\n", text);
}

static char *
class_name_for (GPtrArray *classes,
                gint64     class_id)
{
  for (guint i = 0; i < classes->len; i++)
    if (((LeafClassInfo *) classes->pdata[i])->id == class_id)
      return ((LeafClassInfo *) classes->pdata[i])->name;
  return NULL;
}

/* init --------------------------------------------------------------------------------------- */

static int
cmd_init (LeafCli  *cli,
          int       argc,
          char    **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  guint n_images = 0;

  g_option_context_set_summary (context, _("Create the catalog, or bring an older one up to "
                                           "date. Running it again is harmless."));
  if (!leaf_cli_parse (context, &argc, &argv))
    return 2;
  if (argc != 1)
    return usage_error (context, _("init takes no arguments"));
  if ((catalog = leaf_cli_open_catalog (cli, TRUE, &error)) == NULL ||
      !leaf_catalog_count_images (catalog, NULL, &n_images, &error))
    return leaf_cli_fail (&error);
  printf (g_dngettext (GETTEXT_PACKAGE, "Catalog %s is ready (%u image).\n",
                       "Catalog %s is ready (%u images).\n", n_images),
          leaf_catalog_get_display_name (catalog), n_images);
  return 0;
}

/* import ------------------------------------------------------------------------------------- */

typedef struct
{
  GMainLoop *loop;
  LeafImportSummary *summary;
  GError *error;
  gboolean show_progress;
} ImportRun;

static void
on_import_progress_cb (const LeafImportProgress *progress,
                       gpointer                  user_data)
{
  ImportRun *run = user_data;

  if (!run->show_progress)
    return;
  if (progress->phase == LEAF_IMPORT_PHASE_SCANNING)
    g_printerr (_("\rLooking for images: %u found"), progress->n_total);
  else
    g_printerr (_("\rImporting: %u of %u files, %u added, %u skipped"), progress->n_done,
                progress->n_total, progress->n_added, progress->n_skipped);
}

static void
on_import_finished_cb (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  ImportRun *run = user_data;

  run->summary = leaf_import_run_finish (LEAF_CATALOG (source), result, &run->error);
  g_main_loop_quit (run->loop);
}

static gboolean
on_interrupt_cb (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_CONTINUE;
}

static void
print_import_json (const LeafImportSummary *summary)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (b);
  leaf_json_add_int (b, "added", summary->n_added);
  leaf_json_add_int (b, "present", summary->n_present);
  leaf_json_add_int (b, "updated", summary->n_updated);
  leaf_json_add_int (b, "labeled", summary->n_labeled);
  json_builder_set_member_name (b, "splits");
  json_builder_begin_object (b);
  leaf_json_add_int (b, "train", summary->n_split[LEAF_SPLIT_TRAIN]);
  leaf_json_add_int (b, "val", summary->n_split[LEAF_SPLIT_VALIDATION]);
  leaf_json_add_int (b, "test", summary->n_split[LEAF_SPLIT_TEST]);
  json_builder_end_object (b);
  leaf_json_begin_array (b, "new_classes");
  for (guint i = 0; summary->new_classes[i] != NULL; i++)
    json_builder_add_string_value (b, summary->new_classes[i]);
  json_builder_end_array (b);
  leaf_json_begin_array (b, "skipped");
  for (guint i = 0; i < summary->skipped->len; i++)
    {
      LeafImportSkip *skip = summary->skipped->pdata[i];
      g_autofree char *display = g_filename_display_name (skip->path);

      json_builder_begin_object (b);
      leaf_json_add_string (b, "path", display);
      leaf_json_add_string (b, "reason", leaf_import_skip_reason_to_string (skip->reason));
      leaf_json_add_string (b, "message", skip->message);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  print_json (root, TRUE);
}

/* Skips inside the folders named are reported by print_import_text(); these are the paths named. */
static guint
report_named_skips (const LeafImportSummary *summary,
                    GHashTable              *named)
{
  guint n_named = 0;

  for (guint i = 0; i < summary->skipped->len; i++)
    {
      LeafImportSkip *skip = summary->skipped->pdata[i];
      g_autofree char *display = NULL;

      if (!g_hash_table_contains (named, skip->path))
        continue;
      display = g_filename_display_name (skip->path);
      g_printerr (_("leafscope-cli: cannot import %s: %s\n"), display, skip->message);
      n_named++;
    }
  return n_named;
}

static void
print_import_text (const LeafImportSummary *summary,
                   GHashTable              *named)
{
  for (guint i = 0; i < summary->skipped->len; i++)
    {
      LeafImportSkip *skip = summary->skipped->pdata[i];
      g_autofree char *display = NULL;

      if (g_hash_table_contains (named, skip->path))
        continue;
      display = g_filename_display_name (skip->path);
      g_printerr (_("skipped %s: %s\n"), display, skip->message);
    }
  printf (_("Added %u, already present %u, paths updated %u, labelled %u, skipped %u.\n"),
          summary->n_added, summary->n_present, summary->n_updated, summary->n_labeled,
          summary->skipped->len);
  if (summary->new_classes[0] != NULL)
    {
      g_autofree char *names = g_strjoinv (", ", summary->new_classes);
      printf (_("New classes: %s\n"), names);
    }
  if (summary->n_split[LEAF_SPLIT_TRAIN] + summary->n_split[LEAF_SPLIT_VALIDATION] +
      summary->n_split[LEAF_SPLIT_TEST] > 0)
    printf (_("Splits kept from the dataset's folders: %u training, %u validation, %u test.\n"),
            summary->n_split[LEAF_SPLIT_TRAIN], summary->n_split[LEAF_SPLIT_VALIDATION],
            summary->n_split[LEAF_SPLIT_TEST]);
}

static int
cmd_import (LeafCli  *cli,
            int       argc,
            char    **argv)
{
  gboolean copy = FALSE, no_labels = FALSE, folder_labels = FALSE, json = FALSE;
  g_autofree char *group_pattern = NULL;
  gint64 max_pixels = 0;
  int batch_size = 0;
  GOptionEntry entries[] = {
    { "copy", 0, 0, G_OPTION_ARG_NONE, &copy,
      N_("Copy the images into the folder beside the catalog instead of referring to them"), NULL },
    { "no-folder-labels", 0, 0, G_OPTION_ARG_NONE, &no_labels,
      N_("Do not take sub-folder names as classes"), NULL },
    { "folder-labels", 0, 0, G_OPTION_ARG_NONE, &folder_labels,
      N_("Take sub-folder names as classes even when the folder holds images of its own"), NULL },
    { "group-pattern", 0, 0, G_OPTION_ARG_STRING, &group_pattern,
      N_("Regular expression on the path below the folder; its first group keeps a specimen's "
         "photos in one split"), "REGEX" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print the summary as one JSON object"), NULL },
    { NULL }
  };
  LeafCliNumber numbers[] = {
    { "max-pixels", LEAF_CLI_INT64, &max_pixels, 1, INFINITY, FALSE, FALSE,
      N_("Skip images with more pixels (default 100000000)"), "N" },
    { "batch-size", LEAF_CLI_INT, &batch_size, 1, INFINITY, FALSE, FALSE,
      N_("Files per transaction (default 256)"), "N" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_("PATH…"));
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  LeafImportOptions options = { 0 };
  ImportRun run = { loop, NULL, NULL, isatty (STDERR_FILENO) && !json };
  g_autoptr(GHashTable) named = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint interrupt_id;
  int status = 0;

  leaf_cli_add_options (context, entries, numbers);
  g_option_context_set_summary (context, _("Import image files and folders, recursively. In a "
                                           "folder of class sub-folders (ImageFolder), the "
                                           "sub-folder names become classes and labels."));
  if (!leaf_cli_parse (context, &argc, &argv))
    return 2;
  if (argc < 2)
    return usage_error (context, _("name at least one file or folder to import"));
  if (no_labels && folder_labels)
    return usage_error (context, _("--folder-labels and --no-folder-labels exclude each other"));
  /* As the import names them, to tell a path that was asked for from one found inside it. */
  for (int i = 1; i < argc; i++)
    g_hash_table_add (named, g_canonicalize_filename (argv[i], NULL));

  if ((catalog = leaf_cli_open_catalog (cli, TRUE, &error)) == NULL)
    return leaf_cli_fail (&error);
  options.copy = copy;
  options.folder_labels = no_labels ? LEAF_FOLDER_LABELS_NEVER
                          : folder_labels ? LEAF_FOLDER_LABELS_ALWAYS : LEAF_FOLDER_LABELS_AUTO;
  options.max_pixels = max_pixels;
  options.group_pattern = group_pattern;
  options.batch_size = batch_size;

  /* Ctrl+C stops between files; what was imported stays, and the same command finishes it. */
  interrupt_id = g_unix_signal_add (SIGINT, on_interrupt_cb, cancellable);
  leaf_import_run_async (catalog, (const char * const *) argv + 1, &options, cancellable,
                         on_import_progress_cb, &run, NULL, on_import_finished_cb, &run);
  g_main_loop_run (loop);
  g_source_remove (interrupt_id);
  if (run.show_progress)
    g_printerr ("\n");

  if (run.summary == NULL)
    {
      if (g_error_matches (run.error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_printerr (_("leafscope-cli: import interrupted; what was imported stays. Run the "
                        "same command again to import the rest.\n"));
          g_clear_error (&run.error);
          status = 130;
        }
      else
        status = leaf_cli_fail (&run.error);
    }
  else
    {
      if (json)
        print_import_json (run.summary);
      else
        print_import_text (run.summary, named);
      /* A path that was named and not imported at all (not there, unreadable, not an image) is
       * an error; what the other paths held is imported all the same. */
      if (report_named_skips (run.summary, named) > 0)
        status = 1;
    }
  g_clear_pointer (&run.summary, leaf_import_summary_free);
  return status;
}

/* classes ------------------------------------------------------------------------------------ */

static int
classes_list (LeafCatalog *catalog,
              gboolean     json)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) classes = leaf_catalog_list_classes (catalog, &error);

  if (classes == NULL)
    return leaf_cli_fail (&error);
  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;

      json_builder_begin_array (b);
      for (guint i = 0; i < classes->len; i++)
        {
          LeafClassInfo *info = classes->pdata[i];

          json_builder_begin_object (b);
          leaf_json_add_string (b, "name", info->name);
          leaf_json_add_int (b, "position", info->position);
          leaf_json_add_string (b, "color", info->color);
          leaf_json_add_string (b, "shortcut", info->shortcut);
          leaf_json_add_int (b, "images", info->n_images);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      root = json_builder_get_root (b);
      print_json (root, TRUE);
      return 0;
    }
  for (guint i = 0; i < classes->len; i++)
    {
      LeafClassInfo *info = classes->pdata[i];

      printf ("%3u  %-30s %7u  %s  %s\n", info->position + 1, info->name, info->n_images,
              info->color, info->shortcut != NULL ? info->shortcut : "");
    }
  return 0;
}

static gint64
class_id_by_name (LeafCatalog  *catalog,
                  const char   *name,
                  GError      **error)
{
  g_autoptr(LeafClassInfo) info = leaf_catalog_find_class (catalog, name, error);

  return info != NULL ? info->id : 0;
}

static int
cmd_classes (LeafCli  *cli,
             int       argc,
             char    **argv)
{
  gboolean json = FALSE, with_labels = FALSE;
  g_autofree char *color = NULL;
  g_autofree char *key = NULL;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("List as one JSON array"), NULL },
    { "color", 0, 0, G_OPTION_ARG_STRING, &color, N_("Colour as #rrggbb (add, set)"), "COLOR" },
    { "key", 0, 0, G_OPTION_ARG_STRING, &key,
      N_("Key that labels with the class (add, set; empty to remove)"), "KEY" },
    { "with-labels", 0, 0, G_OPTION_ARG_NONE, &with_labels,
      N_("remove: also remove the class's labels (undoable)"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context =
    g_option_context_new (_("[list | add NAME | rename NAME NEW-NAME | remove NAME | "
                            "move NAME POSITION | set NAME]"));
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  const char *verb;
  gboolean ok = FALSE;
  gint64 id;

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, _("List and edit the classes images are labelled with. "
                                           "Positions count from 1."));
  if (!leaf_cli_parse (context, &argc, &argv))
    return 2;
  verb = argc >= 2 ? argv[1] : "list";
  if ((catalog = leaf_cli_open_catalog (cli, FALSE, &error)) == NULL)
    return leaf_cli_fail (&error);

  if (g_str_equal (verb, "list") && argc <= 2)
    return classes_list (catalog, json);
  if (g_str_equal (verb, "add") && argc == 3)
    ok = leaf_catalog_add_class (catalog, argv[2], color, key, &error) > 0;
  else if (g_str_equal (verb, "rename") && argc == 4)
    ok = (id = class_id_by_name (catalog, argv[2], &error)) > 0 &&
         leaf_catalog_rename_class (catalog, id, argv[3], &error);
  else if (g_str_equal (verb, "remove") && argc == 3)
    ok = (id = class_id_by_name (catalog, argv[2], &error)) > 0 &&
         leaf_catalog_remove_class (catalog, id, with_labels, &error);
  else if (g_str_equal (verb, "move") && argc == 4)
    {
      guint64 position = 0;

      if (!g_ascii_string_to_unsigned (argv[3], 10, 1, G_MAXUINT, &position, NULL))
        return usage_error (context, _("the position is a number from 1"));
      ok = (id = class_id_by_name (catalog, argv[2], &error)) > 0 &&
           leaf_catalog_move_class (catalog, id, position - 1, &error);
    }
  else if (g_str_equal (verb, "set") && argc == 3)
    {
      if (color == NULL && key == NULL)
        return usage_error (context, _("set needs --color or --key"));
      ok = (id = class_id_by_name (catalog, argv[2], &error)) > 0 &&
           (color == NULL || leaf_catalog_set_class_color (catalog, id, color, &error)) &&
           (key == NULL || leaf_catalog_set_class_shortcut (catalog, id, key, &error));
    }
  else
    return usage_error (context, _("unknown classes command or wrong number of arguments"));

  if (!ok)
    return leaf_cli_fail (&error);
  return 0;
}

/* label, unlabel, undo, redo ----------------------------------------------------------------- */

static gboolean
label_one (LeafCatalog   *catalog,
           const char    *image_name,
           const char    *class_name,
           LeafLabelHow   how,
           GError       **error)
{
  g_autoptr(LeafCatalogImage) image = leaf_catalog_find_image (catalog, image_name, error);
  gint64 class_id = 0;
  gint64 image_id;

  if (image == NULL)
    return FALSE;
  if (class_name != NULL && (class_id = class_id_by_name (catalog, class_name, error)) == 0)
    return FALSE;
  image_id = leaf_catalog_image_get_id (image);
  if (!leaf_catalog_set_labels (catalog, &image_id, 1, class_id, how, error))
    return FALSE;
  /* The label is on disk once set_labels returned: say so, line by line, so that a script
   * (or a test that kills us) knows exactly which labels are safe. */
  if (class_name != NULL)
    printf ("labeled %s %s\n", leaf_catalog_image_get_sha256 (image), class_name);
  else
    printf ("unlabeled %s\n", leaf_catalog_image_get_sha256 (image));
  fflush (stdout);
  return TRUE;
}

/* Lines of IMAGE<TAB>CLASS from standard input, each its own undoable action. Every line is
 * applied or reported with its number: a list in another encoding must not end the labelling
 * quietly halfway. */
static int
label_from_stdin (LeafCatalog  *catalog,
                  LeafLabelHow  how)
{
  g_autoptr(GInputStream) in = g_unix_input_stream_new (STDIN_FILENO, FALSE);
  g_autoptr(GDataInputStream) data = g_data_input_stream_new (in);
  g_autoptr(GError) read_error = NULL;
  guint n_failed = 0, number = 0;
  char *line;

  while ((line = g_data_input_stream_read_line (data, NULL, NULL, &read_error)) != NULL)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *owned = line;
      const char *invalid;
      char *tab;

      number++;
      if (*g_strchomp (line) == '\0')
        continue;
      if (!g_utf8_validate (line, -1, &invalid))
        {
          g_printerr (_("leafscope-cli: line %u: not UTF-8 text (byte %u); convert the list to "
                        "UTF-8, for example with “iconv -f WINDOWS-1252 -t UTF-8”\n"), number,
                      (guint) (invalid - line) + 1);
          n_failed++;
          continue;
        }
      if ((tab = strchr (line, '\t')) == NULL)
        {
          g_printerr (_("leafscope-cli: line %u: expected IMAGE<TAB>CLASS, got “%s”\n"), number,
                      line);
          n_failed++;
          continue;
        }
      *tab = '\0';
      if (!label_one (catalog, line, tab + 1, how, &error))
        {
          g_printerr (_("leafscope-cli: line %u: %s\n"), number, error->message);
          n_failed++;
        }
      /* A line printed is a label saved, at once: whoever reads the output as it comes (a
       * script, a pipe) knows what is safe if the program or the catalog's server stops. */
      fflush (stdout);
    }
  if (read_error != NULL)
    {
      g_printerr (_("leafscope-cli: cannot read standard input after line %u: %s\n"), number,
                  read_error->message);
      n_failed++;
    }
  if (n_failed > 0)
    g_printerr (g_dngettext (GETTEXT_PACKAGE, "leafscope-cli: %u line was not applied\n",
                             "leafscope-cli: %u lines were not applied\n", n_failed), n_failed);
  return n_failed > 0 ? 1 : 0;
}

static int
cmd_label (LeafCli  *cli,
           int       argc,
           char    **argv)
{
  gboolean from_stdin = FALSE, suggestion = FALSE;
  GOptionEntry entries[] = {
    { "stdin", 0, 0, G_OPTION_ARG_NONE, &from_stdin,
      N_("Read lines of IMAGE<TAB>CLASS; one line of output per label saved"), NULL },
    { "suggestion", 0, 0, G_OPTION_ARG_NONE, &suggestion,
      N_("Record the label as an accepted model suggestion"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_("IMAGE CLASS"));
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  LeafLabelHow how;

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, _("Label an image, named by its path or its SHA-256 "
                                           "(or a prefix of at least 8 digits)."));
  if (!leaf_cli_parse (context, &argc, &argv))
    return 2;
  if (from_stdin ? argc != 1 : argc != 3)
    return usage_error (context, _("give IMAGE and CLASS, or --stdin"));
  if ((catalog = leaf_cli_open_catalog (cli, FALSE, &error)) == NULL)
    return leaf_cli_fail (&error);
  how = suggestion ? LEAF_LABEL_HOW_SUGGESTION : LEAF_LABEL_HOW_MANUAL;
  if (from_stdin)
    return label_from_stdin (catalog, how);
  if (!label_one (catalog, argv[1], argv[2], how, &error))
    return leaf_cli_fail (&error);
  return 0;
}

static int
cmd_unlabel (LeafCli  *cli,
             int       argc,
             char    **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new (_("IMAGE…"));
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;

  g_option_context_set_summary (context, _("Remove the label of images, named by path or "
                                           "SHA-256."));
  if (!leaf_cli_parse (context, &argc, &argv))
    return 2;
  if (argc < 2)
    return usage_error (context, _("name at least one image"));
  if ((catalog = leaf_cli_open_catalog (cli, FALSE, &error)) == NULL)
    return leaf_cli_fail (&error);
  for (int i = 1; i < argc; i++)
    if (!label_one (catalog, argv[i], NULL, LEAF_LABEL_HOW_MANUAL, &error))
      return leaf_cli_fail (&error);
  return 0;
}

static int
undo_or_redo (LeafCli  *cli,
              int       argc,
              char    **argv,
              gboolean  undo)
{
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autofree char *description = NULL;
  gboolean ok;

  g_option_context_set_summary (context, undo ? _("Take back the last labelling action, also "
                                                  "one made in an earlier session.")
                                              : _("Apply again the labelling action undone "
                                                  "last."));
  if (!leaf_cli_parse (context, &argc, &argv))
    return 2;
  if (argc != 1)
    return usage_error (context, _("no arguments expected"));
  if ((catalog = leaf_cli_open_catalog (cli, FALSE, &error)) == NULL)
    return leaf_cli_fail (&error);
  ok = undo ? leaf_catalog_undo (catalog, &description, &error)
            : leaf_catalog_redo (catalog, &description, &error);
  if (!ok)
    return leaf_cli_fail (&error);
  printf (undo ? _("Undone: %s\n") : _("Redone: %s\n"), description);
  return 0;
}

static int
cmd_undo (LeafCli  *cli,
          int       argc,
          char    **argv)
{
  return undo_or_redo (cli, argc, argv, TRUE);
}

static int
cmd_redo (LeafCli  *cli,
          int       argc,
          char    **argv)
{
  return undo_or_redo (cli, argc, argv, FALSE);
}

/* adjudicate, votes ------------------------------------------------------------------------- */

static int
cmd_adjudicate (LeafCli  *cli,
                int       argc,
                char    **argv)
{
  gboolean withdraw = FALSE;
  GOptionEntry entries[] = {
    { "withdraw", 0, 0, G_OPTION_ARG_NONE, &withdraw,
      N_("Take the decision back: the votes decide again (give IMAGE… only)"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_("CLASS IMAGE…"));
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  gint64 class_id = 0;
  int first;

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, _("Decide the label of photos whose labellers disagree "
                                           "(list --disputed shows them). The decision is "
                                           "final: later votes do not change it. It is recorded "
                                           "as the labeller's (--labeller)."));
  if (!leaf_cli_parse (context, &argc, &argv))
    return 2;
  first = withdraw ? 1 : 2;
  if (argc <= first)
    return usage_error (context, withdraw ? _("name at least one image")
                                          : _("give CLASS and at least one image"));
  if ((catalog = leaf_cli_open_catalog (cli, FALSE, &error)) == NULL ||
      (!withdraw && (class_id = class_id_by_name (catalog, argv[1], &error)) == 0))
    return leaf_cli_fail (&error);
  for (int i = first; i < argc; i++)
    {
      g_autoptr(LeafCatalogImage) image = leaf_catalog_find_image (catalog, argv[i], &error);
      gint64 id;

      if (image == NULL)
        return leaf_cli_fail (&error);
      id = leaf_catalog_image_get_id (image);
      g_array_append_val (ids, id);
    }
  if (!leaf_catalog_adjudicate (catalog, (gint64 *) ids->data, ids->len, class_id, &error))
    return leaf_cli_fail (&error);
  return 0;
}

static int
cmd_votes (LeafCli  *cli,
           int       argc,
           char    **argv)
{
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json,
      N_("Print {\"votes\": [{\"labeller\", \"class\", \"time\", \"how\", \"counts\"}], "
         "\"adjudicator\", \"adjudicated\", \"label\"}"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_("IMAGE"));
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(LeafCatalogImage) image = NULL;
  g_autoptr(GPtrArray) votes = NULL;
  g_autoptr(GPtrArray) classes = NULL;
  g_autofree char *adjudicator = NULL;
  gint64 decided = 0;
  const char *label;

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, _("Show every labeller's vote on a photo, any "
                                           "adjudication, and the label they give."));
  if (!leaf_cli_parse (context, &argc, &argv))
    return 2;
  if (argc != 2)
    return usage_error (context, _("name one image"));
  if ((catalog = leaf_cli_open_catalog (cli, FALSE, &error)) == NULL ||
      (image = leaf_catalog_find_image (catalog, argv[1], &error)) == NULL ||
      (classes = leaf_catalog_list_classes (catalog, &error)) == NULL ||
      (votes = leaf_catalog_list_votes (catalog, leaf_catalog_image_get_id (image), &adjudicator,
                                        &decided, &error)) == NULL)
    return leaf_cli_fail (&error);
  label = class_name_for (classes, leaf_catalog_image_get_class_id (image));

  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "votes");
      json_builder_begin_array (b);
      for (guint i = 0; i < votes->len; i++)
        {
          const LeafVoteInfo *vote = votes->pdata[i];

          json_builder_begin_object (b);
          leaf_json_add_string (b, "labeller", vote->labeller);
          leaf_json_add_string (b, "class", vote->class_name);
          leaf_json_add_string (b, "time", vote->time);
          leaf_json_add_string (b, "how", leaf_label_how_to_string (vote->how));
          leaf_json_add_boolean (b, "counts", vote->counts);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      leaf_json_add_string (b, "adjudicator", adjudicator);
      leaf_json_add_string (b, "adjudicated", class_name_for (classes, decided));
      leaf_json_add_string (b, "label", label);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      print_json (root, FALSE);
      return 0;
    }
  for (guint i = 0; i < votes->len; i++)
    {
      const LeafVoteInfo *vote = votes->pdata[i];

      printf ("%-20s %-24s %s %s%s\n", vote->labeller, vote->class_name, vote->time,
              leaf_label_how_to_string (vote->how), vote->counts ? "" : _(" (not counted)"));
    }
  if (adjudicator != NULL)
    printf (_("Adjudicated by %s: %s\n"), adjudicator, class_name_for (classes, decided));
  printf (_("Label: %s\n"), label != NULL ? label : _("none (the votes tie)"));
  return 0;
}

/* Members on other machines see these photos' labels, not the photos. */
static void
print_unreachable (guint n_unreachable)
{
  if (n_unreachable == 0)
    return;
  printf (g_dngettext (GETTEXT_PACKAGE,
                       "%u photo is not on the server: its file is not on this machine where it "
                       "was imported. Import its folder into the catalog from the machine that "
                       "has it.\n",
                       "%u photos are not on the server: their files are not on this machine "
                       "where they were imported. Import their folders into the catalog from the "
                       "machine that has them.\n", n_unreachable), n_unreachable);
}

static int
cmd_merge (LeafCli  *cli,
           int       argc,
           char    **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new (_("OTHER-CATALOG"));
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  LeafMergeSummary summary;

  g_option_context_set_summary (context, _("Bring another catalog's photos (matched by SHA-256), "
                                           "classes, votes and decisions into this one, as a "
                                           "laptop's from the field: each labeller's later "
                                           "vote stands, and photos whose labellers now "
                                           "disagree wait for adjudication. Safe to repeat; "
                                           "the other catalog is only read."));
  if (!leaf_cli_parse (context, &argc, &argv))
    return 2;
  if (argc != 2)
    return usage_error (context, _("name the catalog to merge"));
  if ((catalog = leaf_cli_open_catalog (cli, FALSE, &error)) == NULL ||
      !leaf_catalog_merge (catalog, argv[1], &summary, &error))
    return leaf_cli_fail (&error);
  printf (_("Merged %s: %u photos and %u classes added, %u votes added and %u updated, "
            "%u decisions; %u photos wait for adjudication.\n"), argv[1],
          summary.n_images_added, summary.n_classes_added, summary.n_votes_added,
          summary.n_votes_updated, summary.n_decisions, summary.n_disputed);
  print_unreachable (summary.n_unreachable);
  return 0;
}

/* Catalogs as a whole: `catalog copy SOURCE DESTINATION`. */
static int
cmd_catalog (LeafCli  *cli,
             int       argc,
             char    **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new (_("copy SOURCE DESTINATION"));
  g_autoptr(GError) error = NULL;
  guint n_images = 0;
  guint n_unreachable = 0;

  g_option_context_set_summary (context, _("Copy a catalog whole, between a file and a "
                                           "PostgreSQL server (postgresql://...) in either "
                                           "direction: photos, classes, votes, decisions, undo "
                                           "history, splits, runs and models. The destination "
                                           "is a new file or an empty database; the source is "
                                           "only read. To bring a catalog into one that already "
                                           "holds photos, use merge."));
  if (!leaf_cli_parse (context, &argc, &argv))
    return 2;
  if (argc != 4 || !g_str_equal (argv[1], "copy"))
    return usage_error (context, _("give copy, the catalog to copy and where the copy goes"));
  if (!leaf_catalog_copy (argv[2], argv[3], &n_images, &n_unreachable, &error))
    return leaf_cli_fail (&error);
  printf (g_dngettext (GETTEXT_PACKAGE, "Copied the catalog with its %u photo.\n",
                       "Copied the catalog with its %u photos.\n", n_images), n_images);
  print_unreachable (n_unreachable);
  return 0;
}

/* list, stats -------------------------------------------------------------------------------- */

static JsonNode *
image_to_json (LeafCatalogImage *image,
               GPtrArray        *classes)
{
  static const char *const splits[] = { NULL, "train", "validation", "test" };
  g_autoptr(JsonBuilder) b = json_builder_new ();
  const char *class_name = class_name_for (classes, leaf_catalog_image_get_class_id (image));
  GDateTime *captured = leaf_catalog_image_get_captured (image);
  GDateTime *labelled = leaf_catalog_image_get_label_time (image);
  LeafSplit split = leaf_catalog_image_get_split (image);

#define MEMBER_TIME(name, value) \
  G_STMT_START { \
    g_autofree char *t_ = (value) != NULL ? g_date_time_format_iso8601 (value) : NULL; \
    leaf_json_add_string (b, name, t_); \
  } G_STMT_END

  json_builder_begin_object (b);
  leaf_json_add_int (b, "id", leaf_catalog_image_get_id (image));
  leaf_json_add_string (b, "sha256", leaf_catalog_image_get_sha256 (image));
  leaf_json_add_string (b, "path", leaf_catalog_image_peek_path (image));
  leaf_json_add_int (b, "width", leaf_catalog_image_get_width (image));
  leaf_json_add_int (b, "height", leaf_catalog_image_get_height (image));
  leaf_json_add_string (b, "format", leaf_catalog_image_get_format (image));
  MEMBER_TIME ("captured", captured);
  leaf_json_add_string (b, "group", leaf_catalog_image_get_group_key (image));
  leaf_json_add_boolean (b, "missing", leaf_catalog_image_get_missing (image));
  leaf_json_add_string (b, "class", class_name);
  leaf_json_add_string (b, "labeller",
                        class_name != NULL ? leaf_catalog_image_get_labeller (image) : NULL);
  MEMBER_TIME ("labeled_at", class_name != NULL ? labelled : NULL);
  leaf_json_add_string (b, "how", class_name != NULL
                        ? leaf_label_how_to_string (leaf_catalog_image_get_label_how (image))
                        : NULL);
  leaf_json_add_string (b, "split", split <= LEAF_SPLIT_TEST ? splits[split] : NULL);
  json_builder_end_object (b);
#undef MEMBER_TIME
  return json_builder_get_root (b);
}

static int
cmd_list (LeafCli  *cli,
          int       argc,
          char    **argv)
{
  gboolean unlabeled = FALSE, labeled = FALSE, missing = FALSE, disputed = FALSE, json = FALSE;
  g_autofree char *class_name = NULL;
  g_autofree char *name = NULL;
  int limit = G_MAXINT, offset = 0;
  GOptionEntry entries[] = {
    { "class", 0, 0, G_OPTION_ARG_STRING, &class_name, N_("Only images of this class"), "CLASS" },
    { "unlabeled", 0, 0, G_OPTION_ARG_NONE, &unlabeled, N_("Only unlabelled images"), NULL },
    { "labeled", 0, 0, G_OPTION_ARG_NONE, &labeled, N_("Only labelled images"), NULL },
    { "missing", 0, 0, G_OPTION_ARG_NONE, &missing, N_("Only images whose file is missing"), NULL },
    { "disputed", 0, 0, G_OPTION_ARG_NONE, &disputed,
      N_("Only images whose labellers disagree, waiting for adjudication"), NULL },
    { "name", 0, 0, G_OPTION_ARG_STRING, &name, N_("Only file names containing TEXT"), "TEXT" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json,
      N_("Print one JSON array of image objects"), NULL },
    { NULL }
  };
  LeafCliNumber numbers[] = {
    { "limit", LEAF_CLI_INT, &limit, 0, INFINITY, FALSE, FALSE, N_("At most N images"), "N" },
    { "offset", LEAF_CLI_INT, &offset, 0, INFINITY, FALSE, FALSE, N_("Skip the first N images"),
      "N" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(GPtrArray) classes = NULL;
  g_autoptr(GPtrArray) images = NULL;
  LeafImageQuery query = { 0 };

  leaf_cli_add_options (context, entries, numbers);
  g_option_context_set_summary (context, _("List images in import order, after checking which "
                                           "files are missing. In the plain list, backslashes, "
                                           "tabs and line breaks in paths are written \\\\, \\t "
                                           "and \\n."));
  if (!leaf_cli_parse (context, &argc, &argv))
    return 2;
  if (argc != 1)
    return usage_error (context, _("list takes options only"));
  if ((class_name != NULL) + unlabeled + labeled > 1)
    return usage_error (context, _("choose one of --class, --unlabeled and --labeled"));
  if ((catalog = leaf_cli_open_catalog (cli, FALSE, &error)) == NULL ||
      !leaf_catalog_check_missing (catalog, NULL, NULL, &error) ||
      (classes = leaf_catalog_list_classes (catalog, &error)) == NULL)
    return leaf_cli_fail (&error);
  if (class_name != NULL && (query.class_id = class_id_by_name (catalog, class_name, &error)) == 0)
    return leaf_cli_fail (&error);
  query.labels = unlabeled ? LEAF_LABEL_FILTER_UNLABELED
                 : labeled ? LEAF_LABEL_FILTER_LABELED : LEAF_LABEL_FILTER_ANY;
  query.missing_only = missing;
  query.disputed_only = disputed;
  query.name_contains = name;
  images = leaf_catalog_query_images (catalog, &query, offset, limit, &error);
  if (images == NULL)
    return leaf_cli_fail (&error);

  /* JSON: one array, written element by element so that 100,000 images need no tree. */
  if (json)
    printf ("[");
  for (guint i = 0; i < images->len; i++)
    {
      LeafCatalogImage *image = images->pdata[i];

      if (json)
        {
          g_autoptr(JsonNode) node = image_to_json (image, classes);
          g_autofree char *text = json_to_string (node, FALSE);

          printf ("%s\n  %s", i > 0 ? "," : "", text);
        }
      else
        {
          const char *class = class_name_for (classes, leaf_catalog_image_get_class_id (image));
          g_autofree char *path = leaf_cli_escape (leaf_catalog_image_peek_path (image));

          /* Class names hold no control characters or backslashes; paths may. */
          printf ("%.12s  %-20s %5ux%-5u %s%s\n", leaf_catalog_image_get_sha256 (image),
                  class != NULL ? class : "-", leaf_catalog_image_get_width (image),
                  leaf_catalog_image_get_height (image), path,
                  leaf_catalog_image_get_missing (image) ? _(" (missing)") : "");
        }
    }
  if (json)
    printf ("%s]\n", images->len > 0 ? "\n" : "");
  return 0;
}

/* Agreement between labellers, for stats: overall and per class, the kappa named by its method
 * ("cohen" for two labellers, "fleiss" for more, "none" with fewer), null where undefined. */
static void
add_kappa_json (JsonBuilder     *b,
                const LeafKappa *kappa)
{
  leaf_json_add_string (b, "method", leaf_kappa_method_to_string (kappa->method));
  leaf_json_add_int (b, "labellers", kappa->n_raters);
  leaf_json_add_int (b, "images", kappa->n_items);
  leaf_json_add_double (b, "observed", kappa->observed);
  leaf_json_add_double (b, "kappa", kappa->kappa);
}

static void
add_agreement_json (JsonBuilder         *b,
                    const LeafAgreement *agreement)
{
  leaf_json_begin_object (b, "agreement");
  leaf_json_add_int (b, "labellers", agreement->n_labellers);
  leaf_json_add_int (b, "disputed", agreement->n_disputed);
  leaf_json_add_int (b, "adjudicated", agreement->n_adjudicated);
  leaf_json_begin_object (b, "overall");
  add_kappa_json (b, &agreement->overall);
  json_builder_end_object (b);
  leaf_json_begin_object (b, "classes");
  for (guint i = 0; i < agreement->classes->len; i++)
    {
      const LeafClassAgreement *one = &g_array_index (agreement->classes, LeafClassAgreement, i);

      leaf_json_begin_object (b, one->class_name);
      add_kappa_json (b, &one->kappa);
      json_builder_end_object (b);
    }
  json_builder_end_object (b);
  json_builder_end_object (b);
}

static void
print_agreement (const LeafAgreement *agreement)
{
  const LeafKappa *overall = &agreement->overall;

  if (overall->method == LEAF_KAPPA_NONE)
    {
      printf (_("Labellers: %u (agreement needs photos labelled by two or more)\n"),
              agreement->n_labellers);
      return;
    }
  printf (_("Labellers: %u\nAgreement: %s kappa %.2f over %u photos (%.0f %% of pairs agree)\n"
            "Disputed:  %u waiting for adjudication, %u adjudicated\n"),
          agreement->n_labellers,
          overall->method == LEAF_KAPPA_COHEN ? _("Cohen’s") : _("Fleiss’"), overall->kappa,
          overall->n_items, 100 * overall->observed, agreement->n_disputed,
          agreement->n_adjudicated);
  for (guint i = 0; i < agreement->classes->len; i++)
    {
      const LeafClassAgreement *one = &g_array_index (agreement->classes, LeafClassAgreement, i);

      if (isnan (one->kappa.kappa))
        printf ("  %-30s -\n", one->class_name);
      else
        printf ("  %-30s %.2f\n", one->class_name, one->kappa.kappa);
    }
}

static int
cmd_stats (LeafCli  *cli,
           int       argc,
           char    **argv)
{
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json,
      N_("Print {\"images\", \"labeled\", \"missing\", \"classes\": {name: count}, "
         "\"agreement\": {\"labellers\", \"disputed\", \"adjudicated\", \"overall\", "
         "\"classes\"}}"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(GPtrArray) classes = NULL;
  g_autoptr(LeafAgreement) agreement = NULL;
  LeafImageQuery labelled = { .labels = LEAF_LABEL_FILTER_LABELED };
  guint n_images = 0, n_labelled = 0, n_missing = 0;

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, _("Count images, labels and missing files (after "
                                           "looking for every file)."));
  if (!leaf_cli_parse (context, &argc, &argv))
    return 2;
  if (argc != 1)
    return usage_error (context, _("stats takes no arguments"));
  if ((catalog = leaf_cli_open_catalog (cli, FALSE, &error)) == NULL ||
      !leaf_catalog_check_missing (catalog, NULL, &n_missing, &error) ||
      !leaf_catalog_count_images (catalog, NULL, &n_images, &error) ||
      !leaf_catalog_count_images (catalog, &labelled, &n_labelled, &error) ||
      (classes = leaf_catalog_list_classes (catalog, &error)) == NULL ||
      (agreement = leaf_catalog_get_agreement (catalog, &error)) == NULL)
    return leaf_cli_fail (&error);

  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;

      json_builder_begin_object (b);
      leaf_json_add_int (b, "images", n_images);
      leaf_json_add_int (b, "labeled", n_labelled);
      leaf_json_add_int (b, "missing", n_missing);
      leaf_json_begin_object (b, "classes");
      for (guint i = 0; i < classes->len; i++)
        {
          leaf_json_add_int (b, ((LeafClassInfo *) classes->pdata[i])->name,
                             ((LeafClassInfo *) classes->pdata[i])->n_images);
        }
      json_builder_end_object (b);
      add_agreement_json (b, agreement);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      print_json (root, FALSE);
      return 0;
    }
  printf (_("Images:    %u\nLabelled:  %u\nUnlabelled: %u\nMissing:   %u\n"), n_images,
          n_labelled, n_images - n_labelled, n_missing);
  for (guint i = 0; i < classes->len; i++)
    printf ("  %-30s %u\n", ((LeafClassInfo *) classes->pdata[i])->name,
            ((LeafClassInfo *) classes->pdata[i])->n_images);
  print_agreement (agreement);
  return 0;
}

/* export, relocate --------------------------------------------------------------------------- */

/* Writes the labels to path (“-”: standard output) as CSV or Label Studio JSON. */
static int
export_labels (LeafCli         *cli,
               LeafLabelFormat  format,
               const char      *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  gboolean csv = format == LEAF_LABEL_FORMAT_CSV;
  guint n_rows = 0;
  gboolean ok;

  if ((catalog = leaf_cli_open_catalog (cli, FALSE, &error)) == NULL)
    return leaf_cli_fail (&error);
  if (g_str_equal (path, "-"))
    {
      g_autoptr(GOutputStream) out = g_unix_output_stream_new (STDOUT_FILENO, FALSE);

      fflush (stdout);
      ok = csv ? leaf_export_csv_to_stream (catalog, out, NULL, &n_rows, &error)
               : leaf_export_label_studio_to_stream (catalog, out, NULL, &n_rows, &error);
    }
  else
    ok = csv ? leaf_export_csv (catalog, path, NULL, &n_rows, &error)
             : leaf_export_label_studio (catalog, path, NULL, &n_rows, &error);
  if (!ok)
    return leaf_cli_fail (&error);
  if (!g_str_equal (path, "-"))
    printf (g_dngettext (GETTEXT_PACKAGE, "Wrote %u label to %s.\n",
                         "Wrote %u labels to %s.\n", n_rows), n_rows, path);
  return 0;
}

static int
cmd_export_csv (LeafCli  *cli,
                int       argc,
                char    **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new (_("FILE"));

  g_option_context_set_summary (context, _("Write the labels as CSV: sha256, path, class, "
                                           "labeller, time, how. FILE “-” is standard output. A "
                                           "cell that starts with =, +, -, @, a tab or a carriage "
                                           "return gets a ' in front, so that spreadsheets show "
                                           "it rather than run it."));
  if (!leaf_cli_parse (context, &argc, &argv))
    return 2;
  if (argc != 2)
    return usage_error (context, _("name the CSV file to write"));
  return export_labels (cli, LEAF_LABEL_FORMAT_CSV, argv[1]);
}

static int
cmd_export_labels (LeafCli  *cli,
                   int       argc,
                   char    **argv)
{
  g_autofree char *format_name = NULL;
  GOptionEntry entries[] = {
    { "format", 0, 0, G_OPTION_ARG_STRING, &format_name,
      N_("csv (as export-csv) or label-studio (the JSON of a Label Studio image classification "
         "project); default csv"), "FORMAT" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_("FILE"));
  LeafLabelFormat format = LEAF_LABEL_FORMAT_CSV;

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, _("Write the labels for another tool: as CSV, or as "
                                           "Label Studio's JSON export, whose tasks name each "
                                           "photo as /data/local-files/?d=PATH (serve / as Label "
                                           "Studio's local files root). FILE “-” is standard "
                                           "output."));
  if (!leaf_cli_parse (context, &argc, &argv))
    return 2;
  if (argc != 2)
    return usage_error (context, _("name the file to write"));
  if (format_name != NULL && (!leaf_label_format_from_string (format_name, &format) ||
                              format == LEAF_LABEL_FORMAT_AUTO))
    return usage_error (context, _("--format takes csv or label-studio"));
  return export_labels (cli, format, argv[1]);
}

static void
print_label_import_json (const LeafLabelImportReport *report)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (b);
  leaf_json_add_string (b, "format", report->format == LEAF_LABEL_FORMAT_LABEL_STUDIO
                                     ? "label-studio" : "csv");
  leaf_json_add_int (b, "records", report->n_records);
  leaf_json_add_int (b, "labelled", report->n_labelled);
  leaf_json_add_int (b, "unchanged", report->n_unchanged);
  leaf_json_add_int (b, "without_class", report->n_without_class);
  leaf_json_begin_array (b, "new_classes");
  for (guint i = 0; report->new_classes[i] != NULL; i++)
    json_builder_add_string_value (b, report->new_classes[i]);
  json_builder_end_array (b);
  leaf_json_begin_array (b, "not_applied");
  for (guint i = 0; i < report->problems->len; i++)
    {
      LeafLabelImportProblem *problem = report->problems->pdata[i];

      json_builder_begin_object (b);
      leaf_json_add_int (b, report->format == LEAF_LABEL_FORMAT_LABEL_STUDIO ? "task" : "line",
                         problem->number);
      leaf_json_add_string (b, "reason", problem->reason);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  print_json (root, TRUE);
}

static int
cmd_import_labels (LeafCli  *cli,
                   int       argc,
                   char    **argv)
{
  gboolean create_classes = FALSE, json = FALSE;
  g_autofree char *format_name = NULL;
  GOptionEntry entries[] = {
    { "create-classes", 0, 0, G_OPTION_ARG_NONE, &create_classes,
      N_("Create the classes the file names that the catalog lacks"), NULL },
    { "format", 0, 0, G_OPTION_ARG_STRING, &format_name,
      N_("csv or label-studio; by default told from the content"), "FORMAT" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print the report as one JSON object"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_("FILE"));
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(LeafLabelImportReport) report = NULL;
  LeafLabelImportOptions options = { 0 };

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, _("Label photos of the catalog from a spreadsheet (CSV "
                                           "whose first line names the columns: path or sha256, "
                                           "class; optionally labeller, time, how, group, split) "
                                           "or from Label Studio's JSON export, as one undoable "
                                           "action. Every line that cannot be applied is reported "
                                           "with its number; the exit status is then 1."));
  if (!leaf_cli_parse (context, &argc, &argv))
    return 2;
  if (argc != 2)
    return usage_error (context, _("name the CSV or JSON file to read"));
  if (format_name != NULL && !leaf_label_format_from_string (format_name, &options.format))
    return usage_error (context, _("--format takes csv or label-studio"));
  options.create_classes = create_classes;
  if ((catalog = leaf_cli_open_catalog (cli, FALSE, &error)) == NULL ||
      (report = leaf_label_import (catalog, argv[1], &options, NULL, &error)) == NULL)
    return leaf_cli_fail (&error);

  for (guint i = 0; i < report->problems->len; i++)
    {
      g_autofree char *line = leaf_label_import_problem_describe (report,
                                                                  report->problems->pdata[i]);
      g_printerr ("leafscope-cli: %s\n", line);
    }
  if (json)
    print_label_import_json (report);
  else
    {
      printf (_("Labelled %u, already so %u, without a class %u, not applied %u.\n"),
              report->n_labelled, report->n_unchanged, report->n_without_class,
              report->problems->len);
      if (report->new_classes[0] != NULL)
        {
          g_autofree char *names = g_strjoinv (", ", report->new_classes);
          printf (_("New classes: %s\n"), names);
        }
    }
  return report->problems->len > 0 ? 1 : 0;
}

static int
cmd_export_folder (LeafCli  *cli,
                   int       argc,
                   char    **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new (_("FOLDER"));
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(LeafExportSummary) summary = NULL;

  g_option_context_set_summary (context, _("Write the images as an ImageFolder tree, "
                                           "FOLDER/CLASS/FILE, of hard links (copies across file "
                                           "systems), the unlabelled ones in FOLDER/unlabelled, "
                                           "and FOLDER/labels.csv with each photo's class, "
                                           "labeller, time, how, group and split, which import "
                                           "reads back. FOLDER must be new or empty."));
  if (!leaf_cli_parse (context, &argc, &argv))
    return 2;
  if (argc != 2)
    return usage_error (context, _("name the folder to write"));
  if ((catalog = leaf_cli_open_catalog (cli, FALSE, &error)) == NULL ||
      (summary = leaf_export_folder (catalog, argv[1], NULL, &error)) == NULL)
    return leaf_cli_fail (&error);
  for (guint i = 0; i < summary->missing->len; i++)
    {
      g_autofree char *display = g_filename_display_name (summary->missing->pdata[i]);
      g_printerr (_("missing, not exported: %s\n"), display);
    }
  printf (_("Exported %u labelled and %u unlabelled images (%u hard links, %u copies); %u "
            "missing.\n"), summary->n_exported, summary->n_unlabelled, summary->n_linked,
          summary->n_copied, summary->missing->len);
  return 0;
}

static int
cmd_relocate (LeafCli  *cli,
              int       argc,
              char    **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new (_("OLD-FOLDER NEW-FOLDER"));
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(GPtrArray) differing = NULL;
  g_autoptr(GPtrArray) not_found = NULL;
  guint n_repaired = 0, n_left;

  g_option_context_set_summary (context, _("Repair the paths of images and model files whose "
                                           "folder was moved: each file under OLD-FOLDER found at "
                                           "the same place under NEW-FOLDER, with the same "
                                           "content, gets its new path. Files that do not match "
                                           "are listed and keep their path."));
  if (!leaf_cli_parse (context, &argc, &argv))
    return 2;
  if (argc != 3)
    return usage_error (context, _("give the old and the new folder"));
  if ((catalog = leaf_cli_open_catalog (cli, FALSE, &error)) == NULL ||
      !leaf_catalog_relocate (catalog, argv[1], argv[2], &n_repaired, &differing, &not_found,
                              &error))
    return leaf_cli_fail (&error);
  printf (g_dngettext (GETTEXT_PACKAGE, "Repaired the path of %u file.\n",
                       "Repaired the paths of %u files.\n", n_repaired), n_repaired);

  for (guint i = 0; i < differing->len; i++)
    {
      g_autofree char *display = g_filename_display_name (differing->pdata[i]);
      g_printerr (_("not the same photo (content differs): %s\n"), display);
    }
  for (guint i = 0; i < not_found->len; i++)
    {
      g_autofree char *display = g_filename_display_name (not_found->pdata[i]);
      g_printerr (_("not found: %s\n"), display);
    }
  n_left = differing->len + not_found->len;
  if (n_left == 0)
    return 0;
  g_printerr (g_dngettext (GETTEXT_PACKAGE,
                           "leafscope-cli: %u file could not be relocated and keeps its old "
                           "path; import the right file to repair it.\n",
                           "leafscope-cli: %u files could not be relocated and keep their old "
                           "paths; import the right files to repair them.\n", n_left),
              n_left);
  return 1;
}

const LeafCliCommand leaf_cli_catalog_commands[] = {
  { "init", cmd_init, N_("Create the catalog (or update an older one)") },
  { "import", cmd_import, N_("Import image files and ImageFolder trees") },
  { "classes", cmd_classes, N_("List, add, rename, move or remove classes") },
  { "label", cmd_label, N_("Label an image (by path or SHA-256) with a class") },
  { "unlabel", cmd_unlabel, N_("Remove the label of images") },
  { "undo", cmd_undo, N_("Undo the last labelling action") },
  { "redo", cmd_redo, N_("Redo the last undone labelling action") },
  { "adjudicate", cmd_adjudicate, N_("Decide the label of photos whose labellers disagree") },
  { "votes", cmd_votes, N_("Show every labeller's vote on a photo") },
  { "merge", cmd_merge, N_("Bring another catalog's photos, votes and decisions into this one") },
  { "catalog", cmd_catalog, N_("Copy a catalog between a file and a PostgreSQL server") },
  { "list", cmd_list, N_("List images, by class, unlabelled or missing") },
  { "stats", cmd_stats, N_("Count images, labels and missing files") },
  { "import-labels", cmd_import_labels,
    N_("Label photos from a CSV file or a Label Studio export") },
  { "export-csv", cmd_export_csv, N_("Write the labels as CSV") },
  { "export-labels", cmd_export_labels, N_("Write the labels as CSV or for Label Studio") },
  { "export-folder", cmd_export_folder, N_("Write labelled images as an ImageFolder tree") },
  { "relocate", cmd_relocate, N_("Repair paths after a folder was moved") },
  { NULL, NULL, NULL },
};
