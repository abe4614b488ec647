/* leaf-catalog-image.c: one image of the catalog, and queries over them
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-catalog"

#include "config.h"

#include <inttypes.h>

#include <glib/gi18n.h>

#include "leaf-catalog-private.h"
#include "leaf-error.h"

/**
 * LeafCatalogImage:
 *
 * A snapshot of one image's row: its file, its label with provenance, its split and, when the
 * query named a model, that model's prediction. It does not follow later changes; listen to
 * #LeafCatalog::labels-changed and #LeafCatalog::images-changed and query again.
 */
struct _LeafCatalogImage
{
  GObject parent_instance;

  gint64 id;
  char *sha256;
  char *path;
  char *name;
  guint64 size;
  guint width;
  guint height;
  char *format;
  guint orientation;
  char *captured;
  char *imported;
  char *group_key;
  gboolean missing;
  gboolean managed;
  /* Set when path is where this machine keeps a copy of the photo fetched from the catalog, and
   * the copy has not been seen there yet: fetched from that catalog on first use. */
  gint fetch;
  GWeakRef catalog;

  gint64 class_id;
  char *labeller;
  char *label_time;
  LeafLabelHow label_how;
  LeafSplit split;

  gboolean has_prediction;
  gint64 predicted_class_id;
  double probability;
  double entropy;
  gboolean referred;

  /* Parsed on first use: most rows are shown without their dates. */
  GDateTime *captured_time;
  GDateTime *imported_time;
  GDateTime *labelled_time;
};

G_DEFINE_FINAL_TYPE (LeafCatalogImage, leaf_catalog_image, G_TYPE_OBJECT)

static void
leaf_catalog_image_finalize (GObject *object)
{
  LeafCatalogImage *self = LEAF_CATALOG_IMAGE (object);

  g_free (self->sha256);
  g_free (self->path);
  g_free (self->name);
  g_free (self->format);
  g_free (self->captured);
  g_free (self->imported);
  g_free (self->group_key);
  g_free (self->labeller);
  g_free (self->label_time);
  g_clear_pointer (&self->captured_time, g_date_time_unref);
  g_clear_pointer (&self->imported_time, g_date_time_unref);
  g_clear_pointer (&self->labelled_time, g_date_time_unref);
  g_weak_ref_clear (&self->catalog);

  G_OBJECT_CLASS (leaf_catalog_image_parent_class)->finalize (object);
}

static void
leaf_catalog_image_class_init (LeafCatalogImageClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = leaf_catalog_image_finalize;
}

static void
leaf_catalog_image_init (LeafCatalogImage *self)
{
  g_weak_ref_init (&self->catalog, NULL);
}

#define IMAGE_COLUMNS \
  "i.id, i.sha256, i.path, i.name, i.size, i.width, i.height, i.format, i.orientation, " \
  "i.captured, i.imported, i.group_key, i.missing, i.managed, " \
  "l.class_id, l.user, l.time, l.how, s.split, " LEAF_HELD_SQL
#define PREDICTION_COLUMNS ", p.top_class_id, p.top_probability, p.entropy, p.referred"

/* A photo the catalog holds whose file this machine lacks is read from the catalog's managed
 * folder, where it is fetched on first use. */
static void
place_held_content (LeafCatalogImage *self,
                    LeafCatalog      *catalog)
{
  char *copy = _leaf_catalog_held_copy_path (catalog, self->path, self->size, self->sha256,
                                             self->format);

  if (copy == NULL)
    return;
  g_free (self->path);
  self->path = copy;
  if (!_leaf_images_exists_at (self->path, self->size))
    {
      g_weak_ref_set (&self->catalog, catalog);
      self->fetch = TRUE;
    }
}

