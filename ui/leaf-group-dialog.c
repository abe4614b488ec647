/* leaf-group-dialog.c: group keys from the window
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Photos of one plant, specimen or session look alike: when some land in the training split and
 * others in the validation split, validation accuracy says more about the plants than about the
 * disease. A group key keeps them in one split. An import sets it from each file's path with a
 * regular expression (LeafImportOptions.group_pattern, as `import --group-pattern` does); here
 * the user picks none, the folder holding each photo, or a pattern of their own, and sees the
 * keys a few of the folder's photos would get before anything is imported. The Library sets or
 * clears the key of selected photos.
 */

#define G_LOG_DOMAIN "leaf-group-dialog"

#include "config.h"

#include <adwaita.h>
#include <glib/gi18n.h>
#include <string.h>

#include "leaf-group-dialog.h"
#include "leaf-image.h"
#include "leaf-import.h"
#include "leaf-toast.h"

/* Enough photos, and few enough entries walked, that the dialog opens at once on a large tree */
#define MAX_SAMPLES 400
#define MAX_ENTRIES 4000
#define MAX_DEPTH 6
#define N_PREVIEW 5

typedef enum
{
  GROUP_NONE,
  GROUP_FOLDER,
  GROUP_PATTERN,
  N_GROUP_MODES
} GroupMode;

typedef struct
{
  GtkCheckButton *modes[N_GROUP_MODES];
  GtkEntry *pattern_entry;
  GtkLabel *preview;
  GPtrArray *samples;  /* char *: photo paths below the folder, in the order walked */
  LeafGroupPatternFunc chosen;
  gpointer user_data;
  GDestroyNotify notify;
} ImportGroup;

static void
import_group_free (gpointer data)
{
  ImportGroup *group = data;

  g_ptr_array_unref (group->samples);
  if (group->notify != NULL)
    group->notify (group->user_data);
  g_free (group);
}

/* Cancel, and the answer that does it, which Enter gives. */
static void
add_responses (AdwMessageDialog *dialog,
               const char       *id,
               const char       *label)
{
  adw_message_dialog_add_responses (dialog, "cancel", _("_Cancel"), id, label, NULL);
  adw_message_dialog_set_response_appearance (dialog, id, ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (dialog, id);
  adw_message_dialog_set_close_response (dialog, "cancel");
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return g_strcmp0 (*(char * const *) a, *(char * const *) b);
}

/* Photo paths below @path, depth first in name order, as the import would meet them. */
static void
collect_samples (const char *path,
                 const char *relative,
                 guint       depth,
                 guint      *n_entries,
                 GPtrArray  *samples)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  if (dir == NULL)
    return;
  while ((name = g_dir_read_name (dir)) != NULL && (*n_entries)++ < MAX_ENTRIES)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  for (guint i = 0; i < names->len && samples->len < MAX_SAMPLES; i++)
    {
      g_autofree char *child = g_build_filename (path, names->pdata[i], NULL);
      g_autofree char *child_relative = relative != NULL
                                        ? g_build_filename (relative, names->pdata[i], NULL)
                                        : g_strdup (names->pdata[i]);

      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        {
          if (depth < MAX_DEPTH)
            collect_samples (child, child_relative, depth + 1, n_entries, samples);
        }
      else if (leaf_image_is_photo_name (names->pdata[i]))
        g_ptr_array_add (samples, g_steal_pointer (&child_relative));
    }
}

static GroupMode
import_group_mode (ImportGroup *group)
{
  for (guint mode = 0; mode < N_GROUP_MODES; mode++)
    if (gtk_check_button_get_active (group->modes[mode]))
      return mode;
  return GROUP_NONE;
}

/* The pattern for the import, or NULL for none. */
static const char *
import_group_pattern (ImportGroup *group)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (group->pattern_entry));

  switch (import_group_mode (group))
    {
    case GROUP_FOLDER:
      return LEAF_IMPORT_GROUP_BY_FOLDER;
    case GROUP_PATTERN:
      return text[0] != '\0' ? text : NULL;
    case GROUP_NONE:
    case N_GROUP_MODES:
    default:
      return NULL;
    }
}

