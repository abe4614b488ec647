/* lt-weights.h: reading and writing weight files (torch.save archives and safetensors)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "lt-common.h"

LT_BEGIN_DECLS

/* A named list of tensors, in the order the file lists them, plus the string metadata a
 * safetensors file may carry. Loading never executes code from the file: torch.save archives
 * go through a restricted unpickler that refuses everything but tensors and plain containers. */
typedef struct LtStateDict LtStateDict;

/* Tensors read from weight files have at most this many dimensions. */
#define LT_MAX_DIMS 64

/* Reads path, choosing the format from its content (a torch.save zip archive or safetensors),
 * never from its name. On failure returns LT_ERROR_IO (cannot read), LT_ERROR_FORMAT (not a
 * weight file, damaged, legacy or unsupported layout) or LT_ERROR_UNSAFE (the pickle names
 * Python code such as os.system), and a message naming the file. */
LtStatus     lt_state_dict_load              (const char         *path,
                                              LtStateDict       **out,
                                              char              **error);
void         lt_state_dict_free              (LtStateDict        *sd);

/* Accessors; an out-of-range index gives NULL, -1 or LT_ERROR_INVALID_ARGUMENT. Returned
 * strings belong to sd. */
size_t       lt_state_dict_count             (const LtStateDict  *sd);
const char  *lt_state_dict_name              (const LtStateDict  *sd,
                                              size_t              i);
/* Stores at most max_dims sizes in dims and returns the number of dimensions. */
int          lt_state_dict_shape             (const LtStateDict  *sd,
                                              size_t              i,
                                              int64_t            *dims,
                                              int                 max_dims);
int64_t      lt_state_dict_numel             (const LtStateDict  *sd,
                                              size_t              i);
/* "float32", "float16", "bfloat16", "float64", "int64", "int32", "int16", "int8", "uint8"
 * or "bool". */
const char  *lt_state_dict_dtype_name        (const LtStateDict  *sd,
                                              size_t              i);
/* Copies tensor i into dst as contiguous row-major elements of its own dtype, in the host's
 * byte order; dst_size must be exactly numel times the element size. */
LtStatus     lt_state_dict_read              (const LtStateDict  *sd,
                                              size_t              i,
                                              void               *dst,
                                              size_t              dst_size,
                                              char              **error);

/* The safetensors __metadata__ entries: the value for key, or NULL; and the i-th key (in
 * the order of the file), or NULL past the end. */
const char  *lt_state_dict_metadata          (const LtStateDict  *sd,
                                              const char         *key);
const char  *lt_state_dict_metadata_key      (const LtStateDict  *sd,
                                              size_t              i);
/* Adds or replaces a metadata entry, written by lt_state_dict_save_safetensors(). */
LtStatus     lt_state_dict_set_metadata      (LtStateDict        *sd,
                                              const char         *key,
                                              const char         *value,
                                              char              **error);

/* Writes sd as safetensors: tensors ordered as the format's reference implementation orders
 * them, the file replaced atomically (a temporary file beside path, fsynced, then renamed). */
LtStatus     lt_state_dict_save_safetensors  (const LtStateDict  *sd,
                                              const char         *path,
                                              char              **error);

/* Writes sd as torch.save(state_dict) would, without its metadata (a plain state dict has
 * none): torch.load() and lt_state_dict_load() read it back; replaced atomically as above. */
LtStatus     lt_state_dict_save_torch        (const LtStateDict  *sd,
                                              const char         *path,
                                              char              **error);

/* Keeps only the tensors whose names start with prefix, without it: the model inside a
 * checkpoint of a wrapper (DataParallel and DistributedDataParallel save "module.*", a
 * Lightning module "model.*" beside its other members). Fails with LT_ERROR_MISMATCH, and
 * leaves sd as it was, when no name starts with prefix or one is the prefix itself. */
LtStatus     lt_state_dict_strip_prefix      (LtStateDict        *sd,
                                              const char         *prefix,
                                              char              **error);

LT_END_DECLS
