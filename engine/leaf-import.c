/* leaf-import.c: bringing image files and ImageFolder trees into a catalog
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-import"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stdlib.h>
#include <unistd.h>

#include "leaf-catalog-private.h"
#include "leaf-error.h"
#include "leaf-image.h"
#include "leaf-import-private.h"
#include "leaf-label-import-private.h"
#include "leaf-post.h"

/* Files larger than this are not read: no photo comes near it, and reading it whole to hash it
 * would take the memory of a small machine. */
#define MAX_FILE_BYTES    (G_GUINT64_CONSTANT (1) << 30)
#define DEFAULT_BATCH     256
#define MAX_FOLDER_DEPTH  64
#define SCAN_REPORT_EVERY 500

typedef struct
{
  char *path;       /* absolute, in the file system's encoding */
  char *relative;   /* below the imported folder, for the group pattern */
  char *class_name; /* from the ImageFolder sub-folder, or NULL */
  LeafSplit split;  /* from a dataset export's split folder, or NONE */
} Candidate;

typedef enum
{
  ITEM_SKIP,
  ITEM_PRESENT,
  ITEM_NEW,
} ItemKind;

/* A candidate after the work done outside the transaction: read, hashed, checked, copied. */
typedef struct
{
  Candidate *candidate;
  ItemKind kind;
  char *sha256;
  guint64 size;
  LeafImageProbe probe;
  char *stored_path;
  gboolean managed;
  char *group_key;
} Item;

typedef struct
{
  LeafCatalog *catalog;
  LeafDb *db;
  const LeafImportOptions *options;
  GRegex *group_regex;
  char *managed_dir;
  GCancellable *cancellable;
  LeafImportProgressFunc progress;
  gpointer progress_data;

  GPtrArray *candidates;
  GHashTable *visited; /* "dev:inode" of folders entered */
  char *root_real;     /* the folder being imported, links resolved */
  LeafImportSummary *summary;
  GPtrArray *new_classes;
  char *roots_json;
  gint64 batch_id;
  gint64 action_id;
  LeafImportProgress state;
  LeafSplit scanning_split; /* the split folder being walked */
  GPtrArray *label_files;   /* the labels.csv of exported trees, applied once all is in */
} Import;

static void
candidate_free (gpointer data)
{
  Candidate *candidate = data;

  g_free (candidate->path);
  g_free (candidate->relative);
  g_free (candidate->class_name);
  g_free (candidate);
}

static void
item_clear (Item *item)
{
  g_free (item->sha256);
  _leaf_image_probe_clear (&item->probe);
  g_free (item->stored_path);
  g_free (item->group_key);
}

static void
skip_free (gpointer data)
{
  LeafImportSkip *skip = data;

  g_free (skip->path);
  g_free (skip->message);
  g_free (skip);
}

/**
 * leaf_import_summary_free:
 * @summary: (transfer full): a summary
 */
void
leaf_import_summary_free (LeafImportSummary *summary)
{
  if (summary == NULL)
    return;
  g_clear_pointer (&summary->skipped, g_ptr_array_unref);
  g_strfreev (summary->new_classes);
  g_free (summary);
}

/**
 * leaf_import_skip_reason_to_string:
 * @reason: a #LeafImportSkipReason
 *
 * Returns: a short stable name for scripts: `empty`, `truncated`, `damaged`, `not-an-image`,
 *   `unsupported-format`, `too-large`, `unreadable`, `symlink-loop`, `bad-file-name` or
 *   `not-a-file`
 */
const char *
leaf_import_skip_reason_to_string (LeafImportSkipReason reason)
{
  static const char *const names[] = {
    [LEAF_IMPORT_SKIP_EMPTY] = "empty",
    [LEAF_IMPORT_SKIP_TRUNCATED] = "truncated",
    [LEAF_IMPORT_SKIP_DAMAGED] = "damaged",
    [LEAF_IMPORT_SKIP_NOT_AN_IMAGE] = "not-an-image",
    [LEAF_IMPORT_SKIP_UNSUPPORTED_FORMAT] = "unsupported-format",
    [LEAF_IMPORT_SKIP_TOO_LARGE] = "too-large",
    [LEAF_IMPORT_SKIP_UNREADABLE] = "unreadable",
    [LEAF_IMPORT_SKIP_SYMLINK_LOOP] = "symlink-loop",
    [LEAF_IMPORT_SKIP_BAD_FILE_NAME] = "bad-file-name",
    [LEAF_IMPORT_SKIP_NOT_A_FILE] = "not-a-file",
    [LEAF_IMPORT_SKIP_LABEL_NOT_APPLIED] = "label-not-applied",
  };

  g_return_val_if_fail (reason < G_N_ELEMENTS (names), NULL);
  return names[reason];
}

static void
add_skip (Import               *import,
          const char           *path,
          LeafImportSkipReason  reason,
          char                 *message)
{
  LeafImportSkip *skip = g_new0 (LeafImportSkip, 1);

  skip->path = g_strdup (path);
  skip->reason = reason;
  skip->message = message;
  g_ptr_array_add (import->summary->skipped, skip);
  import->state.n_skipped++;
  g_debug ("Skipped %s: %s", path, message);
}

static void
skip_for_errno (Import     *import,
                const char *path,
                int         saved_errno)
{
  if (saved_errno == ELOOP)
    add_skip (import, path, LEAF_IMPORT_SKIP_SYMLINK_LOOP,
              g_strdup (_("symbolic links loop back on themselves")));
  else if (saved_errno == ENOENT)
    add_skip (import, path, LEAF_IMPORT_SKIP_UNREADABLE,
              g_strdup (_("the file does not exist (or is a broken symbolic link)")));
  else
    add_skip (import, path, LEAF_IMPORT_SKIP_UNREADABLE,
              g_strdup_printf (_("cannot read it: %s"), g_strerror (saved_errno)));
}

