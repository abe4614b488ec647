/* leaf-diagnose-view.h: drop, paste or open a photo and get a diagnosis
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

#include "leaf-catalog.h"

G_BEGIN_DECLS

#define LEAF_TYPE_DIAGNOSE_VIEW (leaf_diagnose_view_get_type ())
G_DECLARE_FINAL_TYPE (LeafDiagnoseView, leaf_diagnose_view, LEAF, DIAGNOSE_VIEW, GtkWidget)

GtkWidget  *leaf_diagnose_view_new                (void);
void        leaf_diagnose_view_set_catalog        (LeafDiagnoseView  *self,
                                                   LeafCatalog       *catalog);
void        leaf_diagnose_view_open_files         (LeafDiagnoseView  *self,
                                                   GFile            **files,
                                                   guint              n_files);
void        leaf_diagnose_view_open_bytes         (LeafDiagnoseView  *self,
                                                   GBytes            *bytes,
                                                   const char        *name);
void        leaf_diagnose_view_open_texture       (LeafDiagnoseView  *self,
                                                   GdkTexture        *texture,
                                                   const char        *name);
void        leaf_diagnose_view_paste              (LeafDiagnoseView  *self);
void        leaf_diagnose_view_reload_model       (LeafDiagnoseView  *self);
GListModel *leaf_diagnose_view_get_results        (LeafDiagnoseView  *self);
gboolean    leaf_diagnose_view_is_busy            (LeafDiagnoseView  *self);
void        leaf_diagnose_view_set_show_heatmap   (LeafDiagnoseView  *self,
                                                   gboolean           show);
gboolean    leaf_diagnose_view_is_showing_heatmap (LeafDiagnoseView  *self);

#define LEAF_TYPE_DIAGNOSIS (leaf_diagnosis_get_type ())
G_DECLARE_FINAL_TYPE (LeafDiagnosis, leaf_diagnosis, LEAF, DIAGNOSIS, GObject)

const char  *leaf_diagnosis_get_name        (LeafDiagnosis *self);
guint        leaf_diagnosis_get_n_classes   (LeafDiagnosis *self);
const char  *leaf_diagnosis_get_class       (LeafDiagnosis *self,
                                             guint          rank);
double       leaf_diagnosis_get_probability (LeafDiagnosis *self,
                                             guint          rank);
GdkTexture  *leaf_diagnosis_get_heatmap     (LeafDiagnosis *self);

G_END_DECLS
