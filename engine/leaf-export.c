/* leaf-export.c: labels out of the catalog, as CSV, Label Studio JSON or an ImageFolder tree
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-export"

#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <unistd.h>

#include "leaf-catalog-private.h"
#include "leaf-catalog-splits.h"
#include "leaf-csv-private.h"
#include "leaf-error.h"
#include "leaf-export.h"
#include "leaf-json.h"

typedef struct
{
  char *sha256;
  char *path;
  char *name;
  char *class_name;
  char *labeller;
  char *time;
  char *how;
  char *group_key;
  LeafSplit split;
  /* Where this machine reads a photo the catalog holds but whose file is elsewhere */
  char *held_copy;
} LabelRow;

static void
label_row_clear (gpointer data)
{
  LabelRow *row = data;

  g_free (row->sha256);
  g_free (row->path);
  g_free (row->name);
  g_free (row->class_name);
  g_free (row->labeller);
  g_free (row->time);
  g_free (row->how);
  g_free (row->group_key);
  g_free (row->held_copy);
}

/* Every label (with unlabelled, every image too; their class is NULL), read in one statement
 * on a connection of our own: a consistent snapshot that does not hold the catalog's lock while
 * files are written. */
static GArray *
read_labels (LeafCatalog  *catalog,
             gboolean      unlabelled,
             GError      **error)
{
  g_autoptr(LeafDb) db = _leaf_db_open (leaf_catalog_get_path (catalog), FALSE, LEAF_DB_WORKER,
                                        error);
  g_autoptr(GArray) rows = NULL;
  g_autoptr(LeafStmt) stmt = NULL;
  int rc;

  if (db == NULL)
    return NULL;
  stmt = _leaf_db_prepare (db,
                           unlabelled
                           ? "SELECT i.sha256, i.path, i.name, c.name, l.user, l.time, l.how, "
                             "i.group_key, s.split, i.size, i.format, " LEAF_HELD_SQL
                             " FROM images i "
                             "LEFT JOIN labels l ON l.image_id = i.id "
                             "LEFT JOIN classes c ON c.id = l.class_id "
                             "LEFT JOIN splits s ON s.image_id = i.id "
                             /* Classes in their order, so that an import of the rows makes
                              * them in the same order; the unlabelled photos last. */
                             "ORDER BY c.position IS NULL, c.position, i.id"
                           : "SELECT i.sha256, i.path, i.name, c.name, l.user, l.time, l.how, "
                             "i.group_key, s.split, i.size, i.format, " LEAF_HELD_SQL
                             " FROM labels l "
                             "JOIN images i ON i.id = l.image_id "
                             "JOIN classes c ON c.id = l.class_id "
                             "LEFT JOIN splits s ON s.image_id = i.id ORDER BY i.id",
                           error);
  if (stmt == NULL)
    return NULL;
  rows = g_array_new (FALSE, FALSE, sizeof (LabelRow));
  g_array_set_clear_func (rows, label_row_clear);
  while ((rc = _leaf_step (stmt)) == LEAF_STEP_ROW)
    {
      LabelRow row = {
        g_strdup (_leaf_column_text (stmt, 0)),
        g_strdup (_leaf_column_text (stmt, 1)),
        g_strdup (_leaf_column_text (stmt, 2)),
        g_strdup (_leaf_column_text (stmt, 3)),
        g_strdup (_leaf_column_text (stmt, 4)),
        g_strdup (_leaf_column_text (stmt, 5)),
        g_strdup (_leaf_column_text (stmt, 6)),
        g_strdup (_leaf_column_text (stmt, 7)),
        _leaf_column_int (stmt, 8),
        _leaf_column_int (stmt, 11) != 0
          ? _leaf_catalog_held_copy_path (catalog, _leaf_column_text (stmt, 1),
                                          _leaf_column_int64 (stmt, 9),
                                          _leaf_column_text (stmt, 0),
                                          _leaf_column_text (stmt, 10))
          : NULL,
      };
      g_array_append_val (rows, row);
    }
  if (rc != LEAF_STEP_DONE)
    {
      _leaf_db_fail (db, error);
      return NULL;
    }
  return g_steal_pointer (&rows);
}

