/* lt-kernels.cpp: kernels that matter for speed where Debian's libtorch is slow
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Debian's libtorch spends about as long in SiLU as in all of EfficientNet-B0's convolutions
 * (about 2 ns per element on one core). An AVX2 SiLU with a Cephes-style exp takes a fraction
 * of that. The weight gradient of a depthwise convolution takes oneDNN about ten times as long
 * as the convolution itself; a plain loop over positions, with each channel block's
 * accumulators in L1, takes a fraction of that. Both are chosen at run time, so the library
 * still runs on CPUs without AVX2.
 */

#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "lt-kernels.hpp"

namespace lt {

namespace {

/* x / (1 + exp(-x)) for 8 floats. exp as in Cephes' expf (as in avx_mathfun): range reduction
 * by ln 2 in two parts, a degree-5 polynomial, the exponent put in by integer addition.
 * Relative error about 2e-7 over the whole float range. */
__attribute__ ((target ("avx2,fma"))) inline __m256
silu8 (__m256 x)
{
  const __m256 one = _mm256_set1_ps (1.f);
  /* exp(-x): clamp so that the exponent stays representable; silu is x or 0 beyond. */
  __m256 t = _mm256_max_ps (_mm256_min_ps (_mm256_sub_ps (_mm256_setzero_ps (), x),
                                           _mm256_set1_ps (88.3762626647949f)),
                            _mm256_set1_ps (-88.3762626647949f));
  __m256 fx = _mm256_floor_ps (_mm256_fmadd_ps (t, _mm256_set1_ps (1.44269504088896341f),
                                                _mm256_set1_ps (0.5f)));
  t = _mm256_fnmadd_ps (fx, _mm256_set1_ps (0.693359375f), t);
  t = _mm256_fnmadd_ps (fx, _mm256_set1_ps (-2.12194440e-4f), t);
  __m256 y = _mm256_set1_ps (1.9875691500e-4f);
  y = _mm256_fmadd_ps (y, t, _mm256_set1_ps (1.3981999507e-3f));
  y = _mm256_fmadd_ps (y, t, _mm256_set1_ps (8.3334519073e-3f));
  y = _mm256_fmadd_ps (y, t, _mm256_set1_ps (4.1665795894e-2f));
  y = _mm256_fmadd_ps (y, t, _mm256_set1_ps (1.6666665459e-1f));
  y = _mm256_fmadd_ps (y, t, _mm256_set1_ps (5.0000001201e-1f));
  y = _mm256_fmadd_ps (y, _mm256_mul_ps (t, t), _mm256_add_ps (t, one));
  __m256i exponent = _mm256_slli_epi32 (
    _mm256_add_epi32 (_mm256_cvttps_epi32 (fx), _mm256_set1_epi32 (127)), 23);
  __m256 e = _mm256_mul_ps (y, _mm256_castsi256_ps (exponent));
  return _mm256_div_ps (x, _mm256_add_ps (one, e));
}

__attribute__ ((target ("avx2,fma"))) void
silu_avx2 (float *data, int64_t begin, int64_t end)
{
  int64_t i = begin;
  for (; i + 8 <= end; i += 8)
    _mm256_storeu_ps (data + i, silu8 (_mm256_loadu_ps (data + i)));
  if (i < end)
    {
      /* The tail goes through the same arithmetic, so every element gets the same rounding. */
      alignas (32) float tail[8] = { 0 };
      for (int64_t j = i; j < end; j++)
        tail[j - i] = data[j];
      _mm256_store_ps (tail, silu8 (_mm256_load_ps (tail)));
      for (int64_t j = i; j < end; j++)
        data[j] = tail[j - i];
    }
}

bool
have_avx2 ()
{
  static const bool supported = __builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma");
  return supported;
}

/* Channels per task of the depthwise weight gradient: their accumulators for a 5x5 filter
 * (25 x 64 floats) stay in L1, and a block's slice of each input pixel is four cache lines. */
constexpr int64_t kDepthwiseBlock = 64;

struct DepthwiseShape
{
  int64_t batch, height, width, channels, out_height, out_width, kernel, stride, padding;
};

/* acc[tap * 8 * V + c] += sum over sample n's positions of grad[n, oh, ow, c0 + c] *
 * x[n, ih, iw, c0 + c] for the block's 8 * V channels, both tensors channels-last and dense. V is a constant so that
 * the block's gradient stays in registers and every inner loop unrolls. */
template <int V>
__attribute__ ((target ("avx2,fma"))) void
depthwise_weight_grad_block (const float *x, const float *grad, const DepthwiseShape &s,
                             int64_t n, int64_t c0, float *acc)
{
  for (int64_t oh = 0; oh < s.out_height; oh++)
      {
        const int64_t kh_begin = std::max<int64_t> (0, s.padding - oh * s.stride);
        const int64_t kh_end = std::min (s.kernel, s.height + s.padding - oh * s.stride);
        for (int64_t ow = 0; ow < s.out_width; ow++)
          {
            const int64_t kw_begin = std::max<int64_t> (0, s.padding - ow * s.stride);
            const int64_t kw_end = std::min (s.kernel, s.width + s.padding - ow * s.stride);
            const float *g = grad + ((n * s.out_height + oh) * s.out_width + ow) * s.channels + c0;
            __m256 gv[V];
#pragma GCC unroll 8
            for (int v = 0; v < V; v++)
              gv[v] = _mm256_loadu_ps (g + 8 * v);
            for (int64_t kh = kh_begin; kh < kh_end; kh++)
              {
                const int64_t ih = oh * s.stride - s.padding + kh;
                const float *row = x + ((n * s.height + ih) * s.width) * s.channels + c0;
                float *a = acc + kh * s.kernel * 8 * V;
                for (int64_t kw = kw_begin; kw < kw_end; kw++)
                  {
                    const float *in = row + (ow * s.stride - s.padding + kw) * s.channels;
                    float *at = a + kw * 8 * V;
#pragma GCC unroll 8
                    for (int v = 0; v < V; v++)
                      _mm256_store_ps (at + 8 * v,
                                       _mm256_fmadd_ps (gv[v], _mm256_loadu_ps (in + 8 * v),
                                                        _mm256_load_ps (at + 8 * v)));
                  }
              }
          }
      }
}

using BlockKernel = void (*) (const float *, const float *, const DepthwiseShape &, int64_t,
                              int64_t, float *);
constexpr BlockKernel kBlockKernels[] = {
  depthwise_weight_grad_block<1>, depthwise_weight_grad_block<2>, depthwise_weight_grad_block<3>,
  depthwise_weight_grad_block<4>, depthwise_weight_grad_block<5>, depthwise_weight_grad_block<6>,
  depthwise_weight_grad_block<7>, depthwise_weight_grad_block<8>,
};

/* ATen's gradient of the depthwise convolution with respect to its input (0) or weight (1). */
torch::Tensor
aten_depthwise_grad (int which, const torch::Tensor &x, const torch::Tensor &grad_output,
                     const torch::Tensor &weight, int64_t stride, int64_t padding)
{
  auto grads = at::convolution_backward (grad_output, x, weight, c10::nullopt,
                                         { stride, stride }, { padding, padding }, { 1, 1 },
                                         false, { 0, 0 }, weight.size (0),
                                         { which == 0, which == 1, false });
  return which == 0 ? std::get<0> (grads) : std::get<1> (grads);
}

/* Forward through oneDNN, as torch::conv2d; backward through ATen for the input, through
 * depthwise_conv2d_weight_grad() for the weight. */
struct DepthwiseConv : public torch::autograd::Function<DepthwiseConv>
{
  static torch::Tensor
  forward (torch::autograd::AutogradContext *ctx, const torch::Tensor &x,
           const torch::Tensor &weight, int64_t stride, int64_t padding)
  {
    ctx->save_for_backward ({ x, weight });
    ctx->saved_data["stride"] = stride;
    ctx->saved_data["padding"] = padding;
    return torch::conv2d (x, weight, {}, stride, padding, 1, weight.size (0));
  }

