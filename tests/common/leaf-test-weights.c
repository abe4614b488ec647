/* leaf-test-weights.c: base weights for the tests that train or diagnose
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "leaf-test-weights.h"

#include "leaf-engine.h"
#include "lt.h"

void
leaf_test_write_seeded_weights (const char *path,
                                guint64     seed,
                                int64_t     n_classes)
{
  g_autoptr(GError) error = NULL;
  LtModel *model = NULL;
  char *msg = NULL;

  g_assert_true (leaf_engine_init_torch (0, &error));
  g_assert_no_error (error);
  lt_manual_seed (seed);
  g_assert_cmpint (lt_model_new (n_classes, &model, &msg), ==, LT_OK);
  g_assert_cmpint (lt_model_save (model, path, NULL, &msg), ==, LT_OK);
  lt_model_free (model);
}
