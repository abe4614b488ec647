/* leaf-window-actions.c: the window's actions and keyboard shortcuts
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-window"

#include "config.h"

#include <glib/gi18n.h>

#include "leaf-export.h"
#include "leaf-group-dialog.h"
#include "leaf-import.h"
#include "leaf-label-import.h"
#include "leaf-toast.h"
#include "leaf-window-private.h"

static void
on_catalog_chosen_cb (GtkNativeDialog *dialog,
                      int              response,
                      gpointer         user_data)
{
  g_autoptr(LeafWindow) self = user_data;

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *basename = g_file_get_basename (file);

      /* A new catalog typed without the extension still gets it, so that it opens from the
       * file manager later. */
      if (gtk_file_chooser_get_action (GTK_FILE_CHOOSER (dialog)) == GTK_FILE_CHOOSER_ACTION_SAVE
          && !g_str_has_suffix (basename, ".leafscope"))
        {
          g_autofree char *name = g_strconcat (basename, ".leafscope", NULL);
          g_autoptr(GFile) parent = g_file_get_parent (file);

          g_set_object (&file, g_file_get_child (parent, name));
        }
      leaf_window_open_catalog (self, file);
    }
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
}

static GtkFileFilter *
catalog_filter (void)
{
  GtkFileFilter *filter = gtk_file_filter_new ();

  gtk_file_filter_set_name (filter, _("Leafscope Catalogs"));
  gtk_file_filter_add_pattern (filter, "*.leafscope");
  gtk_file_filter_add_mime_type (filter, "application/x-leafscope-catalog");
  return filter;
}

static void
choose_catalog (LeafWindow           *self,
                GtkFileChooserAction  action)
{
  gboolean create = action == GTK_FILE_CHOOSER_ACTION_SAVE;
  GtkFileChooserNative *dialog;
  g_autoptr(GtkFileFilter) filter = catalog_filter ();

  dialog = gtk_file_chooser_native_new (create ? _("New Catalog") : _("Open Catalog"),
                                        GTK_WINDOW (self), action,
                                        create ? _("_Create") : _("_Open"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (dialog), TRUE);
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (dialog), filter);
  if (create)
    gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (dialog), _("Untitled.leafscope"));
  g_signal_connect (dialog, "response", G_CALLBACK (on_catalog_chosen_cb), g_object_ref (self));
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

static void
new_catalog_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  choose_catalog (LEAF_WINDOW (widget), GTK_FILE_CHOOSER_ACTION_SAVE);
}

static void
open_catalog_action (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  choose_catalog (LEAF_WINDOW (widget), GTK_FILE_CHOOSER_ACTION_OPEN);
}

static void
on_task_progress_cb (const LeafImportProgress *progress,
                       gpointer                  user_data)
{
  LeafWindow *self = user_data;
  g_autofree char *text = NULL;

  if (progress->phase == LEAF_IMPORT_PHASE_SCANNING)
    {
      text = g_strdup_printf (ngettext ("Looking for photos… %u found",
                                        "Looking for photos… %u found", progress->n_total),
                              progress->n_total);
      gtk_progress_bar_pulse (self->task_progress);
    }
  else
    {
      text = g_strdup_printf (ngettext ("Importing %u of %u photo…", "Importing %u of %u photos…",
                                        progress->n_total),
                              progress->n_done, progress->n_total);
      gtk_progress_bar_set_fraction (self->task_progress,
                                     progress->n_total ? (double) progress->n_done
                                                         / progress->n_total : 0);
    }
  gtk_label_set_text (self->task_label, text);
}

static void
on_import_finished_cb (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(LeafWindow) self = user_data;
  g_autoptr(LeafImportSummary) summary = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) message = g_string_new (NULL);
  guint n_skipped, n_classes;

  summary = leaf_import_run_finish (LEAF_CATALOG (source), result, &error);
  gtk_revealer_set_reveal_child (self->task_revealer, FALSE);
  g_clear_object (&self->task_cancellable);
  _leaf_window_update_actions (self);
  /* The new photos waited for the import to end to be predicted by the active model. */
  _leaf_window_review_active_model (self);
  if (summary == NULL)
    {
      leaf_show_toast_error (GTK_WIDGET (self), error);
      return;
    }

  n_skipped = summary->skipped ? summary->skipped->len : 0;
  n_classes = summary->new_classes ? g_strv_length (summary->new_classes) : 0;
  g_string_append_printf (message, ngettext ("Imported %u new photo", "Imported %u new photos",
                                             summary->n_added),
                          summary->n_added);
  if (n_classes > 0)
    g_string_append_printf (message, ngettext (", %u new class", ", %u new classes", n_classes),
                            n_classes);
  if (summary->n_present > 0)
    g_string_append_printf (message, ngettext ("; %u was already there", "; %u were already there",
                                               summary->n_present),
                            summary->n_present);
  if (n_skipped > 0)
    {
      LeafImportSkip *first = g_ptr_array_index (summary->skipped, 0);
      g_autofree char *name = g_filename_display_basename (first->path);

      /* Translators: the number of files skipped, then the first one's name and reason */
      g_string_append_printf (message, ngettext ("; %u file skipped (%s: %s)",
                                                 "; %u files skipped, such as %s: %s",
                                                 n_skipped),
                              n_skipped, name, first->message);
    }
  leaf_show_toast (GTK_WIDGET (self), message->str);
}

