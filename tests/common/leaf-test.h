/* leaf-test.h: what every test program shares: a home of its own, and removing what it made
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

void leaf_test_init        (int         *argc,
                            char      ***argv);
void leaf_test_remove_tree (const char  *path);

G_END_DECLS
