/* test-next.c: ranking unlabelled photos by margin, typicality and spread
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "leaf-test.h"

#include "leaf-next.h"

#define N_CLASSES 3
#define N_FEATURES 8
#define N 6

static void
test_margin (void)
{
  const float p[] = { 0.2f, 0.5f, 0.3f };
  const float one[] = { 1.0f };

  g_assert_cmpfloat_with_epsilon (leaf_next_margin (p, 3), 0.2, 1e-6);
  g_assert_cmpfloat (leaf_next_margin (one, 1), ==, 1.0);
}

static void
test_spreads_duplicates (void)
{
  /* Margins 0.0, 0.1, ..., 0.5 in the order of the candidates; candidates 0 and 1 are the same
   * leaf (parallel features), the others point in directions of their own. */
  float probabilities[N * N_CLASSES];
  float features[N * N_FEATURES] = { 0 };
  g_autoptr(GArray) picks = NULL;
  g_autoptr(GArray) plain = NULL;
  guint expected[N] = { 0, 2, 3, 4, 5, 1 };

  for (guint i = 0; i < N; i++)
    {
      float margin = 0.1f * i;
      probabilities[i * N_CLASSES + 0] = (1 + margin) / 2 - 0.05f;
      probabilities[i * N_CLASSES + 1] = (1 - margin) / 2 - 0.05f;
      probabilities[i * N_CLASSES + 2] = 0.1f;
      features[i * N_FEATURES + i] = 1;
      features[i * N_FEATURES + 7] = 0.1f;
    }
  features[1 * N_FEATURES + 1] = 0;
  features[1 * N_FEATURES + 0] = 2;   /* twice candidate 0's direction, nearly */

  picks = leaf_next_rank (probabilities, N_CLASSES, features, N_FEATURES, N, N,
                          LEAF_NEXT_DEFAULT_MAX_SIMILARITY);
  g_assert_cmpuint (picks->len, ==, N);
  for (guint r = 0; r < N; r++)
    {
      LeafNextPick *pick = &g_array_index (picks, LeafNextPick, r);
      g_assert_cmpuint (pick->index, ==, expected[r]);
      g_assert_true (pick->duplicate == (pick->index == 1));
    }

  /* Without features, or asking for fewer, the order is by margin alone. */
  plain = leaf_next_rank (probabilities, N_CLASSES, NULL, N_FEATURES, N, 3,
                          LEAF_NEXT_DEFAULT_MAX_SIMILARITY);
  g_assert_cmpuint (plain->len, ==, 3);
  for (guint r = 0; r < 3; r++)
    g_assert_cmpuint (g_array_index (plain, LeafNextPick, r).index, ==, r);
}

/* Probabilities over 3 classes with the given margin between the first two. */
static void
set_margin (float  *p,
            double  margin)
{
  p[0] = (1 + margin) / 2 - 0.05;
  p[1] = (1 - margin) / 2 - 0.05;
  p[2] = 0.1f;
}

static gboolean
ranks_before (GArray *picks,
              guint   a,
              guint   b)
{
  for (guint r = 0; r < picks->len; r++)
    {
      guint index = g_array_index (picks, LeafNextPick, r).index;
      if (index == a || index == b)
        return index == a;
    }
  g_assert_not_reached ();
}

static void
test_uncertainty (void)
{
  /* Eight photos, each in a direction of its own, so that all are equally typical: the most
   * ambiguous comes first and a clear one last, whatever their order among the candidates. */
  float probabilities[8 * N_CLASSES];
  float features[8 * N_FEATURES] = { 0 };
  const double margins[8] = { 0.5, 0.9, 0.3, 0.05, 0.7, 0.2, 0.6, 0.4 };
  g_autoptr(GArray) picks = NULL;

  for (guint i = 0; i < 8; i++)
    {
      set_margin (probabilities + i * N_CLASSES, margins[i]);
      features[i * N_FEATURES + i] = 1;
    }
  picks = leaf_next_rank (probabilities, N_CLASSES, features, N_FEATURES, 8, 8,
                          LEAF_NEXT_DEFAULT_MAX_SIMILARITY);
  g_assert_cmpuint (picks->len, ==, 8);
  g_assert_cmpuint (g_array_index (picks, LeafNextPick, 0).index, ==, 3);
  g_assert_cmpuint (g_array_index (picks, LeafNextPick, 7).index, ==, 1);
  g_assert_cmpfloat_with_epsilon (g_array_index (picks, LeafNextPick, 0).margin, 0.05, 1e-6);
  g_assert_cmpfloat_with_epsilon (g_array_index (picks, LeafNextPick, 0).score, 0.95, 1e-6);
  g_assert_true (ranks_before (picks, 5, 0));   /* margin 0.2 before 0.5 */
}

#define N_GROUPS 3
#define PER_GROUP 20
#define DIMENSIONS 16

/* 3 groups of 20 photos, each group spread around an axis of its own (members' cosine about
 * about 0.85, below the near-duplicate threshold), plus an outlier. Group 0 holds the smallest
 * margins, so margin alone would spend a batch of 10 on it. */
