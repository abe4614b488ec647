/* leaf-feature-cache.h: frozen-stage activations kept on disk between runs
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define LEAF_TYPE_FEATURE_CACHE (leaf_feature_cache_get_type ())

G_DECLARE_FINAL_TYPE (LeafFeatureCache, leaf_feature_cache, LEAF, FEATURE_CACHE, GObject)

LeafFeatureCache *leaf_feature_cache_new          (const char        *directory,
                                                   guint64            max_bytes);
char             *leaf_feature_cache_default_dir  (void);
char             *leaf_feature_cache_namespace    (const char        *base_weights_sha256,
                                                   guint              image_size,
                                                   guint              cut);
gboolean          leaf_feature_cache_lookup       (LeafFeatureCache  *self,
                                                   const char        *name_space,
                                                   const char        *image_sha256,
                                                   guint              view,
                                                   gpointer           data,
                                                   gsize              n_bytes);
gboolean          leaf_feature_cache_store        (LeafFeatureCache  *self,
                                                   const char        *name_space,
                                                   const char        *image_sha256,
                                                   guint              view,
                                                   gconstpointer      data,
                                                   gsize              n_bytes,
                                                   GError           **error);
guint64           leaf_feature_cache_get_size     (LeafFeatureCache  *self);
guint64           leaf_feature_cache_entry_size   (gsize              n_bytes);
void              leaf_feature_cache_set_max_bytes (LeafFeatureCache *self,
                                                    guint64           max_bytes);
void              leaf_feature_cache_trim         (LeafFeatureCache  *self);

G_END_DECLS
