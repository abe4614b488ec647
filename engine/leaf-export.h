/* leaf-export.h: labels out of the catalog, as CSV, Label Studio JSON or an ImageFolder tree
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "leaf-types.h"

G_BEGIN_DECLS

/**
 * LeafExportSummary:
 * @n_exported: labelled images written
 * @n_unlabelled: unlabelled images written (by leaf_export_folder(), into `unlabelled/`)
 * @n_linked: of all images written, hard links to the catalog's file
 * @n_copied: of all images written, copies (the tree is on another file system)
 * @missing: (element-type filename): labelled images whose file was not found, left out
 */
struct _LeafExportSummary
{
  guint n_exported;
  guint n_unlabelled;
  guint n_linked;
  guint n_copied;
  GPtrArray *missing;
};

void               leaf_export_summary_free   (LeafExportSummary   *summary);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LeafExportSummary, leaf_export_summary_free)

gboolean           leaf_export_csv_to_stream  (LeafCatalog         *catalog,
                                               GOutputStream       *stream,
                                               GCancellable        *cancellable,
                                               guint               *n_rows,
                                               GError             **error);
gboolean           leaf_export_csv            (LeafCatalog         *catalog,
                                               const char          *path,
                                               GCancellable        *cancellable,
                                               guint               *n_rows,
                                               GError             **error);
gboolean           leaf_export_label_studio_to_stream (LeafCatalog   *catalog,
                                                       GOutputStream *stream,
                                                       GCancellable  *cancellable,
                                                       guint         *n_rows,
                                                       GError       **error);
gboolean           leaf_export_label_studio   (LeafCatalog         *catalog,
                                               const char          *path,
                                               GCancellable        *cancellable,
                                               guint               *n_rows,
                                               GError             **error);
LeafExportSummary *leaf_export_folder         (LeafCatalog         *catalog,
                                               const char          *folder,
                                               GCancellable        *cancellable,
                                               GError             **error);
void               leaf_export_folder_async   (LeafCatalog         *catalog,
                                               const char          *folder,
                                               GCancellable        *cancellable,
                                               GAsyncReadyCallback  callback,
                                               gpointer             user_data);
LeafExportSummary *leaf_export_folder_finish  (LeafCatalog         *catalog,
                                               GAsyncResult        *result,
                                               GError             **error);

G_END_DECLS
