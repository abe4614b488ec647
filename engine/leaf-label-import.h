/* leaf-label-import.h: labels from spreadsheets and Label Studio into the catalog
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "leaf-types.h"

G_BEGIN_DECLS

/**
 * LeafLabelFormat:
 * @LEAF_LABEL_FORMAT_AUTO: told from the content: JSON (`[` or `{` first) is Label Studio, any
 *   other text CSV
 * @LEAF_LABEL_FORMAT_CSV: a spreadsheet saved as CSV, with a header line
 * @LEAF_LABEL_FORMAT_LABEL_STUDIO: Label Studio's JSON export of an image classification project
 */
typedef enum
{
  LEAF_LABEL_FORMAT_AUTO,
  LEAF_LABEL_FORMAT_CSV,
  LEAF_LABEL_FORMAT_LABEL_STUDIO,
} LeafLabelFormat;

gboolean leaf_label_format_from_string (const char      *name,
                                        LeafLabelFormat *format);

/**
 * LeafLabelImportOptions:
 * @format: the file's format
 * @create_classes: create the classes the file names and the catalog lacks; otherwise their
 *   lines are reported
 *
 * A zeroed struct gives the defaults.
 */
typedef struct
{
  LeafLabelFormat format;
  gboolean create_classes;
} LeafLabelImportOptions;

/**
 * LeafLabelImportProblem:
 * @number: the line of a CSV file on which the record starts, or the 1-based place of a Label
 *   Studio task in the export
 * @reason: why it could not be applied, for people
 */
typedef struct
{
  guint number;
  char *reason;
} LeafLabelImportProblem;

/**
 * LeafLabelImportReport:
 * @format: the format the file was read as
 * @n_records: lines (CSV, the header not counted) or tasks (Label Studio) read
 * @n_labelled: images whose label was set or changed
 * @n_unchanged: images that had this label already
 * @n_without_class: records that name no class (an empty cell, a task nobody annotated); their
 *   group and split are still applied
 * @problems: (element-type LeafLabelImportProblem): records that could not be applied
 * @new_classes: (array zero-terminated=1): classes created
 */
typedef struct
{
  LeafLabelFormat format;
  guint n_records;
  guint n_labelled;
  guint n_unchanged;
  guint n_without_class;
  GPtrArray *problems;
  char **new_classes;
} LeafLabelImportReport;

void                   leaf_label_import_report_free (LeafLabelImportReport        *report);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LeafLabelImportReport, leaf_label_import_report_free)
char                  *leaf_label_import_problem_describe (const LeafLabelImportReport  *report,
                                                           const LeafLabelImportProblem *problem);

LeafLabelImportReport *leaf_label_import             (LeafCatalog                  *catalog,
                                                      const char                   *path,
                                                      const LeafLabelImportOptions *options,
                                                      GCancellable                 *cancellable,
                                                      GError                      **error);
void                   leaf_label_import_async       (LeafCatalog                  *catalog,
                                                      const char                   *path,
                                                      const LeafLabelImportOptions *options,
                                                      GCancellable                 *cancellable,
                                                      GAsyncReadyCallback           callback,
                                                      gpointer                      user_data);
LeafLabelImportReport *leaf_label_import_finish      (LeafCatalog                  *catalog,
                                                      GAsyncResult                 *result,
                                                      GError                      **error);

G_END_DECLS
