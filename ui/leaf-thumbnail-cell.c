/* leaf-thumbnail-cell.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-thumbnail-cell"

#include "config.h"

#include <glib/gi18n.h>

#include "leaf-class-color.h"
#include "leaf-thumbnail-cell.h"

struct _LeafThumbnailCell
{
  GtkWidget parent_instance;

  LeafLibraryItem *item;
  GCancellable *cancellable;
  int size;
  LeafThumbnailPrediction prediction;
  char *votes; /* in Disputed: who voted what, shown under the photo */

  /* Template widgets */
  GtkOverlay *overlay;
  GtkPicture *picture;
  GtkImage *status_icon;
  GtkLabel *chip;
  GtkWidget *suggestion;
  GtkWidget *suggestion_dot;
  GtkLabel *suggestion_label;
  GtkLabel *name_label;
  GtkLabel *disagreement_label;
};

G_DEFINE_FINAL_TYPE (LeafThumbnailCell, leaf_thumbnail_cell, GTK_TYPE_WIDGET)

/* The model's class and probability: where the photo has no label, as a suggestion in the
 * label's place; where its label differs, at the top, so that both show. A prediction that
 * agrees with the label adds nothing, but in the Uncertain filter, where its probability is the
 * point. */
static void
update_label (LeafThumbnailCell *self)
{
  const char *name = leaf_library_item_get_class_name (self->item);
  LeafCatalogImage *image = leaf_library_item_get_image (self->item);
  const char *predicted = NULL, *predicted_color = NULL;
  double probability = 0;
  gboolean show_prediction;
  g_autofree char *description = NULL;
  g_autofree char *chip_text = NULL;
  g_autofree char *comparison = NULL;

  gtk_label_set_text (self->chip, name ? name : "");
  gtk_widget_set_visible (GTK_WIDGET (self->chip), name != NULL);
  leaf_widget_set_class_color (GTK_WIDGET (self->chip),
                               leaf_library_item_get_class_color (self->item));

  show_prediction = leaf_library_item_get_prediction (self->item, &predicted, &predicted_color,
                                                      &probability)
                    && (g_strcmp0 (name, predicted) != 0
                        || self->prediction == LEAF_THUMBNAIL_PREDICTION_ALL);
  if (show_prediction)
    {
      /* Translators: a class and the model's probability for it, on a photo's thumbnail */
      chip_text = g_strdup_printf (_("%s %.0f %%"), predicted, 100 * probability);
      gtk_label_set_text (self->suggestion_label, chip_text);
      leaf_widget_set_class_color (self->suggestion_dot, predicted_color);
      gtk_widget_set_valign (self->suggestion, name ? GTK_ALIGN_START : GTK_ALIGN_END);
      if (name != NULL)
        /* Translators: under a photo in the Disagreements filter: its label, the model's
         * class and the model's probability for it */
        comparison = g_strdup_printf (_("labelled %s, model says %s (%.0f %%)"), name,
                                        predicted, 100 * probability);
    }
  gtk_widget_set_visible (self->suggestion, show_prediction);
  if (self->votes != NULL)
    {
      g_free (comparison);
      comparison = g_strdup (self->votes);
    }
  gtk_label_set_text (self->disagreement_label, comparison ? comparison : "");
  gtk_widget_set_visible (GTK_WIDGET (self->disagreement_label),
                          comparison != NULL
                          && (self->votes != NULL
                              || self->prediction == LEAF_THUMBNAIL_PREDICTION_DISAGREEMENT));

  if (image != NULL)
    {
      const char *file = leaf_catalog_image_get_name (image);

      gtk_label_set_text (self->name_label, file);
      if (comparison != NULL)
        /* Translators: accessible label of a photo in the grid: file name, then its label and
         * what the model says */
        description = g_strdup_printf (_("%s, %s"), file, comparison);
      else if (show_prediction)
        /* Translators: accessible label of an unlabelled photo in the grid: file name, the
         * model's class and its probability */
        description = g_strdup_printf (_("%s, unlabelled, suggested %s (%.0f %%): press A to "
                                         "accept"), file, predicted, 100 * probability);
      else
        /* Translators: accessible label of a photo in the grid: file name, then its class */
        description = name ? g_strdup_printf (_("%s, labelled %s"), file, name)
                           : g_strdup_printf (_("%s, unlabelled"), file);
      if (leaf_catalog_image_get_group_key (image) != NULL)
        {
          g_autofree char *ungrouped = g_steal_pointer (&description);

          /* Translators: a photo's description, then the group that keeps it in one split */
          description = g_strdup_printf (_("%s, group %s"), ungrouped,
                                         leaf_catalog_image_get_group_key (image));
        }
      gtk_widget_set_tooltip_text (GTK_WIDGET (self), description);
      gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                      GTK_ACCESSIBLE_PROPERTY_LABEL, description, -1);
    }
}

