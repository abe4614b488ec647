/* leaf-weights-page.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The Weights page of Preferences: which base weights the store holds, and the ways to get
 * them (download, from a mirror, import). The store does the work and every check; the page only
 * shows what it holds and what it is doing. One download or import runs at a time, and closing
 * the page cancels it, which keeps a partial download for the next attempt.
 */

#define G_LOG_DOMAIN "leaf-weights-page"

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "leaf-error.h"
#include "leaf-weights-page.h"

struct _LeafWeightsPage
{
  AdwPreferencesPage parent_instance;

  LeafWeightsStore *store;
  GCancellable *cancellable; /* set while a download or an import runs */
  GPtrArray *file_rows;      /* rows of files_group, rebuilt by refresh */

  /* Template widgets */
  AdwPreferencesGroup *files_group;
  AdwActionRow *empty_row;
  AdwPreferencesGroup *error_group;
  AdwActionRow *error_row;
  AdwActionRow *progress_row;
  GtkProgressBar *progress_bar;
  AdwExpanderRow *mirror_row;
  AdwEntryRow *url_entry;
  AdwEntryRow *sha256_entry;
};

G_DEFINE_FINAL_TYPE (LeafWeightsPage, leaf_weights_page, ADW_TYPE_PREFERENCES_PAGE)

enum {
  PROP_0,
  PROP_STORE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  WEIGHTS_READY,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* "7f5810bc…fca14934": enough to compare with a published hash at a glance. */
static char *
short_hash (const char *sha256)
{
  gsize length = strlen (sha256);

  if (length <= 16)
    return g_strdup (sha256);
  return g_strdup_printf ("%.8s…%s", sha256, sha256 + length - 8);
}

/* What people know the file as: the name it was imported from or downloaded as. The store's
 * own name is its hash. */
static char *
display_name (const LeafWeightsInfo *info)
{
  if (info->source != NULL && info->source[0] != '\0')
    {
      g_autoptr(GUri) uri = g_uri_parse (info->source, G_URI_FLAGS_NONE, NULL);
      const char *path = uri != NULL ? g_uri_get_path (uri) : info->source;
      g_autofree char *name = g_path_get_basename (path);

      if (name[0] != '\0' && !g_str_equal (name, "/") && !g_str_equal (name, "."))
        return g_steal_pointer (&name);
    }
  return g_path_get_basename (info->path);
}

static GtkWidget *
file_row_new (const LeafWeightsInfo *info,
              gboolean               in_use)
{
  g_autofree char *name = display_name (info);
  g_autofree char *hash = short_hash (info->sha256);
  g_autofree char *size = g_format_size (info->size);
  g_autofree char *subtitle = NULL;
  g_autofree char *tooltip = NULL;
  GtkWidget *row = adw_action_row_new ();

  /* Translators: "Official ImageNet weights", then "SHA-256 7f5810bc…fca14934 · 21.4 MB" */
  subtitle = g_strdup_printf (_("%s\nSHA-256 %s · %s"),
                              info->official
                              ? _("Official ImageNet weights")
                              : _("Not the official file: accepted after a key-and-shape check"),
                              hash, size);
  tooltip = g_strdup_printf ("%s\nSHA-256 %s", info->path, info->sha256);
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), name);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  adw_action_row_set_subtitle_lines (ADW_ACTION_ROW (row), 0);
  gtk_widget_set_tooltip_text (row, tooltip);
  adw_action_row_set_icon_name (ADW_ACTION_ROW (row),
                                info->official ? "emblem-ok-symbolic" : "dialog-warning-symbolic");
  if (!info->official)
    gtk_widget_add_css_class (row, "warning");
  if (in_use)
    {
      GtkWidget *label = gtk_label_new (_("Used for Training"));

      gtk_widget_add_css_class (label, "dim-label");
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), label);
    }
  return row;
}

/**
 * leaf_weights_page_refresh:
 *
 * Lists the files the store holds now.
 */
void
leaf_weights_page_refresh (LeafWeightsPage *self)
{
  g_autoptr(GPtrArray) files = NULL;
  g_autoptr(LeafWeightsInfo) in_use = NULL;

  g_return_if_fail (LEAF_IS_WEIGHTS_PAGE (self));

  for (guint i = 0; i < self->file_rows->len; i++)
    adw_preferences_group_remove (self->files_group, self->file_rows->pdata[i]);
  g_ptr_array_set_size (self->file_rows, 0);

  files = leaf_weights_store_list (self->store);
  in_use = leaf_weights_store_find_default (self->store);
  for (guint i = 0; i < files->len; i++)
    {
      LeafWeightsInfo *info = files->pdata[i];
      GtkWidget *row = file_row_new (info, in_use != NULL
                                           && g_str_equal (info->sha256, in_use->sha256));

      adw_preferences_group_add (self->files_group, row);
      g_ptr_array_add (self->file_rows, row);
    }
  gtk_widget_set_visible (GTK_WIDGET (self->empty_row), files->len == 0);
}