static void
report (Import          *import,
        LeafImportPhase  phase)
{
  import->state.phase = phase;
  if (import->progress != NULL)
    import->progress (&import->state, import->progress_data);
}

/* ---- Walking folders ---- */

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* Sorted, so that an import walks the same files in the same order every time. */
static GPtrArray *
list_folder (const char  *path,
             GError     **error)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, error);
  g_autoptr(GPtrArray) names = NULL;
  const char *name;

  if (dir == NULL)
    return NULL;
  names = g_ptr_array_new_with_free_func (g_free);
  while ((name = g_dir_read_name (dir)) != NULL)
    if (name[0] != '.') /* hidden files and folders: thumbnails, trash, our own temporaries */
      g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  return g_steal_pointer (&names);
}

/* The catalog's own files (with its journal and backups) and its managed folder are not
 * photos to import, when someone imports the folder that holds them. */
static gboolean
is_catalog_file (Import     *import,
                 const char *path)
{
  const char *catalog = leaf_catalog_get_path (import->catalog);
  const char *rest;

  if (g_str_equal (path, import->managed_dir))
    return TRUE;
  if (!g_str_has_prefix (path, catalog))
    return FALSE;
  rest = path + strlen (catalog);
  return *rest == '\0' || g_str_equal (rest, "-wal") || g_str_equal (rest, "-shm") ||
         g_str_equal (rest, "-journal") ||
         (g_str_has_prefix (rest, ".v") && g_str_has_suffix (rest, ".backup"));
}

/* An ImageFolder tree has sub-folders and no images of its own. */
static gboolean
looks_like_image_folder (GPtrArray  *names,
                         const char *path)
{
  gboolean has_folders = FALSE;

  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *child = g_build_filename (path, names->pdata[i], NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        has_folders = TRUE;
      else if (leaf_image_is_photo_name (names->pdata[i]))
        return FALSE;
    }
  return has_folders;
}

/* The split a dataset export's folder stands for: Roboflow writes train/valid/test, others
 * training, val or validation, each holding one folder per class. */
static LeafSplit
split_of_folder (const char *name)
{
  static const struct { const char *name; LeafSplit split; } names[] = {
    { "train", LEAF_SPLIT_TRAIN }, { "training", LEAF_SPLIT_TRAIN },
    { "val", LEAF_SPLIT_VALIDATION }, { "valid", LEAF_SPLIT_VALIDATION },
    { "validation", LEAF_SPLIT_VALIDATION }, { "test", LEAF_SPLIT_TEST },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    if (g_ascii_strcasecmp (name, names[i].name) == 0)
      return names[i].split;
  return LEAF_SPLIT_NONE;
}

/* Every sub-folder is a split holding class folders; notes beside them (Roboflow's README files,
 * data.yaml) do not count. */
static gboolean
looks_like_split_folders (GPtrArray  *names,
                          const char *path)
{
  guint n_splits = 0;

  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *child = g_build_filename (path, names->pdata[i], NULL);
      g_autoptr(GPtrArray) below = NULL;

      if (!g_file_test (child, G_FILE_TEST_IS_DIR))
        continue;
      if (split_of_folder (names->pdata[i]) == LEAF_SPLIT_NONE ||
          (below = list_folder (child, NULL)) == NULL || !looks_like_image_folder (below, child))
        return FALSE;
      n_splits++;
    }
  return n_splits > 0;
}

/* A link to the imported folder or one above it would walk back into what is being imported
 * (or out into folders nobody asked for). */
static gboolean
links_above_root (Import     *import,
                  const char *path)
{
  g_autofree char *real = NULL;
  GStatBuf lst;

  if (import->root_real == NULL || g_lstat (path, &lst) != 0 || !S_ISLNK (lst.st_mode) ||
      (real = realpath (path, NULL)) == NULL)
    return FALSE;
  return g_str_equal (real, "/") || g_str_equal (real, import->root_real) ||
         (g_str_has_prefix (import->root_real, real) &&
          import->root_real[strlen (real)] == G_DIR_SEPARATOR);
}

static gboolean
enter_folder (Import     *import,
              const char *path,
              GStatBuf   *st)
{
  g_autofree char *key = g_strdup_printf ("%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT,
                                          (guint64) st->st_dev, (guint64) st->st_ino);

  if (g_hash_table_contains (import->visited, key) || links_above_root (import, path))
    {
      add_skip (import, path, LEAF_IMPORT_SKIP_SYMLINK_LOOP,
                g_strdup (_("a symbolic link leads back to a folder that is already being "
                            "imported")));
      return FALSE;
    }
  g_hash_table_add (import->visited, g_steal_pointer (&key));
  return TRUE;
}

static void
add_candidate (Import     *import,
               const char *path,
               const char *relative,
               const char *class_name)
{
  Candidate *candidate = g_new0 (Candidate, 1);

  candidate->path = g_strdup (path);
  candidate->relative = g_strdup (relative);
  candidate->class_name = g_strdup (class_name);
  candidate->split = import->scanning_split;
  g_ptr_array_add (import->candidates, candidate);
  import->state.n_total++;
  if (import->state.n_total % SCAN_REPORT_EVERY == 0)
    report (import, LEAF_IMPORT_PHASE_SCANNING);
}

