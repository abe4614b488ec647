/* leaf-catalog.h: the SQLite catalog of images, classes and labels
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "leaf-types.h"
#include "leaf-agreement.h"
#include "leaf-catalog-image.h"
#include "leaf-catalog-models.h"
#include "leaf-catalog-runs.h"
#include "leaf-catalog-splits.h"

G_BEGIN_DECLS

/* The newest catalog schema this build reads and writes (PRAGMA user_version in a file). */
#define LEAF_CATALOG_SCHEMA_VERSION 7

#define LEAF_TYPE_CATALOG (leaf_catalog_get_type ())

G_DECLARE_FINAL_TYPE (LeafCatalog, leaf_catalog, LEAF, CATALOG, GObject)

typedef enum
{
  LEAF_CATALOG_OPEN_DEFAULT = 0,      /* the file must exist */
  LEAF_CATALOG_OPEN_CREATE  = 1 << 0, /* create the file (and its folder) when it does not */
} LeafCatalogOpenFlags;

/**
 * LeafClassInfo:
 * @id: the class's row id, stable for the life of the catalog
 * @name: unique among the catalog's classes
 * @position: 0-based place in the class order; a model's output index follows this order
 * @color: `#rrggbb`
 * @shortcut: (nullable): the key that labels with this class in the labelling view
 * @n_images: how many images carry this label
 *
 * A snapshot of one class.
 */
struct _LeafClassInfo
{
  gint64 id;
  char *name;
  guint position;
  char *color;
  char *shortcut;
  guint n_images;
};

void            leaf_class_info_free            (LeafClassInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LeafClassInfo, leaf_class_info_free)

const char     *leaf_label_how_to_string        (LeafLabelHow          how);
gboolean        leaf_label_how_from_string      (const char           *string,
                                                 LeafLabelHow         *how);

char           *leaf_catalog_get_default_path   (void);
LeafCatalog    *leaf_catalog_open               (const char           *path,
                                                 LeafCatalogOpenFlags  flags,
                                                 GError              **error);
void            leaf_catalog_close              (LeafCatalog          *self);
const char     *leaf_catalog_get_path           (LeafCatalog          *self);
const char     *leaf_catalog_get_display_name   (LeafCatalog          *self);
gboolean        leaf_catalog_is_on_server       (LeafCatalog          *self);
gboolean        leaf_catalog_is_read_only       (LeafCatalog          *self);
gboolean        leaf_catalog_location_is_server (const char           *location);
void            leaf_catalog_watch              (LeafCatalog          *self);
void            leaf_catalog_set_labeller       (LeafCatalog          *self,
                                                 const char           *labeller);
char           *leaf_catalog_dup_labeller       (LeafCatalog          *self);
char           *leaf_catalog_get_managed_dir    (LeafCatalog          *self);

/* Classes */
GPtrArray      *leaf_catalog_list_classes       (LeafCatalog          *self,
                                                 GError              **error);
LeafClassInfo  *leaf_catalog_find_class         (LeafCatalog          *self,
                                                 const char           *name,
                                                 GError              **error);
gint64          leaf_catalog_add_class          (LeafCatalog          *self,
                                                 const char           *name,
                                                 const char           *color,
                                                 const char           *shortcut,
                                                 GError              **error);
gboolean        leaf_catalog_rename_class       (LeafCatalog          *self,
                                                 gint64                class_id,
                                                 const char           *name,
                                                 GError              **error);
gboolean        leaf_catalog_set_class_color    (LeafCatalog          *self,
                                                 gint64                class_id,
                                                 const char           *color,
                                                 GError              **error);
gboolean        leaf_catalog_set_class_shortcut (LeafCatalog          *self,
                                                 gint64                class_id,
                                                 const char           *shortcut,
                                                 GError              **error);
gboolean        leaf_catalog_move_class         (LeafCatalog          *self,
                                                 gint64                class_id,
                                                 guint                 position,
                                                 GError              **error);
gboolean        leaf_catalog_remove_class       (LeafCatalog          *self,
                                                 gint64                class_id,
                                                 gboolean              unlabel_images,
                                                 GError              **error);
gboolean        leaf_class_name_is_valid        (const char           *name,
                                                 GError              **error);

/* Labels and their history */
gboolean        leaf_catalog_set_labels         (LeafCatalog          *self,
                                                 const gint64         *image_ids,
                                                 gsize                 n_images,
                                                 gint64                class_id,
                                                 LeafLabelHow          how,
                                                 GError              **error);
