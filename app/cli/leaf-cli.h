/* leaf-cli.h: what every leafscope-cli subcommand receives
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

#include "leaf-types.h"

G_BEGIN_DECLS

typedef struct
{
  char *catalog_path; /* --catalog FILE, or NULL for the default catalog */
  gboolean stdout_is_tty;
  char *device;       /* --device NAME, or NULL for $LEAFSCOPE_DEVICE, else auto */
  char *labeller;     /* --labeller NAME, or NULL for the user name */
} LeafCli;

/* argv[0] is the subcommand's name; the return value is the process exit status. */
typedef int (*LeafCliFunc) (LeafCli *cli, int argc, char **argv);

typedef struct
{
  const char *name;
  LeafCliFunc func;
  const char *summary; /* translatable, marked with N_() */
} LeafCliCommand;

/* Tables of subcommands, each ending in a zeroed entry: the catalog's, in leaf-cli-catalog.c, and
 * those that need the model library, in leaf-cli-commands.c, whose functions are NULL in the
 * leafscope-cli program that does not link it. */
extern const LeafCliCommand leaf_cli_catalog_commands[];
extern const LeafCliCommand leaf_cli_model_commands[];

/* The subcommands that need the model library (leaf-cli-model.c, -models.c, -weights.c) */
int leaf_cli_split      (LeafCli *cli, int argc, char **argv);
int leaf_cli_train      (LeafCli *cli, int argc, char **argv);
int leaf_cli_predict    (LeafCli *cli, int argc, char **argv);
int leaf_cli_evaluate   (LeafCli *cli, int argc, char **argv);
int leaf_cli_next       (LeafCli *cli, int argc, char **argv);
int leaf_cli_model_card (LeafCli *cli, int argc, char **argv);
int leaf_cli_models     (LeafCli *cli, int argc, char **argv);
int leaf_cli_weights    (LeafCli *cli, int argc, char **argv);

typedef enum
{
  LEAF_CLI_INT,    /* value points to an int */
  LEAF_CLI_INT64,  /* value points to a gint64 */
  LEAF_CLI_DOUBLE, /* value points to a double, never NaN or infinite */
} LeafCliNumberType;

/* A numeric option of a subcommand, checked while it is parsed: a value that is not a number of
 * its type, or outside min..max, is a usage error that names the option and the range. */
typedef struct
{
  const char *name;            /* the long option, without “--” */
  LeafCliNumberType type;
  gpointer value;              /* left as it was unless the option is given */
  double min, max;             /* -INFINITY, INFINITY: no bound on that side */
  gboolean min_open, max_open; /* whether min, max themselves are refused */
  const char *description;     /* marked with N_() */
  const char *arg_description;
  gboolean given;              /* set when the option was on the command line */
} LeafCliNumber;

/* Hands --device to the engine; in leaf-cli-model.c, so NULL in leafscope-cli (a weak
 * reference there), which has no model library and runs no command that needs a device. */
gboolean leaf_cli_use_device   (LeafCli  *cli,
                                GError  **error);
/* Reports error on stderr as "leafscope-cli: MESSAGE" and returns the exit status to use. */
int      leaf_cli_fail         (GError **error);
/* The catalog --catalog names, else the default one; create makes it when it does not exist. */
LeafCatalog *leaf_cli_open_catalog (LeafCli   *cli,
                                    gboolean   create,
                                    GError   **error);
/* Adds a subcommand's options, entries and then numbers (an array ending in a zeroed entry), in
 * place of g_option_context_add_main_entries(); numbers must live until parsing is done. */
void     leaf_cli_add_options  (GOptionContext     *context,
                                const GOptionEntry *entries,
                                LeafCliNumber      *numbers);
/* Whether the number whose value is at value was on the command line. */
gboolean leaf_cli_given        (const LeafCliNumber *numbers,
                                gconstpointer        value);
/* Parses options of one subcommand; on failure prints the message and usage to stderr. Options
 * end at the first “--”, which is taken out of argv, so that arguments may start with “-”. */
gboolean leaf_cli_parse        (GOptionContext *context,
                                int            *argc,
                                char         ***argv);
/* text with backslashes, tabs, line feeds and carriage returns written as \\, \t, \n and \r: one
 * field of one line in tab-separated or plain output, whatever a file name holds. */
char    *leaf_cli_escape       (const char     *text);

G_END_DECLS
