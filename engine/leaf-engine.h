/* leaf-engine.h: process-wide set-up of the engine
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Who chose a compute device. The command line comes before $LEAFSCOPE_DEVICE, which comes
 * before the Preferences choice; with none of them, "auto". */
typedef enum
{
  LEAF_DEVICE_SOURCE_SETTINGS,
  LEAF_DEVICE_SOURCE_COMMAND_LINE,
} LeafDeviceSource;

/* Sets how many threads libtorch computes with: num_threads, else $LEAFSCOPE_THREADS, else
 * every core (Debian's libtorch would otherwise use one); only the first success counts. Then
 * puts the models made afterwards on the device chosen (see leaf_engine_set_device()), failing
 * with LEAF_ENGINE_ERROR_NO_DEVICE when it is not there. */
gboolean    leaf_engine_init_torch  (int                num_threads,
                                     GError           **error);
/* Chooses the device models compute on: "auto" (a CUDA GPU when libtorch has one, else the
 * CPU), "cpu", "cuda" or "cuda:N". A name that is none of these fails with
 * LEAF_ENGINE_ERROR_INVALID. Once libtorch is set up the choice applies at once, to models
 * made afterwards, and may then fail as leaf_engine_init_torch() does. */
gboolean    leaf_engine_set_device  (const char        *name,
                                     LeafDeviceSource   source,
                                     GError           **error);
/* The device models are made on now ("cpu", "cuda:0"), or NULL before libtorch is set up. */
const char *leaf_engine_get_device  (void);
void        leaf_engine_set_local_rank (int             rank);


G_END_DECLS
