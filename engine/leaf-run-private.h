/* leaf-run-private.h: one training run, as the training thread executes it
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

#include "leaf-recipe.h"
#include "leaf-run-control.h"
#include "leaf-trainer.h"

G_BEGIN_DECLS

typedef void (*LeafRunEmitFunc) (const LeafTrainEvent *event,
                                 gpointer              user_data);

typedef struct
{
  LeafRecipe recipe;
  char *catalog_path;
  char *weights_path;
  char *models_dir;
  char *cache_dir;
  guint64 cache_max_bytes;
  LeafDistConfig dist;
  LeafRunControl *control;
  LeafRunEmitFunc emit;
  gpointer emit_data;
} LeafRunSetup;

void     leaf_run_setup_free             (LeafRunSetup   *setup);
/* Runs to the end on the calling thread; the last event it emits is FINISHED. */
void     leaf_run_execute                (LeafRunSetup   *setup);

G_END_DECLS
