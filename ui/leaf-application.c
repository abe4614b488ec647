/* leaf-application.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Opens one window per catalog: `leafscope` reopens the last catalog, `leafscope FILE.leafscope`
 * (a path or a URI, as the desktop's `Exec=leafscope %F` passes it) and `leafscope --catalog FILE`
 * open that one, in the running instance when there is one; `leafscope PHOTO` diagnoses the photo
 * in the last catalog's window. The file manager reaches the same code through GApplication::open.
 */

#define G_LOG_DOMAIN "leaf-application"

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "leaf-application.h"
#include "leaf-catalog.h"
#include "leaf-engine.h"
#include "leaf-preferences-window.h"
#include "leaf-settings.h"
#include "leaf-window.h"

struct _LeafApplication
{
  AdwApplication parent_instance;
  GSettings *settings;
};

G_DEFINE_FINAL_TYPE (LeafApplication, leaf_application, ADW_TYPE_APPLICATION)

static const GOptionEntry option_entries[] = {
  { "catalog", 'c', 0, G_OPTION_ARG_FILENAME, NULL,
    N_("Open the catalog FILE, creating it when it does not exist"), N_("FILE") },
  { "device", 0, 0, G_OPTION_ARG_STRING, NULL,
    N_("Compute on NAME: auto, cpu, cuda or cuda:N (default: $LEAFSCOPE_DEVICE, else the "
       "Preferences choice)"), N_("NAME") },
  { "version", 0, 0, G_OPTION_ARG_NONE, NULL, N_("Print the version and exit"), NULL },
  { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, NULL, NULL, NULL },
  { NULL }
};

static LeafWindow *
find_window_for (LeafApplication *self,
                 GFile           *file)
{
  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (self)); l; l = l->next)
    {
      GFile *shown;

      if (!LEAF_IS_WINDOW (l->data))
        continue;
      shown = leaf_window_get_catalog_file (l->data);
      if (file == NULL ? shown == NULL : (shown != NULL && g_file_equal (shown, file)))
        return l->data;
    }
  return NULL;
}

static LeafWindow *
open_window (LeafApplication *self,
             GFile           *file)
{
  LeafWindow *window = find_window_for (self, file);

  if (window == NULL)
    {
      /* Reuse a window that has no catalog yet, for example after a failed open. */
      window = find_window_for (self, NULL);
      if (window == NULL)
        window = leaf_window_new (self);
      leaf_window_open_catalog (window, file);
    }
  gtk_window_present (GTK_WINDOW (window));
  return window;
}

/* The window of the last catalog, or of the default one: what a plain `leafscope` shows. */
static LeafWindow *
present_default_window (LeafApplication *self)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));
  g_autoptr(GFile) file = NULL;
  g_autofree char *last = NULL;

  if (LEAF_IS_WINDOW (window))
    {
      gtk_window_present (window);
      return LEAF_WINDOW (window);
    }

  if (self->settings != NULL)
    last = g_settings_get_string (self->settings, "last-catalog");
  if (last != NULL && leaf_catalog_location_is_server (last))
    file = g_file_new_for_uri (last);
  else if (last != NULL && last[0] != '\0' && g_file_test (last, G_FILE_TEST_EXISTS))
    file = g_file_new_for_path (last);
  else
    {
      g_autofree char *path = leaf_catalog_get_default_path ();

      file = g_file_new_for_path (path);
    }
  return open_window (self, file);
}

static void
leaf_application_activate (GApplication *app)
{
  present_default_window (LEAF_APPLICATION (app));
}

/* Whether @file is to be opened as a catalog: by its name, or, for a renamed one, by the SQLite
 * header (the catalog then says whether it is one of ours). A missing FILE.leafscope counts, so
 * that `leafscope new.leafscope` creates it as `--catalog` does. */
static gboolean
is_catalog (GFile *file)
{
  static const char sqlite_magic[16] = "SQLite format 3";
  g_autofree char *basename = g_file_get_basename (file);
  g_autoptr(GFileInputStream) stream = NULL;
  char header[sizeof sqlite_magic];
  gsize n_read = 0;

  if (basename != NULL && g_str_has_suffix (basename, ".leafscope"))
    return TRUE;
  if (g_file_has_uri_scheme (file, "postgresql") || g_file_has_uri_scheme (file, "postgres"))
    return TRUE;
  stream = g_file_read (file, NULL, NULL);
  return stream != NULL
         && g_input_stream_read_all (G_INPUT_STREAM (stream), header, sizeof header, &n_read,
                                     NULL, NULL)
         && n_read == sizeof header
         && memcmp (header, sqlite_magic, sizeof header) == 0;
}

