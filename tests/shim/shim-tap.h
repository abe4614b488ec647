/* shim-tap.h: a TAP harness in plain C, so that the shim's tests need nothing but a compiler and
 * libtorch (see README)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Tests run in the order they were added, each to its end or to its first failed check, which
 * prints "not ok" with the check and goes on with the next test (longjmp: checks sit in test
 * code only, never inside a C++ frame). Header-only: each test program includes it once.
 *
 *   static void test_x (void) { SHIM_TAP_CHECK (1 + 1 == 2); }
 *   int main (void) { shim_tap_add ("/shim/x", test_x); return shim_tap_run (); }
 */

#pragma once

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lt.h"

#define SHIM_TAP_MAX_TESTS 64

typedef void (*ShimTapFunc) (void);

static struct
{
  const char *names[SHIM_TAP_MAX_TESTS];
  ShimTapFunc funcs[SHIM_TAP_MAX_TESTS];
  int n_tests;
  jmp_buf bail;
  char skip_reason[256];
} shim_tap;

static inline void
shim_tap_add (const char  *name,
              ShimTapFunc  func)
{
  if (shim_tap.n_tests == SHIM_TAP_MAX_TESTS)
    {
      fprintf (stderr, "shim-tap: more than %d tests\n", SHIM_TAP_MAX_TESTS);
      abort ();
    }
  shim_tap.names[shim_tap.n_tests] = name;
  shim_tap.funcs[shim_tap.n_tests++] = func;
}

/* A diagnostic line, which TAP readers show and otherwise ignore. */
static inline void
shim_tap_message (const char *format,
                  ...)
{
  va_list args;

  fputs ("# ", stdout);
  va_start (args, format);
  vprintf (format, args);
  va_end (args);
  fputc ('\n', stdout);
  fflush (stdout);
}

static inline void
shim_tap_fail (const char *file,
               int         line,
               const char *format,
               ...)
{
  va_list args;

  printf ("# %s:%d: ", file, line);
  va_start (args, format);
  vprintf (format, args);
  va_end (args);
  fputc ('\n', stdout);
  longjmp (shim_tap.bail, 1);
}

/* Ends the current test as skipped. */
static inline void
shim_tap_skip (const char *reason)
{
  snprintf (shim_tap.skip_reason, sizeof shim_tap.skip_reason, "%s", reason);
  longjmp (shim_tap.bail, 2);
}

static inline int
shim_tap_run (void)
{
  volatile int n_failed = 0;

  printf ("1..%d\n", shim_tap.n_tests);
  fflush (stdout);
  for (volatile int i = 0; i < shim_tap.n_tests; i++)
    {
      int outcome = setjmp (shim_tap.bail);

      if (outcome == 0)
        {
          shim_tap.funcs[i] ();
          printf ("ok %d %s\n", i + 1, shim_tap.names[i]);
        }
      else if (outcome == 2)
        printf ("ok %d %s # SKIP %s\n", i + 1, shim_tap.names[i], shim_tap.skip_reason);
      else
        {
          printf ("not ok %d %s\n", i + 1, shim_tap.names[i]);
          n_failed++;
        }
      fflush (stdout);
    }
  return n_failed == 0 ? 0 : 1;
}

