/* leaf-dist.h: where a process stands in a data-parallel training run
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What torchrun (or a scheduler, or a person) tells each process of a distributed run. */
typedef struct
{
  int rank;
  int world_size;          /* 1: an ordinary run in one process */
  int local_rank;          /* the process's index on its machine */
  char *master_addr;
  int master_port;
  char *agent_prefix;      /* a torchrun agent serves the store: where this attempt's keys go */
  double timeout_seconds;  /* how long a rank waits for the others */
} LeafDistConfig;

#define LEAF_DIST_DEFAULT_TIMEOUT 1800.0

/* Reads RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT, LOCAL_RANK and torchrun's
 * TORCHELASTIC_USE_AGENT_STORE and TORCHELASTIC_RESTART_COUNT as PyTorch's env://
 * initialisation does, and LEAFSCOPE_DIST_TIMEOUT (seconds). Without WORLD_SIZE, or with 1,
 * the run is an ordinary one. Fails on values that cannot be right, naming the variable. */
gboolean leaf_dist_config_from_environment (LeafDistConfig       *config,
                                            GError              **error);
void     leaf_dist_config_copy             (LeafDistConfig       *dest,
                                            const LeafDistConfig *src);
void     leaf_dist_config_clear            (LeafDistConfig       *config);

/* The device a process of a distributed run computes on: with “auto” or “cuda” and several
 * CUDA GPUs, “cuda:N” for its local rank N (modulo the GPUs); any other choice as it is. */
char    *leaf_dist_device_for_local_rank   (const char           *device,
                                            int                   local_rank,
                                            int                   n_cuda);

G_END_DECLS
