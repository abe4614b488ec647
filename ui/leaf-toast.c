/* leaf-toast.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-toast"

#include "config.h"

#include <adwaita.h>
#include <string.h>

#include "leaf-toast.h"

static AdwToast *
show_toast (GtkWidget        *widget,
            const char       *message,
            AdwToastPriority  priority,
            const char       *button_label)
{
  g_autofree char *escaped = NULL;
  GtkWidget *overlay;
  AdwToast *toast;

  g_return_val_if_fail (GTK_IS_WIDGET (widget), NULL);
  g_return_val_if_fail (message != NULL, NULL);

  overlay = gtk_widget_get_ancestor (widget, ADW_TYPE_TOAST_OVERLAY);
  /* A window itself is above its overlay, which is its content. */
  if (overlay == NULL && ADW_IS_APPLICATION_WINDOW (widget))
    overlay = adw_application_window_get_content (ADW_APPLICATION_WINDOW (widget));
  if (overlay != NULL && !ADW_IS_TOAST_OVERLAY (overlay))
    overlay = NULL;
  if (overlay == NULL)
    {
      g_message ("%s", message);
      return NULL;
    }
  /* Toast titles are Pango markup; file names may contain '&' or '<'. */
  escaped = g_markup_escape_text (message, -1);
  toast = adw_toast_new (escaped);
  /* Error messages name a file and a reason; give people time to read them. */
  adw_toast_set_timeout (toast, strlen (message) > 60 ? 8 : 4);
  adw_toast_set_priority (toast, priority);
  adw_toast_set_button_label (toast, button_label);
  adw_toast_overlay_add_toast (ADW_TOAST_OVERLAY (overlay), toast);
  return toast;
}

/**
 * leaf_show_toast:
 * @widget: any widget; the toast goes to the nearest #AdwToastOverlay above it, or to the
 *   window's own when @widget is the window
 * @message: the text, already translated
 *
 * Views use this so that they stay usable outside the main window, in tests for example; with no
 * overlay the message goes to the log.
 */
void
leaf_show_toast (GtkWidget  *widget,
                 const char *message)
{
  show_toast (widget, message, ADW_TOAST_PRIORITY_NORMAL, NULL);
}

/**
 * leaf_show_toast_with_button:
 * @widget: as for leaf_show_toast()
 * @message: the text, already translated
 * @button_label: the button's label, with a mnemonic
 *
 * Returns: (transfer none) (nullable): the toast, whose #AdwToast::button-clicked says the
 *   button was pressed; %NULL when @widget has no overlay and the message went to the log
 */
AdwToast *
leaf_show_toast_with_button (GtkWidget  *widget,
                             const char *message,
                             const char *button_label)
{
  return show_toast (widget, message, ADW_TOAST_PRIORITY_NORMAL, button_label);
}

/**
 * leaf_show_toast_error:
 * @widget: as for leaf_show_toast()
 * @error: what went wrong; cancellations are not reported
 *
 * Shows the error's message at once, ahead of toasts already waiting.
 */
void
leaf_show_toast_error (GtkWidget    *widget,
                       const GError *error)
{
  g_return_if_fail (error != NULL);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  /* Something went wrong: say so now rather than after the toasts already waiting. */
  show_toast (widget, error->message, ADW_TOAST_PRIORITY_HIGH, NULL);
}
