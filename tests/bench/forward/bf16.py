#!/usr/bin/python3
# bf16.py: bfloat16 against float32 for what Leafscope computes most, side by side in one run,
# on this processor through Debian's PyTorch (the same libtorch 1.13 and oneDNN as the shim):
#
#   - extraction: the frozen stages features[0:7] at batch 32 (what training caches);
#   - diagnosis: the whole model on one photo;
#   - held-out accuracy of a Leafscope model on photos it never trained on.
#
#   tests/bench/forward/bf16.py --model RUN.safetensors --photos SPLIT.tsv [--json]
#
# SPLIT.tsv is what `leafscope-cli split --export` writes (path, class, split); the photos of
# the "val" split are used. The model file is read as the state dict it is (names as
# torchvision's efficientnet_b0). Two bfloat16 forms are timed: the weights and input cast to
# bfloat16 (channels-last, as the shim lays them out), and float32 weights under autocast.
#
# SPDX-License-Identifier: GPL-3.0-or-later

import argparse
import json
import os
import platform
import statistics
import struct
import time

import torch
import torchvision
from PIL import Image

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
          "I64": torch.int64, "I32": torch.int32}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = json.loads(header.get("__metadata__", {}).get("leafscope", "{}"))
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[start:end]), dtype=DTYPES[info["dtype"]])
        tensors[name] = t.reshape(info["shape"])
    return tensors, meta


def preprocess(path):
    image = Image.open(path).convert("RGB")
    t = torchvision.transforms.functional
    image = t.resize(image, 256, interpolation=torchvision.transforms.InterpolationMode.BICUBIC,
                     antialias=True)
    image = t.center_crop(image, 224)
    x = t.to_tensor(image)
    return t.normalize(x, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])


def timed(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="a model Leafscope trained (.safetensors)")
    ap.add_argument("--photos", required=True, help="split --export TSV; its val photos are used")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--latency-runs", type=int, default=30)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count())

    state, meta = read_safetensors(args.model)
    n_classes = state["classifier.1.weight"].shape[0]
    model = torchvision.models.efficientnet_b0(num_classes=n_classes)
    model.load_state_dict(state)
    model.eval()
    bf16 = torchvision.models.efficientnet_b0(num_classes=n_classes)
    bf16.load_state_dict(state)
    bf16 = bf16.eval().to(torch.bfloat16).to(memory_format=torch.channels_last)
    model_cl = model.to(memory_format=torch.channels_last)

    rows = [line.rstrip("\n").split("\t") for line in open(args.photos, encoding="utf-8")]
    val = [(path, name) for path, name, split in rows if split == "val"]
    classes = meta["classes"]
    photos = torch.stack([preprocess(path) for path, _ in val])
    labels = torch.tensor([classes.index(name) for _, name in val])
    batch = photos[:32].contiguous(memory_format=torch.channels_last)

    forms = {
        "float32": lambda m, x: model_cl(x),
        "bfloat16": lambda m, x: bf16(x.to(torch.bfloat16)).float(),
    }
    prefix = {
        "float32": lambda x: model_cl.features[:7](x),
        "bfloat16": lambda x: bf16.features[:7](x.to(torch.bfloat16)),
    }
    result = dict(date=time.strftime("%Y-%m-%d"), machine=dict(
        cpus=os.cpu_count(), processor=platform.processor() or platform.machine(),
        torch=torch.__version__, bf16_supported=torch.backends.mkldnn.is_available()),
        val_photos=len(val), forms={})
    with torch.inference_mode():
        for name in forms:
            extract = timed(lambda: prefix[name](batch), args.repeats)
            one = photos[:1].contiguous(memory_format=torch.channels_last)
            latency = sorted(timed(lambda: forms[name](None, one), args.latency_runs))
            logits = torch.cat([forms[name](None, photos[i:i + 32].contiguous(
                memory_format=torch.channels_last)) for i in range(0, len(val), 32)])
            accuracy = (logits.argmax(1) == labels).float().mean().item()
            result["forms"][name] = dict(
                extraction_images_per_second=len(batch) / min(extract),
                diagnosis_ms_p50=1000 * statistics.median(latency),
                diagnosis_ms_p95=1000 * latency[int(0.95 * (len(latency) - 1))],
                accuracy=accuracy)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            extract = timed(lambda: model_cl.features[:7](batch), args.repeats)
        result["forms"]["autocast-bfloat16"] = dict(
            extraction_images_per_second=len(batch) / min(extract))

    f32, b16 = result["forms"]["float32"], result["forms"]["bfloat16"]
    result["bfloat16_faster"] = (b16["extraction_images_per_second"] >
                                 f32["extraction_images_per_second"])
    result["accuracy_points"] = 100 * (b16["accuracy"] - f32["accuracy"])
    result["use_bfloat16"] = result["bfloat16_faster"] and abs(result["accuracy_points"]) <= 0.5
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for name, r in result["forms"].items():
        print(name, ", ".join(f"{k} {v:.4g}" for k, v in r.items()))
    print(f"bfloat16 faster: {result['bfloat16_faster']}; accuracy "
          f"{result['accuracy_points']:+.2f} points; use it: {result['use_bfloat16']}")


if __name__ == "__main__":
    main()
