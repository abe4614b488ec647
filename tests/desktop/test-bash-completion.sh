#!/bin/bash
# test-bash-completion.sh: completing leafscope-cli command lines in bash gives its subcommands,
# their options, the catalog's class names and its model ids, as a shell would.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Usage: test-bash-completion.sh LEAFSCOPE_CLI COMPLETION_SCRIPT

set -u
cli=$1
script=$2
failed=0

tmp=$(mktemp -d "${TMPDIR:-/tmp}/leafscope-completion-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
export XDG_DATA_HOME="$tmp/data" XDG_CACHE_HOME="$tmp/cache" XDG_CONFIG_HOME="$tmp/config"
catalog="$tmp/my catalog.leafscope"
"$cli" --catalog "$catalog" init >/dev/null || { echo "FAIL: init" >&2; exit 1; }
for class in late_blight healthy "leaf mold"; do
  "$cli" --catalog "$catalog" classes add "$class" >/dev/null || { echo "FAIL: classes add $class" >&2; exit 1; }
done
# A model row, as training or `models import` leave one (the file itself is not needed here).
sqlite3 "$catalog" "INSERT INTO models (id, run_id, path, sha256, classes, metrics, created)
                    VALUES (7, NULL, 'x.safetensors', printf ('%064d', 0), '[]', '{}', '2026-01-01T00:00:00Z')" \
  || { echo "FAIL: could not add a model row" >&2; exit 1; }

# shellcheck source=/dev/null
source "$script"

# complete WORD... : what TAB offers after the words, the last being the one typed.
complete_words () {
  COMP_WORDS=("$cli" "$@")
  COMP_CWORD=$#
  COMP_LINE="${COMP_WORDS[*]}"
  COMP_POINT=${#COMP_LINE}
  COMPREPLY=()
  _leafscope_cli
  printf '%s\n' "${COMPREPLY[@]}" | sort
}

expect () {
  local what=$1 expected=$2
  shift 2
  local got
  got=$(complete_words "$@" | tr '\n' ' ')
  if [ "$got" != "$expected" ]; then
    echo "FAIL: $what: “$*” completed to “$got”, expected “$expected”" >&2
    failed=1
  fi
}

expect "subcommands" "model-card models " mo
expect "every subcommand" "$("$cli" --help | awk '/^Subcommands:/ {on=1; next} on && /^$/ {exit} on {print $1}' | sort | tr '\n' ' ')" ""
expect "options of a subcommand" "--labeled --limit= " list --l
expect "class names after --class=" "late_blight leaf mold " --catalog "$catalog" list --class = l
expect "class names after --class" "healthy " --catalog="$catalog" list --class h
expect "the second argument of label" "healthy late_blight leaf mold " --catalog "$catalog" label a.jpg ""
expect "class verbs" "remove rename " --catalog "$catalog" classes re
expect "class names to rename" "late_blight leaf mold " --catalog "$catalog" classes rename l
expect "models commands" "remove rename " --catalog "$catalog" models re
expect "model ids" "7 " --catalog "$catalog" models use ""
expect "weights commands" "import inspect " weights i
mkdir "$tmp/photos" && touch "$tmp/photos/leaf.jpg"
expect "files" "$tmp/photos/leaf.jpg " --catalog "$catalog" predict "$tmp/photos/l"

[ $failed -eq 0 ] && echo "ok: leafscope-cli completes in bash"
exit $failed
