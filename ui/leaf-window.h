/* leaf-window.h: the main window, one per open catalog
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

#include "leaf-application.h"

G_BEGIN_DECLS

#define LEAF_TYPE_WINDOW (leaf_window_get_type ())
G_DECLARE_FINAL_TYPE (LeafWindow, leaf_window, LEAF, WINDOW, AdwApplicationWindow)

LeafWindow *leaf_window_new              (LeafApplication *application);
void        leaf_window_open_catalog     (LeafWindow      *self,
                                          GFile           *file);
void        leaf_window_open_files       (LeafWindow      *self,
                                          GFile          **files,
                                          guint            n_files);
GFile      *leaf_window_get_catalog_file (LeafWindow      *self);
void        leaf_window_show_view        (LeafWindow      *self,
                                          const char      *name);

G_END_DECLS
