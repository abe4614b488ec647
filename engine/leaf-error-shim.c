/* leaf-error-shim.c: shim failures as the engine's errors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Apart from the error domain so that code that never calls the shim (the catalog, import,
 * labels) does not pull libtorch into the programs that link it.
 */

#define G_LOG_DOMAIN "leaf-error"

#include "config.h"

#include "leaf-error-private.h"

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
    case LT_ERROR_NO_DEVICE: code = LEAF_ENGINE_ERROR_NO_DEVICE; break;
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
