/* test-label-import.c: labels from spreadsheets, Label Studio and CVAT into the catalog
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "leaf-test.h"

#include <glib/gstdio.h>
#include <string.h>

#include "catalog-test-util.h"
#include "leaf-catalog.h"
#include "leaf-error.h"
#include "leaf-export.h"
#include "leaf-import.h"
#include "leaf-label-import.h"

typedef struct
{
  char *dir;
  char *path;
  LeafCatalog *catalog;
} Fixture;

/* other/a.jpg shares its name with healthy/a.jpg: a bare "a.jpg" is ambiguous. */
static const char *const photos[] = {
  "photos/healthy/a.jpg", "photos/healthy/b.jpg", "photos/blight/c.jpg", "photos/loose/d.jpg",
  "photos/other/a.jpg",
};

static void
write_photos (const char *dir)
{
  for (guint i = 0; i < G_N_ELEMENTS (photos); i++)
    {
      g_autofree char *path = g_build_filename (dir, photos[i], NULL);
      ctu_write_image (path, "jpeg", 16 + i, 16, i);
    }
}

/* A catalog of the photos in dir, without labels. */
static LeafCatalog *
catalog_of_photos (const char *catalog_path,
                   const char *dir)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafImportSummary) summary = NULL;
  g_autofree char *folder = g_build_filename (dir, "photos", NULL);
  const char *paths[] = { folder, NULL };
  LeafImportOptions options = { .folder_labels = LEAF_FOLDER_LABELS_NEVER };
  LeafCatalog *catalog = leaf_catalog_open (catalog_path, LEAF_CATALOG_OPEN_CREATE, &error);

  g_assert_no_error (error);
  summary = leaf_import_run (catalog, paths, &options, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (summary->n_added, ==, G_N_ELEMENTS (photos));
  return catalog;
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  fixture->dir = ctu_make_tmp_dir ();
  fixture->path = g_build_filename (fixture->dir, "test.leafscope", NULL);
  write_photos (fixture->dir);
  fixture->catalog = catalog_of_photos (fixture->path, fixture->dir);
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
  g_free (fixture->dir);
}

static char *
write_file (Fixture    *fixture,
            const char *name,
            const char *text)
{
  char *path = g_build_filename (fixture->dir, name, NULL);

  ctu_write_bytes (path, text, strlen (text));
  return path;
}

/* "class labeller time how" of the photo at relative path, or "-" when unlabelled. */
static char *
label_of (Fixture    *fixture,
          const char *relative)
{
  g_autofree char *path = g_build_filename (fixture->dir, relative, NULL);
  g_autofree char *sql = NULL;
  sqlite3 *db = ctu_sql_open (fixture->path);
  char *label;

  sql = sqlite3_mprintf ("SELECT ifnull ((SELECT c.name || ' ' || l.user || ' ' || l.time || ' ' "
                         "|| l.how FROM images i JOIN labels l ON l.image_id = i.id JOIN classes "
                         "c ON c.id = l.class_id WHERE i.path = %Q), '-')", path);
  label = ctu_sql_text (db, sql);
  sqlite3_free (g_steal_pointer (&sql));
  sqlite3_close (db);
  return label;
}

static void
assert_label (Fixture    *fixture,
              const char *relative,
              const char *expected)
{
  g_autofree char *label = label_of (fixture, relative);

  g_assert_cmpstr (label, ==, expected);
}

static void
assert_problems (LeafLabelImportReport *report,
                 const guint           *numbers,
                 guint                  n_numbers)
{
  for (guint i = 0; i < report->problems->len; i++)
    {
      LeafLabelImportProblem *problem = report->problems->pdata[i];
      g_autofree char *line = leaf_label_import_problem_describe (report, problem);

      g_test_message ("%s", line);
    }
  g_assert_cmpuint (report->problems->len, ==, n_numbers);
  for (guint i = 0; i < n_numbers; i++)
    g_assert_cmpuint (((LeafLabelImportProblem *) report->problems->pdata[i])->number, ==,
                      numbers[i]);
}

