/* lt-model.cpp: the model half of lt.h: loading, saving, inference, training steps, Grad-CAM
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <cstring>
#include <map>
#include <sstream>

#include "lt-dist-private.hpp"
#include "lt-handles.hpp"
#include "lt-weights-io.hpp"

namespace lt {

namespace {

constexpr size_t kMaxNamesListed = 12;

EfficientNetImpl &
net_of (const LtModel *model)
{
  /* The handle is const when the call only reads; the network object itself never is. */
  return *require (model, "model")->net.ptr ();
}

void
check_stage (int stage)
{
  if (stage < 0 || stage >= EfficientNetImpl::kStages)
    throw Error (LT_ERROR_INVALID_ARGUMENT,
                 "stage " + std::to_string (stage) + " is not between 0 and 9");
}

void
check_cut (int cut)
{
  if (cut < 0 || cut > EfficientNetImpl::kFeatures)
    throw Error (LT_ERROR_INVALID_ARGUMENT, "cut " + std::to_string (cut) + " is not between 0 and 9");
}

void
check_num_classes (int64_t num_classes)
{
  if (num_classes < 1)
    throw Error (LT_ERROR_INVALID_ARGUMENT, "a model needs at least one class");
}

std::string
shape_string (const torch::Tensor &tensor)
{
  std::ostringstream out;
  out << tensor.sizes ();
  return out.str ();
}

/* The tensor as float32 on the model's device, laid out for convolutions, and never an
 * inference tensor (those cannot be saved for backward, and activations from
 * lt_model_forward_prefix() are ones). A float32 tensor already there is not copied. */
torch::Tensor
input_of (const LtModel *model, const LtTensor *input, int cut)
{
  auto x = require (input, "input")->tensor;
  if (!x.is_floating_point () || x.dim () != 4 || x.size (0) < 1)
    throw Error (LT_ERROR_INVALID_ARGUMENT,
                 "expected a float [N, C, H, W] batch, got " + shape_string (x));
  if (cut == 0 && x.size (1) != 3)
    throw Error (LT_ERROR_INVALID_ARGUMENT, "expected RGB images [N, 3, H, W], got " + shape_string (x));
  x = to_conv_layout (x.to (model->device, torch::kFloat));
  return x.is_inference () ? x.clone () : x;
}

/* n values of caller memory as a tensor of our own on device. */
torch::Tensor
own_copy (const void *data, int64_t n, torch::ScalarType type, const torch::Device &device)
{
  auto borrowed = torch::from_blob (const_cast<void *> (data), { n }, type);
  return device.is_cpu () ? borrowed.clone () : borrowed.to (device);
}

/* The labels on the device of input. */
torch::Tensor
labels_of (const int64_t *labels, const torch::Tensor &input, int64_t num_classes)
{
  const int64_t n = input.size (0);
  require (labels, "labels");
  for (int64_t i = 0; i < n; i++)
    if (labels[i] < 0 || labels[i] >= num_classes)
      throw Error (LT_ERROR_INVALID_ARGUMENT, "label " + std::to_string (labels[i])
                                                + " is not a class of a " + std::to_string (num_classes)
                                                + "-class model");
  return own_copy (labels, n, torch::kLong, input.device ());
}

int64_t
count_correct (const torch::Tensor &logits, const torch::Tensor &labels)
{
  return logits.argmax (1).eq (labels).sum ().item<int64_t> ();
}

/* features[cut:] + head, in inference. */
torch::Tensor
infer_rest (EfficientNetImpl &net, const torch::Tensor &x, int cut)
{
  return net.head (net.features (x, cut, EfficientNetImpl::kFeatures, true));
}

torch::Tensor
find_entry (const EfficientNetImpl &net, const char *name)
{
  require (name, "name");
  for (auto &entry : net.state_entries ())
    if (entry.name == name)
      return entry.tensor;
  throw Error (LT_ERROR_INVALID_ARGUMENT,
               std::string ("EfficientNet-B0 has no parameter or buffer named ") + name);
}