  static torch::autograd::variable_list
  backward (torch::autograd::AutogradContext *ctx, torch::autograd::variable_list grads)
  {
    const auto saved = ctx->get_saved_variables ();
    const auto &x = saved[0], &weight = saved[1];
    const int64_t stride = ctx->saved_data["stride"].toInt ();
    const int64_t padding = ctx->saved_data["padding"].toInt ();
    torch::Tensor grad_x, grad_weight;

    if (ctx->needs_input_grad (0))
      grad_x = aten_depthwise_grad (0, x, grads[0], weight, stride, padding);
    if (ctx->needs_input_grad (1))
      grad_weight = depthwise_conv2d_weight_grad (x, grads[0], weight.size (2), stride, padding)
                      .to (weight.options ())
                      .contiguous (weight.suggest_memory_format ());
    return { grad_x, grad_weight, torch::Tensor (), torch::Tensor () };
  }
};

/* oneDNN is quick enough for 3x3 filters (about a fifth of our time here); B0's channel counts
 * are all multiples of 8, which the kernel's blocks need. */
bool
our_weight_grad_applies (const torch::Tensor &x, int64_t kernel)
{
  return x.is_cpu () && x.scalar_type () == torch::kFloat && x.dim () == 4 && kernel >= 5 &&
         x.size (1) % 8 == 0 && have_avx2 ();
}

} // namespace

torch::Tensor
depthwise_conv2d (const torch::Tensor &x, const torch::Tensor &weight, int64_t stride,
                  int64_t padding)
{
  if (torch::GradMode::is_enabled () && weight.requires_grad () &&
      our_weight_grad_applies (x, weight.size (2)))
    return DepthwiseConv::apply (x, weight, stride, padding);
  return torch::conv2d (x, weight, {}, stride, padding, 1, weight.size (0));
}

torch::Tensor
depthwise_conv2d_weight_grad (const torch::Tensor &x, const torch::Tensor &grad_output,
                              int64_t kernel, int64_t stride, int64_t padding)
{
  const int64_t channels = x.size (1);
  if (!our_weight_grad_applies (x, kernel) || grad_output.scalar_type () != torch::kFloat)
    return aten_depthwise_grad (1, x, grad_output,
                                torch::empty ({ channels, 1, kernel, kernel }, x.options ()),
                                stride, padding);

  const auto in = x.contiguous (torch::MemoryFormat::ChannelsLast);
  const auto grad = grad_output.contiguous (torch::MemoryFormat::ChannelsLast);
  const DepthwiseShape s{ x.size (0), x.size (2), x.size (3), channels, grad.size (2),
                          grad.size (3), kernel, stride, padding };
  const int64_t taps = kernel * kernel;
  const float *in_data = in.data_ptr<float> ();
  const float *grad_data = grad.data_ptr<float> ();
  /* [channels, 1, k, k] contiguous: each channel's taps side by side. */
  auto result = torch::empty ({ channels, 1, kernel, kernel }, x.options ());
  float *out = result.data_ptr<float> ();
  const int64_t blocks = (channels + kDepthwiseBlock - 1) / kDepthwiseBlock;

  /* Each block's accumulators, [taps][count] in turn; ATen's allocator aligns them to 64 bytes,
   * and blocks are multiples of 8 floats, as the kernel's aligned loads need. */
  auto acc = torch::zeros ({ taps * channels }, x.options ());
  float *a = acc.data_ptr<float> ();

  /* One sample at a time, so that its input and gradient (about 0.5 MB each at 14x14x672) stay
   * in the L2 cache while every block passes over them; each thread keeps the same blocks. */
  for (int64_t n = 0; n < s.batch; n++)
    at::parallel_for (0, blocks, 1, [&] (int64_t begin, int64_t end) {
      for (int64_t block = begin; block < end; block++)
        {
          const int64_t c0 = block * kDepthwiseBlock;
          const int64_t count = std::min (kDepthwiseBlock, channels - c0);
          kBlockKernels[count / 8 - 1] (in_data, grad_data, s, n, c0, a + taps * c0);
        }
    });
  for (int64_t c0 = 0; c0 < channels; c0 += kDepthwiseBlock)
    {
      const int64_t count = std::min (kDepthwiseBlock, channels - c0);
      for (int64_t c = 0; c < count; c++)
        for (int64_t t = 0; t < taps; t++)
          out[(c0 + c) * taps + t] = a[taps * c0 + t * count + c];
    }
  return result;
}

torch::Tensor &
silu_inference_ (torch::Tensor &x)
{
  if (!x.is_cpu () || !have_avx2 () || x.scalar_type () != torch::kFloat
      || !x.is_non_overlapping_and_dense ()
      || (torch::GradMode::is_enabled () && x.requires_grad ()))
    return torch::silu_ (x);
  /* Dense in some memory order: the element order does not matter to an element-wise op. */
  float *data = x.data_ptr<float> ();
  const int64_t n = x.numel ();
  at::parallel_for (0, n, 16384, [data] (int64_t begin, int64_t end) {
    silu_avx2 (data, begin, end);
  });
  return x;
}

} // namespace lt
