/* leaf-model-card.c: a Markdown description of a trained model, for whoever relies on it
 *
 * After Mitchell et al., "Model Cards for Model Reporting" (2019): what the model was trained
 * on, how, how well it does per class, how far its confidence can be trusted, and where it
 * should not be used.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-model-card"

#include "config.h"

#include <inttypes.h>
#include <math.h>

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

#include "leaf-catalog.h"
#include "leaf-file.h"
#include "leaf-json-private.h"
#include "leaf-metrics.h"
#include "leaf-model-card.h"

static JsonObject *
parse_object (JsonParser *parser,
              const char *json)
{
  JsonNode *root;

  if (json == NULL || !json_parser_load_from_data (parser, json, -1, NULL))
    return NULL;
  root = json_parser_get_root (parser);
  return _leaf_json_node_object (root);
}

static gboolean
append_data (GString             *md,
             LeafCatalog         *catalog,
             const LeafModelMeta *meta,
             GError             **error)
{
  static const char *split_names[] = { N_("unassigned"), N_("train"), N_("validation"), N_("test") };
  LeafImageQuery query = { .labels = LEAF_LABEL_FILTER_LABELED };
  g_autoptr(GPtrArray) classes = leaf_catalog_list_classes (catalog, error);
  g_autoptr(GPtrArray) images = NULL;
  g_autofree guint *counts = NULL;
  guint totals[4] = { 0 };

  if (classes == NULL)
    return FALSE;
  images = leaf_catalog_query_images (catalog, &query, 0, G_MAXUINT, error);
  if (images == NULL)
    return FALSE;

  /* Rows follow the model's classes; photos of classes the model lacks are not counted. */
  counts = g_new0 (guint, meta->n_classes * 4);
  for (guint i = 0; i < images->len; i++)
    {
      LeafCatalogImage *image = images->pdata[i];
      gint64 class_id = leaf_catalog_image_get_class_id (image);
      guint split = leaf_catalog_image_get_split (image);

      for (guint k = 0; k < classes->len; k++)
        {
          LeafClassInfo *info = classes->pdata[k];
          if (info->id != class_id)
            continue;
          for (guint c = 0; c < meta->n_classes; c++)
            if (g_str_equal (meta->classes[c], info->name) && split < 4)
              {
                counts[c * 4 + split]++;
                totals[split]++;
              }
        }
    }

  g_string_append_printf (md, "## %s\n\n", _("Data"));
  g_string_append_printf (md, _("Labelled photos in the catalog now, by class and split (the "
                                "validation split is the one the model was calibrated and "
                                "measured on).\n\n"));
  g_string_append_printf (md, "| %s | %s | %s | %s | %s | %s |\n|---|---:|---:|---:|---:|---:|\n",
                          _("Class"), _(split_names[1]), _(split_names[2]), _(split_names[3]),
                          _(split_names[0]), _("Total"));
  for (guint c = 0; c < meta->n_classes; c++)
    {
      guint *row = counts + c * 4;
      g_string_append_printf (md, "| %s | %u | %u | %u | %u | %u |\n", meta->classes[c], row[1],
                              row[2], row[3], row[0], row[0] + row[1] + row[2] + row[3]);
    }
  g_string_append_printf (md, "| **%s** | %u | %u | %u | %u | %u |\n\n", _("All"), totals[1],
                          totals[2], totals[3], totals[0],
                          totals[0] + totals[1] + totals[2] + totals[3]);
  return TRUE;
}

/* Where the labels came from: one person, several who agreed, a majority, an adjudicator. */
static gboolean
append_agreement (GString      *md,
                  LeafCatalog  *catalog,
                  GError      **error)
{
  g_autoptr(LeafAgreement) agreement = leaf_catalog_get_agreement (catalog, error);
  const LeafKappa *overall;

  if (agreement == NULL)
    return FALSE;
  overall = &agreement->overall;
  g_string_append_printf (md, "## %s\n\n", _("How labels were agreed"));
  g_string_append_printf (md, _("Each label is a labeller's vote; training uses an "
                                "adjudicator's decision, else the class most votes name.\n\n"
                                "- Labelled by one person: %u\n"
                                "- By several who agreed: %u\n"
                                "- By the majority of several who disagreed: %u\n"
                                "- Decided by an adjudicator: %u\n"
                                "- Waiting for a decision: %u (where the votes tie there is no "
                                "label, and training left the photo out)\n"),
                          agreement->n_single, agreement->n_unanimous, agreement->n_majority,
                          agreement->n_adjudicated, agreement->n_disputed);
  if (overall->method != LEAF_KAPPA_NONE && !isnan (overall->kappa))
    g_string_append_printf (md, _("- Agreement beyond chance: %s kappa %.2f over %u photos "
                                  "labelled by %u people\n\n"),
                            overall->method == LEAF_KAPPA_COHEN ? _("Cohen’s") : _("Fleiss’"),
                            overall->kappa, overall->n_items, overall->n_raters);
  else
    g_string_append_printf (md, _("- Agreement between labellers: not measured (no photo has "
                                  "labels from two people)\n\n"));
  return TRUE;
}

