/* test-next.c: ranking unlabelled photos by margin while spreading out near-duplicates
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

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

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/next/margin", test_margin);
  g_test_add_func ("/next/rank/spreads-near-duplicates", test_spreads_duplicates);
  return g_test_run ();
}