LeafCatalogImage *
_leaf_catalog_image_new_from_row (LeafCatalog *catalog,
                                  LeafStmt    *stmt,
                                  gboolean     with_prediction)
{
  LeafCatalogImage *self = g_object_new (LEAF_TYPE_CATALOG_IMAGE, NULL);

  self->id = _leaf_column_int64 (stmt, 0);
  self->sha256 = g_strdup (_leaf_column_text (stmt, 1));
  self->path = g_strdup (_leaf_column_text (stmt, 2));
  self->name = g_strdup (_leaf_column_text (stmt, 3));
  self->size = _leaf_column_int64 (stmt, 4);
  self->width = _leaf_column_int (stmt, 5);
  self->height = _leaf_column_int (stmt, 6);
  self->format = g_strdup (_leaf_column_text (stmt, 7));
  self->orientation = _leaf_column_int (stmt, 8);
  self->captured = g_strdup (_leaf_column_text (stmt, 9));
  self->imported = g_strdup (_leaf_column_text (stmt, 10));
  self->group_key = g_strdup (_leaf_column_text (stmt, 11));
  self->missing = _leaf_column_int (stmt, 12) != 0;
  self->managed = _leaf_column_int (stmt, 13) != 0;
  self->class_id = _leaf_column_int64 (stmt, 14);
  self->labeller = g_strdup (_leaf_column_text (stmt, 15));
  self->label_time = g_strdup (_leaf_column_text (stmt, 16));
  if (!leaf_label_how_from_string (_leaf_column_text (stmt, 17), &self->label_how))
    self->label_how = LEAF_LABEL_HOW_MANUAL;
  self->split = _leaf_column_int (stmt, 18);
  if (_leaf_column_int (stmt, 19) != 0)
    place_held_content (self, catalog);
  if (with_prediction && !_leaf_column_is_null (stmt, 21))
    {
      self->has_prediction = TRUE;
      self->predicted_class_id = _leaf_column_int64 (stmt, 20);
      self->probability = _leaf_column_double (stmt, 21);
      self->entropy = _leaf_column_double (stmt, 22);
      self->referred = _leaf_column_int (stmt, 23) != 0;
    }
  return self;
}

/**
 * leaf_catalog_image_get_id:
 * @self: a #LeafCatalogImage
 *
 * Returns: the image's row id, stable for the life of the catalog
 */
gint64
leaf_catalog_image_get_id (LeafCatalogImage *self)
{
  g_return_val_if_fail (LEAF_IS_CATALOG_IMAGE (self), 0);
  return self->id;
}

/**
 * leaf_catalog_image_get_sha256:
 * @self: a #LeafCatalogImage
 *
 * Returns: the SHA-256 of the file's bytes, 64 lower-case hex digits; the image's identity
 */
const char *
leaf_catalog_image_get_sha256 (LeafCatalogImage *self)
{
  g_return_val_if_fail (LEAF_IS_CATALOG_IMAGE (self), NULL);
  return self->sha256;
}

/* Outside any lock of the image: the catalog's lock serializes fetches, and a second thread
 * finds the file the first one wrote. */
static void
fetch_content (LeafCatalogImage *self)
{
  g_autoptr(LeafCatalog) catalog = g_weak_ref_get (&self->catalog);
  g_autoptr(GError) error = NULL;

  if (catalog == NULL)
    return;
  if (_leaf_catalog_fetch_content (catalog, self->sha256, self->path, &error))
    g_atomic_int_set (&self->fetch, FALSE);
  else
    g_message ("Could not fetch the photo “%s” from the catalog: %s", self->name,
               error->message);
}

/**
 * leaf_catalog_image_get_path:
 * @self: a #LeafCatalogImage
 *
 * Where this machine reads the photo: the file it was imported from when it is here, else a
 * copy in the catalog's managed folder of the bytes the catalog holds (a server's catalog holds
 * every photo). The first call for a copy not made yet fetches it from the catalog, so call
 * this in a thread where waiting for a server is fine.
 *
 * Returns: the absolute path of the file (UTF-8)
 */
const char *
leaf_catalog_image_get_path (LeafCatalogImage *self)
{
  g_return_val_if_fail (LEAF_IS_CATALOG_IMAGE (self), NULL);

  if (g_atomic_int_get (&self->fetch))
    fetch_content (self);
  return self->path;
}

/**
 * leaf_catalog_image_peek_path:
 * @self: a #LeafCatalogImage
 *
 * Where leaf_catalog_image_get_path() reads the photo, without fetching it: for lists.
 *
 * Returns: the absolute path of the file, which may not exist yet (UTF-8)
 */
const char *
leaf_catalog_image_peek_path (LeafCatalogImage *self)
{
  g_return_val_if_fail (LEAF_IS_CATALOG_IMAGE (self), NULL);

  return self->path;
}

/**
 * leaf_catalog_image_get_name:
 * @self: a #LeafCatalogImage
 *
 * Returns: the file name it was imported with (also for copies kept in the managed folder,
 *   which are named by their SHA-256)
 */
const char *
leaf_catalog_image_get_name (LeafCatalogImage *self)
{
  g_return_val_if_fail (LEAF_IS_CATALOG_IMAGE (self), NULL);
  return self->name;
}

/**
 * leaf_catalog_image_get_size:
 * @self: a #LeafCatalogImage
 *
 * Returns: the file's size in bytes
 */
guint64
leaf_catalog_image_get_size (LeafCatalogImage *self)
{
  g_return_val_if_fail (LEAF_IS_CATALOG_IMAGE (self), 0);
  return self->size;
}

