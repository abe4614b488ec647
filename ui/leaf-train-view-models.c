/* leaf-train-view-models.c: what the run history does with the models it lists
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Each row's menu makes its model the one Diagnose uses, compares it with another, renames,
 * exports or deletes it; Import Model… adds one trained elsewhere. The file choosers only
 * choose: leaf_train_view_export_model() and leaf_train_view_import_model() do the rest, so
 * that tests can drive them with a file. Every dialog keeps the catalog it was opened for: the
 * view may show another one by the time the user answers.
 */

#define G_LOG_DOMAIN "leaf-train-view"

#include "config.h"

#include <adwaita.h>
#include <glib/gi18n.h>
#include <math.h>

#include "leaf-model-compare-dialog.h"
#include "leaf-model-io.h"
#include "leaf-toast.h"
#include "leaf-train-view-private.h"

static GtkWindow *
parent_window (LeafTrainView *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  return GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL;
}

/* The model, or NULL after a toast that says why. */
static LeafModelInfo *
get_model (LeafTrainView *self,
           gint64         model_id)
{
  LeafCatalog *catalog = _leaf_train_view_get_catalog (self);
  g_autoptr(GError) error = NULL;
  LeafModelInfo *model;

  if (catalog == NULL)
    return NULL;
  model = leaf_catalog_get_model (catalog, model_id, &error);
  if (model == NULL)
    leaf_show_toast_error (GTK_WIDGET (self), error);
  return model;
}

/* A failure the user has to read, with the file and what to do, rather than a passing toast. */
static void
show_error_dialog (LeafTrainView *self,
                   const char    *heading,
                   const GError  *error)
{
  GtkWidget *dialog;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  dialog = adw_message_dialog_new (parent_window (self), heading, error->message);
  adw_message_dialog_add_response (ADW_MESSAGE_DIALOG (dialog), "close", _("_Close"));
  gtk_window_present (GTK_WINDOW (dialog));
}

#define DIALOG_CATALOG "leaf-catalog"
#define DIALOG_MODEL "leaf-model-id"

/* A question about one model of the catalog shown now; @on_response gets the view, and finds
 * both on the dialog, as the view may show another catalog by the time the user answers. */
static AdwMessageDialog *
model_dialog_new (LeafTrainView *self,
                  gint64         model_id,
                  const char    *heading,
                  const char    *body,
                  GCallback      on_response)
{
  AdwMessageDialog *dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (parent_window (self),
                                                                        heading, body));

  g_object_set_data_full (G_OBJECT (dialog), DIALOG_CATALOG,
                          g_object_ref (_leaf_train_view_get_catalog (self)), g_object_unref);
  g_object_set_data_full (G_OBJECT (dialog), DIALOG_MODEL,
                          g_memdup2 (&model_id, sizeof model_id), g_free);
  g_signal_connect_object (dialog, "response", on_response, self, 0);
  return dialog;
}

/* The question of a model's action, its heading naming the model: @heading_format has one %s. */
static AdwMessageDialog *
model_action_dialog_new (LeafTrainView       *self,
                         const LeafModelInfo *model,
                         const char          *heading_format,
                         const char          *body,
                         GCallback            on_response)
{
  g_autofree char *title = leaf_model_info_get_title (model);
  g_autofree char *heading = g_strdup_printf (heading_format, title);

  return model_dialog_new (self, model->id, heading, body, on_response);
}

static gint64
dialog_model (AdwMessageDialog *dialog)
{
  return *(gint64 *) g_object_get_data (G_OBJECT (dialog), DIALOG_MODEL);
}

static LeafCatalog *
dialog_catalog (AdwMessageDialog *dialog)
{
  return g_object_get_data (G_OBJECT (dialog), DIALOG_CATALOG);
}

static GtkWidget *
dialog_entry_new (AdwMessageDialog *dialog,
                  const char       *text,
                  const char       *accessible_label)
{
  GtkWidget *entry = gtk_entry_new ();

  gtk_editable_set_text (GTK_EDITABLE (entry), text);
  gtk_entry_set_activates_default (GTK_ENTRY (entry), TRUE);
  gtk_accessible_update_property (GTK_ACCESSIBLE (entry), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  accessible_label, -1);
  adw_message_dialog_set_extra_child (dialog, entry);
  return entry;
}