/* Imports @folder with the group pattern, showing progress under the header bar. */
static void
import_folder (LeafWindow *self,
               GFile      *folder,
               const char *group_pattern)
{
  LeafImportOptions options = { .group_pattern = group_pattern };
  g_autofree char *path = g_file_get_path (folder);
  const char *paths[] = { path, NULL };

  if (self->catalog == NULL)
    return;
  if (path == NULL)
    {
      leaf_show_toast (GTK_WIDGET (self), _("Only folders on this computer can be imported"));
      return;
    }
  if (self->task_cancellable != NULL && self->reviewed_model > 0)
    {
      /* Predictions can be made again later: the import the user asked for comes first, and the
       * review starts again, with the new photos, when it has ended. */
      g_set_object (&self->pending_import, folder);
      g_free (self->pending_group_pattern);
      self->pending_group_pattern = g_strdup (group_pattern);
      g_cancellable_cancel (self->task_cancellable);
      return;
    }
  if (self->task_cancellable != NULL)
    {
      leaf_show_toast (GTK_WIDGET (self), _("Another task is running: wait for it, or cancel it"));
      return;
    }
  self->task_cancellable = g_cancellable_new ();
  gtk_label_set_text (self->task_label, _("Looking for photos…"));
  gtk_progress_bar_set_fraction (self->task_progress, 0);
  gtk_revealer_set_reveal_child (self->task_revealer, TRUE);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.import", FALSE);
  leaf_import_run_async (self->catalog, paths, &options, self->task_cancellable,
                         on_task_progress_cb, g_object_ref (self), g_object_unref,
                         on_import_finished_cb, g_object_ref (self));
}

/**
 * _leaf_window_import_folder:
 * @group_pattern: (nullable): see #LeafImportOptions
 *
 * Imports @folder into the window's catalog, showing progress under the header bar. Sub-folders
 * named after classes label their photos.
 */
void
_leaf_window_import_folder (LeafWindow *self,
                            GFile      *folder,
                            const char *group_pattern)
{
  import_folder (self, folder, group_pattern);
}

/**
 * _leaf_window_start_pending_import:
 *
 * Starts the import that waited for a review to stop, if there is one.
 */
void
_leaf_window_start_pending_import (LeafWindow *self)
{
  g_autoptr(GFile) folder = g_steal_pointer (&self->pending_import);
  g_autofree char *group_pattern = g_steal_pointer (&self->pending_group_pattern);

  if (folder != NULL)
    import_folder (self, folder, group_pattern);
}

typedef struct
{
  LeafWindow *window;
  GFile *folder;
} FolderImport;

static void
folder_import_free (gpointer data)
{
  FolderImport *import = data;

  g_object_unref (import->window);
  g_object_unref (import->folder);
  g_free (import);
}

static void
on_group_pattern_chosen_cb (const char *pattern,
                            gpointer    user_data)
{
  FolderImport *import = user_data;

  _leaf_window_import_folder (import->window, import->folder, pattern);
}

static void
on_folder_chosen_cb (GtkNativeDialog *dialog,
                     int              response,
                     gpointer         user_data)
{
  g_autoptr(LeafWindow) self = user_data;

  if (response == GTK_RESPONSE_ACCEPT)
    {
      FolderImport *import = g_new0 (FolderImport, 1);

      /* Before importing, how to keep the photos of one plant in one split. */
      import->window = g_object_ref (self);
      import->folder = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      leaf_import_group_dialog_present (GTK_WINDOW (self), import->folder,
                                        on_group_pattern_chosen_cb, import, folder_import_free);
    }
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
}