static void
scan_folder (Import     *import,
             const char *path,
             const char *relative,
             gboolean    classes_below,
             const char *class_name,
             guint       depth)
{
  g_autoptr(GPtrArray) names = NULL;
  g_autoptr(GError) error = NULL;

  if ((names = list_folder (path, &error)) == NULL)
    {
      add_skip (import, path, LEAF_IMPORT_SKIP_UNREADABLE,
                g_strdup_printf (_("cannot read the folder: %s"), error->message));
      return;
    }
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = names->pdata[i];
      g_autofree char *child = g_build_filename (path, name, NULL);
      g_autofree char *child_relative = relative != NULL ? g_build_filename (relative, name, NULL)
                                                         : g_strdup (name);
      GStatBuf st;

      if (g_cancellable_is_cancelled (import->cancellable))
        return;
      if (is_catalog_file (import, child))
        continue;
      /* stat, not lstat: links to files and folders are followed; loops are caught by the
       * folders already entered (and by ELOOP for links to themselves). */
      if (g_stat (child, &st) != 0)
        {
          skip_for_errno (import, child, errno);
          continue;
        }
      if (S_ISDIR (st.st_mode))
        {
          const char *child_class = class_name;

          if (depth >= MAX_FOLDER_DEPTH)
            {
              add_skip (import, child, LEAF_IMPORT_SKIP_UNREADABLE,
                        g_strdup (_("the folder is nested too deep")));
              continue;
            }
          if (!enter_folder (import, child, &st))
            continue;
          /* A sub-folder whose name cannot name a class holds unlabelled images, as does
           * the no_label folder of CVAT's ImageNet export. */
          if (classes_below)
            child_class = leaf_class_name_is_valid (name, NULL) &&
                          !g_str_equal (name, "no_label") ? name : NULL;
          scan_folder (import, child, child_relative, FALSE, child_class, depth + 1);
        }
      /* Notes, sidecars and spreadsheets beside the photos are passed over, as evaluate passes
       * them over: both take the same files in a folder as photos. */
      else if (!leaf_image_is_photo_name (name))
        continue;
      else if (S_ISREG (st.st_mode))
        add_candidate (import, child, child_relative, class_name);
      else
        add_skip (import, child, LEAF_IMPORT_SKIP_NOT_A_FILE,
                  g_strdup (_("not a regular file (a device, socket or pipe)")));
    }
}

static void
scan_root (Import     *import,
           const char *root)
{
  g_autofree char *path = g_canonicalize_filename (root, NULL);
  GStatBuf st;

  if (g_stat (path, &st) != 0)
    skip_for_errno (import, path, errno);
  else if (S_ISREG (st.st_mode))
    {
      g_autofree char *name = g_path_get_basename (path);
      add_candidate (import, path, name, NULL);
    }
  else if (S_ISDIR (st.st_mode))
    {
      g_autoptr(GPtrArray) names = NULL;
      gboolean classes = FALSE;

      g_clear_pointer (&import->root_real, g_free);
      if (!enter_folder (import, path, &st))
        return;
      import->root_real = realpath (path, NULL);
      /* A tree that export-folder wrote says in its labels.csv what its folders cannot: who
       * labelled each photo, when and how, its group and split, and which photos have no
       * label; its folder names are not read as classes. */
      if (import->options->folder_labels != LEAF_FOLDER_LABELS_NEVER)
        {
          g_autofree char *labels = g_build_filename (path, "labels.csv", NULL);

          if (_leaf_label_import_is_tree_file (labels))
            {
              g_ptr_array_add (import->label_files, g_steal_pointer (&labels));
              scan_folder (import, path, NULL, FALSE, NULL, 0);
              return;
            }
        }
      switch (import->options->folder_labels)
        {
        case LEAF_FOLDER_LABELS_ALWAYS:
          classes = TRUE;
          break;
        case LEAF_FOLDER_LABELS_NEVER:
          classes = FALSE;
          break;
        case LEAF_FOLDER_LABELS_AUTO:
        default:
          names = list_folder (path, NULL);
          classes = names != NULL && looks_like_image_folder (names, path);
          break;
        }
      if (classes && names != NULL && looks_like_split_folders (names, path))
        {
          /* The classes are one level down, and the export's split is kept. */
          for (guint i = 0; i < names->len; i++)
            {
              g_autofree char *child = g_build_filename (path, (char *) names->pdata[i], NULL);
              GStatBuf child_st;

              if (g_stat (child, &child_st) != 0 || !S_ISDIR (child_st.st_mode) ||
                  !enter_folder (import, child, &child_st))
                continue;
              import->scanning_split = split_of_folder (names->pdata[i]);
              scan_folder (import, child, names->pdata[i], TRUE, NULL, 1);
            }
          import->scanning_split = LEAF_SPLIT_NONE;
          return;
        }
      scan_folder (import, path, NULL, classes, NULL, 0);
    }
  else
    add_skip (import, path, LEAF_IMPORT_SKIP_NOT_A_FILE,
              g_strdup (_("not a regular file (a device, socket or pipe)")));
}

/* ---- One file, outside the transaction ---- */

