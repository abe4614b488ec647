/* leaf-mnemonic.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "leaf-mnemonic.h"

/**
 * leaf_mnemonic_escape:
 * @text: a name, such as “late_blight”
 *
 * Menu items always read their label's “_” as the mark of a mnemonic, so that “late_blight”
 * would show as “lateblight”.
 *
 * Returns: (transfer full): @text with each “_” doubled, which a menu shows as one
 */
char *
leaf_mnemonic_escape (const char *text)
{
  g_auto(GStrv) parts = g_strsplit (text, "_", -1);

  return g_strjoinv ("__", parts);
}