static void
import_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  GtkFileChooserNative *dialog;

  dialog = gtk_file_chooser_native_new (_("Import a Folder of Photos"), GTK_WINDOW (widget),
                                        GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, _("_Import"),
                                        _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (dialog), TRUE);
  g_signal_connect (dialog, "response", G_CALLBACK (on_folder_chosen_cb), g_object_ref (widget));
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

static void
cancel_task_action (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *parameter)
{
  g_cancellable_cancel (LEAF_WINDOW (widget)->task_cancellable);
}

/* Export */

/* A file of labels to write: CSV, or Label Studio's JSON. */
typedef struct
{
  char *path;
  gboolean label_studio;
} LabelsFile;

static void
labels_file_free (gpointer data)
{
  LabelsFile *file = data;

  g_free (file->path);
  g_free (file);
}

static void
export_labels_thread (GTask        *task,
                      gpointer      source_object,
                      gpointer      task_data,
                      GCancellable *cancellable)
{
  LabelsFile *file = task_data;
  GError *error = NULL;
  guint n_rows = 0;
  gboolean ok;

  ok = file->label_studio
       ? leaf_export_label_studio (source_object, file->path, cancellable, &n_rows, &error)
       : leaf_export_csv (source_object, file->path, cancellable, &n_rows, &error);
  if (!ok)
    g_task_return_error (task, error);
  else
    g_task_return_int (task, n_rows);
}

static void
on_csv_exported_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(LeafWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *message = NULL;
  gssize n_rows = g_task_propagate_int (G_TASK (result), &error);

  if (n_rows < 0)
    {
      leaf_show_toast_error (GTK_WIDGET (self), error);
      return;
    }
  message = g_strdup_printf (ngettext ("Exported %u label", "Exported %u labels", (gulong) n_rows),
                             (guint) n_rows);
  leaf_show_toast (GTK_WIDGET (self), message);
}

static void
on_folder_exported_cb (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(LeafWindow) self = user_data;
  g_autoptr(LeafExportSummary) summary = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) message = g_string_new (NULL);

  summary = leaf_export_folder_finish (LEAF_CATALOG (source), result, &error);
  if (summary == NULL)
    {
      leaf_show_toast_error (GTK_WIDGET (self), error);
      return;
    }
  g_string_append_printf (message, ngettext ("Exported %u photo", "Exported %u photos",
                                             summary->n_exported + summary->n_unlabelled),
                          summary->n_exported + summary->n_unlabelled);
  if (summary->missing != NULL && summary->missing->len > 0)
    g_string_append_printf (message, ngettext ("; %u was missing", "; %u were missing",
                                               summary->missing->len),
                            summary->missing->len);
  leaf_show_toast (GTK_WIDGET (self), message->str);
}

static void
on_export_target_chosen_cb (GtkNativeDialog *dialog,
                            int              response,
                            gpointer         user_data)
{
  g_autoptr(LeafWindow) self = user_data;

  if (response == GTK_RESPONSE_ACCEPT && self->catalog != NULL)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = g_file_get_path (file);

      if (path == NULL)
        leaf_show_toast (GTK_WIDGET (self), _("Export to a folder on this computer"));
      else if (gtk_file_chooser_get_action (GTK_FILE_CHOOSER (dialog))
               == GTK_FILE_CHOOSER_ACTION_SAVE)
        {
          g_autoptr(GTask) task = g_task_new (self->catalog, NULL, on_csv_exported_cb,
                                              g_object_ref (self));
          LabelsFile *labels = g_new0 (LabelsFile, 1);

          labels->path = g_steal_pointer (&path);
          labels->label_studio = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (dialog),
                                                                     "label-studio"));
          g_task_set_source_tag (task, on_export_target_chosen_cb);
          g_task_set_task_data (task, labels, labels_file_free);
          g_task_run_in_thread (task, export_labels_thread);
        }
      else
        leaf_export_folder_async (self->catalog, path, NULL, on_folder_exported_cb,
                                  g_object_ref (self));
    }
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
}