static GBytes *
read_file (Import     *import,
           const char *path,
           guint64    *size)
{
  g_autofree guint8 *data = NULL;
  struct stat st;
  gsize done = 0;
  int fd;

  /* O_NONBLOCK: a pipe that replaced a file since the walk must not hang the import. */
  fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0);
  if (fd < 0)
    {
      skip_for_errno (import, path, errno);
      return NULL;
    }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      add_skip (import, path, LEAF_IMPORT_SKIP_NOT_A_FILE,
                g_strdup (_("not a regular file (a device, socket or pipe)")));
      return NULL;
    }
  if (st.st_size == 0)
    {
      close (fd);
      add_skip (import, path, LEAF_IMPORT_SKIP_EMPTY, g_strdup (_("the file is empty")));
      return NULL;
    }
  if ((guint64) st.st_size > MAX_FILE_BYTES)
    {
      close (fd);
      add_skip (import, path, LEAF_IMPORT_SKIP_TOO_LARGE,
                g_strdup (_("the file is larger than 1 GiB")));
      return NULL;
    }

  data = g_malloc (st.st_size);
  while (done < (gsize) st.st_size)
    {
      gssize n = read (fd, data + done, st.st_size - done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved_errno = errno;

          close (fd);
          skip_for_errno (import, path, saved_errno);
          return NULL;
        }
      if (n == 0)
        break; /* shrank since fstat: hash what is there; the checks will judge it */
      done += n;
    }
  close (fd);
  if (done == 0)
    {
      add_skip (import, path, LEAF_IMPORT_SKIP_EMPTY, g_strdup (_("the file is empty")));
      return NULL;
    }
  *size = done;
  return g_bytes_new_take (g_steal_pointer (&data), done);
}

/* Copies a new image into the managed folder as <sha[0:2]>/<sha>.<ext>. Named by content, a
 * copy left by an import that was killed before its transaction is simply reused. */
static char *
copy_to_managed (Import      *import,
                 Item        *item,
                 GBytes      *bytes,
                 GError     **error)
{
  g_autofree char *dest = _leaf_managed_file_path (import->managed_dir, item->sha256,
                                                   item->probe.format);
  g_autofree char *folder = g_path_get_dirname (dest);
  gsize length = 0;
  const guint8 *data = g_bytes_get_data (bytes, &length);

  if (_leaf_images_exists_at (dest, length))
    return g_steal_pointer (&dest);
  if (g_mkdir_with_parents (folder, 0755) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_IO,
                   _("Could not create the folder “%s” for copies of imported images: %s"),
                   folder, g_strerror (saved_errno));
      return NULL;
    }
  if (!g_file_set_contents_full (dest, (const char *) data, length,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 0644, error))
    return NULL;
  return g_steal_pointer (&dest);
}

/**
 * leaf_import_group_key:
 * @regex: (nullable): the compiled #LeafImportOptions.group_pattern
 * @relative: a file's path below the imported folder
 *
 * What an import with that pattern gives the file as its group key, for a preview before
 * importing.
 *
 * Returns: (transfer full) (nullable): its first capture group, or the whole match, or %NULL
 *   when the pattern does not match or matches nothing
 */
char *
leaf_import_group_key (const GRegex *regex,
                       const char   *relative)
{
  g_autoptr(GMatchInfo) match = NULL;
  g_autofree char *key = NULL;

  if (regex == NULL || !g_regex_match (regex, relative, 0, &match))
    return NULL;
  key = g_match_info_fetch (match, g_regex_get_capture_count (regex) > 0 ? 1 : 0);
  return key != NULL && *key != '\0' ? g_steal_pointer (&key) : NULL;
}