static void
append_recipe (GString    *md,
               JsonObject *recipe)
{
  g_autoptr(GList) members = json_object_get_members (recipe);

  g_string_append_printf (md, "## %s\n\n", _("Training recipe"));
  for (GList *l = members; l != NULL; l = l->next)
    {
      JsonNode *node = json_object_get_member (recipe, l->data);
      /* %g, not JSON's round-trip digits: 0.4, not 0.40000000000000002. */
      g_autofree char *value = json_node_get_value_type (node) == G_TYPE_DOUBLE
                                 ? g_strdup_printf ("%g", json_node_get_double (node))
                                 : json_to_string (node, FALSE);
      g_string_append_printf (md, "- `%s`: %s\n", (const char *) l->data, value);
    }
  g_string_append (md, "\n");
}

/* One cell of the per-class table: "—" for a ratio that is undefined or missing. */
static void
append_ratio_cell (GString *md,
                   double   value)
{
  if (isnan (value))
    g_string_append (md, " — |");
  else
    g_string_append_printf (md, " %.3f |", value);
}

/* The metrics and the calibration come from files a user may have edited or damaged: members of
 * another JSON type than written read as missing (NaN or 0 in the card), never as an error. */
static void
append_metrics (GString           *md,
                const LeafMetrics *metrics)
{
  g_string_append_printf (md, "## %s\n\n", _("Performance on the validation split"));
  g_string_append_printf (md, _("Accuracy %.2f %% on %" PRId64 " photos, macro F1 "
                                "%.3f.\n\n"),
                          100 * metrics->accuracy, metrics->n, metrics->macro_f1);
  if (metrics->n < 100)
    g_string_append_printf (md, _("With so few validation photos these figures are rough: one "
                                  "photo more or less right moves them by several points.\n\n"));
  if (metrics->n_classes == 0)
    return;
  g_string_append_printf (md, "| %s | %s | %s | F1 | %s |\n|---|---:|---:|---:|---:|\n",
                          _("Class"), _("Precision"), _("Recall"), _("Photos"));
  for (guint i = 0; i < metrics->n_classes; i++)
    {
      const LeafClassMetrics *pc = &metrics->per_class[i];

      g_string_append_printf (md, "| %s |", pc->name != NULL ? pc->name : "?");
      append_ratio_cell (md, pc->precision);
      append_ratio_cell (md, pc->recall);
      append_ratio_cell (md, pc->f1);
      g_string_append_printf (md, " %" G_GINT64_FORMAT " |\n", pc->support);
    }
  g_string_append (md, "\n");
}

static void
append_calibration (GString             *md,
                    const LeafModelMeta *meta,
                    JsonObject          *calibration)
{
  g_string_append_printf (md, "## %s\n\n", _("Calibration and referral"));
  g_string_append_printf (md, _("- Temperature: %.4f (logits are divided by it before the "
                                "softmax)\n"), meta->temperature);
  if (meta->refer_below > 0)
    g_string_append_printf (md, _("- Diagnoses whose top probability is below %.1f %% are marked "
                                  "“refer to an expert”\n"), 100 * meta->refer_below);
  else
    g_string_append_printf (md, _("- No referral threshold: every diagnosis stands\n"));
  if (calibration != NULL)
    {
      JsonNode *kept = json_object_get_member (calibration, "scaling_kept");

      /* A run that found scaling made things worse kept the probabilities as they were. */
      if (kept != NULL && JSON_NODE_HOLDS_VALUE (kept) &&
          json_node_get_value_type (kept) == G_TYPE_BOOLEAN && !json_node_get_boolean (kept))
        g_string_append_printf (md, _("- Expected calibration error on validation: %.2f %%; "
                                      "temperature scaling would have made it %.2f %%, so the "
                                      "uncalibrated probabilities were kept\n"),
                                100 * _leaf_json_double_member (calibration, "ece_before", NAN),
                                100 * _leaf_json_double_member (calibration, "ece_fitted", NAN));
      else
        g_string_append_printf (md, _("- Expected calibration error on validation: %.2f %% "
                                      "before, %.2f %% after temperature scaling\n"),
                                100 * _leaf_json_double_member (calibration, "ece_before", NAN),
                                100 * _leaf_json_double_member (calibration, "ece_after", NAN));
      g_string_append_printf (md, _("- At that threshold %.1f %% of validation photos keep their "
                                    "diagnosis, with %.2f %% errors among them\n"),
                              100 * _leaf_json_double_member (calibration, "coverage", NAN),
                              100 * _leaf_json_double_member (calibration, "covered_error", NAN));
    }
  g_string_append (md, "\n");
}

