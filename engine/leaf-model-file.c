/* leaf-model-file.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-model-file"

#include "config.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <math.h>

#include "leaf-error.h"
#include "leaf-image-augment.h"
#include "leaf-json.h"
#include "leaf-json-private.h"
#include "leaf-model-file.h"

#define FORMAT_NAME "leafscope-model"
#define FORMAT_VERSION 1

void
leaf_model_meta_free (LeafModelMeta *meta)
{
  if (meta == NULL)
    return;
  g_strfreev (meta->classes);
  g_free (meta->base_weights_sha256);
  g_free (meta->recipe_json);
  g_free (meta->metrics_json);
  g_free (meta->catalog_path);
  g_free (meta->created);
  g_clear_pointer (&meta->ood, leaf_ood_free);
  g_free (meta);
}

static void
add_raw_json (JsonBuilder *b,
              const char  *name,
              const char  *json)
{
  g_autoptr(JsonNode) node = json != NULL ? json_from_string (json, NULL) : NULL;

  leaf_json_add_node (b, name, g_steal_pointer (&node));
}

char *
leaf_model_meta_to_json (const LeafModelMeta *meta)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (b);
  leaf_json_add_string (b, "format", FORMAT_NAME);
  leaf_json_add_int (b, "version", FORMAT_VERSION);
  leaf_json_add_string (b, "architecture", "efficientnet_b0");
  leaf_json_begin_array (b, "classes");
  for (guint i = 0; i < meta->n_classes; i++)
    json_builder_add_string_value (b, meta->classes[i]);
  json_builder_end_array (b);
  leaf_json_add_int (b, "image_size", meta->image_size);
  leaf_json_add_int (b, "resize_size", meta->resize_size);
  leaf_json_add_string (b, "interpolation", "bicubic-antialiased");
  leaf_json_begin_array (b, "mean");
  json_builder_add_double_value (b, 0.485);
  json_builder_add_double_value (b, 0.456);
  json_builder_add_double_value (b, 0.406);
  json_builder_end_array (b);
  leaf_json_begin_array (b, "std");
  json_builder_add_double_value (b, 0.229);
  json_builder_add_double_value (b, 0.224);
  json_builder_add_double_value (b, 0.225);
  json_builder_end_array (b);
  leaf_json_add_string (b, "base_weights_sha256", meta->base_weights_sha256);
  add_raw_json (b, "recipe", meta->recipe_json);
  add_raw_json (b, "metrics", meta->metrics_json);
  leaf_json_add_string (b, "catalog", meta->catalog_path);
  leaf_json_add_int (b, "run_id", meta->run_id);
  leaf_json_add_string (b, "created", meta->created);
  leaf_json_add_double (b, "temperature", meta->temperature);
  leaf_json_add_double (b, "refer_below", meta->refer_below);
  leaf_json_add_int (b, "diagnosis_views", MAX (meta->diagnosis_views, 1));
  leaf_json_add_node (b, "ood", meta->ood != NULL ? leaf_ood_to_json (meta->ood) : NULL);
  if (meta->train_photos > 0)
    {
      leaf_json_begin_object (b, "trained_on");
      leaf_json_add_int (b, "photos", meta->train_photos);
      leaf_json_add_int (b, "validation_photos", meta->val_photos);
      if (isnan (meta->plain_background))
        leaf_json_add_node (b, "plain_background", NULL);
      else
        leaf_json_add_double (b, "plain_background", meta->plain_background);
      json_builder_end_object (b);
    }
  else
    leaf_json_add_node (b, "trained_on", NULL);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

static char *
member_to_json (JsonObject *object,
                const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return NULL;
  return json_to_string (node, FALSE);
}

/* What the model was trained on, and its check for photos unlike those. Models written before
 * either existed lack them, and a damaged record is left out as if absent: the model still
 * diagnoses, without that check ("ood": null in predict --json). */
