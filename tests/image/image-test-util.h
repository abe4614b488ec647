/* image-test-util.h: helpers shared by the image tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "leaf-test.h"

#include <gdk-pixbuf/gdk-pixbuf.h>

G_BEGIN_DECLS

gboolean image_test_pixbufs_equal (GdkPixbuf  *a,
                                   GdkPixbuf  *b);
/* An RGB picture with a different colour at every pixel: x, y and their XOR in the channels. */
GdkPixbuf *image_test_make_gradient (int width,
                                     int height);

G_END_DECLS