/**
 * leaf_export_csv_to_stream:
 * @catalog: a #LeafCatalog
 * @stream: where to write; not closed
 * @cancellable: (nullable): a #GCancellable
 * @n_rows: (out) (optional): how many labels were written
 * @error: return location for a #GError
 *
 * Writes every label as CSV (RFC 4180 quoting, `\n` line ends, UTF-8) with the header
 * `sha256,path,class,labeller,time,how`: the image's SHA-256 and path, the class name, the OS
 * user who labelled it, when (ISO 8601, UTC) and how (`folder-import`, `manual` or
 * `suggestion`). Rows come in import order. Cells that a spreadsheet would take for a formula
 * (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) start with a `'`.
 *
 * Returns: %TRUE on success
 */
gboolean
leaf_export_csv_to_stream (LeafCatalog    *catalog,
                           GOutputStream  *stream,
                           GCancellable   *cancellable,
                           guint          *n_rows,
                           GError        **error)
{
  g_autoptr(GArray) rows = NULL;
  g_autoptr(GString) text = g_string_new ("sha256,path,class,labeller,time,how\n");

  g_return_val_if_fail (LEAF_IS_CATALOG (catalog), FALSE);
  g_return_val_if_fail (G_IS_OUTPUT_STREAM (stream), FALSE);

  if ((rows = read_labels (catalog, FALSE, error)) == NULL)
    return FALSE;
  for (guint i = 0; i < rows->len; i++)
    {
      LabelRow *row = &g_array_index (rows, LabelRow, i);
      const char *fields[] = { row->sha256, row->path, row->class_name, row->labeller, row->time,
                               row->how };

      _leaf_csv_append_row (text, fields, G_N_ELEMENTS (fields));
      /* Write in slices of about a megabyte; 100,000 labels make some 20 MB. */
      if (text->len > (1 << 20) || i + 1 == rows->len)
        {
          if (!g_output_stream_write_all (stream, text->str, text->len, NULL, cancellable, error))
            return FALSE;
          g_string_truncate (text, 0);
        }
    }
  if (text->len > 0 &&
      !g_output_stream_write_all (stream, text->str, text->len, NULL, cancellable, error))
    return FALSE;
  if (n_rows != NULL)
    *n_rows = rows->len;
  return TRUE;
}

typedef gboolean (*StreamWriter) (LeafCatalog    *catalog,
                                  GOutputStream  *stream,
                                  GCancellable   *cancellable,
                                  guint          *n_rows,
                                  GError        **error);

/* Replaces path whole with what write puts in the stream, or leaves it as it was. */
static gboolean
write_file (LeafCatalog   *catalog,
            const char    *path,
            StreamWriter   write,
            GCancellable  *cancellable,
            guint         *n_rows,
            GError       **error)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFileOutputStream) stream = NULL;
  g_autoptr(GError) local_error = NULL;

  stream = g_file_replace (file, NULL, FALSE, G_FILE_CREATE_REPLACE_DESTINATION, cancellable,
                           error);
  if (stream == NULL)
    return FALSE;
  if (!write (catalog, G_OUTPUT_STREAM (stream), cancellable, n_rows, &local_error))
    {
      /* Closing after a cancelled write leaves the old file in place. */
      g_autoptr(GCancellable) cancelled = g_cancellable_new ();

      g_cancellable_cancel (cancelled);
      g_output_stream_close (G_OUTPUT_STREAM (stream), cancelled, NULL);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  return g_output_stream_close (G_OUTPUT_STREAM (stream), cancellable, error);
}

/**
 * leaf_export_csv:
 * @catalog: a #LeafCatalog
 * @path: (type filename): the CSV file to write; replaced whole, or left as it was on failure
 * @cancellable: (nullable): a #GCancellable
 * @n_rows: (out) (optional): how many labels were written
 * @error: return location for a #GError
 *
 * leaf_export_csv_to_stream() into a file.
 *
 * Returns: %TRUE on success
 */
