/* leaf-active-model.h: the model the views diagnose with
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "leaf-catalog.h"

G_BEGIN_DECLS

LeafModelInfo *leaf_active_model_get (LeafCatalog *catalog);

G_END_DECLS
