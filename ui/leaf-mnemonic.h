/* leaf-mnemonic.h: names chosen by users (classes, models) as labels of menus, where “_” marks a
 * mnemonic
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

char *leaf_mnemonic_escape (const char *text);

G_END_DECLS
