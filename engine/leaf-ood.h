/* leaf-ood.h: how unlike the photos a model was trained on a photo is
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* EfficientNet-B0's pooled features, which the detector reads. */
#define LEAF_OOD_N_FEATURES 1280
/* Share of the validation photos the threshold flags. */
#define LEAF_OOD_FLAGGED_SHARE 0.05

typedef struct _LeafOod LeafOod;

LeafOod  *leaf_ood_fit              (const float    *features,
                                     const guint    *labels,
                                     gsize           n,
                                     guint           n_features,
                                     guint           n_classes,
                                     GError        **error);
void      leaf_ood_choose_threshold (LeafOod        *self,
                                     const float    *features,
                                     gsize           n,
                                     double          flagged_share);
double    leaf_ood_score            (const LeafOod  *self,
                                     const float    *features);
double    leaf_ood_get_threshold    (const LeafOod  *self);
guint     leaf_ood_get_n_features   (const LeafOod  *self);
gboolean  leaf_ood_is_unfamiliar    (const LeafOod  *self,
                                     double          score);
JsonNode *leaf_ood_to_json          (const LeafOod  *self);
LeafOod  *leaf_ood_from_json        (JsonNode       *node,
                                     GError        **error);
void      leaf_ood_free             (LeafOod        *self);

gboolean  leaf_ood_plain_background (GdkPixbuf      *photo);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LeafOod, leaf_ood_free)

G_END_DECLS
