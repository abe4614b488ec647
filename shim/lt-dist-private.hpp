/* lt-dist-private.hpp: what a data-parallel step changes inside the shim's training step
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <torch/torch.h>

#include "lt.h"

namespace lt {

/* Called between backward and the optimiser's step: inside lt_dist_train_step(), sums the
 * share-weighted gradients of optim's parameters over the ranks; otherwise does nothing. */
void reduce_gradients (LtOptim *optim);

/* Bernoulli(keep) noise of shape, whose first axis is the batch. Inside lt_dist_train_step()
 * it is drawn for the whole global batch and this rank's rows are kept, so that every rank's
 * generator stays in step and each row gets the noise one process would give it. */
torch::Tensor batch_noise (torch::IntArrayRef shape, double keep,
                           const torch::TensorOptions &options);
/* Whether batch_noise() draws for a global batch now. */
bool batch_noise_sharded ();

} // namespace lt
