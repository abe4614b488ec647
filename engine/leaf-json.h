/* leaf-json.h: writing JSON objects member by member, and checking JSON text
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * json-glib names an object's member in one call and gives its value in another; these do both,
 * so that what the engine and the command line write reads one line per member.
 */

#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

void      leaf_json_add_int          (JsonBuilder  *builder,
                                      const char   *name,
                                      gint64        value);
void      leaf_json_add_double       (JsonBuilder  *builder,
                                      const char   *name,
                                      double        value);
void      leaf_json_add_string       (JsonBuilder  *builder,
                                      const char   *name,
                                      const char   *value);
void      leaf_json_add_boolean      (JsonBuilder  *builder,
                                      const char   *name,
                                      gboolean      value);
void      leaf_json_add_node         (JsonBuilder  *builder,
                                      const char   *name,
                                      JsonNode     *node);
void      leaf_json_begin_array      (JsonBuilder  *builder,
                                      const char   *name);
void      leaf_json_begin_object     (JsonBuilder  *builder,
                                      const char   *name);

gboolean  leaf_json_check            (const char   *text,
                                      const char   *what,
                                      GError      **error);

G_END_DECLS
