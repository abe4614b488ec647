/* leaf-heatmap-job.h: a Grad-CAM heatmap over a photo, computed on a worker thread
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

#include "leaf-predictor.h"

G_BEGIN_DECLS

#define LEAF_HEATMAP_OPACITY 0.5

void        leaf_heatmap_job_run_async  (LeafPredictor        *predictor,
                                         const char           *model_path,
                                         GdkPixbuf            *photo,
                                         int                   class_index,
                                         GCancellable         *cancellable,
                                         GAsyncReadyCallback   callback,
                                         gpointer              user_data);
GdkTexture *leaf_heatmap_job_run_finish (GAsyncResult         *result,
                                         LeafPredictor       **predictor,
                                         GError              **error);

G_END_DECLS
