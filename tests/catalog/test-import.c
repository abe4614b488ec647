/* test-import.c: importing files and ImageFolder trees, and every kind of bad input
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "leaf-test.h"

#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog-test-util.h"
#include "leaf-catalog-private.h"
#include "leaf-error.h"
#include "leaf-import-private.h"

typedef struct
{
  char *dir;
  char *photos;
  char *path;
  LeafCatalog *catalog;
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  fixture->dir = ctu_make_tmp_dir ();
  fixture->photos = g_build_filename (fixture->dir, "photos", NULL);
  fixture->path = g_build_filename (fixture->dir, "test.leafscope", NULL);
  g_mkdir (fixture->photos, 0755);
  fixture->catalog = leaf_catalog_open (fixture->path, LEAF_CATALOG_OPEN_CREATE, &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_finalize_object (fixture->catalog);
  leaf_test_remove_tree (fixture->dir);
  g_free (fixture->path);
  g_free (fixture->photos);
  g_free (fixture->dir);
}

static char *
photo (Fixture    *fixture,
       const char *relative)
{
  return g_build_filename (fixture->photos, relative, NULL);
}

static void
write_photo (Fixture    *fixture,
             const char *relative,
             const char *format,
             guint       seed)
{
  g_autofree char *path = photo (fixture, relative);

  ctu_write_image (path, format, 32 + seed % 7, 24 + seed % 5, seed);
}

static LeafImportSummary *
import_with (Fixture                 *fixture,
             const char              *path,
             const LeafImportOptions *options)
{
  g_autoptr(GError) error = NULL;
  const char *paths[] = { path, NULL };
  LeafImportSummary *summary;

  summary = leaf_import_run (fixture->catalog, paths, options, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (summary);
  return summary;
}

static guint
count_images (Fixture              *fixture,
              const LeafImageQuery *query)
{
  g_autoptr(GError) error = NULL;
  guint count = 0;

  leaf_catalog_count_images (fixture->catalog, query, &count, &error);
  g_assert_no_error (error);
  return count;
}

static void
assert_integrity (Fixture *fixture)
{
  sqlite3 *db = ctu_sql_open (fixture->path);
  g_autofree char *result = ctu_sql_text (db, "PRAGMA integrity_check");
  g_autofree char *fk = NULL;

  g_assert_cmpstr (result, ==, "ok");
  g_assert_cmpint (ctu_sql_int (db, "SELECT count(*) FROM pragma_foreign_key_check"), ==, 0);
  g_assert_cmpint (ctu_sql_int (db, "SELECT count(*) - count(DISTINCT sha256) FROM images"), ==, 0);
  sqlite3_close (db);
}

static LeafCatalogImage *
image_at (Fixture    *fixture,
          const char *relative)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = photo (fixture, relative);
  g_autofree char *sha = ctu_sha256_of_file (path);
  LeafCatalogImage *image = leaf_catalog_find_image (fixture->catalog, sha, &error);

  g_assert_no_error (error);
  return image;
}

static LeafCatalogImage *
image_at_sha (Fixture    *fixture,
              const char *sha)
{
  g_autoptr(GError) error = NULL;
  LeafCatalogImage *image = leaf_catalog_find_image (fixture->catalog, sha, &error);

  g_assert_no_error (error);
  return image;
}

static char *
class_name_of (Fixture          *fixture,
               LeafCatalogImage *image)
{
  g_autoptr(GPtrArray) classes = leaf_catalog_list_classes (fixture->catalog, NULL);

  for (guint i = 0; i < classes->len; i++)
    {
      LeafClassInfo *info = classes->pdata[i];

      if (info->id == leaf_catalog_image_get_class_id (image))
        return g_strdup (info->name);
    }
  return NULL;
}

/* healthy/a.jpg, healthy/b.png, blight/c.jpg, blight/deeper/d.jpg */
static void
write_tree (Fixture *fixture)
{
  write_photo (fixture, "healthy/a.jpg", "jpeg", 1);
  write_photo (fixture, "healthy/b.png", "png", 2);
  write_photo (fixture, "blight/c.jpg", "jpeg", 3);
  write_photo (fixture, "blight/deeper/d.jpg", "jpeg", 4);
}

/* ---- Trees and folders ---- */