gboolean
leaf_export_csv (LeafCatalog   *catalog,
                 const char    *path,
                 GCancellable  *cancellable,
                 guint         *n_rows,
                 GError       **error)
{
  g_return_val_if_fail (LEAF_IS_CATALOG (catalog), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  return write_file (catalog, path, leaf_export_csv_to_stream, cancellable, n_rows, error);
}

/* Label Studio serves a file below its LOCAL_FILES_DOCUMENT_ROOT as /data/local-files/?d=PATH;
 * with the root set to /, PATH is the absolute path without its first slash. */
static char *
label_studio_url (const char *path)
{
  g_autofree char *escaped = g_uri_escape_string (path + strspn (path, "/"), "/", TRUE);

  return g_strconcat ("/data/local-files/?d=", escaped, NULL);
}

/**
 * leaf_export_label_studio_to_stream:
 * @catalog: a #LeafCatalog
 * @stream: where to write; not closed
 * @cancellable: (nullable): a #GCancellable
 * @n_rows: (out) (optional): how many labels were written
 * @error: return location for a #GError
 *
 * Writes every label as Label Studio's JSON export of an image classification project: an array
 * of tasks, one per labelled photo, whose `data.image` is the photo as Label Studio serves local
 * files (`/data/local-files/?d=PATH`) and whose one annotation chooses the class
 * (`type: choices`), `completed_by` the labeller's `email`, `created_at` and `updated_at` the
 * time of the label. `data.sha256` and the task's `meta` (`how`, `group`, `split`) carry what
 * Label Studio keeps without reading, so that leaf_label_import() takes back all of it.
 *
 * Returns: %TRUE on success
 */
gboolean
leaf_export_label_studio_to_stream (LeafCatalog    *catalog,
                                    GOutputStream  *stream,
                                    GCancellable   *cancellable,
                                    guint          *n_rows,
                                    GError        **error)
{
  g_autoptr(GArray) rows = NULL;
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;
  gsize length = 0;

  g_return_val_if_fail (LEAF_IS_CATALOG (catalog), FALSE);
  g_return_val_if_fail (G_IS_OUTPUT_STREAM (stream), FALSE);

  if ((rows = read_labels (catalog, FALSE, error)) == NULL)
    return FALSE;
  json_builder_begin_array (builder);
  for (guint i = 0; i < rows->len; i++)
    {
      LabelRow *row = &g_array_index (rows, LabelRow, i);
      g_autofree char *url = label_studio_url (row->path);

      json_builder_begin_object (builder);
      leaf_json_add_int (builder, "id", i + 1);
      leaf_json_begin_object (builder, "data");
      leaf_json_add_string (builder, "image", url);
      leaf_json_add_string (builder, "sha256", row->sha256);
      json_builder_end_object (builder);
      leaf_json_begin_object (builder, "meta");
      leaf_json_add_string (builder, "how", row->how);
      if (row->group_key != NULL)
        leaf_json_add_string (builder, "group", row->group_key);
      if (leaf_split_to_string (row->split) != NULL)
        leaf_json_add_string (builder, "split", leaf_split_to_string (row->split));
      json_builder_end_object (builder);
      leaf_json_begin_array (builder, "annotations");
      json_builder_begin_object (builder);
      leaf_json_add_int (builder, "id", i + 1);
      leaf_json_begin_object (builder, "completed_by");
      leaf_json_add_string (builder, "email", row->labeller);
      json_builder_end_object (builder);
      leaf_json_add_boolean (builder, "was_cancelled", FALSE);
      leaf_json_add_string (builder, "created_at", row->time);
      leaf_json_add_string (builder, "updated_at", row->time);
      leaf_json_begin_array (builder, "result");
      json_builder_begin_object (builder);
      leaf_json_add_string (builder, "from_name", "choice");
      leaf_json_add_string (builder, "to_name", "image");
      leaf_json_add_string (builder, "type", "choices");
      leaf_json_begin_object (builder, "value");
      leaf_json_begin_array (builder, "choices");
      json_builder_add_string_value (builder, row->class_name);
      json_builder_end_array (builder);
      json_builder_end_object (builder);
      json_builder_end_object (builder);
      json_builder_end_array (builder);
      json_builder_end_object (builder);
      json_builder_end_array (builder);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  text = json_generator_to_data (generator, &length);
  if (!g_output_stream_write_all (stream, text, length, NULL, cancellable, error) ||
      !g_output_stream_write_all (stream, "\n", 1, NULL, cancellable, error))
    return FALSE;
  if (n_rows != NULL)
    *n_rows = rows->len;
  return TRUE;
}

/**
 * leaf_export_label_studio:
 * @catalog: a #LeafCatalog
 * @path: (type filename): the JSON file to write; replaced whole, or left as it was on failure
 * @cancellable: (nullable): a #GCancellable
 * @n_rows: (out) (optional): how many labels were written
 * @error: return location for a #GError
 *
 * leaf_export_label_studio_to_stream() into a file.
 *
 * Returns: %TRUE on success
 */
gboolean
leaf_export_label_studio (LeafCatalog   *catalog,
                          const char    *path,
                          GCancellable  *cancellable,
                          guint         *n_rows,
                          GError       **error)
{
  g_return_val_if_fail (LEAF_IS_CATALOG (catalog), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  return write_file (catalog, path, leaf_export_label_studio_to_stream, cancellable, n_rows,
                     error);
}

/**
 * leaf_export_summary_free:
 * @summary: (transfer full) (nullable): a #LeafExportSummary
 */
void
leaf_export_summary_free (LeafExportSummary *summary)
{
  if (summary == NULL)
    return;
  g_clear_pointer (&summary->missing, g_ptr_array_unref);
  g_free (summary);
}

static gboolean
folder_is_empty_or_absent (const char  *folder,
                           GError     **error)
{
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GError) local_error = NULL;

  if (!g_file_test (folder, G_FILE_TEST_EXISTS))
    return TRUE;
  if ((dir = g_dir_open (folder, 0, &local_error)) == NULL)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                   _("Cannot export into “%s”: %s"), folder, local_error->message);
      return FALSE;
    }
  if (g_dir_read_name (dir) != NULL)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                   _("The folder “%s” is not empty. Export into a new or empty folder."),
                   folder);
      return FALSE;
    }
  return TRUE;
}

