/* leaf-engine.h: process-wide set-up of the engine
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Sets how many threads libtorch computes with: num_threads, else $LEAFSCOPE_THREADS, else
 * every core (Debian's libtorch would otherwise use one). Only the first call has an effect. */
gboolean leaf_engine_init_torch (int      num_threads,
                                 GError **error);

G_END_DECLS
