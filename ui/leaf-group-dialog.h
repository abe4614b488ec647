/* leaf-group-dialog.h: group keys from the window: how an import groups its photos, and the
 * group of photos selected in the Library
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

#include "leaf-image-list.h"

G_BEGIN_DECLS

/* Called with the group pattern chosen for the import, or %NULL for none. */
typedef void (*LeafGroupPatternFunc) (const char *pattern,
                                      gpointer    user_data);

void leaf_import_group_dialog_present (GtkWindow            *parent,
                                       GFile                *folder,
                                       LeafGroupPatternFunc  chosen,
                                       gpointer              user_data,
                                       GDestroyNotify        notify);
void leaf_group_key_dialog_present    (GtkWidget            *parent,
                                       LeafCatalog          *catalog,
                                       LeafImageList        *images,
                                       GArray               *ids);

G_END_DECLS
