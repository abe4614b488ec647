/* leaf-active-model.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-active-model"

#include "config.h"

#include "leaf-active-model.h"
#include "leaf-error.h"

/**
 * leaf_active_model_get:
 * @catalog: a catalog
 *
 * The model Diagnose, the viewer's heatmap and the Library's prediction filters use: the
 * catalog's active one, never merely the latest, so that a stopped or worse run changes
 * nothing the user sees without their say.
 *
 * Returns: (transfer full) (nullable): the active model, or %NULL when there is none (a
 *   failure to read it is logged: the views then behave as without a model)
 */
LeafModelInfo *
leaf_active_model_get (LeafCatalog *catalog)
{
  g_autoptr(GError) error = NULL;
  LeafModelInfo *model;

  g_return_val_if_fail (LEAF_IS_CATALOG (catalog), NULL);

  model = leaf_catalog_get_active_model (catalog, &error);
  if (model == NULL && !g_error_matches (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NO_MODEL))
    g_warning ("Could not read the catalog's active model: %s", error->message);
  return model;
}
