/* lt-common.h: status codes and ownership rules shared by every part of the shim's C ABI
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define LT_BEGIN_DECLS extern "C" {
#define LT_END_DECLS }
#else
#define LT_BEGIN_DECLS
#define LT_END_DECLS
#endif

LT_BEGIN_DECLS

/* Every fallible call returns an LtStatus and, on failure, stores a newly allocated UTF-8
 * message in *error (when error is not NULL) that the caller releases with lt_string_free().
 * Handles returned through out-parameters belong to the caller; arguments are borrowed. */
typedef enum
{
  LT_OK = 0,
  LT_ERROR_INVALID_ARGUMENT, /* a caller mistake: NULL handle, bad index, wrong shape */
  LT_ERROR_IO,               /* the file could not be opened, read or written */
  LT_ERROR_FORMAT,           /* the file is not in a format we read, or is damaged */
  LT_ERROR_UNSAFE,           /* the file asks for something we never do (code execution) */
  LT_ERROR_MISMATCH,         /* missing or unexpected keys, or shapes that do not fit */
  LT_ERROR_TORCH,            /* libtorch itself failed */
  LT_ERROR_UNKNOWN,
  LT_ERROR_NO_DEVICE,        /* the device asked for is not there (no CUDA in this libtorch) */
} LtStatus;

void        lt_string_free   (char     *str);
const char *lt_status_name   (LtStatus  status);

LT_END_DECLS
