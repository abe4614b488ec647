/* leaf-settings.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-settings"

#include "config.h"

#include "leaf-settings.h"

/**
 * leaf_settings_new:
 *
 * Looks the schema up where it is installed, then in the build folder (LEAF_BUILD_SCHEMA_DIR,
 * where meson compiles it) so that the app and the tests run uninstalled.
 *
 * Returns: (transfer full) (nullable): the settings, or %NULL with a warning when the schema
 *   is nowhere to be found; callers then fall back to defaults and remember nothing
 */
GSettings *
leaf_settings_new (void)
{
  static GSettingsSchema *schema;
  static gsize initialised;

  if (g_once_init_enter (&initialised))
    {
      GSettingsSchemaSource *source = g_settings_schema_source_get_default ();

      if (source != NULL)
        schema = g_settings_schema_source_lookup (source, APP_ID, TRUE);
      if (schema == NULL)
        {
          g_autoptr(GSettingsSchemaSource) build = NULL;

          build = g_settings_schema_source_new_from_directory (LEAF_BUILD_SCHEMA_DIR, source,
                                                               FALSE, NULL);
          if (build != NULL)
            schema = g_settings_schema_source_lookup (build, APP_ID, FALSE);
        }
      if (schema == NULL)
        g_warning ("The settings schema %s is not installed; window size and the last catalog "
                   "will not be remembered. Install Leafscope or run it from its build folder.",
                   APP_ID);
      g_once_init_leave (&initialised, 1);
    }

  return schema ? g_settings_new_full (schema, NULL, NULL) : NULL;
}
