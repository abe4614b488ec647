/* leaf-next.c: which unlabelled photos to label next
 *
 * Uncertainty sampling by margin: the photos whose two likeliest classes are closest teach a
 * model the most per label. Taken alone it keeps picking the same stretch of the class boundary,
 * and outliers no other photo resembles, once the easy structure is learnt; on tomato5-dev random
 * order caught up with it from about 100 labels on (tests/bench/active). So the ranking also
 * weighs how typical a photo is and spreads a batch over the feature space:
 *
 * 1. The 40 x count candidates of smallest margin (at most 1000, unless count is more) form
 *    the shortlist.
 * 2. A shortlisted photo's typicality is 1 / (mean distance of its unit-length pooled features to
 *    its 10 nearest shortlisted neighbours), scaled to a maximum of 1; its score is
 *    (1 - margin) x typicality^3: an uncertain photo in a dense region stands for many.
 * 3. The 10 x count best-scored are split into count clusters by k-means (farthest-point start
 *    from the best-scored, then at most 20 Lloyd iterations, until no photo changes cluster),
 *    and each cluster's best-scored photo is ranked, in order of score; the rest of the
 *    shortlist follows by score.
 * 4. A photo whose features are nearly parallel to those of one ranked before it is deferred
 *    behind every distinct one, as before.
 *
 * Everything is deterministic (ties go to the smaller margin, then the lower candidate index),
 * and the cost is O(shortlist^2 x features): about half a second for 20 picks out of 10,000
 * photos on a busy 2-core machine. Without features the order is by
 * margin alone. tests/bench/active/simulate.py replays this algorithm step for step.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-next"

#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "leaf-image.h"
#include "leaf-next.h"

#define SHORTLIST_PER_PICK 40
#define CLUSTERED_PER_PICK 10
#define NEIGHBOURS 10
#define TYPICALITY_POWER 3
#define MAX_ITERATIONS 20
#define SHORTLIST_MAX 1000

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
  double key;
} Ranked;

/* Ascending key, then ascending index: a total order, so qsort's instability cannot show. */
static int
compare_key (const void *a,
             const void *b)
{
  const Ranked *x = a, *y = b;

  if (x->key != y->key)
    return x->key < y->key ? -1 : 1;
  return (x->index > y->index) - (x->index < y->index);
}

