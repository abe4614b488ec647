/* lt-kernels.cpp: element-wise kernels that matter for inference speed
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Debian's libtorch spends about as long in SiLU as in all of EfficientNet-B0's convolutions
 * (about 2 ns per element on one core). An AVX2 SiLU with a Cephes-style exp takes a fraction
 * of that; it is chosen at run time, so the library still runs on CPUs without AVX2.
 */

#include <immintrin.h>

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

} // namespace

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