gboolean        leaf_catalog_undo               (LeafCatalog          *self,
                                                 char                **description,
                                                 GError              **error);
gboolean        leaf_catalog_redo               (LeafCatalog          *self,
                                                 char                **description,
                                                 GError              **error);
char           *leaf_catalog_get_undo_description (LeafCatalog        *self);
char           *leaf_catalog_get_redo_description (LeafCatalog        *self);

/* Votes, adjudication and agreement between labellers */
gboolean        leaf_catalog_adjudicate         (LeafCatalog          *self,
                                                 const gint64         *image_ids,
                                                 gsize                 n_images,
                                                 gint64                class_id,
                                                 GError              **error);

typedef struct
{
  char *labeller;
  gint64 class_id;
  char *class_name;
  char *time;
  LeafLabelHow how;
  gboolean counts;  /* a ballot: folder imports count only until someone votes */
} LeafVoteInfo;

void            leaf_vote_info_free             (LeafVoteInfo         *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LeafVoteInfo, leaf_vote_info_free)
GPtrArray      *leaf_catalog_list_votes         (LeafCatalog          *self,
                                                 gint64                image_id,
                                                 char                **adjudicator,
                                                 gint64               *adjudicated_class_id,
                                                 GError              **error);

typedef struct
{
  gint64 class_id;
  char *class_name;
  LeafKappa kappa;   /* agreement on whether photos are of this class */
} LeafClassAgreement;

typedef struct
{
  LeafKappa overall;
  guint n_labellers;   /* who voted on any photo (folder imports aside) */
  guint n_disputed;    /* photos whose ballots disagree and nobody adjudicated */
  guint n_adjudicated;
  /* How the other labels came about: one ballot, several that agree, a majority */
  guint n_single, n_unanimous, n_majority;
  GArray *classes;     /* LeafClassAgreement, in the classes' order */
} LeafAgreement;

/* What leaf_catalog_merge() brought in */
typedef struct
{
  guint n_images_added;
  guint n_classes_added;
  guint n_votes_added;
  guint n_votes_updated;  /* a labeller's later vote, cast in the other catalog */
  guint n_decisions;      /* adjudications added or replaced by later ones */
  guint n_disputed;       /* photos of the other catalog now waiting for a decision */
  guint n_unreachable;    /* photos a server does not hold, their files not on this machine */
} LeafMergeSummary;

gboolean        leaf_catalog_copy               (const char           *source,
                                                 const char           *destination,
                                                 guint                *n_images,
                                                 guint                *n_unreachable,
                                                 GError              **error);
gboolean        leaf_catalog_merge              (LeafCatalog          *self,
                                                 const char           *source_path,
                                                 LeafMergeSummary     *summary,
                                                 GError              **error);

void            leaf_agreement_free             (LeafAgreement        *agreement);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LeafAgreement, leaf_agreement_free)
LeafAgreement  *leaf_catalog_get_agreement      (LeafCatalog          *self,
                                                 GError              **error);
gboolean        leaf_catalog_count_labellers    (LeafCatalog          *self,
                                                 guint                *n_labellers,
                                                 GError              **error);

/* Images: queries live in leaf-catalog-image.h */
gboolean        leaf_catalog_set_group_key      (LeafCatalog          *self,
                                                 const gint64         *image_ids,
                                                 gsize                 n_images,
                                                 const char           *group_key,
                                                 GError              **error);
gboolean        leaf_catalog_check_missing      (LeafCatalog          *self,
                                                 GCancellable         *cancellable,
                                                 guint                *n_missing,
                                                 GError              **error);
void            leaf_catalog_check_missing_async  (LeafCatalog        *self,
                                                   GCancellable       *cancellable,
                                                   GAsyncReadyCallback callback,
                                                   gpointer            user_data);
gboolean        leaf_catalog_check_missing_finish (LeafCatalog        *self,
                                                   GAsyncResult       *result,
                                                   guint              *n_missing,
                                                   GError            **error);
gboolean        leaf_catalog_relocate           (LeafCatalog          *self,
                                                 const char           *old_folder,
                                                 const char           *new_folder,
                                                 guint                *n_repaired,
                                                 GPtrArray           **differing,
                                                 GPtrArray           **not_found,
                                                 GError              **error);

G_END_DECLS
