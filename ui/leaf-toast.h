/* leaf-toast.h: reporting to the user from any widget inside a window
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

void leaf_show_toast       (GtkWidget    *widget,
                            const char   *message);
void leaf_show_toast_error (GtkWidget    *widget,
                            const GError *error);

void leaf_show_toast_in_place (GtkWidget   *widget,
                               AdwToast   **kept,
                               const char  *message);

AdwToast *leaf_show_toast_with_button (GtkWidget  *widget,
                                       const char *message,
                                       const char *button_label);

G_END_DECLS
