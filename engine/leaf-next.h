/* leaf-next.h: which unlabelled photos to label next
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

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

G_END_DECLS
