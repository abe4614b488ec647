/* leaf-recipe.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-recipe"

#include "config.h"

#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

#include "leaf-error.h"
#include "leaf-json.h"
#include "leaf-json-private.h"
#include "leaf-recipe.h"

/* EfficientNet-B0's features has stages 0..8. */
#define N_STAGES 9

/* Automatic views: the four flips, or fewer when training photos x views would pass the budget,
 * so that computing the frozen stages stays within minutes (about 6 on a 2-core laptop) and
 * their activations within a gigabyte; beyond it more photos serve better than more views of
 * each. Eight views (with the quarter turns) were no better than four in cross-validation, at
 * twice the cost. */
#define AUTO_VIEWS_MOST 4
#define AUTO_VIEWS_BUDGET 20000

/**
 * leaf_recipe_init_preset:
 *
 * The article preset is the seed article's recipe exactly (5 head epochs at 1e-3, then
 * features.7-8 with the head for 10 epochs at 1e-5, no augmentation). The default preset trains
 * the head to convergence on cached features of flipped views (cheap, so no reason to stop
 * early by the clock), then fine-tunes the last four stages (features.5-8, cached at the
 * output of features.4) with AdamW at 3e-4 and weight decay 0.01 on a cosine schedule for 8
 * epochs, with label smoothing 0.1, keeping the last epoch; its models diagnose by averaging the
 * eight flips and quarter turns of a photo. In 5-fold cross-validation over five seeds
 * (tests/bench/train/cv.py, BENCHMARKS.md "Choosing the default recipe" and "One stage
 * deeper") it reached 90.6 %, every seed at 90 % or more, against 87.3 % for the default before
 * 2026-12-05 (the last two stages at Adam 1e-4 with early stopping) and 89.5 % for the three
 * stages of 2026-12-05, in 1.9 times the time of the first. Twelve epochs (91.3 % over two
 * seeds) took 2.4 times; twenty epochs, eight training views and 256-pixel crops were no
 * better on the fold screened. Fine-tuning keeps its last epoch, so validation
 * photos only decide when the head phase stops, and their accuracy stays close to that on
 * photos never used.
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
    .diagnosis_views = 1,
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
      recipe->finetune_epochs = 8;
      recipe->unfreeze = 4;
      recipe->finetune_lr = 3e-4;
      recipe->finetune_head_lr = 3e-4;
      recipe->optimizer = LEAF_OPTIMIZER_ADAMW;
      recipe->weight_decay = 0.01;
      recipe->schedule = LEAF_SCHEDULE_COSINE;
      recipe->label_smoothing = 0.1;
      recipe->views = 0;
      recipe->diagnosis_views = 8;
    }
}

/**
 * leaf_recipe_decide:
 * @recipe: a recipe whose automatic settings are to be decided
 * @n_train: how many photos it will train on
 *
 * Settles what the recipe leaves to the data: today the number of training views (0), which
 * becomes the most of 4, 2 and 1 that keeps @n_train x views within AUTO_VIEWS_BUDGET.
 *
 * Returns: (transfer full) (nullable): what was decided and why, in a sentence for the run's
 *   record and the Train view; %NULL when the recipe left nothing to decide
 */
