/* test-window.c: the main window's own controls: the sidebar's button and F9, Tab out of the
 * grid, the toast of undo and redo, labels other programs save, the highlight while photos are
 * dragged over it, and class names with underscores in menus
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "test-window"

#include "config.h"

#include "leaf-test.h"

#include <adwaita.h>

#include "leaf-settings.h"
#include "leaf-test-pg.h"
#include "leaf-window-private.h"
#include "ui-test-util.h"

typedef struct
{
  char *dir;
  LeafWindow *window;
  GtkWidget *grid;
} Fixture;

static const char *const class_names[] = { "late_blight", "healthy", NULL };

/* The fixture's data for the same catalog copied to a database on a private server. */
static LeafTestPg *server;
#define ON_SERVER GINT_TO_POINTER (1)
/* The same, opened with a role that may only read it. */
#define ON_SERVER_READ_ONLY GINT_TO_POINTER (2)

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autofree char *path = NULL;
  g_autoptr(GFile) file = NULL;

  f->dir = g_dir_make_tmp ("leafscope-window-XXXXXX", NULL);
  path = ui_test_make_catalog (f->dir, class_names, 4);
  if (data == ON_SERVER || data == ON_SERVER_READ_ONLY)
    {
      static guint n_databases;
      g_autoptr(GError) error = NULL;
      g_autofree char *name = g_strdup_printf ("window%u", ++n_databases);
      g_autofree char *create = g_strdup_printf ("CREATE DATABASE %s TEMPLATE template0 "
                                                 "LC_COLLATE 'C' LC_CTYPE 'C.UTF-8'", name);
      g_autofree char *uri = leaf_test_pg_uri (server, name, NULL);

      g_assert_true (leaf_test_pg_exec (server, "postgres", create, &error));
      g_assert_no_error (error);
      g_assert_true (leaf_catalog_copy (path, uri, NULL, NULL, &error));
      g_assert_no_error (error);
      if (data == ON_SERVER_READ_ONLY)
        {
          g_assert_true (leaf_test_pg_exec (server, name, "DO $$ BEGIN CREATE ROLE reader LOGIN; "
                                            "EXCEPTION WHEN duplicate_object THEN NULL; END $$; "
                                            "GRANT SELECT ON ALL TABLES IN SCHEMA public "
                                            "TO reader", &error));
          g_assert_no_error (error);
          g_free (uri);
          uri = leaf_test_pg_uri (server, name, "reader");
        }
      file = g_file_new_for_uri (uri);
    }
  else
    file = g_file_new_for_path (path);
  f->window = leaf_window_new (NULL);
  gtk_window_set_default_size (GTK_WINDOW (f->window), 1180, 780);
  gtk_window_present (GTK_WINDOW (f->window));
  leaf_window_open_catalog (f->window, file);
  ui_test_iterate (200);
  f->grid = ui_test_find_type (GTK_WIDGET (f->window->library_view), GTK_TYPE_GRID_VIEW);
  g_assert_nonnull (f->grid);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  gtk_window_destroy (GTK_WINDOW (f->window));
  ui_test_iterate (100);
  leaf_test_remove_tree (f->dir);
  g_free (f->dir);
}

static gboolean
sidebar_revealed (Fixture *f)
{
  gboolean revealed;

  g_object_get (f->window->library_view, "sidebar-revealed", &revealed, NULL);
  g_assert_cmpint (revealed, ==, gtk_toggle_button_get_active (f->window->sidebar_button));
  return revealed;
}

/* A narrow window folds the sidebar away; the header bar's button, and F9 from anywhere in the
 * window, bring it back. */
