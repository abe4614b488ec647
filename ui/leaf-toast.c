/* leaf-toast.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-toast"

#include "config.h"

#include <adwaita.h>
#include <string.h>

#include "leaf-toast.h"

/**
 * leaf_show_toast:
 * @widget: any widget; the toast goes to the nearest #AdwToastOverlay above it
 * @message: the text, already translated
 *
 * Views use this so that they stay usable outside the main window, in tests for example; with no
 * overlay above them the message goes to the log.
 */
void
leaf_show_toast (GtkWidget  *widget,
                 const char *message)
{
  g_autofree char *escaped = NULL;
  GtkWidget *overlay;
  AdwToast *toast;

  g_return_if_fail (GTK_IS_WIDGET (widget));
  g_return_if_fail (message != NULL);

  overlay = gtk_widget_get_ancestor (widget, ADW_TYPE_TOAST_OVERLAY);
  if (overlay == NULL)
    {
      g_message ("%s", message);
      return;
    }
  /* Toast titles are Pango markup; file names may contain '&' or '<'. */
  escaped = g_markup_escape_text (message, -1);
  toast = adw_toast_new (escaped);
  /* Error messages name a file and a reason; give people time to read them. */
  adw_toast_set_timeout (toast, strlen (message) > 60 ? 8 : 4);
  adw_toast_overlay_add_toast (ADW_TOAST_OVERLAY (overlay), toast);
}

void
leaf_show_toast_error (GtkWidget    *widget,
                       const GError *error)
{
  g_return_if_fail (error != NULL);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  leaf_show_toast (widget, error->message);
}
