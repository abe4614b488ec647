/* leaf-train-view-private.h: what the Train view's files share
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "leaf-train-view.h"

G_BEGIN_DECLS

/* leaf-train-view.c */
LeafCatalog *_leaf_train_view_get_catalog           (LeafTrainView  *self);
void         _leaf_train_view_show_model            (LeafTrainView  *self,
                                                     gint64          model_id);

/* leaf-train-view-models.c: the train.*-model actions of the history and their dialogs */
void         _leaf_train_view_install_model_actions (GtkWidgetClass *widget_class);
void         _leaf_train_view_use_model             (LeafTrainView  *self,
                                                     gint64          model_id);

G_END_DECLS