static void
test_sidebar_button (Fixture       *f,
                     gconstpointer  data)
{
  GtkWidget *flap = ui_test_find_type (GTK_WIDGET (f->window->library_view), ADW_TYPE_FLAP);

  g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (f->window->sidebar_button)));
  g_assert_true (sidebar_revealed (f));

  /* The window's smallest size. */
  gtk_window_set_default_size (GTK_WINDOW (f->window), 640, 480);
  ui_test_iterate (300);
  g_assert_true (adw_flap_get_folded (ADW_FLAP (flap)));
  g_assert_false (sidebar_revealed (f));
  gtk_toggle_button_set_active (f->window->sidebar_button, TRUE);
  g_assert_true (adw_flap_get_reveal_flap (ADW_FLAP (flap)));
  g_assert_true (sidebar_revealed (f));

  /* F9 toggles it whatever has the focus, here the search button in the header bar. */
  g_assert_true (ui_test_press_key (GTK_WIDGET (f->window->search_button), GDK_KEY_F9, 0));
  g_assert_false (sidebar_revealed (f));
  g_assert_true (ui_test_press_key (GTK_WIDGET (f->window->search_button), GDK_KEY_F9, 0));
  g_assert_true (sidebar_revealed (f));

  /* Elsewhere than the Library the button hides, and F9 goes back to the Library's sidebar. */
  leaf_window_show_view (f->window, "train");
  ui_test_iterate (100);
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (f->window->sidebar_button)));
  gtk_toggle_button_set_active (f->window->sidebar_button, FALSE);
  g_assert_true (ui_test_press_key (GTK_WIDGET (f->window->train_view), GDK_KEY_F9, 0));
  g_assert_cmpstr (adw_view_stack_get_visible_child_name (f->window->view_stack), ==, "library");
  g_assert_true (sidebar_revealed (f));
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (f->window->sidebar_button)));
}

/* Tab and Shift+Tab leave the grid instead of walking it photo by photo. */
static void
test_tab_leaves_grid (Fixture       *f,
                      gconstpointer  data)
{
  GtkWidget *focus;

  g_assert_true (ui_test_press_key (ui_test_focus_item (f->grid), GDK_KEY_Tab, 0));
  focus = gtk_root_get_focus (GTK_ROOT (f->window));
  g_assert_nonnull (focus);
  g_assert_true (focus != f->grid && !gtk_widget_is_ancestor (focus, f->grid));

  g_assert_true (ui_test_press_key (ui_test_focus_item (f->grid), GDK_KEY_Tab, GDK_SHIFT_MASK));
  focus = gtk_root_get_focus (GTK_ROOT (f->window));
  g_assert_nonnull (focus);
  g_assert_true (focus != f->grid && !gtk_widget_is_ancestor (focus, f->grid));
}

/* The toast's label that contains @text; toasts are the overlay's children beside its child. */
static GtkWidget *
find_toast_label (Fixture    *f,
                  const char *text)
{
  AdwToastOverlay *overlay = f->window->toast_overlay;

  for (GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (overlay)); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *label;

      if (child != adw_toast_overlay_get_child (overlay)
          && (label = ui_test_find_label (child, text)) != NULL)
        return label;
    }
  return NULL;
}

/* Undo, undo, redo: the toast on screen says what the last one did. */
static void
test_undo_redo_toast (Fixture       *f,
                      gconstpointer  data)
{
  GtkSelectionModel *selection = leaf_library_view_get_selection (f->window->library_view);

  gtk_widget_grab_focus (f->grid);
  for (guint i = 0; i < 2; i++)
    {
      gtk_selection_model_select_item (selection, i, TRUE);
      g_assert_true (ui_test_press_key (f->grid, GDK_KEY_2, 0));
    }
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->window), "win.undo", NULL));
  ui_test_iterate (100);
  g_assert_nonnull (find_toast_label (f, "Undone:"));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->window), "win.undo", NULL));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->window), "win.redo", NULL));
  ui_test_iterate (100);
  g_assert_nonnull (find_toast_label (f, "Redone:"));
  g_assert_null (find_toast_label (f, "Undone:"));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->window), "win.undo", NULL));
  ui_test_iterate (100);
  g_assert_nonnull (find_toast_label (f, "Undone:"));
  g_assert_null (find_toast_label (f, "Redone:"));
}

/* Labels, and the undo history, are the labeller's that Preferences names; the window tells
 * its catalog at once, and the Undo button follows: a new name has nothing to undo yet. */
