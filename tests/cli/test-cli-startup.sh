#!/bin/sh
# test-cli-startup.sh: commands that need no model start without loading libtorch (whose loading
# costs half a second and some 160 MB), and commands that need it still work from leafscope-cli.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Usage: test-cli-startup.sh LEAFSCOPE_CLI

set -u
cli=$1
failed=0

fail () {
  echo "FAIL: $*" >&2
  failed=1
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/leafscope-startup-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
export XDG_DATA_HOME="$tmp/data" XDG_CACHE_HOME="$tmp/cache" XDG_CONFIG_HOME="$tmp/config" LC_ALL=C
catalog="$tmp/startup.leafscope"

# The dynamic loader names every library it loads when LD_DEBUG=files.
loads_torch () {
  LD_DEBUG=files "$cli" --catalog "$catalog" "$@" 2>"$tmp/ld.log" >"$tmp/out.log"
  status=$?
  grep -q 'file=libtorch' "$tmp/ld.log"
}

for command in "--version" "--help" "init" "classes add healthy" "stats" "list" "label" "import $tmp"; do
  # shellcheck disable=SC2086
  if loads_torch $command; then
    fail "leafscope-cli $command loads libtorch"
  fi
done

# Commands that need the model library reach it, with their options and exit status.
# shellcheck disable=SC2086
loads_torch models list || fail "leafscope-cli models list did not load libtorch (status $status)"
[ "$status" -eq 0 ] || fail "leafscope-cli models list exited with $status: $(cat "$tmp/ld.log" | grep -v '^ *[0-9]*:' | head -3)"
"$cli" --catalog "$catalog" evaluate --split nowhere 2>"$tmp/err.log"
status=$?
[ "$status" -eq 2 ] || fail "leafscope-cli evaluate --split nowhere exited with $status, not 2"
grep -q -- '--split takes train, val or test' "$tmp/err.log" \
  || fail "leafscope-cli evaluate --split nowhere said: $(cat "$tmp/err.log")"

[ $failed -eq 0 ] && echo "ok: leafscope-cli loads libtorch only for the commands that need it"
exit $failed
