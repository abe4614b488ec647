/* lt-common.cpp
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <cstdlib>
#include <cstring>

#include "lt-private.hpp"

namespace lt {

void
set_error (char **error, const std::string &message) noexcept
{
  if (error == nullptr)
    return;
  /* A second failure must not leak the first message. */
  std::free (*error);
  *error = strdup (message.c_str ());
}

} // namespace lt

extern "C" void
lt_string_free (char *str)
{
  std::free (str);
}

extern "C" const char *
lt_status_name (LtStatus status)
{
  switch (status)
    {
    case LT_OK: return "ok";
    case LT_ERROR_INVALID_ARGUMENT: return "invalid-argument";
    case LT_ERROR_IO: return "io";
    case LT_ERROR_FORMAT: return "format";
    case LT_ERROR_UNSAFE: return "unsafe";
    case LT_ERROR_MISMATCH: return "mismatch";
    case LT_ERROR_TORCH: return "torch";
    case LT_ERROR_UNKNOWN: return "unknown";
    case LT_ERROR_NO_DEVICE: return "no-device";
    }
  return "unknown";
}
