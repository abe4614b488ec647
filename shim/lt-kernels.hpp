/* lt-kernels.hpp: element-wise kernels that matter for inference speed
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <torch/torch.h>

namespace lt {

/* SiLU in place, through a vectorised kernel where the CPU has AVX2 and FMA, the tensor is a
 * dense float32 one in CPU memory and no gradient will flow through it; torch::silu_ otherwise
 * (on a GPU, ATen's own kernel). */
torch::Tensor &silu_inference_ (torch::Tensor &x);

} // namespace lt
