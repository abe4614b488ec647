/* test-recipe.c: the training recipe survives JSON, as the Train view saves it in GSettings
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <math.h>

#include "leaf-test.h"

#include <string.h>

#include "leaf-error.h"
#include "leaf-recipe.h"

static void
assert_recipes_equal (const LeafRecipe *a,
                      const LeafRecipe *b)
{
  g_autofree char *ja = leaf_recipe_to_string (a);
  g_autofree char *jb = leaf_recipe_to_string (b);

  g_assert_cmpstr (ja, ==, jb);
  /* Field by field too, so that a member the JSON forgets cannot pass. */
  g_assert_cmpint (a->preset, ==, b->preset);
  g_assert_cmpuint (a->head_epochs, ==, b->head_epochs);
  g_assert_cmpfloat (a->head_lr, ==, b->head_lr);
  g_assert_cmpint (a->head_early_stopping, ==, b->head_early_stopping);
  g_assert_cmpuint (a->finetune_epochs, ==, b->finetune_epochs);
  g_assert_cmpuint (a->unfreeze, ==, b->unfreeze);
  g_assert_cmpfloat (a->finetune_lr, ==, b->finetune_lr);
  g_assert_cmpfloat (a->finetune_head_lr, ==, b->finetune_head_lr);
  g_assert_cmpint (a->finetune_early_stopping, ==, b->finetune_early_stopping);
  g_assert_cmpuint (a->patience, ==, b->patience);
  g_assert_cmpint (a->optimizer, ==, b->optimizer);
  g_assert_cmpfloat (a->weight_decay, ==, b->weight_decay);
  g_assert_cmpint (a->schedule, ==, b->schedule);
  g_assert_cmpfloat (a->label_smoothing, ==, b->label_smoothing);
  g_assert_cmpint (a->class_weights, ==, b->class_weights);
  g_assert_cmpuint (a->batch_size, ==, b->batch_size);
  g_assert_cmpuint (a->image_size, ==, b->image_size);
  g_assert_cmpuint (a->views, ==, b->views);
  g_assert_cmpuint (a->diagnosis_views, ==, b->diagnosis_views);
  g_assert_cmpint (a->random_resized_crop, ==, b->random_resized_crop);
  g_assert_cmpint (a->color_jitter, ==, b->color_jitter);
  g_assert_cmpint (a->cache_features, ==, b->cache_features);
  g_assert_cmpint (a->from_scratch, ==, b->from_scratch);
  g_assert_cmpuint (a->seed, ==, b->seed);
  g_assert_cmpfloat (a->val_fraction, ==, b->val_fraction);
}

static void
round_trip (const LeafRecipe *recipe)
{
  g_autofree char *text = leaf_recipe_to_string (recipe);
  g_autoptr(GError) error = NULL;
  LeafRecipe back;

  /* Start from something else, so that a member left unread shows. */
  leaf_recipe_init_preset (&back, recipe->preset == LEAF_PRESET_ARTICLE ? LEAF_PRESET_DEFAULT
                                                                        : LEAF_PRESET_ARTICLE);
  g_assert_true (leaf_recipe_from_string (text, &back, &error));
  g_assert_no_error (error);
  assert_recipes_equal (recipe, &back);
}

