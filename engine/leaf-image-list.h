/* leaf-image-list.h: a lazily paged list model over a catalog query
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "leaf-catalog.h"

G_BEGIN_DECLS

#define LEAF_TYPE_LIBRARY_ITEM (leaf_library_item_get_type ())
G_DECLARE_FINAL_TYPE (LeafLibraryItem, leaf_library_item, LEAF, LIBRARY_ITEM, GObject)

LeafCatalogImage *leaf_library_item_get_image       (LeafLibraryItem *self);
gint64            leaf_library_item_get_id          (LeafLibraryItem *self);
const char       *leaf_library_item_get_class_name  (LeafLibraryItem *self);
const char       *leaf_library_item_get_class_color (LeafLibraryItem *self);
gboolean          leaf_library_item_get_prediction  (LeafLibraryItem  *self,
                                                     const char      **class_name,
                                                     const char      **class_color,
                                                     double           *probability);

#define LEAF_TYPE_IMAGE_LIST (leaf_image_list_get_type ())
G_DECLARE_FINAL_TYPE (LeafImageList, leaf_image_list, LEAF, IMAGE_LIST, GObject)

LeafImageList *leaf_image_list_new         (LeafCatalog          *catalog,
                                            const LeafImageQuery *query,
                                            GArray               *ids,
                                            GError              **error);
LeafCatalog   *leaf_image_list_get_catalog (LeafImageList        *self);
gboolean       leaf_image_list_reload      (LeafImageList        *self,
                                            GError              **error);
void           leaf_image_list_refresh     (LeafImageList        *self);

G_END_DECLS
