/* leaf-json.c: writing JSON objects member by member, and checking JSON text
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-json"

#include "config.h"

#include <math.h>

#include <glib/gi18n.h>

#include "leaf-error.h"
#include "leaf-json.h"

/**
 * leaf_json_add_int:
 * @builder: a #JsonBuilder inside an object
 * @name: the member's name
 * @value: its value
 *
 * Adds the member @name with an integer value.
 */
void
leaf_json_add_int (JsonBuilder *builder,
                   const char  *name,
                   gint64       value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_int_value (builder, value);
}

/**
 * leaf_json_add_double:
 * @builder: a #JsonBuilder inside an object
 * @name: the member's name
 * @value: its value
 *
 * Adds the member @name with a number, or null for NaN and the infinities, which JSON cannot
 * hold (an undefined ratio, see leaf-metrics.h).
 */
void
leaf_json_add_double (JsonBuilder *builder,
                      const char  *name,
                      double       value)
{
  json_builder_set_member_name (builder, name);
  if (isfinite (value))
    json_builder_add_double_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

/**
 * leaf_json_add_string:
 * @builder: a #JsonBuilder inside an object
 * @name: the member's name
 * @value: (nullable): its value
 *
 * Adds the member @name with a string, or with `null` for %NULL.
 */
void
leaf_json_add_string (JsonBuilder *builder,
                      const char  *name,
                      const char  *value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_string_value (builder, value);
}

/**
 * leaf_json_add_boolean:
 * @builder: a #JsonBuilder inside an object
 * @name: the member's name
 * @value: its value
 *
 * Adds the member @name with `true` or `false`.
 */
void
leaf_json_add_boolean (JsonBuilder *builder,
                       const char  *name,
                       gboolean     value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_boolean_value (builder, value);
}

/**
 * leaf_json_add_node:
 * @builder: a #JsonBuilder inside an object
 * @name: the member's name
 * @node: (transfer full) (nullable): its value
 *
 * Adds the member @name with a value built elsewhere, or with `null` for %NULL.
 */
void
leaf_json_add_node (JsonBuilder *builder,
                    const char  *name,
                    JsonNode    *node)
{
  json_builder_set_member_name (builder, name);
  if (node != NULL)
    json_builder_add_value (builder, node);
  else
    json_builder_add_null_value (builder);
}

/**
 * leaf_json_begin_array:
 * @builder: a #JsonBuilder inside an object
 * @name: the member's name
 *
 * Opens the member @name as an array; close it with json_builder_end_array().
 */
void
leaf_json_begin_array (JsonBuilder *builder,
                       const char  *name)
{
  json_builder_set_member_name (builder, name);
  json_builder_begin_array (builder);
}

/**
 * leaf_json_begin_object:
 * @builder: a #JsonBuilder inside an object
 * @name: the member's name
 *
 * Opens the member @name as an object; close it with json_builder_end_object().
 */
void
leaf_json_begin_object (JsonBuilder *builder,
                        const char  *name)
{
  json_builder_set_member_name (builder, name);
  json_builder_begin_object (builder);
}

/**
 * leaf_json_check:
 * @text: what should be JSON
 * @what: what it is, in words, for the message (“training configuration”)
 * @error: return location for a #GError
 *
 * Returns: %TRUE when @text parses as JSON; otherwise %FALSE with %LEAF_ENGINE_ERROR_INVALID
 */
gboolean
leaf_json_check (const char  *text,
                 const char  *what,
                 GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) local_error = NULL;

  if (json_parser_load_from_data (parser, text, -1, &local_error))
    return TRUE;
  g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
               _("The %s is not valid JSON: %s"), what, local_error->message);
  return FALSE;
}