/**
 * leaf_catalog_image_get_width:
 * @self: a #LeafCatalogImage
 *
 * Returns: the width as displayed, that is after the EXIF orientation is applied
 */
guint
leaf_catalog_image_get_width (LeafCatalogImage *self)
{
  g_return_val_if_fail (LEAF_IS_CATALOG_IMAGE (self), 0);
  return self->width;
}

/**
 * leaf_catalog_image_get_height:
 * @self: a #LeafCatalogImage
 *
 * Returns: the height as displayed, that is after the EXIF orientation is applied
 */
guint
leaf_catalog_image_get_height (LeafCatalogImage *self)
{
  g_return_val_if_fail (LEAF_IS_CATALOG_IMAGE (self), 0);
  return self->height;
}

/**
 * leaf_catalog_image_get_format:
 * @self: a #LeafCatalogImage
 *
 * Returns: the GdkPixbuf format name: `jpeg`, `png`, `tiff`, `webp` or `bmp`
 */
const char *
leaf_catalog_image_get_format (LeafCatalogImage *self)
{
  g_return_val_if_fail (LEAF_IS_CATALOG_IMAGE (self), NULL);
  return self->format;
}

/**
 * leaf_catalog_image_get_orientation:
 * @self: a #LeafCatalogImage
 *
 * Returns: the EXIF orientation, 1 (upright) to 8
 */
guint
leaf_catalog_image_get_orientation (LeafCatalogImage *self)
{
  g_return_val_if_fail (LEAF_IS_CATALOG_IMAGE (self), 1);
  return self->orientation;
}

static GDateTime *
parse_once (GDateTime  **parsed,
            const char  *text)
{
  if (*parsed == NULL && text != NULL)
    *parsed = _leaf_parse_time (text);
  return *parsed;
}

/**
 * leaf_catalog_image_get_captured:
 * @self: a #LeafCatalogImage
 *
 * Returns: (transfer none) (nullable): the EXIF capture time (the camera's clock, taken as local
 *   time), or %NULL when the photo has none
 */
GDateTime *
leaf_catalog_image_get_captured (LeafCatalogImage *self)
{
  g_return_val_if_fail (LEAF_IS_CATALOG_IMAGE (self), NULL);
  return parse_once (&self->captured_time, self->captured);
}

/**
 * leaf_catalog_image_get_imported:
 * @self: a #LeafCatalogImage
 *
 * Returns: (transfer none): when the image entered the catalog
 */
GDateTime *
leaf_catalog_image_get_imported (LeafCatalogImage *self)
{
  g_return_val_if_fail (LEAF_IS_CATALOG_IMAGE (self), NULL);
  return parse_once (&self->imported_time, self->imported);
}

/**
 * leaf_catalog_image_get_group_key:
 * @self: a #LeafCatalogImage
 *
 * Returns: (nullable): the specimen, plant or session the photo belongs to
 */
const char *
leaf_catalog_image_get_group_key (LeafCatalogImage *self)
{
  g_return_val_if_fail (LEAF_IS_CATALOG_IMAGE (self), NULL);
  return self->group_key;
}

/**
 * leaf_catalog_image_get_missing:
 * @self: a #LeafCatalogImage
 *
 * Returns: whether the file was missing at the last check
 */
gboolean
leaf_catalog_image_get_missing (LeafCatalogImage *self)
{
  g_return_val_if_fail (LEAF_IS_CATALOG_IMAGE (self), FALSE);
  return self->missing;
}

/**
 * leaf_catalog_image_get_managed:
 * @self: a #LeafCatalogImage
 *
 * Returns: whether the file is a copy kept in the catalog's managed folder
 */
gboolean
leaf_catalog_image_get_managed (LeafCatalogImage *self)
{
  g_return_val_if_fail (LEAF_IS_CATALOG_IMAGE (self), FALSE);
  return self->managed;
}

/**
 * leaf_catalog_image_get_class_id:
 * @self: a #LeafCatalogImage
 *
 * Returns: the class of its label, or 0 when unlabelled
 */
gint64
leaf_catalog_image_get_class_id (LeafCatalogImage *self)
{
  g_return_val_if_fail (LEAF_IS_CATALOG_IMAGE (self), 0);
  return self->class_id;
}

/**
 * leaf_catalog_image_get_labeller:
 * @self: a #LeafCatalogImage
 *
 * Returns: (nullable): the OS user who set the label
 */
const char *
leaf_catalog_image_get_labeller (LeafCatalogImage *self)
{
  g_return_val_if_fail (LEAF_IS_CATALOG_IMAGE (self), NULL);
  return self->labeller;
}

/**
 * leaf_catalog_image_get_label_time:
 * @self: a #LeafCatalogImage
 *
 * Returns: (transfer none) (nullable): when the label was set
 */
