/* leaf-post.h: work that a worker thread hands back to the thread that asked for it
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Runs func (data) from the loop of context, the context of the thread that asked a worker for
 * something. Never in the calling thread, as g_main_context_invoke() would do when nobody owns
 * context at that instant: the handlers it reaches belong to the owner's thread (widgets being
 * disposed there, say). notify frees data after the call. */
void leaf_post (GMainContext   *context,
                GSourceFunc     func,
                gpointer        data,
                GDestroyNotify  notify,
                const char     *name);

G_END_DECLS
