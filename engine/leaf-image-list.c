/* leaf-image-list.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The Library grid must stay smooth with 100,000 photos, so this model never loads them all: it
 * counts the query's rows, and fetches pages of PAGE_SIZE rows when the grid asks for an item,
 * keeping the MAX_PAGES most recently used pages.
 *
 * Items are LeafLibraryItem wrappers rather than the catalog's immutable image snapshots, so that
 * a label change updates the items in place (the grid keeps its selection and scroll position)
 * instead of removing and re-adding rows. There is never more than one item per image: a page
 * read again (after eviction, or because it was the partial last page when photos were added)
 * reuses the items still alive, so that cells the grid keeps bound go on receiving updates.
 */

#define G_LOG_DOMAIN "leaf-image-list"

#include "config.h"


#include "leaf-image-list.h"

#define PAGE_SIZE 256
#define MAX_PAGES 32

struct _LeafLibraryItem
{
  GObject parent_instance;
  gint64 id;
  LeafCatalogImage *image; /* NULL when the row could not be read */
  char *class_name;
  char *class_color;
  char *predicted_name;     /* the query's model's top class, when the catalog has it */
  char *predicted_color;
};

G_DEFINE_FINAL_TYPE (LeafLibraryItem, leaf_library_item, G_TYPE_OBJECT)

enum {
  ITEM_PROP_0,
  ITEM_PROP_IMAGE,
  ITEM_PROP_CLASS_NAME,
  ITEM_PROP_CLASS_COLOR,
  ITEM_N_PROPS
};

static GParamSpec *item_properties[ITEM_N_PROPS];

static void
leaf_library_item_finalize (GObject *object)
{
  LeafLibraryItem *self = LEAF_LIBRARY_ITEM (object);

  g_clear_object (&self->image);
  g_clear_pointer (&self->class_name, g_free);
  g_clear_pointer (&self->class_color, g_free);
  g_clear_pointer (&self->predicted_name, g_free);
  g_clear_pointer (&self->predicted_color, g_free);
  G_OBJECT_CLASS (leaf_library_item_parent_class)->finalize (object);
}

