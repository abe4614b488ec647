/* leaf-settings.h: the application's GSettings, also when running from the build folder
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

GSettings *leaf_settings_new (void);

G_END_DECLS
