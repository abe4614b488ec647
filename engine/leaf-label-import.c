/* leaf-label-import.c: labels from spreadsheets and Label Studio into the catalog
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-label-import"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "leaf-csv-private.h"
#include "leaf-error.h"
#include "leaf-file.h"
#include "leaf-json-private.h"
#include "leaf-label-import-private.h"

/* One line of a spreadsheet or one Label Studio task, as read: every field may be missing. */
typedef struct
{
  guint number;
  char *sha256;
  char *path;       /* as written: absolute, or relative to the file's folder */
  char *tail;       /* a path's end (a URL's, an upload's original name), matched to the catalog */
  char *class_name;
  char *labeller;
  char *time;
  char *how;
  char *group;
  char *split;
} Record;

static void
record_clear (gpointer data)
{
  Record *record = data;

  g_free (record->sha256);
  g_free (record->path);
  g_free (record->tail);
  g_free (record->class_name);
  g_free (record->labeller);
  g_free (record->time);
  g_free (record->how);
  g_free (record->group);
  g_free (record->split);
}

static void
problem_free (gpointer data)
{
  LeafLabelImportProblem *problem = data;

  g_free (problem->reason);
  g_free (problem);
}

static void
add_problem (LeafLabelImportReport *report,
             guint                  number,
             char                  *reason)
{
  LeafLabelImportProblem *problem = g_new (LeafLabelImportProblem, 1);

  problem->number = number;
  problem->reason = reason;
  g_ptr_array_add (report->problems, problem);
}

/**
 * leaf_label_import_report_free:
 * @report: (transfer full) (nullable): a report
 */
void
leaf_label_import_report_free (LeafLabelImportReport *report)
{
  if (report == NULL)
    return;
  g_clear_pointer (&report->problems, g_ptr_array_unref);
  g_strfreev (report->new_classes);
  g_free (report);
}

/**
 * leaf_label_import_problem_describe:
 * @report: the report @problem is part of
 * @problem: one of its problems
 *
 * Returns: (transfer full): “Line 12: …” for a CSV file, “Task 3: …” for Label Studio
 */
char *
leaf_label_import_problem_describe (const LeafLabelImportReport  *report,
                                    const LeafLabelImportProblem *problem)
{
  if (report->format == LEAF_LABEL_FORMAT_LABEL_STUDIO)
    return g_strdup_printf (_("Task %u: %s"), problem->number, problem->reason);
  return g_strdup_printf (_("Line %u: %s"), problem->number, problem->reason);
}

/**
 * leaf_label_format_from_string:
 * @name: `csv` or `label-studio`
 * @format: (out): the format
 *
 * Returns: whether @name names a format
 */
gboolean
leaf_label_format_from_string (const char      *name,
                               LeafLabelFormat *format)
{
  if (g_strcmp0 (name, "csv") == 0)
    *format = LEAF_LABEL_FORMAT_CSV;
  else if (g_strcmp0 (name, "label-studio") == 0)
    *format = LEAF_LABEL_FORMAT_LABEL_STUDIO;
  else
    return FALSE;
  return TRUE;
}

static char *
nonempty (const char *text)
{
  g_autofree char *copy = text != NULL ? g_strstrip (g_strdup (text)) : NULL;

  return copy != NULL && *copy != '\0' ? g_steal_pointer (&copy) : NULL;
}

/* ---- CSV ---- */

typedef enum
{
  COLUMN_PATH,
  COLUMN_SHA256,
  COLUMN_CLASS,
  COLUMN_LABELLER,
  COLUMN_TIME,
  COLUMN_HOW,
  COLUMN_GROUP,
  COLUMN_SPLIT,
  N_COLUMNS,
} Column;

