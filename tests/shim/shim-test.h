/* shim-test.h: helpers shared by the shim's tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

#include "lt.h"

G_BEGIN_DECLS

/* Fails the test with the shim's message when status is not LT_OK. */
#define shim_assert_ok(call)                                                            \
  G_STMT_START                                                                          \
  {                                                                                     \
    char *shim_error_ = NULL;                                                           \
    LtStatus shim_status_ = (call);                                                     \
    if (shim_status_ != LT_OK)                                                          \
      g_error ("%s failed: %s: %s", #call, lt_status_name (shim_status_),               \
               shim_error_ != NULL ? shim_error_ : "(no message)");                     \
    lt_string_free (shim_error_);                                                       \
  }                                                                                     \
  G_STMT_END

/* The reference files of make_reference.py, or NULL with the reason to skip in *skip. */
typedef struct
{
  char     *dir;
  GKeyFile *ini;
} ShimReference;

ShimReference *shim_reference_make   (char               **skip);
void           shim_reference_free   (ShimReference       *ref);
char          *shim_reference_path   (const ShimReference *ref,
                                      const char          *name);
/* Raw little-endian float32 file; aborts the test when it is missing or empty. */
float         *shim_reference_floats (const ShimReference *ref,
                                      const char          *name,
                                      gsize               *n_values);

LtTensor      *shim_tensor_f32       (const float         *data,
                                      const int64_t       *shape,
                                      size_t               ndim);
/* All values of tensor as float32, length lt_tensor_numel(). */
float         *shim_tensor_values    (const LtTensor      *tensor);
float          shim_max_abs          (const float         *values,
                                      gsize                n);
float          shim_max_abs_diff     (const float         *a,
                                      const float         *b,
                                      gsize                n);

G_END_DECLS
