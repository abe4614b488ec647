#!/usr/bin/env bash
# run.sh: EfficientNet-B0 inference throughput of the shim and of torchvision, on this machine,
# one after the other: the full eval forward and the frozen prefix features[0:7], batch 32 at
# 224 px, all cores. Each figure comes from the fastest of the timed batches, and in brackets
# from the cheapest in CPU time, which other processes on a shared machine disturb less.
#
#   tests/bench/forward/run.sh [--json] [--build DIR] [bench options: --batch N --size PX
#                               --iterations N --cut K --threads N]
#
# The shim's side is the bench-forward program (meson target tests/shim/bench-forward), the
# baseline tests/bench/forward/bench_forward.py under /usr/bin/python3 (or $LEAFSCOPE_PYTHON).
#
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
build="$root/_build"
json=0
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --json) json=1 ;;
    --build) build=$(cd "$2" && pwd); shift ;;
    *) args+=("$1") ;;
  esac
  shift
done
python=${LEAFSCOPE_PYTHON:-/usr/bin/python3}

ninja -C "$build" tests/shim/bench-forward >/dev/null
results=$(mktemp)
trap 'rm -f "$results"' EXIT
"$build/tests/shim/bench-forward" --json ${args[@]+"${args[@]}"} >"$results"
"$python" "$here/bench_forward.py" --json ${args[@]+"${args[@]}"} >>"$results"

"$python" - "$json" "$results" <<'PY'
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[2]) if line.strip()]
if sys.argv[1] == "1":
    print(json.dumps(rows, indent=2))
    sys.exit()
first = rows[0]
print(f"EfficientNet-B0 eval, batch {first['batch']}, {first['size']} px, {first['threads']} "
      "threads: images per second (per CPU second), best batch")
whats = list(dict.fromkeys(r["what"] for r in rows))
impls = list(dict.fromkeys(r["impl"] for r in rows))
print(f"{'':26s}" + "".join(f"{w:>24s}" for w in whats))
for impl in impls:
    cells = {r["what"]: r for r in rows if r["impl"] == impl}
    print(f"{impl:26s}" + "".join(
        f"{cells[w]['images_per_second']:15.1f} ({cells[w]['images_per_cpu_second']:6.1f})"
        for w in whats))
PY
