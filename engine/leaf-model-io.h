/* leaf-model-io.h: models out of the catalog, and models trained elsewhere into it
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "leaf-calibration.h"
#include "leaf-types.h"

G_BEGIN_DECLS

/**
 * LeafModelFormat:
 * @LEAF_MODEL_FORMAT_SAFETENSORS: safetensors with torchvision's names and the model's metadata
 *   (classes, preprocessing, temperature, referral threshold) as JSON under the key "leafscope";
 *   docs/model-format.md describes it
 * @LEAF_MODEL_FORMAT_TORCH: a plain torch.save() state dict with torchvision's names, as
 *   `model.state_dict()` gives it; it has no room for metadata
 */
typedef enum
{
  LEAF_MODEL_FORMAT_SAFETENSORS,
  LEAF_MODEL_FORMAT_TORCH,
} LeafModelFormat;

/**
 * LeafModelImport:
 * @model_id: the catalog's new model
 * @path: its file, in the catalog's models folder
 * @key_prefix: what was removed from every tensor name ("module.", "model.", ...), or ""
 * @n_classes: outputs of the classifier, one per class name given
 * @n_calibration: validation photos of the catalog it was calibrated and measured on; 0 when
 *   the catalog has none labelled with its classes, and then it is not calibrated
 * @val_accuracy: its accuracy on those photos (NAN when there were none)
 * @calibration: what temperature scaling found on them (temperature 1 when there were none)
 *
 * What leaf_model_import() did.
 */
typedef struct
{
  gint64 model_id;
  char *path;
  char *key_prefix;
  guint n_classes;
  guint n_calibration;
  double val_accuracy;
  LeafCalibration calibration;
} LeafModelImport;

void             leaf_model_import_free         (LeafModelImport      *import);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LeafModelImport, leaf_model_import_free)

gboolean         leaf_model_format_from_string  (const char           *name,
                                                 LeafModelFormat      *format);
LeafModelFormat  leaf_model_format_for_path     (const char           *path);

gboolean         leaf_model_export              (LeafCatalog          *catalog,
                                                 gint64                model_id,
                                                 const char           *path,
                                                 LeafModelFormat       format,
                                                 GError              **error);
void             leaf_model_export_async        (LeafCatalog          *catalog,
                                                 gint64                model_id,
                                                 const char           *path,
                                                 LeafModelFormat       format,
                                                 GCancellable         *cancellable,
                                                 GAsyncReadyCallback   callback,
                                                 gpointer              user_data);
gboolean         leaf_model_export_finish       (LeafCatalog          *catalog,
                                                 GAsyncResult         *result,
                                                 GError              **error);

LeafModelImport *leaf_model_import              (LeafCatalog          *catalog,
                                                 const char           *path,
                                                 const char * const   *classes,
                                                 GCancellable         *cancellable,
                                                 GError              **error);
void             leaf_model_import_async        (LeafCatalog          *catalog,
                                                 const char           *path,
                                                 const char * const   *classes,
                                                 GCancellable         *cancellable,
                                                 GAsyncReadyCallback   callback,
                                                 gpointer              user_data);
LeafModelImport *leaf_model_import_finish       (LeafCatalog          *catalog,
                                                 GAsyncResult         *result,
                                                 GError              **error);

G_END_DECLS