static void
on_export_format_chosen_cb (AdwMessageDialog *message,
                            const char       *response,
                            LeafWindow       *self)
{
  gboolean csv = g_str_equal (response, "csv");
  gboolean label_studio = g_str_equal (response, "label-studio");
  GtkFileChooserNative *dialog;

  if (!csv && !label_studio && !g_str_equal (response, "folder"))
    return;
  dialog = gtk_file_chooser_native_new (csv ? _("Export Labels as CSV")
                                        : label_studio ? _("Export Labels for Label Studio")
                                        : _("Export Photos into Class Folders"),
                                        GTK_WINDOW (self),
                                        csv || label_studio
                                        ? GTK_FILE_CHOOSER_ACTION_SAVE
                                        : GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
                                        _("_Export"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (dialog), TRUE);
  if (csv)
    gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (dialog), _("labels.csv"));
  if (label_studio)
    gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (dialog), _("labels.json"));
  g_object_set_data (G_OBJECT (dialog), "label-studio", GINT_TO_POINTER (label_studio));
  g_signal_connect (dialog, "response", G_CALLBACK (on_export_target_chosen_cb),
                    g_object_ref (self));
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

static void
export_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  GtkWidget *dialog;

  dialog = adw_message_dialog_new (GTK_WINDOW (widget), _("Export Labels"),
                                   _("A CSV file lists every labelled photo with its class, "
                                     "labeller and date. Class folders hold the photos "
                                     "themselves, one folder per class, as most training tools "
                                     "expect, with a labels.csv that Leafscope imports back. "
                                     "A Label Studio file opens the labels there."));
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "folder", _("Class _Folders…"),
                                    "label-studio", _("_Label Studio File…"),
                                    "csv", _("_CSV File…"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "csv",
                                              ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_export_format_chosen_cb), widget,
                           0);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* Import Labels */

/* How many of the lines that could not be applied the dialog lists; the command line lists
 * them all. */
#define MAX_PROBLEMS_SHOWN 8

static void
on_undo_import_response_cb (AdwMessageDialog *dialog,
                            const char       *response,
                            LeafWindow       *self)
{
  gtk_widget_activate_action (GTK_WIDGET (self), "win.undo", NULL);
}

static void
on_labels_imported_cb (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(LeafWindow) self = user_data;
  g_autoptr(LeafLabelImportReport) report = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) details = g_string_new (NULL);
  g_autofree char *applied = NULL;
  g_autofree char *summary = NULL;
  GtkWidget *dialog, *list;
  guint n_problems, n_applied;

  report = leaf_label_import_finish (LEAF_CATALOG (source), result, &error);
  if (report == NULL)
    {
      leaf_show_toast_error (GTK_WIDGET (self), error);
      return;
    }
  _leaf_window_update_actions (self);
  /* Labels the catalog had already count as applied: the line did what it says. */
  n_applied = report->n_labelled + report->n_unchanged;
  applied = g_strdup_printf (ngettext ("Applied %u label", "Applied %u labels", n_applied),
                             n_applied);
  n_problems = report->problems->len;
  if (n_problems == 0 && report->n_labelled == 0)
    {
      leaf_show_toast (GTK_WIDGET (self), applied);
      return;
    }
  if (n_problems == 0)
    {
      AdwToast *toast = leaf_show_toast_with_button (GTK_WIDGET (self), applied, _("_Undo"));

      if (toast != NULL)
        adw_toast_set_action_name (toast, "win.undo");
      return;
    }

  /* Translators: the first %s is “Applied N labels” */
  summary = g_strdup_printf (ngettext ("%s; %u line could not be applied:",
                                       "%s; %u lines could not be applied:", n_problems),
                             applied, n_problems);
  for (guint i = 0; i < MIN (n_problems, MAX_PROBLEMS_SHOWN); i++)
    {
      g_autofree char *line = leaf_label_import_problem_describe (report,
                                                                  report->problems->pdata[i]);
      g_string_append_printf (details, "%s• %s", i > 0 ? "\n" : "", line);
    }
  if (n_problems > MAX_PROBLEMS_SHOWN)
    g_string_append_printf (details, ngettext ("\n…and %u more line.", "\n…and %u more lines.",
                                               n_problems - MAX_PROBLEMS_SHOWN),
                            n_problems - MAX_PROBLEMS_SHOWN);
  dialog = adw_message_dialog_new (GTK_WINDOW (self), _("Some Labels Were Not Applied"), summary);
  /* The body is centred, which suits a sentence; a list reads better from the left edge, and
   * can be copied into the spreadsheet's fixes. */
  list = gtk_label_new (details->str);
  gtk_label_set_wrap (GTK_LABEL (list), TRUE);
  gtk_label_set_xalign (GTK_LABEL (list), 0);
  gtk_label_set_selectable (GTK_LABEL (list), TRUE);
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), list);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog), "close", _("_Close"), NULL);
  if (report->n_labelled > 0)
    {
      adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog), "undo", _("_Undo Import"),
                                        NULL);
      g_signal_connect_object (dialog, "response::undo",
                               G_CALLBACK (on_undo_import_response_cb), self, 0);
    }
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "close");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "close");
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
on_labels_file_chosen_cb (GtkNativeDialog *dialog,
                          int              response,
                          gpointer         user_data)
{
  g_autoptr(LeafWindow) self = user_data;

  if (response == GTK_RESPONSE_ACCEPT && self->catalog != NULL)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = g_file_get_path (file);
      const char *create = gtk_file_chooser_get_choice (GTK_FILE_CHOOSER (dialog),
                                                        "create-classes");
      LeafLabelImportOptions options = { .create_classes = g_strcmp0 (create, "true") == 0 };

      if (path == NULL)
        leaf_show_toast (GTK_WIDGET (self), _("Only files on this computer can be imported"));
      else
        leaf_label_import_async (self->catalog, path, &options, NULL, on_labels_imported_cb,
                                 g_object_ref (self));
    }
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
}

