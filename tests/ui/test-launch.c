/* test-launch.c: starting Leafscope the way the desktop does: `leafscope FILE...` with paths,
 * URIs, photos and names that do not exist, and a second launch that must reach the running
 * instance over D-Bus
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The argument handling runs inside g_application_run(), as in the real binary, so that what the
 * command line hands over (GApplicationCommandLine, G_OPTION_REMAINING) is exercised; the
 * instance tests run the real `leafscope` on a private session bus (GTestDBus).
 */

#define G_LOG_DOMAIN "test-launch"

#include "config.h"

#include "leaf-test.h"

#include <adwaita.h>
#include <glib/gstdio.h>

#include "leaf-application.h"
#include "leaf-catalog.h"
#include "leaf-settings.h"
#include "leaf-window-private.h"
#include "ui-test-util.h"

typedef struct
{
  char *dir;
  char *catalog_a;   /* an existing, empty catalog */
  char *catalog_b;   /* another one */
  char *photo;       /* a PNG */
} Fixture;

static void
make_catalog (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = leaf_catalog_open (path, LEAF_CATALOG_OPEN_CREATE, &error);

  g_assert_no_error (error);
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autofree char *photos = NULL;
  g_autofree char *made = NULL;
  g_autoptr(GDir) listing = NULL;

  fixture->dir = g_dir_make_tmp ("leafscope-launch-XXXXXX", NULL);
  fixture->catalog_a = g_build_filename (fixture->dir, "empty.leafscope", NULL);
  fixture->catalog_b = g_build_filename (fixture->dir, "with space.leafscope", NULL);
  make_catalog (fixture->catalog_a);
  make_catalog (fixture->catalog_b);
  photos = g_build_filename (fixture->dir, "photos", NULL);
  g_free (ui_test_make_photos (photos, NULL, 1));
  listing = g_dir_open (photos, 0, NULL);
  made = g_build_filename (photos, g_dir_read_name (listing), NULL);
  fixture->photo = g_build_filename (photos, "leaf.png", NULL);
  g_assert_cmpint (g_rename (made, fixture->photo), ==, 0);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  leaf_test_remove_tree (fixture->dir);
  g_free (fixture->dir);
  g_free (fixture->catalog_a);
  g_free (fixture->catalog_b);
  g_free (fixture->photo);
}

/* Running the application in this process */

typedef gboolean (*AppCheck) (LeafApplication *app,
                              gpointer         data);

typedef struct
{
  LeafApplication *app;
  AppCheck check;
  gpointer data;
  gboolean done;
} Run;

static gboolean
poll_cb (gpointer user_data)
{
  Run *run = user_data;

  if (!run->check (run->app, run->data))
    return G_SOURCE_CONTINUE;
  run->done = TRUE;
  /* Closing the windows, as Ctrl+Q does, ends g_application_run(). */
  g_action_group_activate_action (G_ACTION_GROUP (run->app), "quit", NULL);
  return G_SOURCE_REMOVE;
}

/* Runs @app with the command line @args (without the program name) until @check returns TRUE;
 * @check asserts what it needs and may be called many times first. */
static void
run_app (LeafApplication    *app,
         const char * const *args,
         AppCheck            check,
         gpointer            data)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  Run run = { app, check, data, FALSE };
  guint poll;
  int status;

  g_ptr_array_add (argv, (char *) "leafscope");
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);

  poll = g_timeout_add (20, poll_cb, &run);
  status = g_application_run (G_APPLICATION (app), argv->len - 1, (char **) argv->pdata);
  if (!run.done)
    g_source_remove (poll);
  g_assert_true (run.done);
  g_assert_cmpint (status, ==, 0);
}

static LeafWindow *
window_for (LeafApplication *app,
            const char      *path)
{
  g_autoptr(GFile) file = path ? g_file_new_for_path (path) : NULL;

  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (app)); l; l = l->next)
    {
      GFile *shown = LEAF_IS_WINDOW (l->data) ? leaf_window_get_catalog_file (l->data) : NULL;

      if (shown != NULL && file != NULL && g_file_equal (shown, file))
        return l->data;
    }
  return NULL;
}

