/* leaf-library-view.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The sidebar chooses what the grid shows (everything, unlabelled photos, one class, photos the
 * active model disagrees with, its least certain predictions, or photos whose labellers
 * disagree); the search bar narrows that down. Keys 1–9 label the selected photos with the class in that place of the sidebar, 0 removes
 * their label, Space opens the viewer.
 */

#define G_LOG_DOMAIN "leaf-library-view"

#include "config.h"

#include <inttypes.h>
#include <math.h>

#include <adwaita.h>
#include <glib/gi18n.h>

#include "leaf-active-model.h"
#include "leaf-class-color.h"
#include "leaf-group-dialog.h"
#include "leaf-library-next.h"
#include "leaf-library-view-private.h"
#include "leaf-settings.h"
#include "leaf-thumbnail-cell.h"
#include "leaf-toast.h"
#include "leaf-viewer-window.h"

typedef enum
{
  FILTER_ALL,
  FILTER_UNLABELLED,
  FILTER_CLASS,
  FILTER_DISAGREEMENTS,
  FILTER_UNCERTAIN,
  FILTER_DISPUTED,
  FILTER_CONFUSION,
  FILTER_NEXT,
} FilterKind;

struct _LeafLibraryView
{
  GtkWidget parent_instance;

  LeafCatalog *catalog;
  LeafThumbnailer *thumbnailer;
  LeafImageList *images;
  GtkMultiSelection *selection;
  GSettings *settings;
  GPtrArray *classes; /* LeafClassInfo, in sidebar order */
  GArray *class_choice_ids; /* gint64: the class of each choice of the search bar after two */
  gint64 model_id;    /* the active model, the one Diagnose uses, or 0 */
  char *model_description; /* its leaf_model_info_describe(), or NULL */
  GtkWidget *class_popover;
  LeafNextBar *next_bar; /* above the grid in Label Next */

  FilterKind filter;
  gint64 filter_class;
  /* FILTER_CONFUSION: the model's class indices and names */
  gint64 confusion_model;
  char *confusion_truth;
  char *confusion_predicted;

  gboolean search_mode;
  gboolean rebuilding_sidebar;

  /* Template widgets */
  AdwFlap *flap;
  GtkListBox *sidebar;
  GtkMenuButton *class_menu_button;
  GtkSearchBar *search_bar;
  GtkSearchEntry *search_entry;
  GtkDropDown *class_dropdown;
  GtkStringList *class_choices;
  GtkEntry *labeller_entry;
  GtkDropDown *date_dropdown;
  GtkDropDown *sort_dropdown;
  GtkWidget *filter_banner;
  GtkLabel *filter_banner_label;
  GtkStack *content_stack;
  GtkGridView *grid_view;
  gboolean grid_scroll_held; /* see hold_grid_scrolling() */
  AdwStatusPage *empty_page;
  AdwStatusPage *no_results_page;
  GtkRevealer *label_bar_revealer;
  GtkLabel *selection_label;
  GtkBox *label_buttons;
};

G_DEFINE_FINAL_TYPE (LeafLibraryView, leaf_library_view, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_SEARCH_MODE,
  PROP_SIDEBAR_REVEALED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

#define ROW_KIND  "leaf-filter-kind"
#define ROW_CLASS "leaf-class-id"
#define ROW_COUNT "leaf-count-label"

static void reload                  (LeafLibraryView *self);
static void on_selection_changed_cb (LeafLibraryView *self);
static void on_items_changed_cb     (LeafLibraryView *self);
static void hold_grid_scrolling     (LeafLibraryView *self);

LeafClassInfo *
_leaf_library_view_find_class (LeafLibraryView *self,
                               gint64           class_id)
{
  for (guint i = 0; self->classes && i < self->classes->len; i++)
    {
      LeafClassInfo *info = g_ptr_array_index (self->classes, i);

      if (info->id == class_id)
        return info;
    }
  return NULL;
}

LeafCatalog *
_leaf_library_view_get_catalog (LeafLibraryView *self)
{
  return self->catalog;
}

/* The selected photos' items, in grid order. */
static GPtrArray *
selected_items (LeafLibraryView *self)
{
  g_autoptr(GtkBitset) bitset = NULL;
  GtkBitsetIter iter;
  GPtrArray *items = g_ptr_array_new_with_free_func (g_object_unref);
  guint position;

  if (self->selection == NULL)
    return items;
  bitset = gtk_selection_model_get_selection (GTK_SELECTION_MODEL (self->selection));
  for (gboolean ok = gtk_bitset_iter_init_first (&iter, bitset, &position); ok;
       ok = gtk_bitset_iter_next (&iter, &position))
    {
      LeafLibraryItem *item = g_list_model_get_item (G_LIST_MODEL (self->selection), position);

      if (item != NULL)
        g_ptr_array_add (items, item);
    }
  return items;
}

static GArray *
selected_ids (LeafLibraryView *self)
{
  g_autoptr(GPtrArray) items = selected_items (self);
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint64));

  for (guint i = 0; i < items->len; i++)
    {
      gint64 id = leaf_library_item_get_id (items->pdata[i]);

      if (id > 0)
        g_array_append_val (ids, id);
    }
  return ids;
}

/* Sidebar */

static GtkWidget *
sidebar_row_new (FilterKind     kind,
                 LeafClassInfo *info,
                 const char    *icon_name,
                 const char    *title,
                 guint          key)
{
  GtkWidget *row = gtk_list_box_row_new ();
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 10);
  GtkWidget *label = gtk_label_new (title);
  GtkWidget *count = gtk_label_new (NULL);

  if (info != NULL)
    {
      GtkWidget *dot = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 0);

      gtk_widget_add_css_class (dot, "class-dot");
      gtk_widget_set_valign (dot, GTK_ALIGN_CENTER);
      leaf_widget_set_class_color (dot, info->color);
      gtk_box_append (GTK_BOX (box), dot);
    }
  else
    gtk_box_append (GTK_BOX (box), gtk_image_new_from_icon_name (icon_name));

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  gtk_widget_set_hexpand (label, TRUE);
  gtk_box_append (GTK_BOX (box), label);
  gtk_widget_add_css_class (count, "dim-label");
  gtk_widget_add_css_class (count, "numeric");
  gtk_box_append (GTK_BOX (box), count);
  if (key > 0)
    {
      g_autofree char *text = g_strdup_printf ("%u", key);
      GtkWidget *keycap = gtk_label_new (text);

      gtk_widget_add_css_class (keycap, "key-hint");
      gtk_widget_set_valign (keycap, GTK_ALIGN_CENTER);
      /* Translators: tooltip of the small key shown beside a class */
      gtk_widget_set_tooltip_text (keycap, _("Press this key to label the selected photos"));
      gtk_box_append (GTK_BOX (box), keycap);
    }

  gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (row), box);
  g_object_set_data (G_OBJECT (row), ROW_KIND, GINT_TO_POINTER (kind));
  g_object_set_data_full (G_OBJECT (row), ROW_CLASS,
                          g_memdup2 (info ? &info->id : &(gint64) { 0 }, sizeof (gint64)), g_free);
  g_object_set_data (G_OBJECT (row), ROW_COUNT, count);
  return row;
}

static gint64
row_class_id (GtkListBoxRow *row)
{
  return *(gint64 *) g_object_get_data (G_OBJECT (row), ROW_CLASS);
}

static FilterKind
row_kind (GtkListBoxRow *row)
{
  return GPOINTER_TO_INT (g_object_get_data (G_OBJECT (row), ROW_KIND));
}

static void
sidebar_header_func (GtkListBoxRow *row,
                     GtkListBoxRow *before,
                     gpointer       user_data)
{
  FilterKind kind = row_kind (row);
  const char *title = NULL;

  if (kind == FILTER_CLASS && (before == NULL || row_kind (before) != FILTER_CLASS))
    title = _("Classes");
  else if (kind == FILTER_DISAGREEMENTS)
    title = _("Review");

  if (title != NULL)
    {
      GtkWidget *header = gtk_label_new (title);

      gtk_label_set_xalign (GTK_LABEL (header), 0);
      gtk_widget_add_css_class (header, "sidebar-heading");
      gtk_list_box_row_set_header (row, header);
    }
  else
    gtk_list_box_row_set_header (row, NULL);
}

static void
set_count (GtkListBoxRow *row,
           gboolean       known,
           guint          count)
{
  GtkLabel *label = g_object_get_data (G_OBJECT (row), ROW_COUNT);
  char text[16];

  g_snprintf (text, sizeof text, "%u", count);
  gtk_label_set_text (label, known ? text : "");
}