char *
leaf_recipe_decide (LeafRecipe *recipe,
                    guint       n_train)
{
  g_return_val_if_fail (recipe != NULL, NULL);

  if (recipe->views != 0)
    return NULL;
  recipe->views = AUTO_VIEWS_MOST;
  while (recipe->views > 1 && (guint64) n_train * recipe->views > AUTO_VIEWS_BUDGET)
    recipe->views /= 2;
  if (recipe->views == AUTO_VIEWS_MOST)
    return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                         "All 4 flipped views of the %u training photo: up to "
                                         "%u photos get all 4.",
                                         "All 4 flipped views of each of the %u training "
                                         "photos: up to %u photos get all 4.",
                                         n_train),
                            n_train, AUTO_VIEWS_BUDGET / AUTO_VIEWS_MOST);
  return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                       "%u views of each of the %u training photo, not 4: "
                                       "photos × views are kept within %u so that computing "
                                       "the frozen stages stays within minutes.",
                                       "%u views of each of the %u training photos, not 4: "
                                       "photos × views are kept within %u so that computing "
                                       "the frozen stages stays within minutes.",
                                       n_train),
                          recipe->views, n_train, AUTO_VIEWS_BUDGET);
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
  else if (recipe->views != 0 && recipe->views != 1 && recipe->views != 2 && recipe->views != 4
           && recipe->views != 8)
    problem = _("the number of training views must be 0 (automatic), 1, 2, 4 or 8");
  else if (recipe->diagnosis_views != 1 && recipe->diagnosis_views != 8)
    problem = _("a model diagnoses from 1 view or averages 8");
  /* The upper bound is far above any rate that learns, and below the round numbers from 1e17 up
   * that json-glib 1.6 writes as invalid JSON ("1e+17.0") in the run's record. */
  else if (!(recipe->head_lr > 0 && recipe->head_lr <= 1e6
             && recipe->finetune_lr > 0 && recipe->finetune_lr <= 1e6
             && recipe->finetune_head_lr > 0 && recipe->finetune_head_lr <= 1e6))
    problem = _("learning rates must be above 0 and at most 1e6");
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

static const char *const optimizer_names[] = {
  [LEAF_OPTIMIZER_ADAM] = "adam",
  [LEAF_OPTIMIZER_ADAMW] = "adamw",
  [LEAF_OPTIMIZER_SGD] = "sgd",
};

static const char *const schedule_names[] = {
  [LEAF_SCHEDULE_CONSTANT] = "constant",
  [LEAF_SCHEDULE_COSINE] = "cosine",
  [LEAF_SCHEDULE_STEP] = "step",
};

static const char *const class_weights_names[] = {
  [LEAF_CLASS_WEIGHTS_AUTO] = "auto",
  [LEAF_CLASS_WEIGHTS_OFF] = "off",
  [LEAF_CLASS_WEIGHTS_BALANCED] = "balanced",
};

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
  leaf_json_add_string (b, "preset", leaf_preset_to_string (r->preset));
  leaf_json_add_int (b, "head_epochs", r->head_epochs);
  leaf_json_add_double (b, "head_lr", r->head_lr);
  leaf_json_add_boolean (b, "head_early_stopping", r->head_early_stopping);
  leaf_json_add_int (b, "finetune_epochs", r->finetune_epochs);
  leaf_json_add_int (b, "unfreeze", r->unfreeze);
  leaf_json_add_double (b, "finetune_lr", r->finetune_lr);
  leaf_json_add_double (b, "finetune_head_lr", r->finetune_head_lr);
  leaf_json_add_boolean (b, "finetune_early_stopping", r->finetune_early_stopping);
  leaf_json_add_int (b, "patience", r->patience);
  leaf_json_add_string (b, "optimizer", optimizer_names[r->optimizer]);
  leaf_json_add_double (b, "weight_decay", r->weight_decay);
  leaf_json_add_string (b, "schedule", schedule_names[r->schedule]);
  leaf_json_add_double (b, "label_smoothing", r->label_smoothing);
  leaf_json_add_string (b, "class_weights", class_weights_names[r->class_weights]);
  leaf_json_add_int (b, "batch_size", r->batch_size);
  leaf_json_add_int (b, "image_size", r->image_size);
  leaf_json_add_int (b, "resize_size", leaf_recipe_resize_size (r));
  leaf_json_add_int (b, "views", r->views);
  leaf_json_add_int (b, "diagnosis_views", r->diagnosis_views);
  leaf_json_add_boolean (b, "random_resized_crop", r->random_resized_crop);
  leaf_json_add_boolean (b, "color_jitter", r->color_jitter);
  leaf_json_add_boolean (b, "cache_features", r->cache_features);
  leaf_json_add_boolean (b, "from_scratch", r->from_scratch);
  leaf_json_add_int (b, "seed", (gint64) r->seed);
  leaf_json_add_double (b, "val_fraction", r->val_fraction);
  json_builder_end_object (b);

  return json_builder_get_root (b);
}

