/* leaf-csv-private.h: RFC 4180 CSV, written by the exports and read by the label import
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Appends one row of n fields (NULL is an empty field) and a `\n`. Fields are quoted when they
 * hold a comma, a quote or a line break; a field that a spreadsheet would take for a formula
 * gets a `'` in front, inside the quotes. */
void       _leaf_csv_append_row  (GString            *text,
                                  const char * const *fields,
                                  guint               n_fields);

/**
 * LeafCsvRow:
 * @line: the 1-based line of the file on which the row starts
 * @fields: (element-type utf8): the row's fields, unquoted
 */
typedef struct
{
  guint line;
  GPtrArray *fields;
} LeafCsvRow;

void       _leaf_csv_row_free    (LeafCsvRow         *row);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LeafCsvRow, _leaf_csv_row_free)

/* Reads UTF-8 CSV text (a byte order mark is passed over; lines end in `\n` or `\r\n`; empty
 * lines are skipped) into rows of LeafCsvRow. The `'` our own export puts before a quoted
 * formula-like field is taken off again. Fails, naming the line, on text that is not UTF-8 or a
 * quote left open. */
GPtrArray *_leaf_csv_parse       (const char         *text,
                                  gsize               length,
                                  GError            **error);

G_END_DECLS