static void
test_image_folder (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(LeafImportSummary) summary = NULL;
  g_autoptr(LeafCatalogImage) a = NULL;
  g_autoptr(LeafCatalogImage) d = NULL;
  g_autofree char *a_class = NULL;
  g_autofree char *d_class = NULL;
  g_autofree char *a_path = photo (fixture, "healthy/a.jpg");
  const char *expected_classes[] = { "blight", "healthy", NULL };

  write_tree (fixture);
  summary = import_with (fixture, fixture->photos, NULL);
  g_assert_cmpuint (summary->n_added, ==, 4);
  g_assert_cmpuint (summary->n_labeled, ==, 4);
  g_assert_cmpuint (summary->skipped->len, ==, 0);
  g_assert_cmpstrv (summary->new_classes, expected_classes);

  a = image_at (fixture, "healthy/a.jpg");
  d = image_at (fixture, "blight/deeper/d.jpg");
  a_class = class_name_of (fixture, a);
  d_class = class_name_of (fixture, d);
  g_assert_cmpstr (a_class, ==, "healthy");
  g_assert_cmpstr (d_class, ==, "blight");
  g_assert_cmpint (leaf_catalog_image_get_label_how (a), ==, LEAF_LABEL_HOW_FOLDER_IMPORT);
  g_assert_cmpstr (leaf_catalog_image_get_path (a), ==, a_path);
  g_assert_cmpstr (leaf_catalog_image_get_name (a), ==, "a.jpg");
  g_assert_cmpstr (leaf_catalog_image_get_format (a), ==, "jpeg");
  g_assert_cmpuint (leaf_catalog_image_get_width (a), ==, 32 + 1 % 7);
  g_assert_cmpuint (leaf_catalog_image_get_height (a), ==, 24 + 1 % 5);
  g_assert_false (leaf_catalog_image_get_managed (a));
  assert_integrity (fixture);

  /* The folder's labels are one undoable action. */
  {
    g_autoptr(GError) error = NULL;
    LeafImageQuery labelled = { .labels = LEAF_LABEL_FILTER_LABELED };

    leaf_catalog_undo (fixture->catalog, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (count_images (fixture, &labelled), ==, 0);
    leaf_catalog_redo (fixture->catalog, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (count_images (fixture, &labelled), ==, 4);
  }
}

/* Roboflow's folder export: train/, valid/ and test/, each holding one folder per class, and
 * notes at the top. The classes come from the level below and each photo keeps its split, which
 * a later assignment (as training makes) leaves alone. Before, "train" and "valid" became
 * classes. */
static void
test_dataset_split_folders (Fixture       *fixture,
                            gconstpointer  data)
{
  static const struct { const char *path; const char *class_name; LeafSplit split; } photos[] = {
    { "train/healthy/a.jpg", "healthy", LEAF_SPLIT_TRAIN },
    { "train/blight/b.jpg", "blight", LEAF_SPLIT_TRAIN },
    { "train/blight/c.png", "blight", LEAF_SPLIT_TRAIN },
    { "valid/healthy/d.jpg", "healthy", LEAF_SPLIT_VALIDATION },
    { "valid/blight/e.jpg", "blight", LEAF_SPLIT_VALIDATION },
    { "test/healthy/f.jpg", "healthy", LEAF_SPLIT_TEST },
    { "Test/blight/g.jpg", "blight", LEAF_SPLIT_TEST },
  };
  const char *expected_classes[] = { "blight", "healthy", NULL };
  g_autofree char *readme = photo (fixture, "README.roboflow.txt");
  g_autoptr(LeafImportSummary) summary = NULL;
  g_autoptr(GError) error = NULL;
  LeafSplitOptions resplit = { .train = 0.5, .validation = 0.5, .seed = 3 };

  for (gsize i = 0; i < G_N_ELEMENTS (photos); i++)
    write_photo (fixture, photos[i].path, g_str_has_suffix (photos[i].path, ".png") ? "png" : "jpeg",
                 (guint) i + 10);
  g_assert_true (g_file_set_contents (readme, "Exported from roboflow.com", -1, NULL));

  summary = import_with (fixture, fixture->photos, NULL);
  g_assert_cmpuint (summary->n_added, ==, G_N_ELEMENTS (photos));
  g_assert_cmpuint (summary->n_labeled, ==, G_N_ELEMENTS (photos));
  g_assert_cmpstrv (summary->new_classes, expected_classes);
  g_assert_cmpuint (summary->n_split[LEAF_SPLIT_TRAIN], ==, 3);
  g_assert_cmpuint (summary->n_split[LEAF_SPLIT_VALIDATION], ==, 2);
  g_assert_cmpuint (summary->n_split[LEAF_SPLIT_TEST], ==, 2);

  g_assert_true (leaf_catalog_assign_splits (fixture->catalog, &resplit, NULL, &error));
  g_assert_no_error (error);
  for (gsize i = 0; i < G_N_ELEMENTS (photos); i++)
    {
      g_autoptr(LeafCatalogImage) image = image_at (fixture, photos[i].path);
      g_autofree char *class_name = class_name_of (fixture, image);

      g_assert_cmpstr (class_name, ==, photos[i].class_name);
      g_assert_cmpint (leaf_catalog_image_get_split (image), ==, photos[i].split);
    }
  assert_integrity (fixture);
}

static void
test_folder_label_modes (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autoptr(LeafImportSummary) never = NULL;
  g_autoptr(LeafImportSummary) loose = NULL;
  g_autoptr(LeafImportSummary) always = NULL;
  LeafImportOptions no_labels = { .folder_labels = LEAF_FOLDER_LABELS_NEVER };
  LeafImportOptions force = { .folder_labels = LEAF_FOLDER_LABELS_ALWAYS };
  LeafImageQuery labelled = { .labels = LEAF_LABEL_FILTER_LABELED };
  g_autofree char *loose_dir = photo (fixture, "loose");
  g_autofree char *mixed_dir = photo (fixture, "mixed");

  write_tree (fixture);
  never = import_with (fixture, fixture->photos, &no_labels);
  g_assert_cmpuint (never->n_added, ==, 4);
  g_assert_cmpuint (count_images (fixture, &labelled), ==, 0);

  /* A folder with images of its own is not an ImageFolder tree. */
  write_photo (fixture, "loose/x.jpg", "jpeg", 10);
  write_photo (fixture, "loose/sub/y.jpg", "jpeg", 11);
  loose = import_with (fixture, loose_dir, NULL);
  g_assert_cmpuint (loose->n_added, ==, 2);
  g_assert_cmpuint (count_images (fixture, &labelled), ==, 0);

  /* ALWAYS takes the sub-folders as classes anyway; the loose image stays unlabelled. */
  write_photo (fixture, "mixed/z.jpg", "jpeg", 12);
  write_photo (fixture, "mixed/rust/w.jpg", "jpeg", 13);
  always = import_with (fixture, mixed_dir, &force);
  g_assert_cmpuint (always->n_added, ==, 2);
  g_assert_cmpuint (always->n_labeled, ==, 1);
  g_assert_cmpuint (count_images (fixture, &labelled), ==, 1);
}

/* Everything a catalog holds, summarised, to see that something changed nothing. */
static char *
catalog_state (Fixture *fixture)
{
  sqlite3 *db = ctu_sql_open (fixture->path);
  char *state = ctu_sql_text (db,
    "SELECT (SELECT group_concat (id || sha256 || path || missing || coalesce (group_key, ''), ',')"
    "  FROM images) || '|' ||"
    "(SELECT group_concat (image_id || class_id || user || time || how, ',') FROM labels) || '|' ||"
    "(SELECT count(*) FROM label_actions) || '|' || (SELECT count(*) FROM label_events) || '|' ||"
    "(SELECT count(*) FROM import_batches) || '|' || (SELECT count(*) FROM classes)");

  sqlite3_close (db);
  return state;
}

static void
test_reimport_changes_nothing (Fixture       *fixture,
                               gconstpointer  data)
{
  g_autoptr(LeafImportSummary) first = NULL;
  g_autoptr(LeafImportSummary) second = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;

  write_tree (fixture);
  first = import_with (fixture, fixture->photos, NULL);
  g_assert_cmpuint (first->n_added, ==, 4);
  before = catalog_state (fixture);
  second = import_with (fixture, fixture->photos, NULL);
  after = catalog_state (fixture);
  g_assert_cmpuint (second->n_added, ==, 0);
  g_assert_cmpuint (second->n_present, ==, 4);
  g_assert_cmpuint (second->n_updated, ==, 0);
  g_assert_cmpuint (second->n_labeled, ==, 0);
  g_assert_cmpstr (before, ==, after);
}

/* A label set by hand wins over the folder the image is imported from again. */
static void
test_reimport_keeps_manual_label (Fixture       *fixture,
                                  gconstpointer  data)
{
  g_autoptr(LeafImportSummary) first = NULL;
  g_autoptr(LeafImportSummary) second = NULL;
  g_autoptr(LeafCatalogImage) a = NULL;
  g_autoptr(LeafCatalogImage) after = NULL;
  g_autoptr(LeafClassInfo) blight = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;
  gint64 id;

  write_tree (fixture);
  first = import_with (fixture, fixture->photos, NULL);
  a = image_at (fixture, "healthy/a.jpg");
  blight = leaf_catalog_find_class (fixture->catalog, "blight", &error);
  g_assert_no_error (error);
  id = leaf_catalog_image_get_id (a);
  leaf_catalog_set_labels (fixture->catalog, &id, 1, blight->id, LEAF_LABEL_HOW_MANUAL, &error);
  g_assert_no_error (error);
  second = import_with (fixture, fixture->photos, NULL);
  after = image_at (fixture, "healthy/a.jpg");
  name = class_name_of (fixture, after);
  g_assert_cmpstr (name, ==, "blight");
  g_assert_cmpint (leaf_catalog_image_get_label_how (after), ==, LEAF_LABEL_HOW_MANUAL);
}

static void
test_moved_files (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autoptr(LeafImportSummary) first = NULL;
  g_autoptr(LeafImportSummary) moved = NULL;
  g_autoptr(LeafImportSummary) copied = NULL;
  g_autoptr(LeafCatalogImage) d = NULL;
  g_autofree char *moved_dir = g_build_filename (fixture->dir, "moved", NULL);
  g_autofree char *copy_dir = g_build_filename (fixture->dir, "copies", NULL);
  g_autofree char *new_path = g_build_filename (moved_dir, "blight/deeper/d.jpg", NULL);
  g_autofree char *copy_path = g_build_filename (copy_dir, "d-copy.jpg", NULL);
  g_autofree char *d_class = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize length = 0;

  write_tree (fixture);
  first = import_with (fixture, fixture->photos, NULL);
  g_assert_cmpint (g_rename (fixture->photos, moved_dir), ==, 0);
  moved = import_with (fixture, moved_dir, NULL);
  g_assert_cmpuint (moved->n_added, ==, 0);
  g_assert_cmpuint (moved->n_updated, ==, 4);
  g_assert_cmpuint (count_images (fixture, NULL), ==, 4);

  d = leaf_catalog_find_image (fixture->catalog, new_path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (leaf_catalog_image_get_path (d), ==, new_path);
  d_class = class_name_of (fixture, d);
  g_assert_cmpstr (d_class, ==, "blight");

  /* A second copy, while the first is still in place, is a duplicate: nothing changes. */
  g_file_get_contents (new_path, &contents, &length, &error);
  g_assert_no_error (error);
  ctu_write_bytes (copy_path, contents, length);
  copied = import_with (fixture, copy_dir, NULL);
  g_assert_cmpuint (copied->n_present, ==, 1);
  g_assert_cmpuint (copied->n_updated + copied->n_added, ==, 0);
  g_clear_object (&d);
  d = leaf_catalog_find_image (fixture->catalog, new_path, &error);
  g_assert_cmpstr (leaf_catalog_image_get_path (d), ==, new_path);
  assert_integrity (fixture);
}

static void
test_missing_and_relocate (Fixture       *fixture,
                           gconstpointer  data)
{
  g_autoptr(LeafImportSummary) summary = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *moved_dir = g_build_filename (fixture->dir, "elsewhere", NULL);
  LeafImageQuery missing = { .missing_only = TRUE };
  LeafImageQuery labelled = { .labels = LEAF_LABEL_FILTER_LABELED };
  guint n_missing = 99, n_repaired = 0;

  write_tree (fixture);
  summary = import_with (fixture, fixture->photos, NULL);
  leaf_catalog_check_missing (fixture->catalog, NULL, &n_missing, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n_missing, ==, 0);

  g_assert_cmpint (g_rename (fixture->photos, moved_dir), ==, 0);
  leaf_catalog_check_missing (fixture->catalog, NULL, &n_missing, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n_missing, ==, 4);
  /* Missing images stay, with their labels. */
  g_assert_cmpuint (count_images (fixture, NULL), ==, 4);
  g_assert_cmpuint (count_images (fixture, &missing), ==, 4);
  g_assert_cmpuint (count_images (fixture, &labelled), ==, 4);

  leaf_catalog_relocate (fixture->catalog, fixture->photos, moved_dir, &n_repaired, NULL, NULL,
                         &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n_repaired, ==, 4);
  g_assert_cmpuint (count_images (fixture, &missing), ==, 0);
  leaf_catalog_check_missing (fixture->catalog, NULL, &n_missing, &error);
  g_assert_cmpuint (n_missing, ==, 0);
}

static void
test_copy_into_managed_folder (Fixture       *fixture,
                               gconstpointer  data)
{
  g_autoptr(LeafImportSummary) summary = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) images = NULL;
  g_autofree char *managed = leaf_catalog_get_managed_dir (fixture->catalog);
  LeafImportOptions copy = { .copy = TRUE };
  g_autofree char *a_path = photo (fixture, "healthy/a.jpg");
  g_autofree char *a_bytes = NULL;
  g_autofree char *a_sha = NULL;
  g_autofree char *found_path = g_build_filename (fixture->dir, "found", "a.jpg", NULL);
  g_autoptr(LeafImportSummary) again = NULL;
  g_autoptr(LeafCatalogImage) a = NULL;
  gsize a_length = 0;
  guint n_missing = 99;

  write_tree (fixture);
  a_sha = ctu_sha256_of_file (a_path);
  g_file_get_contents (a_path, &a_bytes, &a_length, &error);
  g_assert_no_error (error);
  summary = import_with (fixture, fixture->photos, &copy);
  g_assert_cmpuint (summary->n_added, ==, 4);
  leaf_test_remove_tree (fixture->photos);

  images = leaf_catalog_query_images (fixture->catalog, NULL, 0, G_MAXUINT, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < images->len; i++)
    {
      const char *path = leaf_catalog_image_get_path (images->pdata[i]);
      g_autofree char *sha = ctu_sha256_of_file (path);

      g_assert_true (g_str_has_prefix (path, managed));
      g_assert_true (leaf_catalog_image_get_managed (images->pdata[i]));
      g_assert_cmpstr (sha, ==, leaf_catalog_image_get_sha256 (images->pdata[i]));
    }
  leaf_catalog_check_missing (fixture->catalog, NULL, &n_missing, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n_missing, ==, 0);

  /* A managed copy that was deleted is replaced by the original, found again elsewhere. */
  a = image_at_sha (fixture, a_sha);
  g_assert_cmpint (g_unlink (leaf_catalog_image_get_path (a)), ==, 0);
  ctu_write_bytes (found_path, a_bytes, a_length);
  again = import_with (fixture, found_path, &copy);
  g_assert_cmpuint (again->n_updated, ==, 1);
  g_clear_object (&a);
  a = image_at_sha (fixture, a_sha);
  g_assert_cmpstr (leaf_catalog_image_get_path (a), ==, found_path);
  g_assert_false (leaf_catalog_image_get_managed (a));
}

static void
test_group_pattern (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(LeafImportSummary) summary = NULL;
  g_autoptr(LeafCatalogImage) one = NULL;
  g_autoptr(LeafCatalogImage) two = NULL;
  g_autoptr(GError) error = NULL;
  LeafImportOptions options = { .group_pattern = "(plant-\\d+)_" };
  LeafImportOptions bad = { .group_pattern = "(unclosed" };
  const char *paths[] = { fixture->photos, NULL };

  write_photo (fixture, "rust/plant-1_a.jpg", "jpeg", 1);
  write_photo (fixture, "rust/plant-1_b.jpg", "jpeg", 2);
  write_photo (fixture, "rust/plant-22_a.jpg", "jpeg", 3);
  write_photo (fixture, "rust/other.jpg", "jpeg", 4);

  g_assert_null (leaf_import_run (fixture->catalog, paths, &bad, NULL, NULL, NULL, &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID);

  summary = import_with (fixture, fixture->photos, &options);
  g_assert_cmpuint (summary->n_added, ==, 4);
  one = image_at (fixture, "rust/plant-1_b.jpg");
  two = image_at (fixture, "rust/plant-22_a.jpg");
  g_assert_cmpstr (leaf_catalog_image_get_group_key (one), ==, "plant-1");
  g_assert_cmpstr (leaf_catalog_image_get_group_key (two), ==, "plant-22");
  g_clear_object (&one);
  one = image_at (fixture, "rust/other.jpg");
  g_assert_null (leaf_catalog_image_get_group_key (one));
}

/* Importing the folder that holds the catalog does not try the catalog's own files. */
static void
test_ignores_own_files (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autoptr(LeafImportSummary) copied = NULL;
  g_autoptr(LeafImportSummary) summary = NULL;
  LeafImportOptions copy = { .copy = TRUE };
  LeafImportOptions plain = { .folder_labels = LEAF_FOLDER_LABELS_NEVER };
  g_autofree char *wal = g_strconcat (fixture->path, "-wal", NULL);

  write_tree (fixture);
  copied = import_with (fixture, fixture->photos, &copy);
  g_assert_true (g_file_test (wal, G_FILE_TEST_EXISTS));
  summary = import_with (fixture, fixture->dir, &plain);
  g_assert_cmpuint (summary->skipped->len, ==, 0);
  g_assert_cmpuint (summary->n_added, ==, 0);
  g_assert_cmpuint (summary->n_present, ==, 4);
}

/* ---- Bad input ---- */

static void
assert_skipped (LeafImportSummary    *summary,
                const char           *path,
                LeafImportSkipReason  reason)
{
  for (guint i = 0; i < summary->skipped->len; i++)
    {
      LeafImportSkip *skip = summary->skipped->pdata[i];

      if (g_str_equal (skip->path, path))
        {
          g_autofree char *display = g_filename_display_name (path);

          g_test_message ("%s: %s (%s)", display, skip->message,
                          leaf_import_skip_reason_to_string (skip->reason));
          g_assert_cmpstr (leaf_import_skip_reason_to_string (skip->reason), ==,
                           leaf_import_skip_reason_to_string (reason));
          g_assert_true (g_utf8_validate (skip->message, -1, NULL));
          g_assert_cmpuint (strlen (skip->message), >, 0);
          return;
        }
    }
  g_error ("%s was not skipped", g_filename_display_name (path));
}

static void
make_empty (const char *path)
{
  ctu_write_bytes (path, "", 0);
}

static void
make_truncated_jpeg (const char *path)
{
  g_autoptr(GBytes) jpeg = ctu_encode_image ("jpeg", 64, 64, 5);

  /* Most of the picture, the header intact: the loader alone would show it half grey. */
  ctu_write_bytes (path, g_bytes_get_data (jpeg, NULL), g_bytes_get_size (jpeg) * 2 / 3);
}

static void
make_header_only_jpeg (const char *path)
{
  g_autoptr(GBytes) jpeg = ctu_encode_image ("jpeg", 64, 64, 6);

  ctu_write_bytes (path, g_bytes_get_data (jpeg, NULL), 100);
}

static void
make_truncated_png (const char *path)
{
  g_autoptr(GBytes) png = ctu_encode_image ("png", 64, 64, 7);

  ctu_write_bytes (path, g_bytes_get_data (png, NULL), g_bytes_get_size (png) - 20);
}

static void
make_text (const char *path)
{
  const char *text = "Leaf photos from plot 7\nnot a picture at all\n";

  ctu_write_bytes (path, text, strlen (text));
}

static void
make_gif (const char *path)
{
  static const char gif[] = "GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04"
                            "\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02"
                            "D\x01\x00;";

  ctu_write_bytes (path, gif, sizeof gif - 1);
}

static void
make_heic (const char *path)
{
  static const char heic[] = "\x00\x00\x00\x18" "ftypheic" "\x00\x00\x00\x00" "mif1heic"
                             "\x00\x00\x00\x08" "free";

  ctu_write_bytes (path, heic, sizeof heic - 1);
}

/* A JPEG whose frame header claims 30000 × 20000 pixels: a decompression bomb. */
static void
make_huge_jpeg (const char *path)
{
  g_autoptr(GBytes) jpeg = ctu_encode_image ("jpeg", 16, 16, 8);
  gsize length = g_bytes_get_size (jpeg);
  guint8 *data = g_memdup2 (g_bytes_get_data (jpeg, NULL), length);

  for (gsize i = 2; i + 9 < length; i++)
    if (data[i] == 0xFF && data[i + 1] == 0xC0)
      {
        data[i + 5] = 20000 >> 8;
        data[i + 6] = 20000 & 0xff;
        data[i + 7] = 30000 >> 8;
        data[i + 8] = 30000 & 0xff;
        break;
      }
  ctu_write_bytes (path, data, length);
  g_free (data);
}

static void
make_small_image (const char *path)
{
  ctu_write_image (path, "png", 50, 40, 9);
}

static void
make_fifo (const char *path)
{
  g_assert_cmpint (mkfifo (path, 0644), ==, 0);
}

static void
make_self_link (const char *path)
{
  g_assert_cmpint (symlink (path, path), ==, 0);
}

static void
make_dangling_link (const char *path)
{
  g_assert_cmpint (symlink ("/nonexistent/leafscope/photo.jpg", path), ==, 0);
}

/* A bad file beside one good photo: the test's name, the file's, how it is made, and why the
 * import must skip it. */
typedef struct
{
  const char *test;
  const char *name;
  LeafImportSkipReason reason;
  void (*make) (const char *path);
  guint64 max_pixels;  /* a limit of the import's own; 0 for the default */
} BadInput;

static const BadInput bad_inputs[] = {
  { "skips-empty-file", "empty.jpg", LEAF_IMPORT_SKIP_EMPTY, make_empty },
  { "skips-truncated-jpeg", "cut.jpg", LEAF_IMPORT_SKIP_TRUNCATED, make_truncated_jpeg },
  { "skips-jpeg-cut-in-header", "stub.jpg", LEAF_IMPORT_SKIP_TRUNCATED, make_header_only_jpeg },
  { "skips-truncated-png", "cut.png", LEAF_IMPORT_SKIP_TRUNCATED, make_truncated_png },
  { "skips-text-named-jpg", "notes.jpg", LEAF_IMPORT_SKIP_NOT_AN_IMAGE, make_text },
  { "skips-unsupported-gif", "anim.gif", LEAF_IMPORT_SKIP_UNSUPPORTED_FORMAT, make_gif },
  { "skips-unsupported-heic", "phone.heic", LEAF_IMPORT_SKIP_UNSUPPORTED_FORMAT, make_heic },
  { "skips-decompression-bomb", "bomb.jpg", LEAF_IMPORT_SKIP_TOO_LARGE, make_huge_jpeg },
  /* 50 × 40 = 2000 pixels; the good image is at most 38 × 28. */
  { "skips-over-configured-pixel-limit", "big.png", LEAF_IMPORT_SKIP_TOO_LARGE, make_small_image,
    1500 },
  { "skips-fifo", "pipe.jpg", LEAF_IMPORT_SKIP_NOT_A_FILE, make_fifo },
  { "skips-self-link", "self.jpg", LEAF_IMPORT_SKIP_SYMLINK_LOOP, make_self_link },
  { "skips-dangling-link", "gone.jpg", LEAF_IMPORT_SKIP_UNREADABLE, make_dangling_link },
  /* Latin-1 "é", as old cameras and Windows shares write it. */
  { "skips-non-utf8-name", "caf\xe9.jpg", LEAF_IMPORT_SKIP_BAD_FILE_NAME, make_small_image },
};

/* Imports photos/ holding the good photo and the bad file: the bad file must be skipped for its
 * reason, the good one imported, and nothing else written. */
static void
test_skips_bad_input (Fixture       *fixture,
                      gconstpointer  data)
{
  const BadInput *bad = data;
  LeafImportOptions options = { .max_pixels = bad->max_pixels };
  g_autoptr(LeafImportSummary) summary = NULL;
  g_autofree char *path = photo (fixture, bad->name);
  sqlite3 *db;

  write_photo (fixture, "good.jpg", "jpeg", 99);
  bad->make (path);
  summary = import_with (fixture, fixture->photos, bad->max_pixels > 0 ? &options : NULL);
  g_assert_cmpuint (summary->n_added, ==, 1);
  g_assert_cmpuint (summary->skipped->len, ==, 1);
  assert_skipped (summary, path, bad->reason);
  g_assert_cmpuint (count_images (fixture, NULL), ==, 1);
  assert_integrity (fixture);
  db = ctu_sql_open (fixture->path);
  g_assert_cmpint (ctu_sql_int (db, "SELECT count(*) FROM images WHERE name != 'good.jpg'"), ==, 0);
  sqlite3_close (db);
}

static void
test_skips_symlink_loop (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autoptr(LeafImportSummary) summary = NULL;
  g_autofree char *loop = photo (fixture, "field/back");
  g_autofree char *field = photo (fixture, "field");

  write_photo (fixture, "field/leaf.jpg", "jpeg", 1);
  g_assert_cmpint (symlink ("..", loop), ==, 0);
  summary = import_with (fixture, field, NULL);
  g_assert_cmpuint (summary->n_added, ==, 1);
  g_assert_cmpuint (summary->n_present, ==, 0);
  assert_skipped (summary, loop, LEAF_IMPORT_SKIP_SYMLINK_LOOP);
  assert_integrity (fixture);
}

/* Root reads everything, so the unreadable file is tried as nobody, in a child process. */
static void
test_skips_unreadable (void)
{
  g_autofree char *dir = NULL;
  g_autofree char *catalog_path = NULL;
  g_autofree char *locked = NULL;
  g_autofree char *good = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(LeafImportSummary) summary = NULL;
  const char *paths[2] = { NULL, NULL };

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }
  if (geteuid () == 0)
    {
      g_assert_cmpint (setgid (65534), ==, 0);
      g_assert_cmpint (setuid (65534), ==, 0);
    }
  dir = ctu_make_tmp_dir ();
  catalog_path = g_build_filename (dir, "c.leafscope", NULL);
  locked = g_build_filename (dir, "photos", "locked.jpg", NULL);
  good = g_build_filename (dir, "photos", "good.jpg", NULL);
  ctu_write_image (good, "jpeg", 20, 20, 1);
  ctu_write_image (locked, "jpeg", 20, 20, 2);
  g_assert_cmpint (g_chmod (locked, 0), ==, 0);

  catalog = leaf_catalog_open (catalog_path, LEAF_CATALOG_OPEN_CREATE, &error);
  g_assert_no_error (error);
  paths[0] = g_path_get_dirname (good);
  summary = leaf_import_run (catalog, paths, NULL, NULL, NULL, NULL, &error);
  g_free ((char *) paths[0]);
  g_assert_no_error (error);
  g_assert_cmpuint (summary->n_added, ==, 1);
  g_assert_cmpuint (summary->skipped->len, ==, 1);
  assert_skipped (summary, locked, LEAF_IMPORT_SKIP_UNREADABLE);
  g_clear_object (&catalog);
  leaf_test_remove_tree (dir);
}

/* All of it at once, among good images, in one import. */
static void
test_everything_bad_at_once (Fixture       *fixture,
                             gconstpointer  data)
{
  struct { const char *name; LeafImportSkipReason reason; void (*make) (const char *); } bad[] = {
    { "a/empty.jpg", LEAF_IMPORT_SKIP_EMPTY, make_empty },
    { "a/cut.jpg", LEAF_IMPORT_SKIP_TRUNCATED, make_truncated_jpeg },
    { "b/cut.png", LEAF_IMPORT_SKIP_TRUNCATED, make_truncated_png },
    { "b/notes.jpg", LEAF_IMPORT_SKIP_NOT_AN_IMAGE, make_text },
    { "c/anim.gif", LEAF_IMPORT_SKIP_UNSUPPORTED_FORMAT, make_gif },
    { "c/bomb.jpg", LEAF_IMPORT_SKIP_TOO_LARGE, make_huge_jpeg },
    { "c/pipe.jpg", LEAF_IMPORT_SKIP_NOT_A_FILE, make_fifo },
    { "d/self.jpg", LEAF_IMPORT_SKIP_SYMLINK_LOOP, make_self_link },
    { "d/\xff\xfe.jpg", LEAF_IMPORT_SKIP_BAD_FILE_NAME, make_small_image },
  };
  g_autoptr(LeafImportSummary) summary = NULL;
  LeafImportOptions no_labels = { .folder_labels = LEAF_FOLDER_LABELS_NEVER, .batch_size = 3 };

  for (guint i = 0; i < 6; i++)
    {
      g_autofree char *name = g_strdup_printf ("%c/good-%u.jpg", 'a' + i % 4, i);
      write_photo (fixture, name, "jpeg", 100 + i);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *path = photo (fixture, bad[i].name);
      g_autofree char *parent = g_path_get_dirname (path);

      g_mkdir_with_parents (parent, 0755);
      bad[i].make (path);
    }
  summary = import_with (fixture, fixture->photos, &no_labels);
  g_assert_cmpuint (summary->n_added, ==, 6);
  g_assert_cmpuint (summary->skipped->len, ==, G_N_ELEMENTS (bad));
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *path = photo (fixture, bad[i].name);
      assert_skipped (summary, path, bad[i].reason);
    }
  g_assert_cmpuint (count_images (fixture, NULL), ==, 6);
  assert_integrity (fixture);
}

/* ---- EXIF ---- */

static void
write_exif_jpeg (const char *path,
                 int         width,
                 int         height,
                 gboolean    big_endian,
                 guint       orientation,
                 const char *date)
{
  g_autoptr(GBytes) plain = ctu_encode_image ("jpeg", width, height, width * 31 + orientation);
  g_autoptr(GBytes) with_exif = ctu_jpeg_with_exif (plain, big_endian, orientation, date);

  ctu_write_bytes (path, g_bytes_get_data (with_exif, NULL), g_bytes_get_size (with_exif));
}

static void
test_exif (Fixture       *fixture,
           gconstpointer  data)
{
  struct {
    const char *name; gboolean big; guint orientation; const char *date;
    guint width, height; const char *captured;
  } cases[] = {
    { "o6.jpg", FALSE, 6, "2023:06:01 10:20:30", 20, 40, "2023-06-01T10:20:30" },
    { "o8.jpg", TRUE, 8, "2021:12:31 23:59:59", 20, 40, "2021-12-31T23:59:59" },
    { "o3.jpg", TRUE, 3, NULL, 40, 20, NULL },
    { "blank-date.jpg", FALSE, 1, "    :  :     :  :  ", 40, 20, NULL },
    { "bad-date.jpg", FALSE, 0, "2023:02:30 10:00:00", 40, 20, NULL },
  };
  g_autoptr(LeafImportSummary) summary = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = photo (fixture, cases[i].name);
      write_exif_jpeg (path, 40, 20, cases[i].big, cases[i].orientation, cases[i].date);
    }
  summary = import_with (fixture, fixture->photos, NULL);
  g_assert_cmpuint (summary->n_added, ==, G_N_ELEMENTS (cases));
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(LeafCatalogImage) image = image_at (fixture, cases[i].name);
      GDateTime *captured = leaf_catalog_image_get_captured (image);
      g_autofree char *text = captured != NULL ? g_date_time_format (captured, "%FT%T") : NULL;

      g_test_message ("%s", cases[i].name);
      g_assert_cmpuint (leaf_catalog_image_get_width (image), ==, cases[i].width);
      g_assert_cmpuint (leaf_catalog_image_get_height (image), ==, cases[i].height);
      g_assert_cmpuint (leaf_catalog_image_get_orientation (image), ==,
                        MAX (cases[i].orientation, 1));
      g_assert_cmpstr (text, ==, cases[i].captured);
    }
}