static void
test_labeller_from_preferences (Fixture       *f,
                                gconstpointer  data)
{
  GtkSelectionModel *selection = leaf_library_view_get_selection (f->window->library_view);
  g_autoptr(GSettings) settings = leaf_settings_new ();
  g_autofree char *labeller = NULL;

  g_settings_set_string (settings, "labeller", "  Zoë  ");
  ui_test_iterate (20);
  labeller = leaf_catalog_dup_labeller (f->window->catalog);
  g_assert_cmpstr (labeller, ==, "Zoë");

  gtk_widget_grab_focus (f->grid);
  gtk_selection_model_select_item (selection, 0, TRUE);
  g_assert_true (ui_test_press_key (f->grid, GDK_KEY_2, 0));
  ui_test_iterate (20);
  g_assert_true (gtk_widget_is_sensitive (GTK_WIDGET (f->window->undo_button)));

  g_settings_set_string (settings, "labeller", "someone else");
  ui_test_iterate (20);
  g_assert_false (gtk_widget_is_sensitive (GTK_WIDGET (f->window->undo_button)));

  g_settings_reset (settings, "labeller");
  ui_test_iterate (20);
  g_clear_pointer (&labeller, g_free);
  labeller = leaf_catalog_dup_labeller (f->window->catalog);
  g_assert_cmpstr (labeller, ==, g_get_user_name ());
}

typedef struct
{
  GtkSelectionModel *selection;
  const char *class_name;
} Expect;

static gboolean
first_photo_labelled (gpointer data)
{
  Expect *expect = data;
  g_autoptr(LeafLibraryItem) item = g_list_model_get_item (G_LIST_MODEL (expect->selection), 0);

  return g_strcmp0 (leaf_library_item_get_class_name (item), expect->class_name) == 0;
}

/* A label that another program saves in the catalog shows in the window by itself. */
static void
test_other_programs_labels (Fixture       *f,
                            gconstpointer  data)
{
  GtkSelectionModel *selection = leaf_library_view_get_selection (f->window->library_view);
  g_autoptr(LeafLibraryItem) first = g_list_model_get_item (G_LIST_MODEL (selection), 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) other = NULL;
  g_autoptr(LeafClassInfo) relabel = NULL;
  gint64 id = leaf_library_item_get_id (first);
  Expect expect = { selection, class_names[0] };

  if (g_strcmp0 (leaf_library_item_get_class_name (first), class_names[0]) == 0)
    expect.class_name = class_names[1];
  other = leaf_catalog_open (leaf_catalog_get_path (f->window->catalog),
                             LEAF_CATALOG_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  relabel = leaf_catalog_find_class (other, expect.class_name, &error);
  g_assert_no_error (error);
  leaf_catalog_set_labeller (other, "bo");
  g_assert_true (leaf_catalog_set_labels (other, &id, 1, relabel->id, LEAF_LABEL_HOW_MANUAL,
                                          &error));
  g_assert_no_error (error);
  /* The window looks twice a second: a minute is for a machine under load. */
  g_assert_true (ui_test_wait_for (first_photo_labelled, &expect, 60000));
}

/* While photos are dragged over the window, it says what dropping them does. */
/* A catalog on a server opens as a file does, named by its database; what another program
 * labels there shows as it does for a file (test_other_programs_labels on the server). */
static void
test_server_catalog (Fixture       *f,
                     gconstpointer  data)
{
  GtkSelectionModel *selection = leaf_library_view_get_selection (f->window->library_view);

  g_assert_nonnull (f->window->catalog);
  g_assert_true (leaf_catalog_is_on_server (f->window->catalog));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (selection)), ==, 8);
  g_assert_true (g_str_has_prefix (gtk_window_get_title (GTK_WINDOW (f->window)), "window"));
}

/* With a role that may only read, the window browses the catalog, says that it may only read
 * it, and offers nothing that would change it: no import, no labels, no classes, no training,
 * no choice of model. */
static void
test_server_read_only (Fixture       *f,
                       gconstpointer  data)
{
  GtkSelectionModel *selection = leaf_library_view_get_selection (f->window->library_view);
  const char *const changing[] = {
    "win.import", "library.unlabel", "library.add-class", "train.start", "train.import-model",
  };

  g_assert_true (leaf_catalog_is_read_only (f->window->catalog));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (selection)), ==, 8);
  g_assert_nonnull (strstr (gtk_window_get_title (GTK_WINDOW (f->window)), "read only"));
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (f->window), "You may only read"));
  gtk_selection_model_select_item (selection, 0, TRUE);
  leaf_window_show_view (f->window, "train");
  ui_test_iterate (100);
  for (guint i = 0; i < G_N_ELEMENTS (changing); i++)
    {
      GtkWidget *control = ui_test_find_actionable (GTK_WIDGET (f->window), changing[i]);

      g_test_message ("%s", changing[i]);
      g_assert_nonnull (control);
      g_assert_false (gtk_widget_is_sensitive (control));
    }
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (f->window->train_view),
                                        "may only be read"));
  /* What only reads stays. */
  g_assert_true (gtk_widget_is_sensitive (ui_test_find_actionable (GTK_WIDGET (f->window),
                                                                   "diagnose.open")));
}

