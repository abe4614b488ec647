/* leaf-test.h: what every test program shares: a home of its own, removing what it made, and
 * photos of two classes a network can learn to tell apart
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

void leaf_test_init              (int         *argc,
                                  char      ***argv);
void leaf_test_remove_tree       (const char  *path);
void leaf_test_write_class_photo (const char  *path,
                                  guint        klass,
                                  guint        seed,
                                  int          width,
                                  int          height);

G_END_DECLS
