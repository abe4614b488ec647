/* lt-dist.cpp: data-parallel training over c10d's Gloo process group
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "lt-dist.h"

#include <chrono>
#include <cmath>
#include <vector>

#ifdef LT_HAVE_C10D_GLOO
/* libtorch's own build defines it; its headers hide the Gloo process group without it. */
#define USE_C10D_GLOO 1
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

#include "lt-dist-private.hpp"
#include "lt-handles.hpp"

struct LtDist
{
#ifdef LT_HAVE_C10D_GLOO
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
#endif
  int rank;
  int world_size;
};

namespace lt {

namespace {

/* What lt_dist_train_step() asks of the step it wraps. */
struct Shard
{
  LtDist *dist;
  double share;
  torch::Tensor rows;
  int64_t batch_size;
};

thread_local const Shard *current_shard = nullptr;

class ShardScope
{
public:
  explicit ShardScope (const Shard *shard) { current_shard = shard; }
  ~ShardScope () { current_shard = nullptr; }
  ShardScope (const ShardScope &) = delete;
  ShardScope &operator= (const ShardScope &) = delete;
};

#ifdef LT_HAVE_C10D_GLOO

/* Waits for a collective; a peer that died or a timeout becomes a message that says so. */
void
wait_for (const c10::intrusive_ptr<c10d::Work> &work, const LtDist *dist)
{
  try
    {
      work->wait ();
    }
  catch (const std::exception &e)
    {
      throw Error (LT_ERROR_IO, "rank " + std::to_string (dist->rank) + " of " +
                                  std::to_string (dist->world_size) +
                                  ": the other processes of this distributed run stopped "
                                  "answering (" + e.what () + ")");
    }
}

void
all_reduce (LtDist *dist, std::vector<torch::Tensor> &tensors, c10d::ReduceOp::RedOpType op)
{
  c10d::AllreduceOptions options;
  options.reduceOp = c10d::ReduceOp (op);
  wait_for (dist->group->allreduce (tensors, options), dist);
}

void
broadcast (LtDist *dist, torch::Tensor tensor, int root)
{
  std::vector<torch::Tensor> tensors{ std::move (tensor) };
  c10d::BroadcastOptions options;
  options.rootRank = root;
  wait_for (dist->group->broadcast (tensors, options), dist);
}

/* Loopback addresses get a loopback device, as a two-process test on one machine needs
 * whatever the host name resolves to; GLOO_SOCKET_IFNAME picks an interface as in PyTorch. */
std::shared_ptr<::gloo::transport::Device>
make_device (const std::string &master_addr)
{
  const char *interface = std::getenv ("GLOO_SOCKET_IFNAME");
  if (interface != nullptr && *interface != '\0')
    return c10d::ProcessGroupGloo::createDeviceForInterface (interface);
  if (master_addr == "127.0.0.1" || master_addr == "localhost" || master_addr == "::1")
    return c10d::ProcessGroupGloo::createDeviceForHostname (master_addr);
  return c10d::ProcessGroupGloo::createDefaultDevice ();
}

#endif

LtDist *
require_dist (LtDist *dist)
{
  require (dist, "dist");
#ifndef LT_HAVE_C10D_GLOO
  throw Error (LT_ERROR_INVALID_ARGUMENT, "this build has no distributed engine");
#endif
  return dist;
}

} // namespace

void
reduce_gradients (LtOptim *optim)
{
  const Shard *shard = current_shard;
  if (shard == nullptr)
    return;
#ifdef LT_HAVE_C10D_GLOO
  std::vector<torch::Tensor> grads;
  for (auto &group : optim->optimizer->param_groups ())
    for (auto &param : group.params ())
      /* Every rank runs the same graph, so the same parameters have gradients everywhere. */
      if (param.grad ().defined ())
        grads.push_back (param.grad ());
  if (grads.empty ())
    return;
  /* One flat buffer: one collective per step, whatever the number of tensors. */
  auto flat = torch::cat ([&] {
    std::vector<torch::Tensor> views;
    for (auto &g : grads)
      views.push_back (g.reshape ({ -1 }));
    return views;
  }());
  flat.mul_ (shard->share);
  std::vector<torch::Tensor> tensors{ flat };
  all_reduce (shard->dist, tensors, c10d::ReduceOp::SUM);
  int64_t offset = 0;
  for (auto &g : grads)
    {
      g.copy_ (flat.narrow (0, offset, g.numel ()).view_as (g));
      offset += g.numel ();
    }
#else
  (void) optim;
#endif
}

torch::Tensor
batch_noise (torch::IntArrayRef shape, double keep, const torch::TensorOptions &options)
{
  const Shard *shard = current_shard;
  if (shard == nullptr)
    return torch::empty (shape, options).bernoulli_ (keep);
  std::vector<int64_t> whole (shape.begin (), shape.end ());
  whole[0] = shard->batch_size;
  return torch::empty (whole, options).bernoulli_ (keep).index_select (0,
                                                                     shard->rows.to (options.device ()));
}

bool
batch_noise_sharded ()
{
  return current_shard != nullptr;
}

} // namespace lt