void
append_list (std::string &message, const char *title, const std::vector<std::string> &items)
{
  if (items.empty ())
    return;
  message += message.empty () ? "" : "; ";
  message += title;
  for (size_t i = 0; i < items.size () && i < kMaxNamesListed; i++)
    message += (i == 0 ? " " : ", ") + items[i];
  if (items.size () > kMaxNamesListed)
    message += " and " + std::to_string (items.size () - kMaxNamesListed) + " more";
}

bool
is_head_entry (const std::string &name)
{
  return name.rfind ("classifier.1.", 0) == 0;
}

bool
ends_with (const std::string &name, const std::string &suffix)
{
  return name.size () >= suffix.size ()
         && name.compare (name.size () - suffix.size (), suffix.size (), suffix) == 0;
}

/* What makes a tensor unusable although its name and shape fit, or "" when it is fine. A
 * trained network has none of these, and training from one runs at loss nan from the first
 * step: NaN or infinite values, BatchNorm variances below zero (they are square-rooted), and
 * integers where the network computes in floating point (copying would silently convert). */
std::string
unusable_values (const std::string &name, const torch::Tensor &value, const torch::Tensor &own)
{
  if (!own.is_floating_point ())
    return "";
  if (!value.is_floating_point ())
    return name + " holds " + dtype_name (value.scalar_type ())
           + " values where EfficientNet-B0 needs floating-point ones";
  if (!torch::isfinite (value).all ().item<bool> ())
    return name + " has NaN or infinite values: the training that saved them diverged, or the "
                  "file is damaged";
  if (ends_with (name, ".running_var") && (value < 0).any ().item<bool> ())
    return name + " has negative values, which a BatchNorm variance never has: the file is "
                  "damaged";
  return "";
}

void
load_entries (EfficientNetImpl &net, const StateDict &given, LtLoadFlags flags)
{
  std::map<std::string, torch::Tensor> own;
  for (auto &entry : net.state_entries ())
    own.emplace (entry.name, entry.tensor);

  bool skip_head = false;
  if (flags & LT_LOAD_SKIP_MISMATCHED_HEAD)
    for (auto &entry : given)
      if (is_head_entry (entry.name) && own.count (entry.name) != 0
          && entry.tensor.sizes () != own[entry.name].sizes ())
        skip_head = true;

  std::vector<std::string> unexpected, mismatched, missing;
  std::string unusable;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;
  std::map<std::string, bool> seen;
  for (auto &entry : given)
    {
      if (skip_head && is_head_entry (entry.name))
        continue;
      auto it = own.find (entry.name);
      if (it == own.end ())
        {
          unexpected.push_back (entry.name);
          continue;
        }
      seen[entry.name] = true;
      if (entry.tensor.sizes () != it->second.sizes ())
        mismatched.push_back (entry.name + " (checkpoint " + shape_string (entry.tensor)
                              + ", model " + shape_string (it->second) + ")");
      else
        {
          /* The first culprit in the file's order; checked before anything is copied, so
           * that a refused file leaves the model as it was. */
          if (unusable.empty ())
            unusable = unusable_values (entry.name, entry.tensor, it->second);
          copies.emplace_back (it->second, entry.tensor);
        }
    }
  for (auto &item : own)
    {
      /* PyTorch itself accepts checkpoints from before BatchNorm counted its batches. */
      if (seen.count (item.first) != 0 || (skip_head && is_head_entry (item.first))
          || ends_with (item.first, ".num_batches_tracked"))
        continue;
      missing.push_back (item.first);
    }

  std::string problems;
  append_list (problems, "missing keys:", missing);
  append_list (problems, "unexpected keys:", unexpected);
  append_list (problems, "shape mismatches:", mismatched);
  if (!problems.empty ())
    {
      if (!mismatched.empty () && !(flags & LT_LOAD_SKIP_MISMATCHED_HEAD))
        for (auto &name : mismatched)
          if (is_head_entry (name))
            {
              problems += " (the classifier has another number of classes: load the backbone "
                          "alone by skipping the mismatched head)";
              break;
            }
      throw Error (LT_ERROR_MISMATCH, "the weights do not fit EfficientNet-B0: " + problems);
    }
  if (!unusable.empty ())
    throw Error (LT_ERROR_FORMAT, "the weights cannot be used: " + unusable);

  torch::NoGradGuard no_grad;
  for (auto &copy : copies)
    copy.first.copy_ (copy.second);
}

} // namespace

} // namespace lt