static gboolean
lookup_sha (LeafDb      *db,
            const char  *sha256,
            gboolean    *found,
            GError     **error)
{
  g_autoptr(LeafStmt) stmt = _leaf_db_prepare (db, "SELECT 1 FROM images WHERE sha256 = ?", error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  _leaf_bind_text (stmt, 1, sha256);
  rc = _leaf_step (stmt);
  if (rc != LEAF_STEP_ROW && rc != LEAF_STEP_DONE)
    return _leaf_db_fail (db, error);
  *found = rc == LEAF_STEP_ROW;
  return TRUE;
}

/* A server's catalog keeps the photo itself, for members on other machines (before the rows
 * that name it: content nobody names is harmless, and a later import finds it there). */
static gboolean
keep_on_server (Import      *import,
                Item        *item,
                GBytes      *bytes,
                GError     **error)
{
  gboolean has = FALSE;
  gsize length = 0;
  gconstpointer data;

  if (import->db->server == NULL)
    return TRUE;
  if (!_leaf_db_has_content (import->db, item->sha256, &has, error))
    return FALSE;
  data = g_bytes_get_data (bytes, &length);
  return has || _leaf_db_store_content (import->db, item->sha256, data, length, error);
}

/* Reads, hashes and (for new images) checks and copies one file. FALSE only for errors that
 * stop the import; a file that is skipped is an ITEM_SKIP. */
static gboolean
prepare_item (Import     *import,
              Candidate  *candidate,
              Item       *item,
              GError    **error)
{
  g_autoptr(GBytes) bytes = NULL;
  LeafImportSkipReason reason;
  char *message = NULL;
  gboolean present = FALSE;
  gsize length = 0;
  const guint8 *data;

  item->candidate = candidate;
  item->kind = ITEM_SKIP;
  if (!g_utf8_validate (candidate->path, -1, NULL))
    {
      add_skip (import, candidate->path, LEAF_IMPORT_SKIP_BAD_FILE_NAME,
                g_strdup (_("the file name (or a folder above it) is not valid UTF-8; rename it")));
      return TRUE;
    }
  if ((bytes = read_file (import, candidate->path, &item->size)) == NULL)
    return TRUE;
  data = g_bytes_get_data (bytes, &length);
  item->sha256 = g_compute_checksum_for_data (G_CHECKSUM_SHA256, data, length);
  item->group_key = leaf_import_group_key (import->group_regex, candidate->relative);

  /* Known content needs no checking: re-importing costs only reading and hashing. */
  if (!lookup_sha (import->db, item->sha256, &present, error))
    return FALSE;
  if (present)
    {
      item->kind = ITEM_PRESENT;
      /* Also how photos imported before a server kept them get there. */
      return keep_on_server (import, item, bytes, error);
    }

  if (!_leaf_import_probe (candidate->path, bytes, import->options->max_pixels, &item->probe,
                           &reason, &message))
    {
      add_skip (import, candidate->path, reason, message);
      return TRUE;
    }
  if (!keep_on_server (import, item, bytes, error))
    return FALSE;
  if (import->options->copy)
    {
      if ((item->stored_path = copy_to_managed (import, item, bytes, error)) == NULL)
        return FALSE;
      item->managed = TRUE;
    }
  else
    item->stored_path = g_strdup (candidate->path);
  item->kind = ITEM_NEW;
  return TRUE;
}

/* ---- One batch, inside the transaction ---- */

static gboolean
ensure_batch_row (Import  *import,
                  GError **error)
{
  g_autoptr(LeafStmt) stmt = NULL;
  g_autofree char *now = NULL;

  if (import->batch_id > 0)
    return TRUE;
  now = _leaf_now ();
  stmt = _leaf_db_prepare (import->db, "INSERT INTO import_batches (started, \"user\", roots) "
                           "VALUES (?, ?, ?) RETURNING id", error);
  if (stmt == NULL)
    return FALSE;
  _leaf_bind_text (stmt, 1, now);
  _leaf_bind_text (stmt, 2, g_get_user_name ());
  _leaf_bind_text (stmt, 3, import->roots_json);
  import->batch_id = _leaf_db_insert (import->db, stmt, error);
  return import->batch_id > 0;
}

/* Inserts a new image; 0 when another import added the same content meanwhile. */
static gint64
insert_image (Import  *import,
              Item    *item,
              GError **error)
{
  g_autoptr(LeafStmt) stmt = NULL;
  g_autofree char *name = g_path_get_basename (item->candidate->path);
  g_autofree char *now = _leaf_now ();

  if (!ensure_batch_row (import, error))
    return -1;
  stmt = _leaf_db_prepare (import->db,
                           "INSERT INTO images (sha256, path, name, size, width, height, format, "
                           "orientation, captured, imported, batch_id, group_key, managed) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                           "ON CONFLICT (sha256) DO NOTHING RETURNING id",
                           error);
  if (stmt == NULL)
    return -1;
  _leaf_bind_text (stmt, 1, item->sha256);
  _leaf_bind_text (stmt, 2, item->stored_path);
  _leaf_bind_text (stmt, 3, name);
  _leaf_bind_int64 (stmt, 4, item->size);
  _leaf_bind_int64 (stmt, 5, item->probe.width);
  _leaf_bind_int64 (stmt, 6, item->probe.height);
  _leaf_bind_text (stmt, 7, item->probe.format);
  _leaf_bind_int64 (stmt, 8, item->probe.orientation);
  _leaf_bind_text (stmt, 9, item->probe.captured);
  _leaf_bind_text (stmt, 10, now);
  _leaf_bind_int64 (stmt, 11, import->batch_id);
  _leaf_bind_text (stmt, 12, item->group_key);
  _leaf_bind_int64 (stmt, 13, item->managed);
  return _leaf_db_insert (import->db, stmt, error);
}

typedef struct
{
  gint64 id;
  char *path;
  guint64 size;
  gboolean managed;
  gboolean missing;
  gboolean has_group;
} Existing;

static void
existing_clear (Existing *existing)
{
  g_clear_pointer (&existing->path, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Existing, existing_clear)

static gboolean
read_existing (LeafDb      *db,
               const char  *sha256,
               Existing    *existing,
               GError     **error)
{
  g_autoptr(LeafStmt) stmt =
    _leaf_db_prepare (db, "SELECT id, path, size, managed, missing, "
                      "CASE WHEN group_key IS NOT NULL THEN 1 ELSE 0 END "
                      "FROM images WHERE sha256 = ?", error);

  if (stmt == NULL)
    return FALSE;
  _leaf_bind_text (stmt, 1, sha256);
  if (_leaf_step (stmt) != LEAF_STEP_ROW)
    return _leaf_db_fail (db, error);
  existing->id = _leaf_column_int64 (stmt, 0);
  existing->path = g_strdup (_leaf_column_text (stmt, 1));
  existing->size = _leaf_column_int64 (stmt, 2);
  existing->managed = _leaf_column_int (stmt, 3) != 0;
  existing->missing = _leaf_column_int (stmt, 4) != 0;
  existing->has_group = _leaf_column_int (stmt, 5) != 0;
  return TRUE;
}

static gboolean
update_image (LeafDb      *db,
              const char  *sql,
              gint64       id,
              const char  *text,
              GError     **error)
{
  g_autoptr(LeafStmt) stmt = _leaf_db_prepare (db, sql, error);

  if (stmt == NULL)
    return FALSE;
  _leaf_bind_int64 (stmt, 1, id);
  _leaf_bind_text (stmt, 2, text);
  return _leaf_db_run (db, stmt, error);
}

/* The catalog knew this content: repair its path if the old one is gone. A file that still
 * exists at the old path makes this one a duplicate, which changes nothing. */
static gboolean
apply_present (Import   *import,
               Item     *item,
               gint64   *image_id,
               GError  **error)
{
  g_auto(Existing) existing = { 0 };

  if (!read_existing (import->db, item->sha256, &existing, error))
    return FALSE;
  *image_id = existing.id;
  if (g_strcmp0 (existing.path, item->candidate->path) == 0)
    {
      import->summary->n_present++;
      if (existing.missing &&
          !update_image (import->db, "UPDATE images SET missing = 0 WHERE id = ?1", existing.id,
                         NULL, error))
        return FALSE;
    }
  else if (_leaf_images_exists_at (existing.path, existing.size))
    import->summary->n_present++;
  else
    {
      /* Also a managed copy that was deleted: the file found here takes its place. */
      if (!update_image (import->db, "UPDATE images SET path = ?2, missing = 0, managed = 0 "
                         "WHERE id = ?1", existing.id, item->candidate->path, error))
        return FALSE;
      import->summary->n_updated++;
    }
  if (item->group_key != NULL && !existing.has_group &&
      !update_image (import->db, "UPDATE images SET group_key = ?2 WHERE id = ?1", existing.id,
                     item->group_key, error))
    return FALSE;
  return TRUE;
}

static gboolean
image_is_labelled (LeafDb   *db,
                   gint64    image_id,
                   gboolean *labelled,
                   GError  **error)
{
  g_autoptr(LeafStmt) stmt = _leaf_db_prepare (db, "SELECT 1 FROM labels WHERE image_id = ?",
                                               error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  _leaf_bind_int64 (stmt, 1, image_id);
  rc = _leaf_step (stmt);
  if (rc != LEAF_STEP_ROW && rc != LEAF_STEP_DONE)
    return _leaf_db_fail (db, error);
  *labelled = rc == LEAF_STEP_ROW;
  return TRUE;
}

/* Labels an unlabelled image with its folder's class. Labels set since (by hand or by an earlier
 * import) win: the folder is the weakest evidence. */
static gboolean
apply_folder_label (Import   *import,
                    Item     *item,
                    gint64    image_id,
                    GArray   *labelled_ids,
                    GError  **error)
{
  g_autoptr(GError) open_error = NULL;
  gboolean labelled = FALSE;
  gboolean created = FALSE;
  gboolean action_open = FALSE;
  gint64 class_id;

  if (item->candidate->class_name == NULL)
    return TRUE;
  if (!image_is_labelled (import->db, image_id, &labelled, error))
    return FALSE;
  if (labelled)
    return TRUE;
  if ((class_id = _leaf_classes_ensure (import->db, item->candidate->class_name, &created,
                                        error)) == 0)
    return FALSE;
  if (created)
    g_ptr_array_add (import->new_classes, g_strdup (item->candidate->class_name));
  /* One action for the whole import, unless someone undid it while we were still going. A
   * failed check fails the batch: on PostgreSQL it has aborted the transaction. */
  if (import->action_id > 0)
    {
      action_open = _leaf_labels_action_is_open (import->db, import->action_id, &open_error);
      if (open_error != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&open_error));
          return FALSE;
        }
    }
  if (!action_open &&
      (import->action_id = _leaf_labels_new_action (import->db, LEAF_LABEL_HOW_FOLDER_IMPORT,
                                                    error)) == 0)
    return FALSE;
  if (!_leaf_labels_apply (import->db, import->action_id, image_id, class_id, TRUE, NULL, error))
    return FALSE;
  g_array_append_val (labelled_ids, image_id);
  return TRUE;
}

static gboolean
apply_item (Import  *import,
            Item    *item,
            GArray  *labelled_ids,
            GError **error)
{
  gint64 image_id = 0;

  if (item->kind == ITEM_SKIP)
    return TRUE;
  if (item->kind == ITEM_NEW)
    {
      if ((image_id = insert_image (import, item, error)) < 0)
        return FALSE;
      if (image_id > 0)
        {
          import->summary->n_added++;
          import->state.n_added++;
        }
    }
  if (image_id == 0 && !apply_present (import, item, &image_id, error))
    return FALSE;
  if (!apply_folder_label (import, item, image_id, labelled_ids, error))
    return FALSE;
  /* The export's split is the dataset's own: its test photos stay out of training. */
  if (item->candidate->split != LEAF_SPLIT_NONE)
    {
      g_autofree char *now = _leaf_now ();

      if (!_leaf_splits_write (import->db, image_id, item->candidate->split, 0, now, error))
        return FALSE;
      import->summary->n_split[item->candidate->split]++;
    }
  return TRUE;
}

static gboolean
import_batch (Import   *import,
              guint     start,
              guint     end,
              GError  **error)
{
  g_autofree Item *items = g_new0 (Item, end - start);
  g_autoptr(GArray) labelled_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(LeafTxn) txn = NULL;
  guint before_added = import->summary->n_added;
  guint before_updated = import->summary->n_updated;
  guint before_classes = import->new_classes->len;
  guint n_prepared = 0;
  gboolean ok = FALSE;

  for (guint i = start; i < end; i++, n_prepared++)
    {
      /* On cancel, what was already read still goes in: the work is done. */
      if (g_cancellable_is_cancelled (import->cancellable))
        break;
      if (!prepare_item (import, import->candidates->pdata[i], &items[i - start], error))
        goto out;
    }

  if ((txn = _leaf_txn_begin (import->db, error)) == NULL)
    goto out;
  for (guint i = 0; i < n_prepared; i++)
    if (!apply_item (import, &items[i], labelled_ids, error))
      goto out;
  if (!_leaf_txn_commit (&txn, error))
    goto out;
  ok = TRUE;

  import->state.n_done += n_prepared;
  if (import->summary->n_added > before_added || import->summary->n_updated > before_updated)
    _leaf_catalog_emit (import->catalog, LEAF_CATALOG_CHANGED_IMAGES, NULL);
  if (import->new_classes->len > before_classes || labelled_ids->len > 0)
    _leaf_catalog_emit (import->catalog, LEAF_CATALOG_CHANGED_CLASSES, NULL);
  if (labelled_ids->len > 0)
    {
      import->summary->n_labeled += labelled_ids->len;
      _leaf_catalog_emit (import->catalog, LEAF_CATALOG_CHANGED_LABELS,
                          g_steal_pointer (&labelled_ids));
    }

out:
  for (guint i = 0; i < end - start; i++)
    item_clear (&items[i]);
  return ok;
}

static gboolean
finish_batch_row (Import  *import,
                  GError **error)
{
  g_autoptr(LeafStmt) stmt = NULL;
  g_autofree char *now = _leaf_now ();

  if (import->batch_id == 0)
    return TRUE;
  stmt = _leaf_db_prepare (import->db, "UPDATE import_batches SET finished = ?2, "
                           "n_added = n_added + ?3 WHERE id = ?1", error);
  if (stmt == NULL)
    return FALSE;
  _leaf_bind_int64 (stmt, 1, import->batch_id);
  _leaf_bind_text (stmt, 2, now);
  _leaf_bind_int64 (stmt, 3, import->summary->n_added);
  return _leaf_db_run_alone (import->db, stmt, error);
}

/* The labels.csv of exported trees, once their photos are in. */
static gboolean
apply_label_files (Import  *import,
                   GError **error)
{
  for (guint i = 0; i < import->label_files->len; i++)
    {
      const char *path = import->label_files->pdata[i];
      g_autoptr(LeafLabelImportReport) report = _leaf_label_import_tree (import->catalog,
                                                                         import->db, path,
                                                                         error);

      if (report == NULL)
        return FALSE;
      import->summary->n_labeled += report->n_labelled;
      for (guint c = 0; report->new_classes[c] != NULL; c++)
        g_ptr_array_add (import->new_classes, g_strdup (report->new_classes[c]));
      for (guint p = 0; p < report->problems->len; p++)
        {
          g_autofree char *line = leaf_label_import_problem_describe (report,
                                                                      report->problems->pdata[p]);
          add_skip (import, path, LEAF_IMPORT_SKIP_LABEL_NOT_APPLIED, g_steal_pointer (&line));
        }
    }
  return TRUE;
}

static char *
roots_to_json (const char * const *paths)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_array (builder);
  for (guint i = 0; paths[i] != NULL; i++)
    {
      g_autofree char *display = g_filename_display_name (paths[i]);
      json_builder_add_string_value (builder, display);
    }
  json_builder_end_array (builder);
  root = json_builder_get_root (builder);
  return json_to_string (root, FALSE);
}

