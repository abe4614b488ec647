/* lt-private.hpp: how C++ inside the shim reports failure through the C ABI
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <exception>
#include <stdexcept>
#include <string>

#include <c10/util/Exception.h>

#include "lt-common.h"

namespace lt {

/* Thrown inside the shim to pick the LtStatus that reaches C; anything else that escapes a
 * body (c10::Error, std::bad_alloc, ...) is mapped by guard() below. */
class Error : public std::runtime_error
{
public:
  Error (LtStatus status, const std::string &message)
    : std::runtime_error (message), status_ (status) {}
  LtStatus status () const noexcept { return status_; }

private:
  LtStatus status_;
};

void set_error (char **error, const std::string &message) noexcept;

/* Runs body and converts every exception into a status and a message, so that no C++
 * exception ever crosses the C ABI. */
template <typename F>
LtStatus
guard (char **error, F &&body) noexcept
{
  try
    {
      body ();
      return LT_OK;
    }
  catch (const Error &e)
    {
      set_error (error, e.what ());
      return e.status ();
    }
  catch (const c10::Error &e)
    {
      /* what() carries libtorch's C++ stack trace, which means nothing to a user. */
      set_error (error, std::string ("libtorch: ") + e.what_without_backtrace ());
      return LT_ERROR_TORCH;
    }
  catch (const std::bad_alloc &)
    {
      set_error (error, "out of memory");
      return LT_ERROR_TORCH;
    }
  catch (const std::exception &e)
    {
      set_error (error, std::string ("libtorch: ") + e.what ());
      return LT_ERROR_TORCH;
    }
  catch (...)
    {
      set_error (error, "unknown C++ exception");
      return LT_ERROR_UNKNOWN;
    }
}

} // namespace lt