char *
leaf_recipe_to_string (const LeafRecipe *recipe)
{
  g_autoptr(JsonNode) node = leaf_recipe_to_json (recipe);
  return json_to_string (node, FALSE);
}

/**
 * leaf_recipe_changes_to_string:
 *
 * Settings keep what the user changed, not a copy of the preset: a preset that improves in a
 * later version then reaches everyone who only changed, say, the seed.
 *
 * Returns: (transfer full): the recipe as JSON naming its preset and only the members that
 *   differ from it; leaf_recipe_from_string() reads it back to the same recipe
 */
char *
leaf_recipe_changes_to_string (const LeafRecipe *recipe)
{
  LeafRecipe preset;
  g_autoptr(JsonNode) node = leaf_recipe_to_json (recipe);
  g_autoptr(JsonNode) preset_node = NULL;
  JsonObject *object = json_node_get_object (node);
  JsonObject *preset_object;
  g_autoptr(GList) names = json_object_get_members (object);

  leaf_recipe_init_preset (&preset, recipe->preset);
  preset_node = leaf_recipe_to_json (&preset);
  preset_object = json_node_get_object (preset_node);
  for (GList *l = names; l != NULL; l = l->next)
    {
      /* The object owns the names it lists, and removing a member frees its name. */
      g_autofree char *name = g_strdup (l->data);

      if (strcmp (name, "preset") != 0
          && json_node_equal (json_object_get_member (object, name),
                              json_object_get_member (preset_object, name)))
        json_object_remove_member (object, name);
    }
  return json_to_string (node, FALSE);
}

/* Reading a recipe back. Members that are absent keep the preset's value, so that a recipe
 * saved by an older version, which knew fewer settings, still loads. */

static gboolean
invalid_member (const char  *name,
                GError     **error)
{
  g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
               _("Invalid training recipe: “%s” has the wrong type or value"), name);
  return FALSE;
}

static JsonNode *
value_member (JsonObject *object,
              const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  return node != NULL && JSON_NODE_HOLDS_VALUE (node) ? node : NULL;
}

static gboolean
read_number (JsonObject  *object,
             const char  *name,
             double      *value,
             GError     **error)
{
  JsonNode *node;
  GType type;

  if (!json_object_has_member (object, name))
    return TRUE;
  node = value_member (object, name);
  type = node ? json_node_get_value_type (node) : G_TYPE_INVALID;
  if (type != G_TYPE_INT64 && type != G_TYPE_DOUBLE)
    return invalid_member (name, error);
  *value = json_node_get_double (node);
  if (!isfinite (*value))
    return invalid_member (name, error);
  return TRUE;
}

static gboolean
read_uint (JsonObject  *object,
           const char  *name,
           guint       *value,
           GError     **error)
{
  double number = *value;

  if (!read_number (object, name, &number, error))
    return FALSE;
  if (number < 0 || number > G_MAXUINT || number != floor (number))
    return invalid_member (name, error);
  *value = (guint) number;
  return TRUE;
}

