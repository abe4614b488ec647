/* leaf-window.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-window"

#include "config.h"

#include <glib/gi18n.h>

#include "leaf-active-model.h"
#include "leaf-settings.h"
#include "leaf-toast.h"
#include "leaf-window-private.h"

G_DEFINE_FINAL_TYPE (LeafWindow, leaf_window, ADW_TYPE_APPLICATION_WINDOW)

static void
drop_trainer (LeafWindow *self)
{
  if (self->trainer == NULL)
    return;
  g_signal_handlers_disconnect_by_data (self->trainer, self);
  /* Disposing a running trainer stops it and waits for its thread. */
  g_clear_object (&self->trainer);
  if (leaf_train_view_is_running (self->train_view))
    leaf_train_view_end_run (self->train_view, 0, NULL);
}

/* The name Preferences gives, for this window's catalog. */
static void
apply_labeller (LeafWindow *self)
{
  g_autofree char *labeller = NULL;

  if (self->catalog == NULL || self->settings == NULL)
    return;
  labeller = g_settings_get_string (self->settings, "labeller");
  leaf_catalog_set_labeller (self->catalog, labeller);
  _leaf_window_update_actions (self);
}

/* "plants.leafscope" reads as "plants" in the title; a server's catalog as its database on its
 * server. */
static char *
catalog_title (LeafCatalog *catalog,
               GFile       *file)
{
  char *basename;

  if (leaf_catalog_is_on_server (catalog))
    {
      g_autoptr(GUri) uri = g_uri_parse (leaf_catalog_get_display_name (catalog),
                                         G_URI_FLAGS_NONE, NULL);
      const char *database = uri != NULL ? g_uri_get_path (uri) : "";
      const char *host = uri != NULL ? g_uri_get_host (uri) : NULL;

      database += *database == '/';
      /* Translators: a catalog on a PostgreSQL server: its database, then the server. */
      return host != NULL && *host != '\0' ? g_strdup_printf (_("%s on %s"), database, host)
                                            : g_strdup (database);
    }
  basename = g_file_get_basename (file);
  if (g_str_has_suffix (basename, ".leafscope"))
    basename[strlen (basename) - strlen (".leafscope")] = '\0';
  return basename;
}

static void
set_catalog (LeafWindow  *self,
             LeafCatalog *catalog,
             GFile       *file)
{
  drop_trainer (self);
  if (self->catalog != NULL)
    g_signal_handlers_disconnect_by_data (self->catalog, self);
  g_set_object (&self->catalog, catalog);
  g_set_object (&self->catalog_file, (catalog != NULL ? file : NULL));

  gtk_revealer_set_reveal_child (self->read_only_revealer,
                                 catalog != NULL && leaf_catalog_is_read_only (catalog));
  leaf_library_view_set_catalog (self->library_view, catalog);
  leaf_train_view_set_catalog (self->train_view, catalog);
  leaf_diagnose_view_set_catalog (self->diagnose_view, catalog);

  if (catalog != NULL)
    {
      g_autofree char *basename = catalog_title (catalog, file);
      g_autofree char *subtitle = NULL;
      g_autofree char *display = NULL;

      /* Translators: the window's subtitle for a catalog this user may only look at; %s is
       * its name */
      subtitle = leaf_catalog_is_read_only (catalog) ? g_strdup_printf (_("%s (read only)"),
                                                                        basename)
                                                     : g_strdup (basename);
      display = g_strdup_printf ("%s — %s", subtitle, _("Leafscope"));
      gtk_window_set_title (GTK_WINDOW (self), display);
      adw_view_switcher_title_set_subtitle (self->switcher_title, subtitle);
      gtk_stack_set_visible_child_name (self->main_stack, "views");
      /* Other programs label the same catalog: their changes show here as they are made. */
      leaf_catalog_watch (catalog);
      /* Undo and redo cover labels and classes. */
      g_signal_connect_object (catalog, "labels-changed",
                               G_CALLBACK (_leaf_window_update_actions), self,
                               G_CONNECT_SWAPPED);
      g_signal_connect_object (catalog, "classes-changed",
                               G_CALLBACK (_leaf_window_update_actions), self,
                               G_CONNECT_SWAPPED);
      /* The Library shows the active model's predictions: of every photo, whenever it has new
       * ones (leaf-window-review.c). */
      g_signal_connect_object (catalog, "active-model-changed",
                               G_CALLBACK (_leaf_window_review_active_model), self,
                               G_CONNECT_SWAPPED);
      g_signal_connect_object (catalog, "images-changed",
                               G_CALLBACK (_leaf_window_review_active_model), self,
                               G_CONNECT_SWAPPED);
      if (self->settings != NULL)
        /* A server's URI without the password it may hold: never a password in our files. */
        g_settings_set_string (self->settings, "last-catalog",
                               leaf_catalog_is_on_server (catalog)
                                 ? leaf_catalog_get_display_name (catalog)
                                 : leaf_catalog_get_path (catalog));
      apply_labeller (self);
    }
  else
    {
      gtk_window_set_title (GTK_WINDOW (self), _("Leafscope"));
      adw_view_switcher_title_set_subtitle (self->switcher_title, NULL);
      gtk_stack_set_visible_child_name (self->main_stack, "no-catalog");
    }
  _leaf_window_update_actions (self);
  _leaf_window_review_active_model (self);
}

