/* leaf-feature-cache.h: frozen-stage activations kept on disk between runs
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define LEAF_TYPE_FEATURE_CACHE (leaf_feature_cache_get_type ())

G_DECLARE_FINAL_TYPE (LeafFeatureCache, leaf_feature_cache, LEAF, FEATURE_CACHE, GObject)

typedef struct _LeafFeatureTable LeafFeatureTable;

LeafFeatureCache *leaf_feature_cache_new           (const char        *directory,
                                                    guint64            max_bytes);
char             *leaf_feature_cache_default_dir   (void);
char             *leaf_feature_cache_namespace     (const char        *catalog_key,
                                                    const char        *base_weights_sha256,
                                                    guint              image_size,
                                                    guint              cut);
LeafFeatureTable *leaf_feature_cache_open_table    (LeafFeatureCache  *self,
                                                    const char        *name_space,
                                                    guint              view,
                                                    gsize              row_bytes,
                                                    GError           **error);
guint64           leaf_feature_cache_get_size      (LeafFeatureCache  *self);
guint64           leaf_feature_cache_row_size      (gsize              row_bytes);
void              leaf_feature_cache_set_max_bytes (LeafFeatureCache  *self,
                                                    guint64            max_bytes);
void              leaf_feature_cache_trim          (LeafFeatureCache  *self);

gboolean          leaf_feature_table_lookup        (LeafFeatureTable  *table,
                                                    const char        *image_sha256,
                                                    guint64           *slot);
gboolean          leaf_feature_table_append        (LeafFeatureTable  *table,
                                                    const char        *image_sha256,
                                                    gconstpointer      data,
                                                    guint64           *slot,
                                                    GError           **error);
gboolean          leaf_feature_table_read          (LeafFeatureTable  *table,
                                                    guint64            slot,
                                                    gpointer           data,
                                                    GError           **error);
gboolean          leaf_feature_table_map           (LeafFeatureTable  *table,
                                                    GError           **error);
gconstpointer     leaf_feature_table_row           (LeafFeatureTable  *table,
                                                    guint64            slot);
void              leaf_feature_table_release       (LeafFeatureTable  *table);
guint64           leaf_feature_table_get_n_rows    (LeafFeatureTable  *table);
guint64           leaf_feature_table_count_stale   (LeafFeatureTable  *table,
                                                    GHashTable        *keep);
gboolean          leaf_feature_table_compact       (LeafFeatureTable  *table,
                                                    GHashTable        *keep,
                                                    guint64           *n_removed,
                                                    GError           **error);
const char       *leaf_feature_table_get_path      (LeafFeatureTable  *table);
void              leaf_feature_table_free          (LeafFeatureTable  *table);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LeafFeatureTable, leaf_feature_table_free)

G_END_DECLS
