/* leaf-catalog-splits.c: the persisted train, validation and test splits, stratified by class
 * and kept together by group key
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-catalog"

#include "config.h"

#include <glib/gi18n.h>

#include "leaf-catalog-private.h"
#include "leaf-error.h"

typedef struct
{
  gint64 image_id;
  gint64 class_id;
  LeafSplit split;
} SplitImage;

/* A unit is what cannot be divided: the images of one group key, or one image without a key. */
typedef struct
{
  char *key;
  GArray *images;  /* of SplitImage */
  gint64 class_id; /* the most frequent class among its images */
  LeafSplit split; /* the split its images already have, or NONE */
} SplitUnit;

static void
split_unit_free (gpointer data)
{
  SplitUnit *unit = data;

  g_free (unit->key);
  g_array_unref (unit->images);
  g_free (unit);
}

static int
compare_units (gconstpointer a,
               gconstpointer b)
{
  const SplitUnit *ua = *(SplitUnit * const *) a;
  const SplitUnit *ub = *(SplitUnit * const *) b;

  if (ua->class_id != ub->class_id)
    return ua->class_id < ub->class_id ? -1 : 1;
  return strcmp (ua->key, ub->key);
}

static void
settle_unit (SplitUnit *unit)
{
  g_autoptr(GHashTable) votes = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, NULL);
  guint best = 0;

  unit->class_id = G_MAXINT64;
  unit->split = LEAF_SPLIT_NONE;
  for (guint i = 0; i < unit->images->len; i++)
    {
      SplitImage *image = &g_array_index (unit->images, SplitImage, i);
      guint n = GPOINTER_TO_UINT (g_hash_table_lookup (votes, &image->class_id)) + 1;

      g_hash_table_insert (votes, &image->class_id, GUINT_TO_POINTER (n));
      if (n > best || (n == best && image->class_id < unit->class_id))
        {
          best = n;
          unit->class_id = image->class_id;
        }
      /* A group that already has a split keeps it; new images of the group join it. */
      if (unit->split == LEAF_SPLIT_NONE)
        unit->split = image->split;
    }
}

static GPtrArray *
load_split_units (LeafDb   *db,
                  gboolean  reassign,
                  GError  **error)
{
  g_autoptr(GHashTable) by_key = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GPtrArray) units = g_ptr_array_new_with_free_func (split_unit_free);
  g_autoptr(LeafStmt) stmt =
    _leaf_db_prepare (db,
                      "SELECT i.id, l.class_id, i.group_key, i.sha256, s.split "
                      "FROM images i JOIN labels l ON l.image_id = i.id "
                      "LEFT JOIN splits s ON s.image_id = i.id ORDER BY i.id",
                      error);
  int rc;

  if (stmt == NULL)
    return NULL;
  while ((rc = _leaf_step (stmt)) == LEAF_STEP_ROW)
    {
      SplitImage image = {
        _leaf_column_int64 (stmt, 0),
        _leaf_column_int64 (stmt, 1),
        reassign ? LEAF_SPLIT_NONE : _leaf_column_int (stmt, 4),
      };
      const char *group = _leaf_column_text (stmt, 2);
      g_autofree char *key = group != NULL ? g_strconcat ("g:", group, NULL)
                                           : g_strconcat ("i:", _leaf_column_text (stmt, 3), NULL);
      SplitUnit *unit = g_hash_table_lookup (by_key, key);

      if (unit == NULL)
        {
          unit = g_new0 (SplitUnit, 1);
          unit->key = g_steal_pointer (&key);
          unit->images = g_array_new (FALSE, FALSE, sizeof (SplitImage));
          g_hash_table_insert (by_key, unit->key, unit);
          g_ptr_array_add (units, unit);
        }
      g_array_append_val (unit->images, image);
    }
  if (rc != LEAF_STEP_DONE)
    {
      _leaf_db_fail (db, error);
      return NULL;
    }
  for (guint i = 0; i < units->len; i++)
    settle_unit (units->pdata[i]);
  /* The order of units must not depend on row ids, so that the same seed gives the same
   * assignment in any catalog holding the same images, labels and groups. */
  g_ptr_array_sort (units, compare_units);
  return g_steal_pointer (&units);
}

typedef struct
{
  double target[4];
  double have[4];
} ClassTally;

static void
tally_unit (GHashTable *tallies,
            SplitUnit  *unit,
            LeafSplit   split)
{
  for (guint i = 0; i < unit->images->len; i++)
    {
      SplitImage *image = &g_array_index (unit->images, SplitImage, i);
      ClassTally *tally = g_hash_table_lookup (tallies, &image->class_id);

      tally->have[split] += 1;
    }
}

