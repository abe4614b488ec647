#!/bin/sh
# test-cli-help.sh: every subcommand of leafscope-cli answers --help with its usage and exit status
# 0, and the manual page names every subcommand and every option that --help lists.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Usage: test-cli-help.sh LEAFSCOPE-CLI MANPAGE

set -u
cli=$1
man=$2
failed=0
# Untranslated output, whatever the caller's locale.
export LC_ALL=C
unset LANGUAGE

fail () {
  echo "FAIL: $*" >&2
  failed=1
}

# The manual page's source with roff's "\-" turned back into "-", so that it can be searched.
plain=$(sed 's/\\-/-/g' "$man")

# Every option a --help text lists must appear in the manual page.
check_options_in_man () {
  for opt in $(printf '%s\n' "$1" | grep -o -- '^ *--[a-z][a-z0-9-]*' | tr -d ' ' | sort -u); do
    [ "$opt" = "--help" ] && continue
    printf '%s\n' "$plain" | grep -q -F -e "$opt" || fail "$man does not describe $2 $opt"
  done
}

# An entry is a .TP tag line in bold: ".B init", ".BR import ...", ".BI \"weights import\" ...".
check_entry_in_man () {
  printf '%s\n' "$plain" | grep -q -E "^\\.B[RI]? \"?$1( |\"|\$)" || fail "$man has no entry for $1"
}

top=$("$cli" --help) || fail "leafscope-cli --help exited with $?"
subcommands=$(printf '%s\n' "$top" | awk '/^Subcommands:/ { on = 1; next } /^$/ { on = 0 } on { print $1 }')
[ -n "$subcommands" ] || fail "leafscope-cli --help lists no subcommands"

for sub in $subcommands; do
  out=$("$cli" "$sub" --help 2>&1)
  status=$?
  [ $status -eq 0 ] || fail "leafscope-cli $sub --help exited with $status"
  printf '%s\n' "$out" | grep -q 'Usage' || fail "leafscope-cli $sub --help prints no usage"
  check_options_in_man "$out" "$sub"

  # A subcommand with commands of its own (weights) lists them under "Commands:".
  nested=$(printf '%s\n' "$out" | awk '/^Commands:/ { on = 1; next } /^$/ { on = 0 } on { print $1 }')
  [ -n "$nested" ] || check_entry_in_man "$sub"
  for cmd in $nested; do
    out=$("$cli" "$sub" "$cmd" --help 2>&1)
    status=$?
    [ $status -eq 0 ] || fail "leafscope-cli $sub $cmd --help exited with $status"
    printf '%s\n' "$out" | grep -q 'Usage' || fail "leafscope-cli $sub $cmd --help prints no usage"
    check_entry_in_man "$sub $cmd"
    check_options_in_man "$out" "$sub $cmd"
  done
done

# An unknown subcommand is an error, not help.
"$cli" no-such-subcommand >/dev/null 2>&1
[ $? -eq 2 ] || fail "leafscope-cli no-such-subcommand does not exit with status 2"

exit $failed