static void
test_round_trip (void)
{
  LeafRecipe recipe;

  leaf_recipe_init_preset (&recipe, LEAF_PRESET_DEFAULT);
  round_trip (&recipe);
  leaf_recipe_init_preset (&recipe, LEAF_PRESET_ARTICLE);
  round_trip (&recipe);

  /* Every member away from both presets, every enum at a value no preset uses. */
  recipe = (LeafRecipe) {
    .preset = LEAF_PRESET_ARTICLE,
    .head_epochs = 17,
    .head_lr = 3e-4,
    .head_early_stopping = TRUE,
    .finetune_epochs = 0,
    .unfreeze = 5,
    .finetune_lr = 2.5e-6,
    .finetune_head_lr = 7.5e-5,
    .finetune_early_stopping = TRUE,
    .patience = 11,
    .optimizer = LEAF_OPTIMIZER_SGD,
    .weight_decay = 0.01,
    .schedule = LEAF_SCHEDULE_STEP,
    .label_smoothing = 0.15,
    .class_weights = LEAF_CLASS_WEIGHTS_BALANCED,
    .batch_size = 12,
    .image_size = 160,
    .views = 8,
    .diagnosis_views = 8,     /* the article preset's is 1 */
    .random_resized_crop = TRUE,
    .color_jitter = TRUE,
    .cache_features = FALSE,
    .from_scratch = TRUE,
    .seed = G_GUINT64_CONSTANT (0x7fffffff12345678),
    .val_fraction = 0.35,
  };
  round_trip (&recipe);
  recipe.optimizer = LEAF_OPTIMIZER_ADAMW;
  recipe.schedule = LEAF_SCHEDULE_COSINE;
  recipe.class_weights = LEAF_CLASS_WEIGHTS_OFF;
  round_trip (&recipe);
}

/* The largest learning rate a recipe takes still reads back from its JSON; the next round
 * numbers, which json-glib 1.6 writes as "1e+17.0", are refused before anything is written
 * (a rate of 1e36 used to fail the run with "not valid JSON"). */
static void
test_learning_rate_bounds (void)
{
  g_autoptr(GError) error = NULL;
  LeafRecipe recipe;

  leaf_recipe_init_preset (&recipe, LEAF_PRESET_DEFAULT);
  recipe.head_lr = recipe.finetune_lr = recipe.finetune_head_lr = 1e6;
  g_assert_true (leaf_recipe_validate (&recipe, &error));
  g_assert_no_error (error);
  round_trip (&recipe);

  for (guint i = 0; i < 3; i++)
    {
      const double bad[] = { 1e17, 1e36, INFINITY };

      leaf_recipe_init_preset (&recipe, LEAF_PRESET_DEFAULT);
      recipe.finetune_lr = bad[i];
      g_assert_false (leaf_recipe_validate (&recipe, &error));
      g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID);
      g_assert_nonnull (strstr (error->message, "learning rate"));
      g_clear_error (&error);
    }
}

/* An older version's recipe lacks newer members: they take the named preset's values. */
static void
test_missing_members (void)
{
  g_autoptr(GError) error = NULL;
  LeafRecipe recipe, expected;

  g_assert_true (leaf_recipe_from_string ("{\"preset\": \"article\", \"head_epochs\": 9}",
                                          &recipe, &error));
  g_assert_no_error (error);
  leaf_recipe_init_preset (&expected, LEAF_PRESET_ARTICLE);
  expected.head_epochs = 9;
  assert_recipes_equal (&recipe, &expected);

  g_assert_true (leaf_recipe_from_string ("{}", &recipe, &error));
  leaf_recipe_init_preset (&expected, LEAF_PRESET_DEFAULT);
  assert_recipes_equal (&recipe, &expected);
}

static void
test_invalid (void)
{
  const char *invalid[] = {
    "",
    "not json",
    "[1, 2]",
    "{\"preset\": \"fastest\"}",
    "{\"head_epochs\": \"five\"}",
    "{\"head_epochs\": -1}",
    "{\"head_epochs\": 2.5}",
    "{\"head_lr\": true}",
    "{\"head_early_stopping\": 1}",
    "{\"optimizer\": \"lion\"}",
    "{\"schedule\": 3}",
    "{\"seed\": -4}",
    "{\"seed\": 1.5}",
    "{\"views\": 3}",                 /* parses, but validation refuses it */
    "{\"diagnosis_views\": 4}",
    "{\"val_fraction\": 1.0}",
    "{\"head_epochs\": 0, \"finetune_epochs\": 0}",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (invalid); i++)
    {
      g_autoptr(GError) error = NULL;
      LeafRecipe recipe, untouched;

      leaf_recipe_init_preset (&recipe, LEAF_PRESET_ARTICLE);
      recipe.seed = 99;
      untouched = recipe;
      g_test_message ("%s", invalid[i]);
      g_assert_false (leaf_recipe_from_string (invalid[i], &recipe, &error));
      g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID);
      g_assert_true (memcmp (&recipe, &untouched, sizeof recipe) == 0);
    }
}