static guint
count_query (LeafLibraryView      *self,
             const LeafImageQuery *query,
             gboolean             *known)
{
  g_autoptr(GError) error = NULL;
  guint count = 0;

  *known = leaf_catalog_count_images (self->catalog, query, &count, &error);
  if (!*known)
    g_warning ("Could not count photos: %s", error->message);
  return count;
}

/* Disputed is for catalogs that several people label: shown once two have. Counting them is
 * cheap; their agreement, read over every vote, waits until someone points at the row. */
static void
update_disputed_row (LeafLibraryView *self,
                     GtkWidget       *row,
                     guint            n_disputed)
{
  g_autoptr(GError) error = NULL;
  guint n_labellers = 0;

  if (!leaf_catalog_count_labellers (self->catalog, &n_labellers, &error))
    g_warning ("Could not count the labellers: %s", error->message);
  gtk_widget_set_visible (row, n_labellers >= 2 || n_disputed > 0);
}

/* The Disputed row's tooltip: what it holds, and how far the labellers agree. */
char *
_leaf_library_view_dup_disputed_tooltip (LeafLibraryView *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafAgreement) agreement = leaf_catalog_get_agreement (self->catalog, &error);
  g_autoptr(GString) tip = g_string_new (_("Photos whose labellers disagree, waiting for a "
                                           "decision"));
  const LeafKappa *overall;

  if (agreement == NULL)
    {
      g_warning ("Could not measure agreement: %s", error->message);
      return g_string_free (g_steal_pointer (&tip), FALSE);
    }
  overall = &agreement->overall;
  if (overall->method != LEAF_KAPPA_NONE && !isnan (overall->kappa))
    {
      g_string_append_c (tip, '\n');
      /* Translators: %s is “Cohen’s” or “Fleiss’”; then kappa, photos and labellers */
      g_string_append_printf (tip, g_dngettext (GETTEXT_PACKAGE,
                                                "Agreement: %s κ %.2f over %u photo labelled "
                                                "by %u people",
                                                "Agreement: %s κ %.2f over %u photos labelled "
                                                "by %u people", overall->n_items),
                              overall->method == LEAF_KAPPA_COHEN ? _("Cohen’s") : _("Fleiss’"),
                              overall->kappa, overall->n_items, overall->n_raters);
      for (guint i = 0; i < agreement->classes->len; i++)
        {
          const LeafClassAgreement *one = &g_array_index (agreement->classes,
                                                          LeafClassAgreement, i);

          if (!isnan (one->kappa.kappa))
            g_string_append_printf (tip, "\n%s: κ %.2f", one->class_name, one->kappa.kappa);
        }
    }
  return g_string_free (g_steal_pointer (&tip), FALSE);
}

static gboolean
on_disputed_query_tooltip_cb (GtkWidget       *row,
                              int              x,
                              int              y,
                              gboolean         keyboard,
                              GtkTooltip      *tooltip,
                              LeafLibraryView *self)
{
  g_autofree char *text = _leaf_library_view_dup_disputed_tooltip (self);

  gtk_tooltip_set_text (tooltip, text);
  return TRUE;
}

static void
update_counts (LeafLibraryView *self)
{
  GtkListBoxRow *row;

  /* Rows only: the list box's other children are its section headers. */
  for (int i = 0; (row = gtk_list_box_get_row_at_index (self->sidebar, i)) != NULL; i++)
    {
      LeafImageQuery query = { 0 };
      gboolean known = TRUE;
      LeafClassInfo *info;
      guint count = 0;

      switch (row_kind (row))
        {
        case FILTER_ALL:
          count = count_query (self, &query, &known);
          break;
        case FILTER_UNLABELLED:
          query.labels = LEAF_LABEL_FILTER_UNLABELED;
          count = count_query (self, &query, &known);
          break;
        case FILTER_CLASS:
          info = _leaf_library_view_find_class (self, row_class_id (row));
          count = info ? info->n_images : 0;
          break;
        case FILTER_DISAGREEMENTS:
          query.model_id = self->model_id;
          query.disagreements_only = TRUE;
          if ((known = self->model_id > 0))
            count = count_query (self, &query, &known);
          break;
        case FILTER_UNCERTAIN:
          query.model_id = self->model_id;
          query.uncertain_only = TRUE;
          if ((known = self->model_id > 0))
            count = count_query (self, &query, &known);
          break;
        case FILTER_DISPUTED:
          query.disputed_only = TRUE;
          count = count_query (self, &query, &known);
          update_disputed_row (self, GTK_WIDGET (row), count);
          break;
        case FILTER_NEXT:
          known = leaf_next_bar_count_left (self->next_bar, &count);
          break;
        case FILTER_CONFUSION:
        default:
          known = FALSE;
        }
      set_count (row, known, count);
    }
}

static void
select_current_row (LeafLibraryView *self)
{
  GtkListBoxRow *row;

  for (int i = 0; (row = gtk_list_box_get_row_at_index (self->sidebar, i)) != NULL; i++)
    {
      if (row_kind (row) == self->filter
          && (self->filter != FILTER_CLASS || row_class_id (row) == self->filter_class))
        {
          gtk_list_box_select_row (self->sidebar, row);
          return;
        }
    }
  gtk_list_box_unselect_all (self->sidebar);
}

static GMenuModel *
class_menu_new (gint64 class_id)
{
  GMenu *menu = g_menu_new ();
  g_autoptr(GMenu) edit = g_menu_new ();
  g_autoptr(GMenu) move = g_menu_new ();
  g_autoptr(GMenu) remove = g_menu_new ();
  g_autoptr(GMenuItem) up = NULL;
  g_autoptr(GMenuItem) down = NULL;

  g_menu_append (edit, _("_Rename…"),
                 g_action_print_detailed_name ("library.rename-class",
                                               g_variant_new_int64 (class_id)));
  g_menu_append (edit, _("_Change Colour…"),
                 g_action_print_detailed_name ("library.recolor-class",
                                               g_variant_new_int64 (class_id)));
  up = g_menu_item_new (_("Move _Up"), NULL);
  g_menu_item_set_action_and_target (up, "library.move-class", "(xi)", class_id, -1);
  g_menu_append_item (move, up);
  down = g_menu_item_new (_("Move _Down"), NULL);
  g_menu_item_set_action_and_target (down, "library.move-class", "(xi)", class_id, 1);
  g_menu_append_item (move, down);
  g_menu_append (remove, _("_Remove…"),
                 g_action_print_detailed_name ("library.remove-class",
                                               g_variant_new_int64 (class_id)));
  g_menu_append_section (menu, NULL, G_MENU_MODEL (edit));
  g_menu_append_section (menu, NULL, G_MENU_MODEL (move));
  g_menu_append_section (menu, NULL, G_MENU_MODEL (remove));
  return G_MENU_MODEL (menu);
}

static void
update_class_menu (LeafLibraryView *self)
{
  g_autoptr(GMenuModel) menu = NULL;
  gboolean is_class = self->filter == FILTER_CLASS &&
                      _leaf_library_view_find_class (self, self->filter_class) != NULL;

  if (is_class)
    menu = class_menu_new (self->filter_class);
  gtk_menu_button_set_menu_model (self->class_menu_button, menu);
  gtk_widget_set_sensitive (GTK_WIDGET (self->class_menu_button), is_class);
}

static void
rebuild_label_buttons (LeafLibraryView *self)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->label_buttons))) != NULL)
    gtk_box_remove (self->label_buttons, child);
  for (guint i = 0; self->classes && i < MIN (self->classes->len, 9); i++)
    gtk_box_append (self->label_buttons,
                    leaf_class_button_new (g_ptr_array_index (self->classes, i), i + 1,
                                           "library.label-class"));
}

/* The search bar's label filter: any label, unlabelled, or one class, in sidebar order. */
static void
rebuild_class_choices (LeafLibraryView *self)
{
  guint selected = gtk_drop_down_get_selected (self->class_dropdown);
  gint64 selected_id = 0;
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->class_choices));
  g_autoptr(GPtrArray) names = g_ptr_array_new ();

  if (selected >= 2 && self->class_choice_ids != NULL && selected - 2 < self->class_choice_ids->len)
    selected_id = g_array_index (self->class_choice_ids, gint64, selected - 2);
  g_clear_pointer (&self->class_choice_ids, g_array_unref);
  self->class_choice_ids = g_array_new (FALSE, FALSE, sizeof (gint64));

  g_ptr_array_add (names, (gpointer) _("Any Label"));
  g_ptr_array_add (names, (gpointer) _("Unlabelled"));
  for (guint i = 0; self->classes && i < self->classes->len; i++)
    {
      LeafClassInfo *info = g_ptr_array_index (self->classes, i);

      g_ptr_array_add (names, info->name);
      g_array_append_val (self->class_choice_ids, info->id);
    }
  g_ptr_array_add (names, NULL);
  gtk_string_list_splice (self->class_choices, 0, n, (const char * const *) names->pdata);

  /* Keep the choice across renames and reorders; a removed class falls back to any label. */
  if (selected == 1)
    gtk_drop_down_set_selected (self->class_dropdown, 1);
  else
    {
      guint position = 0;

      for (guint i = 0; i < self->class_choice_ids->len; i++)
        if (g_array_index (self->class_choice_ids, gint64, i) == selected_id && selected_id > 0)
          position = i + 2;
      gtk_drop_down_set_selected (self->class_dropdown, position);
    }
}

