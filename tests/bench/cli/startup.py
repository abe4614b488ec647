#!/usr/bin/python3
# startup.py: what a leafscope-cli start costs, in wall time and peak memory, for commands that
# need no model (they must not load libtorch) and for one that does.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Usage: startup.py [--cli _build/app/leafscope-cli] [--runs N] [--json]
# Works in a scratch catalog of its own (two classes, one small photo), never the user's. Needs
# GNU time (Debian's package time).

import argparse
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib


def write_png(path, rgb):
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    raw = b"".join(b"\0" + bytes(rgb) * 16 for _ in range(16))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def run(argv, env):
    """Wall seconds and peak resident set (MiB) of one process. GNU time measures the peak: a
    child forked from Python would count the interpreter's pages as its own until it execs."""
    start = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-f", "%M"] + argv, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit("%s exited with %d: %s" % (" ".join(argv), result.returncode, result.stderr))
    return elapsed, int(result.stderr.split()[-1]) / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cli", default="_build/app/leafscope-cli")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="leafscope-startup-") as tmp:
        env = dict(os.environ, XDG_DATA_HOME=tmp + "/data", XDG_CACHE_HOME=tmp + "/cache",
                   XDG_CONFIG_HOME=tmp + "/config", LC_ALL="C")
        catalog = os.path.join(tmp, "bench.leafscope")
        photo = os.path.join(tmp, "leaf.png")
        write_png(photo, (40, 150, 40))
        cli = [args.cli, "--catalog", catalog]
        for argv in (["init"], ["classes", "add", "healthy"], ["classes", "add", "blight"],
                     ["import", photo]):
            subprocess.run(cli + argv, env=env, check=True, stdout=subprocess.DEVNULL)

        commands = {
            "--version": [args.cli, "--version"],
            "--help": [args.cli, "--help"],
            "label": cli + ["label", photo, "healthy"],
            "list": cli + ["list"],
            "stats": cli + ["stats"],
            "models list (loads libtorch)": cli + ["models", "list"],
        }
        results = {}
        for name, argv in commands.items():
            times, peaks = [], []
            for _ in range(args.runs):
                elapsed, peak = run(argv, env)
                times.append(elapsed)
                peaks.append(peak)
            results[name] = {"median_ms": round(1000 * statistics.median(times), 1),
                             "max_ms": round(1000 * max(times), 1),
                             "peak_rss_mib": round(max(peaks), 1)}

    if args.json:
        json.dump({"runs": args.runs, "commands": results}, sys.stdout, indent=2)
        print()
    else:
        print("%-30s %10s %10s %12s" % ("command", "median ms", "max ms", "peak MiB"))
        for name, r in results.items():
            print("%-30s %10.1f %10.1f %12.1f" % (name, r["median_ms"], r["max_ms"], r["peak_rss_mib"]))


if __name__ == "__main__":
    main()