using lt::guard;
using lt::require;

extern "C" LtStatus
lt_model_new (int64_t num_classes, LtModel **out, char **error)
{
  return guard (error, [&] {
    require (out, "out");
    lt::check_num_classes (num_classes);
    /* Made on the CPU, so that a seed gives the same initial values on every device. */
    auto model = std::make_unique<LtModel> (LtModel{ lt::EfficientNet (num_classes) });
    model->device = lt::current_device ();
    if (!model->device.is_cpu ())
      model->net->to (model->device);
    *out = model.release ();
  });
}

extern "C" void
lt_model_free (LtModel *model)
{
  delete model;
}

extern "C" int64_t
lt_model_num_classes (const LtModel *model)
{
  return model != nullptr ? model->net->num_classes () : 0;
}

extern "C" const char *
lt_model_get_device (const LtModel *model)
{
  return lt::device_name (model != nullptr ? model->device : torch::Device (torch::kCPU));
}

extern "C" LtStatus
lt_model_load_state_dict (LtModel *model, const LtStateDict *state_dict, LtLoadFlags flags,
                          char **error)
{
  return guard (error, [&] {
    lt::load_entries (lt::net_of (model), require (state_dict, "state_dict")->entries, flags);
  });
}

extern "C" LtStatus
lt_model_load (LtModel *model, const char *path, LtLoadFlags flags, char **metadata, char **error)
{
  return guard (error, [&] {
    auto &net = lt::net_of (model);
    lt::Metadata file_metadata;
    auto entries = lt::read_state_dict (require (path, "path"), &file_metadata);
    try
      {
        lt::load_entries (net, entries, flags);
      }
    catch (const lt::Error &e)
      {
        throw lt::Error (e.status (), std::string (path) + ": " + e.what ());
      }
    if (metadata == nullptr)
      return;
    *metadata = nullptr;
    for (auto &item : file_metadata)
      if (item.first == LT_MODEL_METADATA_KEY)
        *metadata = strdup (item.second.c_str ());
  });
}

extern "C" LtStatus
lt_model_save (const LtModel *model, const char *path, const char *metadata, char **error)
{
  return guard (error, [&] {
    auto entries = lt::net_of (model).state_entries ();
    /* Files hold C-order tensors, whatever layout the convolutions use. */
    for (auto &entry : entries)
      entry.tensor = entry.tensor.detach ().contiguous ();
    lt::Metadata file_metadata;
    if (metadata != nullptr)
      file_metadata.emplace_back (LT_MODEL_METADATA_KEY, metadata);
    lt::write_safetensors (require (path, "path"), entries, file_metadata);
  });
}

extern "C" LtStatus
lt_model_reset_head (LtModel *model, int64_t num_classes, char **error)
{
  return guard (error, [&] {
    auto &net = lt::net_of (model);
    lt::check_num_classes (num_classes);
    net.reset_head (num_classes);
  });
}

extern "C" LtStatus
lt_model_get_tensor (const LtModel *model, const char *name, LtTensor **out, char **error)
{
  return guard (error, [&] {
    require (out, "out");
    auto tensor = lt::find_entry (lt::net_of (model), name).detach ();
    if (!tensor.is_cpu ())
      tensor = tensor.to (torch::kCPU);
    *out = lt::wrap (tensor.clone (torch::MemoryFormat::Contiguous));
  });
}

extern "C" LtStatus
lt_model_set_tensor (LtModel *model, const char *name, const LtTensor *value, char **error)
{
  return guard (error, [&] {
    auto tensor = lt::find_entry (lt::net_of (model), name);
    const auto &source = require (value, "value")->tensor;
    if (source.sizes () != tensor.sizes ())
      throw lt::Error (LT_ERROR_MISMATCH, std::string (name) + " has shape "
                                            + lt::shape_string (tensor) + ", not "
                                            + lt::shape_string (source));
    torch::NoGradGuard no_grad;
    tensor.copy_ (source);
  });
}

