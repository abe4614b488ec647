/* lt-tensor.cpp: the runtime settings and the tensors of lt.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <dlfcn.h>
#include <sched.h>

#include <cstring>
#include <mutex>
#include <set>
#include <thread>

#include <torch/cuda.h>

#include "lt-handles.hpp"

namespace lt {

namespace {

int
available_cores ()
{
  /* The cores this process may run on, which a container or taskset may limit. */
  cpu_set_t set;
  if (sched_getaffinity (0, sizeof set, &set) == 0)
    return std::max (1, CPU_COUNT (&set));
  return std::max (1u, std::thread::hardware_concurrency ());
}

constexpr size_t kMaxDims = 8;

std::vector<int64_t>
checked_shape (const int64_t *shape, size_t ndim)
{
  if (ndim > kMaxDims)
    throw Error (LT_ERROR_INVALID_ARGUMENT, "a tensor has at most 8 dimensions");
  if (ndim > 0)
    require (shape, "shape");
  std::vector<int64_t> sizes (shape, shape + ndim);
  for (auto size : sizes)
    if (size < 0)
      throw Error (LT_ERROR_INVALID_ARGUMENT, "tensor sizes must not be negative");
  return sizes;
}

LtStatus
new_tensor (const void *data, const int64_t *shape, size_t ndim, torch::ScalarType type,
            LtTensor **out, char **error)
{
  return guard (error, [&] {
    require (out, "out");
    auto sizes = checked_shape (shape, ndim);
    auto tensor = torch::empty (sizes, torch::dtype (type));
    if (tensor.numel () > 0)
      std::memcpy (tensor.data_ptr (), require (data, "data"), tensor.nbytes ());
    *out = wrap (std::move (tensor));
  });
}

LtStatus
copy_out (const LtTensor *tensor, void *data, size_t numel, torch::ScalarType type, char **error)
{
  return guard (error, [&] {
    require (tensor, "tensor");
    if (static_cast<int64_t> (numel) != tensor->tensor.numel ())
      throw Error (LT_ERROR_INVALID_ARGUMENT,
                   "the buffer holds " + std::to_string (numel) + " values, the tensor "
                     + std::to_string (tensor->tensor.numel ()));
    /* A CPU tensor of that type is itself, as before devices: no copy but the memcpy. */
    auto values = tensor->tensor.to (torch::kCPU, type).contiguous ();
    if (numel > 0)
      std::memcpy (require (data, "data"), values.data_ptr (), values.nbytes ());
  });
}

LtStatus
join (const LtTensor *const *tensors, size_t n_tensors, bool stack, LtTensor **out, char **error)
{
  return guard (error, [&] {
    require (out, "out");
    if (n_tensors == 0)
      throw Error (LT_ERROR_INVALID_ARGUMENT, "nothing to join");
    require (tensors, "tensors");
    std::vector<torch::Tensor> parts;
    parts.reserve (n_tensors);
    c10::optional<torch::Device> device;
    for (size_t i = 0; i < n_tensors; i++)
      {
        parts.push_back (require (tensors[i], "tensors[i]")->tensor);
        if (!device && !parts.back ().is_cpu ())
          device = parts.back ().device ();
      }
    /* Activations a model computed on a GPU may meet ones read back from a cache: join them
     * where the model is. */
    if (device)
      for (auto &part : parts)
        part = part.to (*device);
    *out = wrap (stack ? torch::stack (parts) : torch::cat (parts));
  });
}

std::mutex device_lock;
torch::Device chosen_device (torch::kCPU);

bool
is_digits (const std::string &text)
{
  return !text.empty () && text.size () <= 4
         && text.find_first_not_of ("0123456789") == std::string::npos;
}

/* The device a name asks for, or an exception that says what is wrong with it. */
torch::Device
parse_device (const std::string &name)
{
  int index = -1;
  if (name == "cpu")
    return torch::Device (torch::kCPU);
  /* Only names that may mean CUDA ask the driver, which takes a moment the first time. */
  if (name == "auto")
    return torch::cuda::device_count () > 0 ? torch::Device (torch::kCUDA, 0)
                                            : torch::Device (torch::kCPU);
  if (name == "cuda")
    index = 0;
  else if (name.rfind ("cuda:", 0) == 0 && is_digits (name.substr (5)))
    index = std::stoi (name.substr (5));
  else
    throw Error (LT_ERROR_INVALID_ARGUMENT,
                 "\"" + name + "\" is not a device: use auto, cpu, cuda or cuda:N");

  const int n_cuda = static_cast<int> (torch::cuda::device_count ());
  if (n_cuda == 0)
    throw Error (LT_ERROR_NO_DEVICE, "This libtorch has no CUDA device (it was built without "
                                     "CUDA, or no GPU is visible)");
  if (index >= n_cuda)
    throw Error (LT_ERROR_NO_DEVICE,
                 "There is no CUDA device " + std::to_string (index) + ": libtorch sees "
                   + std::to_string (n_cuda) + ", cuda:0 to cuda:" + std::to_string (n_cuda - 1));
  return torch::Device (torch::kCUDA, static_cast<c10::DeviceIndex> (index));
}

} // namespace