/* A free name in the class folder: the original name, or name-<sha8>.ext when two images of
 * one class share a name. */
static char *
destination_for (const char  *class_folder,
                 const LabelRow *row)
{
  g_autofree char *dest = g_build_filename (class_folder, row->name, NULL);
  const char *dot;
  g_autofree char *stem = NULL;
  g_autofree char *unique = NULL;

  if (!g_file_test (dest, G_FILE_TEST_EXISTS))
    return g_steal_pointer (&dest);
  dot = strrchr (row->name, '.');
  stem = dot != NULL ? g_strndup (row->name, dot - row->name) : g_strdup (row->name);
  unique = g_strdup_printf ("%s-%.8s%s", stem, row->sha256, dot != NULL ? dot : "");
  return g_build_filename (class_folder, unique, NULL);
}

static gboolean
copy_file (const char  *source,
           const char  *dest,
           GError     **error)
{
  g_autoptr(GFile) from = g_file_new_for_path (source);
  g_autoptr(GFile) to = g_file_new_for_path (dest);

  return g_file_copy (from, to, G_FILE_COPY_NONE, NULL, NULL, NULL, error);
}

/* The folder of photos without a label. With labels.csv beside it, import does not read folder
 * names as classes, so a class of this name does no harm: the file tells the photos apart. */
#define UNLABELLED_FOLDER "unlabelled"

/* Hard-links (or copies) one image to a free name in folder; which it did goes to summary. */
static char *
place_file (LeafExportSummary  *summary,
            const char         *folder,
            const LabelRow     *row,
            GError            **error)
{
  g_autofree char *dest = NULL;

  if (g_mkdir_with_parents (folder, 0755) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                   _("Could not create the folder “%s”: %s"), folder, g_strerror (saved_errno));
      return NULL;
    }
  dest = destination_for (folder, row);
  if (link (row->path, dest) == 0)
    summary->n_linked++;
  else if (errno == EXDEV || errno == EPERM || errno == EMLINK || errno == ENOTSUP)
    {
      if (!copy_file (row->path, dest, error))
        return NULL;
      summary->n_copied++;
    }
  else
    {
      int saved_errno = errno;

      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                   _("Could not write “%s”: %s"), dest, g_strerror (saved_errno));
      return NULL;
    }
  return g_steal_pointer (&dest);
}

/**
 * leaf_export_folder:
 * @catalog: a #LeafCatalog
 * @folder: (type filename): a new or empty folder
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Writes the images as an ImageFolder tree, `FOLDER/<class>/<file name>`, which torchvision and
 * most training scripts read, with the unlabelled images in `FOLDER/unlabelled/`. Beside the
 * tree, `FOLDER/labels.csv` lists every image: `path` (in the tree), `sha256`, `class` (empty
 * when unlabelled), `labeller`, `time`, `how`, `group` and `split`; importing the folder reads
 * it back, so that the export makes the same catalog again. Files are hard links to the
 * catalog's images where the file system allows, copies otherwise. Images whose file is missing
 * are left out and listed in the summary.
 *
 * Returns: (transfer full): the summary, or %NULL with @error set
 */
