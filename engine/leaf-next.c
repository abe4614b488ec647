/* leaf-next.c: which unlabelled photos to label next
 *
 * Uncertainty sampling by margin: the photos whose two likeliest classes are closest teach a
 * model the most per label. Taken alone it picks clusters of near-identical photos (bursts
 * of the same leaf), so the ranking is greedy: a candidate whose pooled features are nearly
 * parallel to those of a photo already chosen waits until every distinct one is placed.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-next"

#include "config.h"

#include <math.h>
#include <stdlib.h>

#include "leaf-next.h"

/**
 * leaf_next_margin:
 *
 * Returns: the top probability minus the second (1 for a single class)
 */
double
leaf_next_margin (const float *probabilities,
                  guint        n_classes)
{
  double first = -1, second = 0;

  for (guint c = 0; c < n_classes; c++)
    if (probabilities[c] > first)
      {
        second = MAX (first, 0);
        first = probabilities[c];
      }
    else if (probabilities[c] > second)
      second = probabilities[c];
  return n_classes > 1 ? first - second : 1.0;
}

typedef struct
{
  guint index;
  double margin;
} Candidate;

static int
compare_margin (const void *a,
                const void *b)
{
  const Candidate *x = a, *y = b;

  if (x->margin != y->margin)
    return x->margin < y->margin ? -1 : 1;
  return (x->index > y->index) - (x->index < y->index);
}

static double
cosine (const float *a,
        const float *b,
        guint        n)
{
  double dot = 0, na = 0, nb = 0;

  for (guint i = 0; i < n; i++)
    {
      dot += (double) a[i] * b[i];
      na += (double) a[i] * a[i];
      nb += (double) b[i] * b[i];
    }
  return na > 0 && nb > 0 ? dot / sqrt (na * nb) : 0;
}

/**
 * leaf_next_rank:
 * @probabilities: n_candidates x n_classes calibrated probabilities
 * @features: (nullable): n_candidates x n_features pooled features; without them no
 *   near-duplicates are found
 * @count: how many to rank (at most n_candidates)
 * @max_similarity: cosine similarity above which a candidate is a near-duplicate
 *
 * Candidates in order of increasing margin; each near-duplicate of one already chosen is
 * deferred behind every distinct candidate, and the deferred ones then follow in margin order.
 *
 * Returns: (transfer full) (element-type LeafNextPick): min (count, n_candidates) picks
 */
GArray *
leaf_next_rank (const float *probabilities,
                guint        n_classes,
                const float *features,
                guint        n_features,
                guint        n_candidates,
                guint        count,
                double       max_similarity)
{
  g_autofree Candidate *candidates = g_new (Candidate, MAX (n_candidates, 1));
  g_autoptr(GArray) deferred = g_array_new (FALSE, FALSE, sizeof (LeafNextPick));
  GArray *picks = g_array_new (FALSE, FALSE, sizeof (LeafNextPick));

  count = MIN (count, n_candidates);
  for (guint i = 0; i < n_candidates; i++)
    {
      candidates[i].index = i;
      candidates[i].margin = leaf_next_margin (probabilities + (gsize) i * n_classes, n_classes);
    }
  qsort (candidates, n_candidates, sizeof *candidates, compare_margin);

  for (guint i = 0; i < n_candidates && picks->len < count; i++)
    {
      LeafNextPick pick = { candidates[i].index, candidates[i].margin, FALSE };

      for (guint j = 0; features != NULL && j < picks->len && !pick.duplicate; j++)
        pick.duplicate =
          cosine (features + (gsize) pick.index * n_features,
                  features + (gsize) g_array_index (picks, LeafNextPick, j).index * n_features,
                  n_features) > max_similarity;
      g_array_append_val (pick.duplicate ? deferred : picks, pick);
    }
  for (guint i = 0; i < deferred->len && picks->len < count; i++)
    g_array_append_val (picks, g_array_index (deferred, LeafNextPick, i));
  return picks;
}
