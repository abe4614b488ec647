#!/usr/bin/python3
# simulate.py: does labelling in `leafscope-cli next` order beat labelling in random order?
#
# A simulated pathologist labels an ImageFolder tree 10 photos at a time. After each batch a
# head (multinomial logistic regression on the frozen backbone's pooled 1280-value features,
# what Leafscope's head phase trains) is fitted on the photos labelled so far and measured on
# a held-out fifth of the tree. Two orders are compared from the same 2-per-class start:
#   random  - the next 10 photos at random;
#   next    - engine/leaf-next.c's ranking, replayed step for step by next_order() below: a
#             shortlist of the smallest margins, score (1 - margin) x typicality^3, one pick per
#             k-means cluster of the best-scored, near-duplicates (cosine above 0.95) deferred.
#             With --check-engine LIB (engine/leaf-next.c built as a shared library, see the
#             README) every round also asks leaf_next_rank() through ctypes, on the same float32
#             inputs, and stops unless it gives the same order.
# Features come from torchvision's efficientnet_b0 with the given weights and torchvision's
# ImageNet preprocessing, which the shim reproduces to 1e-4 (tests/cli/test-predict.py).
#
# Usage: /usr/bin/python3 simulate.py TREE WEIGHTS [--seeds 5] [--budget 100] [--cache F.npz]
#                                     [--check-engine LIB.so]
#
# SPDX-License-Identifier: GPL-3.0-or-later

import argparse
import ctypes
import os
import time

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision import transforms as T

parser = argparse.ArgumentParser()
parser.add_argument("tree")
parser.add_argument("weights")
parser.add_argument("--seeds", type=int, default=5)
parser.add_argument("--budget", type=int, default=100)
parser.add_argument("--batch", type=int, default=10)
parser.add_argument("--cache", default=None)
parser.add_argument("--check-engine", default=None)
args = parser.parse_args()