GDateTime *
leaf_catalog_image_get_label_time (LeafCatalogImage *self)
{
  g_return_val_if_fail (LEAF_IS_CATALOG_IMAGE (self), NULL);
  return parse_once (&self->labelled_time, self->label_time);
}

/**
 * leaf_catalog_image_get_label_how:
 * @self: a #LeafCatalogImage
 *
 * Returns: how the label was set; meaningless when the image is unlabelled
 */
LeafLabelHow
leaf_catalog_image_get_label_how (LeafCatalogImage *self)
{
  g_return_val_if_fail (LEAF_IS_CATALOG_IMAGE (self), LEAF_LABEL_HOW_MANUAL);
  return self->label_how;
}

/**
 * leaf_catalog_image_get_split:
 * @self: a #LeafCatalogImage
 *
 * Returns: the image's split, or %LEAF_SPLIT_NONE
 */
LeafSplit
leaf_catalog_image_get_split (LeafCatalogImage *self)
{
  g_return_val_if_fail (LEAF_IS_CATALOG_IMAGE (self), LEAF_SPLIT_NONE);
  return self->split;
}

/**
 * leaf_catalog_image_get_prediction:
 * @self: a #LeafCatalogImage
 * @class_id: (out) (optional): the catalog class of the top prediction, or 0 when the model's
 *   class is no longer in the catalog
 * @probability: (out) (optional): its probability
 * @entropy: (out) (optional): the entropy of the whole distribution, in nats
 *
 * The prediction of the model named by the query's `model_id`.
 *
 * Returns: %FALSE when the query named no model or the model did not predict this image
 */
gboolean
leaf_catalog_image_get_prediction (LeafCatalogImage *self,
                                   gint64           *class_id,
                                   double           *probability,
                                   double           *entropy)
{
  g_return_val_if_fail (LEAF_IS_CATALOG_IMAGE (self), FALSE);

  if (!self->has_prediction)
    return FALSE;
  if (class_id != NULL)
    *class_id = self->predicted_class_id;
  if (probability != NULL)
    *probability = self->probability;
  if (entropy != NULL)
    *entropy = self->entropy;
  return TRUE;
}

/**
 * leaf_catalog_image_get_referred:
 * @self: a #LeafCatalogImage
 *
 * Returns: whether the model named by the query's `model_id` would refer this image to an
 *   expert: its top probability is below the model's threshold, or the photo is unlike the
 *   model's training photos. %FALSE without a prediction, or when it was stored without saying.
 */
gboolean
leaf_catalog_image_get_referred (LeafCatalogImage *self)
{
  g_return_val_if_fail (LEAF_IS_CATALOG_IMAGE (self), FALSE);

  return self->has_prediction && self->referred;
}

/* Parameters have fixed numbers so that the SQL text depends only on which filters are on, and
 * each combination is prepared once. */
enum {
  P_CLASS = 1,
  P_NAME,
  P_LABELLER,
  P_AFTER_LOCAL,
  P_AFTER_UTC,
  P_BEFORE_LOCAL,
  P_BEFORE_UTC,
  P_MODEL,
  P_SPLIT,
  P_LIMIT,
  P_OFFSET,
};

static gboolean
query_needs_label (const LeafImageQuery *query)
{
  return query->labels == LEAF_LABEL_FILTER_LABELED || query->class_id > 0 ||
         query->labeller != NULL || query->disagreements_only;
}

static gboolean
query_needs_prediction (const LeafImageQuery *query)
{
  return query->model_id > 0 && (query->disagreements_only || query->uncertain_only ||
                                 query->sort == LEAF_IMAGE_SORT_UNCERTAINTY);
}

/* Whether the query joins @model_id's predictions: to keep only predicted images, to find those
 * it has not reviewed, or to attach them to the rows. */
static gboolean
query_joins_prediction (const LeafImageQuery *query,
                        gboolean              count)
{
  return query->model_id > 0 &&
         (!count || query_needs_prediction (query) || query->unreviewed_only);
}

/* Counts that need no row of `images`: every label belongs to an image (a foreign key), so
 * counting labels alone is exact, and ten times faster on a large catalog. */
static char *
build_label_count_sql (const LeafImageQuery *query)
{
  gboolean image_filters = query->missing_only ||
                           (query->name_contains != NULL && *query->name_contains != '\0') ||
                           query->taken_after != NULL || query->taken_before != NULL ||
                           query->split != LEAF_SPLIT_NONE || query->disputed_only ||
                           query_joins_prediction (query, TRUE);

  if (image_filters)
    return NULL;
  if (query->labels == LEAF_LABEL_FILTER_UNLABELED)
    return g_strdup ("SELECT (SELECT count(*) FROM images) - (SELECT count(*) FROM labels)");
  if (!query_needs_label (query))
    return g_strdup ("SELECT count(*) FROM images");
  return g_strdup_printf ("SELECT count(*) FROM labels l WHERE 1 = 1 %s %s",
                          query->class_id > 0 ? "AND l.class_id = ?1" : "",
                          query->labeller != NULL ? "AND l.user = ?3" : "");
}