/* Catalogs open in a window each; anything else (photos, folders, a name that does not exist) is
 * handled as if dropped on the window of the catalog named with it, or of the last catalog:
 * photos are diagnosed, folders offered for import, the rest reported in a toast. */
static void
leaf_application_open (GApplication  *app,
                       GFile        **files,
                       int            n_files,
                       const char    *hint)
{
  LeafApplication *self = LEAF_APPLICATION (app);
  g_autoptr(GPtrArray) others = g_ptr_array_new ();
  LeafWindow *window = NULL;

  for (int i = 0; i < n_files; i++)
    {
      if (is_catalog (files[i]))
        window = open_window (self, files[i]);
      else
        g_ptr_array_add (others, files[i]);
    }
  if (others->len == 0)
    return;
  if (window == NULL)
    window = present_default_window (self);
  leaf_window_open_files (window, (GFile **) others->pdata, others->len);
}

static int
leaf_application_handle_local_options (GApplication *app,
                                       GVariantDict *options)
{
  g_autofree char *device = NULL;

  if (g_variant_dict_contains (options, "version"))
    {
      g_print ("leafscope %s\n", PACKAGE_VERSION);
      return 0;
    }
  /* The device is this process's: it counts when this instance is the one that runs. */
  if (g_variant_dict_lookup (options, "device", "s", &device))
    {
      g_autoptr(GError) error = NULL;

      if (!leaf_engine_set_device (device, LEAF_DEVICE_SOURCE_COMMAND_LINE, &error))
        {
          g_printerr ("leafscope: %s\n", error->message);
          return 2;
        }
    }
  return -1;
}

static int
leaf_application_command_line (GApplication            *app,
                               GApplicationCommandLine *command_line)
{
  GVariantDict *options = g_application_command_line_get_options_dict (command_line);
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_object_unref);
  g_autofree char *catalog = NULL;
  g_auto(GStrv) remaining = NULL;

  if (g_variant_dict_lookup (options, "catalog", "^ay", &catalog))
    g_ptr_array_add (files, g_application_command_line_create_file_for_arg (command_line,
                                                                            catalog));
  if (g_variant_dict_lookup (options, G_OPTION_REMAINING, "^aay", &remaining))
    for (guint i = 0; remaining[i] != NULL; i++)
      g_ptr_array_add (files, g_application_command_line_create_file_for_arg (command_line,
                                                                              remaining[i]));

  if (files->len == 0)
    g_application_activate (app);
  else
    g_application_open (app, (GFile **) files->pdata, files->len, "");
  return 0;
}

/* The Preferences choice of device, which $LEAFSCOPE_DEVICE and --device override. A device
 * that is not there is reported when a model is first made (and by the Preferences window). */
static void
on_device_changed_cb (GSettings  *settings,
                      const char *key,
                      gpointer    user_data)
{
  g_autofree char *name = g_settings_get_string (settings, key);
  g_autoptr(GError) error = NULL;

  if (!leaf_engine_set_device (name, LEAF_DEVICE_SOURCE_SETTINGS, &error))
    g_message ("%s", error->message);
}

/* "default" follows the system; "light" and "dark" force a style. */
static gboolean
color_scheme_get_mapping (GValue   *value,
                          GVariant *variant,
                          gpointer  user_data)
{
  const char *nick = g_variant_get_string (variant, NULL);

  if (g_str_equal (nick, "light"))
    g_value_set_enum (value, ADW_COLOR_SCHEME_FORCE_LIGHT);
  else if (g_str_equal (nick, "dark"))
    g_value_set_enum (value, ADW_COLOR_SCHEME_FORCE_DARK);
  else
    g_value_set_enum (value, ADW_COLOR_SCHEME_DEFAULT);
  return TRUE;
}

static void
leaf_application_startup (GApplication *app)
{
  LeafApplication *self = LEAF_APPLICATION (app);
  static const char *quit_accels[] = { "<Control>q", NULL };
  static const char *preferences_accels[] = { "<Control>comma", NULL };

  G_APPLICATION_CLASS (leaf_application_parent_class)->startup (app);

  gtk_window_set_default_icon_name (APP_ID);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.quit", quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.preferences",
                                         preferences_accels);
  if (self->settings != NULL)
    {
      g_settings_bind_with_mapping (self->settings, "color-scheme",
                                    adw_application_get_style_manager (ADW_APPLICATION (app)),
                                    "color-scheme", G_SETTINGS_BIND_GET, color_scheme_get_mapping,
                                    NULL, NULL, NULL);
      g_signal_connect (self->settings, "changed::device", G_CALLBACK (on_device_changed_cb),
                        NULL);
      on_device_changed_cb (self->settings, "device", NULL);
    }
}

