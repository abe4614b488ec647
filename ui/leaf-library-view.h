/* leaf-library-view.h: the Library: classes in a sidebar, photos in a grid, labelling
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

#include "leaf-catalog.h"
#include "leaf-image-list.h"
#include "leaf-thumbnailer.h"

G_BEGIN_DECLS

#define LEAF_TYPE_LIBRARY_VIEW (leaf_library_view_get_type ())
G_DECLARE_FINAL_TYPE (LeafLibraryView, leaf_library_view, LEAF, LIBRARY_VIEW, GtkWidget)

GtkWidget         *leaf_library_view_new             (void);
void               leaf_library_view_set_catalog     (LeafLibraryView *self,
                                                      LeafCatalog     *catalog);
void               leaf_library_view_set_thumbnailer (LeafLibraryView *self,
                                                      LeafThumbnailer *thumbnailer);
GtkSelectionModel *leaf_library_view_get_selection   (LeafLibraryView *self);
void               leaf_library_view_select_only     (LeafLibraryView *self,
                                                      guint            position);
const GPtrArray   *leaf_library_view_get_classes     (LeafLibraryView *self);
gboolean           leaf_library_view_label           (LeafLibraryView *self,
                                                      const gint64    *image_ids,
                                                      gsize            n_images,
                                                      gint64           class_id);
void               leaf_library_view_open_viewer     (LeafLibraryView *self,
                                                      guint            position);
void               leaf_library_view_reload_models   (LeafLibraryView *self);
void               leaf_library_view_show_confusion  (LeafLibraryView *self,
                                                      gint64           model_id,
                                                      guint            truth,
                                                      guint            predicted);

G_END_DECLS
