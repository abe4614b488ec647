/* test-weights-cxx.cpp: lt-weights.h must compile as C++ too
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "lt-weights.h"

extern "C" int test_weights_header_in_cxx (void);

/* C linkage and NULL handling, seen from C++. */
extern "C" int
test_weights_header_in_cxx (void)
{
  const LtStateDict *sd = nullptr;
  return lt_state_dict_count (sd) == 0 && lt_state_dict_name (sd, 0) == nullptr
         && lt_state_dict_shape (sd, 0, nullptr, 0) == -1;
}