static void
update_preview (AdwMessageDialog *dialog)
{
  ImportGroup *group = g_object_get_data (G_OBJECT (dialog), "leaf-import-group");
  const char *pattern = import_group_pattern (group);
  g_autoptr(GRegex) regex = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(GHashTable) keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint n_grouped = 0, n_top = 0;

  gtk_widget_set_sensitive (GTK_WIDGET (group->pattern_entry),
                            import_group_mode (group) == GROUP_PATTERN);
  if (pattern != NULL)
    regex = g_regex_new (pattern, G_REGEX_OPTIMIZE, 0, &error);
  adw_message_dialog_set_response_enabled (dialog, "import", error == NULL);
  if (error != NULL)
    {
      /* Translators: %s is GLib's explanation of what is wrong with a regular expression */
      g_autofree char *message = g_strdup_printf (_("Not a valid pattern: %s"), error->message);

      gtk_label_set_text (group->preview, message);
      return;
    }
  if (pattern == NULL)
    {
      gtk_label_set_text (group->preview, _("Each photo is put in the training or validation "
                                            "photos on its own, at random."));
      return;
    }
  if (group->samples->len == 0)
    {
      gtk_label_set_text (group->preview, _("No photos found in this folder."));
      return;
    }

  for (guint i = 0; i < group->samples->len; i++)
    {
      char *key = leaf_import_group_key (regex, group->samples->pdata[i]);

      if (key != NULL)
        {
          const char *relative = group->samples->pdata[i];

          n_grouped++;
          /* A key that is the photo's top folder, which the import makes its class */
          n_top += g_str_has_prefix (relative, key) && relative[strlen (key)] == G_DIR_SEPARATOR
                   && strchr (key, G_DIR_SEPARATOR) == NULL;
          g_hash_table_add (keys, key);
        }
    }
  g_string_append_printf (text,
                          /* Translators: the preview of the group keys an import would give */
                          ngettext ("%u of the first %u photos get a group key, %u group in all:",
                                    "%u of the first %u photos get a group key, %u groups in all:",
                                    g_hash_table_size (keys)),
                          n_grouped, group->samples->len, g_hash_table_size (keys));
  /* Photos spread over the folder, so that the preview shows more than one sub-folder. */
  for (guint p = 0; p < MIN (N_PREVIEW, group->samples->len); p++)
    {
      const char *relative = group->samples->pdata[(gsize) p * group->samples->len
                                                   / MIN (N_PREVIEW, group->samples->len)];
      g_autofree char *key = leaf_import_group_key (regex, relative);
      g_autofree char *display = g_filename_display_name (relative);

      g_string_append_c (text, '\n');
      if (key != NULL)
        /* Translators: a file, then the group key an import would give it */
        g_string_append_printf (text, _("%s → %s"), display, key);
      else
        /* Translators: a file the group pattern does not match */
        g_string_append_printf (text, _("%s → no group"), display);
    }
  if (n_grouped > 0 && n_top == n_grouped)
    g_string_append_printf (text, "\n%s",
                            _("Each group is a whole top folder, which the import makes a "
                              "class: all the photos of a class would land in one split. Keep "
                              "each plant in a folder of its own below its class folder, or "
                              "choose a pattern."));
  gtk_label_set_text (group->preview, text->str);
}

static void
on_import_group_response_cb (AdwMessageDialog *dialog,
                             const char       *response)
{
  ImportGroup *group = g_object_get_data (G_OBJECT (dialog), "leaf-import-group");

  if (g_strcmp0 (response, "import") == 0)
    group->chosen (import_group_pattern (group), group->user_data);
}

/**
 * leaf_import_group_dialog_present:
 * @parent: the window importing
 * @folder: the folder to import
 * @chosen: (scope notified): called when the user chose to import, with the group pattern
 * @notify: (nullable): frees @user_data once the dialog is gone, whatever the answer
 *
 * Asks how to group the photos of @folder, with a preview of the keys a few of them would get.
 */
