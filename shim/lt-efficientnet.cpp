/* lt-efficientnet.cpp: EfficientNet-B0 as torchvision 0.14 builds it (efficientnet.py), so that
 * its state dicts load without renaming
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <cmath>

#include "lt-efficientnet.hpp"

#include "lt-dist-private.hpp"
#include "lt-kernels.hpp"

namespace lt {

namespace {

/* torchvision's efficientnet_b0 uses plain nn.BatchNorm2d (only the V2 models pass eps=1e-3). */
constexpr double kBatchNormEps = 1e-5;
constexpr double kBatchNormMomentum = 0.1;
constexpr double kStochasticDepthProb = 0.2;
constexpr double kDropout = 0.2;

struct StageConfig
{
  int64_t expand_ratio, kernel, stride, in, out, layers;
};

/* Table 1 of the EfficientNet paper, as _efficientnet_conf lists it for width and depth 1.0. */
constexpr StageConfig kB0Stages[] = {
  { 1, 3, 1, 32, 16, 1 },  { 6, 3, 2, 16, 24, 2 },   { 6, 5, 2, 24, 40, 2 },
  { 6, 3, 2, 40, 80, 3 },  { 6, 5, 1, 80, 112, 3 },  { 6, 5, 2, 112, 192, 4 },
  { 6, 3, 1, 192, 320, 1 },
};

void
init_linear (torch::nn::Linear &linear)
{
  torch::NoGradGuard no_grad;
  /* EfficientNet.__init__: uniform(-1/sqrt(out_features), 1/sqrt(out_features)), zero bias. */
  const double range = 1.0 / std::sqrt (static_cast<double> (linear->options.out_features ()));
  torch::nn::init::uniform_ (linear->weight, -range, range);
  torch::nn::init::zeros_ (linear->bias);
}

} // namespace

torch::Tensor
to_conv_layout (const torch::Tensor &x)
{
  /* oneDNN convolutions run about a third faster on NHWC than on NCHW here, and keeping every
   * activation NHWC avoids reorders between layers. */
  return x.dim () == 4 ? x.contiguous (torch::MemoryFormat::ChannelsLast) : x;
}

ConvBnActImpl::ConvBnActImpl (int64_t in, int64_t out, int64_t kernel, int64_t stride,
                              int64_t groups, bool activation)
  : activation_ (activation), stride_ (stride), padding_ ((kernel - 1) / 2), groups_ (groups)
{
  conv = register_module ("0", torch::nn::Conv2d (torch::nn::Conv2dOptions (in, out, kernel)
                                                    .stride (stride)
                                                    .padding (padding_)
                                                    .groups (groups)
                                                    .bias (false)));
  bn = register_module ("1", torch::nn::BatchNorm2d (torch::nn::BatchNorm2dOptions (out)
                                                       .eps (kBatchNormEps)
                                                       .momentum (kBatchNormMomentum)));
}

torch::Tensor
ConvBnActImpl::forward (const torch::Tensor &x)
{
  auto y = bn->forward (groups_ > 1 ? depthwise_conv2d (x, conv->weight, stride_, padding_)
                                     : conv->forward (x));
  /* In place, as torchvision's SiLU(inplace=True): BatchNorm's backward does not need its
   * output, and a fresh activation-sized buffer costs page faults. */
  return activation_ ? torch::silu_ (y) : y;
}

std::vector<uint32_t>
ConvBnActImpl::source_versions () const
{
  std::vector<uint32_t> versions;
  for (const auto *t : { &conv->weight, &bn->weight, &bn->bias, &bn->running_mean,
                         &bn->running_var })
    {
      /* The pointer catches a tensor replaced by another, the version an in-place update. */
      const auto impl = reinterpret_cast<uintptr_t> (t->unsafeGetTensorImpl ());
      versions.push_back (static_cast<uint32_t> (impl));
      versions.push_back (static_cast<uint32_t> (impl >> 32));
      versions.push_back (static_cast<uint32_t> (t->_version ()));
    }
  return versions;
}

torch::Tensor
ConvBnActImpl::forward_folded (const torch::Tensor &x)
{
  auto versions = source_versions ();
  /* Moving the module to another device keeps each tensor's identity and version. */
  if (versions != folded_versions_ || folded_weight_.device () != conv->weight.device ())
    {
      /* Ordinary tensors even when called under InferenceMode, so that a training step may use
       * them for its frozen stages. */
      c10::InferenceMode not_inference (false);
      torch::NoGradGuard no_grad;
      auto scale = bn->weight * torch::rsqrt (bn->running_var + kBatchNormEps);
      folded_weight_ = to_conv_layout (conv->weight * scale.view ({ -1, 1, 1, 1 }));
      folded_bias_ = bn->bias - bn->running_mean * scale;
      folded_versions_ = std::move (versions);
    }
  auto y = torch::conv2d (x, folded_weight_, folded_bias_, stride_, padding_, 1, groups_);
  return activation_ ? silu_inference_ (y) : y;
}