static gboolean
read_boolean (JsonObject  *object,
              const char  *name,
              gboolean    *value,
              GError     **error)
{
  JsonNode *node;

  if (!json_object_has_member (object, name))
    return TRUE;
  node = value_member (object, name);
  if (node == NULL || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return invalid_member (name, error);
  *value = json_node_get_boolean (node);
  return TRUE;
}

/* Enums are stored by name; @names is indexed by the enum's value. */
static gboolean
read_enum (JsonObject         *object,
           const char         *name,
           const char * const *names,
           guint               n_names,
           guint              *value,
           GError            **error)
{
  JsonNode *node;
  const char *text;

  if (!json_object_has_member (object, name))
    return TRUE;
  node = value_member (object, name);
  text = node && json_node_get_value_type (node) == G_TYPE_STRING ? json_node_get_string (node)
                                                                  : NULL;
  for (guint i = 0; text != NULL && i < n_names; i++)
    if (g_strcmp0 (text, names[i]) == 0)
      {
        *value = i;
        return TRUE;
      }
  return invalid_member (name, error);
}

/**
 * leaf_recipe_from_json:
 * @node: an object as leaf_recipe_to_json() writes it
 * @recipe: (out caller-allocates): the recipe; left unchanged on failure
 *
 * Starts from the preset the object names ("default" when it names none), takes every member
 * it has, and validates the result.
 *
 * Returns: whether @node held a valid recipe; %FALSE with @error set otherwise
 */
gboolean
leaf_recipe_from_json (JsonNode    *node,
                       LeafRecipe  *recipe,
                       GError     **error)
{
  LeafRecipe r;
  JsonObject *object;
  LeafPreset preset = LEAF_PRESET_DEFAULT;
  guint optimizer, schedule, class_weights;
  JsonNode *member;

  g_return_val_if_fail (recipe != NULL, FALSE);

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error_literal (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                           _("Invalid training recipe: it is not a JSON object"));
      return FALSE;
    }
  object = json_node_get_object (node);
  if (json_object_has_member (object, "preset"))
    {
      member = value_member (object, "preset");
      if (member == NULL || json_node_get_value_type (member) != G_TYPE_STRING
          || !leaf_preset_from_string (json_node_get_string (member), &preset))
        return invalid_member ("preset", error);
    }
  leaf_recipe_init_preset (&r, preset);
  optimizer = r.optimizer;
  schedule = r.schedule;
  class_weights = r.class_weights;

  if (!read_uint (object, "head_epochs", &r.head_epochs, error)
      || !read_number (object, "head_lr", &r.head_lr, error)
      || !read_boolean (object, "head_early_stopping", &r.head_early_stopping, error)
      || !read_uint (object, "finetune_epochs", &r.finetune_epochs, error)
      || !read_uint (object, "unfreeze", &r.unfreeze, error)
      || !read_number (object, "finetune_lr", &r.finetune_lr, error)
      || !read_number (object, "finetune_head_lr", &r.finetune_head_lr, error)
      || !read_boolean (object, "finetune_early_stopping", &r.finetune_early_stopping, error)
      || !read_uint (object, "patience", &r.patience, error)
      || !read_enum (object, "optimizer", optimizer_names, G_N_ELEMENTS (optimizer_names),
                     &optimizer, error)
      || !read_number (object, "weight_decay", &r.weight_decay, error)
      || !read_enum (object, "schedule", schedule_names, G_N_ELEMENTS (schedule_names),
                     &schedule, error)
      || !read_number (object, "label_smoothing", &r.label_smoothing, error)
      || !read_enum (object, "class_weights", class_weights_names,
                     G_N_ELEMENTS (class_weights_names), &class_weights, error)
      || !read_uint (object, "batch_size", &r.batch_size, error)
      || !read_uint (object, "image_size", &r.image_size, error)
      || !read_uint (object, "views", &r.views, error)
      || !read_uint (object, "diagnosis_views", &r.diagnosis_views, error)
      || !read_boolean (object, "random_resized_crop", &r.random_resized_crop, error)
      || !read_boolean (object, "color_jitter", &r.color_jitter, error)
      || !read_boolean (object, "cache_features", &r.cache_features, error)
      || !read_boolean (object, "from_scratch", &r.from_scratch, error)
      || !read_number (object, "val_fraction", &r.val_fraction, error))
    return FALSE;
  /* Read as an integer, not through a double, to keep all 64 bits of the seed. */
  if (json_object_has_member (object, "seed"))
    {
      member = value_member (object, "seed");
      if (member == NULL || json_node_get_value_type (member) != G_TYPE_INT64
          || json_node_get_int (member) < 0)
        return invalid_member ("seed", error);
      r.seed = (guint64) json_node_get_int (member);
    }
  r.optimizer = optimizer;
  r.schedule = schedule;
  r.class_weights = class_weights;

  if (!leaf_recipe_validate (&r, error))
    return FALSE;
  *recipe = r;
  return TRUE;
}