/**
 * leaf_window_open_catalog:
 * @self: a window
 * @file: the catalog to show; it is created when it does not exist
 *
 * On failure the window keeps the catalog it had, or shows an empty state, and a toast says why.
 */
void
leaf_window_open_catalog (LeafWindow *self,
                          GFile      *file)
{
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;

  g_return_if_fail (LEAF_IS_WINDOW (self));
  g_return_if_fail (G_IS_FILE (file));

  path = g_file_get_path (file);
  if (path == NULL)
    {
      g_autofree char *uri = g_file_get_uri (file);

      if (leaf_catalog_location_is_server (uri))
        catalog = leaf_catalog_open (uri, LEAF_CATALOG_OPEN_CREATE, &error);
      else
        g_set_error (&error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                     _("Cannot open “%s”: catalogs must be local files or on a PostgreSQL "
                       "server"), uri);
    }
  else
    catalog = leaf_catalog_open (path, LEAF_CATALOG_OPEN_CREATE, &error);

  if (catalog == NULL)
    {
      leaf_show_toast_error (GTK_WIDGET (self), error);
      if (self->catalog == NULL)
        {
          adw_status_page_set_description (self->no_catalog_page, error->message);
          set_catalog (self, NULL, NULL);
        }
      return;
    }
  set_catalog (self, catalog, file);
}

/**
 * leaf_window_get_catalog_file:
 *
 * Returns: (transfer none) (nullable): the catalog shown
 */
GFile *
leaf_window_get_catalog_file (LeafWindow *self)
{
  g_return_val_if_fail (LEAF_IS_WINDOW (self), NULL);
  return self->catalog_file;
}

/**
 * leaf_window_show_view:
 * @self: a window
 * @name: "library", "train" or "diagnose"
 */
void
leaf_window_show_view (LeafWindow *self,
                       const char *name)
{
  g_return_if_fail (LEAF_IS_WINDOW (self));
  adw_view_stack_set_visible_child_name (self->view_stack, name);
}

static void
on_visible_view_changed_cb (LeafWindow *self)
{
  const char *name = adw_view_stack_get_visible_child_name (self->view_stack);

  gtk_widget_set_visible (GTK_WIDGET (self->sidebar_button), g_strcmp0 (name, "library") == 0);
  gtk_widget_set_visible (GTK_WIDGET (self->search_button), g_strcmp0 (name, "library") == 0);
}

static void
on_cell_activated_cb (LeafWindow *self,
                      gint64      model_id,
                      guint       truth,
                      guint       predicted)
{
  leaf_window_show_view (self, "library");
  leaf_library_view_show_confusion (self->library_view, model_id, truth, predicted);
}

static void
on_train_requested_cb (LeafWindow *self)
{
  leaf_window_show_view (self, "train");
}

static void
on_trainer_event_cb (LeafTrainer          *trainer,
                     const LeafTrainEvent *event,
                     LeafWindow           *self)
{
  /* An event posted before the window went can reach it after its views did (seen under load in
   * test-weights-page, as a critical from the Library): there is nothing left to show it in.
   * Being in destruction covers only the dispose itself; after it the views are gone. */
  if (gtk_widget_in_destruction (GTK_WIDGET (self)) || self->library_view == NULL
      || self->train_view == NULL || self->diagnose_view == NULL)
    return;
  leaf_train_view_handle_event (self->train_view, event);
  if (event->kind == LEAF_TRAIN_EVENT_FINISHED)
    {
      /* The trainer records the run and its model through its own connection, which the
       * window's catalog does not hear about. */
      leaf_library_view_reload_models (self->library_view);
      leaf_diagnose_view_reload_model (self->diagnose_view);
      if (event->error == NULL && event->activated)
        _leaf_window_review_active_model (self);
    }
}

