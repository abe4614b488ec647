/* leaf-toast.h: reporting to the user from any widget inside a window
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

void leaf_show_toast       (GtkWidget    *widget,
                            const char   *message);
void leaf_show_toast_error (GtkWidget    *widget,
                            const GError *error);

G_END_DECLS