/* The names spreadsheets, our exports and other tools give each column. */
static Column
column_of (const char *header)
{
  static const struct { const char *name; Column column; } names[] = {
    { "path", COLUMN_PATH }, { "image", COLUMN_PATH }, { "file", COLUMN_PATH },
    { "filename", COLUMN_PATH }, { "file_name", COLUMN_PATH }, { "image_path", COLUMN_PATH },
    { "sha256", COLUMN_SHA256 }, { "sha-256", COLUMN_SHA256 },
    { "class", COLUMN_CLASS }, { "label", COLUMN_CLASS }, { "class_name", COLUMN_CLASS },
    { "labeller", COLUMN_LABELLER }, { "labeler", COLUMN_LABELLER },
    { "annotator", COLUMN_LABELLER }, { "user", COLUMN_LABELLER },
    { "time", COLUMN_TIME }, { "how", COLUMN_HOW },
    { "group", COLUMN_GROUP }, { "group_key", COLUMN_GROUP }, { "split", COLUMN_SPLIT },
  };
  g_autofree char *name = g_utf8_casefold (header, -1);

  g_strstrip (name);
  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    if (g_str_equal (name, names[i].name))
      return names[i].column;
  return N_COLUMNS;
}

/* Reads the header into columns[], the field index of each column or -1. */
static gboolean
read_header (LeafCsvRow  *header,
             int          columns[N_COLUMNS],
             GError     **error)
{
  for (int c = 0; c < N_COLUMNS; c++)
    columns[c] = -1;
  for (guint f = 0; f < header->fields->len; f++)
    {
      Column column = column_of (header->fields->pdata[f]);

      if (column < N_COLUMNS && columns[column] < 0)
        columns[column] = f;
    }
  if (columns[COLUMN_CLASS] < 0 || (columns[COLUMN_PATH] < 0 && columns[COLUMN_SHA256] < 0))
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                   _("Line %u does not name the columns. The first line must name a “class” "
                     "(or “label”) column and a “path” (or “image”, “file”) or “sha256” column; "
                     "“labeller”, “time”, “how”, “group” and “split” are optional."),
                   header->line);
      return FALSE;
    }
  return TRUE;
}

static GArray *
parse_csv (const char  *text,
           gsize        length,
           GError     **error)
{
  g_autoptr(GPtrArray) rows = _leaf_csv_parse (text, length, error);
  g_autoptr(GArray) records = NULL;
  int columns[N_COLUMNS];

  if (rows == NULL)
    return NULL;
  if (rows->len == 0)
    {
      g_set_error_literal (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                           _("The file is empty. Export the spreadsheet as CSV with a header "
                             "line."));
      return NULL;
    }
  if (!read_header (rows->pdata[0], columns, error))
    return NULL;
  records = g_array_new (FALSE, TRUE, sizeof (Record));
  g_array_set_clear_func (records, record_clear);
  for (guint r = 1; r < rows->len; r++)
    {
      LeafCsvRow *row = rows->pdata[r];
      char *fields[N_COLUMNS] = { NULL };
      Record record;

      for (int c = 0; c < N_COLUMNS; c++)
        if (columns[c] >= 0 && (guint) columns[c] < row->fields->len)
          fields[c] = nonempty (row->fields->pdata[columns[c]]);
      record = (Record) {
        .number = row->line,
        .path = fields[COLUMN_PATH],
        .sha256 = fields[COLUMN_SHA256],
        .class_name = fields[COLUMN_CLASS],
        .labeller = fields[COLUMN_LABELLER],
        .time = fields[COLUMN_TIME],
        .how = fields[COLUMN_HOW],
        .group = fields[COLUMN_GROUP],
        .split = fields[COLUMN_SPLIT],
      };
      g_array_append_val (records, record);
    }
  return g_steal_pointer (&records);
}

/* ---- Label Studio ---- */

/* The end of the path a task's image names, to find the photo in the catalog: Label Studio
 * serves local files as /data/local-files/?d=PATH, uploads as /data/upload/PROJECT/XXXXXXXX-NAME
 * (eight hex digits of its own before the original name), and cloud storage as URLs. */