static void
add_responses (AdwMessageDialog       *dialog,
               const char             *id,
               const char             *label,
               AdwResponseAppearance   appearance)
{
  adw_message_dialog_add_responses (dialog, "cancel", _("_Cancel"), id, label, NULL);
  adw_message_dialog_set_response_appearance (dialog, id, appearance);
  adw_message_dialog_set_default_response (dialog, appearance == ADW_RESPONSE_DESTRUCTIVE
                                                   ? "cancel" : id);
  adw_message_dialog_set_close_response (dialog, "cancel");
}

/* Use for Diagnosis */

/**
 * _leaf_train_view_use_model:
 *
 * Makes the model the one Diagnose uses, whatever its run and accuracy: the user's choice.
 */
void
_leaf_train_view_use_model (LeafTrainView *self,
                            gint64         model_id)
{
  g_autoptr(LeafModelInfo) model = get_model (self, model_id);
  g_autoptr(GError) error = NULL;
  g_autofree char *description = NULL;
  g_autofree char *text = NULL;

  if (model == NULL)
    return;
  if (!leaf_catalog_set_active_model (_leaf_train_view_get_catalog (self), model_id, &error))
    {
      leaf_show_toast_error (GTK_WIDGET (self), error);
      return;
    }
  description = leaf_model_info_describe (model);
  /* Translators: %s describes a model, as in “Run 3 · 87 % validation · 4 Dec” */
  text = g_strdup_printf (_("Diagnose now uses %s"), description);
  leaf_show_toast (GTK_WIDGET (self), text);
}

static void
use_model_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  _leaf_train_view_use_model (LEAF_TRAIN_VIEW (widget), g_variant_get_int64 (parameter));
}

/* Compare With */

static void
compare_models_action (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *parameter)
{
  LeafTrainView *self = LEAF_TRAIN_VIEW (widget);
  g_autoptr(LeafModelInfo) first = NULL;
  g_autoptr(LeafModelInfo) second = NULL;
  gint64 first_id, second_id;

  g_variant_get (parameter, "(xx)", &first_id, &second_id);
  if ((first = get_model (self, first_id)) == NULL ||
      (second = get_model (self, second_id)) == NULL)
    return;
  gtk_window_present (GTK_WINDOW (leaf_model_compare_dialog_new (parent_window (self), first,
                                                                 second)));
}

/* Rename */

static void
on_rename_response_cb (AdwMessageDialog *dialog,
                       const char       *response,
                       LeafTrainView    *self)
{
  GtkEditable *entry = GTK_EDITABLE (adw_message_dialog_get_extra_child (dialog));
  g_autoptr(GError) error = NULL;

  if (g_str_equal (response, "rename") &&
      !leaf_catalog_rename_model (dialog_catalog (dialog), dialog_model (dialog),
                                  gtk_editable_get_text (entry), &error))
    leaf_show_toast_error (GTK_WIDGET (self), error);
}