/* What the Disagreements and Uncertain filters show, naming the model whose predictions they
 * use; NULL without an active model. */
static char *
model_filter_text (LeafLibraryView *self,
                   FilterKind       kind)
{
  if (self->model_description == NULL)
    return NULL;
  /* Translators: %s describes a model, as in “Run 3 · 87 % validation · 4 Dec” */
  return kind == FILTER_DISAGREEMENTS
         ? g_strdup_printf (_("Photos whose label differs from the prediction of %s, the model "
                              "Diagnose uses"), self->model_description)
         : g_strdup_printf (_("Photos that %s, the model Diagnose uses, would refer to an "
                              "expert, the least certain first"), self->model_description);
}

static void
set_model_filter_tooltip (LeafLibraryView *self,
                          GtkWidget       *row)
{
  g_autofree char *text = model_filter_text (self, row_kind (GTK_LIST_BOX_ROW (row)));

  gtk_widget_set_sensitive (row, text != NULL);
  gtk_widget_set_tooltip_text (row, text != NULL
                               ? text
                               : _("Train a model, or choose one in Train’s history, to use "
                                   "its predictions here"));
}

static void
rebuild_sidebar (LeafLibraryView *self)
{
  GtkListBoxRow *old;

  self->rebuilding_sidebar = TRUE;
  while ((old = gtk_list_box_get_row_at_index (self->sidebar, 0)) != NULL)
    gtk_list_box_remove (self->sidebar, GTK_WIDGET (old));

  if (self->catalog != NULL)
    {
      GtkWidget *row;

      gtk_list_box_append (self->sidebar, sidebar_row_new (FILTER_ALL, NULL,
                                                           "leaf-library-symbolic",
                                                           _("All Photos"), 0));
      gtk_list_box_append (self->sidebar, sidebar_row_new (FILTER_UNLABELLED, NULL,
                                                           "image-x-generic-symbolic",
                                                           _("Unlabelled"), 0));
      for (guint i = 0; i < self->classes->len; i++)
        {
          LeafClassInfo *info = g_ptr_array_index (self->classes, i);

          gtk_list_box_append (self->sidebar, sidebar_row_new (FILTER_CLASS, info, NULL,
                                                               info->name, i < 9 ? i + 1 : 0));
        }
      row = sidebar_row_new (FILTER_DISAGREEMENTS, NULL, "dialog-warning-symbolic",
                             _("Disagreements"), 0);
      set_model_filter_tooltip (self, row);
      gtk_list_box_append (self->sidebar, row);
      row = sidebar_row_new (FILTER_UNCERTAIN, NULL, "dialog-question-symbolic",
                             _("Uncertain"), 0);
      set_model_filter_tooltip (self, row);
      gtk_list_box_append (self->sidebar, row);
      row = sidebar_row_new (FILTER_DISPUTED, NULL, "system-users-symbolic", _("Disputed"), 0);
      gtk_widget_set_has_tooltip (row, TRUE);
      g_signal_connect_object (row, "query-tooltip", G_CALLBACK (on_disputed_query_tooltip_cb),
                               self, 0);
      gtk_list_box_append (self->sidebar, row);
      row = sidebar_row_new (FILTER_NEXT, NULL, "go-next-symbolic", _("Label Next"), 0);
      gtk_widget_set_tooltip_text (row, _("The unlabelled photos whose labels would teach the "
                                          "model Diagnose uses most"));
      gtk_list_box_append (self->sidebar, row);
      /* A confusion-matrix cell gets a row of its own while shown, so that the sidebar says
       * where the photos come from (and focus entering the sidebar does not pick another). */
      if (self->confusion_truth != NULL)
        {
          g_autofree char *title = g_strdup_printf ("%s → %s", self->confusion_truth,
                                                    self->confusion_predicted);

          row = sidebar_row_new (FILTER_CONFUSION, NULL, "leaf-train-symbolic", title, 0);
          gtk_widget_set_tooltip_text (row, gtk_label_get_text (self->filter_banner_label));
          gtk_list_box_append (self->sidebar, row);
        }
    }

  update_counts (self);
  select_current_row (self);
  update_class_menu (self);
  rebuild_label_buttons (self);
  rebuild_class_choices (self);
  self->rebuilding_sidebar = FALSE;
}

/* Reads the active model again; returns whether it changed. */
static gboolean
load_model (LeafLibraryView *self)
{
  g_autoptr(LeafModelInfo) model = leaf_active_model_get (self->catalog);
  g_autofree char *description = model ? leaf_model_info_describe (model) : NULL;
  gboolean changed = (model ? model->id : 0) != self->model_id ||
                     g_strcmp0 (description, self->model_description) != 0;

  self->model_id = model ? model->id : 0;
  leaf_next_bar_set_model (self->next_bar, self->catalog, self->model_id);
  g_free (self->model_description);
  self->model_description = g_steal_pointer (&description);
  return changed;
}

static void
load_classes (LeafLibraryView *self)
{
  g_autoptr(GError) error = NULL;

  g_clear_pointer (&self->classes, g_ptr_array_unref);
  if (self->catalog == NULL)
    return;
  self->classes = leaf_catalog_list_classes (self->catalog, &error);
  if (self->classes == NULL)
    {
      leaf_show_toast_error (GTK_WIDGET (self), error);
      self->classes = g_ptr_array_new ();
      g_clear_error (&error);
    }
  load_model (self);
}

static void
on_sidebar_row_selected_cb (LeafLibraryView *self,
                            GtkListBoxRow   *row)
{
  if (self->rebuilding_sidebar || row == NULL)
    return;
  self->filter = row_kind (row);
  self->filter_class = row_class_id (row);
  update_class_menu (self);
  reload (self);
  if (adw_flap_get_folded (self->flap))
    adw_flap_set_reveal_flap (self->flap, FALSE);
}

static void
on_sidebar_pressed_cb (GtkGestureClick *gesture,
                       int              n_press,
                       double           x,
                       double           y,
                       LeafLibraryView *self)
{
  GtkListBoxRow *row = gtk_list_box_get_row_at_y (self->sidebar, (int) y);
  g_autoptr(GMenuModel) menu = NULL;
  graphene_rect_t bounds;

  if (row == NULL || row_kind (row) != FILTER_CLASS)
    return;
  gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_CLAIMED);
  menu = class_menu_new (row_class_id (row));
  gtk_popover_menu_set_menu_model (GTK_POPOVER_MENU (self->class_popover), menu);
  if (gtk_widget_compute_bounds (GTK_WIDGET (row), GTK_WIDGET (self->sidebar), &bounds))
    gtk_popover_set_pointing_to (GTK_POPOVER (self->class_popover),
                                 &(GdkRectangle) { (int) x, (int) bounds.origin.y, 1,
                                                   (int) bounds.size.height });
  gtk_popover_popup (GTK_POPOVER (self->class_popover));
}

/* Grid */