static char *
tail_of_image (const char *image)
{
  const char *local = strstr (image, "/data/local-files/?d=");
  const char *scheme = strstr (image, "://");
  g_autofree char *unescaped = NULL;
  char *query, *name;

  if (local != NULL)
    return g_uri_unescape_string (local + strlen ("/data/local-files/?d="), NULL);
  if (scheme != NULL)
    {
      const char *path = strchr (scheme + 3, '/');

      image = path != NULL ? path : "";
    }
  unescaped = g_uri_unescape_string (image, NULL);
  if (unescaped == NULL)
    unescaped = g_strdup (image);
  if ((query = strchr (unescaped, '?')) != NULL)
    *query = '\0';
  name = strrchr (unescaped, '/') != NULL ? strrchr (unescaped, '/') + 1 : unescaped;
  if (g_str_has_prefix (unescaped, "/data/upload/") && strlen (name) > 9 && name[8] == '-')
    {
      gboolean hex = TRUE;

      for (int i = 0; i < 8; i++)
        hex = hex && g_ascii_isxdigit (name[i]);
      if (hex)
        return g_strdup (name + 9);
    }
  return g_strdup (unescaped + strspn (unescaped, "/"));
}

/* The annotation that counts: the latest that was not cancelled (skipped). */
static JsonObject *
latest_annotation (JsonObject *task)
{
  JsonArray *annotations = _leaf_json_array_member (task, "annotations");
  JsonObject *latest = NULL;
  const char *latest_time = NULL;

  for (guint a = 0; annotations != NULL && a < json_array_get_length (annotations); a++)
    {
      JsonObject *annotation = _leaf_json_node_object (json_array_get_element (annotations, a));
      JsonNode *cancelled = annotation != NULL
                            ? json_object_get_member (annotation, "was_cancelled") : NULL;
      const char *time;

      if (annotation == NULL ||
          (cancelled != NULL && JSON_NODE_HOLDS_VALUE (cancelled) &&
           json_node_get_value_type (cancelled) == G_TYPE_BOOLEAN &&
           json_node_get_boolean (cancelled)))
        continue;
      time = _leaf_json_string_member (annotation, "updated_at");
      if (time == NULL)
        time = _leaf_json_string_member (annotation, "created_at");
      if (latest == NULL || g_strcmp0 (time, latest_time) >= 0)
        {
          latest = annotation;
          latest_time = time;
        }
    }
  return latest;
}

static char *
choice_of (JsonObject *annotation)
{
  JsonArray *results = _leaf_json_array_member (annotation, "result");

  for (guint r = 0; results != NULL && r < json_array_get_length (results); r++)
    {
      JsonObject *result = _leaf_json_node_object (json_array_get_element (results, r));
      JsonObject *value = result != NULL ? _leaf_json_object_member (result, "value") : NULL;
      JsonArray *choices = value != NULL ? _leaf_json_array_member (value, "choices") : NULL;

      if (g_strcmp0 (_leaf_json_string_member (result, "type"), "choices") == 0 &&
          choices != NULL && json_array_get_length (choices) > 0)
        return nonempty (_leaf_json_node_string (json_array_get_element (choices, 0)));
    }
  return NULL;
}

/* completed_by is a user id in Label Studio's exports, or an object with the user's email in
 * older ones and in ours. */
static char *
annotator_of (JsonObject *annotation)
{
  JsonObject *user = _leaf_json_object_member (annotation, "completed_by");
  gint64 id = _leaf_json_int_member (annotation, "completed_by", -1);

  if (user != NULL && _leaf_json_string_member (user, "email") != NULL)
    return g_strdup (_leaf_json_string_member (user, "email"));
  if (user != NULL)
    id = _leaf_json_int_member (user, "id", -1);
  if (id >= 0)
    return g_strdup_printf ("label-studio-user-%" G_GINT64_FORMAT, id);
  return NULL;
}

