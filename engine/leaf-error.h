/* leaf-error.h: the engine's error domain
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define LEAF_ENGINE_ERROR (leaf_engine_error_quark ())

typedef enum
{
  LEAF_ENGINE_ERROR_FAILED,
  LEAF_ENGINE_ERROR_INVALID,     /* bad argument or input the user gave */
  LEAF_ENGINE_ERROR_IO,          /* a file could not be read or written */
  LEAF_ENGINE_ERROR_FORMAT,      /* a file is damaged or not in a format we read */
  LEAF_ENGINE_ERROR_UNSAFE,      /* a file asks for code execution or absurd resources */
  LEAF_ENGINE_ERROR_MISMATCH,    /* weights or classes that do not fit the model */
  LEAF_ENGINE_ERROR_TOO_NEW,     /* a catalog written by a newer Leafscope */
  LEAF_ENGINE_ERROR_NOT_FOUND,
  LEAF_ENGINE_ERROR_CANCELLED,
  LEAF_ENGINE_ERROR_NO_MODEL,
  LEAF_ENGINE_ERROR_NO_DEVICE,   /* the compute device asked for is not there (no CUDA) */
} LeafEngineError;

GQuark   leaf_engine_error_quark    (void);

G_END_DECLS
