/* leaf-model-compare-dialog.h: two models' validation results side by side
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

#include "leaf-catalog.h"

G_BEGIN_DECLS

#define LEAF_TYPE_MODEL_COMPARE_DIALOG (leaf_model_compare_dialog_get_type ())
G_DECLARE_FINAL_TYPE (LeafModelCompareDialog, leaf_model_compare_dialog, LEAF,
                      MODEL_COMPARE_DIALOG, AdwWindow)

GtkWidget *leaf_model_compare_dialog_new (GtkWindow           *parent,
                                          const LeafModelInfo *first,
                                          const LeafModelInfo *second);

G_END_DECLS