static void
import_labels_action (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *parameter)
{
  GtkFileChooserNative *dialog;
  g_autoptr(GtkFileFilter) filter = gtk_file_filter_new ();

  dialog = gtk_file_chooser_native_new (_("Import Labels"), GTK_WINDOW (widget),
                                        GTK_FILE_CHOOSER_ACTION_OPEN, _("_Import"),
                                        _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (dialog), TRUE);
  gtk_file_filter_set_name (filter, _("Spreadsheets (CSV) and Label Studio exports (JSON)"));
  gtk_file_filter_add_suffix (filter, "csv");
  gtk_file_filter_add_suffix (filter, "json");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (dialog), filter);
  gtk_file_chooser_add_choice (GTK_FILE_CHOOSER (dialog), "create-classes",
                               _("Create the classes the file names that the catalog lacks"),
                               NULL, NULL);
  gtk_file_chooser_set_choice (GTK_FILE_CHOOSER (dialog), "create-classes", "true");
  g_signal_connect (dialog, "response", G_CALLBACK (on_labels_file_chosen_cb),
                    g_object_ref (widget));
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

static void
undo_redo (LeafWindow *self,
           gboolean    redo)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *description = NULL;
  g_autofree char *message = NULL;
  gboolean done;

  if (self->catalog == NULL)
    return;
  if (redo)
    done = leaf_catalog_redo (self->catalog, &description, &error);
  else
    done = leaf_catalog_undo (self->catalog, &description, &error);
  if (!done)
    {
      if (error != NULL)
        leaf_show_toast_error (GTK_WIDGET (self), error);
      return;
    }
  /* Translators: %s describes a change, for example “Label 3 photos as Healthy” */
  message = g_strdup_printf (redo ? _("Redone: %s") : _("Undone: %s"), description);
  /* One toast for a series of undos and redos, saying what the last one did. */
  leaf_show_toast_in_place (GTK_WIDGET (self), &self->undo_toast, message);
  _leaf_window_update_actions (self);
}

static void
undo_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  undo_redo (LEAF_WINDOW (widget), FALSE);
}

static void
redo_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  undo_redo (LEAF_WINDOW (widget), TRUE);
}

static void
show_view_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  leaf_window_show_view (LEAF_WINDOW (widget), g_variant_get_string (parameter, NULL));
}

static void
search_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  LeafWindow *self = LEAF_WINDOW (widget);

  leaf_window_show_view (self, "library");
  gtk_toggle_button_set_active (self->search_button, TRUE);
}

static void
toggle_sidebar_action (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *parameter)
{
  LeafWindow *self = LEAF_WINDOW (widget);
  gboolean shown = g_strcmp0 (adw_view_stack_get_visible_child_name (self->view_stack),
                              "library") == 0;

  /* From another view, F9 goes to the Library and shows its sidebar. */
  leaf_window_show_view (self, "library");
  gtk_toggle_button_set_active (self->sidebar_button,
                                !shown || !gtk_toggle_button_get_active (self->sidebar_button));
}

static void
paste_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  LeafWindow *self = LEAF_WINDOW (widget);

  leaf_window_show_view (self, "diagnose");
  leaf_diagnose_view_paste (self->diagnose_view);
}

/* Ctrl+T and Ctrl+.: the Train view's train.start or train.stop, from any view. The view is
 * shown, so that a Train that cannot start says why. */