static GArray *
parse_label_studio (const char  *text,
                    gsize        length,
                    GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GArray) records = NULL;
  g_autoptr(GError) local_error = NULL;
  JsonNode *root;
  JsonArray *tasks;

  if (!json_parser_load_from_data (parser, text, length, &local_error))
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                   _("The file is not valid JSON: %s"), local_error->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_ARRAY (root))
    {
      g_set_error_literal (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                           _("The file is not a Label Studio export: that is a JSON array of "
                             "tasks. Export the project from Label Studio as “JSON”."));
      return NULL;
    }
  tasks = json_node_get_array (root);
  records = g_array_new (FALSE, TRUE, sizeof (Record));
  g_array_set_clear_func (records, record_clear);
  for (guint t = 0; t < json_array_get_length (tasks); t++)
    {
      JsonObject *task = _leaf_json_node_object (json_array_get_element (tasks, t));
      JsonObject *data = task != NULL ? _leaf_json_object_member (task, "data") : NULL;
      JsonObject *meta = task != NULL ? _leaf_json_object_member (task, "meta") : NULL;
      JsonObject *annotation = task != NULL ? latest_annotation (task) : NULL;
      const char *image = data != NULL ? _leaf_json_string_member (data, "image") : NULL;
      Record record = { .number = t + 1 };

      if (image != NULL)
        {
          record.tail = tail_of_image (image);
          if (g_path_is_absolute (image))
            record.path = g_strdup (image);
        }
      if (data != NULL)
        record.sha256 = nonempty (_leaf_json_string_member (data, "sha256"));
      if (meta != NULL)
        {
          record.how = nonempty (_leaf_json_string_member (meta, "how"));
          record.group = nonempty (_leaf_json_string_member (meta, "group"));
          record.split = nonempty (_leaf_json_string_member (meta, "split"));
        }
      if (annotation != NULL)
        {
          record.class_name = choice_of (annotation);
          record.labeller = annotator_of (annotation);
          record.time = nonempty (_leaf_json_string_member (annotation, "updated_at"));
          if (record.time == NULL)
            record.time = nonempty (_leaf_json_string_member (annotation, "created_at"));
        }
      g_array_append_val (records, record);
    }
  return g_steal_pointer (&records);
}

static GArray *
parse_file (const char             *path,
            LeafLabelFormat         format,
            LeafLabelImportReport  *report,
            GCancellable           *cancellable,
            GError                **error)
{
  g_autofree char *text = NULL;
  gsize length = 0;
  const char *start;

  if (!g_file_get_contents (path, &text, &length, error))
    return NULL;
  if (format == LEAF_LABEL_FORMAT_AUTO)
    {
      start = text;
      if (length >= 3 && memcmp (start, "\xef\xbb\xbf", 3) == 0)
        start += 3;
      while (g_ascii_isspace (*start))
        start++;
      format = *start == '[' || *start == '{' ? LEAF_LABEL_FORMAT_LABEL_STUDIO
                                              : LEAF_LABEL_FORMAT_CSV;
    }
  report->format = format;
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;
  return format == LEAF_LABEL_FORMAT_CSV ? parse_csv (text, length, error)
                                         : parse_label_studio (text, length, error);
}

/* ---- Applying ---- */

typedef struct
{
  LeafDb *db;
  char *folder;            /* of the file: relative paths start there */
  gboolean create_classes;
  gboolean keep_labels;    /* leave labelled images as they are */
  LeafLabelHow action_how;
  gint64 action_id;
  LeafLabelImportReport *report;
  GPtrArray *new_classes;
  GArray *changed_ids;
  gboolean images_changed;
} Apply;

#define SEVERAL_IMAGES (-2)

/* The one image a query with parameters ?1 and ?2 finds: 0 when none, SEVERAL_IMAGES when more
 * than one, -1 with error set on failure. */
static gint64
single_image (LeafDb      *db,
              const char  *sql,
              const char  *first,
              const char  *second,
              GError     **error)
{
  g_autoptr(LeafStmt) stmt = _leaf_db_prepare (db, sql, error);
  gint64 id = 0;
  int rc;

  if (stmt == NULL)
    return -1;
  _leaf_bind_text (stmt, 1, first);
  _leaf_bind_text (stmt, 2, second);
  while ((rc = _leaf_step (stmt)) == LEAF_STEP_ROW)
    {
      if (id != 0)
        return SEVERAL_IMAGES;
      id = _leaf_column_int64 (stmt, 0);
    }
  if (rc != LEAF_STEP_DONE)
    {
      _leaf_db_fail (db, error);
      return -1;
    }
  return id;
}

/* The photo whose path ends in tail, trying ever shorter ends down to the file name: a tree
 * copied to another machine still finds its photos. 0 and reason (which names the photo as
 * written) when there is none or more than one. */