/**
 * leaf_model_card_describe_training:
 * @meta: a model file's metadata
 *
 * What the model was trained on, in a sentence or two for whoever reads its diagnoses: how
 * many photos, of which classes, whether they look like laboratory photos, and whether photos
 * unlike them are referred.
 *
 * Returns: (transfer full): plain text
 */
char *
leaf_model_card_describe_training (const LeafModelMeta *meta)
{
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(GString) classes = g_string_new (NULL);
  /* Only a run records the share, with the count. */
  double plain = meta->train_photos > 0 ? meta->plain_background : NAN;

  g_return_val_if_fail (meta != NULL, NULL);

  for (guint c = 0; c < meta->n_classes; c++)
    g_string_append_printf (classes, c == 0 ? "%s" : ", %s", meta->classes[c]);
  if (meta->train_photos > 0)
    g_string_append_printf (text, g_dngettext (GETTEXT_PACKAGE,
                                               "Trained on %u photo of %s.",
                                               "Trained on %u photos of %s.",
                                               meta->train_photos),
                            meta->train_photos, classes->str);
  else
    g_string_append_printf (text, _("Knows %s; what it was trained on is not recorded."),
                            classes->str);
  if (plain >= 0.8)
    g_string_append_printf (text, _(" %.0f %% of them are on a plain background, as in a "
                                    "laboratory: field photos may be referred or misjudged."),
                            100 * plain);
  else if (plain <= 0.2)
    g_string_append_printf (text, _(" Most of them are not on a plain background, as field "
                                    "photos are not."));
  else if (!isnan (plain))
    g_string_append_printf (text, _(" %.0f %% of them are on a plain background, as in a "
                                    "laboratory."), 100 * plain);
  if (meta->ood != NULL)
    g_string_append (text, _(" Photos unlike them are referred to an expert."));
  else
    g_string_append (text, _(" It cannot tell photos unlike them apart."));
  return g_string_free (g_steal_pointer (&text), FALSE);
}

static void
append_training (GString             *md,
                 const LeafModelMeta *meta)
{
  g_autofree char *summary = leaf_model_card_describe_training (meta);

  g_string_append_printf (md, "## %s\n\n%s\n\n", _("What it was trained on"), summary);
  if (meta->train_photos > 0)
    g_string_append_printf (md, _("- %u training photos, %u validation photos\n"),
                            meta->train_photos, meta->val_photos);
  if (meta->train_photos > 0 && !isnan (meta->plain_background))
    g_string_append_printf (md, _("- On a plain background (laboratory photos): %.0f %% of a "
                                  "sample of the training photos\n"), 100 * meta->plain_background);
  if (meta->ood != NULL)
    g_string_append_printf (md, _("- Photos unlike the training photos: a Mahalanobis distance on "
                                  "the pooled features above %.3f is referred (%.0f %% of the "
                                  "validation photos were)\n"),
                            leaf_ood_get_threshold (meta->ood), 100 * LEAF_OOD_FLAGGED_SHARE);
  else
    g_string_append (md, _("- No check for photos unlike the training photos\n"));
  g_string_append (md, "\n");
}

/**
 * leaf_model_card_render_figures:
 * @meta: the model file's metadata
 * @summary_json: (nullable): the training run's summary as the catalog keeps it
 *
 * The sections of the card that come from JSON: the training recipe and the validation metrics
 * the model file carries, and the calibration figures of the run's summary (which also stands in
 * for metrics the file lacks). Any JSON is accepted; what is not an object, or a member of
 * another type than expected, is left out.
 *
 * Returns: (transfer full): Markdown
 */
