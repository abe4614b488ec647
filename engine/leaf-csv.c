/* leaf-csv.c: RFC 4180 CSV, written by the exports and read by the label import
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-csv"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "leaf-csv-private.h"
#include "leaf-error.h"

/* What a spreadsheet takes for the start of a formula (and a tab or carriage return before
 * one): OWASP's list against CSV injection. */
static gboolean
looks_like_formula (const char *field)
{
  return *field != '\0' && strchr ("=+-@\t\r", *field) != NULL;
}

/* Class names are the cells at risk: anyone may name a folder. Spreadsheets show a cell whose
 * text starts with a single quote as text instead of running it. */
static void
append_field (GString    *line,
              const char *field)
{
  gboolean formula;

  if (field == NULL)
    field = "";
  formula = looks_like_formula (field);
  if (!formula && strpbrk (field, ",\"\r\n") == NULL)
    {
      g_string_append (line, field);
      return;
    }
  g_string_append_c (line, '"');
  if (formula)
    g_string_append_c (line, '\'');
  for (const char *p = field; *p != '\0'; p++)
    {
      if (*p == '"')
        g_string_append_c (line, '"');
      g_string_append_c (line, *p);
    }
  g_string_append_c (line, '"');
}

void
_leaf_csv_append_row (GString            *text,
                      const char * const *fields,
                      guint               n_fields)
{
  for (guint f = 0; f < n_fields; f++)
    {
      if (f > 0)
        g_string_append_c (text, ',');
      append_field (text, fields[f]);
    }
  g_string_append_c (text, '\n');
}

void
_leaf_csv_row_free (LeafCsvRow *row)
{
  if (row == NULL)
    return;
  g_ptr_array_unref (row->fields);
  g_free (row);
}

static LeafCsvRow *
row_new (guint line)
{
  LeafCsvRow *row = g_new0 (LeafCsvRow, 1);

  row->line = line;
  row->fields = g_ptr_array_new_with_free_func (g_free);
  return row;
}

/* Ends a field; only a quoted field can carry the export's `'`, so only there is it taken
 * off, and a name that starts with `'` in an unquoted cell keeps it. */
static void
end_field (LeafCsvRow *row,
           GString    *field,
           gboolean    quoted)
{
  const char *text = field->str;

  if (quoted && text[0] == '\'' && looks_like_formula (text + 1))
    text++;
  g_ptr_array_add (row->fields, g_strdup (text));
  g_string_truncate (field, 0);
}

GPtrArray *
_leaf_csv_parse (const char  *text,
                 gsize        length,
                 GError     **error)
{
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) _leaf_csv_row_free);
  g_autoptr(GString) field = g_string_new (NULL);
  g_autoptr(LeafCsvRow) row = NULL;
  const char *end = text + length;
  const char *invalid = NULL;
  const char *p = text;
  guint line = 1, quote_line = 0;
  gboolean quoted = FALSE, in_quotes = FALSE;

  if (!g_utf8_validate_len (text, length, &invalid))
    {
      for (const char *q = text; q < invalid; q++)
        line += *q == '\n';
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                   _("Line %u is not UTF-8 text. Save the spreadsheet as “CSV UTF-8”, or "
                     "convert it, for example with “iconv -f WINDOWS-1252 -t UTF-8”."), line);
      return NULL;
    }
  if (length >= 3 && memcmp (p, "\xef\xbb\xbf", 3) == 0)
    p += 3;

  for (; p < end; p++)
    {
      char c = *p;

      if (row == NULL)
        row = row_new (line);
      if (in_quotes)
        {
          if (c == '"' && p + 1 < end && p[1] == '"')
            {
              g_string_append_c (field, '"');
              p++;
            }
          else if (c == '"')
            in_quotes = FALSE;
          else
            {
              line += c == '\n';
              g_string_append_c (field, c);
            }
          continue;
        }
      if (c == '"' && field->len == 0 && !quoted)
        {
          in_quotes = quoted = TRUE;
          quote_line = line;
        }
      else if (c == ',')
        {
          end_field (row, field, quoted);
          quoted = FALSE;
        }
      else if (c == '\n' || (c == '\r' && p + 1 < end && p[1] == '\n'))
        {
          p += c == '\r';
          end_field (row, field, quoted);
          quoted = FALSE;
          /* A line with nothing on it is no row. */
          if (row->fields->len > 1 || *(char *) row->fields->pdata[0] != '\0')
            g_ptr_array_add (rows, g_steal_pointer (&row));
          g_clear_pointer (&row, _leaf_csv_row_free);
          line++;
        }
      else
        g_string_append_c (field, c);
    }
  if (in_quotes)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                   _("The quote opened on line %u is never closed. Check that line's quotes: "
                     "a quote inside a quoted field is written twice (\"\")."), quote_line);
      return NULL;
    }
  if (row != NULL)
    {
      end_field (row, field, quoted);
      if (row->fields->len > 1 || *(char *) row->fields->pdata[0] != '\0')
        g_ptr_array_add (rows, g_steal_pointer (&row));
    }
  return g_steal_pointer (&rows);
}
