#!/usr/bin/python3
# bench.py: how often Leafscope refers photos unlike its training photos, and how right it is
# about the rest, on sets it was not trained on
#
#   tests/bench/ood/bench.py DATA --weights FILE [--test-fraction 0.15] [--seed 0] [--json]
#
# It imports DATA (an ImageFolder tree of lab photos) into a fresh catalog in a temporary
# folder, holds back a share of the photos as its test split, trains the default preset on the
# rest, then makes the sets of make_sets.py from the held-back photos (in the same temporary
# folder: the shared photos are never copied into the repository) and measures each with
# `leafscope-cli evaluate --json` (labelled sets) or `predict --json` (photos of other things).
#
# SPDX-License-Identifier: GPL-3.0-or-later

import argparse
import json
import os
import platform
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
SETS = ["lab", "cluttered", "blur", "overexposed", "underexposed", "other"]


def run(cmd, env):
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode not in (0, 1) or not proc.stdout:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}")
    return proc.stdout


def model_metadata(path):
    with open(path, "rb") as f:
        header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
    return json.loads(header["__metadata__"]["leafscope"])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("data")
    parser.add_argument("--weights", required=True)
    parser.add_argument("--cli", default=os.path.join(ROOT, "_build", "app", "leafscope-cli"))
    parser.add_argument("--test-fraction", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="leafscope-ood-") as tmp:
        env = dict(os.environ)
        for kind in ("CACHE", "CONFIG", "DATA", "STATE"):
            env[f"XDG_{kind}_HOME"] = os.path.join(tmp, kind.lower())
        catalog = os.path.join(tmp, "bench.leafscope")
        cli = [args.cli, "--catalog", catalog]
        split_tsv = os.path.join(tmp, "split.tsv")
        run(cli + ["init"], env)
        run(cli + ["import", os.path.abspath(args.data)], env)
        run(cli + ["split", "--test-fraction", str(args.test_fraction), "--seed", str(args.seed),
                   "--export", split_tsv], env)

        t0 = time.perf_counter()
        events = [json.loads(line) for line in
                  run(cli + ["train", "--weights", args.weights, "--json"], env).splitlines()
                  if line.startswith("{")]
        train_seconds = time.perf_counter() - t0
        summary = events[-1]
        meta = model_metadata(summary["model"])

        held_back = os.path.join(tmp, "test.tsv")
        with open(split_tsv) as src, open(held_back, "w") as dst:
            for line in src:
                path, cls, split = line.rstrip("\n").split("\t")[:3]
                if split == "test":
                    dst.write(f"{path}\t{cls}\n")
        sets = os.path.join(tmp, "sets")
        subprocess.run([sys.executable, os.path.join(HERE, "make_sets.py"), held_back, sets,
                        "--seed", str(args.seed)], check=True)

        rows = []
        for name in SETS:
            folder = os.path.join(sets, name)
            if name == "other":
                photos = sorted(os.path.join(folder, "none", f)
                                for f in os.listdir(os.path.join(folder, "none")))
                results = [json.loads(line) for line in
                           run(cli + ["predict", "--json"] + photos, env).splitlines()]
                flagged = sum(bool(r["ood"]) for r in results)
                rows.append({"set": name, "photos": len(results), "flagged": flagged,
                             "accuracy": None, "accuracy_rest": None})
                continue
            result = json.loads(run(cli + ["evaluate", "--json", folder], env))
            rows.append({"set": name, "photos": result["n"], "flagged": result["ood"]["flagged"],
                         "accuracy": result["accuracy"],
                         "accuracy_rest": result["ood"]["accuracy_rest"]})

    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "train_photos": summary["train_images"], "val_photos": summary["val_images"],
        "val_accuracy": summary["val_accuracy"], "train_seconds": round(train_seconds, 1),
        "threshold": meta["ood"]["threshold"], "val_flagged_share": meta["ood"]["flagged_share"],
        "plain_background": meta["trained_on"]["plain_background"], "sets": rows,
    }
    if args.json:
        print(json.dumps(report))
        return
    print(f"trained on {report['train_photos']} photos, validated on {report['val_photos']} "
          f"({100 * report['val_accuracy']:.1f} %), {report['train_seconds']} s; threshold "
          f"{report['threshold']:.3f} flags {100 * report['val_flagged_share']:.1f} % of the "
          f"validation photos; {100 * report['plain_background']:.0f} % plain background")
    print("| set | photos | flagged | accuracy, all | accuracy, not flagged |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        pct = lambda v: "—" if v is None else f"{100 * v:.1f} %"
        print(f"| {r['set']} | {r['photos']} | {r['flagged']} ({100 * r['flagged'] / r['photos']:.0f} %)"
              f" | {pct(r['accuracy'])} | {pct(r['accuracy_rest'])} |")


if __name__ == "__main__":
    main()