/* Settings keep only what differs from the preset, so that a better preset in a later version
 * reaches a user who changed only the seed; read back, it is the same recipe. */
static void
test_changes_only (void)
{
  LeafPreset presets[] = { LEAF_PRESET_DEFAULT, LEAF_PRESET_ARTICLE };

  for (gsize i = 0; i < G_N_ELEMENTS (presets); i++)
    {
      g_autofree char *plain = NULL;
      g_autofree char *changed = NULL;
      g_autofree char *expected = g_strdup_printf ("{\"preset\":\"%s\"}",
                                                   leaf_preset_to_string (presets[i]));
      g_autoptr(GError) error = NULL;
      LeafRecipe recipe, back;

      leaf_recipe_init_preset (&recipe, presets[i]);
      plain = leaf_recipe_changes_to_string (&recipe);
      g_assert_cmpstr (plain, ==, expected);

      recipe.seed = 7;
      recipe.finetune_lr = 3e-5;
      recipe.views = 2;
      changed = leaf_recipe_changes_to_string (&recipe);
      g_assert_nonnull (strstr (changed, "\"seed\":7"));
      g_assert_null (strstr (changed, "\"optimizer\""));
      g_assert_null (strstr (changed, "\"unfreeze\""));
      leaf_recipe_init_preset (&back, presets[i] == LEAF_PRESET_ARTICLE ? LEAF_PRESET_DEFAULT
                                                                        : LEAF_PRESET_ARTICLE);
      g_assert_true (leaf_recipe_from_string (changed, &back, &error));
      g_assert_no_error (error);
      assert_recipes_equal (&recipe, &back);
    }
}

/* The presets are what was measured: the article's recipe, and the default chosen by 5-fold
 * cross-validation (cv.py's "cut4-adamw-cosine-8"; BENCHMARKS.md "One stage deeper"). A change
 * to either must come with new figures there. */
static void
test_presets (void)
{
  LeafRecipe recipe;

  leaf_recipe_init_preset (&recipe, LEAF_PRESET_ARTICLE);
  g_assert_cmpuint (recipe.head_epochs, ==, 5);
  g_assert_cmpfloat (recipe.head_lr, ==, 1e-3);
  g_assert_cmpuint (recipe.unfreeze, ==, 2);
  g_assert_cmpuint (recipe.finetune_epochs, ==, 10);
  g_assert_cmpfloat (recipe.finetune_lr, ==, 1e-5);
  g_assert_cmpint (recipe.optimizer, ==, LEAF_OPTIMIZER_ADAM);
  g_assert_cmpint (recipe.schedule, ==, LEAF_SCHEDULE_CONSTANT);
  g_assert_cmpfloat (recipe.label_smoothing, ==, 0.0);
  g_assert_cmpuint (recipe.views, ==, 1);
  g_assert_cmpuint (recipe.diagnosis_views, ==, 1);

  leaf_recipe_init_preset (&recipe, LEAF_PRESET_DEFAULT);
  g_assert_true (recipe.head_early_stopping);
  g_assert_cmpuint (recipe.unfreeze, ==, 4);
  g_assert_cmpuint (leaf_recipe_cut (&recipe), ==, 5);
  g_assert_cmpint (recipe.optimizer, ==, LEAF_OPTIMIZER_ADAMW);
  g_assert_cmpfloat (recipe.weight_decay, ==, 0.01);
  g_assert_cmpfloat (recipe.finetune_lr, ==, 3e-4);
  g_assert_cmpfloat (recipe.finetune_head_lr, ==, 3e-4);
  g_assert_cmpint (recipe.schedule, ==, LEAF_SCHEDULE_COSINE);
  g_assert_cmpuint (recipe.finetune_epochs, ==, 8);
  g_assert_false (recipe.finetune_early_stopping);
  g_assert_cmpfloat (recipe.label_smoothing, ==, 0.1);
  g_assert_cmpuint (recipe.views, ==, 0);
  g_assert_cmpuint (recipe.diagnosis_views, ==, 8);
  g_assert_true (leaf_recipe_validate (&recipe, NULL));
}

