/* leaf-recipe.h: everything that decides how a model is trained
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef enum
{
  LEAF_PRESET_DEFAULT,
  LEAF_PRESET_ARTICLE,
} LeafPreset;

typedef enum
{
  LEAF_OPTIMIZER_ADAM,
  LEAF_OPTIMIZER_ADAMW,
  LEAF_OPTIMIZER_SGD,
} LeafOptimizer;

typedef enum
{
  LEAF_SCHEDULE_CONSTANT,
  LEAF_SCHEDULE_COSINE,
  LEAF_SCHEDULE_STEP,
} LeafSchedule;

typedef enum
{
  LEAF_CLASS_WEIGHTS_AUTO, /* balanced when the largest class is more than 3x the smallest */
  LEAF_CLASS_WEIGHTS_OFF,
  LEAF_CLASS_WEIGHTS_BALANCED,
} LeafClassWeights;

/* A plain struct: copied by value, serialised to the run's record as JSON. */
typedef struct
{
  LeafPreset preset;

  /* Phase 1: the new head on the frozen backbone. With early stopping, head_epochs is the most
   * it may take; patience counts epochs without a better validation loss. */
  guint head_epochs;
  double head_lr;
  gboolean head_early_stopping;

  /* Phase 2: the last `unfreeze` stages of features (1..8) and the head. */
  guint finetune_epochs;
  guint unfreeze;
  double finetune_lr;
  double finetune_head_lr; /* discriminative: the head may learn faster than the stages */
  gboolean finetune_early_stopping;

  guint patience;
  LeafOptimizer optimizer;
  double weight_decay;
  LeafSchedule schedule;
  double label_smoothing;
  LeafClassWeights class_weights;

  guint batch_size;
  guint image_size;      /* centre crop; the shorter side is first resized to image_size*256/224 */
  guint views;           /* dihedral training views: 1 (none), 2, 4 (flips) or 8 (+ transposes);
                          * 0: decided from the number of training photos */
  guint diagnosis_views; /* views averaged when the model diagnoses: 1, or 8 (flips and turns) */
  gboolean random_resized_crop;
  gboolean color_jitter;
  gboolean cache_features;
  gboolean from_scratch;
  guint64 seed;
  double val_fraction;
} LeafRecipe;

void        leaf_recipe_init_preset  (LeafRecipe   *recipe,
                                      LeafPreset    preset);
gboolean    leaf_recipe_validate     (const LeafRecipe *recipe,
                                      GError      **error);
char       *leaf_recipe_decide       (LeafRecipe   *recipe,
                                      guint         n_train);
guint       leaf_recipe_cut          (const LeafRecipe *recipe);
guint       leaf_recipe_resize_size  (const LeafRecipe *recipe);
JsonNode   *leaf_recipe_to_json      (const LeafRecipe *recipe);
char       *leaf_recipe_to_string    (const LeafRecipe *recipe);
char       *leaf_recipe_changes_to_string (const LeafRecipe *recipe);
gboolean    leaf_recipe_from_json    (JsonNode     *node,
                                      LeafRecipe   *recipe,
                                      GError      **error);
gboolean    leaf_recipe_from_string  (const char   *text,
                                      LeafRecipe   *recipe,
                                      GError      **error);
char       *leaf_recipe_describe_record (const char *record_json);
const char *leaf_preset_to_string    (LeafPreset    preset);
gboolean    leaf_preset_from_string  (const char   *name,
                                      LeafPreset   *preset);

G_END_DECLS
