#!/usr/bin/python3
# memory.py: peak resident memory of Leafscope training as the number of photos grows.
#
#   tests/bench/train/memory.py DATA --weights FILE [--count 2000,20000] [--recipe JSON] [--json]
#
# Real collections that large are not shipped here, so the script makes the largest COUNT of
# distinct photos from the ImageFolder tree DATA (each a different crop, rotation, flip and
# exposure of one of its photos, saved as JPEG in a temporary folder: no two share a hash, so
# neither the catalog nor the feature cache can fold them together). For each COUNT it imports
# the first COUNT of them into a fresh catalog and trains on them in one process, with a cold
# feature cache, whose peak resident set is measured by the kernel (ru_maxrss).
#
# The scale issue's goals: the peak at 20,000 photos is less than 150 MiB above the peak at
# 2,000 (the frozen stages' activations live in the feature cache's memory-mapped tables, not
# in the process), and the time of one head epoch and one fine-tuning epoch grows no worse than
# linearly with the photos. The default recipe fixes the epochs (no early stopping) and one
# view of each photo, so that every count does the same work per photo, and keeps the cut at
# features.7 at which BENCHMARKS.md's figures were measured (the default preset's before
# 2026-12-05; today's caches at features.5, rows 2.3 times as large: pass --recipe to measure it).
#
# SPDX-License-Identifier: GPL-3.0-or-later

import argparse
import itertools
import json
import os
import random
import statistics
import sys
import tempfile
import time

from PIL import Image, ImageEnhance

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import ROOT, json_lines, leafscope_env, run, run_measured  # noqa: E402

GROWTH_LIMIT_MIB = 150
RECIPE = {"preset": "default", "unfreeze": 2, "views": 1, "diagnosis_views": 1,
          "head_epochs": 5, "head_early_stopping": False, "finetune_epochs": 2,
          "finetune_early_stopping": False}


def make_photos(data, out, count, seed):
    """Writes count variants of the photos under data into out/<class>/; returns per-class counts."""
    classes = sorted(d for d in os.listdir(data) if os.path.isdir(os.path.join(data, d)))
    per_class = [[(c, os.path.join(data, c, f)) for f in sorted(os.listdir(os.path.join(data, c)))
                  if f.lower().endswith((".jpg", ".jpeg", ".png"))] for c in classes]
    # Round robin over the classes, so that any count keeps them balanced.
    sources = [p for group in itertools.zip_longest(*per_class) for p in group if p is not None]
    if not sources:
        raise SystemExit(f"no photos under {data}")
    rng = random.Random(seed)
    counts = {c: 0 for c in classes}
    for i in range(count):
        cls, path = sources[i % len(sources)]
        with Image.open(path) as im:
            im = im.convert("RGB")
            w, h = im.size
            scale = rng.uniform(0.7, 1.0)
            cw, ch = int(w * scale), int(h * scale)
            x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
            im = im.crop((x, y, x + cw, y + ch)).resize((w, h), Image.BICUBIC)
            im = im.rotate(90 * rng.randrange(4))
            if rng.random() < 0.5:
                im = im.transpose(Image.FLIP_LEFT_RIGHT)
            im = ImageEnhance.Brightness(im).enhance(rng.uniform(0.85, 1.15))
            os.makedirs(os.path.join(out, cls), exist_ok=True)
            im.save(os.path.join(out, cls, f"{i:05d}.jpg"), quality=92)
        counts[cls] += 1
    return counts


def train_once(args, photos, tmp, count, recipe):
    catalog = os.path.join(tmp, f"memory-{count}.leafscope")
    env = leafscope_env(tmp, f"memory-{count}")
    _, import_seconds, import_rss = run_measured(
        [args.cli, "--catalog", catalog, "import", photos], env=env)
    out, train_seconds, train_rss = run_measured(
        [args.cli, "--catalog", catalog, "train", "--weights", args.weights, "--recipe",
         json.dumps(recipe), "--image-size", str(args.image_size), "--seed", str(args.seed),
         "--json"], env=env)
    lines = list(json_lines(out))
    summary = lines[-1]

    def epoch_seconds(phase):
        # Each epoch's own time (training and validation), as the run reports it.
        times = [e["seconds"] for e in lines if e.get("event") == "epoch" and e["phase"] == phase]
        return round(statistics.median(times), 3) if times else None

    return dict(
        photos=count, import_seconds=round(import_seconds, 1),
        import_peak_rss_mib=round(import_rss, 1), train_seconds=round(train_seconds, 1),
        train_peak_rss_mib=round(train_rss, 1),
        train_images=summary.get("train_images"), val_images=summary.get("val_images"),
        extract_seconds=summary.get("extract_seconds"), head_seconds=summary.get("head_seconds"),
        finetune_seconds=summary.get("finetune_seconds"),
        head_epoch_seconds=epoch_seconds("head"),
        finetune_epoch_seconds=epoch_seconds("finetune"),
        val_accuracy=summary.get("val_accuracy"))


def main():
    ap = argparse.ArgumentParser(description="Peak memory of training as the photos grow")
    ap.add_argument("data", help="ImageFolder directory to draw the photos from")
    ap.add_argument("--weights", required=True, help="torchvision-format EfficientNet-B0 weights")
    ap.add_argument("--cli", default=os.path.join(ROOT, "_build", "app", "leafscope-cli"))
    ap.add_argument("--count", default="2000,20000", help="comma-separated numbers of photos")
    ap.add_argument("--recipe", default=json.dumps(RECIPE), help="train --recipe JSON")
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print only the JSON result")
    args = ap.parse_args()
    counts = sorted(int(c) for c in args.count.split(","))
    recipe = json.loads(args.recipe)

    with tempfile.TemporaryDirectory(prefix="leafscope-memory-") as tmp:
        photos = os.path.join(tmp, "photos")
        t0 = time.perf_counter()
        make_photos(args.data, photos, counts[-1], args.seed)
        make_seconds = time.perf_counter() - t0
        runs = []
        for count in counts:
            # The first COUNT photos, linked rather than copied.
            subset = os.path.join(tmp, f"photos-{count}")
            for cls in sorted(os.listdir(photos)):
                os.makedirs(os.path.join(subset, cls))
                for name in sorted(os.listdir(os.path.join(photos, cls))):
                    if int(name.split(".")[0]) < count:
                        os.link(os.path.join(photos, cls, name), os.path.join(subset, cls, name))
            runs.append(train_once(args, subset, tmp, count, recipe))
            if not args.json:
                print(json.dumps(runs[-1]), file=sys.stderr, flush=True)

    growth = runs[-1]["train_peak_rss_mib"] - runs[0]["train_peak_rss_mib"]
    ratio = counts[-1] / counts[0]
    report = dict(
        date=time.strftime("%Y-%m-%d"), cpus=os.cpu_count(), image_size=args.image_size,
        recipe=recipe, make_seconds=round(make_seconds, 1), runs=runs,
        peak_rss_growth_mib=round(growth, 1), growth_limit_mib=GROWTH_LIMIT_MIB,
        within_growth_limit=growth < GROWTH_LIMIT_MIB,
        head_epoch_ratio=round(runs[-1]["head_epoch_seconds"] / runs[0]["head_epoch_seconds"], 2),
        finetune_epoch_ratio=round(runs[-1]["finetune_epoch_seconds"] /
                                   runs[0]["finetune_epoch_seconds"], 2),
        photo_ratio=ratio)
    if args.json:
        print(json.dumps(report))
        return
    for key, value in report.items():
        if key != "runs":
            print(f"{key:22} {value}")


if __name__ == "__main__":
    main()