torch::Device
current_device ()
{
  std::lock_guard<std::mutex> hold (device_lock);
  return chosen_device;
}

const char *
device_name (const torch::Device &device)
{
  /* Set nodes never move, so their strings outlive every caller. */
  static std::mutex lock;
  static std::set<std::string> names;
  std::lock_guard<std::mutex> hold (lock);
  return names.insert (device.str ()).first->c_str ();
}

} // namespace lt

/* OpenBLAS (which Debian's libtorch picks up when libopenblas0-pthread is installed) keeps a
 * pool of its own beside ATen's OpenMP threads. On a small machine the two pools busy-wait
 * against each other: a warm single-image diagnosis measured 17 ms most of the time but 80 to
 * 140 ms every few calls. Only the classifier's small matrix products reach BLAS here, so it
 * runs them on the calling thread. Looked up at run time: the reference BLAS has no such call. */
static void
quiet_blas_threads (void)
{
  using SetThreads = void (*) (int);
  auto set_threads = reinterpret_cast<SetThreads> (dlsym (RTLD_DEFAULT, "openblas_set_num_threads"));

  if (set_threads != nullptr)
    set_threads (1);
}

extern "C" LtStatus
lt_init (int num_threads, char **error)
{
  return lt::guard (error, [&] {
    /* Debian's libtorch starts with one thread; two are about 2.5 times faster on two cores.
     * ATen applies the number to every thread on its first parallel operation. */
    at::set_num_threads (num_threads > 0 ? num_threads : lt::available_cores ());
    quiet_blas_threads ();
  });
}

extern "C" int
lt_get_num_threads (void)
{
  return at::get_num_threads ();
}

extern "C" void
lt_manual_seed (uint64_t seed)
{
  torch::manual_seed (seed);
}

extern "C" LtStatus
lt_set_device (const char *name, char **error)
{
  return lt::guard (error, [&] {
    auto device = lt::parse_device (lt::require (name, "name"));
    if (device.is_cuda ())
      /* Batches keep their shapes from one step to the next: let cuDNN pick its fastest
       * algorithms once. */
      at::globalContext ().setBenchmarkCuDNN (true);
    std::lock_guard<std::mutex> hold (lt::device_lock);
    lt::chosen_device = device;
  });
}

extern "C" const char *
lt_get_device (void)
{
  return lt::device_name (lt::current_device ());
}

extern "C" int
lt_cuda_device_count (void)
{
  try
    {
      return static_cast<int> (torch::cuda::device_count ());
    }
  catch (...)
    {
      return 0;
    }
}

extern "C" LtStatus
lt_tensor_new_f32 (const float *data, const int64_t *shape, size_t ndim, LtTensor **out,
                   char **error)
{
  return lt::new_tensor (data, shape, ndim, torch::kFloat, out, error);
}

extern "C" LtStatus
lt_tensor_new_f16 (const uint16_t *data, const int64_t *shape, size_t ndim, LtTensor **out,
                   char **error)
{
  return lt::new_tensor (data, shape, ndim, torch::kHalf, out, error);
}

extern "C" void
lt_tensor_free (LtTensor *tensor)
{
  delete tensor;
}

extern "C" size_t
lt_tensor_ndim (const LtTensor *tensor)
{
  return tensor != nullptr ? static_cast<size_t> (tensor->tensor.dim ()) : 0;
}

extern "C" int64_t
lt_tensor_dim (const LtTensor *tensor, size_t axis)
{
  if (tensor == nullptr || axis >= static_cast<size_t> (tensor->tensor.dim ()))
    return -1;
  return tensor->tensor.size (static_cast<int64_t> (axis));
}

extern "C" int64_t
lt_tensor_numel (const LtTensor *tensor)
{
  return tensor != nullptr ? tensor->tensor.numel () : 0;
}

extern "C" LtStatus
lt_tensor_copy_f32 (const LtTensor *tensor, float *data, size_t numel, char **error)
{
  return lt::copy_out (tensor, data, numel, torch::kFloat, error);
}

extern "C" LtStatus
lt_tensor_copy_f16 (const LtTensor *tensor, uint16_t *data, size_t numel, char **error)
{
  return lt::copy_out (tensor, data, numel, torch::kHalf, error);
}

extern "C" LtStatus
lt_tensor_cat (const LtTensor *const *tensors, size_t n_tensors, LtTensor **out, char **error)
{
  return lt::join (tensors, n_tensors, false, out, error);
}

extern "C" LtStatus
lt_tensor_stack (const LtTensor *const *tensors, size_t n_tensors, LtTensor **out, char **error)
{
  return lt::join (tensors, n_tensors, true, out, error);
}

extern "C" LtStatus
lt_tensor_mean_spatial (const LtTensor *tensor, LtTensor **out, char **error)
{
  return lt::guard (error, [&] {
    lt::require (out, "out");
    const auto &x = lt::require (tensor, "tensor")->tensor;
    if (x.dim () != 4)
      throw lt::Error (LT_ERROR_INVALID_ARGUMENT, "expected a [N, C, H, W] tensor");
    c10::InferenceMode inference;
    *out = lt::wrap (x.to (torch::kFloat).mean ({ 2, 3 }, true));
  });
}
