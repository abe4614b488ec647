/* main.c: the Leafscope desktop application
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leafscope"

#include "config.h"

#include <glib/gi18n.h>
#include <locale.h>

#include "leaf-application.h"

/* Where the translations are: LEAFSCOPE_LOCALEDIR when set (the tests), the build tree's
 * when this program runs from its build folder (`./setup.sh run`), else where they are
 * installed. */
static const char *
locale_dir (void)
{
  const char *dir = g_getenv ("LEAFSCOPE_LOCALEDIR");
  g_autofree char *program = NULL;
  g_autofree char *folder = NULL;

  if (dir != NULL)
    return dir;
  program = g_file_read_link ("/proc/self/exe", NULL);
  if (program != NULL)
    folder = g_path_get_dirname (program);
  return g_strcmp0 (folder, LEAF_BUILD_PROGRAM_DIR) == 0 ? LEAF_BUILD_LOCALE_DIR : LOCALEDIR;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(LeafApplication) app = NULL;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, locale_dir ());
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  app = leaf_application_new (G_APPLICATION_DEFAULT_FLAGS);
  return g_application_run (G_APPLICATION (app), argc, argv);
}
