/* lt-handles.hpp: what the C handles of lt.h hold
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <array>
#include <memory>

#include <torch/torch.h>

#include "lt-efficientnet.hpp"
#include "lt-private.hpp"
#include "lt.h"

struct LtTensor
{
  torch::Tensor tensor;
};

struct LtModel
{
  lt::EfficientNet net;
  torch::Device device{ torch::kCPU };  /* where net lives, chosen when it was made */
};

struct LtOptim
{
  lt::EfficientNet net{ nullptr };  /* keeps the parameters alive */
  LtOptimKind kind;
  double weight_decay;
  double momentum;
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  std::array<bool, lt::EfficientNetImpl::kStages> stage_taken{};
  uint64_t head_generation;
};

namespace lt {

/* The device lt_set_device() chose (the CPU until it is called). */
torch::Device current_device ();
/* "cpu", "cuda:0": a string that lives as long as the process. */
const char *device_name (const torch::Device &device);

/* Throws LT_ERROR_INVALID_ARGUMENT naming `what` when pointer is NULL. */
template <typename T>
T *
require (T *pointer, const char *what)
{
  if (pointer == nullptr)
    throw Error (LT_ERROR_INVALID_ARGUMENT, std::string (what) + " must not be NULL");
  return pointer;
}

inline LtTensor *
wrap (torch::Tensor tensor)
{
  return new LtTensor{ std::move (tensor) };
}

} // namespace lt
