#!/usr/bin/python3
# cv.py: k-fold cross-validation of training recipes, so that a recipe is chosen on every photo
# rather than on one validation split.
#
#   tests/bench/train/cv.py DATA --weights FILE [--folds 5] [--seeds 0,1,2]
#       [--candidate NAME=JSON ...] [--only NAME ...] [--json]
#
# It imports DATA (an ImageFolder tree) into one fresh catalog and cuts its labelled photos into
# k stratified folds, the same folds for every candidate (they depend on the photos' SHA-256
# only). For each fold, candidate and seed it marks that fold as the validation split (the rest
# train), trains with `leafscope-cli train --recipe JSON --seed S` and records the validation
# accuracy: accuracy on photos the run never trained on, from the photo as it is and averaged
# over its eight flips and quarter turns (`evaluate --tta`). A recipe that selects epochs by
# validation loss (early stopping) has seen those photos in that one way, so its figure leans in
# its favour; recipes without early stopping are judged on photos they never used at all.
# All runs share one feature cache: the frozen stages of a photo are computed once per cut.
#
# Reports, per candidate: the mean accuracy over all folds and seeds, the spread across folds
# (standard deviation of the per-fold means), the spread across seeds (standard deviation and
# range of the per-seed means), and the mean training seconds after the first run of a cut
# (which pays for the extraction).
#
# SPDX-License-Identifier: GPL-3.0-or-later

import argparse
import csv
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))

# The candidates compared in BENCHMARKS.md. "previous-default" is the default preset as it was
# before this comparison (its models diagnosed from one view; the eight-view column is how
# the default that followed it, the same training, diagnoses); "adamw-cosine-8-views" is the
# recipe of a PyTorch probe that looked better on one split; "default" is the preset as it is
# now, since 2026-12-06 the same recipe as "cut4-adamw-cosine-8" (from 2026-12-05 it was
# "cut5-adamw-cosine-12").
CANDIDATES = {
    "previous-default": {"preset": "default", "unfreeze": 2, "views": 4, "optimizer": "adam",
                         "finetune_lr": 1e-4, "finetune_head_lr": 1e-4, "schedule": "constant",
                         "label_smoothing": 0.0, "weight_decay": 0.0, "head_epochs": 200,
                         "head_early_stopping": True, "finetune_epochs": 20,
                         "finetune_early_stopping": True, "patience": 8, "diagnosis_views": 1},
    "adamw-cosine-8-views": {"preset": "default", "unfreeze": 2, "views": 8, "optimizer": "adamw",
                             "weight_decay": 0.01, "finetune_lr": 3e-4, "finetune_head_lr": 3e-4,
                             "schedule": "cosine", "finetune_epochs": 20,
                             "finetune_early_stopping": False, "label_smoothing": 0.1},
    "default": {"preset": "default"},
    # The probe's cut: features.6-8 train on activations cached at features.5.
    "cut5-adam": {"preset": "default", "unfreeze": 3},
    "cut5-adamw-cosine-12": {"preset": "default", "unfreeze": 3, "optimizer": "adamw",
                             "weight_decay": 0.01, "finetune_lr": 3e-4, "finetune_head_lr": 3e-4,
                             "schedule": "cosine", "finetune_epochs": 12,
                             "finetune_early_stopping": False, "label_smoothing": 0.1},
    # One stage deeper: features.5-8 train on activations cached at features.4.
    "cut4-adamw-cosine-12": {"preset": "default", "unfreeze": 4, "optimizer": "adamw",
                             "weight_decay": 0.01, "finetune_lr": 3e-4, "finetune_head_lr": 3e-4,
                             "schedule": "cosine", "finetune_epochs": 12,
                             "finetune_early_stopping": False, "label_smoothing": 0.1},
    "cut4-adamw-cosine-8": {"preset": "default", "unfreeze": 4, "optimizer": "adamw",
                            "weight_decay": 0.01, "finetune_lr": 3e-4, "finetune_head_lr": 3e-4,
                            "schedule": "cosine", "finetune_epochs": 8,
                            "finetune_early_stopping": False, "label_smoothing": 0.1},
}


def run(cmd, env):
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}")
    return proc.stdout


