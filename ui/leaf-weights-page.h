/* leaf-weights-page.h: the pretrained base weights in Preferences
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

#include "leaf-weights-store.h"

G_BEGIN_DECLS

#define LEAF_TYPE_WEIGHTS_PAGE (leaf_weights_page_get_type ())
G_DECLARE_FINAL_TYPE (LeafWeightsPage, leaf_weights_page, LEAF, WEIGHTS_PAGE, AdwPreferencesPage)

GtkWidget        *leaf_weights_page_new          (LeafWeightsStore *store);
LeafWeightsStore *leaf_weights_page_get_store    (LeafWeightsPage  *self);
void              leaf_weights_page_refresh      (LeafWeightsPage  *self);
void              leaf_weights_page_download     (LeafWeightsPage  *self);
void              leaf_weights_page_choose_file  (LeafWeightsPage  *self);
void              leaf_weights_page_import_file  (LeafWeightsPage  *self,
                                                  GFile            *file);
gboolean          leaf_weights_page_is_busy      (LeafWeightsPage  *self);

G_END_DECLS