static void
leaf_application_dispose (GObject *object)
{
  LeafApplication *self = LEAF_APPLICATION (object);

  g_clear_object (&self->settings);
  G_OBJECT_CLASS (leaf_application_parent_class)->dispose (object);
}

static void
quit_action (GSimpleAction *action,
             GVariant      *parameter,
             gpointer       user_data)
{
  /* Closing the windows lets each save its size and stop its work before the app quits. */
  GList *windows = gtk_application_get_windows (GTK_APPLICATION (user_data));

  while (windows != NULL)
    {
      GList *next = windows->next;

      gtk_window_close (GTK_WINDOW (windows->data));
      windows = next;
    }
}

static void
preferences_action (GSimpleAction *action,
                    GVariant      *parameter,
                    gpointer       user_data)
{
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (user_data));
  GtkWidget *preferences = leaf_preferences_window_new ();

  gtk_window_set_transient_for (GTK_WINDOW (preferences), parent);
  gtk_window_present (GTK_WINDOW (preferences));
}

static void
about_action (GSimpleAction *action,
              GVariant      *parameter,
              gpointer       user_data)
{
  static const char *developers[] = { "The Leafscope developers", NULL };
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (user_data));
  GtkWidget *about;

  about = g_object_new (ADW_TYPE_ABOUT_WINDOW,
                        "transient-for", parent,
                        "application-name", _("Leafscope"),
                        "application-icon", APP_ID,
                        "developer-name", _("The Leafscope developers"),
                        "version", PACKAGE_VERSION,
                        "website", "https://github.com/leafscope/leafscope",
                        "issue-url", "https://github.com/leafscope/leafscope/issues",
                        "license-type", GTK_LICENSE_GPL_3_0,
                        "developers", developers,
                        /* Translators: replace with your names, one per line */
                        "translator-credits", _("translator-credits"),
                        "comments", _("Label leaf photos, fine-tune a classifier on them and "
                                      "diagnose new photos, all offline on your own computer."),
                        NULL);
  adw_about_window_add_credit_section (ADW_ABOUT_WINDOW (about), _("Photos in the sample set"),
                                       (const char *[]) { "PlantVillage", NULL });
  adw_about_window_add_legal_section (ADW_ABOUT_WINDOW (about), "EfficientNet-B0",
                                      "© Mingxing Tan, Quoc V. Le", GTK_LICENSE_APACHE_2_0, NULL);
  gtk_window_present (GTK_WINDOW (about));
}

static const GActionEntry app_actions[] = {
  { "quit", quit_action },
  { "preferences", preferences_action },
  { "about", about_action },
};

static void
leaf_application_class_init (LeafApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->dispose = leaf_application_dispose;

  app_class->activate = leaf_application_activate;
  app_class->open = leaf_application_open;
  app_class->command_line = leaf_application_command_line;
  app_class->handle_local_options = leaf_application_handle_local_options;
  app_class->startup = leaf_application_startup;
}

static void
leaf_application_init (LeafApplication *self)
{
  self->settings = leaf_settings_new ();
  g_application_add_main_option_entries (G_APPLICATION (self), option_entries);
  g_application_set_option_context_parameter_string (G_APPLICATION (self), _("[CATALOG…]"));
  g_action_map_add_action_entries (G_ACTION_MAP (self), app_actions, G_N_ELEMENTS (app_actions),
                                   self);
}

/**
 * leaf_application_new:
 * @flags: extra flags, for example %G_APPLICATION_NON_UNIQUE in tests
 *
 * Returns: (transfer full): the application
 */
LeafApplication *
leaf_application_new (GApplicationFlags flags)
{
  return g_object_new (LEAF_TYPE_APPLICATION,
                       "application-id", APP_ID,
                       "resource-base-path", "/io/github/leafscope/Leafscope",
                       "flags", flags | G_APPLICATION_HANDLES_OPEN
                                | G_APPLICATION_HANDLES_COMMAND_LINE,
                       NULL);
}