gboolean
_leaf_splits_write (LeafDb      *db,
                    gint64       image_id,
                    LeafSplit    split,
                    guint32      seed,
                    const char  *now,
                    GError     **error)
{
  g_autoptr(LeafStmt) stmt =
    _leaf_db_prepare (db, "INSERT INTO splits (image_id, split, seed, assigned) "
                      "VALUES (?, ?, ?, ?) "
                      "ON CONFLICT (image_id) DO UPDATE SET split = excluded.split, "
                      "seed = excluded.seed, assigned = excluded.assigned", error);

  if (stmt == NULL)
    return FALSE;
  _leaf_bind_int64 (stmt, 1, image_id);
  _leaf_bind_int64 (stmt, 2, split);
  _leaf_bind_int64 (stmt, 3, seed);
  _leaf_bind_text (stmt, 4, now);
  return _leaf_db_run (db, stmt, error);
}

static gboolean
assign_splits (LeafDb                  *db,
               const LeafSplitOptions  *options,
               guint                   *n_assigned,
               GError                 **error)
{
  g_autoptr(GPtrArray) units = NULL;
  g_autoptr(GHashTable) tallies = g_hash_table_new_full (g_int64_hash, g_int64_equal,
                                                         g_free, g_free);
  g_autoptr(GRand) rand = g_rand_new_with_seed (options->seed);
  g_autofree char *now = _leaf_now ();
  double total = options->train + options->validation + options->test;
  double share[4] = { 0, options->train / total, options->validation / total,
                      options->test / total };

  *n_assigned = 0;
  if (options->reassign && !_leaf_db_exec (db, "DELETE FROM splits", error))
    return FALSE;
  if ((units = load_split_units (db, options->reassign, error)) == NULL)
    return FALSE;

  /* Targets per class count every labelled image, so that new images top up the splits
   * towards the shares instead of being divided on their own. */
  for (guint u = 0; u < units->len; u++)
    {
      SplitUnit *unit = units->pdata[u];

      for (guint i = 0; i < unit->images->len; i++)
        {
          SplitImage *image = &g_array_index (unit->images, SplitImage, i);
          ClassTally *tally = g_hash_table_lookup (tallies, &image->class_id);

          if (tally == NULL)
            {
              tally = g_new0 (ClassTally, 1);
              g_hash_table_insert (tallies, g_memdup2 (&image->class_id, sizeof (gint64)), tally);
            }
          for (int s = LEAF_SPLIT_TRAIN; s <= LEAF_SPLIT_TEST; s++)
            tally->target[s] += share[s];
        }
      if (unit->split != LEAF_SPLIT_NONE)
        tally_unit (tallies, unit, unit->split);
    }

  /* Shuffle the undecided units of each class (units are sorted by class), then give each unit
   * to the split furthest below its target for that class. */
  for (guint start = 0; start < units->len;)
    {
      guint end = start;

      while (end < units->len &&
             ((SplitUnit *) units->pdata[end])->class_id ==
             ((SplitUnit *) units->pdata[start])->class_id)
        end++;
      for (guint i = end - 1; i > start; i--)
        {
          guint j = g_rand_int_range (rand, start, i + 1);
          gpointer tmp = units->pdata[i];

          units->pdata[i] = units->pdata[j];
          units->pdata[j] = tmp;
        }
      start = end;
    }

  for (guint u = 0; u < units->len; u++)
    {
      SplitUnit *unit = units->pdata[u];
      ClassTally *tally = g_hash_table_lookup (tallies, &unit->class_id);
      LeafSplit split = unit->split;

      if (split == LEAF_SPLIT_NONE)
        {
          double best = -G_MAXDOUBLE;

          for (int s = LEAF_SPLIT_TRAIN; s <= LEAF_SPLIT_TEST; s++)
            if (share[s] > 0 && tally->target[s] - tally->have[s] > best)
              {
                best = tally->target[s] - tally->have[s];
                split = s;
              }
          tally_unit (tallies, unit, split);
        }
      for (guint i = 0; i < unit->images->len; i++)
        {
          SplitImage *image = &g_array_index (unit->images, SplitImage, i);

          if (image->split != LEAF_SPLIT_NONE)
            continue;
          if (!_leaf_splits_write (db, image->image_id, split, options->seed, now, error))
            return FALSE;
          (*n_assigned)++;
        }
    }
  return TRUE;
}

/**
 * leaf_catalog_assign_splits:
 * @self: a #LeafCatalog
 * @options: the shares, the seed and whether to start over
 * @n_assigned: (out) (optional): how many images got a split
 * @error: return location for a #GError
 *
 * Divides labelled images into training, validation and test splits, stratified by class: each
 * class is divided in the given shares (as nearly as whole groups allow). Images that share a
 * group key always land in one split. The assignment is seeded, stored, and stable: unless
 * @options asks to reassign, images that have a split keep it and only new ones are placed.
 *
 * Returns: %TRUE on success
 */
