/* image-test-util.h: helpers shared by the image tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gdk-pixbuf/gdk-pixbuf.h>

G_BEGIN_DECLS

void     image_test_remove_tree    (const char *path);
gboolean image_test_pixbufs_equal (GdkPixbuf  *a,
                                   GdkPixbuf  *b);

G_END_DECLS