static void
rename_model_action (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  LeafTrainView *self = LEAF_TRAIN_VIEW (widget);
  g_autoptr(LeafModelInfo) model = get_model (self, g_variant_get_int64 (parameter));
  AdwMessageDialog *dialog;

  if (model == NULL)
    return;
  /* Translators: %s is a model's title, as in “Run 3” */
  dialog = model_action_dialog_new (self, model, _("Rename %s"),
                                    _("The name shows wherever the model diagnoses. Leave it "
                                      "empty to call the model after its run again."),
                                    G_CALLBACK (on_rename_response_cb));
  dialog_entry_new (dialog, model->name ? model->name : "", _("Name"));
  add_responses (dialog, "rename", _("_Rename"), ADW_RESPONSE_SUGGESTED);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* Delete */

static void
on_remove_response_cb (AdwMessageDialog *dialog,
                       const char       *response,
                       LeafTrainView    *self)
{
  g_autoptr(GError) error = NULL;

  if (g_str_equal (response, "delete") &&
      !leaf_catalog_remove_model (dialog_catalog (dialog), dialog_model (dialog), &error))
    leaf_show_toast_error (GTK_WIDGET (self), error);
}

/* The most accurate model but @model, or NULL. */
static LeafModelInfo *
best_other_model (LeafTrainView       *self,
                  const LeafModelInfo *model)
{
  LeafCatalog *catalog = _leaf_train_view_get_catalog (self);
  g_autoptr(GPtrArray) models = leaf_catalog_list_models (catalog, NULL);
  int best = -1;

  for (guint i = 0; models && i < models->len; i++)
    {
      const LeafModelInfo *other = g_ptr_array_index (models, i);

      if (other->id != model->id && !isnan (other->val_accuracy) &&
          (best < 0 || other->val_accuracy >
                       ((LeafModelInfo *) g_ptr_array_index (models, best))->val_accuracy))
        best = i;
    }
  return best >= 0 ? g_ptr_array_steal_index (models, best) : NULL;
}

/* What deleting @model does to Diagnose: the catalog then has no active model (rather than an
 * older one taking over unseen), so say so, and which model the user may choose instead. */
static char *
remove_body (LeafTrainView       *self,
             const LeafModelInfo *model)
{
  g_autoptr(LeafModelInfo) best = NULL;
  g_autofree char *description = NULL;

  if (!model->active)
    return g_strdup (_("Its file and its predictions are deleted. Diagnose goes on with the "
                       "model it uses now."));
  best = best_other_model (self, model);
  if (best == NULL)
    return g_strdup (_("Diagnose uses this model. Once it is deleted, with its file and its "
                       "predictions, Diagnose has no model until you train or import another."));
  description = leaf_model_info_describe (best);
  /* Translators: %s describes a model, as in “Run 3 · 87 % validation · 4 Dec” */
  return g_strdup_printf (_("Diagnose uses this model. Once it is deleted, with its file and "
                            "its predictions, Diagnose has no model until you choose one with "
                            "Use for Diagnosis; the most accurate of the others is %s."),
                          description);
}

static void
remove_model_action (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  LeafTrainView *self = LEAF_TRAIN_VIEW (widget);
  g_autoptr(LeafModelInfo) model = get_model (self, g_variant_get_int64 (parameter));
  g_autofree char *body = NULL;
  AdwMessageDialog *dialog;

  if (model == NULL)
    return;
  body = remove_body (self, model);
  /* Translators: %s is a model's title, as in “Run 3” */
  dialog = model_action_dialog_new (self, model, _("Delete %s?"), body,
                                    G_CALLBACK (on_remove_response_cb));
  add_responses (dialog, "delete", _("_Delete"), ADW_RESPONSE_DESTRUCTIVE);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* Export and import run on a worker; the view learns how they went with the file's name. */
typedef struct
{
  LeafTrainView *self;
  char *name; /* the file, as people read it */
} FileJob;

static FileJob *
file_job_new (LeafTrainView *self,
              GFile         *file)
{
  FileJob *job = g_new0 (FileJob, 1);
  g_autofree char *path = g_file_get_path (file);

  job->self = g_object_ref (self);
  job->name = g_filename_display_basename (path);
  return job;
}

static void
file_job_free (FileJob *job)
{
  g_clear_object (&job->self);
  g_free (job->name);
  g_free (job);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FileJob, file_job_free)

/* Checks that @file is local, which the engine needs; otherwise says so. */
static char *
local_path (LeafTrainView *self,
            GFile         *file,
            const char    *heading)
{
  g_autoptr(GError) error = NULL;
  char *path = g_file_get_path (file);

  if (path == NULL)
    {
      g_autofree char *uri = g_file_get_uri (file);

      g_set_error (&error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   _("“%s” is not a local file: choose a file in a local folder."), uri);
      show_error_dialog (self, heading, error);
    }
  return path;
}

static void
on_exported_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(FileJob) job = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  if (!leaf_model_export_finish (LEAF_CATALOG (source), result, &error))
    {
      show_error_dialog (job->self, _("Could Not Export the Model"), error);
      return;
    }
  /* Translators: %s is a file name */
  text = g_strdup_printf (_("Exported to %s"), job->name);
  leaf_show_toast (GTK_WIDGET (job->self), text);
}

/**
 * leaf_train_view_export_model:
 * @self: the view
 * @model_id: a model of its catalog
 * @file: where to write it: a file ending in .pth or .pt gets a plain PyTorch state dict
 *   (torch.save), any other safetensors with Leafscope's metadata
 *
 * What Export Model… does once the user chose a file. Done in the background; a toast says
 * when the file is written, a dialog why it was not.
 */
void
leaf_train_view_export_model (LeafTrainView *self,
                              gint64         model_id,
                              GFile         *file)
{
  g_autofree char *path = NULL;

  g_return_if_fail (LEAF_IS_TRAIN_VIEW (self));
  g_return_if_fail (G_IS_FILE (file));

  if (_leaf_train_view_get_catalog (self) == NULL ||
      (path = local_path (self, file, _("Could Not Export the Model"))) == NULL)
    return;
  leaf_model_export_async (_leaf_train_view_get_catalog (self), model_id, path,
                           leaf_model_format_for_path (path), NULL, on_exported_cb,
                           file_job_new (self, file));
}

static void
on_export_chosen_cb (GtkNativeDialog *chooser,
                     int              response,
                     gpointer         user_data)
{
  g_autoptr(LeafTrainView) self = user_data;

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));

      leaf_train_view_export_model (self, *(gint64 *) g_object_get_data (G_OBJECT (chooser),
                                                                         DIALOG_MODEL),
                                    file);
    }
  gtk_native_dialog_destroy (chooser);
  g_object_unref (chooser);
}

