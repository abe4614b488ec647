/* test-kernels.cpp: the shim's own kernels against ATen's, on shapes that reach every branch
 * (channel counts that end in a partial 64-channel block, strides 1 and 2, odd and even sizes,
 * inputs in either memory format, and the 3x3 filters and odd channel counts left to ATen)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * C++, and TAP by hand: shim-tap.h's checks longjmp, which C++ frames must not see.
 */

#include <cstdio>

#include "lt-kernels.hpp"

namespace {

int failures = 0;
int test_number = 0;

void
report (const char *name, double error, double tolerance)
{
  const bool ok = error <= tolerance;
  std::printf ("%s %d %s\n", ok ? "ok" : "not ok", ++test_number, name);
  if (!ok)
    {
      std::printf ("# largest difference %g, tolerance %g\n", error, tolerance);
      failures++;
    }
}

/* Largest difference relative to the reference's largest magnitude. */
double
relative_error (const torch::Tensor &got, const torch::Tensor &want)
{
  return (got - want).abs ().max ().item<double> () / want.abs ().max ().item<double> ();
}

struct Case
{
  int64_t channels, size, kernel, stride;
  bool channels_last;
};

void
test_case (const Case &c)
{
  char name[160];
  const int64_t padding = (c.kernel - 1) / 2;
  const auto format = c.channels_last ? torch::MemoryFormat::ChannelsLast
                                      : torch::MemoryFormat::Contiguous;
  auto x = torch::randn ({ 3, c.channels, c.size, c.size }).contiguous (format);
  auto weight = torch::randn ({ c.channels, 1, c.kernel, c.kernel }).contiguous (format);
  auto out = torch::conv2d (x, weight, {}, c.stride, padding, 1, c.channels);
  auto grad = torch::randn_like (out);
  const auto want = at::convolution_backward (grad, x, weight, c10::nullopt,
                                              { c.stride, c.stride }, { padding, padding },
                                              { 1, 1 }, false, { 0, 0 }, c.channels,
                                              { true, true, false });

  std::snprintf (name, sizeof name, "/shim/kernels/depthwise-weight-grad/%ldch-%ldpx-k%ld-s%ld-%s",
                 static_cast<long> (c.channels), static_cast<long> (c.size),
                 static_cast<long> (c.kernel), static_cast<long> (c.stride),
                 c.channels_last ? "nhwc" : "nchw");
  report (name, relative_error (lt::depthwise_conv2d_weight_grad (x, grad, c.kernel, c.stride,
                                                                   padding),
                                std::get<1> (want)),
          1e-5);

  /* Through autograd, as a training step runs it: both gradients, and the output. */
  auto xg = x.detach ().requires_grad_ ();
  auto wg = weight.detach ().requires_grad_ ();
  auto y = lt::depthwise_conv2d (xg, wg, c.stride, padding);
  y.backward (grad);
  std::snprintf (name, sizeof name, "/shim/kernels/depthwise-autograd/%ldch-k%ld-s%ld-%s",
                 static_cast<long> (c.channels), static_cast<long> (c.kernel),
                 static_cast<long> (c.stride), c.channels_last ? "nhwc" : "nchw");
  report (name,
          std::max ({ relative_error (y.detach (), out), relative_error (xg.grad (), std::get<0> (want)),
                      relative_error (wg.grad (), std::get<1> (want)) }),
          1e-5);
}

} // namespace

int
main ()
{
  if (!__builtin_cpu_supports ("avx2") || !__builtin_cpu_supports ("fma"))
    {
      std::printf ("1..0 # SKIP this CPU has no AVX2 and FMA: ATen computes every gradient\n");
      return 0;
    }
  torch::manual_seed (0);
  const Case cases[] = {
    { 13, 9, 3, 1, true },   { 72, 10, 5, 2, true },  { 136, 7, 5, 1, true },
    { 64, 14, 5, 1, false }, { 8, 5, 3, 2, false },   { 200, 6, 5, 2, true },
  };
  std::printf ("1..%zu\n", 2 * std::size (cases));
  for (const auto &c : cases)
    test_case (c);
  return failures > 0 ? 1 : 0;
}
