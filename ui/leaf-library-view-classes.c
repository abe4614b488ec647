/* leaf-library-view-classes.c: the Library's dialogs that add, rename, recolour, move and
 * remove classes
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-library-view"

#include "config.h"

#include <adwaita.h>
#include <glib/gi18n.h>

#include "leaf-class-color.h"
#include "leaf-library-view-private.h"
#include "leaf-toast.h"

typedef struct
{
  LeafLibraryView *self;
  GtkWidget *entry;
  gint64 class_id; /* 0 when adding */
} NameDialog;

static void
name_dialog_free (gpointer data)
{
  NameDialog *dialog = data;

  g_object_unref (dialog->self);
  g_free (dialog);
}

static void
on_name_changed_cb (GtkEditable *entry,
                    AdwMessageDialog *dialog)
{
  const char *text = gtk_editable_get_text (entry);
  g_autoptr(GError) error = NULL;
  gboolean valid = leaf_class_name_is_valid (text, &error);

  adw_message_dialog_set_response_enabled (dialog, "apply", valid);
  if (valid)
    gtk_widget_remove_css_class (GTK_WIDGET (entry), "error");
  else if (text[0] != '\0')
    gtk_widget_add_css_class (GTK_WIDGET (entry), "error");
  gtk_widget_set_tooltip_text (GTK_WIDGET (entry), valid ? NULL : error->message);
}

static void
on_name_response_cb (AdwMessageDialog *dialog,
                     const char       *response,
                     NameDialog       *data)
{
  LeafLibraryView *self = data->self;
  LeafCatalog *catalog = _leaf_library_view_get_catalog (self);
  const char *name = gtk_editable_get_text (GTK_EDITABLE (data->entry));
  g_autoptr(GError) error = NULL;
  gboolean ok = TRUE;

  if (!g_str_equal (response, "apply") || catalog == NULL)
    return;
  if (data->class_id == 0)
    {
      const GPtrArray *classes = leaf_library_view_get_classes (self);
      const char *color = leaf_class_color_suggest (classes != NULL ? classes->len : 0);

      ok = leaf_catalog_add_class (catalog, name, color, NULL, &error) > 0;
    }
  else
    ok = leaf_catalog_rename_class (catalog, data->class_id, name, &error);
  if (!ok)
    leaf_show_toast_error (GTK_WIDGET (self), error);
}

static void
show_name_dialog (LeafLibraryView *self,
                  gint64           class_id)
{
  LeafClassInfo *info = class_id ? _leaf_library_view_find_class (self, class_id) : NULL;
  GtkWidget *dialog;
  NameDialog *data;

  if (class_id != 0 && info == NULL)
    return;
  dialog = adw_message_dialog_new (GTK_WINDOW (gtk_widget_get_root (GTK_WIDGET (self))),
                                   info ? _("Rename Class") : _("Add Class"), NULL);
  adw_message_dialog_set_body (ADW_MESSAGE_DIALOG (dialog),
                               info ? _("The photos labelled with this class keep their label.")
                                    : _("Photos can then be labelled with it by its key or "
                                        "its button."));
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "apply", info ? _("_Rename") : _("_Add"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "apply",
                                              ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "apply");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");

  data = g_new0 (NameDialog, 1);
  data->self = g_object_ref (self);
  data->class_id = class_id;
  data->entry = gtk_entry_new ();
  gtk_entry_set_activates_default (GTK_ENTRY (data->entry), TRUE);
  gtk_entry_set_placeholder_text (GTK_ENTRY (data->entry),
                                  _("Class name, for example Early blight"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (data->entry),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, _("Class name"), -1);
  g_signal_connect (data->entry, "changed", G_CALLBACK (on_name_changed_cb), dialog);
  gtk_editable_set_text (GTK_EDITABLE (data->entry), info ? info->name : "");
  on_name_changed_cb (GTK_EDITABLE (data->entry), ADW_MESSAGE_DIALOG (dialog));
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), data->entry);
  g_signal_connect_data (dialog, "response", G_CALLBACK (on_name_response_cb), data,
                         (GClosureNotify) (void (*) (void)) name_dialog_free, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
add_class_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  show_name_dialog (LEAF_LIBRARY_VIEW (widget), 0);
}

static void
rename_class_action (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  show_name_dialog (LEAF_LIBRARY_VIEW (widget), g_variant_get_int64 (parameter));
}

typedef struct
{
  LeafLibraryView *self;
  gint64 class_id;
} ClassRequest;

static void
class_request_free (gpointer data)
{
  ClassRequest *request = data;

  g_object_unref (request->self);
  g_free (request);
}

static ClassRequest *
class_request_new (LeafLibraryView *self,
                   gint64           class_id)
{
  ClassRequest *request = g_new0 (ClassRequest, 1);

  request->self = g_object_ref (self);
  request->class_id = class_id;
  return request;
}

static void
on_color_response_cb (GtkDialog    *dialog,
                      int           response,
                      ClassRequest *request)
{
  LeafCatalog *catalog = _leaf_library_view_get_catalog (request->self);

  if (response == GTK_RESPONSE_OK && catalog != NULL)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *color = NULL;
      GdkRGBA rgba;

      gtk_color_chooser_get_rgba (GTK_COLOR_CHOOSER (dialog), &rgba);
      color = g_strdup_printf ("#%02x%02x%02x", (guint) (rgba.red * 255 + 0.5),
                               (guint) (rgba.green * 255 + 0.5), (guint) (rgba.blue * 255 + 0.5));
      if (!leaf_catalog_set_class_color (catalog, request->class_id, color, &error))
        leaf_show_toast_error (GTK_WIDGET (request->self), error);
    }
  gtk_window_destroy (GTK_WINDOW (dialog));
}