static void
build_query (LeafLibraryView *self,
             LeafImageQuery  *query)
{
  const char *name = gtk_editable_get_text (GTK_EDITABLE (self->search_entry));
  const char *labeller = gtk_editable_get_text (GTK_EDITABLE (self->labeller_entry));
  static const int days[] = { 0, 1, 7, 31, 365 };
  guint date = gtk_drop_down_get_selected (self->date_dropdown);
  static const LeafImageSort sorts[] = {
    LEAF_IMAGE_SORT_IMPORTED, LEAF_IMAGE_SORT_NAME, LEAF_IMAGE_SORT_CAPTURED
  };
  guint sort = gtk_drop_down_get_selected (self->sort_dropdown);

  /* Every photo carries the active model's prediction, which its cell shows. */
  *query = (LeafImageQuery) { .model_id = self->model_id };
  switch (self->filter)
    {
    case FILTER_UNLABELLED:
      query->labels = LEAF_LABEL_FILTER_UNLABELED;
      break;
    case FILTER_CLASS:
      query->class_id = self->filter_class;
      break;
    case FILTER_DISAGREEMENTS:
      query->disagreements_only = TRUE;
      break;
    case FILTER_UNCERTAIN:
      query->uncertain_only = TRUE;
      break;
    case FILTER_DISPUTED:
      query->disputed_only = TRUE;
      break;
    case FILTER_CONFUSION:
      query->model_id = self->confusion_model;
      query->split = LEAF_SPLIT_VALIDATION;
      break;
    case FILTER_ALL:
    default:
      break;
    }
  if (self->search_mode)
    {
      guint label = gtk_drop_down_get_selected (self->class_dropdown);

      /* The search bar narrows the sidebar's choice down; it does not replace it. */
      if (label == 1 && query->class_id == 0)
        query->labels = LEAF_LABEL_FILTER_UNLABELED;
      else if (label >= 2 && self->class_choice_ids != NULL
               && label - 2 < self->class_choice_ids->len && query->class_id == 0
               && query->labels != LEAF_LABEL_FILTER_UNLABELED)
        query->class_id = g_array_index (self->class_choice_ids, gint64, label - 2);
      if (name[0] != '\0')
        query->name_contains = name;
      if (labeller[0] != '\0')
        query->labeller = labeller;
      if (date > 0 && date < G_N_ELEMENTS (days))
        {
          g_autoptr(GDateTime) now = g_date_time_new_now_local ();

          query->taken_after = g_date_time_add_days (now, -days[date]);
        }
    }
  query->sort = self->filter == FILTER_UNCERTAIN ? LEAF_IMAGE_SORT_UNCERTAINTY
                : sorts[MIN (sort, G_N_ELEMENTS (sorts) - 1)];
}

/* The actions that change the catalog whatever is selected. */
static const char *const changing_actions[] = {
  "library.add-class", "library.rename-class", "library.recolor-class", "library.move-class",
  "library.remove-class", "library.accept-suggestion",
};

/* A catalog this user may only read is browsed: nothing in the Library changes it. */
static gboolean
catalog_writable (LeafLibraryView *self)
{
  return self->catalog != NULL && !leaf_catalog_is_read_only (self->catalog);
}

static void
update_selection_label (LeafLibraryView *self)
{
  g_autoptr(GtkBitset) bitset = NULL;
  guint64 selected = 0;
  guint total = 0;
  gboolean can_change;

  if (self->selection != NULL)
    {
      bitset = gtk_selection_model_get_selection (GTK_SELECTION_MODEL (self->selection));
      selected = gtk_bitset_get_size (bitset);
      total = g_list_model_get_n_items (G_LIST_MODEL (self->selection));
    }
  if (selected > 0)
    {
      g_autofree char *text = g_strdup_printf (ngettext ("%" PRIu64 " selected",
                                                         "%" PRIu64 " selected",
                                                         (gulong) selected),
                                               selected);
      /* Translators: tooltip of the selection count; %u is how many photos are shown */
      g_autofree char *tooltip = g_strdup_printf (ngettext ("Of %u photo shown",
                                                            "Of %u photos shown", total),
                                                  total);

      gtk_label_set_text (self->selection_label, text);
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->selection_label), tooltip);
    }
  can_change = selected > 0 && catalog_writable (self);
  gtk_revealer_set_reveal_child (self->label_bar_revealer, can_change);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "library.label", can_change);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "library.label-class", can_change);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "library.unlabel", can_change);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "library.set-group", can_change);
}

static void
update_content_page (LeafLibraryView *self)
{
  guint n = self->images ? g_list_model_get_n_items (G_LIST_MODEL (self->images)) : 0;
  const char *page = "grid";

  if (n == 0)
    {
      LeafImageQuery all = { 0 };
      gboolean known;
      guint total = self->catalog ? count_query (self, &all, &known) : 0;

      if (total == 0)
        page = "empty";
      else
        {
          const char *title = _("No Matching Photos");
          const char *description = _("Try another filter or search.");

          if (self->filter == FILTER_UNLABELLED && !self->search_mode)
            title = _("Every Photo Is Labelled"), description = NULL;
          else if (self->filter == FILTER_DISAGREEMENTS && !self->search_mode)
            title = _("No Disagreements"),
            description = _("The model Diagnose uses agrees with every label it has seen.");
          else if (self->filter == FILTER_DISPUTED && !self->search_mode)
            title = _("No Disputed Photos"),
            description = _("Photos come here when labellers disagree on them, until someone "
                            "decides.");
          else if (self->filter == FILTER_CLASS && !self->search_mode)
            description = _("Select photos and press this class’s key to label them.");
          else if (self->filter == FILTER_NEXT && self->model_id == 0)
            title = _("Label Next Needs a Model"),
            description = _("Train a model, or choose one in Train’s history. Label Next then "
                            "ranks the unlabelled photos by how much their labels would teach "
                            "it.");
          else if (self->filter == FILTER_NEXT && leaf_next_bar_get_ranking (self->next_bar))
            title = _("Ranking Photos…"), description = NULL;
          else if (self->filter == FILTER_NEXT && !self->search_mode)
            title = _("Every Photo Is Labelled"), description = NULL;
          adw_status_page_set_title (self->no_results_page, title);
          adw_status_page_set_description (self->no_results_page, description);
          page = "no-results";
        }
    }
  gtk_stack_set_visible_child_name (self->content_stack, page);
}

/* Photos of one confusion-matrix cell: the validation photos of the true class whose stored
 * prediction by the model is the predicted class. */
static gboolean
confusion_ids (LeafLibraryView  *self,
               GArray          **ids,
               GError          **error)
{
  LeafImageQuery query = { 0 };
  g_autoptr(LeafClassInfo) truth = NULL;
  g_autoptr(LeafClassInfo) predicted = NULL;
  g_autoptr(GPtrArray) images = NULL;

  *ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  truth = leaf_catalog_find_class (self->catalog, self->confusion_truth, error);
  if (truth == NULL)
    return FALSE;
  predicted = leaf_catalog_find_class (self->catalog, self->confusion_predicted, error);
  if (predicted == NULL)
    return FALSE;

  build_query (self, &query);
  query.class_id = truth->id;
  images = leaf_catalog_query_images (self->catalog, &query, 0, G_MAXUINT, error);
  g_clear_pointer (&query.taken_after, g_date_time_unref);
  if (images == NULL)
    return FALSE;
  for (guint i = 0; i < images->len; i++)
    {
      LeafCatalogImage *image = g_ptr_array_index (images, i);
      gint64 class_id, id = leaf_catalog_image_get_id (image);

      if (leaf_catalog_image_get_prediction (image, &class_id, NULL, NULL)
          && class_id == predicted->id)
        g_array_append_val (*ids, id);
    }
  return TRUE;
}

/* Shows the photos the sidebar and the search bar ask for, in a new list model. */
static void
reload (LeafLibraryView *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) ids = NULL;
  g_autoptr(LeafImageList) images = NULL;
  LeafImageQuery query;

  if (self->catalog == NULL)
    return;

  build_query (self, &query);
  if (self->filter == FILTER_CONFUSION && !confusion_ids (self, &ids, &error))
    {
      leaf_show_toast_error (GTK_WIDGET (self), error);
      g_clear_error (&error);
    }
  if (self->filter == FILTER_NEXT)
    {
      leaf_next_bar_ensure_batch (self->next_bar);
      ids = leaf_next_bar_get_ids (self->next_bar);
      ids = ids != NULL ? g_array_ref (ids) : g_array_new (FALSE, FALSE, sizeof (gint64));
    }
  images = leaf_image_list_new (self->catalog, &query, ids, &error);
  g_clear_pointer (&query.taken_after, g_date_time_unref);
  if (images == NULL)
    leaf_show_toast_error (GTK_WIDGET (self), error);

  if (self->selection != NULL)
    g_signal_handlers_disconnect_by_data (self->selection, self);
  g_clear_object (&self->selection);
  g_set_object (&self->images, images);
  if (images != NULL)
    {
      self->selection = gtk_multi_selection_new (g_object_ref (G_LIST_MODEL (images)));
      g_signal_connect_object (self->selection, "selection-changed",
                               G_CALLBACK (on_selection_changed_cb), self, G_CONNECT_SWAPPED);
      g_signal_connect_object (self->selection, "items-changed",
                               G_CALLBACK (on_items_changed_cb), self, G_CONNECT_SWAPPED);
    }
  hold_grid_scrolling (self);
  gtk_grid_view_set_model (self->grid_view, GTK_SELECTION_MODEL (self->selection));

  if (self->filter == FILTER_DISAGREEMENTS || self->filter == FILTER_UNCERTAIN)
    {
      g_autofree char *text = model_filter_text (self, self->filter);

      gtk_label_set_text (self->filter_banner_label, text ? text : "");
    }
  else if (self->filter == FILTER_DISPUTED)
    gtk_label_set_text (self->filter_banner_label,
                        _("Photos whose labellers disagree. A label you give here decides: it "
                          "is final, whatever the votes."));
  gtk_widget_set_visible (GTK_WIDGET (self->next_bar), self->filter == FILTER_NEXT);
  gtk_widget_set_visible (self->filter_banner, self->filter == FILTER_CONFUSION ||
                                               self->filter == FILTER_DISAGREEMENTS ||
                                               self->filter == FILTER_UNCERTAIN ||
                                               self->filter == FILTER_DISPUTED);
  update_content_page (self);
  update_selection_label (self);
}