/* Automatic views: the 4 flips for small sets, fewer as photos x views would pass 20,000. */
static void
test_decide_views (void)
{
  const struct { guint n_train, views; } cases[] = {
    { 1, 4 }, { 480, 4 }, { 5000, 4 }, { 5001, 2 }, { 10000, 2 }, { 10001, 1 }, { 500000, 1 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *why = NULL;
      g_autofree char *count = g_strdup_printf ("%u", cases[i].n_train);
      LeafRecipe recipe;

      leaf_recipe_init_preset (&recipe, LEAF_PRESET_DEFAULT);
      g_assert_cmpuint (recipe.views, ==, 0);
      why = leaf_recipe_decide (&recipe, cases[i].n_train);
      g_assert_cmpuint (recipe.views, ==, cases[i].views);
      g_assert_true (leaf_recipe_validate (&recipe, NULL));
      g_assert_nonnull (why);
      g_assert_nonnull (strstr (why, count));
    }
}

/* A recipe that names its views leaves nothing to decide; the article's is one. */
static void
test_decide_nothing (void)
{
  LeafRecipe recipe, before;

  leaf_recipe_init_preset (&recipe, LEAF_PRESET_ARTICLE);
  before = recipe;
  g_assert_null (leaf_recipe_decide (&recipe, 100000));
  g_assert_true (memcmp (&recipe, &before, sizeof recipe) == 0);

  leaf_recipe_init_preset (&recipe, LEAF_PRESET_DEFAULT);
  recipe.views = 2;
  g_assert_null (leaf_recipe_decide (&recipe, 10));
  g_assert_cmpuint (recipe.views, ==, 2);
}

static void
test_describe_record (void)
{
  g_autofree char *text = NULL;
  g_autofree char *article = NULL;

  text = leaf_recipe_describe_record ("{\"preset\": \"default\", \"views\": 8, \"unfreeze\": 2, "
                                      "\"label_smoothing\": 0.1, \"decisions\": \"Because.\"}");
  g_assert_nonnull (text);
  g_assert_nonnull (strstr (text, "8 views"));
  g_assert_nonnull (strstr (text, "last 2 stages"));
  g_assert_nonnull (strstr (text, "label smoothing 0.1"));
  g_assert_true (g_str_has_suffix (text, "\nBecause."));

  article = leaf_recipe_describe_record ("{\"preset\": \"article\"}");
  g_assert_nonnull (strstr (article, "Article preset"));
  g_assert_null (strstr (article, "views"));
  g_assert_null (strchr (article, '\n'));

  g_assert_null (leaf_recipe_describe_record ("{\"views\": 3}"));
  g_assert_null (leaf_recipe_describe_record ("not json"));
  g_assert_null (leaf_recipe_describe_record (NULL));
}

int
main (int   argc,
      char *argv[])
{
  leaf_test_init (&argc, &argv);
  g_test_add_func ("/recipe/json/round-trip", test_round_trip);
  g_test_add_func ("/recipe/json/missing-members-keep-preset", test_missing_members);
  g_test_add_func ("/recipe/json/invalid", test_invalid);
  g_test_add_func ("/recipe/learning-rate-bounds", test_learning_rate_bounds);
  g_test_add_func ("/recipe/json/changes-only", test_changes_only);
  g_test_add_func ("/recipe/presets", test_presets);
  g_test_add_func ("/recipe/decide/views", test_decide_views);
  g_test_add_func ("/recipe/decide/nothing", test_decide_nothing);
  g_test_add_func ("/recipe/describe-record", test_describe_record);
  return g_test_run ();
}