static gint64
image_by_tail (LeafDb      *db,
               const char  *tail,
               const char  *written,
               char       **reason,
               GError     **error)
{
  g_autofree char *name = g_path_get_basename (tail);

  for (const char *end = tail; end != NULL; end = strchr (end, '/') ? strchr (end, '/') + 1 : NULL)
    {
      gint64 id = strchr (end, '/') != NULL
        ? single_image (db, "SELECT id FROM images WHERE name = ?2 AND (path = ?1 OR "
                        "substr (path, length (path) - length (?1)) = '/' || ?1)", end, name, error)
        : single_image (db, "SELECT id FROM images WHERE name = ?1", end, NULL, error);

      if (id == -1)
        return 0;
      if (id == SEVERAL_IMAGES)
        {
          *reason = g_strdup_printf (_("more than one photo of the catalog is named “%s”; "
                                       "give its full path or its SHA-256"), end);
          return 0;
        }
      if (id > 0)
        return id;
    }
  *reason = g_strdup_printf (_("the catalog has no photo “%s”; import it first"), written);
  return 0;
}

static gint64
find_image (Apply       *apply,
            Record      *record,
            char       **reason,
            GError     **error)
{
  g_autofree char *path = NULL;
  g_autofree char *sha = NULL;
  gint64 id;

  if (record->sha256 != NULL)
    {
      sha = g_ascii_strdown (record->sha256, -1);
      if ((id = single_image (apply->db, "SELECT id FROM images WHERE sha256 = ?1", sha, NULL,
                              error)) != 0 || (record->path == NULL && record->tail == NULL))
        {
          if (id == 0)
            *reason = g_strdup_printf (_("no photo of the catalog has the SHA-256 %s"), sha);
          return MAX (id, 0);
        }
    }
  if (record->path == NULL)
    return image_by_tail (apply->db, record->tail, record->tail, reason, error);

  path = g_canonicalize_filename (record->path, apply->folder);
  /* Two rows with one path are a photo replaced and re-imported: neither is the one meant. */
  if ((id = single_image (apply->db, "SELECT id FROM images WHERE path = ?1", path, NULL,
                          error)) > 0 || id == -1)
    return MAX (id, 0);
  g_clear_pointer (&sha, g_free);
  /* A copy of a photo the catalog keeps elsewhere (or under its managed name) is known by its
   * content. */
  if (g_file_test (path, G_FILE_TEST_IS_REGULAR) &&
      (sha = leaf_file_sha256 (path, NULL, NULL)) != NULL &&
      (id = single_image (apply->db, "SELECT id FROM images WHERE sha256 = ?1", sha, NULL,
                          error)) != 0)
    return MAX (id, 0);
  return image_by_tail (apply->db, record->tail != NULL ? record->tail
                                  : record->path + strspn (record->path, "/"),
                       record->path, reason, error);
}

/* ISO 8601 (a space for the T, as spreadsheets write it, too), in the catalog's form: UTC,
 * microseconds. A time without a zone is UTC. */
static char *
normalise_time (const char *text)
{
  g_autofree char *iso = g_strdup (text);
  g_autoptr(GTimeZone) utc = g_time_zone_new_utc ();
  g_autoptr(GDateTime) time = NULL;
  g_autoptr(GDateTime) in_utc = NULL;

  if (strlen (iso) > 10 && iso[10] == ' ')
    iso[10] = 'T';
  if ((time = g_date_time_new_from_iso8601 (iso, utc)) == NULL)
    return NULL;
  in_utc = g_date_time_to_utc (time);
  return g_date_time_format (in_utc, "%Y-%m-%dT%H:%M:%S.%fZ");
}

static gboolean
update_image (LeafDb      *db,
              const char  *sql,
              gint64       image_id,
              const char  *text,
              GError     **error)
{
  g_autoptr(LeafStmt) stmt = _leaf_db_prepare (db, sql, error);

  if (stmt == NULL)
    return FALSE;
  _leaf_bind_int64 (stmt, 1, image_id);
  _leaf_bind_text (stmt, 2, text);
  return _leaf_db_run (db, stmt, error);
}