#define SHIM_TAP_CHECK(expr)                                                                \
  do                                                                                        \
    {                                                                                       \
      if (!(expr))                                                                          \
        shim_tap_fail (__FILE__, __LINE__, "assertion failed: %s", #expr);                  \
    }                                                                                       \
  while (0)

#define SHIM_TAP_CHECK_INT(a, op, b)                                                        \
  do                                                                                        \
    {                                                                                       \
      long long shim_a_ = (long long) (a), shim_b_ = (long long) (b);                       \
      if (!(shim_a_ op shim_b_))                                                            \
        shim_tap_fail (__FILE__, __LINE__, "assertion failed: %s %s %s (%lld %s %lld)", #a, \
                       #op, #b, shim_a_, #op, shim_b_);                                     \
    }                                                                                       \
  while (0)

#define SHIM_TAP_CHECK_FLOAT(a, op, b)                                                      \
  do                                                                                        \
    {                                                                                       \
      double shim_a_ = (double) (a), shim_b_ = (double) (b);                                \
      if (!(shim_a_ op shim_b_))                                                            \
        shim_tap_fail (__FILE__, __LINE__, "assertion failed: %s %s %s (%.9g %s %.9g)", #a, \
                       #op, #b, shim_a_, #op, shim_b_);                                     \
    }                                                                                       \
  while (0)

/* Strings equal or not (op is == or !=); NULL equals only NULL. */
#define SHIM_TAP_CHECK_STR(a, op, b)                                                        \
  do                                                                                        \
    {                                                                                       \
      const char *shim_a_ = (a), *shim_b_ = (b);                                            \
      int shim_same_ = shim_a_ == shim_b_                                                   \
                       || (shim_a_ != NULL && shim_b_ != NULL && strcmp (shim_a_, shim_b_) == 0); \
      if (!(shim_same_ op 1))                                                               \
        shim_tap_fail (__FILE__, __LINE__, "assertion failed: %s %s %s (\"%s\" %s \"%s\")", \
                       #a, #op, #b, shim_a_ ? shim_a_ : "(null)", #op,                      \
                       shim_b_ ? shim_b_ : "(null)");                                       \
    }                                                                                       \
  while (0)

/* Fails the test with the shim's message when the call does not return LT_OK; the call may use
 * the variable shim_error_ for its message. */
#define SHIM_TAP_CHECK_OK(call)                                                             \
  do                                                                                        \
    {                                                                                       \
      char *shim_error_ = NULL;                                                             \
      LtStatus shim_status_ = (call);                                                       \
      if (shim_status_ != LT_OK)                                                            \
        {                                                                                   \
          char shim_text_[1024];                                                            \
          snprintf (shim_text_, sizeof shim_text_, "%s", shim_error_ ? shim_error_ : "");   \
          lt_string_free (shim_error_);                                                     \
          shim_tap_fail (__FILE__, __LINE__, "%s failed: %s: %s", #call,                    \
                         lt_status_name (shim_status_), shim_text_);                        \
        }                                                                                   \
      lt_string_free (shim_error_);                                                         \
    }                                                                                       \
  while (0)

/* Helpers for tensors, which fail the test where a call fails. */

static inline LtTensor *
shim_tap_tensor_f32 (const float   *data,
                     const int64_t *shape,
                     size_t         ndim)
{
  LtTensor *tensor = NULL;

  SHIM_TAP_CHECK_OK (lt_tensor_new_f32 (data, shape, ndim, &tensor, &shim_error_));
  return tensor;
}

/* All values of tensor as float32, length lt_tensor_numel(); free() them. */
static inline float *
shim_tap_tensor_values (const LtTensor *tensor)
{
  size_t n = (size_t) lt_tensor_numel (tensor);
  float *values = malloc ((n > 0 ? n : 1) * sizeof (float));

  SHIM_TAP_CHECK_OK (lt_tensor_copy_f32 (tensor, values, n, &shim_error_));
  return values;
}

static inline float
shim_tap_max_abs (const float *values,
                  size_t       n)
{
  float m = 0.f;

  for (size_t i = 0; i < n; i++)
    m = values[i] > m ? values[i] : -values[i] > m ? -values[i] : m;
  return m;
}

/* The largest |a[i] - b[i]|; infinite when either side has a NaN. */
static inline float
shim_tap_max_abs_diff (const float *a,
                       const float *b,
                       size_t       n)
{
  float m = 0.f;

  for (size_t i = 0; i < n; i++)
    {
      float d = a[i] - b[i];

      if (d != d)
        return INFINITY;
      d = d < 0 ? -d : d;
      m = d > m ? d : m;
    }
  return m;
}
