/* leaf-window-weights.c: asking for the pretrained base weights when Train first needs them
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The weights are optional: nothing is downloaded until the user says so, and training from
 * scratch stays possible. Downloads and imports run on the Weights page of Preferences, which
 * shows their progress and errors; the window only starts training once that page reports a
 * verified file.
 */

#define G_LOG_DOMAIN "leaf-window"

#include "config.h"

#include <glib/gi18n.h>

#include "leaf-preferences-window.h"
#include "leaf-toast.h"
#include "leaf-weights-store.h"
#include "leaf-window-private.h"

/* Whether training can start from base weights without asking: the same lookup the trainer
 * makes when it is given no weights file. */
gboolean
_leaf_window_has_weights (LeafWindow *self)
{
  g_autoptr(LeafWeightsStore) store = leaf_weights_store_new (NULL);
  g_autoptr(LeafWeightsInfo) info = leaf_weights_store_find_default (store);

  return info != NULL;
}

static void
on_weights_ready_cb (LeafWeightsPage *page,
                     const char      *path,
                     LeafWindow      *self)
{
  GtkRoot *preferences = gtk_widget_get_root (GTK_WIDGET (page));

  /* Only the first file answers this Train; later ones are the user's own business. */
  g_signal_handlers_disconnect_by_func (page, on_weights_ready_cb, self);
  if (self->catalog == NULL || leaf_train_view_is_running (self->train_view))
    return;
  if (GTK_IS_WINDOW (preferences))
    gtk_window_close (GTK_WINDOW (preferences));
  leaf_show_toast (GTK_WIDGET (self), _("The pretrained weights are ready; training starts"));
  _leaf_window_start_training (self, path, FALSE);
}

static LeafWeightsPage *
show_weights_page (LeafWindow *self)
{
  GtkWidget *preferences = leaf_preferences_window_new ();
  LeafWeightsPage *page;

  gtk_window_set_transient_for (GTK_WINDOW (preferences), GTK_WINDOW (self));
  page = leaf_preferences_window_show_weights (LEAF_PREFERENCES_WINDOW (preferences));
  g_signal_connect_object (page, "weights-ready", G_CALLBACK (on_weights_ready_cb), self, 0);
  gtk_window_present (GTK_WINDOW (preferences));
  return page;
}

static void
on_weights_response_cb (AdwMessageDialog *dialog,
                        const char       *response,
                        LeafWindow       *self)
{
  if (g_str_equal (response, "download"))
    leaf_weights_page_download (show_weights_page (self));
  else if (g_str_equal (response, "import"))
    leaf_weights_page_choose_file (show_weights_page (self));
  else if (g_str_equal (response, "scratch"))
    _leaf_window_start_training (self, NULL, TRUE);
}

/**
 * _leaf_window_ask_for_weights:
 *
 * Offers the ways to train when no base weights are present: download them, import a file,
 * train from scratch, or not train now.
 */
void
_leaf_window_ask_for_weights (LeafWindow *self)
{
  AdwMessageDialog *dialog;

  dialog = ADW_MESSAGE_DIALOG (
    adw_message_dialog_new (GTK_WINDOW (self), _("Pretrained Weights Needed"),
                            _("Training starts from weights learnt on ImageNet, and they are "
                              "not on this computer yet. Download them once (about 21 MB), or "
                              "import a weight file you already have.\n\nTraining from scratch "
                              "needs no download, but the model will be far less accurate, "
                              "especially with a few hundred photos.")));
  adw_message_dialog_add_responses (dialog,
                                    "cancel", _("_Cancel"),
                                    "scratch", _("Train from _Scratch"),
                                    "import", _("_Import from File…"),
                                    "download", _("_Download"),
                                    NULL);
  adw_message_dialog_set_response_appearance (dialog, "scratch", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_response_appearance (dialog, "download", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (dialog, "download");
  adw_message_dialog_set_close_response (dialog, "cancel");
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_weights_response_cb), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}