def extract(tree, weights):
    classes = sorted(d for d in os.listdir(tree) if os.path.isdir(os.path.join(tree, d)))
    paths, labels = [], []
    for i, c in enumerate(classes):
        for f in sorted(os.listdir(os.path.join(tree, c))):
            if f.lower().endswith((".jpg", ".jpeg", ".png")):
                paths.append(os.path.join(tree, c, f))
                labels.append(i)
    state = torch.load(weights, map_location="cpu")
    net = torchvision.models.efficientnet_b0(num_classes=state["classifier.1.weight"].shape[0])
    net.load_state_dict(state)
    net.eval()
    pre = T.Compose([T.Resize(256, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(224),
                     T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    feats = []
    t0 = time.time()
    with torch.no_grad():
        for s in range(0, len(paths), 32):
            x = torch.stack([pre(Image.open(p).convert("RGB")) for p in paths[s:s + 32]])
            feats.append(net.avgpool(net.features(x)).flatten(1))
    print(f"# extracted {len(paths)} photos in {time.time() - t0:.1f} s")
    return torch.cat(feats).numpy(), np.array(labels), classes


if args.cache and os.path.exists(args.cache):
    data = np.load(args.cache, allow_pickle=True)
    X, y, classes = data["X"], data["y"], list(data["classes"])
else:
    X, y, classes = extract(args.tree, args.weights)
    if args.cache:
        np.savez(args.cache, X=X, y=y, classes=np.array(classes))
K = len(classes)
Xt = torch.tensor(X, dtype=torch.float64)


def fit_head(idx):
    w = torch.zeros(X.shape[1], K, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(K, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=200, line_search_fn="strong_wolfe")
    xi, yi = Xt[idx], torch.tensor(y[idx])

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(xi @ w + b, yi) + 1e-5 * (w * w).sum()
        loss.backward()
        return loss
    opt.step(closure)
    return w.detach(), b.detach()


def kmeans(rows, k):
    """engine/leaf-next.c's cluster(): farthest-point start from row 0, Lloyd until stable."""
    k = min(k, len(rows))
    centres = [rows[0]]
    nearest = ((rows - rows[0]) ** 2).sum(1)
    for _ in range(1, k):
        far = int(np.argmax(nearest))
        centres.append(rows[far])
        nearest = np.minimum(nearest, ((rows - rows[far]) ** 2).sum(1))
    centres = np.array(centres)
    assignment = None
    for _ in range(20):
        d = ((rows[:, None, :] - centres[None]) ** 2).sum(2)
        new = d.argmin(1)
        if assignment is not None and (new == assignment).all():
            break
        assignment = new
        for c in range(k):
            if (assignment == c).any():
                centres[c] = rows[assignment == c].mean(0)
    return assignment


def next_order(probs, candidates, count, features):
    """engine/leaf-next.c's leaf_next_rank(), step for step (see the comment at its top)."""
    count = min(count, len(candidates))
    top2 = np.sort(probs, axis=1)[:, -2:]
    margin = top2[:, 1] - top2[:, 0]
    by_margin = np.argsort(margin, kind="stable")
    short = by_margin[:min(len(candidates), max(count, min(40 * count, 1000)))]
    unit = features[short].astype(np.float64)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    k = min(10, len(short) - 1)
    if k > 0:
        dist = np.sqrt(np.maximum(2 - 2 * unit @ unit.T, 0))
        np.fill_diagonal(dist, np.inf)
        typical = 1 / (np.sort(dist, 1)[:, :k].mean(1) + 1e-6)
        typical /= typical.max()
    else:
        typical = np.ones(len(short))
    score = (1 - margin[short]) * typical ** 3
    by_score = np.argsort(-score, kind="stable")
    clustered = by_score[:min(len(short), 10 * count)]
    assignment = kmeans(unit[clustered], count)
    firsts = [r for r in range(len(clustered)) if assignment[r] not in assignment[:r]]
    order = ([by_score[r] for r in firsts]
             + [by_score[r] for r in range(len(short)) if r not in firsts])
    chosen, deferred = [], []
    for s in order:
        if len(chosen) == count:
            break
        dup = any(unit[s] @ unit[t] > 0.95 for t in chosen)
        (deferred if dup else chosen).append(s)
    return [candidates[short[s]] for s in (chosen + deferred)[:count]]


class Pick(ctypes.Structure):
    _fields_ = [("index", ctypes.c_uint), ("margin", ctypes.c_double),
                ("score", ctypes.c_double), ("duplicate", ctypes.c_int)]


class GArray(ctypes.Structure):
    _fields_ = [("data", ctypes.POINTER(Pick)), ("len", ctypes.c_uint)]


if args.check_engine:
    engine = ctypes.CDLL(args.check_engine)
    engine.leaf_next_rank.restype = ctypes.POINTER(GArray)
    engine.g_array_unref.argtypes = [ctypes.POINTER(GArray)]


def engine_order(probs, features, count):
    """leaf_next_rank() itself, from the shared library --check-engine names."""
    floats = ctypes.POINTER(ctypes.c_float)
    p = np.ascontiguousarray(probs, np.float32)
    f = np.ascontiguousarray(features, np.float32)
    picks = engine.leaf_next_rank(p.ctypes.data_as(floats), p.shape[1], f.ctypes.data_as(floats),
                                  f.shape[1], p.shape[0], count, ctypes.c_double(0.95))
    order = [picks.contents.data[i].index for i in range(picks.contents.len)]
    engine.g_array_unref(picks)
    return order


checked = 0


def simulate(seed, strategy):
    global checked
    rng = np.random.default_rng(seed)
    test = np.concatenate([rng.permutation(np.flatnonzero(y == k))[:int(0.2 * (y == k).sum())]
                           for k in range(K)])
    pool = np.setdiff1d(np.arange(len(y)), test)
    labelled = list(np.concatenate([rng.choice(np.intersect1d(pool, np.flatnonzero(y == k)), 2,
                                               replace=False) for k in range(K)]))
    curve = []
    while True:
        w, b = fit_head(labelled)
        acc = float(((Xt[test] @ w + b).argmax(1).numpy() == y[test]).mean())
        curve.append((len(labelled), acc))
        if len(labelled) >= args.budget:
            return curve
        rest = np.setdiff1d(pool, labelled)
        if strategy == "random":
            pick = list(rng.choice(rest, args.batch, replace=False))
        else:
            probs = torch.softmax(Xt[rest] @ w + b, 1).numpy()
            pick = next_order(probs, list(rest), args.batch, X[rest])
            if args.check_engine:
                mirror = next_order(probs.astype(np.float32).astype(np.float64),
                                    list(range(len(rest))), args.batch, X[rest])
                assert engine_order(probs, X[rest], args.batch) == mirror, f"seed {seed}"
                checked += 1
        labelled += pick


results = {s: np.array([[a for _, a in simulate(seed, s)] for seed in range(args.seeds)])
           for s in ("random", "next")}
counts = [n for n, _ in simulate(0, "random")]
print(f"# {len(y)} photos, {K} classes, {args.seeds} seeds; test accuracy (mean ± sd) by labels")
print(f"{'labels':>6} {'random':>15} {'next':>15}")
for i, n in enumerate(counts):
    r, q = results["random"][:, i], results["next"][:, i]
    print(f"{n:>6} {100 * r.mean():>8.1f} ± {100 * r.std():4.1f} {100 * q.mean():>8.1f} ± {100 * q.std():4.1f}")
ceiling = []
for seed in range(args.seeds):
    rng = np.random.default_rng(seed)
    test = np.concatenate([rng.permutation(np.flatnonzero(y == k))[:int(0.2 * (y == k).sum())]
                           for k in range(K)])
    w, b = fit_head(np.setdiff1d(np.arange(len(y)), test))
    ceiling.append(float(((Xt[test] @ w + b).argmax(1).numpy() == y[test]).mean()))
if args.check_engine:
    print(f"# leaf_next_rank() and next_order() agreed in all {checked} rounds")
print(f"# every pool photo labelled ({len(y) - len(test)}): {100 * np.mean(ceiling):.1f} %")
for share in (0.8, 0.9):
    target = share * np.mean(ceiling)
    reach = {}
    for s in results:
        mean = results[s].mean(0)
        hit = [counts[i] for i in range(len(counts)) if mean[i] >= target]
        reach[s] = hit[0] if hit else None
    print(f"# labels to reach {100 * share:.0f} % of that ({100 * target:.1f} %): "
          f"random {reach['random']}, next {reach['next']}")
