/* leaf-preferences-window.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

#include "leaf-weights-page.h"

G_BEGIN_DECLS

#define LEAF_TYPE_PREFERENCES_WINDOW (leaf_preferences_window_get_type ())
G_DECLARE_FINAL_TYPE (LeafPreferencesWindow, leaf_preferences_window, LEAF, PREFERENCES_WINDOW,
                      AdwPreferencesWindow)

GtkWidget       *leaf_preferences_window_new          (void);
LeafWeightsPage *leaf_preferences_window_show_weights (LeafPreferencesWindow *self);

G_END_DECLS
