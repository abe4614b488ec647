/* test-header-c.c: lt.h and lt-dist.h compile as C and its functions link from C
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <stdio.h>
#include <string.h>

#include "lt-dist.h"
#include "lt.h"

int
main (void)
{
  const float values[3] = { 1.f, 2.f, 3.f };
  const int64_t shape[1] = { 3 };
  LtTensor *tensor = NULL;
  char *error = NULL;
  int ok;

  ok = lt_tensor_new_f32 (values, shape, 1, &tensor, &error) == LT_OK
       && lt_tensor_numel (tensor) == 3
       && strcmp (lt_status_name (LT_ERROR_MISMATCH), "mismatch") == 0
       && lt_dist_world_size (NULL) == 1;
  lt_tensor_free (tensor);
  lt_string_free (error);
  printf ("1..1\n%s 1 - lt.h from C\n", ok ? "ok" : "not ok");
  return ok ? 0 : 1;
}