static void
update_actions (LeafWeightsPage *self)
{
  gboolean busy = self->cancellable != NULL;

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "weights.download", !busy);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "weights.import", !busy);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "weights.cancel", busy);
  gtk_widget_set_visible (GTK_WIDGET (self->progress_row), busy);
}

static void
show_error (LeafWeightsPage *self,
            const char      *title,
            const GError    *error)
{
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->error_row), title);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (self->error_row), error->message);
  gtk_widget_set_visible (GTK_WIDGET (self->error_group), TRUE);
}

/* Starts a job: takes the cancellable, hides an earlier error and shows the progress row. */
static GCancellable *
begin_job (LeafWeightsPage *self,
           const char      *title)
{
  g_assert (self->cancellable == NULL);

  self->cancellable = g_cancellable_new ();
  gtk_widget_set_visible (GTK_WIDGET (self->error_group), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->progress_row), title);
  adw_action_row_set_subtitle (self->progress_row, "");
  gtk_progress_bar_set_fraction (self->progress_bar, 0);
  update_actions (self);
  return self->cancellable;
}

/* Ends a job. FALSE when the page was disposed meanwhile and must not be touched. */
static gboolean
end_job (LeafWeightsPage *self)
{
  if (self->cancellable == NULL)
    return FALSE;
  g_clear_object (&self->cancellable);
  update_actions (self);
  return TRUE;
}

static void
finish_job (LeafWeightsPage *self,
            char            *path,
            const char      *failed_title,
            GError          *error)
{
  if (!end_job (self))
    return;
  leaf_weights_page_refresh (self);
  if (path == NULL)
    {
      show_error (self, g_error_matches (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_CANCELLED)
                        ? _("Download Stopped") : failed_title, error);
      return;
    }
  g_signal_emit (self, signals[WEIGHTS_READY], 0, path);
}

/* Download */

static void
on_fetch_progress_cb (goffset  received,
                      goffset  total,
                      gpointer user_data)
{
  LeafWeightsPage *self = user_data;
  g_autofree char *done = g_format_size (received);
  g_autofree char *text = NULL;

  if (self->cancellable == NULL)
    return;
  if (total > 0)
    {
      g_autofree char *all = g_format_size (total);
      double fraction = CLAMP ((double) received / total, 0, 1);

      /* Translators: "3.2 MB of 21.4 MB (15%)" */
      text = g_strdup_printf (_("%s of %s (%.0f%%)"), done, all, 100 * fraction);
      gtk_progress_bar_set_fraction (self->progress_bar, fraction);
    }
  else
    {
      /* Translators: bytes received so far, when the server did not say how many will come */
      text = g_strdup_printf (_("%s so far"), done);
      gtk_progress_bar_pulse (self->progress_bar);
    }
  adw_action_row_set_subtitle (self->progress_row, text);
}

static void
on_fetched_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(LeafWeightsPage) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = leaf_weights_store_fetch_finish (LEAF_WEIGHTS_STORE (object), result,
                                                           &error);

  finish_job (self, path, _("Download Failed"), error);
}

/* The mirror's address and hash, when the mirror row is switched on. FALSE, with the error
 * shown, when they are unusable. */
static gboolean
get_source (LeafWeightsPage  *self,
            char            **url,
            char            **sha256)
{
  g_autofree char *u = NULL;
  g_autofree char *s = NULL;

  *url = *sha256 = NULL;
  if (!adw_expander_row_get_enable_expansion (self->mirror_row))
    return TRUE;

  u = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->url_entry))));
  s = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->sha256_entry))));
  if (u[0] == '\0')
    {
      g_autoptr(GError) error = g_error_new_literal (LEAF_ENGINE_ERROR,
                                                     LEAF_ENGINE_ERROR_INVALID,
                                                     _("Enter the mirror’s address, or switch "
                                                       "the mirror off to download from "
                                                       "download.pytorch.org."));
      show_error (self, _("No Mirror Address"), error);
      return FALSE;
    }
  *url = g_steal_pointer (&u);
  *sha256 = s[0] != '\0' ? g_steal_pointer (&s) : NULL;
  return TRUE;
}

