/* lt-dist.h: data-parallel training over PyTorch's distributed engine (c10d, Gloo over TCP)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lt-common.h"
#include "lt.h"

LT_BEGIN_DECLS

typedef struct LtDist LtDist;

typedef enum
{
  LT_DIST_SUM = 0,
  LT_DIST_MIN,
  LT_DIST_MAX,
} LtDistOp;

/* Whether this build has c10d's Gloo process group; without it lt_dist_new() always fails. */
bool        lt_dist_available          (void);

/* Joins a group of world_size processes, as torch.distributed.init_process_group("gloo") does
 * with the env:// method: rank 0 serves a TCPStore on master_port of master_addr and the others
 * connect to it; when a torchrun agent serves that store already, every rank connects and keeps
 * its keys under agent_prefix (NULL otherwise). Waits up to timeout_seconds for every rank to
 * join; a collective call then fails after timeout_seconds without progress, and at once when
 * a peer's connection closes. */
LtStatus    lt_dist_new                (const char       *master_addr,
                                        int               master_port,
                                        int               rank,
                                        int               world_size,
                                        const char       *agent_prefix,
                                        double            timeout_seconds,
                                        LtDist          **out,
                                        char            **error);
void        lt_dist_free               (LtDist           *dist);
int         lt_dist_rank               (const LtDist     *dist);
int         lt_dist_world_size         (const LtDist     *dist);

/* Reduces n values elementwise over every rank; every rank receives the result in place. */
LtStatus    lt_dist_all_reduce_f64     (LtDist           *dist,
                                        double           *values,
                                        size_t            n,
                                        LtDistOp          op,
                                        char            **error);
/* Copies n_bytes of data from root to every other rank. */
LtStatus    lt_dist_broadcast          (LtDist           *dist,
                                        void             *data,
                                        size_t            n_bytes,
                                        int               root,
                                        char            **error);
/* Returns when every rank has called it. */
LtStatus    lt_dist_barrier            (LtDist           *dist,
                                        char            **error);
/* Copies rank 0's trainable parameters to every rank. */
LtStatus    lt_dist_broadcast_trainable (LtDist          *dist,
                                        LtModel          *model,
                                        char            **error);

/* lt_model_train_step() on this rank's part of a global batch of batch_size rows, so that
 * the step equals one process's step on the whole batch: input holds the rows at positions
 * rows[0..n_rows) of the global batch (in order), and share is their part of the batch's loss
 * weight (n_rows / batch_size without class weights). The gradients, multiplied by share, are
 * summed over the ranks before optim steps; dropout and stochastic depth draw their noise for
 * the whole batch, from the same generator state on every rank, and keep this rank's rows. A
 * rank without rows in a batch passes one row of it with share 0: it must still take part. */
LtStatus    lt_dist_train_step         (LtDist           *dist,
                                        LtModel          *model,
                                        LtOptim          *optim,
                                        const LtTensor   *input,
                                        int               cut,
                                        const int64_t    *labels,
                                        const int64_t    *rows,
                                        size_t            n_rows,
                                        int64_t           batch_size,
                                        double            share,
                                        double            label_smoothing,
                                        const float      *class_weights,
                                        float            *loss,
                                        int64_t          *n_correct,
                                        char            **error);

LT_END_DECLS
