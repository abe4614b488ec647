/* leaf-toast.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-toast"

#include "config.h"

#include <adwaita.h>
#include <string.h>

#include "leaf-toast.h"

/* The nearest toast overlay above @widget, or %NULL. */
static AdwToastOverlay *
find_overlay (GtkWidget *widget)
{
  GtkWidget *overlay = gtk_widget_get_ancestor (widget, ADW_TYPE_TOAST_OVERLAY);

  /* A window itself is above its overlay, which is its content. */
  if (overlay == NULL && ADW_IS_APPLICATION_WINDOW (widget))
    overlay = adw_application_window_get_content (ADW_APPLICATION_WINDOW (widget));
  return ADW_IS_TOAST_OVERLAY (overlay) ? ADW_TOAST_OVERLAY (overlay) : NULL;
}

static void
set_message (AdwToast   *toast,
             const char *message)
{
  /* Toast titles are Pango markup; file names may contain '&' or '<'. */
  g_autofree char *escaped = g_markup_escape_text (message, -1);

  adw_toast_set_title (toast, escaped);
  /* Error messages name a file and a reason; give people time to read them. */
  adw_toast_set_timeout (toast, strlen (message) > 60 ? 8 : 4);
}

static AdwToast *
show_toast (GtkWidget        *widget,
            const char       *message,
            AdwToastPriority  priority,
            const char       *button_label)
{
  AdwToastOverlay *overlay;
  AdwToast *toast;

  g_return_val_if_fail (GTK_IS_WIDGET (widget), NULL);
  g_return_val_if_fail (message != NULL, NULL);

  overlay = find_overlay (widget);
  if (overlay == NULL)
    {
      g_message ("%s", message);
      return NULL;
    }
  toast = adw_toast_new ("");
  set_message (toast, message);
  adw_toast_set_priority (toast, priority);
  adw_toast_set_button_label (toast, button_label);
  adw_toast_overlay_add_toast (overlay, toast);
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

static void
on_kept_toast_dismissed_cb (AdwToast  *toast,
                            AdwToast **kept)
{
  g_clear_weak_pointer (kept);
}

/**
 * leaf_show_toast_in_place:
 * @widget: as for leaf_show_toast()
 * @kept: (inout) (nullable): the toast this function showed last time, which it keeps up to
 *   date as a weak pointer: %NULL once that toast is dismissed or gone
 * @message: the text, already translated
 *
 * Shows @message in the toast *@kept while it is still shown or waiting, with its time
 * restarted, or else in a new toast. A quick series of messages about one thing (undo after
 * undo, then redo) thus says what the last one did instead of queueing behind the first.
 */
void
leaf_show_toast_in_place (GtkWidget   *widget,
                          AdwToast   **kept,
                          const char  *message)
{
  g_return_if_fail (kept != NULL);

  if (*kept == NULL)
    {
      *kept = show_toast (widget, message, ADW_TOAST_PRIORITY_NORMAL, NULL);
      if (*kept != NULL)
        {
          g_object_add_weak_pointer (G_OBJECT (*kept), (gpointer *) kept);
          g_signal_connect (*kept, "dismissed", G_CALLBACK (on_kept_toast_dismissed_cb), kept);
        }
      return;
    }
  set_message (*kept, message);
  /* Adding a toast again restarts its time, or brings it forward in the queue. The toast was
   * shown, so @widget has an overlay. */
  adw_toast_overlay_add_toast (find_overlay (widget), g_object_ref (*kept));
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
