#!/bin/sh
# test-potfiles.sh: po/POTFILES.in lists, sorted, every source that marks strings for translation,
# and only files that exist; a file missing from it leaves its strings in English.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Usage: test-potfiles.sh SOURCE-ROOT

set -u
cd "$1" || exit 1
export LC_ALL=C
failed=0

listed=$(grep -v -e '^#' -e '^$' po/POTFILES.in)
[ "$listed" = "$(printf '%s\n' "$listed" | sort)" ] || { echo "FAIL: po/POTFILES.in is not sorted" >&2; failed=1; }

for f in $listed; do
  [ -f "$f" ] || { echo "FAIL: po/POTFILES.in lists $f, which does not exist" >&2; failed=1; }
done

# _("..."), N_("..."), C_(...), ngettext ("...") and g_dngettext (GETTEXT_PACKAGE, "...") in C;
# translatable="yes" in GtkBuilder files.
marked=$(grep -l -P \
  '(?<![A-Za-z0-9_])(N?C?_|ngettext|g_dngettext|g_dpgettext2?) ?\(\s*("|GETTEXT_PACKAGE|NULL)|translatable="yes"' \
  app/*.c app/cli/*.c engine/*.c ui/*.c ui/*.ui 2>/dev/null)
for f in $marked; do
  printf '%s\n' "$listed" | grep -q -x -F "$f" || { echo "FAIL: $f has translatable strings but is not in po/POTFILES.in" >&2; failed=1; }
done

exit $failed
