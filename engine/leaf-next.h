/* leaf-next.h: which unlabelled photos to label next
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "leaf-catalog.h"
#include "leaf-predictor.h"

G_BEGIN_DECLS

/* Above this cosine similarity of pooled features, two photos count as near-duplicates. */
#define LEAF_NEXT_DEFAULT_MAX_SIMILARITY 0.95

typedef struct
{
  guint index;         /* into the candidates */
  double margin;       /* top probability minus the second: small is uncertain */
  double score;        /* (1 - margin) x typicality^3, typicality in 0..1: what the ranking weighs */
  gboolean duplicate;  /* a near-duplicate of a photo ranked before it */
} LeafNextPick;

double  leaf_next_margin (const float *probabilities,
                          guint        n_classes);
GArray *leaf_next_rank   (const float *probabilities,
                          guint        n_classes,
                          const float *features,
                          guint        n_features,
                          guint        n_candidates,
                          guint        count,
                          double       max_similarity);

/**
 * LeafNextItem:
 * @image: an unlabelled photo
 * @pick: its place in the ranking; @pick.index counts the photos that were ranked
 * @top: the model's likeliest class, an index into its classes
 * @probability: that class's probability
 */
typedef struct
{
  LeafCatalogImage *image;
  LeafNextPick pick;
  guint top;
  float probability;
} LeafNextItem;

/* Called for each photo that cannot be read, which the ranking leaves out. */
typedef void (*LeafNextSkipFunc) (const GError *error,
                                  gpointer      user_data);

void       leaf_next_item_free    (LeafNextItem      *item);

/* The unlabelled photos of a catalog, predicted a batch at a time, then ranked */
typedef struct _LeafNextCandidates LeafNextCandidates;

LeafNextCandidates *leaf_next_candidates_new          (LeafCatalog         *catalog,
                                                       GError             **error);
void                leaf_next_candidates_free         (LeafNextCandidates  *self);
gboolean            leaf_next_candidates_get_progress (LeafNextCandidates  *self,
                                                       guint               *done,
                                                       guint               *total);
gboolean            leaf_next_candidates_predict      (LeafNextCandidates  *self,
                                                       LeafPredictor       *predictor,
                                                       LeafNextSkipFunc     skipped,
                                                       gpointer             skipped_data,
                                                       GError             **error);
GPtrArray          *leaf_next_candidates_rank         (LeafNextCandidates  *self,
                                                       gint64               model_id,
                                                       guint                count,
                                                       double               max_similarity,
                                                       GError             **error);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LeafNextCandidates, leaf_next_candidates_free)

GPtrArray *leaf_next_rank_catalog (LeafCatalog       *catalog,
                                   LeafPredictor     *predictor,
                                   gint64             model_id,
                                   guint              count,
                                   double             max_similarity,
                                   LeafNextSkipFunc   skipped,
                                   gpointer           skipped_data,
                                   GCancellable      *cancellable,
                                   GError           **error);

G_END_DECLS
