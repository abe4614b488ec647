#!/usr/bin/env bash
# run.sh BUILD_DIR SECONDS: runs every fuzz target of BUILD_DIR for SECONDS, starting from the
# seed corpora in this folder, and fails on any crash, leak, timeout or out-of-memory. Prints
# one "PASS name" or "FAIL name" line per target; findings land in BUILD_DIR/fuzz-findings/.
#
# SPDX-License-Identifier: GPL-3.0-or-later
set -uo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 BUILD_DIR SECONDS" >&2
  exit 2
fi
build=$(realpath "$1")
seconds=$2
here=$(dirname "$(realpath "$0")")
findings=$build/fuzz-findings
mkdir -p "$findings"

# Criticals are bugs too; leaks count; glib's slice allocator would hide them.
export G_DEBUG=fatal-criticals G_SLICE=always-malloc
# handle_sigtrap: a fatal GLib critical raises SIGTRAP, which must count as a crash too; slow
# unwinding: GLib has no frame pointers, and suppressions need whole stacks.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1
ASAN_OPTIONS+=:handle_sigtrap=1:fast_unwind_on_malloc=0
export LSAN_OPTIONS=suppressions=$here/../lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

failed=0
for target in checkpoint safetensors model-meta image; do
  binary=$build/tests/fuzz/fuzz-$target
  if [ ! -x "$binary" ]; then
    echo "FAIL $target (no $binary: build it first)"
    failed=$((failed + 1))
    continue
  fi
  # libFuzzer adds what it finds to the first folder: keep the committed seeds untouched.
  work=$(mktemp -d)
  if "$binary" "$work" "$here/corpus-$target" -max_total_time="$seconds" -timeout=10 \
       -rss_limit_mb=2048 -detect_leaks=1 -print_final_stats=1 \
       -artifact_prefix="$findings/$target-" >"$findings/$target.log" 2>&1; then
    echo "PASS $target ($(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' \
      "$findings/$target.log" | grep -o '[0-9]*$') runs)"
  else
    echo "FAIL $target (see $findings/$target.log)"
    tail -n 40 "$findings/$target.log"
    failed=$((failed + 1))
  fi
  rm -rf "$work"
done
exit $((failed > 0))
