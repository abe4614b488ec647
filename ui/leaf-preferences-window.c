/* leaf-preferences-window.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-preferences-window"

#include "config.h"

#include <glib/gi18n.h>

#include "leaf-engine.h"
#include "leaf-preferences-window.h"
#include "leaf-settings.h"
#include "leaf-weights-page.h"

struct _LeafPreferencesWindow
{
  AdwPreferencesWindow parent_instance;

  GSettings *settings;

  /* Template widgets */
  AdwComboRow *style_row;
  GtkSpinButton *thumbnail_size_spin;
  GtkSwitch *file_names_switch;
  GtkSwitch *model_threshold_switch;
  AdwActionRow *refer_threshold_row;
  GtkSpinButton *refer_threshold_spin;
  AdwComboRow *device_row;
  AdwEntryRow *labeller_row;
  LeafWeightsPage *weights_page;
};

G_DEFINE_FINAL_TYPE (LeafPreferencesWindow, leaf_preferences_window, ADW_TYPE_PREFERENCES_WINDOW)

/* Each combo row lists its schema enum in order; the mappings' user data is the list of nicks. */
static const char *const styles[] = { "default", "light", "dark", NULL };
static const char *const devices[] = { "auto", "cpu", "cuda", NULL };

static gboolean
nick_get_mapping (GValue   *value,
                  GVariant *variant,
                  gpointer  user_data)
{
  const char *const *nicks = user_data;
  const char *nick = g_variant_get_string (variant, NULL);

  for (guint i = 0; nicks[i] != NULL; i++)
    if (g_str_equal (nick, nicks[i]))
      {
        g_value_set_uint (value, i);
        return TRUE;
      }
  return FALSE;
}

static GVariant *
nick_set_mapping (const GValue       *value,
                  const GVariantType *expected_type,
                  gpointer            user_data)
{
  const char *const *nicks = user_data;
  guint index = g_value_get_uint (value);

  return index < g_strv_length ((char **) nicks) ? g_variant_new_string (nicks[index]) : NULL;
}

/* The application hands the choice to the engine (leaf-application.c); here it is also tried at
 * once, so that a device that is not there is said while the choice is still in view. */
static void
on_device_changed_cb (GSettings  *settings,
                      const char *key,
                      gpointer    user_data)
{
  LeafPreferencesWindow *self = user_data;
  g_autofree char *name = g_settings_get_string (settings, key);
  g_autoptr(GError) error = NULL;

  if (!leaf_engine_set_device (name, LEAF_DEVICE_SOURCE_SETTINGS, &error)
      || !leaf_engine_init_torch (0, &error))
    {
      AdwToast *toast = adw_toast_new (error->message);

      adw_toast_set_timeout (toast, 0);
      adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self), toast);
    }
}

static void
leaf_preferences_window_dispose (GObject *object)
{
  LeafPreferencesWindow *self = LEAF_PREFERENCES_WINDOW (object);

  g_clear_object (&self->settings);
  G_OBJECT_CLASS (leaf_preferences_window_parent_class)->dispose (object);
}

static void
leaf_preferences_window_class_init (LeafPreferencesWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = leaf_preferences_window_dispose;

  g_type_ensure (LEAF_TYPE_WEIGHTS_PAGE);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/leafscope/Leafscope/leaf-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, LeafPreferencesWindow, style_row);
  gtk_widget_class_bind_template_child (widget_class, LeafPreferencesWindow, thumbnail_size_spin);
  gtk_widget_class_bind_template_child (widget_class, LeafPreferencesWindow, file_names_switch);
  gtk_widget_class_bind_template_child (widget_class, LeafPreferencesWindow,
                                        model_threshold_switch);
  gtk_widget_class_bind_template_child (widget_class, LeafPreferencesWindow, refer_threshold_row);
  gtk_widget_class_bind_template_child (widget_class, LeafPreferencesWindow, refer_threshold_spin);
  gtk_widget_class_bind_template_child (widget_class, LeafPreferencesWindow, device_row);
  gtk_widget_class_bind_template_child (widget_class, LeafPreferencesWindow, labeller_row);
  gtk_widget_class_bind_template_child (widget_class, LeafPreferencesWindow, weights_page);
}

static void
leaf_preferences_window_init (LeafPreferencesWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->settings = leaf_settings_new ();
  if (self->settings == NULL)
    {
      /* Without the schema nothing would be kept; say so rather than pretend. */
      gtk_widget_set_sensitive (GTK_WIDGET (self->style_row), FALSE);
      gtk_widget_set_sensitive (GTK_WIDGET (self->thumbnail_size_spin), FALSE);
      gtk_widget_set_sensitive (GTK_WIDGET (self->file_names_switch), FALSE);
      gtk_widget_set_sensitive (GTK_WIDGET (self->model_threshold_switch), FALSE);
      gtk_widget_set_sensitive (GTK_WIDGET (self->refer_threshold_row), FALSE);
      gtk_widget_set_sensitive (GTK_WIDGET (self->device_row), FALSE);
      gtk_widget_set_sensitive (GTK_WIDGET (self->labeller_row), FALSE);
      return;
    }
  g_settings_bind_with_mapping (self->settings, "color-scheme", self->style_row, "selected",
                                G_SETTINGS_BIND_DEFAULT, nick_get_mapping, nick_set_mapping,
                                (gpointer) styles, NULL);
  g_settings_bind (self->settings, "thumbnail-size", self->thumbnail_size_spin, "value",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "show-file-names", self->file_names_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "labeller", self->labeller_row, "text",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "refer-use-model-threshold", self->model_threshold_switch,
                   "active", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "refer-threshold", self->refer_threshold_spin, "value",
                   G_SETTINGS_BIND_DEFAULT);
  /* A fixed threshold only matters while each model's own one is not used. */
  g_settings_bind (self->settings, "refer-use-model-threshold", self->refer_threshold_row,
                   "sensitive", G_SETTINGS_BIND_GET | G_SETTINGS_BIND_INVERT_BOOLEAN);
  g_settings_bind_with_mapping (self->settings, "device", self->device_row, "selected",
                                G_SETTINGS_BIND_DEFAULT, nick_get_mapping, nick_set_mapping,
                                (gpointer) devices, NULL);
  g_signal_connect_object (self->settings, "changed::device", G_CALLBACK (on_device_changed_cb),
                           self, 0);
}

GtkWidget *
leaf_preferences_window_new (void)
{
  return g_object_new (LEAF_TYPE_PREFERENCES_WINDOW, NULL);
}

/**
 * leaf_preferences_window_show_weights:
 *
 * Turns to the Weights page.
 *
 * Returns: (transfer none): that page
 */
LeafWeightsPage *
leaf_preferences_window_show_weights (LeafPreferencesWindow *self)
{
  g_return_val_if_fail (LEAF_IS_PREFERENCES_WINDOW (self), NULL);

  adw_preferences_window_set_visible_page (ADW_PREFERENCES_WINDOW (self),
                                           ADW_PREFERENCES_PAGE (self->weights_page));
  return self->weights_page;
}
