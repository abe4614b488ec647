/* leaf-class-color.h: widgets in a class's colour
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

#include "leaf-catalog.h"

G_BEGIN_DECLS

void        leaf_widget_set_class_color (GtkWidget           *widget,
                                         const char          *color);
const char *leaf_class_color_suggest    (guint                index);
GtkWidget  *leaf_class_button_new       (const LeafClassInfo *info,
                                         guint                key,
                                         const char          *action_name);

G_END_DECLS
