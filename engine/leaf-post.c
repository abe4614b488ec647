/* leaf-post.c: work that a worker thread hands back to the thread that asked for it
 *
 * Kept apart from leaf-engine.c, which sets up libtorch: the command line's commands that do not
 * compute must not load it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "leaf-post.h"

void
leaf_post (GMainContext   *context,
           GSourceFunc     func,
           gpointer        data,
           GDestroyNotify  notify,
           const char     *name)
{
  g_autoptr(GSource) source = g_idle_source_new ();

  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, func, data, notify);
  g_source_set_static_name (source, name);
  g_source_attach (source, context);
}