char *
leaf_model_card_render_figures (const LeafModelMeta *meta,
                                const char          *summary_json)
{
  g_autoptr(GString) md = g_string_new (NULL);
  g_autoptr(JsonParser) recipe_parser = json_parser_new ();
  g_autoptr(JsonParser) summary_parser = json_parser_new ();
  JsonObject *recipe = parse_object (recipe_parser, meta->recipe_json);
  JsonObject *summary = parse_object (summary_parser, summary_json);
  g_autoptr(LeafMetrics) metrics = meta->metrics_json != NULL
                                     ? leaf_metrics_parse (meta->metrics_json, NULL) : NULL;
  JsonObject *calibration = NULL;

  if (summary != NULL)
    {
      calibration = _leaf_json_object_member (summary, "calibration");
      if (metrics == NULL)
        metrics = leaf_metrics_new_from_json (json_object_get_member (summary, "metrics"));
    }
  append_training (md, meta);
  if (recipe != NULL)
    append_recipe (md, recipe);
  if (metrics != NULL)
    append_metrics (md, metrics);
  append_calibration (md, meta, calibration);
  return g_string_free (g_steal_pointer (&md), FALSE);
}

/**
 * leaf_model_card_render:
 * @catalog: the catalog the model was trained on, for the counts of photos
 * @meta: the model file's metadata
 * @model_path: the model file, for its checksum
 * @summary_json: (nullable): the training run's summary as the catalog keeps it, for the
 *   calibration error and coverage
 *
 * Returns: (transfer full): the card as Markdown, or %NULL with @error set
 */
char *
leaf_model_card_render (LeafCatalog         *catalog,
                        const LeafModelMeta *meta,
                        const char          *model_path,
                        const char          *summary_json,
                        GError             **error)
{
  g_autoptr(GString) md = g_string_new (NULL);
  g_autofree char *sha = leaf_file_sha256 (model_path, NULL, error);
  g_autofree char *name = g_path_get_basename (model_path);
  g_autofree char *figures = NULL;

  if (sha == NULL)
    return NULL;

  g_string_append_printf (md, _("# Model card: %s\n\n"), name);
  g_string_append_printf (md, _("EfficientNet-B0 fine-tuned by Leafscope to tell %u classes of "
                                "leaf photos apart: "), meta->n_classes);
  for (guint c = 0; c < meta->n_classes; c++)
    g_string_append_printf (md, c == 0 ? "%s" : ", %s", meta->classes[c]);
  g_string_append (md, ".\n\n");
  g_string_append_printf (md, "- %s: `%s`\n", _("File SHA-256"), sha);
  if (meta->created != NULL)
    g_string_append_printf (md, "- %s: %s\n", _("Created"), meta->created);
  if (meta->run_id > 0)
    g_string_append_printf (md, "- %s: %" G_GINT64_FORMAT "\n", _("Training run"), meta->run_id);
  g_string_append_printf (md, _("- Input: resized to %u pixels, centre crop of %u × %u, "
                                "ImageNet normalisation\n"), meta->resize_size, meta->image_size,
                          meta->image_size);
  if (meta->base_weights_sha256 != NULL && *meta->base_weights_sha256 != '\0')
    g_string_append_printf (md, _("- Base weights (pretrained EfficientNet-B0): SHA-256 `%s`\n\n"),
                            meta->base_weights_sha256);
  else
    g_string_append_printf (md, _("- Base weights: none (trained from scratch)\n\n"));

  if (!append_data (md, catalog, meta, error) || !append_agreement (md, catalog, error))
    return NULL;
  figures = leaf_model_card_render_figures (meta, summary_json);
  g_string_append (md, figures);

  g_string_append_printf (md, "## %s\n\n", _("Known limits"));
  g_string_append (md, _("- It knows only the classes above: a photo of another disease, another "
                         "crop or no leaf at all still gets one of them. Low confidence is a hint, "
                         "not a guarantee.\n"
                         "- Its figures come from photos like those it was trained on. Photos "
                         "taken under laboratory conditions (one leaf, plain background, even "
                         "light) transfer poorly to field photos with clutter, shadows and "
                         "several leaves, and the reverse.\n"
                         "- Near-duplicate photos of one leaf split across training and validation "
                         "inflate the validation figures; give them a common group key.\n"
                         "- Classes with few validation photos have uncertain per-class figures.\n"
                         "- It supports an expert's diagnosis; it does not replace a laboratory "
                         "test.\n"));
  return g_string_free (g_steal_pointer (&md), FALSE);
}
