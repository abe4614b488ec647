/* leaf-engine.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-engine"

#include "config.h"

#include <glib/gi18n.h>
#include <stdlib.h>
#include <string.h>

#include "leaf-dist.h"
#include "leaf-engine.h"
#include "leaf-error-private.h"
#include "lt.h"

/* Everything below is guarded by this lock. */
static GMutex lock;
static gboolean threads_done;
static char *chosen[LEAF_DEVICE_SOURCE_COMMAND_LINE + 1];
static gboolean device_applied;
static int local_rank = -1;
static const char *device_now;

static gboolean
device_name_is_valid (const char *name)
{
  const char *index;

  if (g_str_equal (name, "auto") || g_str_equal (name, "cpu") || g_str_equal (name, "cuda"))
    return TRUE;
  if (!g_str_has_prefix (name, "cuda:"))
    return FALSE;
  index = name + strlen ("cuda:");
  return index[0] != '\0' && strlen (index) <= 4 && strspn (index, "0123456789") == strlen (index);
}

/* The device to use and what the user can do when it is not there. */
static const char *
resolve_device (const char **hint)
{
  const char *env = g_getenv ("LEAFSCOPE_DEVICE");

  if (chosen[LEAF_DEVICE_SOURCE_COMMAND_LINE] != NULL)
    {
      *hint = _("use --device cpu");
      return chosen[LEAF_DEVICE_SOURCE_COMMAND_LINE];
    }
  if (env != NULL && env[0] != '\0')
    {
      *hint = _("set LEAFSCOPE_DEVICE to cpu");
      return env;
    }
  if (chosen[LEAF_DEVICE_SOURCE_SETTINGS] != NULL)
    {
      *hint = _("choose CPU as the compute device in Preferences");
      return chosen[LEAF_DEVICE_SOURCE_SETTINGS];
    }
  *hint = NULL;
  return "auto";
}

static gboolean
apply_device (GError **error)
{
  const char *hint = NULL;
  const char *name = resolve_device (&hint);
  char *message = NULL;
  LtStatus status;

  if (!device_name_is_valid (name))
    {
      /* Only $LEAFSCOPE_DEVICE gets here: the others were checked when they were set. */
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                   _("LEAFSCOPE_DEVICE is “%s”, which is not a device: use auto, cpu, cuda or "
                     "cuda:N"), name);
      return FALSE;
    }
  /* Each process of a distributed run on a machine with several GPUs takes its own. */
  g_autofree char *device = leaf_dist_device_for_local_rank (name, local_rank,
                                                             lt_cuda_device_count ());

  status = lt_set_device (device, &message);
  if (status == LT_ERROR_NO_DEVICE && lt_cuda_device_count () == 0)
    {
      lt_string_free (message);
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NO_DEVICE,
                   /* TRANSLATORS: %s says what to do instead, as in “use --device cpu” */
                   _("This libtorch has no CUDA device (it was built without CUDA, or no GPU is "
                     "visible); %s"), hint);
      return FALSE;
    }
  if (status != LT_OK)
    {
      g_autoptr(GError) local = NULL;

      leaf_engine_error_from_shim (status, message, &local);
      if (hint != NULL)
        g_set_error (error, local->domain, local->code, "%s; %s", local->message, hint);
      else
        g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  device_now = lt_get_device ();
  device_applied = TRUE;
  g_debug ("models compute on %s (asked for %s)", device_now, name);
  return TRUE;
}

/**
 * leaf_engine_init_torch:
 * @num_threads: threads libtorch computes with, or 0 for $LEAFSCOPE_THREADS or every core
 * @error: return location for a #GError
 *
 * Sets libtorch up for this process: its threads once, and the device models are made on
 * (leaf_engine_set_device(), else $LEAFSCOPE_DEVICE, else “auto”). A device that is not there
 * fails every call until another is chosen.
 *
 * Returns: whether libtorch is ready
 */
gboolean
leaf_engine_init_torch (int      num_threads,
                        GError **error)
{
  gboolean ok = TRUE;

  g_mutex_lock (&lock);
  if (!threads_done)
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
        threads_done = TRUE;
    }
  if (ok && !device_applied)
    ok = apply_device (error);
  g_mutex_unlock (&lock);
  return ok;
}

/**
 * leaf_engine_set_device:
 * @name: “auto”, “cpu”, “cuda” or “cuda:N”
 * @source: who chose it: the command line comes before $LEAFSCOPE_DEVICE, the settings after
 * @error: return location for a #GError
 *
 * Chooses the device models are made on. Before libtorch is set up this only checks the name;
 * afterwards the choice applies to the models made from now on.
 *
 * Returns: whether the name is a device and, once libtorch is set up, the device is there
 */
gboolean
leaf_engine_set_device (const char        *name,
                        LeafDeviceSource   source,
                        GError           **error)
{
  gboolean ok = TRUE;

  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (source <= LEAF_DEVICE_SOURCE_COMMAND_LINE, FALSE);

  if (!device_name_is_valid (name))
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                   _("“%s” is not a device: use auto, cpu, cuda or cuda:N"), name);
      return FALSE;
    }
  g_mutex_lock (&lock);
  g_free (chosen[source]);
  chosen[source] = g_strdup (name);
  device_applied = FALSE;
  if (threads_done)
    ok = apply_device (error);
  g_mutex_unlock (&lock);
  return ok;
}

/**
 * leaf_engine_set_local_rank:
 * @rank: the process's index on its machine in a distributed run ($LOCAL_RANK), or -1
 *
 * With “auto” or “cuda” and several CUDA GPUs, the process computes on GPU @rank (modulo their
 * number), as PyTorch's scripts do with `cuda:LOCAL_RANK`.
 */
void
leaf_engine_set_local_rank (int rank)
{
  g_mutex_lock (&lock);
  local_rank = rank;
  device_applied = FALSE;
  g_mutex_unlock (&lock);
}

/**
 * leaf_engine_get_device:
 *
 * Returns: (nullable): the device models are made on now, as “cpu” or “cuda:0”, or %NULL before
 *   libtorch is set up or while the device chosen is not there
 */
const char *
leaf_engine_get_device (void)
{
  const char *device;

  g_mutex_lock (&lock);
  device = device_applied ? device_now : NULL;
  g_mutex_unlock (&lock);
  return device;
}
