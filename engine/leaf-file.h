/* leaf-file.h: what the engine asks of whole files
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

char *leaf_file_sha256 (const char    *path,
                        GCancellable  *cancellable,
                        GError       **error);

guint64 leaf_file_free_space (const char *path);

gboolean leaf_is_sha256 (const char *text);

G_END_DECLS
