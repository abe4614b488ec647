/* lt-weights-private.hpp: the weight-file readers and writers, as the rest of the shim sees them
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "lt-weights.h"

namespace lt {

struct NamedTensor
{
  std::string name;
  torch::Tensor tensor;
};

/* In the order the file lists them. */
using StateDict = std::vector<NamedTensor>;
using Metadata = std::vector<std::pair<std::string, std::string>>;

/* Reads a torch.save() zip checkpoint (through a restricted unpickler that never executes code)
 * or a safetensors file, chosen by the file's content, not its name. Throws lt::Error. */
StateDict read_state_dict (const std::string &path, Metadata *metadata_out = nullptr);

/* Writes safetensors to a temporary file beside path, fsyncs it and renames it into place, so
 * that path is always either the old file or the complete new one. Throws lt::Error. */
void write_safetensors (const std::string &path, const StateDict &tensors, const Metadata &metadata);

/* Writes a plain state dict as torch.save() does (a zip archive holding a protocol 2 pickle of
 * an OrderedDict of tensors rebuilt by torch._utils._rebuild_tensor_v2 from persistent
 * storages), replacing path as write_safetensors() does. Throws lt::Error. */
void write_torch_archive (const std::string &path, const StateDict &tensors);

} // namespace lt

/* The C handle is a thin box around the C++ value. */
struct LtStateDict
{
  lt::StateDict entries;
  lt::Metadata metadata;
};