static int
compare_double (const void *a,
                const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

/* Four running sums: the additions need not wait on each other, which makes this, the inner
 * loop of the whole ranking, several times faster without -ffast-math. */
static double
dot (const double *a,
     const double *b,
     guint         n)
{
  double sum[4] = { 0, 0, 0, 0 };
  guint i = 0;

  for (; i + 4 <= n; i += 4)
    for (guint j = 0; j < 4; j++)
      sum[j] += a[i + j] * b[i + j];
  for (; i < n; i++)
    sum[0] += a[i] * b[i];
  return (sum[0] + sum[1]) + (sum[2] + sum[3]);
}

static double
squared_distance (const double *a,
                  const double *b,
                  guint         n)
{
  double sum[4] = { 0, 0, 0, 0 };
  guint i = 0;

  for (; i + 4 <= n; i += 4)
    for (guint j = 0; j < 4; j++)
      sum[j] += (a[i + j] - b[i + j]) * (a[i + j] - b[i + j]);
  for (; i < n; i++)
    sum[0] += (a[i] - b[i]) * (a[i] - b[i]);
  return (sum[0] + sum[1]) + (sum[2] + sum[3]);
}

/* Typicality of each of the n unit-length rows, scaled to a maximum of 1. */
static void
typicality (const double *unit,
            guint         n,
            guint         n_features,
            double       *out)
{
  g_autofree double *gram = g_new (double, (gsize) n * n);
  g_autofree double *row = g_new (double, MAX (n, 1));
  guint k = MIN (NEIGHBOURS, n - 1);
  double top = 0;

  for (guint i = 0; i < n; i++)
    for (guint j = i; j < n; j++)
      gram[(gsize) i * n + j] = gram[(gsize) j * n + i] =
        dot (unit + (gsize) i * n_features, unit + (gsize) j * n_features, n_features);
  for (guint i = 0; i < n; i++)
    {
      double sum = 0;
      guint m = 0;

      for (guint j = 0; j < n; j++)
        if (j != i)
          row[m++] = sqrt (MAX (2 - 2 * gram[(gsize) i * n + j], 0));
      qsort (row, m, sizeof *row, compare_double);
      for (guint j = 0; j < k; j++)
        sum += row[j];
      out[i] = k > 0 ? 1 / (sum / k + 1e-6) : 1;
      top = MAX (top, out[i]);
    }
  for (guint i = 0; i < n; i++)
    out[i] /= top;
}

/* k-means of the n rows (in order of decreasing score) into at most k clusters; writes each
 * row's cluster to assignment and returns how many clusters there are. */
static guint
cluster (const double *rows,
         guint         n,
         guint         n_features,
         guint         k,
         guint        *assignment)
{
  g_autofree double *centres = g_new (double, (gsize) MAX (k, 1) * n_features);
  g_autofree double *nearest = g_new (double, MAX (n, 1));
  g_autofree guint *sizes = g_new (guint, MAX (k, 1));

  k = MIN (k, n);
  if (k == 0)
    return 0;
  /* Farthest-point start from the best-scored row: deterministic, and already spread out. */
  memcpy (centres, rows, n_features * sizeof (double));
  for (guint i = 0; i < n; i++)
    nearest[i] = squared_distance (rows + (gsize) i * n_features, centres, n_features);
  for (guint c = 1; c < k; c++)
    {
      guint far = 0;

      for (guint i = 1; i < n; i++)
        if (nearest[i] > nearest[far])
          far = i;
      memcpy (centres + (gsize) c * n_features, rows + (gsize) far * n_features,
              n_features * sizeof (double));
      for (guint i = 0; i < n; i++)
        nearest[i] = MIN (nearest[i],
                          squared_distance (rows + (gsize) i * n_features,
                                            centres + (gsize) c * n_features, n_features));
    }

  for (guint iteration = 0; iteration < MAX_ITERATIONS; iteration++)
    {
      gboolean changed = FALSE;

      for (guint i = 0; i < n; i++)
        {
          guint best = 0;
          double best_distance = G_MAXDOUBLE;

          for (guint c = 0; c < k; c++)
            {
              double d = squared_distance (rows + (gsize) i * n_features,
                                           centres + (gsize) c * n_features, n_features);
              if (d < best_distance)
                {
                  best = c;
                  best_distance = d;
                }
            }
          changed |= iteration == 0 || assignment[i] != best;
          assignment[i] = best;
        }
      if (!changed)
        break;
      /* An emptied cluster keeps its centre. */
      memset (sizes, 0, k * sizeof (guint));
      for (guint i = 0; i < n; i++)
        sizes[assignment[i]]++;
      for (guint c = 0; c < k; c++)
        if (sizes[c] > 0)
          memset (centres + (gsize) c * n_features, 0, n_features * sizeof (double));
      for (guint i = 0; i < n; i++)
        for (guint f = 0; f < n_features; f++)
          centres[(gsize) assignment[i] * n_features + f] += rows[(gsize) i * n_features + f];
      for (guint c = 0; c < k; c++)
        for (guint f = 0; sizes[c] > 0 && f < n_features; f++)
          centres[(gsize) c * n_features + f] /= sizes[c];
    }
  return k;
}

/**
 * leaf_next_rank:
 * @probabilities: n_candidates x n_classes calibrated probabilities
 * @features: (nullable): n_candidates x n_features pooled features; without them the order is
 *   by margin alone
 * @count: how many to rank (at most n_candidates)
 * @max_similarity: cosine similarity above which a candidate is a near-duplicate
 *
 * The candidates worth labelling first: uncertain (small margin), typical of the uncertain ones,
 * and spread over the feature space; see the top of this file. Each near-duplicate of one already
 * ranked is deferred behind every distinct candidate.
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
  g_autofree Ranked *by_margin = g_new (Ranked, MAX (n_candidates, 1));
  g_autoptr(GArray) deferred = g_array_new (FALSE, FALSE, sizeof (LeafNextPick));
  g_autofree double *unit = NULL;
  g_autofree double *typical = NULL;
  g_autofree Ranked *by_score = NULL;
  g_autofree double *clustered = NULL;
  g_autofree guint *assignment = NULL;
  g_autofree guint *order = NULL;
  g_autofree gboolean *placed = NULL;
  g_autofree guint *chosen = NULL;
  GArray *picks = g_array_new (FALSE, FALSE, sizeof (LeafNextPick));
  guint n_short, n_clustered, n_clusters, n_order = 0, n_chosen = 0;

  count = MIN (count, n_candidates);
  for (guint i = 0; i < n_candidates; i++)
    by_margin[i] = (Ranked) { i, leaf_next_margin (probabilities + (gsize) i * n_classes,
                                                   n_classes) };
  qsort (by_margin, n_candidates, sizeof *by_margin, compare_key);

  if (features == NULL || n_features == 0 || count == 0)
    {
      for (guint r = 0; r < count; r++)
        {
          LeafNextPick pick = { by_margin[r].index, by_margin[r].key, 1 - by_margin[r].key, FALSE };
          g_array_append_val (picks, pick);
        }
      return picks;
    }

  /* Shortlist positions s refer to by_margin[s]. */
  n_short = MIN (n_candidates,
                 MAX (count, MIN ((guint64) SHORTLIST_PER_PICK * count, SHORTLIST_MAX)));
  unit = g_new0 (double, (gsize) MAX (n_short, 1) * n_features);
  for (guint s = 0; s < n_short; s++)
    {
      const float *x = features + (gsize) by_margin[s].index * n_features;
      double *u = unit + (gsize) s * n_features;
      double norm = 0;

      for (guint f = 0; f < n_features; f++)
        norm += (double) x[f] * x[f];
      norm = sqrt (norm);
      for (guint f = 0; norm > 0 && f < n_features; f++)
        u[f] = x[f] / norm;
    }
  typical = g_new (double, MAX (n_short, 1));
  typicality (unit, n_short, n_features, typical);
  by_score = g_new (Ranked, MAX (n_short, 1));
  for (guint s = 0; s < n_short; s++)
    by_score[s] = (Ranked) { s, -(1 - by_margin[s].key) * pow (typical[s], TYPICALITY_POWER) };
  qsort (by_score, n_short, sizeof *by_score, compare_key);

  /* One pick per cluster of the best-scored, in order of score: by_score order is kept, so
   * the first row met of each cluster is its best. */
  n_clustered = MIN (n_short, (guint64) CLUSTERED_PER_PICK * count);
  clustered = g_new (double, (gsize) MAX (n_clustered, 1) * n_features);
  assignment = g_new0 (guint, MAX (n_clustered, 1));
  for (guint r = 0; r < n_clustered; r++)
    memcpy (clustered + (gsize) r * n_features, unit + (gsize) by_score[r].index * n_features,
            n_features * sizeof (double));
  n_clusters = cluster (clustered, n_clustered, n_features, count, assignment);
  order = g_new (guint, MAX (n_short, 1));
  placed = g_new0 (gboolean, MAX (n_short, 1));
  {
    g_autofree gboolean *seen = g_new0 (gboolean, MAX (n_clusters, 1));

    for (guint r = 0; r < n_clustered; r++)
      if (!seen[assignment[r]])
        {
          seen[assignment[r]] = TRUE;
          placed[r] = TRUE;
          order[n_order++] = r;
        }
  }
  for (guint r = 0; r < n_short; r++)
    if (!placed[r])
      order[n_order++] = r;

  chosen = g_new (guint, MAX (count, 1));
  for (guint o = 0; o < n_order && n_chosen < count; o++)
    {
      guint s = by_score[order[o]].index;
      LeafNextPick pick = { by_margin[s].index, by_margin[s].key, -by_score[order[o]].key, FALSE };

      for (guint j = 0; j < n_chosen && !pick.duplicate; j++)
        pick.duplicate = dot (unit + (gsize) s * n_features, unit + (gsize) chosen[j] * n_features,
                              n_features) > max_similarity;
      if (pick.duplicate)
        g_array_append_val (deferred, pick);
      else
        {
          g_array_append_val (picks, pick);
          chosen[n_chosen++] = s;
        }
    }
  for (guint i = 0; i < deferred->len && picks->len < count; i++)
    g_array_append_val (picks, g_array_index (deferred, LeafNextPick, i));
  return picks;
}