static guint
count_windows (LeafApplication *app)
{
  return g_list_length (gtk_application_get_windows (GTK_APPLICATION (app)));
}

typedef struct
{
  const char *paths[3]; /* catalogs that must each have a window */
  guint n_windows;
} Expect;

static gboolean
windows_shown (LeafApplication *app,
               gpointer         data)
{
  Expect *expect = data;

  for (guint i = 0; i < G_N_ELEMENTS (expect->paths) && expect->paths[i] != NULL; i++)
    if (window_for (app, expect->paths[i]) == NULL)
      return FALSE;
  g_assert_cmpuint (count_windows (app), ==, expect->n_windows);
  return TRUE;
}

/* `leafscope empty.leafscope`, relative to the folder it is started in, as a terminal does and as
 * the desktop's `Exec=leafscope %F` does with a full path. It used to crash: the remaining
 * arguments were freed twice. */
static void
test_plain_path (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autoptr(LeafApplication) app = leaf_application_new (G_APPLICATION_NON_UNIQUE);
  g_autofree char *cwd = g_get_current_dir ();
  const char *args[] = { "empty.leafscope", NULL };
  Expect expect = { { fixture->catalog_a }, 1 };

  g_assert_cmpint (g_chdir (fixture->dir), ==, 0);
  run_app (app, args, windows_shown, &expect);
  g_assert_cmpint (g_chdir (cwd), ==, 0);
}

/* A file manager may hand over URIs; this one needs its space unescaped. */
static void
test_uri (Fixture       *fixture,
          gconstpointer  data)
{
  g_autoptr(LeafApplication) app = leaf_application_new (G_APPLICATION_NON_UNIQUE);
  g_autofree char *uri = g_filename_to_uri (fixture->catalog_b, NULL, NULL);
  const char *args[] = { uri, NULL };
  Expect expect = { { fixture->catalog_b }, 1 };

  g_assert_nonnull (strstr (uri, "%20"));
  run_app (app, args, windows_shown, &expect);
}

static void
test_two_catalogs (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(LeafApplication) app = leaf_application_new (G_APPLICATION_NON_UNIQUE);
  const char *args[] = { fixture->catalog_a, fixture->catalog_b, NULL };
  Expect expect = { { fixture->catalog_a, fixture->catalog_b }, 2 };

  run_app (app, args, windows_shown, &expect);
}

/* `--catalog FILE` and a plain FILE together: two windows. */
static void
test_option_and_argument (Fixture       *fixture,
                          gconstpointer  data)
{
  g_autoptr(LeafApplication) app = leaf_application_new (G_APPLICATION_NON_UNIQUE);
  const char *args[] = { "--catalog", fixture->catalog_a, fixture->catalog_b, NULL };
  Expect expect = { { fixture->catalog_a, fixture->catalog_b }, 2 };

  run_app (app, args, windows_shown, &expect);
}

/* A catalog renamed without its suffix is still recognised as one. */
static void
test_renamed_catalog (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autoptr(LeafApplication) app = leaf_application_new (G_APPLICATION_NON_UNIQUE);
  g_autofree char *renamed = g_build_filename (fixture->dir, "lab-catalog", NULL);
  const char *args[] = { renamed, NULL };
  Expect expect = { { renamed }, 1 };

  g_assert_cmpint (g_rename (fixture->catalog_a, renamed), ==, 0);
  run_app (app, args, windows_shown, &expect);
}

typedef struct
{
  const char *catalog; /* the window the files must go to */
  const char *view;    /* the view it must show, or NULL for any */
  const char *text;    /* what must be on screen in it */
} ExpectShown;

static gboolean
text_shown (LeafApplication *app,
            gpointer         data)
{
  ExpectShown *expect = data;
  LeafWindow *window = window_for (app, expect->catalog);

  if (window == NULL
      || (expect->view != NULL
          && g_strcmp0 (adw_view_stack_get_visible_child_name (window->view_stack),
                        expect->view) != 0)
      || ui_test_find_label (GTK_WIDGET (window), expect->text) == NULL)
    return FALSE;
  g_assert_cmpuint (count_windows (app), ==, 1);
  return TRUE;
}