static void
leaf_library_item_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  LeafLibraryItem *self = LEAF_LIBRARY_ITEM (object);

  switch (prop_id)
    {
    case ITEM_PROP_IMAGE:
      g_value_set_object (value, self->image);
      break;
    case ITEM_PROP_CLASS_NAME:
      g_value_set_string (value, self->class_name);
      break;
    case ITEM_PROP_CLASS_COLOR:
      g_value_set_string (value, self->class_color);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
leaf_library_item_class_init (LeafLibraryItemClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = leaf_library_item_finalize;
  object_class->get_property = leaf_library_item_get_property;

  item_properties[ITEM_PROP_IMAGE] =
    g_param_spec_object ("image", NULL, NULL, LEAF_TYPE_CATALOG_IMAGE,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  item_properties[ITEM_PROP_CLASS_NAME] =
    g_param_spec_string ("class-name", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  item_properties[ITEM_PROP_CLASS_COLOR] =
    g_param_spec_string ("class-color", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, ITEM_N_PROPS, item_properties);
}

static void
leaf_library_item_init (LeafLibraryItem *self)
{
}

/**
 * leaf_library_item_get_image:
 *
 * Returns: (transfer none) (nullable): the image's latest snapshot, %NULL when its row could not
 *   be read
 */
LeafCatalogImage *
leaf_library_item_get_image (LeafLibraryItem *self)
{
  g_return_val_if_fail (LEAF_IS_LIBRARY_ITEM (self), NULL);
  return self->image;
}

gint64
leaf_library_item_get_id (LeafLibraryItem *self)
{
  g_return_val_if_fail (LEAF_IS_LIBRARY_ITEM (self), 0);
  return self->id;
}

/**
 * leaf_library_item_get_class_name:
 *
 * Returns: (nullable): the label's class name, %NULL when unlabelled
 */
const char *
leaf_library_item_get_class_name (LeafLibraryItem *self)
{
  g_return_val_if_fail (LEAF_IS_LIBRARY_ITEM (self), NULL);
  return self->class_name;
}

/**
 * leaf_library_item_get_class_color:
 *
 * Returns: (nullable): the label's class colour, `#rrggbb`, %NULL when unlabelled
 */
const char *
leaf_library_item_get_class_color (LeafLibraryItem *self)
{
  g_return_val_if_fail (LEAF_IS_LIBRARY_ITEM (self), NULL);
  return self->class_color;
}

/**
 * leaf_library_item_get_prediction:
 * @class_name: (out) (optional) (transfer none): the predicted class's name
 * @class_color: (out) (optional) (transfer none): its colour, `#rrggbb`
 * @probability: (out) (optional): its probability
 *
 * What the list's model predicts for the photo; it changes with the "image" property.
 *
 * Returns: %FALSE when the list names no model, the model has not predicted the photo, or the
 *   catalog no longer has the predicted class
 */
gboolean
leaf_library_item_get_prediction (LeafLibraryItem  *self,
                                  const char      **class_name,
                                  const char      **class_color,
                                  double           *probability)
{
  g_return_val_if_fail (LEAF_IS_LIBRARY_ITEM (self), FALSE);

  if (self->predicted_name == NULL)
    return FALSE;
  if (class_name != NULL)
    *class_name = self->predicted_name;
  if (class_color != NULL)
    *class_color = self->predicted_color;
  if (probability != NULL)
    leaf_catalog_image_get_prediction (self->image, NULL, probability, NULL);
  return TRUE;
}

struct _LeafImageList
{
  GObject parent_instance;

  LeafCatalog *catalog;
  LeafImageQuery query;
  char *name_contains;
  char *labeller;
  GArray *ids; /* when set, the list shows exactly these images instead of the query's */

  guint n_items;
  GHashTable *live;   /* image id → LeafLibraryItem, weak: every item of this list still alive */
  GHashTable *pages;  /* page index → GPtrArray of LeafLibraryItem */
  GQueue lru;         /* page indices, most recent first */
  GHashTable *classes; /* class id → LeafClassInfo */
};

static GType
leaf_image_list_get_item_type (GListModel *model)
{
  return LEAF_TYPE_LIBRARY_ITEM;
}

static guint
leaf_image_list_get_n_items (GListModel *model)
{
  return LEAF_IMAGE_LIST (model)->n_items;
}

static void
item_update_class (LeafImageList   *self,
                   LeafLibraryItem *item)
{
  gint64 class_id = item->image ? leaf_catalog_image_get_class_id (item->image) : 0;
  LeafClassInfo *info = class_id > 0 ? g_hash_table_lookup (self->classes, &class_id) : NULL;
  const char *name = info ? info->name : NULL;
  const char *color = info ? info->color : NULL;
  gint64 predicted_id = 0;

  /* Before any notification, so that a handler of any of them sees the whole item. */
  g_clear_pointer (&item->predicted_name, g_free);
  g_clear_pointer (&item->predicted_color, g_free);
  if (item->image != NULL
      && leaf_catalog_image_get_prediction (item->image, &predicted_id, NULL, NULL)
      && predicted_id > 0 && (info = g_hash_table_lookup (self->classes, &predicted_id)) != NULL)
    {
      item->predicted_name = g_strdup (info->name);
      item->predicted_color = g_strdup (info->color);
    }

  if (g_strcmp0 (item->class_name, name) != 0)
    {
      g_free (item->class_name);
      item->class_name = g_strdup (name);
      g_object_notify_by_pspec (G_OBJECT (item), item_properties[ITEM_PROP_CLASS_NAME]);
    }
  if (g_strcmp0 (item->class_color, color) != 0)
    {
      g_free (item->class_color);
      item->class_color = g_strdup (color);
      g_object_notify_by_pspec (G_OBJECT (item), item_properties[ITEM_PROP_CLASS_COLOR]);
    }
}

static void
item_set_image (LeafImageList    *self,
                LeafLibraryItem  *item,
                LeafCatalogImage *image)
{
  g_set_object (&item->image, image);
  item_update_class (self, item);
  g_object_notify_by_pspec (G_OBJECT (item), item_properties[ITEM_PROP_IMAGE]);
}

static void
on_item_finalized_cb (gpointer  data,
                      GObject  *where_the_object_was)
{
  LeafImageList *self = data;
  LeafLibraryItem *item = (LeafLibraryItem *) where_the_object_was;

  /* The key points into the dying item; it is still readable during weak notification. */
  g_hash_table_remove (self->live, &item->id);
}

static LeafLibraryItem *
item_for (LeafImageList    *self,
          LeafCatalogImage *image)
{
  gint64 id = image ? leaf_catalog_image_get_id (image) : 0;
  LeafLibraryItem *item = id > 0 ? g_hash_table_lookup (self->live, &id) : NULL;

  if (item != NULL)
    {
      g_object_ref (item);
      if (item->image != image)
        item_set_image (self, item, image);
    }
  else
    {
      item = g_object_new (LEAF_TYPE_LIBRARY_ITEM, NULL);
      item->image = image ? g_object_ref (image) : NULL;
      item->id = id;
      if (id > 0)
        {
          g_hash_table_insert (self->live, &item->id, item);
          g_object_weak_ref (G_OBJECT (item), on_item_finalized_cb, self);
        }
      item_update_class (self, item);
    }
  return item;
}

/* Reads rows [offset, offset + count) of the list. */
static GPtrArray *
read_images (LeafImageList  *self,
             guint           offset,
             guint           count,
             GError        **error)
{
  GPtrArray *images;

  if (self->ids == NULL)
    return leaf_catalog_query_images (self->catalog, &self->query, offset, count, error);

  images = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = offset; i < offset + count && i < self->ids->len; i++)
    /* A hole keeps the positions; its item shows as missing. */
    g_ptr_array_add (images, leaf_catalog_get_predicted_image (self->catalog,
                                                               g_array_index (self->ids, gint64, i),
                                                               self->query.model_id, NULL));
  return images;
}

/* Fills @items, the page @page, up to the list's length. */
static void
fill_page (LeafImageList *self,
           guint          page,
           GPtrArray     *items)
{
  g_autoptr(GPtrArray) images = NULL;
  g_autoptr(GError) error = NULL;
  guint wanted = MIN (PAGE_SIZE, self->n_items - page * PAGE_SIZE);
  guint have = items->len;

  if (have >= wanted)
    return;
  images = read_images (self, page * PAGE_SIZE + have, wanted - have, &error);
  if (images == NULL)
    g_warning ("Could not read photos %u to %u of the catalog: %s",
               page * PAGE_SIZE + have, page * PAGE_SIZE + wanted, error->message);
  for (guint i = 0; have + i < wanted; i++)
    {
      /* The catalog may have shrunk since the count (another process, an import running); the
       * grid still expects an item at every position up to n_items. */
      LeafCatalogImage *image = images && i < images->len ? g_ptr_array_index (images, i) : NULL;

      g_ptr_array_add (items, item_for (self, image));
    }
}

static gpointer
leaf_image_list_get_item (GListModel *model,
                          guint       position)
{
  LeafImageList *self = LEAF_IMAGE_LIST (model);
  guint page = position / PAGE_SIZE;
  GPtrArray *items;

  if (position >= self->n_items)
    return NULL;

  items = g_hash_table_lookup (self->pages, GUINT_TO_POINTER (page));
  if (items == NULL)
    {
      items = g_ptr_array_new_full (PAGE_SIZE, g_object_unref);
      fill_page (self, page, items);
      g_hash_table_insert (self->pages, GUINT_TO_POINTER (page), items);
      g_queue_push_head (&self->lru, GUINT_TO_POINTER (page));
      if (g_queue_get_length (&self->lru) > MAX_PAGES)
        g_hash_table_remove (self->pages, g_queue_pop_tail (&self->lru));
    }
  else
    {
      /* The last page grows when photos are added. */
      fill_page (self, page, items);
      if (g_queue_peek_head (&self->lru) != GUINT_TO_POINTER (page))
        {
          g_queue_remove (&self->lru, GUINT_TO_POINTER (page));
          g_queue_push_head (&self->lru, GUINT_TO_POINTER (page));
        }
    }
  return g_object_ref (g_ptr_array_index (items, position % PAGE_SIZE));
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = leaf_image_list_get_item_type;
  iface->get_n_items = leaf_image_list_get_n_items;
  iface->get_item = leaf_image_list_get_item;
}

G_DEFINE_FINAL_TYPE_WITH_CODE (LeafImageList, leaf_image_list, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

static void
clear_query (LeafImageList *self)
{
  g_clear_pointer (&self->name_contains, g_free);
  g_clear_pointer (&self->labeller, g_free);
  g_clear_pointer (&self->query.taken_after, g_date_time_unref);
  g_clear_pointer (&self->query.taken_before, g_date_time_unref);
}

static void
drop_pages (LeafImageList *self)
{
  g_hash_table_remove_all (self->pages);
  g_queue_clear (&self->lru);
}

static void
load_classes (LeafImageList *self)
{
  g_autoptr(GPtrArray) classes = NULL;
  g_autoptr(GError) error = NULL;

  g_hash_table_remove_all (self->classes);
  classes = leaf_catalog_list_classes (self->catalog, &error);
  if (classes == NULL)
    {
      g_warning ("Could not read the classes of the catalog: %s", error->message);
      return;
    }
  /* The table takes the infos over from the array. */
  g_ptr_array_set_free_func (classes, NULL);
  for (guint i = 0; i < classes->len; i++)
    {
      LeafClassInfo *info = g_ptr_array_index (classes, i);

      g_hash_table_insert (self->classes, &info->id, info);
    }
}

/* Every live item, held: each notification reaches cells, and a cell that rebinds may let go
 * of another item, which would then leave the table (and a loop over it) mid-walk. */
static GPtrArray *
hold_live_items (LeafImageList *self)
{
  GPtrArray *items = g_ptr_array_new_full (g_hash_table_size (self->live), g_object_unref);
  GHashTableIter iter;
  gpointer item;

  g_hash_table_iter_init (&iter, self->live);
  while (g_hash_table_iter_next (&iter, NULL, &item))
    g_ptr_array_add (items, g_object_ref (item));
  return items;
}

static void
on_classes_changed_cb (LeafImageList *self)
{
  g_autoptr(GPtrArray) items = hold_live_items (self);

  load_classes (self);
  for (guint i = 0; i < items->len; i++)
    item_update_class (self, g_ptr_array_index (items, i));
}

static void
refresh_item (LeafImageList   *self,
              LeafLibraryItem *item)
{
  g_autoptr(LeafCatalogImage) image = leaf_catalog_get_predicted_image (self->catalog, item->id,
                                                                        self->query.model_id,
                                                                        NULL);

  if (image == NULL)
    return;
  item_set_image (self, item, image);
}

/* Refreshes the live items whose image is in @ids (all when @ids is NULL) in place. */
static void
on_labels_changed_cb (LeafImageList *self,
                      GArray        *ids)
{
  if (ids != NULL)
    {
      for (guint i = 0; i < ids->len; i++)
        {
          LeafLibraryItem *item = g_hash_table_lookup (self->live,
                                                       &g_array_index (ids, gint64, i));

          if (item != NULL)
            refresh_item (self, item);
        }
    }
  else
    {
      g_autoptr(GPtrArray) items = hold_live_items (self);

      for (guint i = 0; i < items->len; i++)
        refresh_item (self, g_ptr_array_index (items, i));
    }
}

static void
on_images_changed_cb (LeafImageList *self)
{
  g_autoptr(GError) error = NULL;
  guint old = self->n_items, count;

  if (self->ids != NULL)
    return;

  /* In import order new photos come last: append them and leave the rest of the grid alone. */
  if (self->query.sort == LEAF_IMAGE_SORT_IMPORTED
      && leaf_catalog_count_images (self->catalog, &self->query, &count, &error)
      && count >= old)
    {
      if (count == old)
        return;
      /* A partial last page fills up when asked for its new items. */
      self->n_items = count;
      g_list_model_items_changed (G_LIST_MODEL (self), old, 0, count - old);
      return;
    }
  if (!leaf_image_list_reload (self, &error))
    g_warning ("Could not reload the photos: %s", error->message);
}

static void
leaf_image_list_dispose (GObject *object)
{
  LeafImageList *self = LEAF_IMAGE_LIST (object);

  if (self->catalog != NULL)
    g_signal_handlers_disconnect_by_data (self->catalog, self);
  g_clear_object (&self->catalog);
  G_OBJECT_CLASS (leaf_image_list_parent_class)->dispose (object);
}

static void
leaf_image_list_finalize (GObject *object)
{
  LeafImageList *self = LEAF_IMAGE_LIST (object);

  clear_query (self);
  g_clear_pointer (&self->ids, g_array_unref);
  g_queue_clear (&self->lru);
  g_clear_pointer (&self->pages, g_hash_table_unref);
  {
    GHashTableIter iter;
    LeafLibraryItem *item;

    /* Items may outlive the list, in a cell for example. */
    g_hash_table_iter_init (&iter, self->live);
    while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &item))
      g_object_weak_unref (G_OBJECT (item), on_item_finalized_cb, self);
    g_clear_pointer (&self->live, g_hash_table_unref);
  }
  g_clear_pointer (&self->classes, g_hash_table_unref);
  G_OBJECT_CLASS (leaf_image_list_parent_class)->finalize (object);
}

static void
leaf_image_list_class_init (LeafImageListClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = leaf_image_list_dispose;
  object_class->finalize = leaf_image_list_finalize;
}

static void
leaf_image_list_init (LeafImageList *self)
{
  self->pages = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) g_ptr_array_unref);
  self->live = g_hash_table_new (g_int64_hash, g_int64_equal);
  self->classes = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL,
                                         (GDestroyNotify) leaf_class_info_free);
  g_queue_init (&self->lru);
}

