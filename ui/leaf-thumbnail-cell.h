/* leaf-thumbnail-cell.h: one photo of the Library grid, with its label chip
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

#include "leaf-image-list.h"
#include "leaf-thumbnailer.h"

G_BEGIN_DECLS

#define LEAF_TYPE_THUMBNAIL_CELL (leaf_thumbnail_cell_get_type ())
G_DECLARE_FINAL_TYPE (LeafThumbnailCell, leaf_thumbnail_cell, LEAF, THUMBNAIL_CELL, GtkWidget)

GtkWidget       *leaf_thumbnail_cell_new           (void);
void             leaf_thumbnail_cell_bind          (LeafThumbnailCell *self,
                                                    LeafLibraryItem   *item,
                                                    LeafThumbnailer   *thumbnailer);
void             leaf_thumbnail_cell_unbind        (LeafThumbnailCell *self);
void             leaf_thumbnail_cell_set_size      (LeafThumbnailCell *self,
                                                    int                size);
void             leaf_thumbnail_cell_set_show_name (LeafThumbnailCell *self,
                                                    gboolean           show_name);
void             leaf_thumbnail_cell_set_show_disagreement (LeafThumbnailCell *self,
                                                            gboolean           show_disagreement);
gboolean         leaf_thumbnail_cell_has_thumbnail (LeafThumbnailCell *self);

G_END_DECLS
