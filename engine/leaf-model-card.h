/* leaf-model-card.h: a Markdown description of a trained model, for whoever relies on it
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "leaf-model-file.h"
#include "leaf-types.h"

G_BEGIN_DECLS

char *leaf_model_card_render         (LeafCatalog         *catalog,
                                      const LeafModelMeta *meta,
                                      const char          *model_path,
                                      const char          *summary_json,
                                      GError             **error);
char *leaf_model_card_render_figures (const LeafModelMeta *meta,
                                      const char          *summary_json);
char *leaf_model_card_describe_training (const LeafModelMeta *meta);

G_END_DECLS
