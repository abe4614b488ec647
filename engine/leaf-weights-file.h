/* leaf-weights-file.h: what a weight file holds, read without running code from it
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  char *name;     /* as the file spells it, which may hold any character */
  char *dtype;    /* "float32", "int64", ... */
  gint64 *shape;  /* n_dims sizes */
  guint n_dims;
  gint64 n_values;
} LeafTensorInfo;

typedef struct
{
  char *sha256;         /* of the whole file */
  gint64 n_values;      /* in all tensors, buffers included */
  GPtrArray *tensors;   /* (element-type LeafTensorInfo): in the file's order */
  GStrv metadata_keys;  /* safetensors' "__metadata__", in the file's order */
  GStrv metadata_values;
} LeafWeightsFile;

LeafWeightsFile *leaf_weights_file_inspect (const char       *path,
                                            GError          **error);
void             leaf_weights_file_free    (LeafWeightsFile  *info);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LeafWeightsFile, leaf_weights_file_free)

G_END_DECLS