/* A catalog's unlabelled photos ---------------------------------------------------------------- */

/* Photos predicted in one call: a batch keeps the CPU's vector units busy, bounds the memory
 * held by decoded photos, and is what a diagnosis waits for at most behind a ranking. */
#define PREDICT_BATCH 32

struct _LeafNextCandidates
{
  LeafCatalog *catalog;
  GPtrArray *candidates;  /* LeafCatalogImage: unlabelled and not missing, in import order */
  guint done;             /* candidates predicted (or found unreadable) so far */
  GPtrArray *kept;        /* LeafCatalogImage: those predicted */
  GArray *probabilities;  /* float: kept->len x n_classes */
  GArray *features;       /* float: kept->len x LEAF_PREDICTOR_N_FEATURES */
  guint n_classes;
};

void
leaf_next_item_free (LeafNextItem *item)
{
  if (item == NULL)
    return;
  g_clear_object (&item->image);
  g_free (item);
}

/**
 * leaf_next_candidates_new:
 *
 * The unlabelled photos of @catalog that are not missing, to predict in batches with
 * leaf_next_candidates_predict() and rank with leaf_next_candidates_rank().
 *
 * Returns: (transfer full): the candidates, or %NULL with @error set
 */
LeafNextCandidates *
leaf_next_candidates_new (LeafCatalog  *catalog,
                          GError      **error)
{
  LeafImageQuery query = { .labels = LEAF_LABEL_FILTER_UNLABELED };
  g_autoptr(GPtrArray) images = NULL;
  LeafNextCandidates *self;

  g_return_val_if_fail (LEAF_IS_CATALOG (catalog), NULL);

  images = leaf_catalog_query_images (catalog, &query, 0, G_MAXUINT, error);
  if (images == NULL)
    return NULL;
  self = g_new0 (LeafNextCandidates, 1);
  self->catalog = g_object_ref (catalog);
  self->candidates = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < images->len; i++)
    if (!leaf_catalog_image_get_missing (images->pdata[i]))
      g_ptr_array_add (self->candidates, g_object_ref (images->pdata[i]));
  self->kept = g_ptr_array_new_with_free_func (g_object_unref);
  self->probabilities = g_array_new (FALSE, FALSE, sizeof (float));
  self->features = g_array_new (FALSE, FALSE, sizeof (float));
  return self;
}

