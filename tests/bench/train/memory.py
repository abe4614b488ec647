#!/usr/bin/python3
# memory.py: peak resident memory of a Leafscope training run on thousands of photos.
#
#   tests/bench/train/memory.py DATA --weights FILE [--count 5000] [--preset article] [--json]
#
# The trainer issue's limit: training on 5,000 images at 224 px stays under 3 GiB resident.
# Real collections that large are not shipped here, so the script makes COUNT distinct photos
# from the ImageFolder tree DATA (each a different crop, rotation, flip and exposure of one of
# its photos, saved as JPEG in a temporary folder: no two share a hash, so neither the catalog
# nor the feature cache can fold them together), imports them into a fresh catalog and trains
# on them in one process, whose peak resident set is measured by the kernel (ru_maxrss).
#
# SPDX-License-Identifier: GPL-3.0-or-later

import argparse
import itertools
import json
import os
import random
import sys
import tempfile
import time

from PIL import Image, ImageEnhance

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import ROOT, json_lines, leafscope_env, run, run_measured  # noqa: E402

LIMIT_MIB = 3 * 1024


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


def main():
    ap = argparse.ArgumentParser(description="Peak memory of training on many photos")
    ap.add_argument("data", help="ImageFolder directory to draw the photos from")
    ap.add_argument("--weights", required=True, help="torchvision-format EfficientNet-B0 weights")
    ap.add_argument("--cli", default=os.path.join(ROOT, "_build", "app", "leafscope-cli"))
    ap.add_argument("--count", type=int, default=5000)
    ap.add_argument("--preset", default="article", choices=("article", "default"))
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print only the JSON result")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="leafscope-memory-") as tmp:
        photos = os.path.join(tmp, "photos")
        t0 = time.perf_counter()
        counts = make_photos(args.data, photos, args.count, args.seed)
        make_seconds = time.perf_counter() - t0

        catalog = os.path.join(tmp, "memory.leafscope")
        env = leafscope_env(tmp, "memory")
        _, import_seconds, import_rss = run_measured(
            [args.cli, "--catalog", catalog, "import", photos], env=env)
        out, train_seconds, train_rss = run_measured(
            [args.cli, "--catalog", catalog, "train", "--preset", args.preset, "--weights",
             args.weights, "--image-size", str(args.image_size), "--seed", str(args.seed),
             "--json"], env=env)
        summary = list(json_lines(out))[-1]

    report = dict(
        photos=args.count, per_class=counts, preset=args.preset, image_size=args.image_size,
        date=time.strftime("%Y-%m-%d"), cpus=os.cpu_count(),
        make_seconds=round(make_seconds, 1), import_seconds=round(import_seconds, 1),
        import_peak_rss_mib=round(import_rss, 1), train_seconds=round(train_seconds, 1),
        train_peak_rss_mib=round(train_rss, 1), limit_mib=LIMIT_MIB,
        within_limit=train_rss < LIMIT_MIB and import_rss < LIMIT_MIB,
        train_images=summary.get("train_images"), val_images=summary.get("val_images"),
        extract_seconds=summary.get("extract_seconds"), head_seconds=summary.get("head_seconds"),
        finetune_seconds=summary.get("finetune_seconds"),
        val_accuracy=summary.get("val_accuracy"))
    if args.json:
        print(json.dumps(report))
        return
    for key, value in report.items():
        print(f"{key:22} {value}")


if __name__ == "__main__":
    main()