/**
 * leaf_weights_page_download:
 *
 * Downloads the official weights, or those of the mirror when its row is switched on, showing
 * progress; ::weights-ready follows once they are verified. Does nothing while another download
 * or import runs.
 */
void
leaf_weights_page_download (LeafWeightsPage *self)
{
  g_autofree char *url = NULL;
  g_autofree char *sha256 = NULL;
  GCancellable *cancellable;

  g_return_if_fail (LEAF_IS_WEIGHTS_PAGE (self));

  if (self->cancellable != NULL || !get_source (self, &url, &sha256))
    return;
  cancellable = begin_job (self, _("Downloading…"));
  /* The task's reference keeps self alive for the progress callbacks too. */
  leaf_weights_store_fetch_async (self->store, url, sha256, cancellable, on_fetch_progress_cb,
                                  self, on_fetched_cb, g_object_ref (self));
}

/* Import */

static void
on_imported_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(LeafWeightsPage) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = leaf_weights_store_import_finish (LEAF_WEIGHTS_STORE (object), result,
                                                            NULL, &error);

  finish_job (self, path, _("Import Failed"), error);
}

/**
 * leaf_weights_page_import_file:
 * @file: a local weight file
 *
 * Copies @file into the store once it is recognised as the official file or passes the
 * key-and-shape check; ::weights-ready follows.
 */
void
leaf_weights_page_import_file (LeafWeightsPage *self,
                               GFile           *file)
{
  g_autofree char *path = NULL;
  GCancellable *cancellable;

  g_return_if_fail (LEAF_IS_WEIGHTS_PAGE (self));
  g_return_if_fail (G_IS_FILE (file));

  if (self->cancellable != NULL)
    return;
  path = g_file_get_path (file);
  if (path == NULL)
    {
      g_autofree char *uri = g_file_get_uri (file);
      g_autoptr(GError) error = g_error_new (LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                                             _("Cannot import “%s”: weight files must be local "
                                               "files"), uri);
      show_error (self, _("Import Failed"), error);
      return;
    }
  cancellable = begin_job (self, _("Checking the weight file…"));
  gtk_progress_bar_pulse (self->progress_bar);
  leaf_weights_store_import_async (self->store, path, cancellable, on_imported_cb,
                                   g_object_ref (self));
}

static void
on_file_chosen_cb (GtkNativeDialog *dialog,
                   int              response,
                   gpointer         user_data)
{
  g_autoptr(LeafWeightsPage) self = user_data;

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));

      if (file != NULL)
        leaf_weights_page_import_file (self, file);
    }
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
}

static void
add_filter (GtkFileChooser *chooser,
            const char     *name,
            const char     *const *patterns)
{
  g_autoptr(GtkFileFilter) filter = gtk_file_filter_new ();

  gtk_file_filter_set_name (filter, name);
  for (guint i = 0; patterns[i] != NULL; i++)
    gtk_file_filter_add_pattern (filter, patterns[i]);
  gtk_file_chooser_add_filter (chooser, filter);
}

/**
 * leaf_weights_page_choose_file:
 *
 * Asks for a weight file and imports it.
 */
void
leaf_weights_page_choose_file (LeafWeightsPage *self)
{
  static const char *const weights[] = { "*.pth", "*.safetensors", NULL };
  static const char *const pth[] = { "*.pth", NULL };
  static const char *const safetensors[] = { "*.safetensors", NULL };
  GtkRoot *root;
  GtkFileChooserNative *dialog;

  g_return_if_fail (LEAF_IS_WEIGHTS_PAGE (self));

  root = gtk_widget_get_root (GTK_WIDGET (self));
  dialog = gtk_file_chooser_native_new (_("Import Weights"),
                                        GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                        GTK_FILE_CHOOSER_ACTION_OPEN, _("_Import"),
                                        _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (dialog), TRUE);
  add_filter (GTK_FILE_CHOOSER (dialog), _("Weight Files"), weights);
  add_filter (GTK_FILE_CHOOSER (dialog), _("PyTorch Files (.pth)"), pth);
  add_filter (GTK_FILE_CHOOSER (dialog), _("Safetensors Files"), safetensors);
  g_signal_connect (dialog, "response", G_CALLBACK (on_file_chosen_cb), g_object_ref (self));
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

/* Actions */

static void
download_action (GtkWidget  *widget,
                 const char *action_name,
                 GVariant   *parameter)
{
  leaf_weights_page_download (LEAF_WEIGHTS_PAGE (widget));
}

static void
import_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  leaf_weights_page_choose_file (LEAF_WEIGHTS_PAGE (widget));
}

