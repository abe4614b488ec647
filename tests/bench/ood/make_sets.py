#!/usr/bin/python3
# make_sets.py: photos unlike a lab training set, made from held-back lab photos and from nothing
#
#   make_sets.py PHOTOS.tsv OUT [--seed N]
#
# PHOTOS.tsv lists `path<TAB>class` of lab photos the model did not train on. OUT receives one
# ImageFolder tree per set (OUT/SET/CLASS/NAME.png), the photos' classes kept where a set is
# made from them, and OUT/other/none/*.png for photos of other things:
#
#   lab         the held-back photos as they are (the in-distribution reference)
#   cluttered   each leaf cut from its plain background and pasted on a cluttered scene
#   blur        a Gaussian blur of radius 6 pixels (of 256)
#   overexposed the exposure times 3, clipped
#   underexposed the exposure times 0.12
#   other       generated textures and scenes with no leaf: noise, stripes, checkers, gradients,
#               shapes
#
# SPDX-License-Identifier: GPL-3.0-or-later

import argparse
import os
import random

from PIL import Image, ImageChops, ImageDraw, ImageEnhance, ImageFilter, ImageOps

SIZE = 256


def clutter(rng):
    """A busy scene: soil, stones, stems, bright objects, text-like marks."""
    base = tuple(rng.randint(40, 160) for _ in range(3))
    img = Image.new("RGB", (SIZE, SIZE), base)
    draw = ImageDraw.Draw(img)
    for _ in range(rng.randint(40, 90)):
        colour = tuple(rng.randint(0, 255) for _ in range(3))
        x, y = rng.randint(-40, SIZE), rng.randint(-40, SIZE)
        w, h = rng.randint(8, 90), rng.randint(8, 90)
        kind = rng.random()
        if kind < 0.4:
            draw.ellipse([x, y, x + w, y + h], fill=colour)
        elif kind < 0.7:
            draw.rectangle([x, y, x + w, y + h], fill=colour)
        else:
            draw.line([x, y, x + w, y + h], fill=colour, width=rng.randint(2, 9))
    noise = Image.effect_noise((SIZE, SIZE), rng.uniform(20, 60)).convert("RGB")
    return Image.blend(img.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 2))), noise, 0.15)


def leaf_mask(photo):
    """Pixels unlike the border's plain grey: the leaf (PlantVillage backgrounds are even)."""
    border = [photo.getpixel((x, y)) for x in range(0, SIZE, 8) for y in (0, SIZE - 1)]
    border += [photo.getpixel((x, y)) for y in range(0, SIZE, 8) for x in (0, SIZE - 1)]
    mean = tuple(sorted(c[i] for c in border)[len(border) // 2] for i in range(3))
    diff = ImageChops.difference(photo, Image.new("RGB", photo.size, mean)).convert("L")
    saturation = photo.convert("HSV").getchannel("S")
    mask = ImageChops.lighter(diff.point(lambda v: 255 if v > 40 else 0),
                              saturation.point(lambda v: 255 if v > 70 else 0))
    # Close the holes of pale spots, then drop specks of background.
    mask = mask.filter(ImageFilter.MaxFilter(7)).filter(ImageFilter.MinFilter(7))
    return mask.filter(ImageFilter.MedianFilter(5)).filter(ImageFilter.GaussianBlur(1))


def other_thing(rng, i):
    kind = i % 5
    if kind == 0:
        img = Image.effect_noise((SIZE, SIZE), rng.uniform(30, 120)).convert("RGB")
        return ImageOps.colorize(img.convert("L"), tuple(rng.randint(0, 255) for _ in range(3)),
                                 tuple(rng.randint(0, 255) for _ in range(3)))
    if kind == 1:
        img = Image.new("RGB", (SIZE, SIZE))
        draw = ImageDraw.Draw(img)
        step = rng.randint(6, 40)
        a, b = (tuple(rng.randint(0, 255) for _ in range(3)) for _ in range(2))
        for k in range(-SIZE, 2 * SIZE, step):
            draw.line([k, 0, k + rng.randint(-80, 80), SIZE], fill=a if (k // step) % 2 else b,
                      width=step // 2 + 1)
        return img
    if kind == 2:
        cell = rng.randint(8, 48)
        a, b = (tuple(rng.randint(0, 255) for _ in range(3)) for _ in range(2))
        img = Image.new("RGB", (SIZE, SIZE), a)
        draw = ImageDraw.Draw(img)
        for x in range(0, SIZE, cell):
            for y in range(0, SIZE, cell):
                if (x // cell + y // cell) % 2:
                    draw.rectangle([x, y, x + cell - 1, y + cell - 1], fill=b)
        return img.rotate(rng.uniform(0, 90), resample=Image.BICUBIC, fillcolor=a)
    if kind == 3:
        # A sky over a ground, a horizon and a sun: a plain outdoor scene.
        sky = Image.linear_gradient("L").resize((SIZE, SIZE))
        img = ImageOps.colorize(sky, (rng.randint(60, 140), rng.randint(120, 200), 255),
                                (240, 240, 255))
        draw = ImageDraw.Draw(img)
        horizon = rng.randint(100, 200)
        draw.rectangle([0, horizon, SIZE, SIZE], fill=(rng.randint(80, 160), rng.randint(60, 120),
                                                       rng.randint(20, 60)))
        r = rng.randint(10, 30)
        x, y = rng.randint(r, SIZE - r), rng.randint(r, horizon)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=(255, 240, 150))
        return img
    return clutter(rng)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("photos")
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--other", type=int, default=100)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    rows = [line.rstrip("\n").split("\t")[:2] for line in open(args.photos) if line.strip()]
    for path, cls in rows:
        photo = Image.open(path).convert("RGB").resize((SIZE, SIZE))
        name = os.path.splitext(os.path.basename(path))[0] + ".png"
        made = {
            "lab": photo,
            "cluttered": Image.composite(photo, clutter(rng), leaf_mask(photo)),
            "blur": photo.filter(ImageFilter.GaussianBlur(6)),
            "overexposed": ImageEnhance.Brightness(photo).enhance(3.0),
            "underexposed": ImageEnhance.Brightness(photo).enhance(0.12),
        }
        for kind, img in made.items():
            folder = os.path.join(args.out, kind, cls)
            os.makedirs(folder, exist_ok=True)
            img.save(os.path.join(folder, name))
    folder = os.path.join(args.out, "other", "none")
    os.makedirs(folder, exist_ok=True)
    for i in range(args.other):
        other_thing(rng, i).save(os.path.join(folder, f"other-{i:03d}.png"))


if __name__ == "__main__":
    main()
