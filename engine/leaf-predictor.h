/* leaf-predictor.h: a model ready to diagnose photos
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gdk-pixbuf/gdk-pixbuf.h>

#include "leaf-model-file.h"

G_BEGIN_DECLS

#define LEAF_PREDICTOR_N_FEATURES 1280

#define LEAF_TYPE_PREDICTOR (leaf_predictor_get_type ())

G_DECLARE_FINAL_TYPE (LeafPredictor, leaf_predictor, LEAF, PREDICTOR, GObject)

LeafPredictor       *leaf_predictor_new_from_model   (const char     *path,
                                                      GError        **error);
LeafPredictor       *leaf_predictor_new_from_weights (const char     *path,
                                                      GError        **error);
guint                leaf_predictor_get_n_classes    (LeafPredictor  *self);
const char * const  *leaf_predictor_get_classes      (LeafPredictor  *self);
const LeafModelMeta *leaf_predictor_get_meta         (LeafPredictor  *self);
const char          *leaf_predictor_get_path         (LeafPredictor  *self);
gboolean             leaf_predictor_predict_pixbuf   (LeafPredictor  *self,
                                                      GdkPixbuf      *image,
                                                      gboolean        tta,
                                                      float          *probabilities,
                                                      float          *logits,
                                                      GError        **error);
gboolean             leaf_predictor_predict_pixbuf_full (LeafPredictor *self,
                                                         GdkPixbuf     *image,
                                                         gboolean       tta,
                                                         float         *probabilities,
                                                         float         *logits,
                                                         double        *ood_score,
                                                         GError       **error);
gboolean             leaf_predictor_predict_file     (LeafPredictor  *self,
                                                      const char     *path,
                                                      gboolean        tta,
                                                      float          *probabilities,
                                                      float          *logits,
                                                      GError        **error);
gboolean             leaf_predictor_predict_batch    (LeafPredictor  *self,
                                                      GdkPixbuf     **images,
                                                      guint           n_images,
                                                      float          *probabilities,
                                                      float          *features,
                                                      GError        **error);
float               *leaf_predictor_grad_cam         (LeafPredictor  *self,
                                                      GdkPixbuf      *image,
                                                      guint           class_index,
                                                      GdkPixbuf     **crop,
                                                      GError        **error);
void                 leaf_predictor_top_k            (const float    *probabilities,
                                                      guint           n_classes,
                                                      guint          *indices,
                                                      guint           k);

G_END_DECLS