/* `leafscope photo.png`, or "Open With Leafscope" on a photo: the last catalog's window opens on
 * Diagnose. This catalog has no model yet, so Diagnose says that instead of a diagnosis. */
static void
test_photo (Fixture       *fixture,
            gconstpointer  data)
{
  g_autoptr(LeafApplication) app = leaf_application_new (G_APPLICATION_NON_UNIQUE);
  g_autoptr(GSettings) settings = leaf_settings_new ();
  const char *args[] = { fixture->photo, NULL };
  ExpectShown expect = { fixture->catalog_b, "diagnose", "No Trained Model" };

  g_assert_nonnull (settings);
  g_settings_set_string (settings, "last-catalog", fixture->catalog_b);
  run_app (app, args, text_shown, &expect);
  g_settings_reset (settings, "last-catalog");
}

/* A photo named with its catalog goes to that catalog's window. */
static void
test_catalog_and_photo (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autoptr(LeafApplication) app = leaf_application_new (G_APPLICATION_NON_UNIQUE);
  const char *args[] = { fixture->photo, fixture->catalog_a, NULL };
  ExpectShown expect = { fixture->catalog_a, "diagnose", "No Trained Model" };

  run_app (app, args, text_shown, &expect);
}

/* A name that does not exist is reported in a toast that names it; the window still opens. */
static void
test_missing_file (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(LeafApplication) app = leaf_application_new (G_APPLICATION_NON_UNIQUE);
  g_autofree char *missing = g_build_filename (fixture->dir, "no-such-leaf.jpg", NULL);
  const char *args[] = { fixture->catalog_a, missing, NULL };
  ExpectShown expect = { fixture->catalog_a, NULL, "no-such-leaf.jpg" };

  run_app (app, args, text_shown, &expect);
}

/* A catalog where no folder can be made (below a file) cannot be created: the window says why. */
static gboolean
no_catalog_shown (LeafApplication *app,
                  gpointer         data)
{
  GList *windows = gtk_application_get_windows (GTK_APPLICATION (app));
  GtkWindow *window = windows ? windows->data : NULL;

  if (window == NULL || ui_test_find_label (GTK_WIDGET (window), data) == NULL)
    return FALSE;
  g_assert_null (leaf_window_get_catalog_file (LEAF_WINDOW (window)));
  return TRUE;
}

static void
test_missing_folder (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(LeafApplication) app = leaf_application_new (G_APPLICATION_NON_UNIQUE);
  g_autofree char *missing = g_build_filename (fixture->photo, "lab.leafscope", NULL);
  const char *args[] = { missing, NULL };

  /* The message names the folder that could not be made. */
  run_app (app, args, no_catalog_shown, (gpointer) "leaf.png");
  g_assert_false (g_file_test (missing, G_FILE_TEST_EXISTS));
}


/* The real binary, on this test's own session bus */

static GSubprocess *
spawn_leafscope (const char         *cwd,
                 const char * const *args)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  GSubprocess *process;

  g_ptr_array_add (argv, (char *) g_getenv ("LEAFSCOPE_BIN"));
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);
  g_subprocess_launcher_set_cwd (launcher, cwd);
  process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  return process;
}

static void
on_wait_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  *(gboolean *) user_data = TRUE;
}

static gboolean
flag_set (gpointer data)
{
  return *(gboolean *) data;
}

static void
on_name_appeared_cb (GDBusConnection *connection,
                     const char      *name,
                     const char      *owner,
                     gpointer         user_data)
{
  *(gboolean *) user_data = TRUE;
}

static void
on_name_vanished_cb (GDBusConnection *connection,
                     const char      *name,
                     gpointer         user_data)
{
  *(gboolean *) user_data = TRUE;
}

/* `leafscope FILE` started by the desktop as the first instance: it opens the catalog and, asked
 * to quit over D-Bus as the shell would, exits cleanly. Before the fix it died at once with
 * SIGSEGV or "double free or corruption". */
