/* leaf-agreement.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "leaf-agreement.h"

static guint
category_of (const LeafVote *vote,
             int             category)
{
  return category < 0 ? vote->category : vote->category == (guint) category ? 0 : 1;
}

static int
compare_votes (gconstpointer a,
               gconstpointer b)
{
  const LeafVote *x = a, *y = b;

  if (x->item != y->item)
    return x->item < y->item ? -1 : 1;
  return x->rater < y->rater ? -1 : x->rater > y->rater;
}

/* Cohen (1960): the two labellers' tables of classes over the photos both labelled. */
static void
cohen (const LeafVote *votes,
       gsize           n_votes,
       guint           n_categories,
       int             category,
       guint           rater_a,
       LeafKappa      *kappa)
{
  g_autofree double *a = g_new0 (double, n_categories);
  g_autofree double *b = g_new0 (double, n_categories);
  double agree = 0, chance = 0;
  guint n = 0;

  for (gsize i = 0; i + 1 < n_votes; i++)
    if (votes[i].item == votes[i + 1].item)
      {
        /* Sorted by rater within a photo: the first is rater_a's when both labelled it. */
        guint x = category_of (&votes[i], category), y = category_of (&votes[i + 1], category);

        g_assert (votes[i].rater == rater_a);
        a[x]++;
        b[y]++;
        agree += x == y;
        n++;
        i++;
      }
  kappa->n_items = n;
  if (n == 0)
    return;
  for (guint k = 0; k < n_categories; k++)
    chance += (a[k] / n) * (b[k] / n);
  kappa->observed = agree / n;
  kappa->kappa = chance < 1 ? (kappa->observed - chance) / (1 - chance) : NAN;
}

/* Fleiss (1971), for photos labelled by different numbers of labellers: each photo's share of
 * agreeing pairs, averaged, against the chance that two labels drawn from all agree. */
static void
fleiss (const LeafVote *votes,
        gsize           n_votes,
        guint           n_categories,
        int             category,
        LeafKappa      *kappa)
{
  g_autofree double *totals = g_new0 (double, n_categories);
  g_autofree guint *counts = g_new0 (guint, n_categories);
  double pairs_sum = 0, n_labels = 0, chance = 0;
  guint n = 0;

  for (gsize start = 0, end; start < n_votes; start = end)
    {
      guint n_i, agreeing = 0;

      for (end = start; end < n_votes && votes[end].item == votes[start].item; end++)
        ;
      n_i = end - start;
      if (n_i < 2)
        continue;
      memset (counts, 0, n_categories * sizeof *counts);
      for (gsize v = start; v < end; v++)
        counts[category_of (&votes[v], category)]++;
      for (guint k = 0; k < n_categories; k++)
        {
          agreeing += counts[k] * (counts[k] - (counts[k] > 0));
          totals[k] += counts[k];
        }
      pairs_sum += (double) agreeing / (n_i * (n_i - 1));
      n_labels += n_i;
      n++;
    }
  kappa->n_items = n;
  if (n == 0)
    return;
  for (guint k = 0; k < n_categories; k++)
    chance += (totals[k] / n_labels) * (totals[k] / n_labels);
  kappa->observed = pairs_sum / n;
  kappa->kappa = chance < 1 ? (kappa->observed - chance) / (1 - chance) : NAN;
}

/**
 * leaf_agreement_kappa:
 * @votes: (array length=n_votes): the labels, at most one per labeller and photo
 * @n_categories: how many classes the categories index
 * @category: -1 for agreement over all classes, or a class: agreement on whether photos are of
 *   it or not
 * @kappa: (out caller-allocates): the result
 *
 * Cohen's kappa when exactly two labellers labelled photos that someone else labelled too
 * (over the photos both labelled), Fleiss' kappa when more did (over every photo with at least
 * two labels, however many). Photos with one label say nothing about agreement.
 */
void
leaf_agreement_kappa (const LeafVote *votes,
                      gsize           n_votes,
                      guint           n_categories,
                      int             category,
                      LeafKappa      *kappa)
{
  g_autofree LeafVote *sorted = g_memdup2 (votes, n_votes * sizeof *votes);
  g_autoptr(GHashTable) raters = g_hash_table_new (NULL, NULL);
  guint classes = category < 0 ? n_categories : 2;
  guint first_rater = 0;
  gsize kept = 0;

  g_return_if_fail (kappa != NULL);
  g_return_if_fail (category < (int) n_categories);

  *kappa = (LeafKappa) { LEAF_KAPPA_NONE, 0, 0, NAN, NAN };
  qsort (sorted, n_votes, sizeof *sorted, compare_votes);
  /* Only photos with two labels or more. */
  for (gsize start = 0, end; start < n_votes; start = end)
    {
      for (end = start; end < n_votes && sorted[end].item == sorted[start].item; end++)
        g_return_if_fail (sorted[end].category < n_categories);
      if (end - start < 2)
        continue;
      for (gsize v = start; v < end; v++)
        {
          g_hash_table_add (raters, GUINT_TO_POINTER (sorted[v].rater + 1));
          sorted[kept++] = sorted[v];
        }
    }
  kappa->n_raters = g_hash_table_size (raters);
  if (kappa->n_raters < 2)
    return;
  if (kappa->n_raters == 2)
    {
      GHashTableIter iter;
      gpointer key;

      g_hash_table_iter_init (&iter, raters);
      first_rater = G_MAXUINT;
      while (g_hash_table_iter_next (&iter, &key, NULL))
        first_rater = MIN (first_rater, GPOINTER_TO_UINT (key) - 1);
      kappa->method = LEAF_KAPPA_COHEN;
      cohen (sorted, kept, classes, category, first_rater, kappa);
    }
  else
    {
      kappa->method = LEAF_KAPPA_FLEISS;
      fleiss (sorted, kept, classes, category, kappa);
    }
}

const char *
leaf_kappa_method_to_string (LeafKappaMethod method)
{
  switch (method)
    {
    case LEAF_KAPPA_COHEN:
      return "cohen";
    case LEAF_KAPPA_FLEISS:
      return "fleiss";
    case LEAF_KAPPA_NONE:
    default:
      return "none";
    }
}
