/* leaf-class-color.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Class colours come from the catalog as "#rrggbb". Rather than a style provider per widget, a
 * single provider on the display holds one rule per colour ever shown, keyed by the colour itself
 * (`.leaf-color-3584e4`), so that two catalogs in two windows cannot clash and a recoloured class
 * only needs its widgets to switch CSS class.
 */

#define G_LOG_DOMAIN "leaf-class-color"

#include "config.h"

#include <glib/gi18n.h>

#include <string.h>

#include "leaf-class-color.h"

#define CLASS_KEY "leaf-class-color-css-class"

/* GNOME's palette, the 3 shades: distinct, and readable with white text. */
static const char *const palette[] = {
  "#2ec27e", "#e66100", "#1c71d8", "#c01c28", "#9141ac",
  "#986a44", "#26a269", "#e5a50a", "#3584e4", "#63452c",
};

/**
 * leaf_class_color_suggest:
 * @index: how many classes exist already
 *
 * Returns: a colour for a new class, different from its neighbours
 */
const char *
leaf_class_color_suggest (guint index)
{
  return palette[index % G_N_ELEMENTS (palette)];
}

static gboolean
parse_color (const char *color,
             GdkRGBA    *rgba)
{
  return color != NULL && strlen (color) == 7 && color[0] == '#' && gdk_rgba_parse (rgba, color);
}

static const char *
ensure_rule (GdkDisplay *display,
             const char *color)
{
  static GHashTable *known; /* "#rrggbb" → CSS class name */
  static GtkCssProvider *provider;
  static GString *css;
  const char *css_class;
  GdkRGBA rgba;
  double luminance;

  if (known == NULL)
    {
      known = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      css = g_string_new (NULL);
      provider = gtk_css_provider_new ();
      gtk_style_context_add_provider_for_display (display, GTK_STYLE_PROVIDER (provider),
                                                  GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
    }

  css_class = g_hash_table_lookup (known, color);
  if (css_class != NULL)
    return css_class;

  if (!parse_color (color, &rgba))
    return NULL;
  /* Relative luminance decides between white and dark text on the chip. */
  luminance = 0.2126 * rgba.red + 0.7152 * rgba.green + 0.0722 * rgba.blue;
  css_class = g_strdup_printf ("leaf-color-%02x%02x%02x",
                               (guint) (rgba.red * 255 + 0.5), (guint) (rgba.green * 255 + 0.5),
                               (guint) (rgba.blue * 255 + 0.5));
  g_string_append_printf (css, ".%s { background-color: %s; color: %s; }\n",
                          css_class, color, luminance > 0.6 ? "rgba(0,0,0,0.8)" : "white");
  gtk_css_provider_load_from_data (provider, css->str, css->len);
  g_hash_table_insert (known, g_ascii_strdown (color, -1), (char *) css_class);
  return css_class;
}

/**
 * leaf_widget_set_class_color:
 * @widget: a widget, typically with the `class-chip` or `class-dot` style class
 * @color: (nullable): "#rrggbb", or %NULL to remove the colour
 *
 * Gives @widget @color as background and a readable foreground.
 */
void
leaf_widget_set_class_color (GtkWidget  *widget,
                             const char *color)
{
  const char *old, *css_class = NULL;

  g_return_if_fail (GTK_IS_WIDGET (widget));

  if (color != NULL)
    {
      g_autofree char *lower = g_ascii_strdown (color, -1);

      css_class = ensure_rule (gtk_widget_get_display (widget), lower);
    }
  old = g_object_get_data (G_OBJECT (widget), CLASS_KEY);
  if (g_strcmp0 (old, css_class) == 0)
    return;
  if (old != NULL)
    gtk_widget_remove_css_class (widget, old);
  if (css_class != NULL)
    gtk_widget_add_css_class (widget, css_class);
  /* The string lives in the table for the life of the process. */
  g_object_set_data (G_OBJECT (widget), CLASS_KEY, (gpointer) css_class);
}

/**
 * leaf_class_button_new:
 * @info: the class
 * @key: the key that labels with it, shown on the button, or 0 for none
 * @action_name: an action taking the class id (type "x")
 *
 * Returns: (transfer floating): a button in the class's colour that activates @action_name
 */
GtkWidget *
leaf_class_button_new (const LeafClassInfo *info,
                       guint                key,
                       const char          *action_name)
{
  GtkWidget *button = gtk_button_new ();
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *name = gtk_label_new (info->name);
  g_autofree char *tooltip = NULL;

  if (key > 0)
    {
      g_autofree char *text = g_strdup_printf ("%u", key);
      GtkWidget *keycap = gtk_label_new (text);

      gtk_widget_add_css_class (keycap, "key-hint");
      gtk_widget_set_valign (keycap, GTK_ALIGN_CENTER);
      gtk_box_append (GTK_BOX (box), keycap);
      /* Translators: tooltip of a class button; %s is the class name, %u its key */
      tooltip = g_strdup_printf (_("Label as %s (%u)"), info->name, key);
    }
  else
    tooltip = g_strdup_printf (_("Label as %s"), info->name);
  gtk_label_set_ellipsize (GTK_LABEL (name), PANGO_ELLIPSIZE_END);
  gtk_label_set_max_width_chars (GTK_LABEL (name), 14);
  gtk_box_append (GTK_BOX (box), name);
  gtk_button_set_child (GTK_BUTTON (button), box);
  gtk_widget_add_css_class (button, "class-button");
  leaf_widget_set_class_color (button, info->color);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (button), action_name);
  gtk_actionable_set_action_target (GTK_ACTIONABLE (button), "x", info->id);
  gtk_widget_set_tooltip_text (button, tooltip);
  return button;
}
