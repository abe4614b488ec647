/* leaf-error-private.h: shim failures as the engine's errors, for the engine's files only
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Apart from leaf-error.h because it needs the shim's LtStatus: ui/ and app/ include the public
 * header and never see the shim (tests/desktop/test-layers.py checks it).
 */

#pragma once

#include "leaf-error.h"
#include "lt-common.h"

G_BEGIN_DECLS

/* Turns a failed shim call into a GError and frees the shim's message. Always returns FALSE so
 * that callers can write `return leaf_engine_error_from_shim (status, msg, error);`. */
gboolean leaf_engine_error_from_shim (LtStatus   status,
                                      char      *message,
                                      GError   **error);

G_END_DECLS