static void
add_class (Fixture    *fixture,
           const char *name)
{
  g_autoptr(GError) error = NULL;

  leaf_catalog_add_class (fixture->catalog, name, NULL, NULL, &error);
  g_assert_no_error (error);
}

/* A spreadsheet as Excel saves it: a byte order mark, CRLF line ends, its own column names, a
 * quoted field with a line break (which moves every later line number), our export's quote
 * before a formula-like cell; and the lines that cannot be applied, each with its number. */
static void
test_csv_edge_cases (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autofree char *csv = NULL;
  g_autofree char *b_sha = NULL;
  g_autofree char *b_path = g_build_filename (fixture->dir, photos[1], NULL);
  g_autofree char *text = NULL;
  g_autofree char *description = NULL;
  g_autoptr(LeafLabelImportReport) report = NULL;
  g_autoptr(LeafLabelImportReport) again = NULL;
  g_autoptr(GError) error = NULL;
  LeafLabelImportOptions create = { .create_classes = TRUE };
  static const guint first_problems[] = { 7, 8, 9, 10, 11, 13 };
  static const guint second_problems[] = { 7, 8, 10, 11, 13 };

  add_class (fixture, "healthy");
  add_class (fixture, "=blight");
  b_sha = ctu_sha256_of_file (b_path);
  text = g_strdup_printf ("\xef\xbb\xbfImage,SHA256,Label,Annotator,Time\r\n"
                          "photos/healthy/a.jpg,,healthy,\"Ana, PhD\",2024-01-02 10:00:00\r\n"
                          "\"photos/blight/c.jpg\",,\"'=blight\",,\r\n"
                          "photos/loose/d.jpg,,healthy,\"two\r\nlines\",\r\n"
                          "\r\n"
                          "nothere.jpg,,healthy,,\r\n"
                          "a.jpg,,healthy,,\r\n"
                          "photos/healthy/b.jpg,,rust,,\r\n"
                          "photos/healthy/b.jpg,,healthy,,yesterday\r\n"
                          ",,healthy,,\r\n"
                          ",%s,healthy,,\r\n"
                          ",%064d,healthy,,\r\n",
                          b_sha, 0);
  csv = write_file (fixture, "sheet.csv", text);

  report = leaf_label_import (fixture->catalog, csv, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (report->format, ==, LEAF_LABEL_FORMAT_CSV);
  g_assert_cmpuint (report->n_records, ==, 10);
  g_assert_cmpuint (report->n_labelled, ==, 4);
  assert_problems (report, first_problems, G_N_ELEMENTS (first_problems));
  g_assert_nonnull (strstr (((LeafLabelImportProblem *) report->problems->pdata[1])->reason,
                            "more than one"));
  g_assert_nonnull (strstr (((LeafLabelImportProblem *) report->problems->pdata[2])->reason,
                            "rust"));
  assert_label (fixture, "photos/healthy/a.jpg",
                "healthy Ana, PhD 2024-01-02T10:00:00.000000Z manual");
  {
    g_autofree char *d = label_of (fixture, "photos/loose/d.jpg");
    g_autofree char *c = label_of (fixture, "photos/blight/c.jpg");
    g_autofree char *b = label_of (fixture, "photos/healthy/b.jpg");

    /* A line break inside quotes is kept as written. */
    g_assert_true (g_str_has_prefix (d, "healthy two\r\nlines "));
    g_assert_true (g_str_has_prefix (c, "=blight "));
    g_assert_true (g_str_has_prefix (b, "healthy "));
  }

  /* The whole file is one action: one undo takes every label back. */
  g_assert_true (leaf_catalog_undo (fixture->catalog, &description, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (photos); i++)
    assert_label (fixture, photos[i], "-");

  /* Asked to, the import makes the class it lacked. */
  again = leaf_label_import (fixture->catalog, csv, &create, NULL, &error);
  g_assert_no_error (error);
  assert_problems (again, second_problems, G_N_ELEMENTS (second_problems));
  g_assert_cmpstrv (again->new_classes, ((const char *[]) { "rust", NULL }));
  {
    g_autofree char *b = label_of (fixture, "photos/healthy/b.jpg");
    g_assert_true (g_str_has_prefix (b, "healthy "));
  }
}

static void
test_csv_refused (Fixture       *fixture,
                  gconstpointer  data)
{
  static const struct { const char *text; const char *message; } cases[] = {
    { "path,class\na.jpg,healthy\n\"b.jpg,healthy\n", "line 3" },
    { "photo,kind\na.jpg,healthy\n", "Line 1" },
    { "path,class\nb.jpg,blight\nc.jpg,caf\xe9\n", "Line 3" },
    { "", "empty" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *csv = write_file (fixture, "bad.csv", cases[i].text);
      g_autoptr(GError) error = NULL;
      g_autoptr(LeafLabelImportReport) report = NULL;
      LeafLabelImportOptions options = { .format = LEAF_LABEL_FORMAT_CSV };

      report = leaf_label_import (fixture->catalog, csv, &options, NULL, &error);
      g_assert_null (report);
      g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID);
      g_test_message ("%s", error->message);
      g_assert_nonnull (strstr (error->message, cases[i].message));
    }
}

/* Label Studio's JSON export as it writes it: user ids, uploads renamed with a prefix of its
 * own, local files, cloud URLs, skipped annotations, tasks nobody annotated. */
static void
test_label_studio (Fixture       *fixture,
                   gconstpointer  data)
{
  static const char json[] =
    "[\n"
    " {\"id\": 11, \"data\": {\"image\": \"/data/upload/3/1a2b3c4d-c.jpg\"},\n"
    "  \"annotations\": [\n"
    "   {\"id\": 1, \"completed_by\": 5, \"was_cancelled\": false,\n"
    "    \"created_at\": \"2024-02-01T08:00:00.000000Z\",\n"
    "    \"updated_at\": \"2024-02-01T08:00:00.000000Z\",\n"
    "    \"result\": [{\"type\": \"choices\", \"from_name\": \"choice\", \"to_name\": \"image\",\n"
    "                \"value\": {\"choices\": [\"blight\"]}}]},\n"
    "   {\"id\": 2, \"completed_by\": 6, \"was_cancelled\": true,\n"
    "    \"created_at\": \"2024-03-01T08:00:00.000000Z\",\n"
    "    \"result\": [{\"type\": \"choices\", \"value\": {\"choices\": [\"healthy\"]}}]}]},\n"
    " {\"id\": 12, \"data\": {\"image\": \"/data/local-files/?d=photos/healthy/a.jpg\"},\n"
    "  \"annotations\": [\n"
    "   {\"completed_by\": {\"id\": 2, \"email\": \"bo@lab.org\"},\n"
    "    \"created_at\": \"2024-01-01T08:00:00Z\",\n"
    "    \"result\": [{\"type\": \"choices\", \"value\": {\"choices\": [\"blight\"]}}]},\n"
    "   {\"completed_by\": {\"id\": 3, \"email\": \"ana@lab.org\"},\n"
    "    \"created_at\": \"2024-01-01T08:00:00Z\", \"updated_at\": \"2024-01-05T09:00:00Z\",\n"
    "    \"result\": [{\"type\": \"rectanglelabels\", \"value\": {}},\n"
    "                {\"type\": \"choices\", \"value\": {\"choices\": [\"healthy\"]}}]}]},\n"
    " {\"id\": 13, \"data\": {\"image\": \"s3://bucket/lab/loose/d.jpg\"}, \"annotations\": []},\n"
    " {\"id\": 14, \"data\": {\"image\": \"https://ls.example.org/data/upload/9/deadbeef-x.jpg\"},\n"
    "  \"annotations\": [{\"result\": [{\"type\": \"choices\",\n"
    "                                \"value\": {\"choices\": [\"healthy\"]}}]}]}\n"
    "]\n";
  g_autofree char *path = write_file (fixture, "project.json", json);
  g_autoptr(LeafLabelImportReport) report = NULL;
  g_autoptr(GError) error = NULL;
  LeafLabelImportOptions options = { .create_classes = TRUE };
  static const guint problems[] = { 4 };

  report = leaf_label_import (fixture->catalog, path, &options, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (report->format, ==, LEAF_LABEL_FORMAT_LABEL_STUDIO);
  g_assert_cmpuint (report->n_records, ==, 4);
  g_assert_cmpuint (report->n_labelled, ==, 2);
  g_assert_cmpuint (report->n_without_class, ==, 1);
  assert_problems (report, problems, G_N_ELEMENTS (problems));
  assert_label (fixture, "photos/blight/c.jpg",
                "blight label-studio-user-5 2024-02-01T08:00:00.000000Z manual");
  assert_label (fixture, "photos/healthy/a.jpg",
                "healthy ana@lab.org 2024-01-05T09:00:00.000000Z manual");
  assert_label (fixture, "photos/loose/d.jpg", "-");
}

/* JSON of any shape is read without a critical warning: what is not a task is a task that
 * names no photo, and members of the wrong type count as missing. */
static void
test_label_studio_odd_shapes (Fixture       *fixture,
                              gconstpointer  data)
{
  static const char json[] =
    "[1, \"text\", null, [],\n"
    " {\"data\": 7, \"annotations\": {}},\n"
    " {\"data\": {\"image\": 42, \"sha256\": []}, \"meta\": \"x\"},\n"
    " {\"data\": {\"image\": \"/data/local-files/?d=%zz\"}},\n"
    " {\"data\": {\"image\": \"photos/blight/c.jpg\"},\n"
    "  \"annotations\": [null, 3, {\"was_cancelled\": null, \"completed_by\": [],\n"
    "                    \"created_at\": 5, \"result\": [null, {\"type\": \"choices\",\n"
    "                    \"value\": {\"choices\": [7]}}]},\n"
    "                   {\"was_cancelled\": {}, \"result\": {\"type\": \"choices\"}}]}]\n";
  g_autofree char *path = write_file (fixture, "odd.json", json);
  g_autoptr(LeafLabelImportReport) report = NULL;
  g_autoptr(GError) error = NULL;

  report = leaf_label_import (fixture->catalog, path, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (report->n_records, ==, 8);
  g_assert_cmpuint (report->n_labelled, ==, 0);
  g_assert_cmpuint (report->n_without_class, ==, 1);
  g_assert_cmpuint (report->problems->len, ==, 7);
  assert_label (fixture, "photos/blight/c.jpg", "-");
}

/* Our Label Studio export, imported into a new catalog of the same photos, gives the same
 * labels, with who, when and how, and the group keys and splits. */
static void
test_label_studio_round_trip (Fixture       *fixture,
                              gconstpointer  data)
{
  g_autofree char *json = g_build_filename (fixture->dir, "out.json", NULL);
  g_autofree char *sheet = write_file (fixture, "sheet.csv",
                                       "path,class,labeller,time,how,group,split\n"
                                       "photos/healthy/a.jpg,healthy,ana,2024-01-01T00:00:00Z,"
                                       "suggestion,plant-1,test\n"
                                       "photos/healthy/b.jpg,healthy,,,,plant-1,val\n"
                                       "photos/blight/c.jpg,\"bl,ight\",bo,,,,\n");
  g_autofree char *other_dir = g_build_filename (fixture->dir, "elsewhere", NULL);
  g_autofree char *other_path = g_build_filename (other_dir, "other.leafscope", NULL);
  g_autofree char *original = NULL;
  g_autofree char *copied = NULL;
  g_autoptr(LeafLabelImportReport) labelled = NULL;
  g_autoptr(LeafLabelImportReport) report = NULL;
  g_autoptr(LeafCatalog) other = NULL;
  g_autoptr(GError) error = NULL;
  LeafLabelImportOptions create = { .create_classes = TRUE };
  guint n_rows = 0;

  labelled = leaf_label_import (fixture->catalog, sheet, &create, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (labelled->problems->len, ==, 0);
  g_assert_true (leaf_export_label_studio (fixture->catalog, json, NULL, &n_rows, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n_rows, ==, 3);

  /* The same photos, copied elsewhere: found by their SHA-256. */
  write_photos (other_dir);
  other = catalog_of_photos (other_path, other_dir);
  report = leaf_label_import (other, json, &create, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (report->n_labelled, ==, 3);
  g_assert_cmpuint (report->problems->len, ==, 0);
  original = ctu_catalog_state (fixture->path);
  copied = ctu_catalog_state (other_path);
  g_test_message ("%s", original);
  g_assert_nonnull (strstr (original, "healthy ana 2024-01-01T00:00:00.000000Z suggestion "
                                      "plant-1 3"));
  g_assert_nonnull (strstr (original, "bl,ight bo "));
  g_assert_cmpstr (copied, ==, original);
}

/* CVAT's "ImageNet 1.0" export is an ImageFolder tree: a folder per label at the root, and the
 * photos without a label in no_label/, which is no class. */
static void
test_cvat_imagenet (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autofree char *tree = g_build_filename (fixture->dir, "cvat", NULL);
  g_autofree char *cvat_path = g_build_filename (fixture->dir, "cvat.leafscope", NULL);
  g_autoptr(LeafCatalog) cvat = NULL;
  g_autoptr(LeafImportSummary) summary = NULL;
  g_autoptr(GPtrArray) classes = NULL;
  g_autoptr(GError) error = NULL;
  const char *paths[] = { tree, NULL };
  static const char *const files[] = {
    "Healthy leaf/frame_000001.jpg", "Healthy leaf/frame_000002.jpg",
    "early_blight/frame_000003.png", "no_label/frame_000004.jpg",
  };

  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *path = g_build_filename (tree, files[i], NULL);
      ctu_write_image (path, g_str_has_suffix (path, ".png") ? "png" : "jpeg", 20, 20, 40 + i);
    }
  /* A lab's own spreadsheet beside the folders is no export-folder labels.csv (it has no
   * hashes): the folder names stay the classes. */
  {
    g_autofree char *sheet = g_build_filename (tree, "labels.csv", NULL);
    static const char text[] = "path,class\nHealthy leaf/frame_000001.jpg,rust\n";

    ctu_write_bytes (sheet, text, strlen (text));
  }
  cvat = leaf_catalog_open (cvat_path, LEAF_CATALOG_OPEN_CREATE, &error);
  g_assert_no_error (error);
  summary = leaf_import_run (cvat, paths, NULL, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (summary->n_added, ==, 4);
  g_assert_cmpuint (summary->n_labeled, ==, 3);
  g_assert_cmpstrv (summary->new_classes,
                    ((const char *[]) { "Healthy leaf", "early_blight", NULL }));
  classes = leaf_catalog_list_classes (cvat, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (classes->len, ==, 2);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

int
main (int   argc,
      char *argv[])
{
  leaf_test_init (&argc, &argv);

  g_test_add ("/catalog/label-import/csv-edge-cases", Fixture, NULL, fixture_set_up,
              test_csv_edge_cases, fixture_tear_down);
  g_test_add ("/catalog/label-import/csv-refused", Fixture, NULL, fixture_set_up,
              test_csv_refused, fixture_tear_down);
  g_test_add ("/catalog/label-import/label-studio", Fixture, NULL, fixture_set_up,
              test_label_studio, fixture_tear_down);
  g_test_add ("/catalog/label-import/label-studio-odd-shapes", Fixture, NULL, fixture_set_up,
              test_label_studio_odd_shapes, fixture_tear_down);
  g_test_add ("/catalog/label-import/label-studio-round-trip", Fixture, NULL, fixture_set_up,
              test_label_studio_round_trip, fixture_tear_down);
  g_test_add ("/catalog/label-import/cvat-imagenet-tree", Fixture, NULL, fixture_set_up,
              test_cvat_imagenet, fixture_tear_down);
  return g_test_run ();
}