void
leaf_import_group_dialog_present (GtkWindow            *parent,
                                  GFile                *folder,
                                  LeafGroupPatternFunc  chosen,
                                  gpointer              user_data,
                                  GDestroyNotify        notify)
{
  g_autofree char *path = g_file_get_path (folder);
  g_autofree char *name = g_file_get_basename (folder);
  g_autofree char *heading = NULL;
  GtkWidget *dialog, *box, *explanation;
  ImportGroup *group = g_new0 (ImportGroup, 1);
  static const char *titles[N_GROUP_MODES] = {
    N_("_None: split photo by photo"),
    N_("_Sub-folder: the folder each photo is in, one per plant"),
    N_("_File-name pattern"),
  };
  guint n_entries = 0;

  group->samples = g_ptr_array_new_with_free_func (g_free);
  group->chosen = chosen;
  group->user_data = user_data;
  group->notify = notify;
  if (path != NULL)
    collect_samples (path, NULL, 0, &n_entries, group->samples);

  /* Translators: %s is the name of the folder being imported */
  heading = g_strdup_printf (_("Import “%s”"), name);
  dialog = adw_message_dialog_new (parent, heading,
                                   _("Photos of one plant, specimen or session look alike. "
                                     "Give them one group key, and training keeps them together "
                                     "in the training or the validation photos, so that "
                                     "validation accuracy is not flattered."));
  g_object_set_data_full (G_OBJECT (dialog), "leaf-import-group", group, import_group_free);
  box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  /* Translators: the heading of the choices of how to group imported photos */
  gtk_box_append (GTK_BOX (box), gtk_label_new (_("Group photos by")));
  gtk_widget_set_halign (gtk_widget_get_first_child (box), GTK_ALIGN_START);
  gtk_widget_add_css_class (gtk_widget_get_first_child (box), "heading");
  for (guint mode = 0; mode < N_GROUP_MODES; mode++)
    {
      group->modes[mode] = GTK_CHECK_BUTTON (gtk_check_button_new_with_mnemonic (_(titles[mode])));
      if (mode > 0)
        gtk_check_button_set_group (group->modes[mode], group->modes[0]);
      gtk_box_append (GTK_BOX (box), GTK_WIDGET (group->modes[mode]));
    }

  group->pattern_entry = GTK_ENTRY (gtk_entry_new ());
  gtk_entry_set_placeholder_text (group->pattern_entry, "^[^/]+/(plant-\\d+)_");
  gtk_accessible_update_property (GTK_ACCESSIBLE (group->pattern_entry),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, _("File-name pattern"), -1);
  gtk_widget_set_margin_start (GTK_WIDGET (group->pattern_entry), 24);
  g_signal_connect_object (group->pattern_entry, "changed", G_CALLBACK (update_preview),
                           dialog, G_CONNECT_SWAPPED);
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (group->pattern_entry));
  explanation = gtk_label_new (_("A regular expression matched against each photo’s path below "
                                 "the folder, such as healthy/plant-12_leaf3.jpg. Its first "
                                 "group in parentheses, or else the whole match, becomes the "
                                 "group key: ^[^/]+/(plant-\\d+)_ gives plant-12."));
  gtk_label_set_wrap (GTK_LABEL (explanation), TRUE);
  gtk_label_set_xalign (GTK_LABEL (explanation), 0);
  gtk_label_set_max_width_chars (GTK_LABEL (explanation), 50);
  gtk_widget_set_margin_start (explanation, 24);
  gtk_widget_add_css_class (explanation, "dim-label");
  gtk_widget_add_css_class (explanation, "caption");
  gtk_box_append (GTK_BOX (box), explanation);

  group->preview = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_wrap (group->preview, TRUE);
  gtk_label_set_wrap_mode (group->preview, PANGO_WRAP_WORD_CHAR);
  gtk_label_set_xalign (group->preview, 0);
  gtk_label_set_max_width_chars (group->preview, 50);
  gtk_label_set_selectable (group->preview, TRUE);
  gtk_widget_set_margin_top (GTK_WIDGET (group->preview), 6);
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (group->preview));
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), box);

  add_responses (ADW_MESSAGE_DIALOG (dialog), "import", _("_Import"));
  gtk_entry_set_activates_default (group->pattern_entry, TRUE);
  for (guint mode = 0; mode < N_GROUP_MODES; mode++)
    g_signal_connect_object (group->modes[mode], "toggled", G_CALLBACK (update_preview),
                             dialog, G_CONNECT_SWAPPED);
  g_signal_connect (dialog, "response", G_CALLBACK (on_import_group_response_cb), NULL);
  gtk_check_button_set_active (group->modes[GROUP_NONE], TRUE);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* The Library's Set Group ------------------------------------------------------------------- */

typedef struct
{
  LeafCatalog *catalog;
  LeafImageList *images;
  GArray *ids;
  GtkEntry *entry;
} GroupKey;

static void
group_key_free (gpointer data)
{
  GroupKey *group = data;

  g_clear_object (&group->catalog);
  g_clear_object (&group->images);
  g_array_unref (group->ids);
  g_free (group);
}