SqueezeExcitationImpl::SqueezeExcitationImpl (int64_t channels, int64_t squeeze)
{
  fc1 = register_module ("fc1", torch::nn::Conv2d (torch::nn::Conv2dOptions (channels, squeeze, 1)));
  fc2 = register_module ("fc2", torch::nn::Conv2d (torch::nn::Conv2dOptions (squeeze, channels, 1)));
}

torch::Tensor
SqueezeExcitationImpl::forward (const torch::Tensor &x)
{
  /* The 1x1 convolutions on a pooled 1x1 map are matrix products; running them as such skips
   * the convolution machinery, which costs more than the arithmetic here. */
  auto s = x.mean ({ 2, 3 });
  s = torch::silu (torch::linear (s, fc1->weight.flatten (1), fc1->bias));
  s = torch::sigmoid (torch::linear (s, fc2->weight.flatten (1), fc2->bias));
  s = s.view ({ s.size (0), s.size (1), 1, 1 });
  /* Without autograd nothing else needs x (the depthwise output): scale it in place. */
  return torch::GradMode::is_enabled () ? x * s : x.mul_ (s);
}

MBConvImpl::MBConvImpl (int64_t in, int64_t out, int64_t expand_ratio, int64_t kernel,
                        int64_t stride, double stochastic_depth_prob)
  : use_residual_ (stride == 1 && in == out), stochastic_depth_prob_ (stochastic_depth_prob)
{
  /* B0's channel counts are multiples of 8 already, so _make_divisible changes nothing. */
  const int64_t expanded = in * expand_ratio;
  const int64_t squeeze = std::max<int64_t> (1, in / 4);
  auto block = register_module ("block", std::make_shared<torch::nn::Module> ());
  int index = 0;
  auto next = [&index] { return std::to_string (index++); };

  if (expanded != in)
    expand_ = block->register_module (next (), ConvBnAct (in, expanded, 1, 1, 1, true));
  depthwise_ = block->register_module (next (),
                                       ConvBnAct (expanded, expanded, kernel, stride, expanded, true));
  se_ = block->register_module (next (), SqueezeExcitation (expanded, squeeze));
  project_ = block->register_module (next (), ConvBnAct (expanded, out, 1, 1, 1, false));
}

torch::Tensor
MBConvImpl::forward (const torch::Tensor &x, bool folded)
{
  auto run = [folded] (ConvBnAct &layer, const torch::Tensor &t) {
    return folded ? layer->forward_folded (t) : layer->forward (t);
  };
  auto y = expand_ ? run (expand_, x) : x;
  y = run (depthwise_, y);
  y = se_->forward (y);
  y = run (project_, y);
  if (!use_residual_)
    return y;
  if (is_training () && stochastic_depth_prob_ > 0.0)
    {
      /* torchvision.ops.stochastic_depth, mode "row": drop whole samples' branches. */
      const double survival = 1.0 - stochastic_depth_prob_;
      auto noise = batch_noise ({ y.size (0), 1, 1, 1 }, survival, y.options ());
      y = y * noise.div_ (survival);
    }
  /* y is this block's own fresh output, and addition's backward needs neither operand. */
  return y.add_ (x);
}

