#!/usr/bin/python3
# make-reference.py: test photos and what PIL and torchvision make of them
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Usage: make-reference.py OUTDIR
# Writes photos (JPEG and PNG, several shapes, EXIF orientations, alpha, grey, palette) into
# OUTDIR, and for each the reference that test-image compares with:
#   <name>.rgb             ImageOps.exif_transpose(Image.open(p)).convert("RGB") as HxWx3 bytes
#   <name>.<R>-<C>.f32     Compose([Resize(R, BICUBIC), CenterCrop(C), ToTensor(),
#                          Normalize(ImageNet)]) of that, CHW float32
#   <name>.bilinear.f32    the same with a bilinear resize (a wrong algorithm)
#   <name>.no-antialias.f32  the same with torch's bicubic without antialiasing (wrong too)
# plus references for resized crops, colour jitter and the eight dihedral views, and, when
# $LEAFSCOPE_SHARED/data/tomato5-dev exists, for a few real photos (read in place, never copied).
# Everything is listed in OUTDIR/manifest.json. Exits with 77 when torch or PIL is missing.

import json
import os
import sys

try:
    import numpy as np
    import torch
    from PIL import Image, ImageOps
    from torchvision import transforms
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as F
except ImportError as e:
    print(f"make-reference.py: {e}", file=sys.stderr)
    sys.exit(77)

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]

rng = np.random.default_rng(20240611)