using lt::guard;
using lt::require;

extern "C" bool
lt_dist_available (void)
{
#ifdef LT_HAVE_C10D_GLOO
  return true;
#else
  return false;
#endif
}

extern "C" LtStatus
lt_dist_new (const char *master_addr, int master_port, int rank, int world_size,
             const char *agent_prefix, double timeout_seconds, LtDist **out, char **error)
{
  return guard (error, [&] {
    require (out, "out");
    *out = nullptr;
    require (master_addr, "master_addr");
    if (world_size < 1 || rank < 0 || rank >= world_size)
      throw lt::Error (LT_ERROR_INVALID_ARGUMENT,
                       "rank " + std::to_string (rank) + " is not in a world of " +
                         std::to_string (world_size));
    if (master_port < 1 || master_port > 65535)
      throw lt::Error (LT_ERROR_INVALID_ARGUMENT,
                       "port " + std::to_string (master_port) + " is not a TCP port");
    if (!(timeout_seconds > 0))
      throw lt::Error (LT_ERROR_INVALID_ARGUMENT, "the timeout must be positive");
#ifdef LT_HAVE_C10D_GLOO
    auto timeout = std::chrono::milliseconds (static_cast<int64_t> (timeout_seconds * 1000));
    auto dist = std::make_unique<LtDist> ();
    dist->rank = rank;
    dist->world_size = world_size;
    try
      {
        c10d::TCPStoreOptions store_options;
        store_options.port = static_cast<std::uint16_t> (master_port);
        store_options.isServer = rank == 0 && agent_prefix == nullptr;
        store_options.numWorkers = static_cast<std::size_t> (world_size);
        store_options.waitWorkers = agent_prefix == nullptr;
        store_options.timeout = timeout;
        dist->store = c10::make_intrusive<c10d::TCPStore> (master_addr, store_options);
        if (agent_prefix != nullptr)
          dist->store = c10::make_intrusive<c10d::PrefixStore> (agent_prefix, dist->store);

        auto options = c10d::ProcessGroupGloo::Options::create (timeout);
        options->devices.push_back (lt::make_device (master_addr));
        dist->group = c10::make_intrusive<c10d::ProcessGroupGloo> (dist->store, rank, world_size,
                                                                   options);
      }
    catch (const std::exception &e)
      {
        throw lt::Error (LT_ERROR_IO, "rank " + std::to_string (rank) + " of " +
                                        std::to_string (world_size) + " could not join the "
                                        "group at " + master_addr + ":" +
                                        std::to_string (master_port) + " (" + e.what () + ")");
      }
    *out = dist.release ();
#else
    throw lt::Error (LT_ERROR_INVALID_ARGUMENT,
                     "this build has no distributed engine (libtorch's c10d with Gloo)");
#endif
  });
}

extern "C" void
lt_dist_free (LtDist *dist)
{
  delete dist;
}