static void
cancel_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  LeafWeightsPage *self = LEAF_WEIGHTS_PAGE (widget);

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
}

/* GObject */

static void
leaf_weights_page_constructed (GObject *object)
{
  LeafWeightsPage *self = LEAF_WEIGHTS_PAGE (object);

  G_OBJECT_CLASS (leaf_weights_page_parent_class)->constructed (object);

  if (self->store == NULL)
    self->store = leaf_weights_store_new (NULL);
  leaf_weights_page_refresh (self);
}

static void
leaf_weights_page_dispose (GObject *object)
{
  LeafWeightsPage *self = LEAF_WEIGHTS_PAGE (object);

  /* The jobs' callbacks see the missing cancellable and leave the page alone. */
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->file_rows, g_ptr_array_unref);
  gtk_widget_dispose_template (GTK_WIDGET (self), LEAF_TYPE_WEIGHTS_PAGE);
  g_clear_object (&self->store);
  G_OBJECT_CLASS (leaf_weights_page_parent_class)->dispose (object);
}

static void
leaf_weights_page_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  LeafWeightsPage *self = LEAF_WEIGHTS_PAGE (object);

  switch (prop_id)
    {
    case PROP_STORE:
      g_value_set_object (value, self->store);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
leaf_weights_page_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  LeafWeightsPage *self = LEAF_WEIGHTS_PAGE (object);

  switch (prop_id)
    {
    case PROP_STORE:
      g_set_object (&self->store, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
leaf_weights_page_class_init (LeafWeightsPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = leaf_weights_page_constructed;
  object_class->dispose = leaf_weights_page_dispose;
  object_class->get_property = leaf_weights_page_get_property;
  object_class->set_property = leaf_weights_page_set_property;

  /* NULL means the default store, in the user's cache folder. */
  properties[PROP_STORE] =
    g_param_spec_object ("store", NULL, NULL, LEAF_TYPE_WEIGHTS_STORE,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * LeafWeightsPage::weights-ready:
   * @self: the page
   * @path: the verified weight file in the store
   *
   * A download or an import finished; the file is ready to train from.
   */
  signals[WEIGHTS_READY] = g_signal_new ("weights-ready", G_TYPE_FROM_CLASS (klass),
                                         G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                         G_TYPE_NONE, 1, G_TYPE_STRING);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/leafscope/Leafscope/leaf-weights-page.ui");
  gtk_widget_class_bind_template_child (widget_class, LeafWeightsPage, files_group);
  gtk_widget_class_bind_template_child (widget_class, LeafWeightsPage, empty_row);
  gtk_widget_class_bind_template_child (widget_class, LeafWeightsPage, error_group);
  gtk_widget_class_bind_template_child (widget_class, LeafWeightsPage, error_row);
  gtk_widget_class_bind_template_child (widget_class, LeafWeightsPage, progress_row);
  gtk_widget_class_bind_template_child (widget_class, LeafWeightsPage, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, LeafWeightsPage, mirror_row);
  gtk_widget_class_bind_template_child (widget_class, LeafWeightsPage, url_entry);
  gtk_widget_class_bind_template_child (widget_class, LeafWeightsPage, sha256_entry);

  gtk_widget_class_install_action (widget_class, "weights.download", NULL, download_action);
  gtk_widget_class_install_action (widget_class, "weights.import", NULL, import_action);
  gtk_widget_class_install_action (widget_class, "weights.cancel", NULL, cancel_action);
}

static void
leaf_weights_page_init (LeafWeightsPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->file_rows = g_ptr_array_new ();
  update_actions (self);
}

/**
 * leaf_weights_page_new:
 * @store: (nullable): the store to show; %NULL for the default one
 */
GtkWidget *
leaf_weights_page_new (LeafWeightsStore *store)
{
  g_return_val_if_fail (store == NULL || LEAF_IS_WEIGHTS_STORE (store), NULL);
  return g_object_new (LEAF_TYPE_WEIGHTS_PAGE, "store", store, NULL);
}

/**
 * leaf_weights_page_get_store:
 *
 * Returns: (transfer none): the store shown
 */
LeafWeightsStore *
leaf_weights_page_get_store (LeafWeightsPage *self)
{
  g_return_val_if_fail (LEAF_IS_WEIGHTS_PAGE (self), NULL);
  return self->store;
}

/**
 * leaf_weights_page_is_busy:
 *
 * Returns: whether a download or an import is running
 */
gboolean
leaf_weights_page_is_busy (LeafWeightsPage *self)
{
  g_return_val_if_fail (LEAF_IS_WEIGHTS_PAGE (self), FALSE);
  return self->cancellable != NULL;
}