def smooth_rgb(width, height):
    """A photo-like image: bicubic-enlarged random blobs plus a little grain."""
    small = rng.integers(0, 256, (height // 12 + 2, width // 12 + 2, 3), dtype=np.uint8)
    base = np.asarray(Image.fromarray(small).resize((width, height), Image.BICUBIC), np.int32)
    grain = rng.integers(-12, 13, (height, width, 3))
    return Image.fromarray(np.clip(base + grain, 0, 255).astype(np.uint8))


def exif_with_orientation(orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def open_rgb(path):
    return ImageOps.exif_transpose(Image.open(path)).convert("RGB")


def preset(resize, crop, interpolation=InterpolationMode.BICUBIC):
    return transforms.Compose([
        transforms.Resize(resize, interpolation=interpolation),
        transforms.CenterCrop(crop),
        transforms.ToTensor(),
        transforms.Normalize(MEAN, STD),
    ])


def no_antialias(img, resize, crop):
    t = torch.from_numpy(np.array(img)).permute(2, 0, 1).contiguous()
    t = F.resize(t, resize, interpolation=InterpolationMode.BICUBIC, antialias=False)
    t = F.center_crop(t, crop)
    return F.normalize(t.float() / 255, MEAN, STD)


def save_f32(outdir, name, tensor):
    np.ascontiguousarray(tensor.numpy(), dtype="<f4").tofile(os.path.join(outdir, name))
    return name


def describe(outdir, name, path, sizes, wrong):
    img = open_rgb(path)
    entry = {"name": name, "path": path, "width": img.width, "height": img.height,
             "rgb": name + ".rgb", "tensors": []}
    np.asarray(img, np.uint8).tofile(os.path.join(outdir, entry["rgb"]))
    for resize, crop in sizes:
        entry["tensors"].append({
            "resize": resize, "crop": crop,
            "file": save_f32(outdir, f"{name}.{resize}-{crop}.f32", preset(resize, crop)(img)),
        })
    if wrong:
        entry["bilinear"] = save_f32(outdir, name + ".bilinear.f32",
                                     preset(256, 224, InterpolationMode.BILINEAR)(img))
        entry["no-antialias"] = save_f32(outdir, name + ".no-antialias.f32",
                                         no_antialias(img, 256, 224))
    return entry


def make_photos(outdir):
    """(name, file, PIL image, save options, sizes, include wrong-algorithm references)."""
    std = [(256, 224)]
    both = [(256, 224), (182, 160)]
    rgba = smooth_rgb(320, 240).convert("RGBA")
    alpha = np.asarray(rgba).copy()
    alpha[:, :, 3] = np.linspace(0, 255, 320, dtype=np.uint8)[None, :]
    alpha[:40, :, 3] = 0
    gray = smooth_rgb(260, 300).convert("L")
    palette = smooth_rgb(300, 260).quantize(colors=64)
    return [
        ("landscape", "landscape.jpg", smooth_rgb(300, 200), {"quality": 90}, both, False),
        ("portrait", "portrait.jpg", smooth_rgb(200, 333), {"quality": 85}, std, False),
        ("square", "square.jpg", smooth_rgb(256, 256), {"quality": 95}, both, False),
        ("odd", "odd.jpg", smooth_rgb(257, 511), {"quality": 80, "subsampling": 0}, std, False),
        ("wide", "wide.jpg", smooth_rgb(1024, 683), {"quality": 90}, both, True),
        ("tall", "tall.png", smooth_rgb(480, 1000), {}, std, True),
        ("small", "small.png", smooth_rgb(97, 131), {}, both, False),
        ("alpha", "alpha.png", Image.fromarray(alpha, "RGBA"), {}, std, False),
        ("gray", "gray.jpg", gray, {"quality": 90}, std, False),
        ("palette", "palette.png", palette, {}, std, False),
        ("exif6", "exif6.jpg", smooth_rgb(320, 240),
         {"quality": 90, "exif": exif_with_orientation(6)}, std, False),
        ("exif3", "exif3.jpg", smooth_rgb(300, 225),
         {"quality": 90, "exif": exif_with_orientation(3)}, std, False),
    ]


def main():
    outdir = sys.argv[1]
    manifest = {"images": [], "real": [], "regions": [], "jitter": [], "views": []}

    for name, file_name, img, options, sizes, wrong in make_photos(outdir):
        path = os.path.join(outdir, file_name)
        img.save(path, **options)
        manifest["images"].append(describe(outdir, name, path, sizes, wrong))

    # RandomResizedCrop's second half: F.resized_crop with a given rectangle.
    for name, (top, left, height, width) in [("wide", (50, 100, 400, 500)),
                                               ("landscape", (20, 10, 150, 100)),
                                               ("portrait", (0, 0, 333, 200))]:
        img = open_rgb(os.path.join(outdir, name + ".jpg"))
        t = F.resized_crop(img, top, left, height, width, [224, 224],
                           interpolation=InterpolationMode.BICUBIC)
        t = F.normalize(F.to_tensor(t), MEAN, STD)
        manifest["regions"].append({
            "image": name, "x": left, "y": top, "width": width, "height": height,
            "file": save_f32(outdir, f"{name}.region-{left}-{top}.f32", t)})

    # ColorJitter's tensor path with given factors and order.
    img = open_rgb(os.path.join(outdir, "square.jpg"))
    base = F.to_tensor(F.center_crop(F.resize(img, 256, InterpolationMode.BICUBIC), 224))
    adjust = [F.adjust_brightness, F.adjust_contrast, F.adjust_saturation]
    for i, (factors, order) in enumerate([((1.3, 0.7, 1.5), (2, 0, 1)),
                                          ((0.6, 1.4, 0.2), (1, 2, 0)),
                                          ((1.9, 0.1, 1.0), (0, 1, 2))]):
        t = base.clone()
        for op in order:
            t = adjust[op](t, factors[op])
        manifest["jitter"].append({
            "image": "square", "brightness": factors[0], "contrast": factors[1],
            "saturation": factors[2], "order": list(order),
            "file": save_f32(outdir, f"jitter-{i}.f32", F.normalize(t, MEAN, STD))})

    # The eight views, by torch's own operations, on planes of distinct values.
    for size in (6, 7):
        x = torch.arange(3 * size * size, dtype=torch.float32).reshape(3, size, size)
        views = {
            "identity": x,
            "flip-horizontal": torch.flip(x, (-1,)),
            "flip-vertical": torch.flip(x, (-2,)),
            "rotate-90": torch.rot90(x, 1, (-2, -1)),
            "rotate-180": torch.rot90(x, 2, (-2, -1)),
            "rotate-270": torch.rot90(x, 3, (-2, -1)),
            "transpose": x.transpose(-2, -1),
            "anti-transpose": torch.rot90(x, 2, (-2, -1)).transpose(-2, -1),
        }
        manifest["views"].append({
            "size": size,
            "files": {k: save_f32(outdir, f"view-{size}-{k}.f32", v) for k, v in views.items()}})

    shared = os.environ.get("LEAFSCOPE_SHARED", "")
    real_dir = os.path.join(shared, "data", "tomato5-dev")
    if shared and os.path.isdir(real_dir):
        for cls in sorted(os.listdir(real_dir)):
            cls_dir = os.path.join(real_dir, cls)
            if not os.path.isdir(cls_dir):
                continue
            for i, file_name in enumerate(sorted(os.listdir(cls_dir))[:2]):
                manifest["real"].append(describe(outdir, f"real-{cls}-{i}",
                                                 os.path.join(cls_dir, file_name),
                                                 [(256, 224)], False))

    with open(os.path.join(outdir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()