gboolean
leaf_catalog_assign_splits (LeafCatalog             *self,
                            const LeafSplitOptions  *options,
                            guint                   *n_assigned,
                            GError                 **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(LeafTxn) txn = NULL;
  guint assigned = 0;
  LeafDb *db;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), FALSE);
  g_return_val_if_fail (options != NULL, FALSE);

  if (!(options->train >= 0 && options->validation >= 0 && options->test >= 0) ||
      options->train + options->validation + options->test <= 0)
    {
      g_set_error_literal (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                           _("Split shares must be positive or zero, and not all zero."));
      return FALSE;
    }
  locker = _leaf_catalog_locker_new (self);
  if ((txn = _leaf_catalog_begin (self, &db, error)) == NULL ||
      !assign_splits (db, options, &assigned, error) || !_leaf_txn_commit (&txn, error))
    return FALSE;
  if (assigned > 0 || options->reassign)
    _leaf_catalog_emit (self, LEAF_CATALOG_CHANGED_IMAGES, NULL);
  if (n_assigned != NULL)
    *n_assigned = assigned;
  return TRUE;
}

/**
 * leaf_catalog_count_splits:
 * @self: a #LeafCatalog
 * @counts: (out caller-allocates) (array fixed-size=4): labelled images per #LeafSplit;
 *   `counts[LEAF_SPLIT_NONE]` are those without a split
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
leaf_catalog_count_splits (LeafCatalog  *self,
                           guint         counts[4],
                           GError      **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(LeafStmt) stmt = NULL;
  LeafDb *db;
  int rc;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), FALSE);

  memset (counts, 0, 4 * sizeof (guint));
  locker = _leaf_catalog_locker_new (self);
  if ((db = _leaf_catalog_get_db (self, error)) == NULL)
    return FALSE;
  stmt = _leaf_db_prepare (db, "SELECT coalesce (s.split, 0), count(*) FROM labels l "
                           "LEFT JOIN splits s ON s.image_id = l.image_id GROUP BY 1", error);
  if (stmt == NULL)
    return FALSE;
  while ((rc = _leaf_step (stmt)) == LEAF_STEP_ROW)
    {
      int split = _leaf_column_int (stmt, 0);

      if (split >= 0 && split < 4)
        counts[split] = _leaf_column_int (stmt, 1);
    }
  if (rc != LEAF_STEP_DONE)
    return _leaf_db_fail (db, error);
  return TRUE;
}

/**
 * leaf_catalog_count_grouped:
 * @self: a #LeafCatalog
 * @n_grouped: (out): labelled images that have a group key
 * @error: return location for a #GError
 *
 * Without any group key, splits are drawn photo by photo, and photos of one plant can end up
 * on both sides of the validation split.
 *
 * Returns: %TRUE on success
 */
gboolean
leaf_catalog_count_grouped (LeafCatalog  *self,
                            guint        *n_grouped,
                            GError      **error)
{
  g_autoptr(LeafCatalogLocker) locker = NULL;
  gint64 n = 0;
  LeafDb *db;

  g_return_val_if_fail (LEAF_IS_CATALOG (self), FALSE);
  g_return_val_if_fail (n_grouped != NULL, FALSE);

  *n_grouped = 0;
  locker = _leaf_catalog_locker_new (self);
  if ((db = _leaf_catalog_get_db (self, error)) == NULL ||
      !_leaf_db_query_int (db, "SELECT count(*) FROM labels l JOIN images i "
                           "ON i.id = l.image_id WHERE i.group_key IS NOT NULL", &n, error))
    return FALSE;
  *n_grouped = (guint) n;
  return TRUE;
}

/**
 * leaf_split_from_string:
 * @name: `train`, `val` or `validation`, or `test`, as the command line and exports name them
 * @split: (out): the split
 *
 * Returns: whether @name names a split
 */
gboolean
leaf_split_from_string (const char *name,
                        LeafSplit  *split)
{
  static const struct { const char *name; LeafSplit split; } names[] = {
    { "train", LEAF_SPLIT_TRAIN }, { "val", LEAF_SPLIT_VALIDATION },
    { "validation", LEAF_SPLIT_VALIDATION }, { "test", LEAF_SPLIT_TEST },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    if (g_strcmp0 (name, names[i].name) == 0)
      {
        *split = names[i].split;
        return TRUE;
      }
  return FALSE;
}

/**
 * leaf_split_to_string:
 * @split: a split
 *
 * Returns: (nullable): `train`, `val` or `test`, as exports write them; %NULL for
 *   %LEAF_SPLIT_NONE
 */
const char *
leaf_split_to_string (LeafSplit split)
{
  static const char *const names[] = { NULL, "train", "val", "test" };

  return split < G_N_ELEMENTS (names) ? names[split] : NULL;
}