/**
 * leaf_image_list_new:
 * @catalog: the catalog to list
 * @query: the filter and order; copied
 * @ids: (nullable) (element-type gint64): when given, the list shows exactly these images, in
 *   this order, instead of the query's
 * @error: return location for a #GError
 *
 * Counts the rows at once and reads them when asked for; the list follows the catalog's signals.
 * A list for another filter is a new list: replacing a grid's whole model is much cheaper than
 * telling it that every row changed.
 *
 * Returns: (transfer full) (nullable): a list model of #LeafLibraryItem, or %NULL with @error
 *   set when the catalog could not be read
 */
LeafImageList *
leaf_image_list_new (LeafCatalog          *catalog,
                     const LeafImageQuery *query,
                     GArray               *ids,
                     GError              **error)
{
  g_autoptr(LeafImageList) self = NULL;

  g_return_val_if_fail (LEAF_IS_CATALOG (catalog), NULL);
  g_return_val_if_fail (query != NULL, NULL);

  self = g_object_new (LEAF_TYPE_IMAGE_LIST, NULL);
  self->catalog = g_object_ref (catalog);
  self->query = *query;
  self->query.name_contains = self->name_contains = g_strdup (query->name_contains);
  self->query.labeller = self->labeller = g_strdup (query->labeller);
  if (query->taken_after != NULL)
    g_date_time_ref (query->taken_after);
  if (query->taken_before != NULL)
    g_date_time_ref (query->taken_before);
  if (ids != NULL)
    self->ids = g_array_ref (ids);
  load_classes (self);
  if (!leaf_image_list_reload (self, error))
    return NULL;
  g_signal_connect_object (catalog, "classes-changed", G_CALLBACK (on_classes_changed_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (catalog, "labels-changed", G_CALLBACK (on_labels_changed_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (catalog, "images-changed", G_CALLBACK (on_images_changed_cb), self,
                           G_CONNECT_SWAPPED);
  return g_steal_pointer (&self);
}

/**
 * leaf_image_list_get_catalog:
 *
 * Returns: (transfer none): the catalog listed
 */
LeafCatalog *
leaf_image_list_get_catalog (LeafImageList *self)
{
  g_return_val_if_fail (LEAF_IS_IMAGE_LIST (self), NULL);
  return self->catalog;
}

/**
 * leaf_image_list_reload:
 *
 * Counts the rows again and replaces every item.
 *
 * Returns: %FALSE with @error set when the catalog could not be read; the list is then empty
 */
gboolean
leaf_image_list_reload (LeafImageList  *self,
                        GError        **error)
{
  guint old, count = 0;
  gboolean ok;

  g_return_val_if_fail (LEAF_IS_IMAGE_LIST (self), FALSE);

  if (self->ids != NULL)
    ok = TRUE, count = self->ids->len;
  else
    ok = leaf_catalog_count_images (self->catalog, &self->query, &count, error);
  old = self->n_items;
  self->n_items = ok ? count : 0;
  drop_pages (self);
  if (old > 0 || self->n_items > 0)
    g_list_model_items_changed (G_LIST_MODEL (self), 0, old, self->n_items);
  return ok;
}

/**
 * leaf_image_list_refresh:
 *
 * Reads every item the list still holds again, in place, for what the catalog does not signal:
 * predictions stored by another connection, or in batches while a model reviews the photos.
 */
void
leaf_image_list_refresh (LeafImageList *self)
{
  g_return_if_fail (LEAF_IS_IMAGE_LIST (self));
  on_labels_changed_cb (self, NULL);
}
