/* leaf-dist.c: where a process stands in a data-parallel training run
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "leaf-dist.h"
#include "leaf-error.h"

/* An integer in [min, max] from the variable, or default_value when it is unset. */
static gboolean
env_int (const char  *name,
         int          default_value,
         int          min,
         int          max,
         int         *out,
         GError     **error)
{
  const char *text = g_getenv (name);
  gint64 value;

  if (text == NULL || *text == '\0')
    {
      *out = default_value;
      return TRUE;
    }
  if (!g_ascii_string_to_signed (text, 10, min, max, &value, NULL))
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                   _("%s is “%s”; it must be a whole number from %d to %d"), name, text, min,
                   max);
      return FALSE;
    }
  *out = (int) value;
  return TRUE;
}

gboolean
leaf_dist_config_from_environment (LeafDistConfig  *config,
                                   GError         **error)
{
  const char *addr = g_getenv ("MASTER_ADDR");
  const char *timeout = g_getenv ("LEAFSCOPE_DIST_TIMEOUT");

  memset (config, 0, sizeof *config);
  config->world_size = 1;
  config->timeout_seconds = LEAF_DIST_DEFAULT_TIMEOUT;
  if (!env_int ("WORLD_SIZE", 1, 1, 65536, &config->world_size, error))
    return FALSE;
  if (config->world_size == 1)
    return TRUE;
  if (g_getenv ("RANK") == NULL)
    {
      g_set_error_literal (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                           _("WORLD_SIZE is set but RANK is not: start every process of a "
                             "distributed run with its rank (torchrun sets both)"));
      return FALSE;
    }
  if (!env_int ("RANK", 0, 0, config->world_size - 1, &config->rank, error) ||
      !env_int ("LOCAL_RANK", 0, 0, config->world_size - 1, &config->local_rank, error) ||
      !env_int ("MASTER_PORT", 29500, 1, 65535, &config->master_port, error))
    return FALSE;
  if (timeout != NULL && *timeout != '\0')
    {
      char *end = NULL;
      double seconds = g_ascii_strtod (timeout, &end);

      if (end == timeout || *end != '\0' || !(seconds > 0))
        {
          g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                       _("LEAFSCOPE_DIST_TIMEOUT is “%s”; it must be a number of seconds"),
                       timeout);
          return FALSE;
        }
      config->timeout_seconds = seconds;
    }
  config->master_addr = g_strdup (addr != NULL && *addr != '\0' ? addr : "127.0.0.1");
  /* PyTorch 2's torchrun serves the store itself, and its workers keep their keys apart by
   * attempt, as torch.distributed does. */
  if (g_strcmp0 (g_getenv ("TORCHELASTIC_USE_AGENT_STORE"), "True") == 0)
    {
      const char *attempt = g_getenv ("TORCHELASTIC_RESTART_COUNT");
      config->agent_prefix = g_strdup_printf ("/worker/attempt_%s",
                                              attempt != NULL ? attempt : "0");
    }
  return TRUE;
}

void
leaf_dist_config_copy (LeafDistConfig       *dest,
                       const LeafDistConfig *src)
{
  *dest = *src;
  dest->master_addr = g_strdup (src->master_addr);
  dest->agent_prefix = g_strdup (src->agent_prefix);
}

void
leaf_dist_config_clear (LeafDistConfig *config)
{
  g_clear_pointer (&config->master_addr, g_free);
  g_clear_pointer (&config->agent_prefix, g_free);
}

char *
leaf_dist_device_for_local_rank (const char *device,
                                 int         local_rank,
                                 int         n_cuda)
{
  if (local_rank < 0 || n_cuda < 2 ||
      !(g_str_equal (device, "auto") || g_str_equal (device, "cuda")))
    return g_strdup (device);
  return g_strdup_printf ("cuda:%d", local_rank % n_cuda);
}