extern "C" int
lt_dist_rank (const LtDist *dist)
{
  return dist != nullptr ? dist->rank : 0;
}

extern "C" int
lt_dist_world_size (const LtDist *dist)
{
  return dist != nullptr ? dist->world_size : 1;
}

extern "C" LtStatus
lt_dist_all_reduce_f64 (LtDist *dist, double *values, size_t n, LtDistOp op, char **error)
{
  return guard (error, [&] {
    lt::require_dist (dist);
    if (n == 0)
      return;
    require (values, "values");
#ifdef LT_HAVE_C10D_GLOO
    auto kind = op == LT_DIST_MIN   ? c10d::ReduceOp::MIN
                : op == LT_DIST_MAX ? c10d::ReduceOp::MAX
                                    : c10d::ReduceOp::SUM;
    std::vector<torch::Tensor> tensors{
      torch::from_blob (values, { static_cast<int64_t> (n) }, torch::kDouble)
    };
    lt::all_reduce (dist, tensors, kind);
#endif
  });
}

extern "C" LtStatus
lt_dist_broadcast (LtDist *dist, void *data, size_t n_bytes, int root, char **error)
{
  return guard (error, [&] {
    lt::require_dist (dist);
    if (root < 0 || root >= dist->world_size)
      throw lt::Error (LT_ERROR_INVALID_ARGUMENT, "root " + std::to_string (root) +
                                                    " is not a rank");
    if (n_bytes == 0)
      return;
    require (data, "data");
#ifdef LT_HAVE_C10D_GLOO
    lt::broadcast (dist, torch::from_blob (data, { static_cast<int64_t> (n_bytes) }, torch::kByte),
                   root);
#endif
  });
}

extern "C" LtStatus
lt_dist_barrier (LtDist *dist, char **error)
{
  double token = 0;
  return lt_dist_all_reduce_f64 (dist, &token, 1, LT_DIST_SUM, error);
}

extern "C" LtStatus
lt_dist_broadcast_trainable (LtDist *dist, LtModel *model, char **error)
{
  return guard (error, [&] {
    lt::require_dist (dist);
    auto &net = require (model, "model")->net;
#ifdef LT_HAVE_C10D_GLOO
    torch::NoGradGuard no_grad;
    for (int stage = 0; stage < lt::EfficientNetImpl::kStages; stage++)
      if (net->trainable (stage))
        for (auto &param : net->stage_parameters (stage))
          lt::broadcast (dist, param.data (), 0);
#else
    (void) net;
#endif
  });
}

extern "C" LtStatus
lt_dist_train_step (LtDist *dist, LtModel *model, LtOptim *optim, const LtTensor *input,
                    int cut, const int64_t *labels, const int64_t *rows, size_t n_rows,
                    int64_t batch_size, double share, double label_smoothing,
                    const float *class_weights, float *loss, int64_t *n_correct, char **error)
{
  LtStatus status = guard (error, [&] {
    lt::require_dist (dist);
    require (rows, "rows");
    require (input, "input");
    if (n_rows == 0 || static_cast<int64_t> (n_rows) != input->tensor.size (0))
      throw lt::Error (LT_ERROR_INVALID_ARGUMENT, "rows must name each row of input");
    if (!(share >= 0.0 && share <= 1.0))
      throw lt::Error (LT_ERROR_INVALID_ARGUMENT, "share is in [0, 1]");
    for (size_t i = 0; i < n_rows; i++)
      if (rows[i] < 0 || rows[i] >= batch_size)
        throw lt::Error (LT_ERROR_INVALID_ARGUMENT, "a row is outside the global batch");
  });
  if (status != LT_OK)
    return status;

  lt::Shard shard{ dist, share,
                   torch::from_blob (const_cast<int64_t *> (rows),
                                     { static_cast<int64_t> (n_rows) }, torch::kLong)
                     .clone (),
                   batch_size };
  lt::ShardScope scope (&shard);
  return lt_model_train_step (model, optim, input, cut, labels, label_smoothing, class_weights,
                              loss, n_correct, error);
}