static void
on_filter_changed_cb (LeafLibraryView *self)
{
  /* Rebuilding the search bar's choices is not a change of filter. */
  if (!self->rebuilding_sidebar)
    reload (self);
}

static void
on_next_batch_changed_cb (LeafLibraryView *self)
{
  update_counts (self);
  if (self->filter == FILTER_NEXT)
    reload (self);
}

static void
on_show_all_clicked_cb (LeafLibraryView *self)
{
  self->filter = FILTER_ALL;
  select_current_row (self);
  reload (self);
}

static void
on_grid_activate_cb (LeafLibraryView *self,
                     guint            position)
{
  leaf_library_view_open_viewer (self, position);
}

static void
on_selection_changed_cb (LeafLibraryView *self)
{
  update_selection_label (self);
}

static void
on_grid_painted_cb (GdkFrameClock   *clock,
                    LeafLibraryView *self)
{
  g_signal_handlers_disconnect_by_func (clock, on_grid_painted_cb, self);
  g_signal_handlers_unblock_matched (gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (self->grid_view)),
                                     G_SIGNAL_MATCH_DATA, 0, 0, NULL, NULL, self->grid_view);
  self->grid_scroll_held = FALSE;
}

/* GTK 4.8's grid view forgets the heights of its rows when its whole model changes, until its
 * next allocation: a scroll in between (a fast wheel, a touchpad's momentum) made it warn
 * "failed to scroll to given position" and drop that scroll. Until the next frame is painted the
 * grid does not follow its scroll bar; its allocation puts the bar back where the grid is. */
static void
hold_grid_scrolling (LeafLibraryView *self)
{
  GdkFrameClock *clock = gtk_widget_get_frame_clock (GTK_WIDGET (self->grid_view));

  if (clock == NULL || self->grid_scroll_held)
    return;
  g_signal_handlers_block_matched (gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (self->grid_view)),
                                   G_SIGNAL_MATCH_DATA, 0, 0, NULL, NULL, self->grid_view);
  self->grid_scroll_held = TRUE;
  g_signal_connect_object (clock, "after-paint", G_CALLBACK (on_grid_painted_cb), self, 0);
}

static void
on_items_changed_cb (LeafLibraryView *self)
{
  hold_grid_scrolling (self);
  update_content_page (self);
  update_selection_label (self);
}

static void
factory_setup_cb (GtkSignalListItemFactory *factory,
                  GtkListItem              *list_item,
                  LeafLibraryView          *self)
{
  GtkWidget *cell = leaf_thumbnail_cell_new ();

  if (self->settings != NULL)
    {
      leaf_thumbnail_cell_set_size (LEAF_THUMBNAIL_CELL (cell),
                                    g_settings_get_int (self->settings, "thumbnail-size"));
      leaf_thumbnail_cell_set_show_name (LEAF_THUMBNAIL_CELL (cell),
                                         g_settings_get_boolean (self->settings,
                                                                 "show-file-names"));
    }
  gtk_list_item_set_child (list_item, cell);
}

/* “ana: healthy · bo: leaf mold”: what an adjudicator weighs. */
static char *
describe_votes (LeafLibraryView *self,
                LeafLibraryItem *item)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) votes = leaf_catalog_list_votes (self->catalog,
                                                        leaf_library_item_get_id (item), NULL,
                                                        NULL, &error);
  g_autoptr(GString) text = g_string_new (NULL);

  if (votes == NULL)
    {
      g_warning ("Could not read the votes on a photo: %s", error->message);
      return NULL;
    }
  for (guint i = 0; i < votes->len; i++)
    {
      const LeafVoteInfo *vote = votes->pdata[i];

      if (!vote->counts)
        continue;
      if (text->len > 0)
        g_string_append (text, " · ");
      /* Translators: one labeller's vote under a photo in Disputed: labeller, class */
      g_string_append_printf (text, _("%s: %s"), vote->labeller, vote->class_name);
    }
  return g_string_free (g_steal_pointer (&text), FALSE);
}

/* The votes under each photo shown in Disputed, read again: someone may have voted since. */
static void
update_votes (LeafLibraryView *self,
              GtkWidget       *widget)
{
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    if (LEAF_IS_THUMBNAIL_CELL (child))
      {
        LeafLibraryItem *item = leaf_thumbnail_cell_get_item (LEAF_THUMBNAIL_CELL (child));
        g_autofree char *votes = item != NULL ? describe_votes (self, item) : NULL;

        leaf_thumbnail_cell_set_votes (LEAF_THUMBNAIL_CELL (child), votes);
      }
    else
      update_votes (self, child);
}

static void
factory_bind_cb (GtkSignalListItemFactory *factory,
                 GtkListItem              *list_item,
                 LeafLibraryView          *self)
{
  LeafThumbnailCell *cell = LEAF_THUMBNAIL_CELL (gtk_list_item_get_child (list_item));
  g_autofree char *votes = self->filter == FILTER_DISPUTED
                           ? describe_votes (self, gtk_list_item_get_item (list_item)) : NULL;

  leaf_thumbnail_cell_set_votes (cell, votes);
  leaf_thumbnail_cell_set_prediction (cell, self->filter == FILTER_DISAGREEMENTS
                                            ? LEAF_THUMBNAIL_PREDICTION_DISAGREEMENT
                                            : self->filter == FILTER_UNCERTAIN
                                            ? LEAF_THUMBNAIL_PREDICTION_ALL
                                            : LEAF_THUMBNAIL_PREDICTION_DIFFERENT);
  leaf_thumbnail_cell_bind (cell, gtk_list_item_get_item (list_item), self->thumbnailer);
}

/* A new factory makes the grid create its cells again, with the current settings. */
static void
reset_factory (LeafLibraryView *self)
{
  g_autoptr(GtkListItemFactory) factory = gtk_signal_list_item_factory_new ();

  g_signal_connect (factory, "setup", G_CALLBACK (factory_setup_cb), self);
  g_signal_connect (factory, "bind", G_CALLBACK (factory_bind_cb), self);
  /* No unbind handler: a cell keeps its photo until bound to another one, since GTK 4.8 unbinds
   * and binds again on every selection change. */
  gtk_grid_view_set_factory (self->grid_view, factory);
}

static gboolean
on_space_pressed_cb (GtkWidget *widget,
                     GVariant  *args,
                     gpointer   user_data)
{
  gtk_widget_activate_action (GTK_WIDGET (user_data), "library.open-viewer", NULL);
  return TRUE;
}

/* GTK 4.8's grid moves focus photo by photo on Tab, so that Tab never leaves a large grid:
 * here Tab goes on to the next control, as the arrows walk the photos. */
static gboolean
on_tab_pressed_cb (GtkWidget *widget,
                   GVariant  *args,
                   gpointer   user_data)
{
  LeafLibraryView *self = user_data;
  GtkWidget *grid = GTK_WIDGET (self->grid_view);
  gboolean moved;

  /* A widget that cannot take focus gives it on to its siblings, its photos included. */
  gtk_widget_set_can_focus (grid, FALSE);
  moved = gtk_widget_child_focus (GTK_WIDGET (gtk_widget_get_root (grid)),
                                  g_variant_get_int32 (args));
  gtk_widget_set_can_focus (grid, TRUE);
  return moved;
}

static void
add_tab_shortcut (GtkShortcutController *controller,
                  LeafLibraryView       *self,
                  GdkModifierType        modifiers,
                  GtkDirectionType       direction)
{
  /* The keys GtkWindow moves the focus with. */
  GtkShortcut *shortcut =
    gtk_shortcut_new (gtk_alternative_trigger_new (gtk_keyval_trigger_new (GDK_KEY_Tab, modifiers),
                                                   gtk_keyval_trigger_new (GDK_KEY_KP_Tab,
                                                                           modifiers)),
                      gtk_callback_action_new (on_tab_pressed_cb, self, NULL));

  gtk_shortcut_set_arguments (shortcut, g_variant_new_int32 (direction));
  gtk_shortcut_controller_add_shortcut (controller, shortcut);
}

/* Catalog */