void
leaf_next_candidates_free (LeafNextCandidates *self)
{
  if (self == NULL)
    return;
  g_object_unref (self->catalog);
  g_ptr_array_unref (self->candidates);
  g_ptr_array_unref (self->kept);
  g_array_unref (self->probabilities);
  g_array_unref (self->features);
  g_free (self);
}

/**
 * leaf_next_candidates_get_progress:
 * @done: (out) (optional): candidates predicted so far, unreadable ones included
 * @total: (out) (optional): all the candidates
 *
 * Returns: whether candidates are left to predict
 */
gboolean
leaf_next_candidates_get_progress (LeafNextCandidates *self,
                                   guint              *done,
                                   guint              *total)
{
  if (done != NULL)
    *done = self->done;
  if (total != NULL)
    *total = self->candidates->len;
  return self->done < self->candidates->len;
}

/**
 * leaf_next_candidates_predict:
 * @predictor: the model to rank with, the same for every batch
 * @skipped: (nullable) (scope call): told about each photo that cannot be read, which the
 *   ranking leaves out
 *
 * Predicts the next batch of candidates.
 *
 * Returns: %FALSE with @error set when the model failed
 */
gboolean
leaf_next_candidates_predict (LeafNextCandidates  *self,
                              LeafPredictor       *predictor,
                              LeafNextSkipFunc     skipped,
                              gpointer             skipped_data,
                              GError             **error)
{
  g_autoptr(GPtrArray) pixbufs = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) readable = g_ptr_array_new ();
  guint end = MIN (self->done + PREDICT_BATCH, self->candidates->len);
  guint first = self->kept->len;

  g_return_val_if_fail (LEAF_IS_PREDICTOR (predictor), FALSE);

  self->n_classes = leaf_predictor_get_n_classes (predictor);
  for (guint i = self->done; i < end; i++)
    {
      g_autoptr(GError) local = NULL;
      GdkPixbuf *image = leaf_image_load (leaf_catalog_image_get_path (self->candidates->pdata[i]),
                                          LEAF_IMAGE_DEFAULT_MAX_PIXELS, &local);
      if (image == NULL)
        {
          if (skipped != NULL)
            skipped (local, skipped_data);
          continue;
        }
      g_ptr_array_add (pixbufs, image);
      g_ptr_array_add (readable, self->candidates->pdata[i]);
    }
  self->done = end;
  if (readable->len == 0)
    return TRUE;
  g_array_set_size (self->probabilities, (gsize) (first + readable->len) * self->n_classes);
  g_array_set_size (self->features, (gsize) (first + readable->len) * LEAF_PREDICTOR_N_FEATURES);
  if (!leaf_predictor_predict_batch (predictor, (GdkPixbuf **) pixbufs->pdata, pixbufs->len,
                                     &g_array_index (self->probabilities, float,
                                                     (gsize) first * self->n_classes),
                                     &g_array_index (self->features, float,
                                                     (gsize) first * LEAF_PREDICTOR_N_FEATURES),
                                     error))
    {
      g_array_set_size (self->probabilities, (gsize) first * self->n_classes);
      g_array_set_size (self->features, (gsize) first * LEAF_PREDICTOR_N_FEATURES);
      return FALSE;
    }
  for (guint i = 0; i < readable->len; i++)
    g_ptr_array_add (self->kept, g_object_ref (readable->pdata[i]));
  return TRUE;
}