static void
make_groups (float *probabilities,
             float *features)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (8);

  for (guint g = 0; g < N_GROUPS; g++)
    for (guint j = 0; j < PER_GROUP; j++)
      {
        guint i = g * PER_GROUP + j;
        float *x = features + i * DIMENSIONS;

        set_margin (probabilities + i * N_CLASSES, (g == 0 ? 0.0 : 0.2) + 0.005 * j);
        x[g] = 1;
        for (guint f = N_GROUPS; f < DIMENSIONS; f++)
          x[f] = g_rand_double_range (rand, -0.2, 0.2);
      }
}

static void
test_spreads_over_groups (void)
{
  float probabilities[(N_GROUPS * PER_GROUP + 1) * N_CLASSES];
  float features[(N_GROUPS * PER_GROUP + 1) * DIMENSIONS] = { 0 };
  guint n = N_GROUPS * PER_GROUP;
  guint in_group[N_GROUPS] = { 0 };
  g_autoptr(GArray) picks = NULL;
  g_autoptr(GArray) with_outlier = NULL;

  make_groups (probabilities, features);
  picks = leaf_next_rank (probabilities, N_CLASSES, features, DIMENSIONS, n, 10,
                          LEAF_NEXT_DEFAULT_MAX_SIMILARITY);
  g_assert_cmpuint (picks->len, ==, 10);
  for (guint r = 0; r < picks->len; r++)
    {
      LeafNextPick *pick = &g_array_index (picks, LeafNextPick, r);
      in_group[pick->index / PER_GROUP]++;
      g_assert_false (pick->duplicate);
    }
  for (guint g = 0; g < N_GROUPS; g++)
    g_test_message ("group %u: %u of the first 10", g, in_group[g]);
  /* Every group is sampled, and the most uncertain one gets no more than its share plus some. */
  for (guint g = 0; g < N_GROUPS; g++)
    g_assert_cmpuint (in_group[g], >=, 2);
  g_assert_cmpuint (in_group[0], <=, 5);
  /* The most uncertain group still comes first. */
  g_assert_cmpuint (g_array_index (picks, LeafNextPick, 0).index / PER_GROUP, ==, 0);

  /* An outlier no other photo resembles, though the most uncertain of all, is not worth
   * ranking first: its label says little about the rest. */
  set_margin (probabilities + n * N_CLASSES, 0.0);
  features[n * DIMENSIONS + DIMENSIONS - 1] = 1;
  with_outlier = leaf_next_rank (probabilities, N_CLASSES, features, DIMENSIONS, n + 1, 10,
                                 LEAF_NEXT_DEFAULT_MAX_SIMILARITY);
  for (guint r = 0; r < with_outlier->len; r++)
    if (g_array_index (with_outlier, LeafNextPick, r).index == n)
      g_test_message ("the outlier ranks %u of %u", r + 1, with_outlier->len);
  for (guint r = 0; r < 5; r++)
    g_assert_cmpuint (g_array_index (with_outlier, LeafNextPick, r).index, !=, n);
}

static void
test_few_candidates (void)
{
  /* One candidate, none, or more asked for than there are: no neighbours to measure, nothing
   * to cluster, and every candidate still comes back once. */
  const float probabilities[2 * N_CLASSES] = { 0.5f, 0.4f, 0.1f, 0.8f, 0.1f, 0.1f };
  const float features[2 * N_FEATURES] = { 1, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
  g_autoptr(GArray) one = leaf_next_rank (probabilities, N_CLASSES, features, N_FEATURES, 1, 5,
                                          LEAF_NEXT_DEFAULT_MAX_SIMILARITY);
  g_autoptr(GArray) none = leaf_next_rank (probabilities, N_CLASSES, features, N_FEATURES, 0, 5,
                                           LEAF_NEXT_DEFAULT_MAX_SIMILARITY);
  g_autoptr(GArray) two = leaf_next_rank (probabilities, N_CLASSES, features, N_FEATURES, 2, 5,
                                          LEAF_NEXT_DEFAULT_MAX_SIMILARITY);

  g_assert_cmpuint (one->len, ==, 1);
  g_assert_cmpfloat_with_epsilon (g_array_index (one, LeafNextPick, 0).score, 0.9, 1e-6);
  g_assert_cmpuint (none->len, ==, 0);
  g_assert_cmpuint (two->len, ==, 2);
  g_assert_cmpuint (g_array_index (two, LeafNextPick, 0).index, ==, 0);
  g_assert_cmpuint (g_array_index (two, LeafNextPick, 1).index, ==, 1);
}

int
main (int   argc,
      char *argv[])
{
  leaf_test_init (&argc, &argv);
  g_test_add_func ("/next/margin", test_margin);
  g_test_add_func ("/next/rank/spreads-near-duplicates", test_spreads_duplicates);
  g_test_add_func ("/next/rank/uncertain-first", test_uncertainty);
  g_test_add_func ("/next/rank/spreads-over-groups", test_spreads_over_groups);
  g_test_add_func ("/next/rank/few-candidates", test_few_candidates);
  return g_test_run ();
}
