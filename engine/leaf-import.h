/* leaf-import.h: bringing image files and ImageFolder trees into a catalog
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "leaf-types.h"

G_BEGIN_DECLS

/* 100 megapixels: more than any camera a pathologist uses, far less than a decompression bomb. */
#define LEAF_IMPORT_DEFAULT_MAX_PIXELS G_GUINT64_CONSTANT (100000000)

/**
 * LeafFolderLabels:
 * @LEAF_FOLDER_LABELS_AUTO: a folder that holds sub-folders and no images of its own is taken
 *   as an ImageFolder tree: each sub-folder's name is the class of the images below it
 * @LEAF_FOLDER_LABELS_NEVER: import without labels
 * @LEAF_FOLDER_LABELS_ALWAYS: every imported folder's sub-folders are classes; images directly
 *   in the folder stay unlabelled
 */
typedef enum
{
  LEAF_FOLDER_LABELS_AUTO,
  LEAF_FOLDER_LABELS_NEVER,
  LEAF_FOLDER_LABELS_ALWAYS,
} LeafFolderLabels;

/**
 * LeafImportOptions:
 * @copy: copy new images into the managed folder beside the catalog (named by their SHA-256)
 *   instead of referring to them where they are
 * @folder_labels: whether sub-folder names become classes and labels
 * @max_pixels: images with more pixels are skipped before any decoding; 0 for
 *   %LEAF_IMPORT_DEFAULT_MAX_PIXELS
 * @group_pattern: (nullable): a regular expression matched against each file's path relative to
 *   the imported folder (for example `^[^/]+/(plant-\d+)_`); its first capture group, or the
 *   whole match, becomes the image's group key, which keeps a specimen's photos in one split
 * @batch_size: files per transaction; 0 for 256
 *
 * A zeroed struct gives the defaults. It and its strings are only borrowed by the calls.
 */
/* The group pattern that makes the folder holding each photo (one folder per plant) its group:
 * everything before the last slash of the path below the imported folder. */
#define LEAF_IMPORT_GROUP_BY_FOLDER "^(.+)/[^/]+$"

struct _LeafImportOptions
{
  gboolean copy;
  LeafFolderLabels folder_labels;
  guint64 max_pixels;
  const char *group_pattern;
  guint batch_size;
};

typedef enum
{
  LEAF_IMPORT_SKIP_EMPTY,              /* a zero-byte file */
  LEAF_IMPORT_SKIP_TRUNCATED,          /* the file ends before the image does */
  LEAF_IMPORT_SKIP_DAMAGED,            /* the decoder rejected the data */
  LEAF_IMPORT_SKIP_NOT_AN_IMAGE,       /* text, or another kind of file, whatever its name */
  LEAF_IMPORT_SKIP_UNSUPPORTED_FORMAT, /* an image in a format we do not read (GIF, HEIC…) */
  LEAF_IMPORT_SKIP_TOO_LARGE,          /* over the pixel limit, or over 1 GiB */
  LEAF_IMPORT_SKIP_UNREADABLE,         /* permission denied, I/O error, dangling link */
  LEAF_IMPORT_SKIP_SYMLINK_LOOP,       /* a link back into a folder being imported */
  LEAF_IMPORT_SKIP_BAD_FILE_NAME,      /* a name that is not valid UTF-8 */
  LEAF_IMPORT_SKIP_NOT_A_FILE,         /* a device, socket or pipe */
  LEAF_IMPORT_SKIP_LABEL_NOT_APPLIED,  /* a line of an exported tree's labels.csv */
} LeafImportSkipReason;

/**
 * LeafImportSkip:
 * @path: (type filename): the file, in the file system's encoding
 * @reason: why it was skipped
 * @message: the reason in words, for people
 */
typedef struct
{
  char *path;
  LeafImportSkipReason reason;
  char *message;
} LeafImportSkip;

/**
 * LeafImportSummary:
 * @n_added: new images
 * @n_present: images the catalog already had, at that path or as a copy elsewhere
 * @n_updated: images the catalog had under a path that no longer exists, now repaired
 * @n_labeled: images that got a label from their folder, or from the labels.csv of a tree
 *   that export-folder wrote
 * @skipped: (element-type LeafImportSkip): files not imported, with the reason
 * @new_classes: (array zero-terminated=1): classes created from folder names
 * @n_split: images placed in each split by the split folders of a dataset export (train/,
 *   valid/, test/ above the class folders), indexed by #LeafSplit
 */
struct _LeafImportSummary
{
  guint n_added;
  guint n_present;
  guint n_updated;
  guint n_labeled;
  GPtrArray *skipped;
  char **new_classes;
  guint n_split[4];
};

typedef enum
{
  LEAF_IMPORT_PHASE_SCANNING, /* walking folders; n_total grows */
  LEAF_IMPORT_PHASE_IMPORTING,
} LeafImportPhase;

typedef struct
{
  LeafImportPhase phase;
  guint n_done;   /* files handled so far */
  guint n_total;  /* files found */
  guint n_added;
  guint n_skipped;
} LeafImportProgress;

typedef void (*LeafImportProgressFunc) (const LeafImportProgress *progress,
                                        gpointer                  user_data);

void                leaf_import_summary_free          (LeafImportSummary      *summary);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LeafImportSummary, leaf_import_summary_free)
const char         *leaf_import_skip_reason_to_string (LeafImportSkipReason    reason);
char               *leaf_import_group_key             (const GRegex           *regex,
                                                       const char             *relative);

LeafImportSummary  *leaf_import_run                   (LeafCatalog             *catalog,
                                                       const char * const      *paths,
                                                       const LeafImportOptions *options,
                                                       GCancellable            *cancellable,
                                                       LeafImportProgressFunc   progress,
                                                       gpointer                 progress_data,
                                                       GError                 **error);
void                leaf_import_run_async             (LeafCatalog             *catalog,
                                                       const char * const      *paths,
                                                       const LeafImportOptions *options,
                                                       GCancellable            *cancellable,
                                                       LeafImportProgressFunc   progress,
                                                       gpointer                 progress_data,
                                                       GDestroyNotify           progress_notify,
                                                       GAsyncReadyCallback      callback,
                                                       gpointer                 user_data);
LeafImportSummary  *leaf_import_run_finish            (LeafCatalog             *catalog,
                                                       GAsyncResult            *result,
                                                       GError                 **error);

G_END_DECLS