/**
 * leaf_recipe_from_string:
 * @text: JSON text as leaf_recipe_to_string() writes it
 * @recipe: (out caller-allocates): the recipe; left unchanged on failure
 *
 * Returns: whether @text held a valid recipe; %FALSE with @error set otherwise
 */
gboolean
leaf_recipe_from_string (const char  *text,
                         LeafRecipe  *recipe,
                         GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) local = NULL;

  g_return_val_if_fail (text != NULL, FALSE);
  g_return_val_if_fail (recipe != NULL, FALSE);

  if (!json_parser_load_from_data (parser, text, -1, &local))
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                   _("Invalid training recipe: %s"), local->message);
      return FALSE;
    }
  return leaf_recipe_from_json (json_parser_get_root (parser), recipe, error);
}

/**
 * leaf_recipe_describe_record:
 * @record_json: a recipe as a run records it (leaf_recipe_to_json(), with the run's
 *   "decisions" when it made any)
 *
 * Returns: (transfer full) (nullable): one line for people saying how the model was trained,
 *   followed on a second line by what the run decided from the data; %NULL when @record_json
 *   is not a recipe
 */
char *
leaf_recipe_describe_record (const char *record_json)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GString) text = g_string_new (NULL);
  LeafRecipe r;
  JsonNode *root;
  const char *decisions = NULL;

  if (record_json == NULL || !json_parser_load_from_data (parser, record_json, -1, NULL))
    return NULL;
  root = json_parser_get_root (parser);
  if (!leaf_recipe_from_json (root, &r, NULL))
    return NULL;
  decisions = _leaf_json_string_member (json_node_get_object (root), "decisions");

  g_string_append (text, r.preset == LEAF_PRESET_ARTICLE ? _("Article preset")
                                                         : _("Default preset"));
  /* Translators: what separates the parts of a recipe's description */
#define NEXT_PART() g_string_append (text, _(" · "))
  if (r.views > 1)
    {
      NEXT_PART ();
      g_string_append (text, r.views == 8 ? _("8 views (flips and quarter turns)")
                             : r.views == 4 ? _("4 views (flips)") : _("2 views (mirrored)"));
    }
  if (r.head_epochs > 0)
    {
      NEXT_PART ();
      g_string_append_printf (text, r.head_early_stopping ? _("head up to %u epochs")
                                                          : _("head %u epochs"), r.head_epochs);
    }
  if (r.finetune_epochs > 0 && r.unfreeze > 0)
    {
      NEXT_PART ();
      g_string_append_printf (text, r.finetune_early_stopping
                                      ? _("last %u stages up to %u epochs at %g")
                                      : _("last %u stages %u epochs at %g"),
                              r.unfreeze, r.finetune_epochs, r.finetune_lr);
    }
  NEXT_PART ();
  g_string_append (text, r.optimizer == LEAF_OPTIMIZER_SGD ? "SGD"
                         : r.optimizer == LEAF_OPTIMIZER_ADAMW ? "AdamW" : "Adam");
  if (r.weight_decay > 0)
    g_string_append_printf (text, _(", weight decay %g"), r.weight_decay);
  if (r.schedule != LEAF_SCHEDULE_CONSTANT)
    {
      NEXT_PART ();
      g_string_append (text, r.schedule == LEAF_SCHEDULE_COSINE ? _("cosine schedule")
                                                                : _("step schedule"));
    }
  if (r.label_smoothing > 0)
    {
      NEXT_PART ();
      g_string_append_printf (text, _("label smoothing %g"), r.label_smoothing);
    }
  if (r.diagnosis_views > 1)
    {
      NEXT_PART ();
      g_string_append_printf (text, _("diagnoses averaged over %u views"), r.diagnosis_views);
    }
#undef NEXT_PART
  if (decisions != NULL && decisions[0] != '\0')
    g_string_append_printf (text, "\n%s", decisions);
  return g_string_free (g_steal_pointer (&text), FALSE);
}