static void
test_first_instance (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autofree char *fresh = g_build_filename (fixture->dir, "fresh.leafscope", NULL);
  const char *args[] = { fixture->catalog_a, fresh, NULL };
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  g_autoptr(GVariant) reply = NULL;
  gboolean appeared = FALSE, exited = FALSE;
  guint watch;

  g_assert_nonnull (bus);
  watch = g_bus_watch_name_on_connection (bus, APP_ID, G_BUS_NAME_WATCHER_FLAGS_NONE,
                                          on_name_appeared_cb, NULL, &appeared, NULL);
  process = spawn_leafscope (fixture->dir, args);
  g_subprocess_wait_async (process, NULL, on_wait_cb, &exited);
  while (!appeared && !exited)
    g_main_context_iteration (NULL, TRUE);
  g_bus_unwatch_name (watch);

  /* The new catalog exists once the window has opened it. */
  while (!exited && !g_file_test (fresh, G_FILE_TEST_EXISTS))
    ui_test_iterate (10);
  if (!exited)
    reply = g_dbus_connection_call_sync (bus, APP_ID, "/io/github/leafscope/Leafscope",
                                         "org.gtk.Actions", "Activate",
                                         g_variant_new ("(sava{sv})", "quit", NULL, NULL),
                                         NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
  g_assert_true (ui_test_wait_for (flag_set, &exited, G_MAXINT));
  g_assert_false (g_subprocess_get_if_signaled (process));
  g_assert_true (g_subprocess_get_if_exited (process));
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 0);
  g_assert_true (g_file_test (fresh, G_FILE_TEST_IS_REGULAR));
}

/* The desktop's D-Bus activation (DBusActivatable=true): a file manager asks the bus to open a
 * catalog with the application, which the bus starts from the installed service file. */
static void
test_dbus_activation (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autofree char *fresh = g_build_filename (fixture->dir, "activated.leafscope", NULL);
  g_autofree char *uri = g_filename_to_uri (fresh, NULL, NULL);
  const char *uris[] = { uri, NULL };
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) quit = NULL;
  g_autoptr(GError) error = NULL;
  gboolean vanished = FALSE;
  guint watch;

  g_assert_nonnull (bus);
  reply = g_dbus_connection_call_sync (bus, APP_ID, "/io/github/leafscope/Leafscope",
                                       "org.freedesktop.Application", "Open",
                                       g_variant_new ("(^asa{sv})", uris, NULL),
                                       NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error (error);
  while (!g_file_test (fresh, G_FILE_TEST_EXISTS))
    ui_test_iterate (10);

  quit = g_dbus_connection_call_sync (bus, APP_ID, "/io/github/leafscope/Leafscope",
                                      "org.gtk.Actions", "Activate",
                                      g_variant_new ("(sava{sv})", "quit", NULL, NULL),
                                      NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error (error);
  /* The service leaves the bus when it quits. */
  watch = g_bus_watch_name_on_connection (bus, APP_ID, G_BUS_NAME_WATCHER_FLAGS_NONE,
                                          NULL, on_name_vanished_cb, &vanished, NULL);
  while (!vanished)
    g_main_context_iteration (NULL, TRUE);
  g_bus_unwatch_name (watch);
  g_assert_true (g_file_test (fresh, G_FILE_TEST_IS_REGULAR));
}

/* The service file that `meson install` ships, its binary swapped for the build tree's. */
static char *
make_service_dir (void)
{
  g_autofree char *dir = g_dir_make_tmp ("leafscope-services-XXXXXX", NULL);
  g_autofree char *contents = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GString) service = NULL;
  g_autoptr(GError) error = NULL;
  const char *exec;

  g_file_get_contents (g_getenv ("LEAFSCOPE_DBUS_SERVICE"), &contents, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (contents, "\nName=" APP_ID "\n"));
  exec = strstr (contents, "/leafscope --gapplication-service\n");
  g_assert_nonnull (exec);
  service = g_string_new_len (contents, strstr (contents, "Exec=") + strlen ("Exec=") - contents);
  g_string_append_printf (service, "%s%s", g_getenv ("LEAFSCOPE_BIN"), exec + strlen ("/leafscope"));
  path = g_build_filename (dir, APP_ID ".service", NULL);
  g_file_set_contents (path, service->str, -1, &error);
  g_assert_no_error (error);
  return g_steal_pointer (&dir);
}

typedef struct
{
  Fixture *fixture;
  GSubprocess *second;
  gboolean second_exited;
} Second;