/**
 * leaf_import_run:
 * @catalog: the catalog to import into
 * @paths: (array zero-terminated=1) (element-type filename): files and folders
 * @options: (nullable): how; %NULL for the defaults
 * @cancellable: (nullable): stops the import between files; what was imported stays
 * @progress: (nullable) (scope call): called on this thread after each batch
 * @progress_data: data for @progress
 * @error: return location for a #GError
 *
 * Imports image files, walking folders recursively; see #LeafImportOptions. Each file is read
 * and hashed; content the catalog already has is not imported again (a known file found at a
 * new path, whose old path is gone, gets its path repaired). New files are checked from their
 * headers and end markers without being decoded (JPEG, PNG) or decoded once (other formats).
 * Files that cannot be imported are skipped and listed in the summary with the reason.
 *
 * The import writes through a connection of its own, in transactions of
 * #LeafImportOptions.batch_size files, so the catalog stays usable meanwhile and a crash loses
 * at most one batch; running the same import again completes it.
 *
 * Returns: (transfer full): the summary, or %NULL with @error set (%G_IO_ERROR_CANCELLED when
 *   cancelled)
 */
LeafImportSummary *
leaf_import_run (LeafCatalog              *catalog,
                 const char * const       *paths,
                 const LeafImportOptions  *options,
                 GCancellable             *cancellable,
                 LeafImportProgressFunc    progress,
                 gpointer                  progress_data,
                 GError                  **error)
{
  g_autoptr(LeafImportSummary) summary = g_new0 (LeafImportSummary, 1);
  g_autoptr(GPtrArray) candidates = g_ptr_array_new_with_free_func (candidate_free);
  g_autoptr(GHashTable) visited = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GPtrArray) new_classes = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) label_files = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GRegex) group_regex = NULL;
  g_autoptr(GError) regex_error = NULL;
  g_autoptr(LeafDb) db = NULL;
  g_autofree char *managed_dir = NULL;
  g_autofree char *roots_json = NULL;
  LeafImportOptions defaults = { 0 };
  Import import = { 0 };
  guint batch;

  g_return_val_if_fail (LEAF_IS_CATALOG (catalog), NULL);
  g_return_val_if_fail (paths != NULL, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);

  if (options == NULL)
    options = &defaults;
  if (paths[0] == NULL)
    {
      g_set_error_literal (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                           _("Name at least one file or folder to import."));
      return NULL;
    }
  if (options->group_pattern != NULL &&
      (group_regex = g_regex_new (options->group_pattern, G_REGEX_OPTIMIZE, 0, &regex_error))
      == NULL)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                   _("The group pattern is not a valid regular expression: %s"),
                   regex_error->message);
      return NULL;
    }
  if ((db = _leaf_db_open (leaf_catalog_get_path (catalog), FALSE, LEAF_DB_WORKER, error)) == NULL)
    return NULL;

  summary->skipped = g_ptr_array_new_with_free_func (skip_free);
  managed_dir = leaf_catalog_get_managed_dir (catalog);
  roots_json = roots_to_json (paths);
  import = (Import) {
    .catalog = catalog,
    .db = db,
    .options = options,
    .group_regex = group_regex,
    .managed_dir = managed_dir,
    .cancellable = cancellable,
    .progress = progress,
    .progress_data = progress_data,
    .candidates = candidates,
    .visited = visited,
    .summary = summary,
    .new_classes = new_classes,
    .roots_json = roots_json,
    .label_files = label_files,
  };

  for (guint i = 0; paths[i] != NULL && !g_cancellable_is_cancelled (cancellable); i++)
    scan_root (&import, paths[i]);
  g_clear_pointer (&import.root_real, g_free);
  report (&import, LEAF_IMPORT_PHASE_SCANNING);

  batch = options->batch_size > 0 ? options->batch_size : DEFAULT_BATCH;
  for (guint start = 0; start < candidates->len; start += batch)
    {
      if (g_cancellable_is_cancelled (cancellable))
        break;
      if (!import_batch (&import, start, MIN (start + batch, candidates->len), error))
        return NULL;
      report (&import, LEAF_IMPORT_PHASE_IMPORTING);
    }
  if (!finish_batch_row (&import, error) ||
      g_cancellable_set_error_if_cancelled (cancellable, error) ||
      !apply_label_files (&import, error))
    return NULL;

  g_ptr_array_add (new_classes, NULL);
  summary->new_classes = (char **) g_ptr_array_steal (new_classes, NULL);
  return g_steal_pointer (&summary);
}

