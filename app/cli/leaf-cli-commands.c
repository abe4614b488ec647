/* leaf-cli-commands.c: the subcommands that need the model library
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Loading libtorch costs a start half a second and some 160 MB, which labelling, listing and
 * importing never use. So leafscope-cli links the catalog's commands only, and
 * leafscope-cli-model links everything. Both list every subcommand from the tables below; in
 * leafscope-cli the functions of these commands are weak references left NULL, and main() hands
 * such a command line to leafscope-cli-model (leaf_cli_run_model_program()).
 */

#include "config.h"

#include <glib/gi18n.h>

#include "leaf-cli.h"

#pragma weak leaf_cli_split
#pragma weak leaf_cli_train
#pragma weak leaf_cli_predict
#pragma weak leaf_cli_evaluate
#pragma weak leaf_cli_next
#pragma weak leaf_cli_model_card
#pragma weak leaf_cli_models
#pragma weak leaf_cli_weights

const LeafCliCommand leaf_cli_model_commands[] = {
  { "split", leaf_cli_split, N_("Assign labelled photos to training, validation and test") },
  { "train", leaf_cli_train, N_("Fine-tune EfficientNet-B0 on the catalog's labelled photos") },
  { "predict", leaf_cli_predict, N_("Diagnose photos with a trained model or a raw weight file") },
  { "evaluate", leaf_cli_evaluate, N_("Measure a model on an ImageFolder tree or a split of the catalog") },
  { "next", leaf_cli_next, N_("List the unlabelled photos worth labelling next") },
  { "model-card", leaf_cli_model_card, N_("Write a Markdown model card: data, metrics, calibration, limits") },
  { "models", leaf_cli_models, N_("List the models; choose, rename, remove, export or import one") },
  { "weights", leaf_cli_weights, N_("Inspect weight files (see weights --help)") },
  { NULL, NULL, NULL },
};
