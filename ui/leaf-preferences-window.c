/* leaf-preferences-window.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-preferences-window"

#include "config.h"

#include <glib/gi18n.h>

#include "leaf-preferences-window.h"
#include "leaf-settings.h"

struct _LeafPreferencesWindow
{
  AdwPreferencesWindow parent_instance;

  GSettings *settings;

  /* Template widgets */
  AdwComboRow *style_row;
  GtkSpinButton *thumbnail_size_spin;
  GtkSwitch *file_names_switch;
};

G_DEFINE_FINAL_TYPE (LeafPreferencesWindow, leaf_preferences_window, ADW_TYPE_PREFERENCES_WINDOW)

/* The combo row lists the schema's enum in order: default, light, dark. */
static const char *const styles[] = { "default", "light", "dark" };

static gboolean
style_get_mapping (GValue   *value,
                   GVariant *variant,
                   gpointer  user_data)
{
  const char *nick = g_variant_get_string (variant, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (styles); i++)
    if (g_str_equal (nick, styles[i]))
      {
        g_value_set_uint (value, i);
        return TRUE;
      }
  return FALSE;
}

static GVariant *
style_set_mapping (const GValue       *value,
                   const GVariantType *expected_type,
                   gpointer            user_data)
{
  guint index = g_value_get_uint (value);

  return index < G_N_ELEMENTS (styles) ? g_variant_new_string (styles[index]) : NULL;
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

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/leafscope/Leafscope/leaf-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, LeafPreferencesWindow, style_row);
  gtk_widget_class_bind_template_child (widget_class, LeafPreferencesWindow, thumbnail_size_spin);
  gtk_widget_class_bind_template_child (widget_class, LeafPreferencesWindow, file_names_switch);
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
      return;
    }
  g_settings_bind_with_mapping (self->settings, "color-scheme", self->style_row, "selected",
                                G_SETTINGS_BIND_DEFAULT, style_get_mapping, style_set_mapping,
                                NULL, NULL);
  g_settings_bind (self->settings, "thumbnail-size", self->thumbnail_size_spin, "value",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "show-file-names", self->file_names_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
}

GtkWidget *
leaf_preferences_window_new (void)
{
  return g_object_new (LEAF_TYPE_PREFERENCES_WINDOW, NULL);
}