/* ---- In a thread ---- */

typedef struct
{
  char **paths;
  LeafImportOptions options;
  char *group_pattern;
  LeafImportProgressFunc progress;
  gpointer progress_data;
  GDestroyNotify progress_notify;
  GMainContext *context;
} Job;

static void
job_clear (gpointer data)
{
  Job *job = data;

  g_strfreev (job->paths);
  g_free (job->group_pattern);
  if (job->progress_notify != NULL)
    job->progress_notify (job->progress_data);
  g_main_context_unref (job->context);
}

typedef struct
{
  Job *job; /* a reference on the job's rc box */
  LeafImportProgress progress;
} ProgressMessage;

static gboolean
deliver_progress_cb (gpointer data)
{
  ProgressMessage *message = data;

  message->job->progress (&message->progress, message->job->progress_data);
  return G_SOURCE_REMOVE;
}

static void
progress_message_free (gpointer data)
{
  ProgressMessage *message = data;

  g_rc_box_release_full (message->job, job_clear);
  g_free (message);
}

static void
relay_progress (const LeafImportProgress *progress,
                gpointer                  user_data)
{
  Job *job = user_data;
  ProgressMessage *message = g_new0 (ProgressMessage, 1);

  message->job = g_rc_box_acquire (job);
  message->progress = *progress;
  leaf_post (job->context, deliver_progress_cb, message, progress_message_free,
             "[leafscope] import progress");
}