static char *
build_sql (const LeafImageQuery *query,
           gboolean              count)
{
  GString *sql = NULL;
  gboolean inner_label = query_needs_label (query);
  gboolean predictions = query_joins_prediction (query, count);
  char *label_count;

  G_STATIC_ASSERT (P_CLASS == 1 && P_LABELLER == 3);
  if (count && (label_count = build_label_count_sql (query)) != NULL)
    return label_count;

  sql = g_string_new (NULL);
  if (count)
    g_string_append (sql, "SELECT count(*) FROM images i ");
  else
    g_string_append_printf (sql, "SELECT " IMAGE_COLUMNS "%s FROM images i ",
                            predictions ? PREDICTION_COLUMNS : "");

  if (inner_label)
    g_string_append (sql, "JOIN labels l ON l.image_id = i.id ");
  else if (!count || query->labels == LEAF_LABEL_FILTER_UNLABELED)
    g_string_append (sql, "LEFT JOIN labels l ON l.image_id = i.id ");
  if (query->split != LEAF_SPLIT_NONE)
    g_string_append_printf (sql, "JOIN splits s ON s.image_id = i.id AND s.split = ?%d ", P_SPLIT);
  else if (!count)
    g_string_append (sql, "LEFT JOIN splits s ON s.image_id = i.id ");
  if (predictions)
    g_string_append_printf (sql, "%s predictions p ON p.image_id = i.id AND p.model_id = ?%d ",
                            query_needs_prediction (query) ? "JOIN" : "LEFT JOIN", P_MODEL);

  g_string_append (sql, "WHERE 1 = 1 ");
  if (query->labels == LEAF_LABEL_FILTER_UNLABELED)
    g_string_append (sql, "AND l.image_id IS NULL ");
  if (query->class_id > 0)
    g_string_append_printf (sql, "AND l.class_id = ?%d ", P_CLASS);
  if (query->missing_only)
    g_string_append (sql, "AND i.missing <> 0 ");
  /* SQLite's LIKE ignores ASCII case and PostgreSQL's does not. */
  if (query->name_contains != NULL && *query->name_contains != '\0')
    g_string_append_printf (sql, "AND lower (i.name) LIKE lower (?%d) ESCAPE '\\' ", P_NAME);
  if (query->labeller != NULL)
    g_string_append_printf (sql, "AND l.user = ?%d ", P_LABELLER);
  if (query->taken_after != NULL)
    g_string_append_printf (sql, "AND CASE WHEN i.captured IS NOT NULL THEN i.captured >= ?%d "
                            "ELSE i.imported >= ?%d END ", P_AFTER_LOCAL, P_AFTER_UTC);
  if (query->taken_before != NULL)
    g_string_append_printf (sql, "AND CASE WHEN i.captured IS NOT NULL THEN i.captured < ?%d "
                            "ELSE i.imported < ?%d END ", P_BEFORE_LOCAL, P_BEFORE_UTC);
  if (query->disagreements_only && query->model_id > 0)
    g_string_append (sql, "AND p.top_class_id IS DISTINCT FROM l.class_id ");
  if (query->uncertain_only && query->model_id > 0)
    g_string_append (sql, "AND p.referred = 1 ");
  if (query->unreviewed_only && query->model_id > 0)
    g_string_append (sql, "AND p.referred IS NULL ");
  if (query->disputed_only)
    g_string_append (sql, "AND i.id IN (" LEAF_DISPUTED_IMAGES_SQL ") ");

  if (count)
    return g_string_free (sql, FALSE);

  /* Ordering by the joined label's image_id lets SQLite walk labels_class in order when
   * filtering by class, instead of sorting. */
  switch (query->sort)
    {
    case LEAF_IMAGE_SORT_NAME:
      g_string_append (sql, "ORDER BY i.name, i.id ");
      break;
    case LEAF_IMAGE_SORT_CAPTURED:
      /* Undated images first, as SQLite sorts NULLs; PostgreSQL would put them last. */
      g_string_append (sql, "ORDER BY i.captured NULLS FIRST, i.id ");
      break;
    case LEAF_IMAGE_SORT_UNCERTAINTY:
      if (predictions)
        {
          g_string_append (sql, "ORDER BY p.entropy DESC, i.id ");
          break;
        }
      G_GNUC_FALLTHROUGH;
    case LEAF_IMAGE_SORT_IMPORTED:
    default:
      g_string_append (sql, inner_label ? "ORDER BY l.image_id " : "ORDER BY i.id ");
      break;
    }
  g_string_append_printf (sql, "LIMIT ?%d OFFSET ?%d", P_LIMIT, P_OFFSET);
  return g_string_free (sql, FALSE);
}

