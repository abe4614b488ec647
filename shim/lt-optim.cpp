/* lt-optim.cpp: SGD, Adam and AdamW over groups of stages
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "lt-handles.hpp"

namespace lt {

namespace {

/* The options of one parameter group. */
std::unique_ptr<torch::optim::OptimizerOptions>
group_options (LtOptimKind kind, double lr, double weight_decay, double momentum)
{
  switch (kind)
    {
    case LT_OPTIM_SGD:
      return std::make_unique<torch::optim::SGDOptions> (
        torch::optim::SGDOptions (lr).momentum (momentum).weight_decay (weight_decay));
    case LT_OPTIM_ADAM:
      return std::make_unique<torch::optim::AdamOptions> (
        torch::optim::AdamOptions (lr).weight_decay (weight_decay));
    case LT_OPTIM_ADAMW:
      return std::make_unique<torch::optim::AdamWOptions> (
        torch::optim::AdamWOptions (lr).weight_decay (weight_decay));
    }
  throw Error (LT_ERROR_INVALID_ARGUMENT, "unknown optimiser kind");
}

/* An optimiser without groups yet, whose defaults only fill options that groups leave out. */
std::unique_ptr<torch::optim::Optimizer>
make_optimizer (LtOptimKind kind, double weight_decay, double momentum)
{
  auto defaults = group_options (kind, 1e-3, weight_decay, momentum);
  std::vector<torch::optim::OptimizerParamGroup> none;
  switch (kind)
    {
    case LT_OPTIM_SGD:
      return std::make_unique<torch::optim::SGD> (
        none, static_cast<torch::optim::SGDOptions &> (*defaults));
    case LT_OPTIM_ADAM:
      return std::make_unique<torch::optim::Adam> (
        none, static_cast<torch::optim::AdamOptions &> (*defaults));
    case LT_OPTIM_ADAMW:
      return std::make_unique<torch::optim::AdamW> (
        none, static_cast<torch::optim::AdamWOptions &> (*defaults));
    }
  throw Error (LT_ERROR_INVALID_ARGUMENT, "unknown optimiser kind");
}

void
check_rate (double lr)
{
  if (!(lr >= 0.0))
    throw Error (LT_ERROR_INVALID_ARGUMENT, "a learning rate is not negative");
}

torch::optim::OptimizerParamGroup &
group_of (LtOptim *optim, size_t group)
{
  auto &groups = require (optim, "optim")->optimizer->param_groups ();
  if (group >= groups.size ())
    throw Error (LT_ERROR_INVALID_ARGUMENT, "the optimiser has no group " + std::to_string (group));
  return groups[group];
}

} // namespace

} // namespace lt

extern "C" LtStatus
lt_optim_new (LtModel *model, LtOptimKind kind, double weight_decay, double momentum,
              LtOptim **out, char **error)
{
  return lt::guard (error, [&] {
    lt::require (model, "model");
    lt::require (out, "out");
    if (!(weight_decay >= 0.0) || !(momentum >= 0.0))
      throw lt::Error (LT_ERROR_INVALID_ARGUMENT, "weight decay and momentum are not negative");
    auto optim = std::make_unique<LtOptim> ();
    optim->net = model->net;
    optim->kind = kind;
    optim->weight_decay = weight_decay;
    optim->momentum = momentum;
    optim->optimizer = lt::make_optimizer (kind, weight_decay, momentum);
    optim->head_generation = model->net->head_generation ();
    *out = optim.release ();
  });
}

extern "C" void
lt_optim_free (LtOptim *optim)
{
  delete optim;
}

extern "C" LtStatus
lt_optim_add_group (LtOptim *optim, int first_stage, int last_stage, double lr, size_t *group,
                    char **error)
{
  return lt::guard (error, [&] {
    lt::require (optim, "optim");
    lt::check_rate (lr);
    if (first_stage < 0 || last_stage >= lt::EfficientNetImpl::kStages || first_stage > last_stage)
      throw lt::Error (LT_ERROR_INVALID_ARGUMENT,
                       "stages " + std::to_string (first_stage) + ".." + std::to_string (last_stage)
                         + " are not a range within 0..9");
    std::vector<torch::Tensor> params;
    for (int stage = first_stage; stage <= last_stage; stage++)
      {
        if (optim->stage_taken[stage])
          throw lt::Error (LT_ERROR_INVALID_ARGUMENT,
                           "stage " + std::to_string (stage) + " is in a group already");
        for (auto &param : optim->net->stage_parameters (stage))
          params.push_back (param);
      }
    optim->optimizer->add_param_group (torch::optim::OptimizerParamGroup (
      params, lt::group_options (optim->kind, lr, optim->weight_decay, optim->momentum)));
    for (int stage = first_stage; stage <= last_stage; stage++)
      optim->stage_taken[stage] = true;
    if (group != nullptr)
      *group = optim->optimizer->param_groups ().size () - 1;
  });
}

extern "C" size_t
lt_optim_n_groups (const LtOptim *optim)
{
  return optim != nullptr ? optim->optimizer->param_groups ().size () : 0;
}

extern "C" LtStatus
lt_optim_set_lr (LtOptim *optim, size_t group, double lr, char **error)
{
  return lt::guard (error, [&] {
    lt::check_rate (lr);
    lt::group_of (optim, group).options ().set_lr (lr);
  });
}

extern "C" double
lt_optim_get_lr (const LtOptim *optim, size_t group)
{
  if (optim == nullptr || group >= optim->optimizer->param_groups ().size ())
    return -1.0;
  return optim->optimizer->param_groups ()[group].options ().get_lr ();
}
