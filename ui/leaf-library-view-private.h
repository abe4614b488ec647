/* leaf-library-view-private.h: what the Library's files share
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "leaf-library-view.h"

G_BEGIN_DECLS

/* leaf-library-view.c */
LeafCatalog   *_leaf_library_view_get_catalog           (LeafLibraryView *self);
/* The class with that id among those the sidebar shows, or NULL. */
LeafClassInfo *_leaf_library_view_find_class            (LeafLibraryView *self,
                                                         gint64           class_id);
/* What pointing at the Disputed row says: the labellers' agreement */
char          *_leaf_library_view_dup_disputed_tooltip  (LeafLibraryView *self);

/* leaf-library-view-classes.c: the library.*-class actions and their dialogs */
void           _leaf_library_view_install_class_actions (GtkWidgetClass  *widget_class);

G_END_DECLS
