/* leaf-error.c: the engine's error domain
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-error"

#include "config.h"

#include "leaf-error.h"

G_DEFINE_QUARK (leaf-engine-error-quark, leaf_engine_error)
