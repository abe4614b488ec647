/* leaf-confusion-matrix.h: draws a LeafConfusion; its cells can be activated
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

#include "leaf-confusion.h"

G_BEGIN_DECLS

#define LEAF_TYPE_CONFUSION_MATRIX (leaf_confusion_matrix_get_type ())
G_DECLARE_FINAL_TYPE (LeafConfusionMatrix, leaf_confusion_matrix, LEAF, CONFUSION_MATRIX, GtkWidget)

GtkWidget     *leaf_confusion_matrix_new         (void);
LeafConfusion *leaf_confusion_matrix_get_model   (LeafConfusionMatrix *self);
void           leaf_confusion_matrix_set_model   (LeafConfusionMatrix *self,
                                                  LeafConfusion       *model);
const char    *leaf_confusion_matrix_get_summary (LeafConfusionMatrix *self);

G_END_DECLS