static void
on_group_key_response_cb (AdwMessageDialog *dialog,
                          const char       *response)
{
  GroupKey *group = g_object_get_data (G_OBJECT (dialog), "leaf-group-key");
  GtkWidget *window = GTK_WIDGET (gtk_window_get_transient_for (GTK_WINDOW (dialog)));
  g_autofree char *key = NULL;
  g_autofree char *message = NULL;
  g_autoptr(GError) error = NULL;

  if (g_strcmp0 (response, "set") != 0)
    return;
  key = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (group->entry))));
  if (!leaf_catalog_set_group_key (group->catalog, (const gint64 *) (gpointer) group->ids->data,
                                   group->ids->len, key, &error))
    {
      if (window != NULL)
        leaf_show_toast_error (window, error);
      return;
    }
  /* The catalog does not say which photos changed: the grid reads its photos again. */
  if (group->images != NULL)
    leaf_image_list_refresh (group->images);
  if (key[0] != '\0')
    /* Translators: %s is a group key, %u how many photos now have it */
    message = g_strdup_printf (ngettext ("Group “%s” set for %u photo",
                                         "Group “%s” set for %u photos", group->ids->len),
                               key, group->ids->len);
  else
    message = g_strdup_printf (ngettext ("Group removed from %u photo",
                                         "Group removed from %u photos", group->ids->len),
                               group->ids->len);
  if (window != NULL)
    leaf_show_toast (window, message);
}

/* The key the photos share, or NULL when they have none or different ones. */
static char *
shared_group_key (LeafCatalog *catalog,
                  GArray      *ids)
{
  char *shared = NULL;

  for (guint i = 0; i < ids->len; i++)
    {
      g_autoptr(LeafCatalogImage) image = leaf_catalog_get_image (catalog,
                                                                 g_array_index (ids, gint64, i),
                                                                 NULL);
      const char *key = image ? leaf_catalog_image_get_group_key (image) : NULL;

      if (i == 0)
        shared = g_strdup (key);
      else if (g_strcmp0 (shared, key) != 0)
        {
          g_clear_pointer (&shared, g_free);
          break;
        }
    }
  return shared;
}

/**
 * leaf_group_key_dialog_present:
 * @parent: a widget of the window
 * @images: (nullable): the grid's photos, read again once the keys are set
 * @ids: (element-type gint64): the selected photos
 *
 * Asks for the group key of the photos, prefilled with the one they share; an empty key removes
 * their group.
 */
void
leaf_group_key_dialog_present (GtkWidget     *parent,
                               LeafCatalog   *catalog,
                               LeafImageList *images,
                               GArray        *ids)
{
  g_autofree char *heading = NULL;
  g_autofree char *shared = NULL;
  GtkWidget *dialog;
  GroupKey *group;

  g_return_if_fail (LEAF_IS_CATALOG (catalog));

  if (ids->len == 0)
    return;
  group = g_new0 (GroupKey, 1);
  group->catalog = g_object_ref (catalog);
  group->images = images != NULL ? g_object_ref (images) : NULL;
  group->ids = g_array_ref (ids);
  shared = shared_group_key (catalog, ids);

  heading = g_strdup_printf (ngettext ("Group of %u Photo", "Group of %u Photos", ids->len),
                             ids->len);
  dialog = adw_message_dialog_new (GTK_WINDOW (gtk_widget_get_root (parent)), heading,
                                   _("Photos of one plant, specimen or session share a group "
                                     "key, and training keeps them in one split. Leave it empty "
                                     "to remove the group. Photos an earlier training run put "
                                     "in a split stay there."));
  group->entry = GTK_ENTRY (gtk_entry_new ());
  gtk_editable_set_text (GTK_EDITABLE (group->entry), shared ? shared : "");
  gtk_entry_set_placeholder_text (group->entry, _("For example plant-12"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (group->entry), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Group key"), -1);
  gtk_entry_set_activates_default (group->entry, TRUE);
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), GTK_WIDGET (group->entry));
  add_responses (ADW_MESSAGE_DIALOG (dialog), "set", _("_Set Group"));
  g_object_set_data_full (G_OBJECT (dialog), "leaf-group-key", group, group_key_free);
  g_signal_connect (dialog, "response", G_CALLBACK (on_group_key_response_cb), NULL);
  gtk_window_present (GTK_WINDOW (dialog));
  gtk_widget_grab_focus (GTK_WIDGET (group->entry));
}