/**
 * leaf_next_candidates_rank:
 * @model_id: the catalog's record of the model that predicted, whose predictions to store, or 0
 *   to store none
 * @count: how many photos to rank
 * @max_similarity: as for leaf_next_rank()
 *
 * Ranks the candidates predicted so far with leaf_next_rank().
 *
 * Returns: (transfer full) (element-type LeafNextItem): the ranked photos, none when no
 *   candidate could be read; %NULL with @error set when the predictions cannot be stored
 */
GPtrArray *
leaf_next_candidates_rank (LeafNextCandidates  *self,
                           gint64               model_id,
                           guint                count,
                           double               max_similarity,
                           GError             **error)
{
  g_autofree gint64 *ids = g_new (gint64, MAX (self->kept->len, 1));
  g_autoptr(GArray) picks = NULL;
  GPtrArray *items;

  for (guint i = 0; i < self->kept->len; i++)
    ids[i] = leaf_catalog_image_get_id (self->kept->pdata[i]);
  if (model_id > 0 && self->kept->len > 0
      && !leaf_catalog_add_predictions (self->catalog, model_id, ids, self->kept->len,
                                        (const float *) (gpointer) self->probabilities->data,
                                        self->n_classes, NULL, error))
    return NULL;

  picks = leaf_next_rank ((const float *) (gpointer) self->probabilities->data, self->n_classes,
                          (const float *) (gpointer) self->features->data,
                          LEAF_PREDICTOR_N_FEATURES, self->kept->len, count, max_similarity);
  items = g_ptr_array_new_full (picks->len, (GDestroyNotify) leaf_next_item_free);
  for (guint r = 0; r < picks->len; r++)
    {
      LeafNextItem *item = g_new0 (LeafNextItem, 1);
      const float *p;

      item->pick = g_array_index (picks, LeafNextPick, r);
      item->image = g_object_ref (self->kept->pdata[item->pick.index]);
      p = &g_array_index (self->probabilities, float, (gsize) item->pick.index * self->n_classes);
      leaf_predictor_top_k (p, self->n_classes, &item->top, 1);
      item->probability = p[item->top];
      g_ptr_array_add (items, item);
    }
  return items;
}

/**
 * leaf_next_rank_catalog:
 * @predictor: the model to ask
 * @model_id: the catalog's record of that model, whose predictions to store, or 0 when the
 *   catalog does not know it
 * @count: how many photos to rank
 * @max_similarity: as for leaf_next_rank()
 * @skipped: (nullable) (scope call): told about each photo that cannot be read
 * @cancellable: (nullable): checked between batches of photos
 *
 * Predicts every unlabelled photo of @catalog that is not missing, stores the predictions (the
 * catalog's filters then show them without computing them again) and ranks the photos with
 * leaf_next_rank(). This is what `leafscope-cli next` lists; the Library's Label Next ranks the
 * same way, a batch at a time (leaf_diagnosis_service_rank_next_async()).
 *
 * Returns: (transfer full) (element-type LeafNextItem): the ranked photos, none when the catalog
 *   has no unlabelled photo that can be read; %NULL with @error set on failure
 */
GPtrArray *
leaf_next_rank_catalog (LeafCatalog       *catalog,
                        LeafPredictor     *predictor,
                        gint64             model_id,
                        guint              count,
                        double             max_similarity,
                        LeafNextSkipFunc   skipped,
                        gpointer           skipped_data,
                        GCancellable      *cancellable,
                        GError           **error)
{
  g_autoptr(LeafNextCandidates) candidates = NULL;

  g_return_val_if_fail (LEAF_IS_CATALOG (catalog), NULL);
  g_return_val_if_fail (LEAF_IS_PREDICTOR (predictor), NULL);

  candidates = leaf_next_candidates_new (catalog, error);
  if (candidates == NULL)
    return NULL;
  while (leaf_next_candidates_get_progress (candidates, NULL, NULL))
    if (g_cancellable_set_error_if_cancelled (cancellable, error)
        || !leaf_next_candidates_predict (candidates, predictor, skipped, skipped_data, error))
      return NULL;
  return leaf_next_candidates_rank (candidates, model_id, count, max_similarity, error);
}
