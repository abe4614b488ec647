/* leaf-recipe.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-recipe"

#include "config.h"

#include <glib/gi18n.h>

#include "leaf-error.h"
#include "leaf-recipe.h"

/* EfficientNet-B0's features has stages 0..8. */
#define N_STAGES 9

/**
 * leaf_recipe_init_preset:
 *
 * The article preset is the seed article's recipe exactly (5 head epochs at 1e-3, then
 * features.7-8 with the head for 10 epochs at 1e-5, no augmentation). The default preset trains
 * the head to convergence on cached features of four flipped views (cheap, so no reason to stop
 * early by the clock), then fine-tunes the last two stages at 1e-4, a rate measured to suit them
 * on leaf photos (1e-5 barely moves them in ten epochs), stopping when validation loss stops
 * improving and keeping the best checkpoint.
 */
void
leaf_recipe_init_preset (LeafRecipe *recipe,
                         LeafPreset  preset)
{
  g_return_if_fail (recipe != NULL);

  *recipe = (LeafRecipe) {
    .preset = preset,
    .head_epochs = 5,
    .head_lr = 1e-3,
    .head_early_stopping = FALSE,
    .finetune_epochs = 10,
    .unfreeze = 2,
    .finetune_lr = 1e-5,
    .finetune_head_lr = 1e-5,
    .finetune_early_stopping = FALSE,
    .patience = 5,
    .optimizer = LEAF_OPTIMIZER_ADAM,
    .weight_decay = 0.0,
    .schedule = LEAF_SCHEDULE_CONSTANT,
    .label_smoothing = 0.0,
    .class_weights = LEAF_CLASS_WEIGHTS_AUTO,
    .batch_size = 32,
    .image_size = 224,
    .views = 1,
    .random_resized_crop = FALSE,
    .color_jitter = FALSE,
    .cache_features = TRUE,
    .from_scratch = FALSE,
    .seed = 0,
    .val_fraction = 0.2,
  };

  if (preset == LEAF_PRESET_DEFAULT)
    {
      recipe->head_epochs = 200;
      recipe->head_early_stopping = TRUE;
      recipe->patience = 8;
      recipe->finetune_epochs = 20;
      recipe->finetune_lr = 1e-4;
      recipe->finetune_head_lr = 1e-4;
      recipe->finetune_early_stopping = TRUE;
      recipe->views = 4;
    }
}

/**
 * leaf_recipe_cut:
 *
 * Returns: the first stage that trains, so that stages before it can be cached
 */
guint
leaf_recipe_cut (const LeafRecipe *recipe)
{
  return N_STAGES - MIN (recipe->unfreeze, N_STAGES);
}

/**
 * leaf_recipe_resize_size:
 *
 * Returns: the shorter side before the centre crop: 256 for 224, as torchvision's
 *   IMAGENET1K_V1 preset, and in proportion for other crop sizes
 */
guint
leaf_recipe_resize_size (const LeafRecipe *recipe)
{
  return (recipe->image_size * 256 + 112) / 224;
}

gboolean
leaf_recipe_validate (const LeafRecipe  *recipe,
                      GError           **error)
{
  const char *problem = NULL;

  if (recipe->batch_size < 1 || recipe->batch_size > 4096)
    problem = _("the batch size must be between 1 and 4096");
  else if (recipe->image_size < 32 || recipe->image_size > 1024)
    problem = _("the image size must be between 32 and 1024 pixels");
  else if (recipe->unfreeze > 8)
    problem = _("at most 8 stages can be unfrozen");
  else if (recipe->views != 1 && recipe->views != 2 && recipe->views != 4 && recipe->views != 8)
    problem = _("the number of training views must be 1, 2, 4 or 8");
  else if (!(recipe->head_lr > 0 && recipe->finetune_lr > 0 && recipe->finetune_head_lr > 0))
    problem = _("learning rates must be positive");
  else if (recipe->label_smoothing < 0 || recipe->label_smoothing >= 1)
    problem = _("label smoothing must be at least 0 and below 1");
  else if (recipe->val_fraction <= 0 || recipe->val_fraction >= 1)
    problem = _("the validation fraction must be between 0 and 1");
  else if (recipe->head_epochs == 0 && recipe->finetune_epochs == 0)
    problem = _("at least one epoch must be trained");

  if (problem != NULL)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                   _("Invalid training recipe: %s"), problem);
      return FALSE;
    }
  return TRUE;
}