/* Applies one record; a record that cannot be applied sets reason and returns TRUE. */
static gboolean
apply_record (Apply   *apply,
              Record  *record,
              char   **reason,
              GError **error)
{
  g_autofree char *time = NULL;
  LeafLabelHow how = LEAF_LABEL_HOW_MANUAL;
  LeafSplit split = LEAF_SPLIT_NONE;
  gint64 image_id, class_id = 0;
  gboolean created = FALSE, changed = FALSE;

  if (record->sha256 == NULL && record->path == NULL && record->tail == NULL)
    {
      *reason = g_strdup (_("it names no photo: give its path or its SHA-256"));
      return TRUE;
    }
  if (record->how != NULL && !leaf_label_how_from_string (record->how, &how))
    {
      *reason = g_strdup_printf (_("“%s” is not a way of labelling: use manual, suggestion or "
                                   "folder-import"), record->how);
      return TRUE;
    }
  if (record->time != NULL && (time = normalise_time (record->time)) == NULL)
    {
      *reason = g_strdup_printf (_("“%s” is not a time: write it as ISO 8601, for example "
                                   "2024-05-01T10:30:00Z"), record->time);
      return TRUE;
    }
  if (record->split != NULL && !leaf_split_from_string (record->split, &split))
    {
      *reason = g_strdup_printf (_("“%s” is not a split: use train, val or test"), record->split);
      return TRUE;
    }
  if ((image_id = find_image (apply, record, reason, error)) == 0)
    return *reason != NULL;
  if (record->class_name != NULL)
    {
      class_id = _leaf_classes_lookup (apply->db, record->class_name, error);
      if (class_id < 0)
        return FALSE;
      if (class_id == 0 && !apply->create_classes)
        {
          *reason = g_strdup_printf (_("the catalog has no class “%s”: create it, or import "
                                       "with --create-classes"), record->class_name);
          return TRUE;
        }
      if (class_id == 0)
        {
          g_autoptr(GError) invalid = NULL;

          /* Only a name refused before any SQL skips the record: a failed statement, even a
           * constraint's, ends the import, as on PostgreSQL it has aborted the transaction. */
          if (!leaf_class_name_is_valid (record->class_name, &invalid))
            {
              *reason = g_strdup (invalid->message);
              return TRUE;
            }
          if ((class_id = _leaf_classes_ensure (apply->db, record->class_name, &created,
                                                error)) == 0)
            return FALSE;
          if (created)
            g_ptr_array_add (apply->new_classes, g_strdup (record->class_name));
        }
    }

  if (class_id > 0)
    {
      if (apply->action_id == 0 &&
          (apply->action_id = _leaf_labels_new_action (apply->db, apply->action_how,
                                                       error)) == 0)
        return FALSE;
      if (!_leaf_labels_apply_given (apply->db, apply->action_id, image_id, class_id,
                                     record->labeller != NULL ? record->labeller
                                                              : g_get_user_name (),
                                     time, how, apply->keep_labels,
                                     &changed, error))
        return FALSE;
      if (changed)
        {
          apply->report->n_labelled++;
          g_array_append_val (apply->changed_ids, image_id);
        }
      else
        apply->report->n_unchanged++;
    }
  else
    apply->report->n_without_class++;

  if (record->group != NULL)
    {
      if (!update_image (apply->db, "UPDATE images SET group_key = ?2 WHERE id = ?1", image_id,
                         record->group, error))
        return FALSE;
      apply->images_changed = TRUE;
    }
  if (split != LEAF_SPLIT_NONE)
    {
      g_autofree char *now = _leaf_now ();

      if (!_leaf_splits_write (apply->db, image_id, split, 0, now, error))
        return FALSE;
      apply->images_changed = TRUE;
    }
  return TRUE;
}

/* Applies every record in one transaction on apply->db and fills the report; then tells the
 * catalog's listeners. */