static void
on_catalog_labels_changed_cb (LeafLibraryView *self)
{
  g_autoptr(GPtrArray) classes = NULL;

  /* Class counts live in the class list; read it again without rebuilding the rows. */
  classes = leaf_catalog_list_classes (self->catalog, NULL);
  if (classes != NULL)
    {
      g_clear_pointer (&self->classes, g_ptr_array_unref);
      self->classes = g_steal_pointer (&classes);
    }
  update_counts (self);
  if (self->filter == FILTER_DISPUTED)
    update_votes (self, GTK_WIDGET (self->grid_view));
}

static void
on_catalog_structure_changed_cb (LeafLibraryView *self)
{
  load_classes (self);
  if (self->filter == FILTER_CLASS &&
      _leaf_library_view_find_class (self, self->filter_class) == NULL)
    self->filter = FILTER_ALL;
  if ((self->filter == FILTER_DISAGREEMENTS || self->filter == FILTER_UNCERTAIN)
      && self->model_id == 0)
    self->filter = FILTER_ALL;
  rebuild_sidebar (self);
}

/**
 * leaf_library_view_reload_models:
 *
 * Reads the catalog's active model again, for the Disagreements and Uncertain filters; the
 * catalog's runs-changed and active-model-changed signals do it too, for changes made through
 * it.
 */
void
leaf_library_view_reload_models (LeafLibraryView *self)
{
  g_return_if_fail (LEAF_IS_LIBRARY_VIEW (self));

  if (self->catalog == NULL)
    return;
  /* Predictions arrive in batches while a model reviews the photos: recount, and rebuild the
   * sidebar (which would lose its focus) only for another model, or a renamed one. */
  if (!load_model (self))
    {
      update_counts (self);
      if (self->images != NULL)
        leaf_image_list_refresh (self->images);
      return;
    }
  on_catalog_structure_changed_cb (self);
  if (self->filter == FILTER_DISAGREEMENTS || self->filter == FILTER_UNCERTAIN)
    reload (self);
}

static void
on_catalog_images_changed_cb (LeafLibraryView *self)
{
  update_counts (self);
  update_content_page (self);
}

/* Actions */

gboolean
leaf_library_view_label (LeafLibraryView *self,
                         const gint64    *image_ids,
                         gsize            n_images,
                         gint64           class_id)
{
  g_autoptr(GError) error = NULL;

  g_return_val_if_fail (LEAF_IS_LIBRARY_VIEW (self), FALSE);
  g_return_val_if_fail (self->catalog != NULL, FALSE);

  if (n_images == 0)
    return TRUE;
  /* In Disputed a label is a decision, not one more vote. */
  if (self->filter == FILTER_DISPUTED && class_id > 0
      ? !leaf_catalog_adjudicate (self->catalog, image_ids, n_images, class_id, &error)
      : !leaf_catalog_set_labels (self->catalog, image_ids, n_images, class_id,
                                  LEAF_LABEL_HOW_MANUAL, &error))
    {
      leaf_show_toast_error (GTK_WIDGET (self), error);
      return FALSE;
    }
  return TRUE;
}

/* In Label Next, after a label, the photo after the last one selected, so that labelling a batch
 * takes one key per photo. */
static void
advance_selection (LeafLibraryView *self)
{
  g_autoptr(GtkBitset) bitset = NULL;
  guint next;

  if (self->filter != FILTER_NEXT || !leaf_next_bar_get_advance (self->next_bar)
      || self->selection == NULL)
    return;
  bitset = gtk_selection_model_get_selection (GTK_SELECTION_MODEL (self->selection));
  if (gtk_bitset_is_empty (bitset))
    return;
  next = gtk_bitset_get_maximum (bitset) + 1;
  if (next < g_list_model_get_n_items (G_LIST_MODEL (self->selection)))
    leaf_library_view_select_only (self, next);
}

static void
label_selection (LeafLibraryView *self,
                 gint64           class_id)
{
  g_autoptr(GArray) ids = selected_ids (self);

  if (leaf_library_view_label (self, (const gint64 *) (gpointer) ids->data, ids->len, class_id)
      && class_id > 0)
    advance_selection (self);
}

/* Labels the selected photos with the active model's class, recorded as a suggestion accepted:
 * one undoable action per class. With @unlabelled_only (Enter), photos that have a label keep
 * it. Returns how many photos had a suggestion to accept. */
static guint
accept_suggestions (LeafLibraryView *self,
                    gboolean         unlabelled_only)
{
  g_autoptr(GPtrArray) items = selected_items (self);
  g_autoptr(GHashTable) by_class = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                                                          (GDestroyNotify) g_array_unref);
  g_autoptr(GError) error = NULL;
  GHashTableIter iter;
  gpointer class_id, ids;
  guint n_accepted = 0;

  for (guint i = 0; i < items->len; i++)
    {
      LeafCatalogImage *image = leaf_library_item_get_image (items->pdata[i]);
      gint64 label = image ? leaf_catalog_image_get_class_id (image) : 0;
      gint64 predicted = 0, id;
      GArray *class_ids;

      if (image == NULL || !leaf_catalog_image_get_prediction (image, &predicted, NULL, NULL)
          || predicted <= 0 || predicted == label || (unlabelled_only && label > 0))
        continue;
      if ((class_ids = g_hash_table_lookup (by_class, &predicted)) == NULL)
        {
          class_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
          g_hash_table_insert (by_class, g_memdup2 (&predicted, sizeof predicted), class_ids);
        }
      id = leaf_catalog_image_get_id (image);
      g_array_append_val (class_ids, id);
      n_accepted++;
    }

  g_hash_table_iter_init (&iter, by_class);
  while (g_hash_table_iter_next (&iter, &class_id, &ids))
    {
      GArray *class_ids = ids;

      if (!leaf_catalog_set_labels (self->catalog, (const gint64 *) (gpointer) class_ids->data,
                                    class_ids->len, *(gint64 *) class_id,
                                    LEAF_LABEL_HOW_SUGGESTION, &error))
        {
          leaf_show_toast_error (GTK_WIDGET (self), error);
          return n_accepted;
        }
    }
  if (n_accepted > 0)
    advance_selection (self);
  return n_accepted;
}

static void
accept_suggestion_action (GtkWidget  *widget,
                          const char *action_name,
                          GVariant   *parameter)
{
  LeafLibraryView *self = LEAF_LIBRARY_VIEW (widget);

  if (self->catalog == NULL || accept_suggestions (self, FALSE) > 0)
    return;
  leaf_show_toast (widget, self->model_id == 0
                           ? _("No model suggests classes yet: train one, or choose one in "
                               "Train’s history")
                           : _("No suggestion to accept: select photos whose class the model "
                               "sees differently"));
}

/* Enter accepts the suggestions of the selected unlabelled photos; where there are none, it
 * opens the viewer, as activating a photo does. */
static gboolean
on_enter_pressed_cb (GtkWidget *widget,
                     GVariant  *args,
                     gpointer   user_data)
{
  LeafLibraryView *self = user_data;

  return self->catalog != NULL && accept_suggestions (self, TRUE) > 0;
}

static void
label_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  LeafLibraryView *self = LEAF_LIBRARY_VIEW (widget);
  guint key = g_variant_get_uint32 (parameter);
  LeafClassInfo *info;

  if (self->classes == NULL || key < 1 || key > self->classes->len)
    {
      g_autofree char *message = g_strdup_printf (_("No class has the key %u yet. Add classes "
                                                    "in the sidebar."), key);

      leaf_show_toast (widget, message);
      return;
    }
  info = g_ptr_array_index (self->classes, key - 1);
  label_selection (self, info->id);
}

static void
label_class_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  label_selection (LEAF_LIBRARY_VIEW (widget), g_variant_get_int64 (parameter));
}

static void
unlabel_action (GtkWidget  *widget,
                const char *action_name,
                GVariant   *parameter)
{
  label_selection (LEAF_LIBRARY_VIEW (widget), 0);
}

static void
set_group_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  LeafLibraryView *self = LEAF_LIBRARY_VIEW (widget);
  g_autoptr(GArray) ids = selected_ids (self);

  if (self->catalog != NULL)
    leaf_group_key_dialog_present (widget, self->catalog, self->images, ids);
}

static void
open_viewer_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  LeafLibraryView *self = LEAF_LIBRARY_VIEW (widget);
  g_autoptr(GtkBitset) bitset = NULL;
  guint position = 0;

  if (self->selection == NULL || g_list_model_get_n_items (G_LIST_MODEL (self->selection)) == 0)
    return;
  bitset = gtk_selection_model_get_selection (GTK_SELECTION_MODEL (self->selection));
  if (!gtk_bitset_is_empty (bitset))
    position = gtk_bitset_get_minimum (bitset);
  leaf_library_view_open_viewer (self, position);
}

/* GObject */

static void
on_settings_changed_cb (LeafLibraryView *self)
{
  reset_factory (self);
}