def folds_of(rows, k):
    """Stratified folds: within each class, photos in SHA-256 order (a fixed shuffle) dealt out
    round-robin, continuing where the previous class stopped so that fold sizes stay even."""
    by_class = {}
    for row in rows:
        by_class.setdefault(row["class"], []).append(row["sha256"])
    fold = {}
    turn = 0
    for name in sorted(by_class):
        for sha in sorted(by_class[name], key=lambda s: hashlib.sha256(s.encode()).hexdigest()):
            fold[sha] = turn % k
            turn += 1
    return fold


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("data", help="ImageFolder directory (one folder per class)")
    ap.add_argument("--weights", required=True)
    ap.add_argument("--cli", default=os.path.join(ROOT, "_build", "app", "leafscope-cli"))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    ap.add_argument("--candidate", action="append", default=[], metavar="NAME=JSON",
                    help="a recipe to compare (members of train --recipe); repeatable")
    ap.add_argument("--only", action="append", default=[], metavar="NAME",
                    help="run only these candidates")
    ap.add_argument("--workdir", help="keep the catalog and cache here (default: a temporary "
                    "folder); runs already recorded in WORKDIR/runs.jsonl are not repeated")
    ap.add_argument("--json", action="store_true", help="print only the JSON result")
    args = ap.parse_args()

    candidates = dict(CANDIDATES)
    for item in args.candidate:
        name, _, text = item.partition("=")
        candidates[name] = json.loads(text)
    if args.only:
        candidates = {name: candidates[name] for name in args.only}
    seeds = [int(s) for s in args.seeds.split(",")]

    tmp_holder = None
    if args.workdir:
        work = args.workdir
        os.makedirs(work, exist_ok=True)
    else:
        tmp_holder = tempfile.TemporaryDirectory(prefix="leaf-cv-")
        work = tmp_holder.name
    env = dict(os.environ)
    env["XDG_CACHE_HOME"] = os.path.join(work, "cache")
    env["XDG_DATA_HOME"] = os.path.join(work, "data")
    env["XDG_CONFIG_HOME"] = os.path.join(work, "config")
    catalog = os.path.join(work, "cv.leafscope")
    cli = [args.cli, "--catalog", catalog]

    if not os.path.exists(catalog):
        run(cli + ["init"], env)
        run(cli + ["import", args.data], env)
    labels_csv = os.path.join(work, "labels.csv")
    run(cli + ["export-labels", labels_csv], env)
    with open(labels_csv, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r.get("class")]
    fold = folds_of(rows, args.folds)

    log_path = os.path.join(work, "runs.jsonl")
    done = {}
    if os.path.exists(log_path):
        with open(log_path, encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                if "val_accuracy_tta" in r:
                    done[(r["candidate"], r["fold"], r["seed"])] = r

    current_fold = None
    for k in range(args.folds):
        for name, recipe in candidates.items():
            for seed in seeds:
                key = (name, k, seed)
                if key in done:
                    continue
                if current_fold != k:
                    split_csv = os.path.join(work, f"fold{k}.csv")
                    with open(split_csv, "w", newline="", encoding="utf-8") as f:
                        w = csv.writer(f)
                        w.writerow(["sha256", "class", "split"])
                        for row in rows:
                            w.writerow([row["sha256"], row["class"],
                                        "val" if fold[row["sha256"]] == k else "train"])
                    run(cli + ["import-labels", split_csv], env)
                    current_fold = k
                t0 = time.perf_counter()
                out = run(cli + ["train", "--weights", args.weights, "--recipe",
                                 json.dumps(recipe), "--seed", str(seed), "--json"], env)
                seconds = time.perf_counter() - t0
                summary = [json.loads(l) for l in out.splitlines() if l.startswith("{")][-1]
                # The same model averaged over the eight flips and quarter turns of each photo.
                tta = json.loads(run(cli + ["evaluate", "--model", summary["model"], "--split",
                                            "val", "--tta", "--json"], env))
                record = dict(candidate=name, fold=k, seed=seed,
                              val_accuracy=summary["val_accuracy"],
                              val_accuracy_tta=tta["accuracy"], model=summary["model"],
                              val_images=summary["val_images"],
                              train_images=summary["train_images"],
                              extract_seconds=summary["extract_seconds"],
                              head_seconds=summary["head_seconds"],
                              finetune_seconds=summary["finetune_seconds"],
                              seconds=seconds, stop_reasons=summary["stop_reasons"],
                              recipe=summary["recipe"])
                done[key] = record
                with open(log_path, "a", encoding="utf-8") as f:
                    f.write(json.dumps(record) + "\n")
                if not args.json:
                    print(f"{name} fold {k} seed {seed}: {record['val_accuracy']:.4f}, "
                          f"{record['val_accuracy_tta']:.4f} averaged over 8 views, "
                          f"in {seconds:.1f} s", file=sys.stderr, flush=True)

    def spread(records, key):
        fold_means = [statistics.mean(r[key] for r in records if r["fold"] == k)
                      for k in range(args.folds)]
        seed_means = [statistics.mean(r[key] for r in records if r["seed"] == s) for s in seeds]
        return dict(mean=statistics.mean(r[key] for r in records),
                    fold_std=statistics.stdev(fold_means) if len(fold_means) > 1 else 0.0,
                    seed_std=statistics.stdev(seed_means) if len(seed_means) > 1 else 0.0,
                    seed_range=max(seed_means) - min(seed_means), fold_means=fold_means,
                    seed_means=seed_means)

    results = {}
    for name in candidates:
        records = [r for r in done.values() if r["candidate"] == name and r["seed"] in seeds]
        train_seconds = [r["head_seconds"] + r["finetune_seconds"] for r in records]
        results[name] = dict(
            runs=len(records), one_view=spread(records, "val_accuracy"),
            eight_views=spread(records, "val_accuracy_tta"),
            mean_train_seconds=statistics.mean(train_seconds), recipe=records[0]["recipe"])

    report = dict(machine=platform.node(), cpus=os.cpu_count(), folds=args.folds, seeds=seeds,
                  photos=len(rows), candidates=results)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{len(rows)} photos, {args.folds} folds, seeds {seeds}")
    print(f"{'candidate':20} {'views':>5} {'mean':>7} {'fold sd':>8} {'seed sd':>8} "
          f"{'seed range':>10} {'train s':>8}")
    for name, r in results.items():
        for views, key in ((1, "one_view"), (8, "eight_views")):
            a = r[key]
            print(f"{name:20} {views:5} {a['mean']:7.4f} {a['fold_std']:8.4f} "
                  f"{a['seed_std']:8.4f} {a['seed_range']:10.4f} {r['mean_train_seconds']:8.1f}")


if __name__ == "__main__":
    main()
