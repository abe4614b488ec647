#!/usr/bin/python3
# article.py: the script a reader of the seed article would write in plain PyTorch, used as the
# reference Leafscope is measured against. EfficientNet-B0 from a torchvision-format weight file;
# phase 1 trains a new head on the frozen backbone (Adam 1e-3), phase 2 unfreezes features.7,
# features.8 and the head (Adam 1e-5); the backbone stays in inference mode (BatchNorm statistics
# and stochastic depth), as Keras runs it; standard DataLoader, no caching.
#
# SPDX-License-Identifier: GPL-3.0-or-later

import argparse
import json
import os
import random
import resource
import statistics
import sys
import time

import torch
import torchvision
from PIL import Image, ImageOps
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def preprocess(image_size):
    resize = int(image_size * 256 / 224)
    return transforms.Compose([
        transforms.Resize(resize, interpolation=transforms.InterpolationMode.BICUBIC),
        transforms.CenterCrop(image_size),
        transforms.ToTensor(),
        transforms.Normalize(MEAN, STD),
    ])


def load_rgb(path):
    with Image.open(path) as im:
        return ImageOps.exif_transpose(im).convert("RGB")


def dihedral(x, view):
    """The same eight training views Leafscope uses: flips and 90-degree rotations."""
    if view & 4:
        x = x.transpose(-1, -2)
    if view & 1:
        x = x.flip(-1)
    if view & 2:
        x = x.flip(-2)
    return x


class Photos(Dataset):
    def __init__(self, items, classes, image_size, views):
        self.items = items
        self.index = {c: i for i, c in enumerate(classes)}
        self.tf = preprocess(image_size)
        self.views = views

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        path, cls = self.items[i]
        x = self.tf(load_rgb(path))
        if self.views > 1:
            x = dihedral(x, random.randrange(self.views))
        return x, self.index[cls]


def image_folder(root):
    classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    items = []
    for c in classes:
        for name in sorted(os.listdir(os.path.join(root, c))):
            if name.lower().endswith((".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp")):
                items.append((os.path.join(root, c, name), c))
    return classes, items


def stratified_split(items, val_fraction, seed):
    rng = random.Random(seed)
    by_class = {}
    for it in items:
        by_class.setdefault(it[1], []).append(it)
    train, val = [], []
    for c in sorted(by_class):
        group = by_class[c][:]
        rng.shuffle(group)
        n_val = max(1, round(len(group) * val_fraction))
        val += group[:n_val]
        train += group[n_val:]
    return train, val


def read_split(path):
    """Lines of `path<TAB>class<TAB>train|val`, as `leafscope-cli split --export` writes them."""
    train, val = [], []
    with open(path) as f:
        for line in f:
            p, c, s = line.rstrip("\n").split("\t")
            if s == "train":
                train.append((p, c))
            elif s == "val":
                val.append((p, c))
    return train, val


def backbone_inference_mode(model):
    # As Keras' `base_model(x, training=False)`: the backbone (its BatchNorm and its stochastic
    # depth) runs in inference mode in both phases; only the head's dropout trains.
    model.train()
    model.features.eval()


def run_epoch(model, loader, optimiser, loss_fn):
    backbone_inference_mode(model)
    total = correct = 0
    loss_sum = 0.0
    for x, y in loader:
        optimiser.zero_grad()
        out = model(x)
        loss = loss_fn(out, y)
        loss.backward()
        optimiser.step()
        loss_sum += loss.item() * len(y)
        correct += (out.argmax(1) == y).sum().item()
        total += len(y)
    return loss_sum / total, correct / total