static gboolean
apply_records (LeafCatalog  *catalog,
               Apply        *apply,
               GArray       *records,
               GCancellable *cancellable,
               GError      **error)
{
  g_autoptr(LeafTxn) txn = NULL;
  g_autoptr(GPtrArray) new_classes = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GArray) changed_ids = g_array_new (FALSE, FALSE, sizeof (gint64));

  apply->new_classes = new_classes;
  apply->changed_ids = changed_ids;
  apply->report->n_records = records->len;
  if ((txn = _leaf_txn_begin (apply->db, error)) == NULL)
    return FALSE;
  for (guint r = 0; r < records->len; r++)
    {
      Record *record = &g_array_index (records, Record, r);
      char *reason = NULL;

      if (g_cancellable_set_error_if_cancelled (cancellable, error) ||
          !apply_record (apply, record, &reason, error))
        return FALSE;
      if (reason != NULL)
        add_problem (apply->report, record->number, reason);
    }
  if (!_leaf_txn_commit (&txn, error))
    return FALSE;

  if (new_classes->len > 0 || changed_ids->len > 0)
    _leaf_catalog_emit (catalog, LEAF_CATALOG_CHANGED_CLASSES, NULL);
  if (apply->images_changed)
    _leaf_catalog_emit (catalog, LEAF_CATALOG_CHANGED_IMAGES, NULL);
  if (changed_ids->len > 0)
    _leaf_catalog_emit (catalog, LEAF_CATALOG_CHANGED_LABELS, g_steal_pointer (&changed_ids));
  g_ptr_array_add (new_classes, NULL);
  apply->report->new_classes = (char **) g_ptr_array_steal (new_classes, NULL);
  return TRUE;
}

static LeafLabelImportReport *
report_new (void)
{
  LeafLabelImportReport *report = g_new0 (LeafLabelImportReport, 1);

  report->problems = g_ptr_array_new_with_free_func (problem_free);
  return report;
}

/**
 * leaf_label_import:
 * @catalog: a #LeafCatalog
 * @path: (type filename): a CSV file or a Label Studio JSON export
 * @options: (nullable): how; %NULL for the defaults
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Labels the catalog's photos as the file says, as one undoable labelling action.
 *
 * A CSV file's first line names the columns, in any order and case: `path` (or `image`, `file`,
 * `filename`): the photo's path, absolute or relative to the CSV file's folder; `sha256`: its
 * SHA-256, which wins over the path; `class` (or `label`); and optionally `labeller` (or
 * `annotator`), `time` (ISO 8601), `how` (`manual`, `suggestion`, `folder-import`), `group` (or
 * `group_key`) and `split` (`train`, `val`, `test`). A path the catalog does not know is matched
 * by the photo's content when the file is there, else by its end (the file name, with as many
 * folders as it takes to tell photos apart).
 *
 * A Label Studio export gives, for each task, the image (matched by its path's end), and the
 * class chosen in its latest annotation that was not cancelled, with the annotator and time.
 *
 * Labels keep the labeller, time and how the file gives; without them they are recorded as set
 * by hand, now, by the OS user. Records that cannot be applied (an unknown photo or class, a
 * malformed time) are listed in the report with their line or task number; the others are
 * applied. Fails, changing nothing, on a file that cannot be read as its format.
 *
 * Returns: (transfer full): the report, or %NULL with @error set
 */
LeafLabelImportReport *
leaf_label_import (LeafCatalog                   *catalog,
                   const char                    *path,
                   const LeafLabelImportOptions  *options,
                   GCancellable                  *cancellable,
                   GError                       **error)
{
  g_autoptr(LeafLabelImportReport) report = report_new ();
  g_autoptr(LeafCatalogLocker) locker = NULL;
  g_autoptr(GArray) records = NULL;
  g_autofree char *absolute = NULL;
  g_autofree char *folder = NULL;
  LeafLabelImportOptions defaults = { 0 };
  Apply apply;

  g_return_val_if_fail (LEAF_IS_CATALOG (catalog), NULL);
  g_return_val_if_fail (path != NULL, NULL);

  if (options == NULL)
    options = &defaults;
  if ((records = parse_file (path, options->format, report, cancellable, error)) == NULL)
    return NULL;
  absolute = g_canonicalize_filename (path, NULL);
  folder = g_path_get_dirname (absolute);
  apply = (Apply) {
    .folder = folder,
    .create_classes = options->create_classes,
    .action_how = LEAF_LABEL_HOW_MANUAL,
    .report = report,
  };
  locker = _leaf_catalog_locker_new (catalog);
  if ((apply.db = _leaf_catalog_get_db (catalog, error)) == NULL ||
      !apply_records (catalog, &apply, records, cancellable, error))
    return NULL;
  return g_steal_pointer (&report);
}