static char *
like_pattern (const char *text)
{
  GString *pattern = g_string_new ("%");

  for (const char *p = text; *p != '\0'; p++)
    {
      if (*p == '%' || *p == '_' || *p == '\\')
        g_string_append_c (pattern, '\\');
      g_string_append_c (pattern, *p);
    }
  g_string_append_c (pattern, '%');
  return g_string_free (pattern, FALSE);
}

static void
bind_time (LeafStmt  *stmt,
           int        local_index,
           int        utc_index,
           GDateTime *time)
{
  g_autoptr(GDateTime) utc = g_date_time_to_utc (time);
  g_autofree char *local_text = _leaf_format_local_time (time);
  g_autofree char *utc_text = g_date_time_format (utc, "%Y-%m-%dT%H:%M:%S.%fZ");

  _leaf_bind_text (stmt, local_index, local_text);
  _leaf_bind_text (stmt, utc_index, utc_text);
}

static LeafStmt *
prepare_query (LeafDb                *db,
               const LeafImageQuery  *query,
               gboolean               count,
               GError               **error)
{
  g_autofree char *sql = build_sql (query, count);
  LeafStmt *stmt = _leaf_db_prepare (db, sql, error);

  if (stmt == NULL)
    return NULL;
  /* Binding a number the statement does not use is harmless. */
  _leaf_bind_int64 (stmt, P_CLASS, query->class_id);
  if (query->name_contains != NULL)
    {
      g_autofree char *pattern = like_pattern (query->name_contains);
      _leaf_bind_text (stmt, P_NAME, pattern);
    }
  _leaf_bind_text (stmt, P_LABELLER, query->labeller);
  if (query->taken_after != NULL)
    bind_time (stmt, P_AFTER_LOCAL, P_AFTER_UTC, query->taken_after);
  if (query->taken_before != NULL)
    bind_time (stmt, P_BEFORE_LOCAL, P_BEFORE_UTC, query->taken_before);
  _leaf_bind_int64 (stmt, P_MODEL, query->model_id);
  _leaf_bind_int64 (stmt, P_SPLIT, query->split);
  return stmt;
}

/**
 * leaf_catalog_query_images:
 * @catalog: a #LeafCatalog
 * @query: (nullable): the filter and order; %NULL for every image in import order
 * @offset: rows to skip
 * @limit: rows to return at most; %G_MAXUINT for all
 * @error: return location for a #GError
 *
 * One page of images. With leaf_catalog_count_images() this is what a list model over the
 * catalog needs; pages of a few hundred rows come back in a millisecond or two from a catalog of
 * 100,000 images.
 *
 * Returns: (transfer full) (element-type LeafCatalogImage): the rows, or %NULL with @error set
 */
GPtrArray *
leaf_catalog_query_images (LeafCatalog           *catalog,
                           const LeafImageQuery  *query,
                           guint                  offset,
                           guint                  limit,
                           GError               **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(GPtrArray) images = NULL;
  g_autoptr(LeafStmt) stmt = NULL;
  LeafImageQuery all = { 0 };
  gboolean with_prediction;
  LeafDb *db;
  int rc;

  g_return_val_if_fail (LEAF_IS_CATALOG (catalog), NULL);

  if (query == NULL)
    query = &all;
  with_prediction = query->model_id > 0;
  locker = _leaf_catalog_locker_new (catalog);
  if ((db = _leaf_catalog_get_db (catalog, error)) == NULL ||
      (stmt = prepare_query (db, query, FALSE, error)) == NULL)
    return NULL;
  /* PostgreSQL refuses SQLite's LIMIT -1 for "no limit". */
  _leaf_bind_int64 (stmt, P_LIMIT, limit == G_MAXUINT ? G_MAXINT64 : (gint64) limit);
  _leaf_bind_int64 (stmt, P_OFFSET, offset);

  images = g_ptr_array_new_with_free_func (g_object_unref);
  while ((rc = _leaf_step (stmt)) == LEAF_STEP_ROW)
    g_ptr_array_add (images, _leaf_catalog_image_new_from_row (catalog, stmt, with_prediction));
  if (rc != LEAF_STEP_DONE)
    {
      _leaf_db_fail (db, error);
      return NULL;
    }
  return g_steal_pointer (&images);
}

