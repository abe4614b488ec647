/* leaf-weights-file.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-weights-file"

#include "config.h"

#include <gio/gio.h>

#include "leaf-error-private.h"
#include "leaf-file.h"
#include "leaf-weights-file.h"
#include "lt-weights.h"

static void
tensor_info_free (gpointer data)
{
  LeafTensorInfo *tensor = data;

  g_free (tensor->name);
  g_free (tensor->dtype);
  g_free (tensor->shape);
  g_free (tensor);
}

void
leaf_weights_file_free (LeafWeightsFile *info)
{
  if (info == NULL)
    return;
  g_free (info->sha256);
  g_clear_pointer (&info->tensors, g_ptr_array_unref);
  g_strfreev (info->metadata_keys);
  g_strfreev (info->metadata_values);
  g_free (info);
}

/**
 * leaf_weights_file_inspect:
 * @path: a torch.save() checkpoint (.pth) or a safetensors file
 * @error: where to report a file that cannot be read, is damaged, or asks to run code
 *
 * Lists the tensors of @path with their dtypes and shapes, its metadata and its SHA-256.
 *
 * Returns: (transfer full): what @path holds, or %NULL with @error set
 */
LeafWeightsFile *
leaf_weights_file_inspect (const char  *path,
                           GError     **error)
{
  g_autoptr(LeafWeightsFile) info = g_new0 (LeafWeightsFile, 1);
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func (g_free);
  LtStateDict *sd = NULL;
  char *message = NULL;
  LtStatus status;
  const char *key;

  g_return_val_if_fail (path != NULL, NULL);

  status = lt_state_dict_load (path, &sd, &message);
  if (status != LT_OK)
    {
      leaf_engine_error_from_shim (status, message, error);
      return NULL;
    }
  info->sha256 = leaf_file_sha256 (path, NULL, error);
  if (info->sha256 == NULL)
    {
      lt_state_dict_free (sd);
      return NULL;
    }

  info->tensors = g_ptr_array_new_with_free_func (tensor_info_free);
  for (size_t i = 0; i < lt_state_dict_count (sd); i++)
    {
      LeafTensorInfo *tensor = g_new0 (LeafTensorInfo, 1);
      int64_t dims[LT_MAX_DIMS];
      int ndim = lt_state_dict_shape (sd, i, dims, LT_MAX_DIMS);

      tensor->name = g_strdup (lt_state_dict_name (sd, i));
      tensor->dtype = g_strdup (lt_state_dict_dtype_name (sd, i));
      tensor->n_dims = MAX (ndim, 0);
      tensor->shape = g_new (gint64, MAX (tensor->n_dims, 1));
      for (guint d = 0; d < tensor->n_dims; d++)
        tensor->shape[d] = dims[d];
      tensor->n_values = lt_state_dict_numel (sd, i);
      info->n_values += tensor->n_values;
      g_ptr_array_add (info->tensors, tensor);
    }
  for (size_t i = 0; (key = lt_state_dict_metadata_key (sd, i)) != NULL; i++)
    {
      g_ptr_array_add (keys, g_strdup (key));
      g_ptr_array_add (values, g_strdup (lt_state_dict_metadata (sd, key)));
    }
  g_ptr_array_add (keys, NULL);
  g_ptr_array_add (values, NULL);
  info->metadata_keys = (GStrv) g_ptr_array_free (g_steal_pointer (&keys), FALSE);
  info->metadata_values = (GStrv) g_ptr_array_free (g_steal_pointer (&values), FALSE);
  lt_state_dict_free (sd);
  return g_steal_pointer (&info);
}
