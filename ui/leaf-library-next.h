/* leaf-library-next.h: the Library's Label Next batch and the bar that tunes it
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

#include "leaf-catalog.h"

G_BEGIN_DECLS

#define LEAF_TYPE_NEXT_BAR (leaf_next_bar_get_type ())
G_DECLARE_FINAL_TYPE (LeafNextBar, leaf_next_bar, LEAF, NEXT_BAR, GtkWidget)

GtkWidget *leaf_next_bar_new          (GSettings   *settings);
void       leaf_next_bar_set_model    (LeafNextBar *self,
                                       LeafCatalog *catalog,
                                       gint64       model_id);
void       leaf_next_bar_ensure_batch (LeafNextBar *self);
GArray    *leaf_next_bar_get_ids      (LeafNextBar *self);
gboolean   leaf_next_bar_get_ranking  (LeafNextBar *self);
gboolean   leaf_next_bar_count_left   (LeafNextBar *self,
                                       guint       *count);
gboolean   leaf_next_bar_get_advance  (LeafNextBar *self);

G_END_DECLS