LeafExportSummary *
leaf_export_folder (LeafCatalog   *catalog,
                    const char    *folder,
                    GCancellable  *cancellable,
                    GError       **error)
{
  g_autoptr(LeafExportSummary) summary = g_new0 (LeafExportSummary, 1);
  g_autoptr(GArray) rows = NULL;
  g_autoptr(GString) csv = g_string_new ("path,sha256,class,labeller,time,how,group,split\n");
  g_autofree char *csv_path = NULL;

  g_return_val_if_fail (LEAF_IS_CATALOG (catalog), NULL);
  g_return_val_if_fail (folder != NULL, NULL);

  summary->missing = g_ptr_array_new_with_free_func (g_free);
  if (!folder_is_empty_or_absent (folder, error) ||
      (rows = read_labels (catalog, TRUE, error)) == NULL)
    return NULL;

  for (guint i = 0; i < rows->len; i++)
    {
      LabelRow *row = &g_array_index (rows, LabelRow, i);
      const char *folder_name = row->class_name != NULL ? row->class_name : UNLABELLED_FOLDER;
      g_autofree char *class_folder = g_build_filename (folder, folder_name, NULL);
      g_autofree char *dest = NULL;
      g_autofree char *name = NULL;
      g_autofree char *relative = NULL;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return NULL;
      if (row->held_copy != NULL)
        {
          if (!_leaf_catalog_fetch_content (catalog, row->sha256, row->held_copy, error))
            return NULL;
          g_free (row->path);
          row->path = g_strdup (row->held_copy);
        }
      if (!g_file_test (row->path, G_FILE_TEST_IS_REGULAR))
        {
          g_ptr_array_add (summary->missing, g_strdup (row->path));
          continue;
        }
      if ((dest = place_file (summary, class_folder, row, error)) == NULL)
        return NULL;
      name = g_path_get_basename (dest);
      relative = g_build_filename (folder_name, name, NULL);
      {
        const char *fields[] = { relative, row->sha256, row->class_name, row->labeller,
                                 row->time, row->how, row->group_key,
                                 leaf_split_to_string (row->split) };

        _leaf_csv_append_row (csv, fields, G_N_ELEMENTS (fields));
      }
      if (row->class_name != NULL)
        summary->n_exported++;
      else
        summary->n_unlabelled++;
    }
  if (g_mkdir_with_parents (folder, 0755) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                   _("Could not create the folder “%s”: %s"), folder, g_strerror (saved_errno));
      return NULL;
    }
  csv_path = g_build_filename (folder, "labels.csv", NULL);
  if (!g_file_set_contents (csv_path, csv->str, csv->len, error))
    return NULL;
  return g_steal_pointer (&summary);
}

static void
export_folder_thread (GTask        *task,
                      gpointer      source_object,
                      gpointer      task_data,
                      GCancellable *cancellable)
{
  GError *error = NULL;
  LeafExportSummary *summary;

  summary = leaf_export_folder (source_object, task_data, cancellable, &error);
  if (summary != NULL)
    g_task_return_pointer (task, summary, (GDestroyNotify) leaf_export_summary_free);
  else
    g_task_return_error (task, error);
}

/**
 * leaf_export_folder_async:
 * @catalog: a #LeafCatalog
 * @folder: (type filename): a new or empty folder
 * @cancellable: (nullable): a #GCancellable
 * @callback: called on the caller's thread-default main context when done
 * @user_data: data for @callback
 *
 * Runs leaf_export_folder() in a worker thread.
 */
void
leaf_export_folder_async (LeafCatalog         *catalog,
                          const char          *folder,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (LEAF_IS_CATALOG (catalog));
  g_return_if_fail (folder != NULL);

  task = g_task_new (catalog, cancellable, callback, user_data);
  g_task_set_source_tag (task, leaf_export_folder_async);
  g_task_set_task_data (task, g_strdup (folder), g_free);
  g_task_run_in_thread (task, export_folder_thread);
}

/**
 * leaf_export_folder_finish:
 * @catalog: a #LeafCatalog
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the summary, or %NULL with @error set
 */
LeafExportSummary *
leaf_export_folder_finish (LeafCatalog   *catalog,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, catalog), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
