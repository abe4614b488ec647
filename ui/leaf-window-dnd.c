/* leaf-window-dnd.c: photos and folders dropped anywhere on the window
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Dropped photos, and photos the desktop opens with Leafscope, go to Diagnose; a folder is
 * offered for import. What the files are is found out off the main thread, since a drop from a
 * network share can take a while to stat.
 */

#define G_LOG_DOMAIN "leaf-window"

#include "config.h"

#include <glib/gi18n.h>

#include "leaf-toast.h"
#include "leaf-window-private.h"

typedef struct
{
  GPtrArray *files;   /* GFile, in */
  GPtrArray *photos;  /* GFile, out */
  GPtrArray *folders; /* GFile, out */
  GPtrArray *rejects; /* char *, out: "name: reason" */
} Sorting;

static void
sorting_free (gpointer data)
{
  Sorting *sorting = data;

  g_ptr_array_unref (sorting->files);
  g_ptr_array_unref (sorting->photos);
  g_ptr_array_unref (sorting->folders);
  g_ptr_array_unref (sorting->rejects);
  g_free (sorting);
}

static void
sort_files_thread (GTask        *task,
                   gpointer      source_object,
                   gpointer      task_data,
                   GCancellable *cancellable)
{
  Sorting *sorting = task_data;

  for (guint i = 0; i < sorting->files->len; i++)
    {
      GFile *file = g_ptr_array_index (sorting->files, i);
      g_autoptr(GFileInfo) info = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *name = g_file_get_basename (file);
      const char *type;

      info = g_file_query_info (file,
                                G_FILE_ATTRIBUTE_STANDARD_TYPE ","
                                G_FILE_ATTRIBUTE_STANDARD_CONTENT_TYPE,
                                G_FILE_QUERY_INFO_NONE, cancellable, &error);
      if (info == NULL)
        {
          g_ptr_array_add (sorting->rejects, g_strdup_printf ("%s: %s", name, error->message));
          continue;
        }
      if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
        {
          g_ptr_array_add (sorting->folders, g_object_ref (file));
          continue;
        }
      type = g_file_info_get_content_type (info);
      /* Unknown types still go to the decoder, which says precisely what is wrong. */
      if (type != NULL && !g_content_type_is_a (type, "image/*")
          && !g_content_type_is_unknown (type))
        {
          g_autofree char *description = g_content_type_get_description (type);

          /* Translators: a dropped file that is not a photo; %s is its type, e.g. "PDF document" */
          g_ptr_array_add (sorting->rejects,
                           g_strdup_printf (_("%s is not a photo but a %s"), name, description));
          continue;
        }
      g_ptr_array_add (sorting->photos, g_object_ref (file));
    }
  g_task_return_boolean (task, TRUE);
}

static void
on_files_sorted_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(LeafWindow) self = user_data;
  Sorting *sorting = g_task_get_task_data (G_TASK (result));

  if (!g_task_propagate_boolean (G_TASK (result), NULL))
    return;
  for (guint i = 0; i < sorting->rejects->len; i++)
    {
      g_autoptr(GError) error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                                                     g_ptr_array_index (sorting->rejects, i));

      leaf_show_toast_error (GTK_WIDGET (self), error);
    }
  if (sorting->photos->len > 0)
    {
      leaf_window_show_view (self, "diagnose");
      leaf_diagnose_view_open_files (self->diagnose_view, (GFile **) sorting->photos->pdata,
                                     sorting->photos->len);
    }
  for (guint i = 0; i < sorting->folders->len; i++)
    _leaf_window_import_folder (self, g_ptr_array_index (sorting->folders, i), NULL);
}

/**
 * leaf_window_open_files:
 * @self: a window
 * @files: (array length=n_files): photos, folders or anything else
 * @n_files: how many
 *
 * Does with @files what dropping them on the window does: photos are diagnosed, folders offered
 * for import, and everything else is reported in a toast with the reason.
 */
void
leaf_window_open_files (LeafWindow  *self,
                        GFile      **files,
                        guint        n_files)
{
  g_autoptr(GTask) task = NULL;
  Sorting *sorting;

  g_return_if_fail (LEAF_IS_WINDOW (self));

  sorting = g_new0 (Sorting, 1);
  sorting->files = g_ptr_array_new_with_free_func (g_object_unref);
  sorting->photos = g_ptr_array_new_with_free_func (g_object_unref);
  sorting->folders = g_ptr_array_new_with_free_func (g_object_unref);
  sorting->rejects = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < n_files; i++)
    g_ptr_array_add (sorting->files, g_object_ref (files[i]));

  task = g_task_new (NULL, NULL, on_files_sorted_cb, g_object_ref (self));
  g_task_set_source_tag (task, leaf_window_open_files);
  g_task_set_task_data (task, sorting, sorting_free);
  g_task_run_in_thread (task, sort_files_thread);
}

/* While something is dragged over the window, it says what a drop does. */
static GdkDragAction
on_drag_enter_cb (GtkDropTarget *target,
                  double         x,
                  double         y,
                  LeafWindow    *self)
{
  gtk_widget_set_visible (self->drop_hint, TRUE);
  return GDK_ACTION_COPY;
}

static void
on_drag_leave_cb (GtkDropTarget *target,
                  LeafWindow    *self)
{
  gtk_widget_set_visible (self->drop_hint, FALSE);
}

static gboolean
on_drop_cb (GtkDropTarget *target,
            const GValue  *value,
            double         x,
            double         y,
            LeafWindow    *self)
{
  gtk_widget_set_visible (self->drop_hint, FALSE);
  if (G_VALUE_HOLDS (value, GDK_TYPE_FILE_LIST))
    {
      g_autoptr(GPtrArray) files = g_ptr_array_new ();

      for (GSList *l = g_value_get_boxed (value); l != NULL; l = l->next)
        g_ptr_array_add (files, l->data);
      leaf_window_open_files (self, (GFile **) files->pdata, files->len);
      return TRUE;
    }
  if (G_VALUE_HOLDS (value, GDK_TYPE_TEXTURE))
    {
      leaf_window_show_view (self, "diagnose");
      leaf_diagnose_view_open_texture (self->diagnose_view, g_value_get_object (value),
                                       _("Dropped image"));
      return TRUE;
    }
  return FALSE;
}

void
_leaf_window_dnd_init (LeafWindow *self)
{
  GtkDropTarget *target = gtk_drop_target_new (G_TYPE_INVALID, GDK_ACTION_COPY);
  GType types[] = { GDK_TYPE_FILE_LIST, GDK_TYPE_TEXTURE };

  gtk_drop_target_set_gtypes (target, types, G_N_ELEMENTS (types));
  g_signal_connect (target, "enter", G_CALLBACK (on_drag_enter_cb), self);
  g_signal_connect (target, "leave", G_CALLBACK (on_drag_leave_cb), self);
  g_signal_connect (target, "drop", G_CALLBACK (on_drop_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (target));
}