@torch.inference_mode()
def evaluate(model, loader, loss_fn):
    model.eval()
    total = correct = 0
    loss_sum = 0.0
    for x, y in loader:
        out = model(x)
        loss_sum += loss_fn(out, y).item() * len(y)
        correct += (out.argmax(1) == y).sum().item()
        total += len(y)
    return loss_sum / max(total, 1), correct / max(total, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("data", help="ImageFolder directory")
    ap.add_argument("--weights", required=True, help="torchvision-format efficientnet_b0 state dict")
    ap.add_argument("--split", help="split file (path, class, train|val) to use instead of our own")
    ap.add_argument("--eval-dir", help="a separate ImageFolder to report accuracy on")
    ap.add_argument("--head-epochs", type=int, default=5)
    ap.add_argument("--finetune-epochs", type=int, default=10)
    ap.add_argument("--head-lr", type=float, default=1e-3)
    ap.add_argument("--finetune-lr", type=float, default=1e-5)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--views", type=int, default=1, help="random dihedral training views (1 = none)")
    ap.add_argument("--val-fraction", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--latency-runs", type=int, default=30)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)

    classes, items = image_folder(args.data)
    if args.split:
        train_items, val_items = read_split(args.split)
    else:
        train_items, val_items = stratified_split(items, args.val_fraction, args.seed)

    model = torchvision.models.efficientnet_b0()
    state = torch.load(args.weights, map_location="cpu")
    state = {k: v for k, v in state.items() if not k.startswith("classifier.")}
    model.load_state_dict(state, strict=False)
    model.classifier[1] = nn.Linear(1280, len(classes))

    def loader(items_, train):
        ds = Photos(items_, classes, args.image_size, args.views if train else 1)
        return DataLoader(ds, batch_size=args.batch_size, shuffle=train,
                          num_workers=args.workers, persistent_workers=args.workers > 0)

    train_loader = loader(train_items, True)
    val_loader = loader(val_items, False)
    loss_fn = nn.CrossEntropyLoss()
    epochs = []
    t_start = time.perf_counter()

    # Phase 1: backbone frozen, new head.
    for p in model.parameters():
        p.requires_grad = False
    for p in model.classifier.parameters():
        p.requires_grad = True
    opt = torch.optim.Adam(model.classifier.parameters(), lr=args.head_lr)
    t0 = time.perf_counter()
    for e in range(args.head_epochs):
        te = time.perf_counter()
        tl, ta = run_epoch(model, train_loader, opt, loss_fn)
        vl, va = evaluate(model, val_loader, loss_fn)
        epochs.append(dict(phase="head", epoch=e + 1, train_loss=tl, train_accuracy=ta,
                           val_loss=vl, val_accuracy=va, seconds=time.perf_counter() - te))
        if not args.json:
            print(f"head {e + 1}: loss {tl:.4f} acc {ta:.3f} val_loss {vl:.4f} val_acc {va:.3f}",
                  file=sys.stderr)
    head_seconds = time.perf_counter() - t0

    # Phase 2: the last stages and the head, at a low learning rate.
    params = list(model.features[7].parameters()) + list(model.features[8].parameters()) + \
        list(model.classifier.parameters())
    for p in params:
        p.requires_grad = True
    opt = torch.optim.Adam(params, lr=args.finetune_lr)
    t0 = time.perf_counter()
    for e in range(args.finetune_epochs):
        te = time.perf_counter()
        tl, ta = run_epoch(model, train_loader, opt, loss_fn)
        vl, va = evaluate(model, val_loader, loss_fn)
        epochs.append(dict(phase="finetune", epoch=e + 1, train_loss=tl, train_accuracy=ta,
                           val_loss=vl, val_accuracy=va, seconds=time.perf_counter() - te))
        if not args.json:
            print(f"finetune {e + 1}: loss {tl:.4f} acc {ta:.3f} val_loss {vl:.4f} "
                  f"val_acc {va:.3f}", file=sys.stderr)
    finetune_seconds = time.perf_counter() - t0
    total_seconds = time.perf_counter() - t_start

    result = dict(
        name="pytorch-reference", classes=classes, train_images=len(train_items),
        val_images=len(val_items), head_seconds=head_seconds, finetune_seconds=finetune_seconds,
        total_seconds=total_seconds,
        images_per_second=(len(train_items) * (args.head_epochs + args.finetune_epochs)) / total_seconds,
        val_accuracy=epochs[-1]["val_accuracy"] if epochs else None, epochs=epochs)

    if args.eval_dir:
        eval_classes, eval_items = image_folder(args.eval_dir)
        eval_items = [it for it in eval_items if it[1] in classes]
        _, acc = evaluate(model, loader(eval_items, False), loss_fn)
        result["eval_accuracy"] = acc

    # Warm single-image diagnosis latency: read, preprocess, forward, softmax.
    tf = preprocess(args.image_size)
    model.eval()
    sample = [p for p, _ in val_items[: max(1, args.latency_runs)]]
    times = []
    with torch.inference_mode():
        for i in range(args.latency_runs + 3):
            path = sample[i % len(sample)]
            t = time.perf_counter()
            x = tf(load_rgb(path)).unsqueeze(0)
            torch.softmax(model(x), 1)
            times.append(time.perf_counter() - t)
    times = sorted(times[3:])
    result["latency_ms_p50"] = 1000 * statistics.median(times)
    result["latency_ms_p95"] = 1000 * times[min(len(times) - 1, int(0.95 * len(times)))]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + \
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result["peak_rss_mib"] = rss / 1024

    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