static void
leaf_library_view_dispose (GObject *object)
{
  LeafLibraryView *self = LEAF_LIBRARY_VIEW (object);

  leaf_library_view_set_catalog (self, NULL);
  g_clear_object (&self->thumbnailer);
  g_clear_object (&self->settings);
  g_clear_pointer (&self->class_popover, gtk_widget_unparent);
  gtk_widget_dispose_template (GTK_WIDGET (self), LEAF_TYPE_LIBRARY_VIEW);
  G_OBJECT_CLASS (leaf_library_view_parent_class)->dispose (object);
}

static void
leaf_library_view_finalize (GObject *object)
{
  LeafLibraryView *self = LEAF_LIBRARY_VIEW (object);

  g_clear_pointer (&self->classes, g_ptr_array_unref);
  g_clear_pointer (&self->class_choice_ids, g_array_unref);
  g_clear_pointer (&self->confusion_truth, g_free);
  g_clear_pointer (&self->confusion_predicted, g_free);
  g_clear_pointer (&self->model_description, g_free);
  G_OBJECT_CLASS (leaf_library_view_parent_class)->finalize (object);
}

static void
leaf_library_view_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  LeafLibraryView *self = LEAF_LIBRARY_VIEW (object);

  switch (prop_id)
    {
    case PROP_SEARCH_MODE:
      g_value_set_boolean (value, self->search_mode);
      break;
    case PROP_SIDEBAR_REVEALED:
      g_value_set_boolean (value, adw_flap_get_reveal_flap (self->flap));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
leaf_library_view_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  LeafLibraryView *self = LEAF_LIBRARY_VIEW (object);

  switch (prop_id)
    {
    case PROP_SEARCH_MODE:
      if (self->search_mode == g_value_get_boolean (value))
        break;
      self->search_mode = g_value_get_boolean (value);
      gtk_search_bar_set_search_mode (self->search_bar, self->search_mode);
      if (self->search_mode)
        gtk_widget_grab_focus (GTK_WIDGET (self->search_entry));
      reload (self);
      g_object_notify_by_pspec (object, pspec);
      break;
    case PROP_SIDEBAR_REVEALED:
      adw_flap_set_reveal_flap (self->flap, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
on_flap_revealed_cb (LeafLibraryView *self)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SIDEBAR_REVEALED]);
}

static void
on_search_bar_mode_cb (LeafLibraryView *self)
{
  /* The search bar closes itself on Escape. */
  g_object_set (self, "search-mode", gtk_search_bar_get_search_mode (self->search_bar), NULL);
}