static void
add_filter (GtkFileChooser     *chooser,
            const char         *name,
            const char * const *patterns)
{
  g_autoptr(GtkFileFilter) filter = gtk_file_filter_new ();

  gtk_file_filter_set_name (filter, name);
  for (; *patterns != NULL; patterns++)
    gtk_file_filter_add_pattern (filter, *patterns);
  gtk_file_chooser_add_filter (chooser, filter);
}

static const char * const safetensors_patterns[] = { "*.safetensors", NULL };
static const char * const torch_patterns[] = { "*.pth", "*.pt", NULL };
static const char * const model_patterns[] = { "*.safetensors", "*.pth", "*.pt", NULL };

static void
export_model_action (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  LeafTrainView *self = LEAF_TRAIN_VIEW (widget);
  g_autoptr(LeafModelInfo) model = get_model (self, g_variant_get_int64 (parameter));
  g_autofree char *title = NULL;
  g_autofree char *name = NULL;
  GtkFileChooserNative *chooser;

  if (model == NULL)
    return;
  title = leaf_model_info_get_title (model);
  name = g_strconcat (g_strdelimit (title, G_DIR_SEPARATOR_S, '-'), ".safetensors", NULL);
  chooser = gtk_file_chooser_native_new (_("Export Model"), parent_window (self),
                                         GTK_FILE_CHOOSER_ACTION_SAVE, _("_Export"),
                                         _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (chooser), name);
  /* The name's ending chooses the format: the filters show which ending gives which. */
  add_filter (GTK_FILE_CHOOSER (chooser), _("Safetensors with Leafscope’s metadata"),
              safetensors_patterns);
  add_filter (GTK_FILE_CHOOSER (chooser), _("PyTorch state dict (.pth)"), torch_patterns);
  g_object_set_data_full (G_OBJECT (chooser), DIALOG_MODEL,
                          g_memdup2 (&model->id, sizeof model->id), g_free);
  g_signal_connect (chooser, "response", G_CALLBACK (on_export_chosen_cb), g_object_ref (self));
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

/* Import */

static void
on_imported_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(FileJob) job = user_data;
  LeafTrainView *self = job->self;
  g_autoptr(LeafModelImport) import = NULL;
  g_autoptr(LeafModelInfo) model = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *title = NULL;
  g_autofree char *text = NULL;

  import = leaf_model_import_finish (LEAF_CATALOG (source), result, &error);
  if (import == NULL)
    {
      show_error_dialog (self, _("Could Not Import the Model"), error);
      return;
    }
  if (LEAF_CATALOG (source) != _leaf_train_view_get_catalog (self))
    return;
  model = get_model (self, import->model_id);
  if (model == NULL)
    return;
  title = leaf_model_info_get_title (model);
  /* Translators: %s is a file name, then the model's title; the model is not yet in use */
  text = import->n_calibration > 0
         ? g_strdup_printf (_("Imported %s as %s: %.0f %% of %u validation photos recognised"),
                            job->name, title, 100 * import->val_accuracy, import->n_calibration)
         : g_strdup_printf (_("Imported %s as %s, not calibrated: the catalog has no labelled "
                              "validation photos of its classes"), job->name, title);
  leaf_show_toast (GTK_WIDGET (self), text);
  _leaf_train_view_show_model (self, model->id);
}

/* Class names as the user typed them: separated by commas, blanks around them ignored. */
static char **
parse_class_names (const char *text)
{
  g_auto(GStrv) parts = g_strsplit (text, ",", -1);
  g_autoptr(GStrvBuilder) names = g_strv_builder_new ();

  for (char **part = parts; *part != NULL; part++)
    if (*g_strstrip (*part) != '\0')
      g_strv_builder_add (names, *part);
  return g_strv_builder_end (names);
}

#define DIALOG_FILE "leaf-file"