extern "C" LtStatus
lt_model_set_trainable (LtModel *model, int first_stage, int last_stage, bool trainable,
                        char **error)
{
  return guard (error, [&] {
    auto &net = lt::net_of (model);
    lt::check_stage (first_stage);
    lt::check_stage (last_stage);
    for (int stage = first_stage; stage <= last_stage; stage++)
      net.set_trainable (stage, trainable);
  });
}

extern "C" bool
lt_model_get_trainable (const LtModel *model, int stage)
{
  if (model == nullptr || stage < 0 || stage >= lt::EfficientNetImpl::kStages)
    return false;
  return model->net->trainable (stage);
}

extern "C" void
lt_model_set_batch_norm_mode (LtModel *model, LtBatchNormMode mode)
{
  if (model != nullptr)
    model->net->set_batch_norm_trains (mode == LT_BATCH_NORM_TRAIN);
}

extern "C" LtStatus
lt_model_set_dropout (LtModel *model, double p, char **error)
{
  return guard (error, [&] {
    auto &net = lt::net_of (model);
    if (!(p >= 0.0 && p < 1.0))
      throw lt::Error (LT_ERROR_INVALID_ARGUMENT, "a dropout probability is in [0, 1)");
    net.set_dropout (p);
  });
}

extern "C" LtStatus
lt_model_forward (LtModel *model, const LtTensor *images, LtTensor **logits, char **error)
{
  return lt_model_forward_rest (model, images, 0, logits, error);
}

extern "C" LtStatus
lt_model_forward_prefix (LtModel *model, const LtTensor *images, int cut, LtTensor **activations,
                         char **error)
{
  return lt_model_forward_range (model, images, 0, cut, activations, error);
}

extern "C" LtStatus
lt_model_forward_range (LtModel *model, const LtTensor *input, int begin, int end,
                        LtTensor **activations, char **error)
{
  return guard (error, [&] {
    auto &net = lt::net_of (model);
    require (activations, "activations");
    lt::check_cut (begin);
    lt::check_cut (end);
    if (begin > end)
      throw lt::Error (LT_ERROR_INVALID_ARGUMENT, "the range " + std::to_string (begin) + ".."
                                                    + std::to_string (end) + " is backwards");
    c10::InferenceMode inference;
    auto x = lt::input_of (model, input, begin);
    net.set_training (false);
    *activations = lt::wrap (net.features (x, begin, end, true));
  });
}

extern "C" LtStatus
lt_model_forward_rest (LtModel *model, const LtTensor *activations, int cut, LtTensor **logits,
                       char **error)
{
  return lt_model_eval_step (model, activations, cut, nullptr, logits, nullptr, nullptr, error);
}

extern "C" LtStatus
lt_model_eval_step (LtModel *model, const LtTensor *input, int cut, const int64_t *labels,
                    LtTensor **logits, float *loss, int64_t *n_correct, char **error)
{
  return guard (error, [&] {
    auto &net = lt::net_of (model);
    lt::check_cut (cut);
    c10::InferenceMode inference;
    auto x = lt::input_of (model, input, cut);
    net.set_training (false);
    auto output = lt::infer_rest (net, x, cut);
    if (labels != nullptr)
      {
        auto targets = lt::labels_of (labels, x, net.num_classes ());
        if (loss != nullptr)
          *loss = torch::nn::functional::cross_entropy (output, targets).item<float> ();
        if (n_correct != nullptr)
          *n_correct = lt::count_correct (output, targets);
      }
    else if (loss != nullptr || n_correct != nullptr)
      throw lt::Error (LT_ERROR_INVALID_ARGUMENT, "a loss needs labels");
    if (logits != nullptr)
      *logits = lt::wrap (std::move (output));
  });
}

