/* leaf-decode-pool.h: photos decoded and preprocessed on worker threads, a batch at a time
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

#include "leaf-image-augment.h"
#include "leaf-image-transform.h"

G_BEGIN_DECLS

typedef struct _LeafDecodePool LeafDecodePool;
typedef struct _LeafDecodeBatch LeafDecodeBatch;

#define LEAF_DECODE_MAX_OUTPUTS LEAF_IMAGE_N_VIEWS

/* One photo to decode, and where each of its views goes. */
typedef struct
{
  const char *path;
  guint n_outputs;
  LeafImageView views[LEAF_DECODE_MAX_OUTPUTS];
  float *outputs[LEAF_DECODE_MAX_OUTPUTS]; /* each receives 3 x crop x crop values, CHW */
  gboolean has_region;                     /* random-resized-crop: this region of the photo */
  LeafImageRect region;
  gboolean has_jitter;
  LeafColorJitter jitter;
} LeafDecodeRequest;

LeafDecodePool  *leaf_decode_pool_new          (LeafImageTransform      *transform,
                                                guint                    n_threads,
                                                guint64                  max_pixels);
void             leaf_decode_pool_free         (LeafDecodePool          *pool);
LeafImageTransform *leaf_decode_pool_get_transform (LeafDecodePool      *pool);

/* Starts decoding requests (copied; paths must live until the batch is waited for). */
LeafDecodeBatch *leaf_decode_pool_submit       (LeafDecodePool          *pool,
                                                const LeafDecodeRequest *requests,
                                                guint                    n_requests);
/* Waits for every request of the batch; failed[i] (may be NULL) tells which photos could not be
 * decoded, and errors (may be NULL) receives their messages. Frees the batch. */
void             leaf_decode_batch_wait        (LeafDecodeBatch         *batch,
                                                gboolean                *failed,
                                                GPtrArray               *errors);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LeafDecodePool, leaf_decode_pool_free)

G_END_DECLS