gboolean
_leaf_label_import_is_tree_file (const char *path)
{
  g_autofree char *text = NULL;
  g_autoptr(GPtrArray) rows = NULL;
  int columns[N_COLUMNS];
  gsize length = 0;
  char *end;

  if (!g_file_get_contents (path, &text, &length, NULL))
    return FALSE;
  /* Only the header is needed. */
  if ((end = memchr (text, '\n', length)) != NULL)
    length = end - text;
  rows = _leaf_csv_parse (text, length, NULL);
  return rows != NULL && rows->len == 1 && read_header (rows->pdata[0], columns, NULL) &&
         columns[COLUMN_PATH] >= 0 && columns[COLUMN_SHA256] >= 0;
}

LeafLabelImportReport *
_leaf_label_import_tree (LeafCatalog  *catalog,
                         LeafDb       *db,
                         const char   *path,
                         GError      **error)
{
  g_autoptr(LeafLabelImportReport) report = report_new ();
  g_autoptr(GArray) records = NULL;
  g_autofree char *folder = g_path_get_dirname (path);
  Apply apply = {
    .db = db,
    .folder = folder,
    .create_classes = TRUE,
    .keep_labels = TRUE,
    .action_how = LEAF_LABEL_HOW_FOLDER_IMPORT,
    .report = report,
  };

  if ((records = parse_file (path, LEAF_LABEL_FORMAT_CSV, report, NULL, error)) == NULL ||
      !apply_records (catalog, &apply, records, NULL, error))
    return NULL;
  return g_steal_pointer (&report);
}

typedef struct
{
  char *path;
  LeafLabelImportOptions options;
} Job;

static void
job_free (gpointer data)
{
  Job *job = data;

  g_free (job->path);
  g_free (job);
}

static void
import_thread (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  Job *job = task_data;
  GError *error = NULL;
  LeafLabelImportReport *report;

  report = leaf_label_import (source_object, job->path, &job->options, cancellable, &error);
  if (report != NULL)
    g_task_return_pointer (task, report, (GDestroyNotify) leaf_label_import_report_free);
  else
    g_task_return_error (task, error);
}

/**
 * leaf_label_import_async:
 * @catalog: a #LeafCatalog
 * @path: (type filename): a CSV file or a Label Studio JSON export
 * @options: (nullable): how; copied
 * @cancellable: (nullable): a #GCancellable
 * @callback: called on the caller's thread-default main context when done
 * @user_data: data for @callback
 *
 * Runs leaf_label_import() in a worker thread.
 */
void
leaf_label_import_async (LeafCatalog                  *catalog,
                         const char                   *path,
                         const LeafLabelImportOptions *options,
                         GCancellable                 *cancellable,
                         GAsyncReadyCallback           callback,
                         gpointer                      user_data)
{
  g_autoptr(GTask) task = NULL;
  Job *job;

  g_return_if_fail (LEAF_IS_CATALOG (catalog));
  g_return_if_fail (path != NULL);

  job = g_new0 (Job, 1);
  job->path = g_strdup (path);
  if (options != NULL)
    job->options = *options;
  task = g_task_new (catalog, cancellable, callback, user_data);
  g_task_set_source_tag (task, leaf_label_import_async);
  g_task_set_task_data (task, job, job_free);
  g_task_run_in_thread (task, import_thread);
}

/**
 * leaf_label_import_finish:
 * @catalog: a #LeafCatalog
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the report, or %NULL with @error set
 */
LeafLabelImportReport *
leaf_label_import_finish (LeafCatalog   *catalog,
                          GAsyncResult  *result,
                          GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, catalog), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
