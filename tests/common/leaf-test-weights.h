/* leaf-test-weights.h: base weights for the tests that train or diagnose
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

/* Writes the weights of a seeded random EfficientNet-B0 with n_classes outputs to path
 * (safetensors), starting libtorch if it is not yet. */
void leaf_test_write_seeded_weights (const char *path,
                                     guint64     seed,
                                     int64_t     n_classes);

G_END_DECLS