static void
import_thread (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  Job *job = task_data;
  GError *error = NULL;
  LeafImportSummary *summary;

  summary = leaf_import_run (source_object, (const char * const *) job->paths, &job->options,
                             cancellable, job->progress != NULL ? relay_progress : NULL, job,
                             &error);
  if (summary != NULL)
    g_task_return_pointer (task, summary, (GDestroyNotify) leaf_import_summary_free);
  else
    g_task_return_error (task, error);
}

static void
job_release (gpointer data)
{
  g_rc_box_release_full (data, job_clear);
}

/**
 * leaf_import_run_async:
 * @catalog: the catalog to import into
 * @paths: (array zero-terminated=1) (element-type filename): files and folders
 * @options: (nullable): how; copied
 * @cancellable: (nullable): stops the import between files
 * @progress: (nullable): called on the caller's thread-default main context
 * @progress_data: data for @progress
 * @progress_notify: (nullable): frees @progress_data when no more progress will come
 * @callback: called on the caller's thread-default main context when done
 * @user_data: data for @callback
 *
 * Runs leaf_import_run() in a worker thread.
 */
void
leaf_import_run_async (LeafCatalog              *catalog,
                       const char * const       *paths,
                       const LeafImportOptions  *options,
                       GCancellable             *cancellable,
                       LeafImportProgressFunc    progress,
                       gpointer                  progress_data,
                       GDestroyNotify            progress_notify,
                       GAsyncReadyCallback       callback,
                       gpointer                  user_data)
{
  g_autoptr(GTask) task = NULL;
  Job *job;

  g_return_if_fail (LEAF_IS_CATALOG (catalog));
  g_return_if_fail (paths != NULL);

  job = g_rc_box_new0 (Job);
  job->paths = g_strdupv ((char **) paths);
  if (options != NULL)
    job->options = *options;
  job->group_pattern = g_strdup (job->options.group_pattern);
  job->options.group_pattern = job->group_pattern;
  job->progress = progress;
  job->progress_data = progress_data;
  job->progress_notify = progress_notify;
  job->context = g_main_context_ref_thread_default ();

  task = g_task_new (catalog, cancellable, callback, user_data);
  g_task_set_source_tag (task, leaf_import_run_async);
  g_task_set_task_data (task, job, job_release);
  g_task_run_in_thread (task, import_thread);
}

/**
 * leaf_import_run_finish:
 * @catalog: the catalog
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the summary, or %NULL with @error set
 */
LeafImportSummary *
leaf_import_run_finish (LeafCatalog   *catalog,
                        GAsyncResult  *result,
                        GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, catalog), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