/* EXIF written by Pillow, not by our own test code. */
static void
test_exif_from_pillow (Fixture       *fixture,
                       gconstpointer  data)
{
  const char *python = g_getenv ("LEAFSCOPE_PYTHON");
  g_autofree char *path = photo (fixture, "pil.jpg");
  g_autofree char *script = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafImportSummary) summary = NULL;
  g_autoptr(LeafCatalogImage) image = NULL;
  g_autofree char *text = NULL;
  int status = 0;

  if (python == NULL || !g_file_test (python, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("LEAFSCOPE_PYTHON with Pillow is not available");
      return;
    }
  script = g_strdup_printf (
    "import sys\n"
    "from PIL import Image\n"
    "im = Image.new('RGB', (60, 30), (10, 200, 30))\n"
    "exif = Image.Exif()\n"
    "exif[0x0112] = 5\n"
    "exif[0x8769] = {0x9003: '2022:08:15 07:06:05'}\n"
    "im.save(sys.argv[1], exif=exif.tobytes())\n");
  g_spawn_sync (NULL, (char *[]) { (char *) python, (char *) "-c", script, path, NULL }, NULL,
                G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    {
      g_test_skip ("Pillow could not write the test image");
      return;
    }
  summary = import_with (fixture, path, NULL);
  g_assert_cmpuint (summary->n_added, ==, 1);
  image = image_at (fixture, "pil.jpg");
  g_assert_cmpuint (leaf_catalog_image_get_orientation (image), ==, 5);
  g_assert_cmpuint (leaf_catalog_image_get_width (image), ==, 30);
  g_assert_cmpuint (leaf_catalog_image_get_height (image), ==, 60);
  text = g_date_time_format (leaf_catalog_image_get_captured (image), "%FT%T");
  g_assert_cmpstr (text, ==, "2022-08-15T07:06:05");
}

/* Damaged EXIF must not crash or make up an orientation. */
static void
test_exif_parser_survives_garbage (void)
{
  g_autoptr(GBytes) jpeg = ctu_encode_image ("jpeg", 8, 8, 1);
  g_autoptr(GBytes) sample = ctu_jpeg_with_exif (jpeg, FALSE, 6, "2020:01:02 03:04:05");
  g_autoptr(GRand) rand = g_rand_new_with_seed (20240501);
  const guint8 *bytes = g_bytes_get_data (sample, NULL);
  /* The TIFF block starts after SOI (2), APP1 marker and length (4) and "Exif\0\0" (6). */
  gsize tiff_length = ((bytes[4] << 8) | bytes[5]) - 2 - 6;
  const guint8 *tiff = bytes + 12;
  guint orientation = 0;
  char *captured = NULL;

  g_assert_true (_leaf_exif_parse (tiff, tiff_length, &orientation, &captured));
  g_assert_cmpuint (orientation, ==, 6);
  g_assert_cmpstr (captured, ==, "2020-01-02T03:04:05");
  g_free (captured);

  for (guint round = 0; round < 20000; round++)
    {
      gsize length = g_rand_int_range (rand, 0, tiff_length + 1);
      guint8 *copy = g_memdup2 (tiff, length);
      guint n_flips = g_rand_int_range (rand, 0, 6);

      for (guint k = 0; k < n_flips && length > 0; k++)
        copy[g_rand_int_range (rand, 0, length)] = g_rand_int_range (rand, 0, 256);
      _leaf_exif_parse (copy, length, &orientation, &captured);
      g_assert_cmpuint (orientation, >=, 1);
      g_assert_cmpuint (orientation, <=, 8);
      if (captured != NULL)
        g_assert_cmpuint (strlen (captured), ==, 19);
      g_clear_pointer (&captured, g_free);
      g_free (copy);
    }
}

/* ---- In a thread ---- */

typedef struct
{
  GCancellable *cancellable;
  GThread *main_thread;
  guint n_reports;
  guint cancel_after;
  LeafImportSummary *summary;
  GError *error;
  gboolean done;
} AsyncData;

static void
on_progress_cb (const LeafImportProgress *progress,
                gpointer                  user_data)
{
  AsyncData *data = user_data;

  g_assert_true (g_thread_self () == data->main_thread);
  g_assert_cmpuint (progress->n_done, <=, progress->n_total);
  data->n_reports++;
  if (progress->phase == LEAF_IMPORT_PHASE_IMPORTING && data->cancel_after > 0 &&
      progress->n_done >= data->cancel_after)
    g_cancellable_cancel (data->cancellable);
}

static void
on_import_finished_cb (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  AsyncData *data = user_data;

  g_assert_true (g_thread_self () == data->main_thread);
  data->summary = leaf_import_run_finish (LEAF_CATALOG (source), result, &data->error);
  data->done = TRUE;
}

static void
run_async (Fixture  *fixture,
           AsyncData *data)
{
  const char *paths[] = { fixture->photos, NULL };
  LeafImportOptions options = { .batch_size = 40 };

  data->main_thread = g_thread_self ();
  leaf_import_run_async (fixture->catalog, paths, &options, data->cancellable, on_progress_cb,
                         data, NULL, on_import_finished_cb, data);
  while (!data->done)
    g_main_context_iteration (NULL, TRUE);
  /* The worker thread drops its reference to the task (and the task its reference to the
   * catalog) a moment after the callback ran. */
  for (guint i = 0; i < 5000 && G_OBJECT (fixture->catalog)->ref_count > 1; i++)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
}

static void
test_async_cancel_and_resume (Fixture       *fixture,
                              gconstpointer  data)
{
  AsyncData cancelled = { g_cancellable_new (), NULL, 0, 80, NULL, NULL, FALSE };
  AsyncData resumed = { NULL, NULL, 0, 0, NULL, NULL, FALSE };
  guint n = 400, after_cancel;

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *name = g_strdup_printf ("class-%u/%03u.jpg", i % 3, i);
      write_photo (fixture, name, "jpeg", i);
    }

  run_async (fixture, &cancelled);
  g_assert_error (cancelled.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (cancelled.summary);
  g_assert_cmpuint (cancelled.n_reports, >, 0);
  after_cancel = count_images (fixture, NULL);
  g_test_message ("%u of %u imported before the cancel took effect", after_cancel, n);
  g_assert_cmpuint (after_cancel, >=, 80);
  g_assert_cmpuint (after_cancel, <, n);
  assert_integrity (fixture);

  run_async (fixture, &resumed);
  g_assert_no_error (resumed.error);
  g_assert_cmpuint (resumed.summary->n_added, ==, n - after_cancel);
  g_assert_cmpuint (resumed.summary->n_present, ==, after_cancel);
  g_assert_cmpuint (count_images (fixture, NULL), ==, n);
  assert_integrity (fixture);

  g_clear_error (&cancelled.error);
  g_clear_object (&cancelled.cancellable);
  leaf_import_summary_free (resumed.summary);
}

int
main (int   argc,
      char *argv[])
{
  leaf_test_init (&argc, &argv);

#define ADD(path, func) \
  g_test_add ("/catalog/import/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

  ADD ("image-folder-classes-and-labels", test_image_folder);
  ADD ("folder-label-modes", test_folder_label_modes);
  ADD ("dataset-split-folders", test_dataset_split_folders);
  ADD ("reimport-changes-nothing", test_reimport_changes_nothing);
  ADD ("reimport-keeps-manual-label", test_reimport_keeps_manual_label);
  ADD ("moved-files-update-paths", test_moved_files);
  ADD ("missing-files-and-relocate", test_missing_and_relocate);
  ADD ("copy-into-managed-folder", test_copy_into_managed_folder);
  ADD ("group-pattern", test_group_pattern);
  ADD ("ignores-own-catalog-files", test_ignores_own_files);
  for (guint i = 0; i < G_N_ELEMENTS (bad_inputs); i++)
    {
      g_autofree char *path = g_strconcat ("/catalog/import/", bad_inputs[i].test, NULL);

      g_test_add (path, Fixture, &bad_inputs[i], fixture_set_up, test_skips_bad_input,
                  fixture_tear_down);
    }
  ADD ("skips-symlink-loop", test_skips_symlink_loop);
  g_test_add_func ("/catalog/import/skips-unreadable-file", test_skips_unreadable);
  ADD ("skips-everything-bad-at-once", test_everything_bad_at_once);
  ADD ("exif-orientation-and-capture-time", test_exif);
  ADD ("exif-from-pillow", test_exif_from_pillow);
  g_test_add_func ("/catalog/import/exif-parser-survives-garbage",
                   test_exif_parser_survives_garbage);
  ADD ("async-progress-cancel-resume", test_async_cancel_and_resume);

  return g_test_run ();
}
