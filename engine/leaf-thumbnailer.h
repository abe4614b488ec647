/* leaf-thumbnailer.h: thumbnails decoded off the main thread and cached on disk
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>
#include <gdk-pixbuf/gdk-pixbuf.h>

#include "leaf-catalog-image.h"

G_BEGIN_DECLS

#define LEAF_TYPE_THUMBNAILER (leaf_thumbnailer_get_type ())

G_DECLARE_FINAL_TYPE (LeafThumbnailer, leaf_thumbnailer, LEAF, THUMBNAILER, GObject)

LeafThumbnailer *leaf_thumbnailer_new               (const char           *cache_dir);
const char      *leaf_thumbnailer_get_cache_dir     (LeafThumbnailer      *self);
void             leaf_thumbnailer_load_async        (LeafThumbnailer      *self,
                                                     const char           *path,
                                                     const char           *sha256,
                                                     guint                 size,
                                                     GCancellable         *cancellable,
                                                     GAsyncReadyCallback   callback,
                                                     gpointer              user_data);
void             leaf_thumbnailer_load_image_async  (LeafThumbnailer      *self,
                                                     LeafCatalogImage     *image,
                                                     guint                 size,
                                                     GCancellable         *cancellable,
                                                     GAsyncReadyCallback   callback,
                                                     gpointer              user_data);
GdkPixbuf       *leaf_thumbnailer_load_finish       (LeafThumbnailer      *self,
                                                     GAsyncResult         *result,
                                                     GError              **error);

G_END_DECLS