const char *
leaf_preset_to_string (LeafPreset preset)
{
  return preset == LEAF_PRESET_ARTICLE ? "article" : "default";
}

gboolean
leaf_preset_from_string (const char *name,
                         LeafPreset *preset)
{
  if (g_strcmp0 (name, "article") == 0)
    *preset = LEAF_PRESET_ARTICLE;
  else if (g_strcmp0 (name, "default") == 0)
    *preset = LEAF_PRESET_DEFAULT;
  else
    return FALSE;
  return TRUE;
}

static const char *
optimizer_name (LeafOptimizer o)
{
  return o == LEAF_OPTIMIZER_SGD ? "sgd" : o == LEAF_OPTIMIZER_ADAMW ? "adamw" : "adam";
}

static const char *
schedule_name (LeafSchedule s)
{
  return s == LEAF_SCHEDULE_COSINE ? "cosine" : s == LEAF_SCHEDULE_STEP ? "step" : "constant";
}

static const char *
class_weights_name (LeafClassWeights w)
{
  return w == LEAF_CLASS_WEIGHTS_OFF ? "off" : w == LEAF_CLASS_WEIGHTS_BALANCED ? "balanced" : "auto";
}

/**
 * leaf_recipe_to_json:
 *
 * Returns: (transfer full): the recipe as the run's record keeps it
 */
JsonNode *
leaf_recipe_to_json (const LeafRecipe *r)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
#define MEMBER(name, kind, value) \
  json_builder_set_member_name (b, name); json_builder_add_##kind##_value (b, value)
  MEMBER ("preset", string, leaf_preset_to_string (r->preset));
  MEMBER ("head_epochs", int, r->head_epochs);
  MEMBER ("head_lr", double, r->head_lr);
  MEMBER ("head_early_stopping", boolean, r->head_early_stopping);
  MEMBER ("finetune_epochs", int, r->finetune_epochs);
  MEMBER ("unfreeze", int, r->unfreeze);
  MEMBER ("finetune_lr", double, r->finetune_lr);
  MEMBER ("finetune_head_lr", double, r->finetune_head_lr);
  MEMBER ("finetune_early_stopping", boolean, r->finetune_early_stopping);
  MEMBER ("patience", int, r->patience);
  MEMBER ("optimizer", string, optimizer_name (r->optimizer));
  MEMBER ("weight_decay", double, r->weight_decay);
  MEMBER ("schedule", string, schedule_name (r->schedule));
  MEMBER ("label_smoothing", double, r->label_smoothing);
  MEMBER ("class_weights", string, class_weights_name (r->class_weights));
  MEMBER ("batch_size", int, r->batch_size);
  MEMBER ("image_size", int, r->image_size);
  MEMBER ("resize_size", int, leaf_recipe_resize_size (r));
  MEMBER ("views", int, r->views);
  MEMBER ("random_resized_crop", boolean, r->random_resized_crop);
  MEMBER ("color_jitter", boolean, r->color_jitter);
  MEMBER ("cache_features", boolean, r->cache_features);
  MEMBER ("from_scratch", boolean, r->from_scratch);
  MEMBER ("seed", int, (gint64) r->seed);
  MEMBER ("val_fraction", double, r->val_fraction);
#undef MEMBER
  json_builder_end_object (b);

  return json_builder_get_root (b);
}

char *
leaf_recipe_to_string (const LeafRecipe *recipe)
{
  g_autoptr(JsonNode) node = leaf_recipe_to_json (recipe);
  return json_to_string (node, FALSE);
}
