/* leaf-json-private.h: reading JSON whose members may have any type
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * json-glib 1.6's *_member_with_default(), json_object_get_array_member(),
 * json_array_get_object_element() and json_node_get_string() are programming errors (criticals,
 * or worse) on a value of another JSON type. What Leafscope reads from files (model metadata,
 * metrics, the weights index) can hold any type, so it reads through these, which answer NULL
 * or the fallback instead.
 */

#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

static inline const char *
_leaf_json_node_string (JsonNode *node)
{
  return node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
         json_node_get_value_type (node) == G_TYPE_STRING ? json_node_get_string (node) : NULL;
}

static inline JsonObject *
_leaf_json_node_object (JsonNode *node)
{
  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

static inline const char *
_leaf_json_string_member (JsonObject *object,
                          const char *name)
{
  return _leaf_json_node_string (json_object_get_member (object, name));
}

/* An integer; fallback for any other type, fractional numbers included. */
static inline gint64
_leaf_json_int_member (JsonObject *object,
                       const char *name,
                       gint64      fallback)
{
  JsonNode *node = json_object_get_member (object, name);

  return node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
         json_node_get_value_type (node) == G_TYPE_INT64 ? json_node_get_int (node) : fallback;
}

/* A number, integer or not; fallback for any other type. */
static inline double
_leaf_json_double_member (JsonObject *object,
                          const char *name,
                          double      fallback)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return fallback;
  if (json_node_get_value_type (node) == G_TYPE_DOUBLE)
    return json_node_get_double (node);
  if (json_node_get_value_type (node) == G_TYPE_INT64)
    return json_node_get_int (node);
  return fallback;
}

static inline JsonObject *
_leaf_json_object_member (JsonObject *object,
                          const char *name)
{
  return _leaf_json_node_object (json_object_get_member (object, name));
}

static inline JsonArray *
_leaf_json_array_member (JsonObject *object,
                         const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  return node != NULL && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
}

G_END_DECLS
