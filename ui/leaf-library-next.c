/* leaf-library-next.c: the Library's Label Next batch and the bar that tunes it
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Label Next shows the batch of unlabelled photos that `leafscope-cli next` would list, ranked
 * by leaf_next_rank_catalog() with the active model. The batch is ranked once and kept while its
 * photos are labelled, so that the grid does not reshuffle under the user; labelled photos stay
 * in it, showing their new label, until the user asks for the next batch (after training again,
 * which is when a new ranking has something new to say).
 */

#define G_LOG_DOMAIN "leaf-library-next"

#include "config.h"

#include <adwaita.h>
#include <glib/gi18n.h>

#include "leaf-diagnosis-service.h"
#include "leaf-library-next.h"
#include "leaf-next.h"
#include "leaf-toast.h"

/* The batch sizes offered, and what a value stored by hand falls back to */
static const guint batch_sizes[] = { 10, 25, 50, 100 };

struct _LeafNextBar
{
  GtkWidget parent_instance;

  LeafCatalog *catalog;
  gint64 model_id;
  GArray *ids;              /* gint64, in ranked order; NULL until ranked */
  GCancellable *cancellable; /* while ranking */
  gboolean failed;          /* the last ranking failed: the user decides when to try again */

  GtkSpinner *spinner;
  GtkLabel *status;
  GtkDropDown *size_dropdown;
  GtkCheckButton *advance;
};

G_DEFINE_FINAL_TYPE (LeafNextBar, leaf_next_bar, GTK_TYPE_WIDGET)

enum {
  SIGNAL_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static guint
batch_size (LeafNextBar *self)
{
  return batch_sizes[MIN (gtk_drop_down_get_selected (self->size_dropdown),
                          G_N_ELEMENTS (batch_sizes) - 1)];
}

static void
update_status (LeafNextBar *self)
{
  g_autofree char *text = NULL;
  gboolean ranking = self->cancellable != NULL;

  gtk_spinner_set_spinning (self->spinner, ranking);
  gtk_widget_set_visible (GTK_WIDGET (self->spinner), ranking);
  if (ranking)
    text = g_strdup (_("Ranking the unlabelled photos with the active model…"));
  else if (self->ids != NULL)
    text = g_strdup_printf (ngettext ("The %u unlabelled photo whose label would teach the model "
                                      "most",
                                      "The %u unlabelled photos whose labels would teach the "
                                      "model most, the most useful first",
                                      self->ids->len),
                            self->ids->len);
  else
    text = g_strdup (_("Unlabelled photos whose labels would teach the model most"));
  gtk_label_set_text (self->status, text);
}

static void
set_ids (LeafNextBar *self,
         GArray      *ids)
{
  g_clear_pointer (&self->ids, g_array_unref);
  self->ids = ids;
  update_status (self);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
}

static void
cancel_ranking (LeafNextBar *self)
{
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
}

/* One ranking, which outlives the bar's interest in it when cancelled. */
typedef struct
{
  LeafNextBar *bar;
  GCancellable *cancellable;
} Ranking;

static void
ranking_free (Ranking *ranking)
{
  g_object_unref (ranking->bar);
  g_object_unref (ranking->cancellable);
  g_free (ranking);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Ranking, ranking_free)

static void
on_rank_progress_cb (guint    done,
                     guint    total,
                     gpointer user_data)
{
  Ranking *ranking = user_data;
  g_autofree char *text = NULL;

  if (g_cancellable_is_cancelled (ranking->cancellable))
    return;
  text = g_strdup_printf (ngettext ("Ranking the unlabelled photos with the active model… %u of "
                                    "%u photo",
                                    "Ranking the unlabelled photos with the active model… %u of "
                                    "%u photos", total),
                          done, total);
  gtk_label_set_text (ranking->bar->status, text);
}

static void
on_ranked_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(Ranking) ranking = user_data;
  LeafNextBar *self = ranking->bar;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) ranked = NULL;
  GArray *ids;

  ranked = leaf_diagnosis_service_rank_next_finish (LEAF_DIAGNOSIS_SERVICE (source), result,
                                                    &error);
  if (g_cancellable_is_cancelled (ranking->cancellable))
    return;
  g_clear_object (&self->cancellable);
  self->failed = ranked == NULL;
  if (ranked == NULL)
    {
      leaf_show_toast_error (GTK_WIDGET (self), error);
      set_ids (self, NULL);
      return;
    }
  ids = g_array_sized_new (FALSE, FALSE, sizeof (gint64), ranked->len);
  for (guint i = 0; i < ranked->len; i++)
    {
      LeafNextItem *item = ranked->pdata[i];
      gint64 id = leaf_catalog_image_get_id (item->image);

      g_array_append_val (ids, id);
    }
  set_ids (self, ids);
}

