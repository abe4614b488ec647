/* leaf-thumbnail-cell.h: one photo of the Library grid, with its label chip
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

#include "leaf-image-list.h"
#include "leaf-thumbnailer.h"

G_BEGIN_DECLS

/**
 * LeafThumbnailPrediction:
 * @LEAF_THUMBNAIL_PREDICTION_DIFFERENT: the model's class and probability where they are not the
 *   label: a suggestion on an unlabelled photo
 * @LEAF_THUMBNAIL_PREDICTION_ALL: on every predicted photo, as the Uncertain filter wants
 * @LEAF_THUMBNAIL_PREDICTION_DISAGREEMENT: as @LEAF_THUMBNAIL_PREDICTION_DIFFERENT, with a line
 *   under the photo saying "labelled X, model says Y (72 %)", as the Disagreements filter wants
 *
 * What a cell shows of the model's prediction.
 */
typedef enum
{
  LEAF_THUMBNAIL_PREDICTION_DIFFERENT,
  LEAF_THUMBNAIL_PREDICTION_ALL,
  LEAF_THUMBNAIL_PREDICTION_DISAGREEMENT,
} LeafThumbnailPrediction;

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
void             leaf_thumbnail_cell_set_prediction (LeafThumbnailCell     *self,
                                                     LeafThumbnailPrediction shown);
void             leaf_thumbnail_cell_set_votes     (LeafThumbnailCell     *self,
                                                    const char            *votes);
LeafLibraryItem *leaf_thumbnail_cell_get_item      (LeafThumbnailCell *self);
gboolean         leaf_thumbnail_cell_has_thumbnail (LeafThumbnailCell *self);

G_END_DECLS
