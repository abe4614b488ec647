/* leaf-label-import-private.h: what the folder import asks of the label import
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "leaf-catalog-private.h"
#include "leaf-label-import.h"

G_BEGIN_DECLS

/* Whether path is a labels.csv as export-folder writes it: a header naming at least the path,
 * sha256 and class columns (a spreadsheet of a lab's own beside its photos rarely has the
 * hashes, and leaves the folder names their meaning). */
gboolean               _leaf_label_import_is_tree_file (const char   *path);

/* Applies the labels.csv of an exported tree through db, the import's connection: created
 * classes, every label with its own labeller, time and how (images already labelled keep their
 * label: a person's later work wins over an old export), group keys and splits. One labelling
 * action, of how folder-import. */
LeafLabelImportReport *_leaf_label_import_tree         (LeafCatalog  *catalog,
                                                        LeafDb       *db,
                                                        const char   *path,
                                                        GError      **error);

G_END_DECLS