static void
rank (LeafNextBar *self)
{
  Ranking *ranking;

  cancel_ranking (self);
  g_clear_pointer (&self->ids, g_array_unref);
  if (self->catalog == NULL || self->model_id <= 0)
    {
      set_ids (self, NULL);
      return;
    }
  self->cancellable = g_cancellable_new ();
  ranking = g_new0 (Ranking, 1);
  ranking->bar = g_object_ref (self);
  ranking->cancellable = g_object_ref (self->cancellable);
  leaf_diagnosis_service_rank_next_async (leaf_diagnosis_service_get_default (), self->catalog,
                                          self->model_id, batch_size (self), on_rank_progress_cb,
                                          ranking, self->cancellable, on_ranked_cb, ranking);
  set_ids (self, NULL);
}

/**
 * leaf_next_bar_ensure_batch:
 *
 * Ranks a batch with the active model unless there is one, or one is being ranked.
 */
void
leaf_next_bar_ensure_batch (LeafNextBar *self)
{
  g_return_if_fail (LEAF_IS_NEXT_BAR (self));

  if (self->ids == NULL && self->cancellable == NULL && self->model_id > 0 && !self->failed)
    rank (self);
}

/**
 * leaf_next_bar_set_model:
 * @catalog: (nullable): the Library's catalog
 * @model_id: its active model, or 0
 *
 * Forgets the batch when either changed: it was ranked by another model.
 */
void
leaf_next_bar_set_model (LeafNextBar *self,
                         LeafCatalog *catalog,
                         gint64       model_id)
{
  g_return_if_fail (LEAF_IS_NEXT_BAR (self));

  if (catalog == self->catalog && model_id == self->model_id)
    return;
  cancel_ranking (self);
  g_set_object (&self->catalog, catalog);
  self->model_id = model_id;
  self->failed = FALSE;
  set_ids (self, NULL);
}

/**
 * leaf_next_bar_get_ids:
 *
 * Returns: (nullable) (transfer none) (element-type gint64): the batch, in ranked order, or
 *   %NULL while there is none
 */
GArray *
leaf_next_bar_get_ids (LeafNextBar *self)
{
  g_return_val_if_fail (LEAF_IS_NEXT_BAR (self), NULL);

  return self->ids;
}

gboolean
leaf_next_bar_get_ranking (LeafNextBar *self)
{
  g_return_val_if_fail (LEAF_IS_NEXT_BAR (self), FALSE);

  return self->cancellable != NULL;
}

/**
 * leaf_next_bar_count_left:
 * @count: (out): how many photos of the batch are still unlabelled; before the batch is ranked,
 *   how many it will hold
 *
 * Returns: whether there is, or will be, a batch to count
 */
gboolean
leaf_next_bar_count_left (LeafNextBar *self,
                          guint       *count)
{
  g_return_val_if_fail (LEAF_IS_NEXT_BAR (self), FALSE);

  *count = 0;
  if (self->catalog == NULL || self->model_id <= 0)
    return FALSE;
  if (self->ids == NULL)
    {
      LeafImageQuery unlabelled = { .labels = LEAF_LABEL_FILTER_UNLABELED };
      guint n_unlabelled;

      if (!leaf_catalog_count_images (self->catalog, &unlabelled, &n_unlabelled, NULL))
        return FALSE;
      *count = MIN (n_unlabelled, batch_size (self));
      return TRUE;
    }
  for (guint i = 0; i < self->ids->len; i++)
    {
      g_autoptr(LeafCatalogImage) image =
        leaf_catalog_get_image (self->catalog, g_array_index (self->ids, gint64, i), NULL);

      if (image != NULL && leaf_catalog_image_get_class_id (image) == 0)
        (*count)++;
    }
  return TRUE;
}

/* Whether labelling a photo of the batch selects the next one. */
gboolean
leaf_next_bar_get_advance (LeafNextBar *self)
{
  g_return_val_if_fail (LEAF_IS_NEXT_BAR (self), FALSE);

  return gtk_check_button_get_active (self->advance);
}

static gboolean
size_to_position (GValue   *value,
                  GVariant *variant,
                  gpointer  user_data)
{
  int size = g_variant_get_int32 (variant);
  guint position = 0;

  /* The nearest size offered at or below the stored one */
  for (guint i = 0; i < G_N_ELEMENTS (batch_sizes); i++)
    if ((guint) size >= batch_sizes[i])
      position = i;
  g_value_set_uint (value, position);
  return TRUE;
}

static GVariant *
position_to_size (const GValue       *value,
                  const GVariantType *expected_type,
                  gpointer            user_data)
{
  guint position = g_value_get_uint (value);

  return g_variant_new_int32 (batch_sizes[MIN (position, G_N_ELEMENTS (batch_sizes) - 1)]);
}

static void
on_batch_size_changed_cb (LeafNextBar *self)
{
  /* A new size is a new batch; the one shown now was ranked for the old size. */
  if (self->ids != NULL || self->cancellable != NULL)
    rank (self);
  else
    g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
}