/**
 * leaf_catalog_count_images:
 * @catalog: a #LeafCatalog
 * @query: (nullable): the filter; its order does not matter
 * @count: (out): how many images it selects
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
leaf_catalog_count_images (LeafCatalog           *catalog,
                           const LeafImageQuery  *query,
                           guint                 *count,
                           GError               **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(LeafStmt) stmt = NULL;
  LeafImageQuery all = { 0 };
  LeafDb *db;

  g_return_val_if_fail (LEAF_IS_CATALOG (catalog), FALSE);
  g_return_val_if_fail (count != NULL, FALSE);

  locker = _leaf_catalog_locker_new (catalog);
  if ((db = _leaf_catalog_get_db (catalog, error)) == NULL ||
      (stmt = prepare_query (db, query != NULL ? query : &all, TRUE, error)) == NULL)
    return FALSE;
  if (_leaf_step (stmt) != LEAF_STEP_ROW)
    return _leaf_db_fail (db, error);
  *count = _leaf_column_int (stmt, 0);
  return TRUE;
}

/**
 * leaf_catalog_list_sha256:
 * @catalog: a #LeafCatalog
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (element-type utf8 utf8): a set of the SHA-256 (hex) of every photo
 *   in the catalog, or %NULL on error
 */
GHashTable *
leaf_catalog_list_sha256 (LeafCatalog  *catalog,
                          GError      **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(GHashTable) set = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(LeafStmt) stmt = NULL;
  LeafDb *db;
  int rc;

  g_return_val_if_fail (LEAF_IS_CATALOG (catalog), NULL);

  locker = _leaf_catalog_locker_new (catalog);
  if ((db = _leaf_catalog_get_db (catalog, error)) == NULL ||
      (stmt = _leaf_db_prepare (db, "SELECT sha256 FROM images", error)) == NULL)
    return NULL;
  while ((rc = _leaf_step (stmt)) == LEAF_STEP_ROW)
    g_hash_table_add (set, g_strdup (_leaf_column_text (stmt, 0)));
  if (rc != LEAF_STEP_DONE)
    {
      _leaf_db_fail (db, error);
      return NULL;
    }
  return g_steal_pointer (&set);
}

/* With @model_id > 0, the row carries that model's prediction, as a query naming it would. */
static LeafCatalogImage *
get_image_where (LeafCatalog *catalog,
                 LeafDb      *db,
                 const char  *where,
                 const char  *text,
                 gint64       number,
                 gint64       model_id,
                 gboolean    *ambiguous,
                 GError     **error)
{
  g_autofree char *sql = g_strconcat ("SELECT " IMAGE_COLUMNS,
                                      model_id > 0 ? PREDICTION_COLUMNS : "",
                                      " FROM images i "
                                      "LEFT JOIN labels l ON l.image_id = i.id "
                                      "LEFT JOIN splits s ON s.image_id = i.id ",
                                      model_id > 0 ? "LEFT JOIN predictions p ON "
                                      "p.image_id = i.id AND p.model_id = ?2 " : "",
                                      "WHERE ", where, " ORDER BY i.id DESC LIMIT 2", NULL);
  g_autoptr(LeafStmt) stmt = _leaf_db_prepare (db, sql, error);
  g_autoptr(LeafCatalogImage) image = NULL;
  int rc;

  if (stmt == NULL)
    return NULL;
  if (text != NULL)
    _leaf_bind_text (stmt, 1, text);
  else
    _leaf_bind_int64 (stmt, 1, number);
  if (model_id > 0)
    _leaf_bind_int64 (stmt, 2, model_id);
  rc = _leaf_step (stmt);
  if (rc == LEAF_STEP_ROW)
    {
      image = _leaf_catalog_image_new_from_row (catalog, stmt, model_id > 0);
      rc = _leaf_step (stmt);
      if (ambiguous != NULL)
        *ambiguous = rc == LEAF_STEP_ROW;
      if (rc == LEAF_STEP_ROW)
        rc = LEAF_STEP_DONE;
    }
  if (rc != LEAF_STEP_DONE)
    {
      _leaf_db_fail (db, error);
      return NULL;
    }
  return g_steal_pointer (&image);
}

/**
 * leaf_catalog_get_image:
 * @catalog: a #LeafCatalog
 * @image_id: the image's row id
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the image, or %NULL with %LEAF_ENGINE_ERROR_NOT_FOUND
 */
LeafCatalogImage *
leaf_catalog_get_image (LeafCatalog  *catalog,
                        gint64        image_id,
                        GError      **error)
{
  return leaf_catalog_get_predicted_image (catalog, image_id, 0, error);
}