/**
 * _leaf_window_start_training:
 * @weights_path: (nullable): base weights; %NULL for the store's default
 * @from_scratch: train without base weights, whatever the Train view's recipe says
 *
 * Starts a run with the Train view's recipe.
 */
void
_leaf_window_start_training (LeafWindow *self,
                             const char *weights_path,
                             gboolean    from_scratch)
{
  g_autoptr(GError) error = NULL;
  LeafRecipe recipe;

  if (self->catalog == NULL)
    return;
  if (self->trainer == NULL)
    {
      self->trainer = leaf_trainer_new (leaf_catalog_get_path (self->catalog));
      g_signal_connect (self->trainer, "event", G_CALLBACK (on_trainer_event_cb), self);
    }
  leaf_train_view_get_recipe (self->train_view, &recipe);
  recipe.from_scratch |= from_scratch;
  leaf_train_view_begin_run (self->train_view);
  if (!leaf_trainer_start (self->trainer, &recipe, weights_path, &error))
    leaf_train_view_end_run (self->train_view, 0, error);
}

static void
on_start_training_cb (LeafWindow *self)
{
  LeafRecipe recipe;

  if (self->catalog == NULL)
    return;
  leaf_train_view_get_recipe (self->train_view, &recipe);
  /* Without base weights the run would only fail: ask how to go on instead. */
  if (!recipe.from_scratch && !_leaf_window_has_weights (self))
    _leaf_window_ask_for_weights (self);
  else
    _leaf_window_start_training (self, NULL, FALSE);
}

static void
on_pause_training_cb (LeafWindow *self)
{
  if (self->trainer == NULL)
    return;
  leaf_trainer_pause (self->trainer);
  leaf_train_view_set_paused (self->train_view, TRUE);
}

static void
on_resume_training_cb (LeafWindow *self)
{
  if (self->trainer == NULL)
    return;
  leaf_trainer_resume (self->trainer);
  leaf_train_view_set_paused (self->train_view, FALSE);
}

static void
on_stop_training_cb (LeafWindow *self)
{
  if (self->trainer != NULL)
    leaf_trainer_stop (self->trainer);
}

static gboolean
leaf_window_close_request (GtkWindow *window)
{
  LeafWindow *self = LEAF_WINDOW (window);

  if (self->settings != NULL)
    {
      int width, height;

      gtk_window_get_default_size (window, &width, &height);
      g_settings_set_int (self->settings, "window-width", width);
      g_settings_set_int (self->settings, "window-height", height);
      g_settings_set_boolean (self->settings, "window-maximized",
                              gtk_window_is_maximized (window));
    }
  g_cancellable_cancel (self->task_cancellable);
  return GTK_WINDOW_CLASS (leaf_window_parent_class)->close_request (window);
}

static void
leaf_window_dispose (GObject *object)
{
  LeafWindow *self = LEAF_WINDOW (object);

  g_cancellable_cancel (self->task_cancellable);
  g_clear_object (&self->task_cancellable);
  g_clear_object (&self->pending_import);
  g_clear_pointer (&self->pending_group_pattern, g_free);
  drop_trainer (self);
  g_clear_object (&self->thumbnailer);
  if (self->catalog != NULL)
    g_signal_handlers_disconnect_by_data (self->catalog, self);
  g_clear_object (&self->catalog);
  g_clear_object (&self->catalog_file);
  g_clear_object (&self->settings);
  /* Dismissing it lets go of the weak pointer into this window. */
  if (self->undo_toast != NULL)
    adw_toast_dismiss (self->undo_toast);
  if (self->library_view != NULL)
    g_object_remove_weak_pointer (G_OBJECT (self->library_view),
                                  (gpointer *) &self->library_view);
  if (self->train_view != NULL)
    g_object_remove_weak_pointer (G_OBJECT (self->train_view), (gpointer *) &self->train_view);
  if (self->diagnose_view != NULL)
    g_object_remove_weak_pointer (G_OBJECT (self->diagnose_view),
                                  (gpointer *) &self->diagnose_view);
  gtk_widget_dispose_template (GTK_WIDGET (self), LEAF_TYPE_WINDOW);
  G_OBJECT_CLASS (leaf_window_parent_class)->dispose (object);
}

