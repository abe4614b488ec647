/* leaf-viewer-window.h: one photo, large and zoomable, with labelling keys
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

#include "leaf-library-view.h"

G_BEGIN_DECLS

#define LEAF_TYPE_VIEWER_WINDOW (leaf_viewer_window_get_type ())
G_DECLARE_FINAL_TYPE (LeafViewerWindow, leaf_viewer_window, LEAF, VIEWER_WINDOW, AdwWindow)

GtkWidget *leaf_viewer_window_new                (LeafLibraryView  *library,
                                                  guint             position);
guint      leaf_viewer_window_get_position       (LeafViewerWindow *self);
double     leaf_viewer_window_get_zoom           (LeafViewerWindow *self);
gboolean   leaf_viewer_window_is_showing_heatmap (LeafViewerWindow *self);
double     leaf_viewer_window_get_scale          (LeafViewerWindow *self);
gboolean   leaf_viewer_window_get_photo_point    (LeafViewerWindow *self,
                                                  double            x,
                                                  double            y,
                                                  double           *photo_x,
                                                  double           *photo_y);
void       leaf_viewer_window_zoom_at            (LeafViewerWindow *self,
                                                  double            zoom,
                                                  double            x,
                                                  double            y);

G_END_DECLS