EfficientNetImpl::EfficientNetImpl (int64_t num_classes)
{
  trainable_.fill (true);
  features_ = register_module ("features", std::make_shared<torch::nn::Module> ());
  stem_ = features_->register_module ("0", ConvBnAct (3, kB0Stages[0].in, 3, 2, 1, true));
  stage_modules_[0] = stem_.ptr ();

  int64_t total_blocks = 0;
  for (const auto &config : kB0Stages)
    total_blocks += config.layers;

  int64_t block_id = 0;
  int stage_index = 1;
  for (const auto &config : kB0Stages)
    {
      auto stage = features_->register_module (std::to_string (stage_index),
                                               std::make_shared<torch::nn::Module> ());
      std::vector<MBConv> blocks;
      for (int64_t j = 0; j < config.layers; j++)
        {
          /* Stochastic depth grows linearly with the block's depth in the whole network. */
          const double p = kStochasticDepthProb * static_cast<double> (block_id++)
                           / static_cast<double> (total_blocks);
          blocks.push_back (stage->register_module (
            std::to_string (j), MBConv (j == 0 ? config.in : config.out, config.out,
                                        config.expand_ratio, config.kernel,
                                        j == 0 ? config.stride : 1, p)));
        }
      blocks_.push_back (std::move (blocks));
      stage_modules_[stage_index++] = stage;
    }

  const int64_t last_in = kB0Stages[std::size (kB0Stages) - 1].out;
  top_ = features_->register_module ("8", ConvBnAct (last_in, 4 * last_in, 1, 1, 1, true));
  stage_modules_[8] = top_.ptr ();

  classifier_ = register_module ("classifier", std::make_shared<torch::nn::Module> ());
  dropout_ = classifier_->register_module ("0", torch::nn::Dropout (kDropout));
  linear_ = classifier_->register_module ("1", torch::nn::Linear (kHeadInputs, num_classes));
  stage_modules_[kClassifier] = classifier_;

  torch::NoGradGuard no_grad;
  for (auto &module : modules (/*include_self=*/false))
    {
      if (auto *conv = module->as<torch::nn::Conv2d> ())
        {
          torch::nn::init::kaiming_normal_ (conv->weight, 0.0, torch::kFanOut);
          if (conv->bias.defined ())
            torch::nn::init::zeros_ (conv->bias);
        }
    }
  init_linear (linear_);
  for (auto &param : parameters ())
    param.set_data (to_conv_layout (param));
  set_training (false);
}

void
EfficientNetImpl::reset_head (int64_t num_classes)
{
  const auto device = linear_->weight.device ();
  linear_ = classifier_->replace_module ("1", torch::nn::Linear (kHeadInputs, num_classes));
  /* Initialised on the CPU, as lt_model_new() does, then moved where the rest of the model is. */
  init_linear (linear_);
  if (!device.is_cpu ())
    linear_->to (device);
  set_trainable (kClassifier, trainable_[kClassifier]);
  linear_->train (classifier_->is_training ());
  head_generation_++;
}

StateDict
EfficientNetImpl::state_entries () const
{
  /* state_dict() walks modules in pre-order, each one's parameters before its buffers. */
  StateDict entries;
  for (const auto &item : named_modules ())
    {
      const std::string prefix = item.key ().empty () ? "" : item.key () + ".";
      for (const auto &param : item.value ()->named_parameters (false))
        entries.push_back ({ prefix + param.key (), param.value () });
      for (const auto &buffer : item.value ()->named_buffers (false))
        entries.push_back ({ prefix + buffer.key (), buffer.value () });
    }
  return entries;
}

std::vector<torch::Tensor>
EfficientNetImpl::stage_parameters (int stage) const
{
  return stage_modules_.at (stage)->parameters ();
}

void
EfficientNetImpl::set_trainable (int stage, bool trainable)
{
  trainable_.at (stage) = trainable;
  for (auto &param : stage_parameters (stage))
    {
      param.set_requires_grad (trainable);
      /* An optimiser still holding a stale gradient would keep moving a frozen parameter. */
      if (!trainable)
        param.mutable_grad ().reset ();
    }
  set_training (is_training ());
}

void
EfficientNetImpl::set_training (bool training)
{
  train (training);
  for (int stage = 0; stage < kStages; stage++)
    {
      auto &module = *stage_modules_[stage];
      module.train (training && trainable_[stage]);
      if (batch_norm_trains_)
        continue;
      /* Module::train() flips BatchNorm back to batch statistics, and requires_grad=false does
       * not stop the running statistics from moving: pin them to inference explicitly. */
      for (auto &child : module.modules ())
        if (child->as<torch::nn::BatchNorm2d> () != nullptr)
          child->eval ();
    }
}

torch::Tensor
EfficientNetImpl::features (torch::Tensor x, int begin, int end, bool folded)
{
  for (int stage = begin; stage < end; stage++)
    {
      if (stage == 0 || stage == 8)
        {
          auto &conv = stage == 0 ? stem_ : top_;
          x = folded ? conv->forward_folded (x) : conv->forward (x);
          continue;
        }
      for (auto &block : blocks_[stage - 1])
        x = block->forward (x, folded);
    }
  return x;
}

torch::Tensor
EfficientNetImpl::head (const torch::Tensor &x)
{
  auto pooled = x.mean ({ 2, 3 });
  const double p = dropout_->options.p ();
  /* As torch::nn::Dropout computes it on the CPU, with the noise of a data-parallel batch. */
  if (batch_noise_sharded () && dropout_->is_training () && p > 0.0 && p < 1.0)
    return linear_->forward (pooled * batch_noise (pooled.sizes (), 1.0 - p, pooled.options ())
                                        .div_ (1.0 - p));
  return linear_->forward (dropout_->forward (pooled));
}

} // namespace lt
