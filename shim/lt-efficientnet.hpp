/* lt-efficientnet.hpp: EfficientNet-B0 written with torch::nn, named as torchvision names it
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "lt-weights-private.hpp"

namespace lt {

/* torchvision's Conv2dNormActivation: children "0" (conv, no bias) and "1" (BatchNorm2d,
 * eps 1e-5), then SiLU when `activation`. For inference it can run as one convolution whose
 * weights have the BatchNorm folded in; the folded copy is rebuilt whenever any of the tensors
 * it was made from changes (tracked through their version counters). */
class ConvBnActImpl : public torch::nn::Module
{
public:
  ConvBnActImpl (int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t groups,
                 bool activation);

  torch::Tensor forward (const torch::Tensor &x);
  torch::Tensor forward_folded (const torch::Tensor &x);

  torch::nn::Conv2d conv{ nullptr };
  torch::nn::BatchNorm2d bn{ nullptr };

private:
  std::vector<uint32_t> source_versions () const;

  bool activation_;
  int64_t stride_, padding_, groups_;
  torch::Tensor folded_weight_, folded_bias_;
  std::vector<uint32_t> folded_versions_;
};
TORCH_MODULE (ConvBnAct);

/* torchvision.ops.SqueezeExcitation with SiLU and Sigmoid: children fc1 and fc2. */
class SqueezeExcitationImpl : public torch::nn::Module
{
public:
  SqueezeExcitationImpl (int64_t channels, int64_t squeeze);
  torch::Tensor forward (const torch::Tensor &x);

  torch::nn::Conv2d fc1{ nullptr }, fc2{ nullptr };
};
TORCH_MODULE (SqueezeExcitation);

/* torchvision's MBConv: "block" holds [expand], depthwise, se, project under "0".."3". */
class MBConvImpl : public torch::nn::Module
{
public:
  MBConvImpl (int64_t in, int64_t out, int64_t expand_ratio, int64_t kernel, int64_t stride,
              double stochastic_depth_prob);
  torch::Tensor forward (const torch::Tensor &x, bool folded);

private:
  ConvBnAct expand_{ nullptr }, depthwise_{ nullptr }, project_{ nullptr };
  SqueezeExcitation se_{ nullptr };
  bool use_residual_;
  double stochastic_depth_prob_;
};
TORCH_MODULE (MBConv);

class EfficientNetImpl : public torch::nn::Module
{
public:
  static constexpr int kFeatures = 9;    /* features.0 .. features.8 */
  static constexpr int kClassifier = 9;  /* stage index of the head */
  static constexpr int kStages = 10;
  static constexpr int64_t kHeadInputs = 1280;

  explicit EfficientNetImpl (int64_t num_classes);

  int64_t num_classes () const { return linear_->options.out_features (); }

  /* Replaces classifier.1 by a new Linear initialised as torchvision does. */
  void reset_head (int64_t num_classes);
  /* Bumped by reset_head, so that an optimiser can tell that its tensors are stale. */
  uint64_t head_generation () const { return head_generation_; }

  /* Every parameter and buffer, in the order and with the names of torchvision's
   * state_dict(). The tensors are the live ones. */
  StateDict state_entries () const;
  std::vector<torch::Tensor> stage_parameters (int stage) const;

  void set_trainable (int stage, bool trainable);
  bool trainable (int stage) const { return trainable_[stage]; }
  void set_batch_norm_trains (bool trains) { batch_norm_trains_ = trains; }
  bool batch_norm_trains () const { return batch_norm_trains_; }
  void set_dropout (double p) { dropout_->options.p (p); }
  double dropout () const { return dropout_->options.p (); }

  /* Training mode for the trainable stages only: frozen stages always run as in inference,
   * and BatchNorm follows training only when batch_norm_trains(). */
  void set_training (bool training);

  /* features[begin:end]; with `folded`, every ConvBnAct runs from BatchNorm-folded weights
   * (inference only). Stage indices are 0..9, as Python slices features. */
  torch::Tensor features (torch::Tensor x, int begin, int end, bool folded);
  /* avgpool + flatten + classifier, from the output of features.8. */
  torch::Tensor head (const torch::Tensor &x);

private:
  ConvBnAct stem_{ nullptr }, top_{ nullptr };        /* features.0, features.8 */
  std::vector<std::vector<MBConv>> blocks_;           /* features.1 .. features.7 */
  std::shared_ptr<torch::nn::Module> features_;
  std::array<std::shared_ptr<torch::nn::Module>, kStages> stage_modules_;
  torch::nn::Dropout dropout_{ nullptr };
  torch::nn::Linear linear_{ nullptr };
  std::shared_ptr<torch::nn::Module> classifier_;
  std::array<bool, kStages> trainable_;
  bool batch_norm_trains_ = false;
  uint64_t head_generation_ = 0;
};
TORCH_MODULE (EfficientNet);

/* The layout convolutions run fastest in on the CPU; inputs and 4-D weights use it. */
torch::Tensor to_conv_layout (const torch::Tensor &x);

} // namespace lt