static gboolean
second_reached_first (LeafApplication *app,
                      gpointer         data)
{
  Second *second = data;
  LeafWindow *window;
  const char *args[] = { "with space.leafscope", "photos/leaf.png", NULL };

  if (second->second == NULL)
    {
      /* Once this instance shows its catalog, launch another from the catalogs' folder. */
      if (window_for (app, second->fixture->catalog_a) == NULL)
        return FALSE;
      second->second = spawn_leafscope (second->fixture->dir, args);
      g_subprocess_wait_async (second->second, NULL, on_wait_cb, &second->second_exited);
      return FALSE;
    }
  if (!second->second_exited)
    return FALSE;
  g_assert_true (g_subprocess_get_if_exited (second->second));
  g_assert_cmpint (g_subprocess_get_exit_status (second->second), ==, 0);
  /* The second launch's relative names were resolved in its own folder, and its photo went to
   * the catalog named with it, in this instance. */
  window = window_for (app, second->fixture->catalog_b);
  if (window == NULL
      || g_strcmp0 (adw_view_stack_get_visible_child_name (window->view_stack), "diagnose") != 0)
    return FALSE;
  g_assert_cmpuint (count_windows (app), ==, 2);
  return TRUE;
}

/* A second `leafscope FILE` while Leafscope runs opens FILE in the running instance and exits. */
static void
test_second_instance (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autoptr(LeafApplication) app = leaf_application_new (G_APPLICATION_DEFAULT_FLAGS);
  const char *args[] = { fixture->catalog_a, NULL };
  Second second = { fixture, NULL, FALSE };

  run_app (app, args, second_reached_first, &second);
  g_clear_object (&second.second);
}

int
main (int   argc,
      char *argv[])
{
  GTestDBus *bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_autofree char *display = g_strdup (g_getenv ("DISPLAY"));
  g_autofree char *services = make_service_dir ();
  int status;

  /* Before anything connects to a session bus: the instance tests own the application's name.
   * GTestDBus unsets DISPLAY, which the windows need. */
  g_test_dbus_add_service_dir (bus, services);
  g_test_dbus_up (bus);
  if (display != NULL)
    g_setenv ("DISPLAY", display, TRUE);
  ui_test_init (&argc, &argv);

  g_test_add ("/launch/plain-path", Fixture, NULL, fixture_set_up, test_plain_path,
              fixture_tear_down);
  g_test_add ("/launch/uri", Fixture, NULL, fixture_set_up, test_uri, fixture_tear_down);
  g_test_add ("/launch/two-catalogs", Fixture, NULL, fixture_set_up, test_two_catalogs,
              fixture_tear_down);
  g_test_add ("/launch/option-and-argument", Fixture, NULL, fixture_set_up,
              test_option_and_argument, fixture_tear_down);
  g_test_add ("/launch/renamed-catalog", Fixture, NULL, fixture_set_up, test_renamed_catalog,
              fixture_tear_down);
  g_test_add ("/launch/photo", Fixture, NULL, fixture_set_up, test_photo, fixture_tear_down);
  g_test_add ("/launch/catalog-and-photo", Fixture, NULL, fixture_set_up,
              test_catalog_and_photo, fixture_tear_down);
  g_test_add ("/launch/missing-file", Fixture, NULL, fixture_set_up, test_missing_file,
              fixture_tear_down);
  g_test_add ("/launch/missing-folder", Fixture, NULL, fixture_set_up, test_missing_folder,
              fixture_tear_down);
  g_test_add ("/launch/first-instance", Fixture, NULL, fixture_set_up, test_first_instance,
              fixture_tear_down);
  g_test_add ("/launch/second-instance", Fixture, NULL, fixture_set_up, test_second_instance,
              fixture_tear_down);
  g_test_add ("/launch/dbus-activation", Fixture, NULL, fixture_set_up, test_dbus_activation,
              fixture_tear_down);
  status = g_test_run ();
  /* GTK keeps a reference to the bus connection, for which g_test_dbus_down() and the
   * object's disposal would wait: stop the daemon and leave the object to the exit. */
  g_test_dbus_stop (bus);
  leaf_test_remove_tree (services);
  return status;
}
