/* leaf-cli-catalog.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gi18n.h>

#include "leaf-cli.h"

const LeafCliCommand leaf_cli_catalog_commands[] = {
  { NULL, NULL, NULL },
};
