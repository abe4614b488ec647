#!/usr/bin/python3
# make-seeds.py: writes the small valid files the fuzz targets start from (run once; the output
# is committed). Usage: /usr/bin/python3 make-seeds.py [DIR]  (default: next to this script)
#
# SPDX-License-Identifier: GPL-3.0-or-later

import io
import json
import os
import struct
import sys
from collections import OrderedDict

import torch
from PIL import Image

root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))


def write(folder, name, data):
    path = os.path.join(root, folder, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def torch_bytes(obj):
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


# Checkpoints: the containers and dtypes torch.save writes for state dicts, kept tiny.
torch.manual_seed(0)
write("corpus-checkpoint", "ordered-dict.pth", torch_bytes(OrderedDict(
    [("conv.weight", torch.randn(2, 1, 3, 3)), ("conv.bias", torch.zeros(2)),
     ("bn.num_batches_tracked", torch.tensor(3))])))
write("corpus-checkpoint", "nested.pth", torch_bytes(
    {"state_dict": {"a": torch.arange(6, dtype=torch.int32).reshape(2, 3),
                    "b": torch.ones(4, dtype=torch.float16)}, "epoch": 3}))
base = torch.arange(12, dtype=torch.float64)
write("corpus-checkpoint", "shared-views.pth", torch_bytes(
    {"whole": base, "strided": base[::3], "transposed": base.reshape(3, 4).t()}))
write("corpus-checkpoint", "dtypes.pth", torch_bytes(
    {"bf16": torch.ones(2, dtype=torch.bfloat16), "b": torch.tensor([True, False]),
     "u8": torch.tensor([1, 255], dtype=torch.uint8), "i64": torch.tensor([-1, 2**40])}))


# Safetensors: an 8-byte little-endian header length, a JSON header, the data.
def safetensors(tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


write("corpus-safetensors", "two.safetensors", safetensors(OrderedDict(
    [("w", ("F32", [2, 2], struct.pack("<4f", 1, 2, 3, 4))),
     ("n", ("I64", [], struct.pack("<q", 7)))]), {"format": "pt"}))
write("corpus-safetensors", "dtypes.safetensors", safetensors(OrderedDict(
    [("h", ("F16", [2], b"\x00\x3c\x00\x40")), ("bf", ("BF16", [1], b"\x80\x3f")),
     ("b", ("BOOL", [3], b"\x01\x00\x01")), ("e", ("F32", [0, 3], b""))])))
meta = {"format": "leafscope-model", "version": 1, "architecture": "efficientnet_b0",
        "classes": ["healthy", "late blight"], "image_size": 224, "resize_size": 256,
        "interpolation": "bilinear", "recipe": {"preset": "article", "seed": 0},
        "metrics": {"accuracy": 0.9}, "catalog": "/tmp/a.leafscope", "run_id": 4,
        "created": "2026-01-01T00:00:00Z", "temperature": 1.5, "refer_below": 0.6}
write("corpus-safetensors", "model.safetensors", safetensors(
    {"classifier.1.bias": ("F32", [2], struct.pack("<2f", 0.5, -0.5))},
    {"leafscope": json.dumps(meta)}))

# Model metadata, as the header of a model file carries it.
write("corpus-model-meta", "full.json", json.dumps(meta).encode())
write("corpus-model-meta", "minimal.json",
      json.dumps({"format": "leafscope-model", "classes": ["a"]}).encode())

# Images: every format an import accepts, with and without EXIF orientation.
picture = Image.new("RGB", (12, 8))
picture.putdata([((x * 20) % 256, (y * 30) % 256, 90) for y in range(8) for x in range(12)])
exif = Image.Exif()
exif[0x0112] = 6                       # orientation: rotate 90
exif[0x8769] = {0x9003: "2024:05:01 10:20:30"}


def image_bytes(fmt, **options):
    buffer = io.BytesIO()
    picture.save(buffer, fmt, **options)
    return buffer.getvalue()


write("corpus-image", "plain.jpg", image_bytes("JPEG", quality=50))
write("corpus-image", "exif.jpg", image_bytes("JPEG", quality=50, exif=exif.tobytes()))
write("corpus-image", "progressive.jpg", image_bytes("JPEG", quality=50, progressive=True))
write("corpus-image", "rgb.png", image_bytes("PNG"))
palette = io.BytesIO()
picture.convert("P").save(palette, "PNG")
write("corpus-image", "palette.png", palette.getvalue())
write("corpus-image", "exif.tiff", image_bytes("TIFF", exif=exif.tobytes()))
write("corpus-image", "small.webp", image_bytes("WEBP", quality=50))
write("corpus-image", "small.bmp", image_bytes("BMP"))
