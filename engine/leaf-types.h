/* leaf-types.h: forward declarations of the engine's types
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _LeafCatalog          LeafCatalog;
typedef struct _LeafCatalogImage     LeafCatalogImage;
typedef struct _LeafClassInfo        LeafClassInfo;
typedef struct _LeafRunInfo          LeafRunInfo;
typedef struct _LeafModelInfo        LeafModelInfo;
typedef struct _LeafPrediction       LeafPrediction;
typedef struct _LeafImportOptions    LeafImportOptions;
typedef struct _LeafImportSummary    LeafImportSummary;
typedef struct _LeafExportSummary    LeafExportSummary;

G_END_DECLS
