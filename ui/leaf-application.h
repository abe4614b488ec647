/* leaf-application.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define LEAF_TYPE_APPLICATION (leaf_application_get_type ())
G_DECLARE_FINAL_TYPE (LeafApplication, leaf_application, LEAF, APPLICATION, AdwApplication)

LeafApplication *leaf_application_new          (GApplicationFlags  flags);

G_END_DECLS