static void
recolor_class_action (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *parameter)
{
  LeafLibraryView *self = LEAF_LIBRARY_VIEW (widget);
  LeafClassInfo *info = _leaf_library_view_find_class (self,
                                                       g_variant_get_int64 (parameter));
  g_autofree char *title = NULL;
  GdkRGBA palette[10];
  GtkWidget *dialog;
  GdkRGBA rgba;

  if (info == NULL)
    return;
  /* Translators: title of the colour chooser; %s is a class name */
  title = g_strdup_printf (_("Colour of %s"), info->name);
  dialog = gtk_color_chooser_dialog_new (title, GTK_WINDOW (gtk_widget_get_root (widget)));
  gtk_window_set_modal (GTK_WINDOW (dialog), TRUE);
  for (guint i = 0; i < G_N_ELEMENTS (palette); i++)
    gdk_rgba_parse (&palette[i], leaf_class_color_suggest (i));
  gtk_color_chooser_add_palette (GTK_COLOR_CHOOSER (dialog), GTK_ORIENTATION_HORIZONTAL, 5,
                                 G_N_ELEMENTS (palette), palette);
  if (gdk_rgba_parse (&rgba, info->color))
    gtk_color_chooser_set_rgba (GTK_COLOR_CHOOSER (dialog), &rgba);
  g_signal_connect_data (dialog, "response", G_CALLBACK (on_color_response_cb),
                         class_request_new (self, info->id),
                         (GClosureNotify) (void (*) (void)) class_request_free, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
move_class_action (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  LeafLibraryView *self = LEAF_LIBRARY_VIEW (widget);
  g_autoptr(GError) error = NULL;
  LeafClassInfo *info;
  gint64 class_id;
  int delta, position;

  g_variant_get (parameter, "(xi)", &class_id, &delta);
  info = _leaf_library_view_find_class (self, class_id);
  if (info == NULL)
    return;
  position = (int) info->position + delta;
  if (position < 0 || position >= (int) leaf_library_view_get_classes (self)->len)
    return;
  if (!leaf_catalog_move_class (_leaf_library_view_get_catalog (self), class_id, position,
                                &error))
    leaf_show_toast_error (widget, error);
}

static void
on_remove_response_cb (AdwMessageDialog *dialog,
                       const char       *response,
                       ClassRequest     *request)
{
  LeafCatalog *catalog = _leaf_library_view_get_catalog (request->self);
  g_autoptr(GError) error = NULL;

  if (!g_str_equal (response, "remove") || catalog == NULL)
    return;
  if (!leaf_catalog_remove_class (catalog, request->class_id, TRUE, &error))
    leaf_show_toast_error (GTK_WIDGET (request->self), error);
  else
    {
      AdwToast *toast = adw_toast_new (_("Class removed"));
      GtkWidget *overlay = gtk_widget_get_ancestor (GTK_WIDGET (request->self),
                                                    ADW_TYPE_TOAST_OVERLAY);

      adw_toast_set_button_label (toast, _("_Undo"));
      adw_toast_set_action_name (toast, "win.undo");
      if (overlay != NULL)
        adw_toast_overlay_add_toast (ADW_TOAST_OVERLAY (overlay), toast);
      else
        g_object_unref (g_object_ref_sink (toast));
    }
}

static void
remove_class_action (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  LeafLibraryView *self = LEAF_LIBRARY_VIEW (widget);
  LeafClassInfo *info = _leaf_library_view_find_class (self,
                                                       g_variant_get_int64 (parameter));
  g_autofree char *body = NULL;
  GtkWidget *dialog;

  if (info == NULL)
    return;
  dialog = adw_message_dialog_new (GTK_WINDOW (gtk_widget_get_root (widget)), NULL, NULL);
  adw_message_dialog_format_heading (ADW_MESSAGE_DIALOG (dialog), _("Remove “%s”?"), info->name);
  if (info->n_images == 1)
    body = g_strdup_printf (_("The photo labelled %s becomes unlabelled. Undo brings the class "
                              "and its label back."), info->name);
  else if (info->n_images > 1)
    body = g_strdup_printf (ngettext ("The %u photo labelled %s becomes unlabelled. Undo brings "
                                      "the class and its labels back.",
                                      "The %u photos labelled %s become unlabelled. Undo brings "
                                      "the class and its labels back.",
                                      info->n_images),
                            info->n_images, info->name);
  else
    body = g_strdup (_("No photo is labelled with this class."));
  adw_message_dialog_set_body (ADW_MESSAGE_DIALOG (dialog), body);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "remove", _("_Remove"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "remove",
                                              ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_signal_connect_data (dialog, "response", G_CALLBACK (on_remove_response_cb),
                         class_request_new (self, info->id),
                         (GClosureNotify) (void (*) (void)) class_request_free, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

void
_leaf_library_view_install_class_actions (GtkWidgetClass *widget_class)
{
  gtk_widget_class_install_action (widget_class, "library.add-class", NULL, add_class_action);
  gtk_widget_class_install_action (widget_class, "library.rename-class", "x",
                                   rename_class_action);
  gtk_widget_class_install_action (widget_class, "library.recolor-class", "x",
                                   recolor_class_action);
  gtk_widget_class_install_action (widget_class, "library.move-class", "(xi)", move_class_action);
  gtk_widget_class_install_action (widget_class, "library.remove-class", "x",
                                   remove_class_action);
}