static void
leaf_next_bar_dispose (GObject *object)
{
  LeafNextBar *self = LEAF_NEXT_BAR (object);
  GtkWidget *child;

  cancel_ranking (self);
  g_clear_object (&self->catalog);
  g_clear_pointer (&self->ids, g_array_unref);
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self))) != NULL)
    gtk_widget_unparent (child);
  G_OBJECT_CLASS (leaf_next_bar_parent_class)->dispose (object);
}

static void
leaf_next_bar_class_init (LeafNextBarClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = leaf_next_bar_dispose;

  /**
   * LeafNextBar::changed:
   *
   * The batch changed: a ranking started, ended or failed, or the model changed.
   */
  signals[SIGNAL_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass),
                                          G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                          G_TYPE_NONE, 0);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BOX_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "box");
}

static void
leaf_next_bar_init (LeafNextBar *self)
{
  gtk_orientable_set_orientation (GTK_ORIENTABLE (gtk_widget_get_layout_manager (GTK_WIDGET (self))),
                                  GTK_ORIENTATION_VERTICAL);
}

/**
 * leaf_next_bar_new:
 * @settings: (nullable): the application's settings, which keep the batch size and whether to
 *   move on
 *
 * Returns: the bar above the Label Next grid: what the batch is, its size, whether labelling
 *   moves to the next photo, and a button for the next batch
 */
GtkWidget *
leaf_next_bar_new (GSettings *settings)
{
  LeafNextBar *self = g_object_new (LEAF_TYPE_NEXT_BAR, NULL);
  GtkWidget *status_row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *controls = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  GtkWidget *size_box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *size_label, *again;
  g_autoptr(GtkStringList) sizes = gtk_string_list_new (NULL);

  gtk_box_layout_set_spacing (GTK_BOX_LAYOUT (gtk_widget_get_layout_manager (GTK_WIDGET (self))),
                              6);
  gtk_widget_add_css_class (GTK_WIDGET (self), "filter-banner");

  self->spinner = GTK_SPINNER (gtk_spinner_new ());
  self->status = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_wrap (self->status, TRUE);
  gtk_label_set_xalign (self->status, 0);
  gtk_widget_set_hexpand (GTK_WIDGET (self->status), TRUE);
  gtk_box_append (GTK_BOX (status_row), GTK_WIDGET (self->spinner));
  gtk_box_append (GTK_BOX (status_row), GTK_WIDGET (self->status));
  gtk_widget_set_parent (status_row, GTK_WIDGET (self));

  for (guint i = 0; i < G_N_ELEMENTS (batch_sizes); i++)
    {
      char text[16];

      g_snprintf (text, sizeof text, "%u", batch_sizes[i]);
      gtk_string_list_append (sizes, text);
    }
  /* Translators: before the drop-down with how many photos Label Next ranks at a time */
  size_label = gtk_label_new_with_mnemonic (_("_Batch"));
  self->size_dropdown = GTK_DROP_DOWN (gtk_drop_down_new (G_LIST_MODEL (g_object_ref (sizes)),
                                                          NULL));
  gtk_label_set_mnemonic_widget (GTK_LABEL (size_label), GTK_WIDGET (self->size_dropdown));
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->size_dropdown),
                               _("How many photos to rank at a time"));
  gtk_drop_down_set_selected (self->size_dropdown, 1);
  g_signal_connect_object (self->size_dropdown, "notify::selected",
                           G_CALLBACK (on_batch_size_changed_cb), self, G_CONNECT_SWAPPED);
  gtk_box_append (GTK_BOX (size_box), size_label);
  gtk_box_append (GTK_BOX (size_box), GTK_WIDGET (self->size_dropdown));
  gtk_box_append (GTK_BOX (controls), size_box);

  self->advance = GTK_CHECK_BUTTON (gtk_check_button_new_with_mnemonic (
    _("_Move to the next photo after labelling")));
  gtk_check_button_set_active (self->advance, TRUE);
  gtk_widget_set_hexpand (GTK_WIDGET (self->advance), TRUE);
  gtk_box_append (GTK_BOX (controls), GTK_WIDGET (self->advance));
  /* Without settings (no schema found) the defaults above hold for this run. */
  if (settings != NULL)
    {
      g_settings_bind_with_mapping (settings, "next-batch-size", self->size_dropdown, "selected",
                                    G_SETTINGS_BIND_DEFAULT, size_to_position, position_to_size,
                                    NULL, NULL);
      g_settings_bind (settings, "next-advance", self->advance, "active",
                       G_SETTINGS_BIND_DEFAULT);
    }

  again = gtk_button_new_with_mnemonic (_("_Next Batch"));
  gtk_widget_set_tooltip_text (again, _("Rank the unlabelled photos again, best after training "
                                        "with the labels of this batch"));
  g_signal_connect_object (again, "clicked", G_CALLBACK (rank), self, G_CONNECT_SWAPPED);
  gtk_box_append (GTK_BOX (controls), again);
  gtk_widget_set_parent (controls, GTK_WIDGET (self));

  update_status (self);
  return GTK_WIDGET (self);
}
