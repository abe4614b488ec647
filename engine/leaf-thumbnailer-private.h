/* leaf-thumbnailer-private.h: what tests need to see the order requests are served in
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "leaf-thumbnailer.h"

G_BEGIN_DECLS

void _leaf_thumbnailer_set_held (LeafThumbnailer *self,
                                 gboolean         held);

G_END_DECLS