/**
 * leaf_catalog_get_predicted_image:
 * @catalog: a #LeafCatalog
 * @image_id: the image's row id
 * @model_id: when > 0, attach this model's prediction, as a #LeafImageQuery naming it does
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the image, or %NULL with %LEAF_ENGINE_ERROR_NOT_FOUND
 */
LeafCatalogImage *
leaf_catalog_get_predicted_image (LeafCatalog  *catalog,
                                  gint64        image_id,
                                  gint64        model_id,
                                  GError      **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(GError) local_error = NULL;
  LeafCatalogImage *image;
  LeafDb *db;

  g_return_val_if_fail (LEAF_IS_CATALOG (catalog), NULL);

  locker = _leaf_catalog_locker_new (catalog);
  if ((db = _leaf_catalog_get_db (catalog, error)) == NULL)
    return NULL;
  image = get_image_where (catalog, db, "i.id = ?1", NULL, image_id, model_id, NULL,
                           &local_error);
  if (local_error != NULL)
    g_propagate_error (error, g_steal_pointer (&local_error));
  else if (image == NULL)
    g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND,
                 _("The catalog has no image with id %" PRId64 "."), image_id);
  return image;
}

static gboolean
is_hex (const char *text)
{
  for (const char *p = text; *p != '\0'; p++)
    if (!g_ascii_isxdigit (*p))
      return FALSE;
  return *text != '\0';
}

/**
 * leaf_catalog_find_image:
 * @catalog: a #LeafCatalog
 * @path_or_sha256: a file path, a SHA-256, or an unambiguous prefix of at least 8 hex digits
 * @error: return location for a #GError
 *
 * Finds an image the way a person names it on a command line: by its SHA-256 (or a prefix), by
 * the path it was imported from, or by content when a file not at a known path is named.
 *
 * Returns: (transfer full): the image, or %NULL with %LEAF_ENGINE_ERROR_NOT_FOUND (or
 *   %LEAF_ENGINE_ERROR_INVALID for an ambiguous prefix)
 */
LeafCatalogImage *
leaf_catalog_find_image (LeafCatalog  *catalog,
                         const char   *path_or_sha256,
                         GError      **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(LeafCatalogImage) image = NULL;
  g_autofree char *path = NULL;
  g_autofree char *contents = NULL;
  gsize length = 0;
  gboolean ambiguous = FALSE;
  gsize len;
  LeafDb *db;

  g_return_val_if_fail (LEAF_IS_CATALOG (catalog), NULL);
  g_return_val_if_fail (path_or_sha256 != NULL, NULL);

  len = strlen (path_or_sha256);
  path = g_canonicalize_filename (path_or_sha256, NULL);
  locker = _leaf_catalog_locker_new (catalog);
  if ((db = _leaf_catalog_get_db (catalog, error)) == NULL)
    return NULL;

  if (len == 64 && is_hex (path_or_sha256))
    {
      g_autofree char *sha = g_ascii_strdown (path_or_sha256, -1);
      image = get_image_where (catalog, db, "i.sha256 = ?1", sha, 0, 0, NULL, &local_error);
    }
  else if (len >= 8 && len < 64 && is_hex (path_or_sha256) &&
           !g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_autofree char *prefix = g_ascii_strdown (path_or_sha256, -1);
      /* A range over the unique index: every hex digest with this prefix sorts below
       * prefix + "g". */
      image = get_image_where (catalog, db, "i.sha256 >= ?1 AND i.sha256 < ?1 || 'g'", prefix,
                               0, 0,
                               &ambiguous, &local_error);
      if (ambiguous)
        {
          g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                       _("Several images have a SHA-256 starting with “%s”; give more digits."),
                       path_or_sha256);
          return NULL;
        }
    }
  else
    {
      if (g_utf8_validate (path, -1, NULL))
        image = get_image_where (catalog, db, "i.path = ?1", path, 0, 0, NULL, &local_error);
      /* A file the catalog knows under another path (or a copy of one): find it by content,
       * read without holding the lock. */
      if (image == NULL && local_error == NULL)
        {
          g_clear_pointer (&locker, _leaf_catalog_locker_free);
          if (g_file_get_contents (path, &contents, &length, NULL))
            {
              g_autofree char *sha =
                g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) contents, length);

              locker = _leaf_catalog_locker_new (catalog);
              if ((db = _leaf_catalog_get_db (catalog, error)) == NULL)
                return NULL;
              image = get_image_where (catalog, db, "i.sha256 = ?1", sha, 0, 0, NULL,
                                       &local_error);
            }
        }
    }

  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  if (image == NULL)
    g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND,
                 _("The catalog has no image “%s”. Name an imported file or its SHA-256."),
                 path_or_sha256);
  return g_steal_pointer (&image);
}