static void
leaf_library_view_class_init (LeafLibraryViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = leaf_library_view_dispose;
  object_class->finalize = leaf_library_view_finalize;
  object_class->get_property = leaf_library_view_get_property;
  object_class->set_property = leaf_library_view_set_property;

  properties[PROP_SEARCH_MODE] =
    g_param_spec_boolean ("search-mode", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /* The window's header bar has the button that brings a folded sidebar back. */
  properties[PROP_SIDEBAR_REVEALED] =
    g_param_spec_boolean ("sidebar-revealed", NULL, NULL, TRUE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/leafscope/Leafscope/leaf-library-view.ui");
  gtk_widget_class_bind_template_child (widget_class, LeafLibraryView, flap);
  gtk_widget_class_bind_template_child (widget_class, LeafLibraryView, sidebar);
  gtk_widget_class_bind_template_child (widget_class, LeafLibraryView, class_menu_button);
  gtk_widget_class_bind_template_child (widget_class, LeafLibraryView, search_bar);
  gtk_widget_class_bind_template_child (widget_class, LeafLibraryView, search_entry);
  gtk_widget_class_bind_template_child (widget_class, LeafLibraryView, class_dropdown);
  gtk_widget_class_bind_template_child (widget_class, LeafLibraryView, class_choices);
  gtk_widget_class_bind_template_child (widget_class, LeafLibraryView, labeller_entry);
  gtk_widget_class_bind_template_child (widget_class, LeafLibraryView, date_dropdown);
  gtk_widget_class_bind_template_child (widget_class, LeafLibraryView, sort_dropdown);
  gtk_widget_class_bind_template_child (widget_class, LeafLibraryView, filter_banner);
  gtk_widget_class_bind_template_child (widget_class, LeafLibraryView, filter_banner_label);
  gtk_widget_class_bind_template_child (widget_class, LeafLibraryView, content_stack);
  gtk_widget_class_bind_template_child (widget_class, LeafLibraryView, grid_view);
  gtk_widget_class_bind_template_child (widget_class, LeafLibraryView, empty_page);
  gtk_widget_class_bind_template_child (widget_class, LeafLibraryView, no_results_page);
  gtk_widget_class_bind_template_child (widget_class, LeafLibraryView, label_bar_revealer);
  gtk_widget_class_bind_template_child (widget_class, LeafLibraryView, selection_label);
  gtk_widget_class_bind_template_child (widget_class, LeafLibraryView, label_buttons);
  gtk_widget_class_bind_template_callback (widget_class, on_filter_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, on_show_all_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, on_grid_activate_cb);

  gtk_widget_class_install_action (widget_class, "library.label", "u", label_action);
  gtk_widget_class_install_action (widget_class, "library.label-class", "x", label_class_action);
  gtk_widget_class_install_action (widget_class, "library.unlabel", NULL, unlabel_action);
  gtk_widget_class_install_action (widget_class, "library.set-group", NULL, set_group_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_g, GDK_CONTROL_MASK,
                                       "library.set-group", NULL);
  gtk_widget_class_install_action (widget_class, "library.open-viewer", NULL, open_viewer_action);
  gtk_widget_class_install_action (widget_class, "library.accept-suggestion", NULL,
                                   accept_suggestion_action);
  _leaf_library_view_install_class_actions (widget_class);

  for (guint key = 1; key <= 9; key++)
    {
      gtk_widget_class_add_binding_action (widget_class, GDK_KEY_0 + key, 0,
                                           "library.label", "u", key);
      gtk_widget_class_add_binding_action (widget_class, GDK_KEY_KP_0 + key, 0,
                                           "library.label", "u", key);
    }
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_0, 0, "library.unlabel", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_a, 0, "library.accept-suggestion",
                                       NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_KP_0, 0, "library.unlabel", NULL);

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
leaf_library_view_init (LeafLibraryView *self)
{
  static const guint enter_keys[] = { GDK_KEY_Return, GDK_KEY_KP_Enter, GDK_KEY_ISO_Enter };
  GtkEventController *shortcuts;
  GtkWidget *group_button;
  GtkGesture *click;

  gtk_widget_init_template (GTK_WIDGET (self));

  self->settings = leaf_settings_new ();
  if (self->settings != NULL)
    {
      g_signal_connect_object (self->settings, "changed::thumbnail-size",
                               G_CALLBACK (on_settings_changed_cb), self, G_CONNECT_SWAPPED);
      g_signal_connect_object (self->settings, "changed::show-file-names",
                               G_CALLBACK (on_settings_changed_cb), self, G_CONNECT_SWAPPED);
    }
  reset_factory (self);

  gtk_list_box_set_header_func (self->sidebar, sidebar_header_func, NULL, NULL);
  g_signal_connect_object (self->sidebar, "row-selected",
                           G_CALLBACK (on_sidebar_row_selected_cb), self, G_CONNECT_SWAPPED);
  click = gtk_gesture_click_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (click), GDK_BUTTON_SECONDARY);
  g_signal_connect (click, "pressed", G_CALLBACK (on_sidebar_pressed_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self->sidebar), GTK_EVENT_CONTROLLER (click));
  self->class_popover = gtk_popover_menu_new_from_model (NULL);
  gtk_widget_set_parent (self->class_popover, GTK_WIDGET (self->sidebar));
  gtk_popover_set_has_arrow (GTK_POPOVER (self->class_popover), FALSE);
  gtk_widget_set_halign (self->class_popover, GTK_ALIGN_START);

  /* The grid's items bind Space to selection; in the capture phase it opens the viewer first. */
  shortcuts = gtk_shortcut_controller_new ();
  gtk_event_controller_set_propagation_phase (shortcuts, GTK_PHASE_CAPTURE);
  gtk_shortcut_controller_add_shortcut (GTK_SHORTCUT_CONTROLLER (shortcuts),
                                        gtk_shortcut_new (gtk_keyval_trigger_new (GDK_KEY_space, 0),
                                                          gtk_callback_action_new (on_space_pressed_cb,
                                                                                   self, NULL)));
  add_tab_shortcut (GTK_SHORTCUT_CONTROLLER (shortcuts), self, 0, GTK_DIR_TAB_FORWARD);
  add_tab_shortcut (GTK_SHORTCUT_CONTROLLER (shortcuts), self, GDK_SHIFT_MASK, GTK_DIR_TAB_BACKWARD);
  for (guint i = 0; i < G_N_ELEMENTS (enter_keys); i++)
    gtk_shortcut_controller_add_shortcut (GTK_SHORTCUT_CONTROLLER (shortcuts),
                                          gtk_shortcut_new (gtk_keyval_trigger_new (enter_keys[i], 0),
                                                            gtk_callback_action_new (on_enter_pressed_cb,
                                                                                     self, NULL)));
  gtk_widget_add_controller (GTK_WIDGET (self->grid_view), shortcuts);
  g_signal_connect_object (self->flap, "notify::reveal-flap", G_CALLBACK (on_flap_revealed_cb),
                           self, G_CONNECT_SWAPPED);

  g_signal_connect_object (self->search_bar, "notify::search-mode-enabled",
                           G_CALLBACK (on_search_bar_mode_cb), self, G_CONNECT_SWAPPED);
  gtk_search_bar_connect_entry (self->search_bar, GTK_EDITABLE (self->search_entry));

  self->next_bar = LEAF_NEXT_BAR (leaf_next_bar_new (self->settings));
  gtk_widget_set_visible (GTK_WIDGET (self->next_bar), FALSE);
  gtk_box_insert_child_after (GTK_BOX (gtk_widget_get_parent (self->filter_banner)),
                              GTK_WIDGET (self->next_bar), self->filter_banner);
  g_signal_connect_object (self->next_bar, "changed", G_CALLBACK (on_next_batch_changed_cb),
                           self, G_CONNECT_SWAPPED);

  group_button = gtk_button_new_with_mnemonic (_("_Group…"));
  gtk_widget_set_tooltip_text (group_button, _("Set the group of the selected photos, which "
                                               "keeps them in one split (Ctrl+G)"));
  gtk_actionable_set_action_name (GTK_ACTIONABLE (group_button), "library.set-group");
  gtk_action_bar_pack_end (GTK_ACTION_BAR (gtk_revealer_get_child (self->label_bar_revealer)),
                           group_button);

  update_selection_label (self);
  update_content_page (self);
}

GtkWidget *
leaf_library_view_new (void)
{
  return g_object_new (LEAF_TYPE_LIBRARY_VIEW, NULL);
}

/**
 * leaf_library_view_set_catalog:
 * @self: the view
 * @catalog: (nullable): the catalog to show
 */
void
leaf_library_view_set_catalog (LeafLibraryView *self,
                               LeafCatalog     *catalog)
{
  g_return_if_fail (LEAF_IS_LIBRARY_VIEW (self));
  g_return_if_fail (catalog == NULL || LEAF_IS_CATALOG (catalog));

  if (self->catalog == catalog)
    return;
  if (self->catalog != NULL)
    g_signal_handlers_disconnect_by_data (self->catalog, self);
  if (self->selection != NULL)
    g_signal_handlers_disconnect_by_data (self->selection, self);
  if (self->grid_view != NULL)
    gtk_grid_view_set_model (self->grid_view, NULL);
  g_clear_object (&self->selection);
  g_clear_object (&self->images);
  g_set_object (&self->catalog, catalog);
  self->filter = FILTER_ALL;
  g_clear_pointer (&self->confusion_truth, g_free);
  g_clear_pointer (&self->confusion_predicted, g_free);

  if (catalog == NULL)
    return;

  for (guint i = 0; i < G_N_ELEMENTS (changing_actions); i++)
    gtk_widget_action_set_enabled (GTK_WIDGET (self), changing_actions[i],
                                   catalog_writable (self));
  load_classes (self);
  g_signal_connect_object (catalog, "labels-changed",
                           G_CALLBACK (on_catalog_labels_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (catalog, "classes-changed",
                           G_CALLBACK (on_catalog_structure_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (catalog, "runs-changed",
                           G_CALLBACK (leaf_library_view_reload_models), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (catalog, "active-model-changed",
                           G_CALLBACK (leaf_library_view_reload_models), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (catalog, "images-changed",
                           G_CALLBACK (on_catalog_images_changed_cb), self, G_CONNECT_SWAPPED);
  rebuild_sidebar (self);
  reload (self);
}

/**
 * leaf_library_view_set_thumbnailer:
 * @self: the view
 * @thumbnailer: (nullable): where the grid's thumbnails come from
 */
void
leaf_library_view_set_thumbnailer (LeafLibraryView *self,
                                   LeafThumbnailer *thumbnailer)
{
  g_return_if_fail (LEAF_IS_LIBRARY_VIEW (self));

  if (g_set_object (&self->thumbnailer, thumbnailer))
    reset_factory (self);
}

/**
 * leaf_library_view_get_selection:
 *
 * Returns: (transfer none) (nullable): the grid's selection over #LeafLibraryItem
 */
/**
 * leaf_library_view_select_only:
 * @self: the view
 * @position: a photo of the grid
 *
 * Selects that photo alone and scrolls the grid to it.
 */
void
leaf_library_view_select_only (LeafLibraryView *self,
                               guint            position)
{
  g_return_if_fail (LEAF_IS_LIBRARY_VIEW (self));

  if (self->selection == NULL)
    return;
  gtk_selection_model_select_item (GTK_SELECTION_MODEL (self->selection), position, TRUE);
  gtk_widget_activate_action (GTK_WIDGET (self->grid_view), "list.scroll-to-item", "u", position);
}

GtkSelectionModel *
leaf_library_view_get_selection (LeafLibraryView *self)
{
  g_return_val_if_fail (LEAF_IS_LIBRARY_VIEW (self), NULL);
  return self->selection ? GTK_SELECTION_MODEL (self->selection) : NULL;
}

/**
 * leaf_library_view_get_classes:
 *
 * Returns: (transfer none) (nullable) (element-type LeafClassInfo): the classes in sidebar
 *   order; the Nth is labelled with the key N
 */
const GPtrArray *
leaf_library_view_get_classes (LeafLibraryView *self)
{
  g_return_val_if_fail (LEAF_IS_LIBRARY_VIEW (self), NULL);
  return self->classes;
}

/**
 * leaf_library_view_open_viewer:
 * @self: the view
 * @position: the photo to show first
 *
 * Opens the large viewer; its arrows move through the grid and its number keys label.
 */
void
leaf_library_view_open_viewer (LeafLibraryView *self,
                               guint            position)
{
  GtkWidget *viewer;

  g_return_if_fail (LEAF_IS_LIBRARY_VIEW (self));

  if (self->selection == NULL || position >= g_list_model_get_n_items (G_LIST_MODEL (self->selection)))
    return;
  viewer = leaf_viewer_window_new (self, position);
  gtk_window_set_transient_for (GTK_WINDOW (viewer),
                                GTK_WINDOW (gtk_widget_get_root (GTK_WIDGET (self))));
  gtk_window_present (GTK_WINDOW (viewer));
}

/**
 * leaf_library_view_show_confusion:
 * @self: the view
 * @model_id: the model whose validation predictions are shown
 * @truth: index of the true class in the model's classes
 * @predicted: index of the predicted class
 *
 * Shows the validation photos of one confusion-matrix cell, with a banner saying so.
 */
void
leaf_library_view_show_confusion (LeafLibraryView *self,
                                  gint64           model_id,
                                  guint            truth,
                                  guint            predicted)
{
  g_autoptr(LeafModelInfo) model = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  guint n_classes;

  g_return_if_fail (LEAF_IS_LIBRARY_VIEW (self));

  if (self->catalog == NULL)
    return;
  model = leaf_catalog_get_model (self->catalog, model_id, &error);
  if (model == NULL)
    {
      leaf_show_toast_error (GTK_WIDGET (self), error);
      return;
    }
  n_classes = g_strv_length (model->classes);
  g_return_if_fail (truth < n_classes && predicted < n_classes);

  self->filter = FILTER_CONFUSION;
  self->confusion_model = model_id;
  g_free (self->confusion_truth);
  self->confusion_truth = g_strdup (model->classes[truth]);
  g_free (self->confusion_predicted);
  self->confusion_predicted = g_strdup (model->classes[predicted]);
  /* Translators: banner above the photos of a confusion-matrix cell */
  text = truth == predicted
         ? g_strdup_printf (_("Validation photos of %s that the model recognised"),
                            self->confusion_truth)
         : g_strdup_printf (_("Validation photos of %s that the model took for %s"),
                            self->confusion_truth, self->confusion_predicted);
  gtk_label_set_text (self->filter_banner_label, text);
  rebuild_sidebar (self);
  reload (self);
  gtk_widget_grab_focus (GTK_WIDGET (self->grid_view));
}
