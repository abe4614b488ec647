/* leaf-engine.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-engine"

#include "config.h"

#include <stdlib.h>

#include "leaf-engine.h"
#include "leaf-error-private.h"
#include "lt.h"

gboolean
leaf_engine_init_torch (int      num_threads,
                        GError **error)
{
  static GMutex lock;
  static gboolean done;
  gboolean ok = TRUE;

  g_mutex_lock (&lock);
  if (!done)
    {
      const char *env = g_getenv ("LEAFSCOPE_THREADS");
      char *msg = NULL;
      LtStatus status;

      if (num_threads <= 0 && env != NULL)
        num_threads = atoi (env);
      status = lt_init (num_threads, &msg);
      if (status != LT_OK)
        ok = leaf_engine_error_from_shim (status, msg, error);
      else
        done = TRUE;
    }
  g_mutex_unlock (&lock);
  return ok;
}
