/* leaf-catalog-splits.h: the persisted train, validation and test splits
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

#include "leaf-types.h"
#include "leaf-catalog-image.h"

G_BEGIN_DECLS

/**
 * LeafSplitOptions:
 * @train: share of each class that goes to training
 * @validation: share for validation
 * @test: share for the test split; the three are normalised by their sum
 * @seed: the same seed, labels and group keys give the same assignment
 * @reassign: forget every earlier assignment; otherwise only labelled images without a split
 *   are assigned and the others keep theirs
 *
 * How leaf_catalog_assign_splits() divides labelled images. Images that share a group key
 * always land in the same split, joining the split their group already has.
 */
typedef struct
{
  double train;
  double validation;
  double test;
  guint32 seed;
  gboolean reassign;
} LeafSplitOptions;

gboolean        leaf_catalog_assign_splits       (LeafCatalog            *self,
                                                  const LeafSplitOptions *options,
                                                  guint                  *n_assigned,
                                                  GError                **error);
gboolean        leaf_catalog_count_splits        (LeafCatalog            *self,
                                                  guint                   counts[4],
                                                  GError                **error);
gboolean        leaf_split_from_string           (const char             *name,
                                                  LeafSplit              *split);
const char     *leaf_split_to_string             (LeafSplit               split);
gboolean        leaf_catalog_count_grouped       (LeafCatalog            *self,
                                                  guint                  *n_grouped,
                                                  GError                **error);

G_END_DECLS