static void
on_import_response_cb (AdwMessageDialog *dialog,
                       const char       *response,
                       LeafTrainView    *self)
{
  GtkEditable *entry = GTK_EDITABLE (adw_message_dialog_get_extra_child (dialog));
  GFile *file = g_object_get_data (G_OBJECT (dialog), DIALOG_FILE);
  g_autofree char *path = NULL;
  g_auto(GStrv) classes = NULL;

  if (!g_str_equal (response, "import"))
    return;
  path = g_file_get_path (file);
  classes = parse_class_names (gtk_editable_get_text (entry));
  leaf_model_import_async (dialog_catalog (dialog), path, (const char * const *) classes, NULL,
                           on_imported_cb, file_job_new (self, file));
}

/* The catalog's classes in their order, the likeliest order of a model trained on its photos. */
static char *
default_class_names (LeafTrainView *self)
{
  LeafCatalog *catalog = _leaf_train_view_get_catalog (self);
  g_autoptr(GPtrArray) classes = leaf_catalog_list_classes (catalog, NULL);
  g_autoptr(GString) names = g_string_new (NULL);

  for (guint i = 0; classes != NULL && i < classes->len; i++)
    {
      const LeafClassInfo *info = g_ptr_array_index (classes, i);

      g_string_append_printf (names, "%s%s", i > 0 ? ", " : "", info->name);
    }
  return g_string_free (g_steal_pointer (&names), FALSE);
}

/**
 * leaf_train_view_import_model:
 * @self: the view
 * @file: an EfficientNet-B0 state dict saved by PyTorch (.pth, .pt or .safetensors)
 *
 * What Import Model… does once the user chose a file: asks for the names of the model's classes
 * (the catalog's, in order, unless the user types others), then imports it in the background.
 * A toast says how it went; a dialog says why it could not be imported.
 */
void
leaf_train_view_import_model (LeafTrainView *self,
                              GFile         *file)
{
  g_autofree char *path = NULL;
  g_autofree char *name = NULL;
  g_autofree char *heading = NULL;
  g_autofree char *classes = NULL;
  AdwMessageDialog *dialog;

  g_return_if_fail (LEAF_IS_TRAIN_VIEW (self));
  g_return_if_fail (G_IS_FILE (file));

  if (_leaf_train_view_get_catalog (self) == NULL ||
      (path = local_path (self, file, _("Could Not Import the Model"))) == NULL)
    return;
  name = g_filename_display_basename (path);
  /* Translators: %s is a file name */
  heading = g_strdup_printf (_("Import %s"), name);
  dialog = model_dialog_new (self, 0, heading,
                             _("Name the classes of the model’s outputs, in order, separated "
                               "by commas. When the catalog has labelled validation photos of "
                               "these classes, the model is measured and calibrated on them. "
                               "It diagnoses once you choose Use for Diagnosis."),
                             G_CALLBACK (on_import_response_cb));
  g_object_set_data_full (G_OBJECT (dialog), DIALOG_FILE, g_object_ref (file), g_object_unref);
  classes = default_class_names (self);
  dialog_entry_new (dialog, classes, _("Class names"));
  add_responses (dialog, "import", _("_Import"), ADW_RESPONSE_SUGGESTED);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
on_import_chosen_cb (GtkNativeDialog *chooser,
                     int              response,
                     gpointer         user_data)
{
  g_autoptr(LeafTrainView) self = user_data;

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));

      leaf_train_view_import_model (self, file);
    }
  gtk_native_dialog_destroy (chooser);
  g_object_unref (chooser);
}

static void
import_model_action (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  LeafTrainView *self = LEAF_TRAIN_VIEW (widget);
  GtkFileChooserNative *chooser;

  chooser = gtk_file_chooser_native_new (_("Import Model"), parent_window (self),
                                         GTK_FILE_CHOOSER_ACTION_OPEN, _("_Open"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  add_filter (GTK_FILE_CHOOSER (chooser), _("PyTorch models (.pth, .pt, .safetensors)"),
              model_patterns);
  g_signal_connect (chooser, "response", G_CALLBACK (on_import_chosen_cb), g_object_ref (self));
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

void
_leaf_train_view_install_model_actions (GtkWidgetClass *widget_class)
{
  gtk_widget_class_install_action (widget_class, "train.use-model", "x", use_model_action);
  gtk_widget_class_install_action (widget_class, "train.compare-models", "(xx)",
                                   compare_models_action);
  gtk_widget_class_install_action (widget_class, "train.rename-model", "x", rename_model_action);
  gtk_widget_class_install_action (widget_class, "train.export-model", "x", export_model_action);
  gtk_widget_class_install_action (widget_class, "train.remove-model", "x", remove_model_action);
  gtk_widget_class_install_action (widget_class, "train.import-model", NULL, import_model_action);
}
