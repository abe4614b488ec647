/* leaf-error.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-error"

#include "config.h"

#include "leaf-error-private.h"

G_DEFINE_QUARK (leaf-engine-error-quark, leaf_engine_error)

gboolean
leaf_engine_error_from_shim (LtStatus   status,
                             char      *message,
                             GError   **error)
{
  LeafEngineError code;

  switch (status)
    {
    case LT_ERROR_INVALID_ARGUMENT: code = LEAF_ENGINE_ERROR_INVALID; break;
    case LT_ERROR_IO: code = LEAF_ENGINE_ERROR_IO; break;
    case LT_ERROR_FORMAT: code = LEAF_ENGINE_ERROR_FORMAT; break;
    case LT_ERROR_UNSAFE: code = LEAF_ENGINE_ERROR_UNSAFE; break;
    case LT_ERROR_MISMATCH: code = LEAF_ENGINE_ERROR_MISMATCH; break;
    case LT_OK:
    case LT_ERROR_TORCH:
    case LT_ERROR_UNKNOWN:
    default: code = LEAF_ENGINE_ERROR_FAILED; break;
    }
  g_set_error_literal (error, LEAF_ENGINE_ERROR, code,
                       message != NULL ? message : "unknown error in the model library");
  lt_string_free (message);
  return FALSE;
}