static void
on_thumbnail_loaded_cb (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  g_autoptr(LeafThumbnailCell) self = user_data;
  g_autoptr(GdkPixbuf) pixbuf = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  g_autoptr(GError) error = NULL;

  pixbuf = leaf_thumbnailer_load_finish (LEAF_THUMBNAILER (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (pixbuf == NULL)
    {
      gtk_image_set_from_icon_name (self->status_icon, "image-missing-symbolic");
      gtk_widget_set_visible (GTK_WIDGET (self->status_icon), TRUE);
      gtk_widget_set_tooltip_text (GTK_WIDGET (self), error->message);
      return;
    }
  texture = gdk_texture_new_for_pixbuf (pixbuf);
  gtk_picture_set_paintable (self->picture, GDK_PAINTABLE (texture));
  gtk_widget_set_visible (GTK_WIDGET (self->status_icon), FALSE);
}

static void
on_item_notify_cb (LeafThumbnailCell *self)
{
  update_label (self);
}

static void
leaf_thumbnail_cell_dispose (GObject *object)
{
  LeafThumbnailCell *self = LEAF_THUMBNAIL_CELL (object);

  leaf_thumbnail_cell_unbind (self);
  g_clear_pointer (&self->votes, g_free);
  gtk_widget_dispose_template (GTK_WIDGET (self), LEAF_TYPE_THUMBNAIL_CELL);
  G_OBJECT_CLASS (leaf_thumbnail_cell_parent_class)->dispose (object);
}

static void
leaf_thumbnail_cell_class_init (LeafThumbnailCellClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = leaf_thumbnail_cell_dispose;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/leafscope/Leafscope/leaf-thumbnail-cell.ui");
  gtk_widget_class_bind_template_child (widget_class, LeafThumbnailCell, overlay);
  gtk_widget_class_bind_template_child (widget_class, LeafThumbnailCell, picture);
  gtk_widget_class_bind_template_child (widget_class, LeafThumbnailCell, status_icon);
  gtk_widget_class_bind_template_child (widget_class, LeafThumbnailCell, chip);
  gtk_widget_class_bind_template_child (widget_class, LeafThumbnailCell, suggestion);
  gtk_widget_class_bind_template_child (widget_class, LeafThumbnailCell, suggestion_dot);
  gtk_widget_class_bind_template_child (widget_class, LeafThumbnailCell, suggestion_label);
  gtk_widget_class_bind_template_child (widget_class, LeafThumbnailCell, name_label);
  gtk_widget_class_bind_template_child (widget_class, LeafThumbnailCell, disagreement_label);

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BOX_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "thumbnailcell");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
leaf_thumbnail_cell_init (LeafThumbnailCell *self)
{
  GtkLayoutManager *layout;

  gtk_widget_init_template (GTK_WIDGET (self));
  layout = gtk_widget_get_layout_manager (GTK_WIDGET (self));
  gtk_orientable_set_orientation (GTK_ORIENTABLE (layout), GTK_ORIENTATION_VERTICAL);
  gtk_box_layout_set_spacing (GTK_BOX_LAYOUT (layout), 4);
  leaf_thumbnail_cell_set_size (self, 160);
}

GtkWidget *
leaf_thumbnail_cell_new (void)
{
  return g_object_new (LEAF_TYPE_THUMBNAIL_CELL, NULL);
}

/**
 * leaf_thumbnail_cell_bind:
 * @self: a cell
 * @item: the photo to show
 * @thumbnailer: (nullable): where thumbnails come from; without one the cell shows a placeholder
 *
 * Shows @item's label at once and its thumbnail when it has been decoded; binding another item,
 * or unbinding, cancels the decoding. Binding the item already shown does nothing.
 */
void
leaf_thumbnail_cell_bind (LeafThumbnailCell *self,
                          LeafLibraryItem   *item,
                          LeafThumbnailer   *thumbnailer)
{
  LeafCatalogImage *image;
  int scale;

  g_return_if_fail (LEAF_IS_THUMBNAIL_CELL (self));
  g_return_if_fail (LEAF_IS_LIBRARY_ITEM (item));

  /* GTK 4.8 binds again whenever the selection changes; keep the thumbnail rather than
   * decoding it anew. */
  if (item == self->item)
    return;
  leaf_thumbnail_cell_unbind (self);
  self->item = g_object_ref (item);
  self->cancellable = g_cancellable_new ();
  g_signal_connect_object (item, "notify::class-name", G_CALLBACK (on_item_notify_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (item, "notify::class-color", G_CALLBACK (on_item_notify_cb), self,
                           G_CONNECT_SWAPPED);
  /* A new snapshot may carry a new prediction. */
  g_signal_connect_object (item, "notify::image", G_CALLBACK (on_item_notify_cb), self,
                           G_CONNECT_SWAPPED);
  update_label (self);

  image = leaf_library_item_get_image (item);
  gtk_image_set_from_icon_name (self->status_icon,
                                image ? "image-loading-symbolic" : "image-missing-symbolic");
  gtk_widget_set_visible (GTK_WIDGET (self->status_icon), TRUE);
  if (image == NULL || thumbnailer == NULL)
    return;

  /* Two cache sizes only, so that changing the grid's size in Preferences reuses thumbnails. */
  scale = gtk_widget_get_scale_factor (GTK_WIDGET (self));
  leaf_thumbnailer_load_image_async (thumbnailer, image, self->size * scale <= 256 ? 256 : 512,
                                     self->cancellable, on_thumbnail_loaded_cb,
                                     g_object_ref (self));
}

/**
 * leaf_thumbnail_cell_unbind:
 *
 * Forgets the photo and cancels its decoding; the cell can then be bound again.
 */
void
leaf_thumbnail_cell_unbind (LeafThumbnailCell *self)
{
  g_return_if_fail (LEAF_IS_THUMBNAIL_CELL (self));

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->item != NULL)
    g_signal_handlers_disconnect_by_data (self->item, self);
  g_clear_object (&self->item);
  if (self->picture != NULL)
    gtk_picture_set_paintable (self->picture, NULL);
}

void
leaf_thumbnail_cell_set_size (LeafThumbnailCell *self,
                              int                size)
{
  g_return_if_fail (LEAF_IS_THUMBNAIL_CELL (self));

  self->size = size;
  gtk_widget_set_size_request (GTK_WIDGET (self->overlay), size, size);
  gtk_widget_set_size_request (GTK_WIDGET (self->name_label), size, -1);
  gtk_widget_set_size_request (GTK_WIDGET (self->disagreement_label), size, -1);
}

void
leaf_thumbnail_cell_set_show_name (LeafThumbnailCell *self,
                                   gboolean           show_name)
{
  g_return_if_fail (LEAF_IS_THUMBNAIL_CELL (self));
  gtk_widget_set_visible (GTK_WIDGET (self->name_label), show_name);
}

/**
 * leaf_thumbnail_cell_set_prediction:
 * @shown: what to show of the model's prediction
 */
void
leaf_thumbnail_cell_set_prediction (LeafThumbnailCell       *self,
                                    LeafThumbnailPrediction  shown)
{
  g_return_if_fail (LEAF_IS_THUMBNAIL_CELL (self));

  if (self->prediction == shown)
    return;
  self->prediction = shown;
  if (self->item != NULL)
    update_label (self);
}

/**
 * leaf_thumbnail_cell_set_votes:
 * @votes: (nullable): the labellers' votes on the photo, in words, shown under it (in place of
 *   the model's disagreement), or %NULL for none
 */
void
leaf_thumbnail_cell_set_votes (LeafThumbnailCell *self,
                               const char        *votes)
{
  g_return_if_fail (LEAF_IS_THUMBNAIL_CELL (self));

  if (g_strcmp0 (self->votes, votes) == 0)
    return;
  g_free (self->votes);
  self->votes = g_strdup (votes);
  if (self->item != NULL)
    update_label (self);
}

/**
 * leaf_thumbnail_cell_get_item:
 *
 * Returns: (transfer none) (nullable): the photo the cell shows
 */
LeafLibraryItem *
leaf_thumbnail_cell_get_item (LeafThumbnailCell *self)
{
  g_return_val_if_fail (LEAF_IS_THUMBNAIL_CELL (self), NULL);
  return self->item;
}

/**
 * leaf_thumbnail_cell_has_thumbnail:
 *
 * Returns: whether the decoded thumbnail is shown
 */
gboolean
leaf_thumbnail_cell_has_thumbnail (LeafThumbnailCell *self)
{
  g_return_val_if_fail (LEAF_IS_THUMBNAIL_CELL (self), FALSE);
  return gtk_picture_get_paintable (self->picture) != NULL;
}
