/* leaf-cli-weights-store.h: `leafscope-cli weights fetch|import|status`
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "leaf-cli.h"

G_BEGIN_DECLS

int leaf_cli_weights_fetch  (LeafCli  *cli,
                             int       argc,
                             char    **argv);
int leaf_cli_weights_import (LeafCli  *cli,
                             int       argc,
                             char    **argv);
int leaf_cli_weights_status (LeafCli  *cli,
                             int       argc,
                             char    **argv);

G_END_DECLS