static void
read_trained_on (JsonObject    *object,
                 LeafModelMeta *meta)
{
  JsonObject *trained_on = _leaf_json_object_member (object, "trained_on");
  JsonNode *ood = json_object_get_member (object, "ood");
  gint64 photos;

  meta->plain_background = NAN;
  if (trained_on != NULL)
    {
      photos = _leaf_json_int_member (trained_on, "photos", 0);
      meta->train_photos = photos > 0 && photos <= G_MAXUINT ? photos : 0;
      photos = _leaf_json_int_member (trained_on, "validation_photos", 0);
      meta->val_photos = photos > 0 && photos <= G_MAXUINT ? photos : 0;
      meta->plain_background = _leaf_json_double_member (trained_on, "plain_background", NAN);
      if (!(meta->plain_background >= 0 && meta->plain_background <= 1))
        meta->plain_background = NAN;
    }
  if (ood != NULL && !JSON_NODE_HOLDS_NULL (ood))
    {
      meta->ood = leaf_ood_from_json (ood, NULL);
      if (meta->ood != NULL && leaf_ood_get_n_features (meta->ood) != LEAF_OOD_N_FEATURES)
        g_clear_pointer (&meta->ood, leaf_ood_free);
    }
}

/**
 * leaf_model_meta_from_json:
 * @file_name: named in error messages
 *
 * Returns: (transfer full): the metadata, or %NULL when the JSON is not a Leafscope model's
 */
LeafModelMeta *
leaf_model_meta_from_json (const char  *json,
                           const char  *file_name,
                           GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(LeafModelMeta) meta = g_new0 (LeafModelMeta, 1);
  JsonObject *object;
  JsonArray *classes;
  gint64 image_size, resize_size;

  /* An empty or blank text parses, to no root at all. */
  if (json == NULL || !json_parser_load_from_data (parser, json, -1, NULL) ||
      json_parser_get_root (parser) == NULL ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    goto not_ours;

  object = json_node_get_object (json_parser_get_root (parser));
  if (g_strcmp0 (_leaf_json_string_member (object, "format"), FORMAT_NAME) != 0)
    goto not_ours;
  if (_leaf_json_int_member (object, "version", 0) > FORMAT_VERSION)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_TOO_NEW,
                   _("%s was written by a newer version of Leafscope; update Leafscope to use it"),
                   file_name);
      return NULL;
    }

  classes = _leaf_json_array_member (object, "classes");
  if (classes == NULL || json_array_get_length (classes) < 1)
    goto not_ours;
  meta->n_classes = json_array_get_length (classes);
  meta->classes = g_new0 (char *, meta->n_classes + 1);
  for (guint i = 0; i < meta->n_classes; i++)
    {
      const char *name = _leaf_json_node_string (json_array_get_element (classes, i));
      if (name == NULL)
        goto not_ours;
      meta->classes[i] = g_strdup (name);
    }

  image_size = _leaf_json_int_member (object, "image_size", 224);
  resize_size = _leaf_json_int_member (object, "resize_size", 256);
  if (image_size < 32 || image_size > 1024 || resize_size < image_size || resize_size > 2048)
    goto not_ours;
  meta->image_size = image_size;
  meta->resize_size = resize_size;
  meta->base_weights_sha256 = g_strdup (_leaf_json_string_member (object, "base_weights_sha256"));
  meta->recipe_json = member_to_json (object, "recipe");
  meta->metrics_json = member_to_json (object, "metrics");
  meta->catalog_path = g_strdup (_leaf_json_string_member (object, "catalog"));
  meta->run_id = _leaf_json_int_member (object, "run_id", 0);
  meta->created = g_strdup (_leaf_json_string_member (object, "created"));
  meta->temperature = _leaf_json_double_member (object, "temperature", 1.0);
  if (!(meta->temperature > 0))
    meta->temperature = 1.0;
  meta->refer_below = _leaf_json_double_member (object, "refer_below", 0.0);
  /* Models from before it diagnose from the photo as it is. */
  meta->diagnosis_views = _leaf_json_int_member (object, "diagnosis_views", 1) == LEAF_IMAGE_N_VIEWS
                          ? LEAF_IMAGE_N_VIEWS : 1;
  read_trained_on (object, meta);
  return g_steal_pointer (&meta);

not_ours:
  g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FORMAT,
               _("%s is not a Leafscope model: its metadata is missing or damaged"), file_name);
  return NULL;
}
