/* main.c: the Leafscope desktop application
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leafscope"

#include "config.h"

#include <glib/gi18n.h>
#include <locale.h>

#include "leaf-application.h"

int
main (int   argc,
      char *argv[])
{
  g_autoptr(LeafApplication) app = NULL;

  setlocale (LC_ALL, "");
  /* LEAFSCOPE_LOCALEDIR lets the tests use the catalogs built in the build tree. */
  bindtextdomain (GETTEXT_PACKAGE, g_getenv ("LEAFSCOPE_LOCALEDIR") ?: LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  app = leaf_application_new (G_APPLICATION_DEFAULT_FLAGS);
  return g_application_run (G_APPLICATION (app), argc, argv);
}
