/* lt-kernels.hpp: kernels that matter for speed where Debian's libtorch is slow
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

/* A depthwise convolution (one filter per channel, no bias, no dilation) of x by weight
 * [channels, 1, k, k], as torch::conv2d computes it. When autograd needs the weight's gradient
 * of a float32 CPU tensor on a CPU with AVX2 and FMA, that gradient comes from a kernel of ours:
 * oneDNN's takes about ten times as long as the forward pass here, and it was a fifth of a
 * fine-tuning step of features.5-8. */
torch::Tensor depthwise_conv2d (const torch::Tensor &x, const torch::Tensor &weight,
                                int64_t stride, int64_t padding);

/* The weight gradient of that convolution from its input and output gradient, through the same
 * kernel where it applies and through ATen otherwise; exposed for the parity tests. */
torch::Tensor depthwise_conv2d_weight_grad (const torch::Tensor &x,
                                            const torch::Tensor &grad_output,
                                            int64_t kernel, int64_t stride, int64_t padding);

} // namespace lt
