/* leaf-catalog-image.h: one image of the catalog, and queries over them
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib-object.h>

#include "leaf-types.h"

G_BEGIN_DECLS

/**
 * LeafSplit:
 * @LEAF_SPLIT_NONE: not assigned yet (in a #LeafImageQuery: any split)
 * @LEAF_SPLIT_TRAIN: used to fit the model
 * @LEAF_SPLIT_VALIDATION: used to choose epochs and hyper-parameters
 * @LEAF_SPLIT_TEST: held out for the final measurement
 */
typedef enum
{
  LEAF_SPLIT_NONE,
  LEAF_SPLIT_TRAIN,
  LEAF_SPLIT_VALIDATION,
  LEAF_SPLIT_TEST,
} LeafSplit;

/**
 * LeafLabelHow:
 * @LEAF_LABEL_HOW_FOLDER_IMPORT: the label came from the sub-folder an image was imported from
 * @LEAF_LABEL_HOW_MANUAL: a person chose the class
 * @LEAF_LABEL_HOW_SUGGESTION: a person accepted a model's suggestion
 *
 * How a label came to be, recorded with every label.
 */
typedef enum
{
  LEAF_LABEL_HOW_FOLDER_IMPORT,
  LEAF_LABEL_HOW_MANUAL,
  LEAF_LABEL_HOW_SUGGESTION,
} LeafLabelHow;

typedef enum
{
  LEAF_LABEL_FILTER_ANY,
  LEAF_LABEL_FILTER_UNLABELED,
  LEAF_LABEL_FILTER_LABELED,
} LeafLabelFilter;

typedef enum
{
  LEAF_IMAGE_SORT_IMPORTED,     /* import order, oldest first */
  LEAF_IMAGE_SORT_NAME,         /* file name */
  LEAF_IMAGE_SORT_CAPTURED,     /* EXIF capture time; images without one come first */
  LEAF_IMAGE_SORT_UNCERTAINTY,  /* prediction entropy of @model_id, highest first */
} LeafImageSort;

/**
 * LeafImageQuery:
 * @labels: labelled, unlabelled or both
 * @class_id: when > 0, only images labelled with this class
 * @split: when not %LEAF_SPLIT_NONE, only images in this split
 * @missing_only: only images whose file was missing at the last check
 * @name_contains: (nullable): case-insensitive (ASCII) substring of the file name
 * @labeller: (nullable): only images whose label was set by this OS user
 * @taken_after: (nullable): capture time (import time when the photo has none) at or after this
 * @taken_before: (nullable): capture time (import time when the photo has none) before this
 * @model_id: when > 0, attach this model's predictions to the rows; needed by
 *   @disagreements_only, @uncertain_only and %LEAF_IMAGE_SORT_UNCERTAINTY, which keep only
 *   predicted images
 * @disagreements_only: only labelled images whose label is not @model_id's top prediction
 * @uncertain_only: only images @model_id would refer to an expert (its top probability below
 *   the model's threshold, or the photo unlike its training photos), as Diagnose does
 * @unreviewed_only: only images @model_id has not reviewed: without its prediction, or with
 *   one that does not say whether it would refer the image
 * @disputed_only: only images whose labellers disagree and that nobody adjudicated yet (the
 *   adjudication queue)
 * @sort: row order; ties are broken by import order
 *
 * A filter over the catalog's images. A zeroed struct (`LeafImageQuery q = { 0 };`) selects
 * every image in import order. The struct and its strings are only borrowed by the calls.
 */
typedef struct
{
  LeafLabelFilter labels;
  gint64 class_id;
  LeafSplit split;
  gboolean missing_only;
  const char *name_contains;
  const char *labeller;
  GDateTime *taken_after;
  GDateTime *taken_before;
  gint64 model_id;
  gboolean disagreements_only;
  gboolean uncertain_only;
  gboolean unreviewed_only;
  gboolean disputed_only;
  LeafImageSort sort;
} LeafImageQuery;

#define LEAF_TYPE_CATALOG_IMAGE (leaf_catalog_image_get_type ())

G_DECLARE_FINAL_TYPE (LeafCatalogImage, leaf_catalog_image, LEAF, CATALOG_IMAGE, GObject)

gint64            leaf_catalog_image_get_id               (LeafCatalogImage *self);
const char       *leaf_catalog_image_get_sha256           (LeafCatalogImage *self);
const char       *leaf_catalog_image_get_path             (LeafCatalogImage *self);
const char       *leaf_catalog_image_peek_path            (LeafCatalogImage *self);
const char       *leaf_catalog_image_get_name             (LeafCatalogImage *self);
guint64           leaf_catalog_image_get_size             (LeafCatalogImage *self);
guint             leaf_catalog_image_get_width            (LeafCatalogImage *self);
guint             leaf_catalog_image_get_height           (LeafCatalogImage *self);
const char       *leaf_catalog_image_get_format           (LeafCatalogImage *self);
guint             leaf_catalog_image_get_orientation      (LeafCatalogImage *self);
GDateTime        *leaf_catalog_image_get_captured         (LeafCatalogImage *self);
GDateTime        *leaf_catalog_image_get_imported         (LeafCatalogImage *self);
const char       *leaf_catalog_image_get_group_key        (LeafCatalogImage *self);
gboolean          leaf_catalog_image_get_missing          (LeafCatalogImage *self);
gboolean          leaf_catalog_image_get_managed          (LeafCatalogImage *self);
gint64            leaf_catalog_image_get_class_id         (LeafCatalogImage *self);
const char       *leaf_catalog_image_get_labeller         (LeafCatalogImage *self);
GDateTime        *leaf_catalog_image_get_label_time       (LeafCatalogImage *self);
LeafLabelHow      leaf_catalog_image_get_label_how        (LeafCatalogImage *self);
LeafSplit         leaf_catalog_image_get_split            (LeafCatalogImage *self);
gboolean          leaf_catalog_image_get_prediction       (LeafCatalogImage *self,
                                                           gint64           *class_id,
                                                           double           *probability,
                                                           double           *entropy);
gboolean          leaf_catalog_image_get_referred         (LeafCatalogImage *self);

GPtrArray        *leaf_catalog_query_images   (LeafCatalog          *catalog,
                                               const LeafImageQuery *query,
                                               guint                 offset,
                                               guint                 limit,
                                               GError              **error);
gboolean          leaf_catalog_count_images   (LeafCatalog          *catalog,
                                               const LeafImageQuery *query,
                                               guint                *count,
                                               GError              **error);
GHashTable       *leaf_catalog_list_sha256    (LeafCatalog          *catalog,
                                               GError              **error);
LeafCatalogImage *leaf_catalog_get_image      (LeafCatalog          *catalog,
                                               gint64                image_id,
                                               GError              **error);
LeafCatalogImage *leaf_catalog_get_predicted_image (LeafCatalog     *catalog,
                                                    gint64           image_id,
                                                    gint64           model_id,
                                                    GError         **error);
LeafCatalogImage *leaf_catalog_find_image     (LeafCatalog          *catalog,
                                               const char           *path_or_sha256,
                                               GError              **error);

G_END_DECLS