static void
train_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  LeafWindow *self = LEAF_WINDOW (widget);

  leaf_window_show_view (self, "train");
  gtk_widget_activate_action (GTK_WIDGET (self->train_view),
                              g_variant_get_string (parameter, NULL), NULL);
}

/**
 * _leaf_window_update_actions:
 *
 * Enables what makes sense for the catalog shown and describes undo and redo in their tooltips.
 */
void
_leaf_window_update_actions (LeafWindow *self)
{
  g_autofree char *undo = NULL;
  g_autofree char *redo = NULL;
  gboolean has_catalog = self->catalog != NULL;
  /* What only reads the catalog stays; what would change it goes. */
  gboolean writable = has_catalog && !leaf_catalog_is_read_only (self->catalog);

  if (writable)
    {
      undo = leaf_catalog_get_undo_description (self->catalog);
      redo = leaf_catalog_get_redo_description (self->catalog);
    }
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.undo", undo != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.redo", redo != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.import",
                                 writable && (self->task_cancellable == NULL ||
                                              self->reviewed_model > 0));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.export", has_catalog);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.import-labels", writable);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.search", has_catalog);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.toggle-sidebar", has_catalog);

  {
    /* Translators: tooltip of the Undo button; %s describes the change */
    g_autofree char *tip = undo ? g_strdup_printf (_("Undo %s (Ctrl+Z)"), undo) : NULL;

    gtk_widget_set_tooltip_text (GTK_WIDGET (self->undo_button), tip ? tip : _("Undo (Ctrl+Z)"));
  }
  {
    /* Translators: tooltip of the Redo button; %s describes the change */
    g_autofree char *tip = redo ? g_strdup_printf (_("Redo %s (Shift+Ctrl+Z)"), redo) : NULL;

    gtk_widget_set_tooltip_text (GTK_WIDGET (self->redo_button),
                                 tip ? tip : _("Redo (Shift+Ctrl+Z)"));
  }
}

void
_leaf_window_class_actions_init (LeafWindowClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  gtk_widget_class_install_action (widget_class, "win.new-catalog", NULL, new_catalog_action);
  gtk_widget_class_install_action (widget_class, "win.open-catalog", NULL, open_catalog_action);
  gtk_widget_class_install_action (widget_class, "win.import", NULL, import_action);
  gtk_widget_class_install_action (widget_class, "win.cancel-task", NULL, cancel_task_action);
  gtk_widget_class_install_action (widget_class, "win.export", NULL, export_action);
  gtk_widget_class_install_action (widget_class, "win.import-labels", NULL,
                                   import_labels_action);
  gtk_widget_class_install_action (widget_class, "win.undo", NULL, undo_action);
  gtk_widget_class_install_action (widget_class, "win.redo", NULL, redo_action);
  gtk_widget_class_install_action (widget_class, "win.show-view", "s", show_view_action);
  gtk_widget_class_install_action (widget_class, "win.search", NULL, search_action);
  gtk_widget_class_install_action (widget_class, "win.toggle-sidebar", NULL,
                                   toggle_sidebar_action);
  gtk_widget_class_install_action (widget_class, "win.paste-image", NULL, paste_action);
  gtk_widget_class_install_action (widget_class, "win.train", "s", train_action);

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_n, GDK_CONTROL_MASK,
                                       "win.new-catalog", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_o, GDK_CONTROL_MASK,
                                       "win.open-catalog", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_i, GDK_CONTROL_MASK,
                                       "win.import", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_e, GDK_CONTROL_MASK,
                                       "win.export", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_z, GDK_CONTROL_MASK,
                                       "win.undo", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_z,
                                       GDK_CONTROL_MASK | GDK_SHIFT_MASK, "win.redo", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Z,
                                       GDK_CONTROL_MASK | GDK_SHIFT_MASK, "win.redo", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_y, GDK_CONTROL_MASK,
                                       "win.redo", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_f, GDK_CONTROL_MASK,
                                       "win.search", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_v, GDK_CONTROL_MASK,
                                       "win.paste-image", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_t, GDK_CONTROL_MASK,
                                       "win.train", "s", "train.start");
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_period, GDK_CONTROL_MASK,
                                       "win.train", "s", "train.stop");
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_F9, 0, "win.toggle-sidebar", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_1, GDK_ALT_MASK,
                                       "win.show-view", "s", "library");
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_2, GDK_ALT_MASK,
                                       "win.show-view", "s", "train");
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_3, GDK_ALT_MASK,
                                       "win.show-view", "s", "diagnose");
}