static void
test_drop_highlight (Fixture       *f,
                     gconstpointer  data)
{
  GtkEventController *target = ui_test_find_controller (GTK_WIDGET (f->window),
                                                        GTK_TYPE_DROP_TARGET);
  GdkDragAction action = 0;

  g_assert_nonnull (target);
  g_assert_false (gtk_widget_get_visible (f->window->drop_hint));
  g_signal_emit_by_name (target, "enter", 100.0, 100.0, &action);
  g_assert_cmpint (action, ==, GDK_ACTION_COPY);
  ui_test_iterate (50);
  g_assert_true (gtk_widget_get_mapped (f->window->drop_hint));
  g_assert_nonnull (ui_test_find_label (f->window->drop_hint, "Drop Photos to Diagnose Them"));
  g_signal_emit_by_name (target, "leave");
  g_assert_false (gtk_widget_get_visible (f->window->drop_hint));
}

/* Like ui_test_find_label, but in popovers that are not shown. */
static GtkLabel *
find_text (GtkWidget  *root,
           const char *text)
{
  if (GTK_IS_LABEL (root) && g_strcmp0 (gtk_label_get_text (GTK_LABEL (root)), text) == 0)
    return GTK_LABEL (root);
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkLabel *found = find_text (child, text);

      if (found != NULL)
        return found;
    }
  return NULL;
}

/* “late_blight” keeps its underscore in Diagnose's Add to Catalog menu. */
static void
test_class_menu_underscores (Fixture       *f,
                             gconstpointer  data)
{
  GtkWidget *split = ui_test_find_type (GTK_WIDGET (f->window->diagnose_view),
                                        ADW_TYPE_SPLIT_BUTTON);
  g_autoptr(GError) error = NULL;
  GtkWidget *popover;

  g_assert_nonnull (split);
  /* The menu lists the classes after a diagnosis, and again when they change. */
  leaf_catalog_add_class (f->window->catalog, "early_spot", "#2ec27e", NULL, &error);
  g_assert_no_error (error);
  ui_test_iterate (50);
  /* The split button makes its popover when it first pops up: make one of the same menu. */
  popover = gtk_popover_menu_new_from_model (adw_split_button_get_menu_model (ADW_SPLIT_BUTTON (split)));
  g_object_ref_sink (popover);
  g_assert_nonnull (find_text (popover, "late_blight"));
  g_assert_null (find_text (popover, "lateblight"));
  g_object_unref (popover);

  /* The button itself, which names the top class after a diagnosis, reads no mnemonic. */
  adw_split_button_set_label (ADW_SPLIT_BUTTON (split), "Add to Catalog as late_blight");
  g_assert_nonnull (find_text (split, "Add to Catalog as late_blight"));
}

int
main (int   argc,
      char *argv[])
{
  int status;

  ui_test_init (&argc, &argv);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/ui/window/sidebar-button", test_sidebar_button);
  ADD ("/ui/window/tab-leaves-grid", test_tab_leaves_grid);
  ADD ("/ui/window/undo-redo-toast", test_undo_redo_toast);
  ADD ("/ui/window/labeller-from-preferences", test_labeller_from_preferences);
  ADD ("/ui/window/other-programs-labels", test_other_programs_labels);
  ADD ("/ui/window/drop-highlight", test_drop_highlight);
  ADD ("/ui/window/class-menu-underscores", test_class_menu_underscores);
#undef ADD

  if ((server = leaf_test_pg_start_or_skip ("/ui/window/server")) != NULL)
    {
      g_test_add ("/ui/window/server/opens", Fixture, ON_SERVER, fixture_setup,
                  test_server_catalog, fixture_teardown);
      g_test_add ("/ui/window/server/read-only", Fixture, ON_SERVER_READ_ONLY, fixture_setup,
                  test_server_read_only, fixture_teardown);
      g_test_add ("/ui/window/server/other-programs-labels", Fixture, ON_SERVER, fixture_setup,
                  test_other_programs_labels, fixture_teardown);
    }
  status = g_test_run ();
  g_clear_pointer (&server, leaf_test_pg_free);
  return status;
}
