/* leaf-model-file.h: what a fine-tuned model file says about itself
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

#include "leaf-ood.h"

G_BEGIN_DECLS

/* Stored as JSON in the safetensors header of every model Leafscope writes. */
typedef struct
{
  char **classes;
  guint n_classes;
  guint image_size;
  guint resize_size;
  char *base_weights_sha256;
  char *recipe_json;   /* the recipe as leaf_recipe_to_json() wrote it */
  char *metrics_json;  /* final metrics of the kept model */
  char *catalog_path;
  gint64 run_id;
  char *created;       /* ISO 8601 */
  double temperature;  /* divides logits before the softmax; 1 when not calibrated */
  double refer_below;  /* diagnoses below this calibrated probability go to an expert; 0 = never */
  LeafOod *ood;        /* flags photos unlike the training photos; NULL: no such check */
  guint train_photos;  /* what it was trained on: 0 when unknown (imported models) */
  guint val_photos;
  double plain_background; /* share of the training photos on a plain background, as in a lab */
  guint diagnosis_views;   /* views averaged for a diagnosis: 1, or 8 flips and quarter turns */
} LeafModelMeta;

void           leaf_model_meta_free      (LeafModelMeta  *meta);
char          *leaf_model_meta_to_json   (const LeafModelMeta *meta);
LeafModelMeta *leaf_model_meta_from_json (const char     *json,
                                          const char     *file_name,
                                          GError        **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LeafModelMeta, leaf_model_meta_free)

G_END_DECLS