static void
leaf_window_class_init (LeafWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = leaf_window_dispose;

  window_class->close_request = leaf_window_close_request;

  g_type_ensure (LEAF_TYPE_LIBRARY_VIEW);
  g_type_ensure (LEAF_TYPE_TRAIN_VIEW);
  g_type_ensure (LEAF_TYPE_DIAGNOSE_VIEW);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/leafscope/Leafscope/leaf-window.ui");
  gtk_widget_class_bind_template_child (widget_class, LeafWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, LeafWindow, header_bar);
  gtk_widget_class_bind_template_child (widget_class, LeafWindow, switcher_title);
  gtk_widget_class_bind_template_child (widget_class, LeafWindow, sidebar_button);
  gtk_widget_class_bind_template_child (widget_class, LeafWindow, search_button);
  gtk_widget_class_bind_template_child (widget_class, LeafWindow, undo_button);
  gtk_widget_class_bind_template_child (widget_class, LeafWindow, redo_button);
  gtk_widget_class_bind_template_child (widget_class, LeafWindow, task_revealer);
  gtk_widget_class_bind_template_child (widget_class, LeafWindow, read_only_revealer);
  gtk_widget_class_bind_template_child (widget_class, LeafWindow, task_label);
  gtk_widget_class_bind_template_child (widget_class, LeafWindow, task_progress);
  gtk_widget_class_bind_template_child (widget_class, LeafWindow, main_stack);
  gtk_widget_class_bind_template_child (widget_class, LeafWindow, view_stack);
  gtk_widget_class_bind_template_child (widget_class, LeafWindow, library_view);
  gtk_widget_class_bind_template_child (widget_class, LeafWindow, train_view);
  gtk_widget_class_bind_template_child (widget_class, LeafWindow, diagnose_view);
  gtk_widget_class_bind_template_child (widget_class, LeafWindow, no_catalog_page);
  gtk_widget_class_bind_template_child (widget_class, LeafWindow, drop_hint);

  _leaf_window_class_actions_init (klass);
}

static void
leaf_window_init (LeafWindow *self)
{
  g_autofree char *cache_dir = NULL;

  gtk_widget_init_template (GTK_WIDGET (self));
  /* Training events and reviews end asynchronously, and call into the views. A view can be
   * gone while the window still points at it (a critical from the Library, seen under load in
   * test-weights-page after the window closed, with the checks below already in place): the
   * pointers follow the views, so that those checks see it. */
  g_object_add_weak_pointer (G_OBJECT (self->library_view), (gpointer *) &self->library_view);
  g_object_add_weak_pointer (G_OBJECT (self->train_view), (gpointer *) &self->train_view);
  g_object_add_weak_pointer (G_OBJECT (self->diagnose_view), (gpointer *) &self->diagnose_view);

  self->settings = leaf_settings_new ();
  if (self->settings != NULL)
    {
      gtk_window_set_default_size (GTK_WINDOW (self),
                                   g_settings_get_int (self->settings, "window-width"),
                                   g_settings_get_int (self->settings, "window-height"));
      if (g_settings_get_boolean (self->settings, "window-maximized"))
        gtk_window_maximize (GTK_WINDOW (self));
      /* Undo and redo are the labeller's own: their menu items follow the name. */
      g_signal_connect_object (self->settings, "changed::labeller",
                               G_CALLBACK (apply_labeller), self, G_CONNECT_SWAPPED);
    }
  else
    gtk_window_set_default_size (GTK_WINDOW (self), 1180, 780);

  g_signal_connect_object (self->view_stack, "notify::visible-child-name",
                           G_CALLBACK (on_visible_view_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->train_view, "confusion-cell-activated",
                           G_CALLBACK (on_cell_activated_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->diagnose_view, "train-requested",
                           G_CALLBACK (on_train_requested_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->train_view, "start-requested",
                           G_CALLBACK (on_start_training_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->train_view, "pause-requested",
                           G_CALLBACK (on_pause_training_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->train_view, "resume-requested",
                           G_CALLBACK (on_resume_training_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->train_view, "stop-requested",
                           G_CALLBACK (on_stop_training_cb), self, G_CONNECT_SWAPPED);

  cache_dir = g_build_filename (g_get_user_cache_dir (), "leafscope", "thumbnails", NULL);
  self->thumbnailer = leaf_thumbnailer_new (cache_dir);
  leaf_library_view_set_thumbnailer (self->library_view, self->thumbnailer);
  on_visible_view_changed_cb (self);
  _leaf_window_dnd_init (self);
  set_catalog (self, NULL, NULL);
}

/**
 * leaf_window_new:
 *
 * Returns: (transfer full): a window without a catalog; see leaf_window_open_catalog()
 */
LeafWindow *
leaf_window_new (LeafApplication *application)
{
  return g_object_new (LEAF_TYPE_WINDOW, "application", application, NULL);
}
