/* leaf-weights-store.h: pretrained base weights, downloaded or imported, verified and cached
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* torchvision's EfficientNet_B0_Weights.IMAGENET1K_V1 (torchvision 0.14 names the same bytes
 * efficientnet_b0_rwightman-3dd342df.pth; that suffix is not a prefix of their hash). */
#define LEAF_WEIGHTS_OFFICIAL_URL \
  "https://download.pytorch.org/models/efficientnet_b0_rwightman-7f5810bc.pth"
#define LEAF_WEIGHTS_OFFICIAL_SHA256 \
  "7f5810bc96def8f7552d5b7e68d53c4786f81167d28291b21c0d90e1fca14934"

#define LEAF_TYPE_WEIGHTS_STORE (leaf_weights_store_get_type ())
#define LEAF_TYPE_WEIGHTS_INFO  (leaf_weights_info_get_type ())

G_DECLARE_FINAL_TYPE (LeafWeightsStore, leaf_weights_store, LEAF, WEIGHTS_STORE, GObject)

/* One weight file in the store. Every file there is either the official one (recognised by its
 * hash) or one that passed the key-and-shape check against torchvision's EfficientNet-B0. */
typedef struct
{
  char *path;          /* absolute path inside the store */
  char *sha256;        /* lowercase hex, checked before the file got its name */
  guint64 size;
  gboolean official;
  char *origin;        /* "download", "import", or NULL when the index does not know the file */
  char *source;        /* the URL it was downloaded from or the path it was imported from */
  gint64 added;        /* seconds since the epoch, 0 when unknown */
} LeafWeightsInfo;

/* Called on the main context that was thread-default when the fetch began. total is -1 while
 * the size is unknown; received counts bytes kept from an earlier, resumed attempt. */
typedef void (*LeafWeightsProgressFunc) (goffset  received,
                                         goffset  total,
                                         gpointer user_data);

GType             leaf_weights_info_get_type        (void) G_GNUC_CONST;
LeafWeightsInfo  *leaf_weights_info_copy            (const LeafWeightsInfo   *info);
void              leaf_weights_info_free            (LeafWeightsInfo         *info);

char             *leaf_weights_store_default_dir    (void);
gboolean          leaf_weights_store_migrate        (const char            *old_dir,
                                                     const char            *new_dir,
                                                     GError               **error);
LeafWeightsStore *leaf_weights_store_new            (const char              *directory);
const char       *leaf_weights_store_get_directory  (LeafWeightsStore        *self);
const char       *leaf_weights_store_get_official_sha256
                                                    (LeafWeightsStore        *self);
const char       *leaf_weights_store_get_official_url
                                                    (LeafWeightsStore        *self);

void              leaf_weights_store_fetch_async    (LeafWeightsStore        *self,
                                                     const char              *url,
                                                     const char              *sha256,
                                                     GCancellable            *cancellable,
                                                     LeafWeightsProgressFunc  progress,
                                                     gpointer                 progress_data,
                                                     GAsyncReadyCallback      callback,
                                                     gpointer                 user_data);
char             *leaf_weights_store_fetch_finish   (LeafWeightsStore        *self,
                                                     GAsyncResult            *result,
                                                     GError                 **error);

char             *leaf_weights_store_import         (LeafWeightsStore        *self,
                                                     const char              *path,
                                                     gboolean                *is_official,
                                                     GCancellable            *cancellable,
                                                     GError                 **error);
void              leaf_weights_store_import_async   (LeafWeightsStore        *self,
                                                     const char              *path,
                                                     GCancellable            *cancellable,
                                                     GAsyncReadyCallback      callback,
                                                     gpointer                 user_data);
char             *leaf_weights_store_import_finish  (LeafWeightsStore        *self,
                                                     GAsyncResult            *result,
                                                     gboolean                *is_official,
                                                     GError                 **error);

GPtrArray        *leaf_weights_store_list           (LeafWeightsStore        *self);
LeafWeightsInfo  *leaf_weights_store_find_default   (LeafWeightsStore        *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LeafWeightsInfo, leaf_weights_info_free)

G_END_DECLS