extern "C" LtStatus
lt_model_train_step (LtModel *model, LtOptim *optim, const LtTensor *input, int cut,
                     const int64_t *labels, double label_smoothing, const float *class_weights,
                     float *loss, int64_t *n_correct, char **error)
{
  return guard (error, [&] {
    auto &net = lt::net_of (model);
    require (optim, "optim");
    lt::check_cut (cut);
    if (optim->net.ptr () != model->net.ptr ())
      throw lt::Error (LT_ERROR_INVALID_ARGUMENT, "the optimiser was made for another model");
    if (optim->head_generation != net.head_generation ())
      throw lt::Error (LT_ERROR_INVALID_ARGUMENT,
                       "the head was replaced after the optimiser was made; make a new one");
    if (!(label_smoothing >= 0.0 && label_smoothing <= 1.0))
      throw lt::Error (LT_ERROR_INVALID_ARGUMENT, "label smoothing is in [0, 1]");

    auto x = lt::input_of (model, input, cut);
    auto targets = lt::labels_of (labels, x, net.num_classes ());
    c10::optional<torch::Tensor> weights;
    if (class_weights != nullptr)
      weights = lt::own_copy (class_weights, net.num_classes (), torch::kFloat, x.device ());

    for (auto &group : optim->optimizer->param_groups ())
      for (auto &param : group.params ())
        param.mutable_grad ().reset ();

    net.set_training (true);
    /* Leading frozen stages need no graph and run as inference does. */
    int stage = cut;
    {
      torch::NoGradGuard no_grad;
      for (; stage < lt::EfficientNetImpl::kFeatures && !net.trainable (stage); stage++)
        x = net.features (x, stage, stage + 1, true);
    }
    auto output = net.head (net.features (x, stage, lt::EfficientNetImpl::kFeatures, false));
    auto batch_loss = at::cross_entropy_loss (output, targets, weights, at::Reduction::Mean, -100,
                                              label_smoothing);
    if (!batch_loss.requires_grad ())
      throw lt::Error (LT_ERROR_INVALID_ARGUMENT, "every stage is frozen: nothing to train");
    batch_loss.backward ();
    lt::reduce_gradients (optim);
    optim->optimizer->step ();
    net.set_training (false);

    if (loss != nullptr)
      *loss = batch_loss.item<float> ();
    if (n_correct != nullptr)
      {
        torch::NoGradGuard no_grad;
        *n_correct = lt::count_correct (output, targets);
      }
  });
}

extern "C" LtStatus
lt_model_grad_cam (LtModel *model, const LtTensor *images, int64_t class_index, LtTensor **cam,
                   char **error)
{
  return guard (error, [&] {
    auto &net = lt::net_of (model);
    require (cam, "cam");
    if (class_index < 0 || class_index >= net.num_classes ())
      throw lt::Error (LT_ERROR_INVALID_ARGUMENT,
                       "class " + std::to_string (class_index) + " is not in the model");
    auto x = lt::input_of (model, images, 0);
    net.set_training (false);

    torch::Tensor act;
    {
      torch::NoGradGuard no_grad;
      act = net.features (x, 0, lt::EfficientNetImpl::kFeatures, true);
    }
    act.requires_grad_ (true);
    torch::AutoGradMode grad_mode (true);
    auto score = net.head (act).select (1, class_index).sum ();
    auto grad = torch::autograd::grad ({ score }, { act })[0];

    torch::NoGradGuard no_grad;
    auto map = torch::relu ((grad.mean ({ 2, 3 }, true) * act).sum (1, true));
    map = torch::nn::functional::interpolate (
      map, torch::nn::functional::InterpolateFuncOptions ()
             .size (std::vector<int64_t>{ x.size (2), x.size (3) })
             .mode (torch::kBilinear)
             .align_corners (false));
    map = map.squeeze (1);
    auto low = map.amin ({ 1, 2 }, true);
    auto span = map.amax ({ 1, 2 }, true) - low;
    /* A map without any positive evidence stays all zero rather than dividing by zero. */
    map = torch::where (span > 0, (map - low) / span.clamp_min (1e-12), torch::zeros_like (map));
    *cam = lt::wrap (map.contiguous ());
  });
}
