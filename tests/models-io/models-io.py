#!/usr/bin/python3
# models-io.py: what PyTorch makes and says for the model export and import tests
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Usage: models-io.py make OUTDIR
#          writes OUTDIR/photos/<class>/<n>.png (an ImageFolder tree of made-up photos), one
#          torchvision EfficientNet-B0 with 3 classes saved as PyTorch users save it (plain.pth,
#          state-dict.pth, model-state-dict.pth, module.pth, lightning.ckpt) and
#          OUTDIR/logits.json: {photo path: torchvision's logits}, preprocessed as the
#          IMAGENET1K_V1 preset does
#        models-io.py snippet DOC MODEL PHOTO
#          runs the Python snippet of docs/model-format.md on MODEL and PHOTO; prints its logits
#        models-io.py torch MODEL N PHOTO
#          torch.load(MODEL, weights_only=True) into efficientnet_b0(num_classes=N), strictly;
#          prints its logits for PHOTO
#
# Each prints JSON. Nothing here reads what the code under test computes.

import collections
import json
import os
import re
import sys

import torch
import torchvision
from PIL import Image, ImageOps
from torchvision import transforms as T

CLASSES = ["early_blight", "healthy", "late_blight"]


def preprocess(photo):
    image = ImageOps.exif_transpose(Image.open(photo)).convert("RGB")
    t = T.Compose([T.Resize(256, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(224),
                   T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    return t(image).unsqueeze(0)


def logits_of(model, photo):
    model.eval()
    with torch.no_grad():
        return model(preprocess(photo))[0].tolist()


def make(outdir):
    torch.manual_seed(7)
    model = torchvision.models.efficientnet_b0(num_classes=len(CLASSES))
    # Running statistics away from 0 and 1, and a head that separates, so that a buffer loaded
    # wrongly changes the logits.
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.8, 1.2)
    with torch.no_grad():
        model.classifier[1].weight.mul_(20)
    sd = model.state_dict()

    torch.save(sd, os.path.join(outdir, "plain.pth"))
    torch.save({"epoch": 3, "state_dict": sd, "best_accuracy": 0.9},
               os.path.join(outdir, "state-dict.pth"))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    torch.save({"epoch": 3, "model_state_dict": sd, "optimizer_state_dict": optimizer.state_dict()},
               os.path.join(outdir, "model-state-dict.pth"))
    torch.save(torch.nn.DataParallel(model).state_dict(), os.path.join(outdir, "module.pth"))

    class Lit(torch.nn.Module):  # what a LightningModule holds: the model and its loss
        def __init__(self):
            super().__init__()
            self.model = model
            self.criterion = torch.nn.CrossEntropyLoss(weight=torch.ones(len(CLASSES)))

    torch.save({"epoch": 5, "global_step": 40, "pytorch-lightning_version": "1.9.0",
                "state_dict": Lit().state_dict(), "hyper_parameters": {"lr": 0.001}},
               os.path.join(outdir, "lightning.ckpt"))
    wide = torchvision.models.efficientnet_b0(num_classes=4)
    torch.save(wide.state_dict(), os.path.join(outdir, "four-classes.pth"))

    logits = {}
    g = torch.Generator().manual_seed(3)
    for c, name in enumerate(CLASSES):
        folder = os.path.join(outdir, "photos", name)
        os.makedirs(folder)
        for n in range(4):
            # Smooth colour fields of different sizes, so that resizing and cropping matter.
            small = torch.rand(3, 6, 5, generator=g) * 0.5 + 0.25 * torch.tensor([c, 1, 2 - c])[:, None, None]
            big = torch.nn.functional.interpolate(small[None], size=(240 + 20 * n, 300), mode="bilinear")[0]
            pixels = (big.clamp(0, 1) * 255).byte().permute(1, 2, 0).numpy()
            photo = os.path.join(folder, f"{n}.png")
            Image.fromarray(pixels).save(photo)
            logits[photo] = logits_of(model, photo)
    with open(os.path.join(outdir, "logits.json"), "w") as f:
        json.dump(logits, f)


def snippet(doc, model_path, photo):
    """The documented snippet, run as a user would copy it."""
    text = open(doc, encoding="utf-8").read()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    assert len(code.strip().splitlines()) <= 15, "the snippet is longer than 15 lines"
    code = code.replace('"model.safetensors"', repr(model_path)).replace('"leaf.jpg"', repr(photo))
    scope = {}
    exec(compile(code, doc, "exec"), scope)
    return {"logits": scope["logits"].tolist(), "probabilities": scope["probabilities"].tolist()}


def load_torch(model_path, n, photo):
    sd = torch.load(model_path, map_location="cpu", weights_only=True)
    assert type(sd) is collections.OrderedDict
    model = torchvision.models.efficientnet_b0(num_classes=n)
    model.load_state_dict(sd, strict=True)
    return {"logits": logits_of(model, photo)}


def main():
    torch.set_num_threads(2)
    if sys.argv[1] == "make":
        make(sys.argv[2])
    elif sys.argv[1] == "snippet":
        print(json.dumps(snippet(sys.argv[2], sys.argv[3], sys.argv[4])))
    elif sys.argv[1] == "torch":
        print(json.dumps(load_torch(sys.argv[2], int(sys.argv[3]), sys.argv[4])))


if __name__ == "__main__":
    main()
