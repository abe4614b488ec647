/* leaf-cli.h: what every leafscope-cli subcommand receives
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  char *catalog_path; /* --catalog FILE, or NULL for the default catalog */
  gboolean stdout_is_tty;
} LeafCli;

/* argv[0] is the subcommand's name; the return value is the process exit status. */
typedef int (*LeafCliFunc) (LeafCli *cli, int argc, char **argv);

typedef struct
{
  const char *name;
  LeafCliFunc func;
  const char *summary; /* translatable, marked with N_() */
} LeafCliCommand;

/* Each group of subcommands lives in its own file and exports a table ending in a zeroed entry. */
extern const LeafCliCommand leaf_cli_catalog_commands[];
extern const LeafCliCommand leaf_cli_model_commands[];
extern const LeafCliCommand leaf_cli_weights_commands[];

/* Reports error on stderr as "leafscope-cli: MESSAGE" and returns the exit status to use. */
int      leaf_cli_fail         (GError **error);
/* Parses options of one subcommand; on failure prints the message and usage to stderr. */
gboolean leaf_cli_parse        (GOptionContext *context,
                                int            *argc,
                                char         ***argv);

G_END_DECLS
