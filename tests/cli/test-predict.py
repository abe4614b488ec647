#!/usr/bin/python3
# test-predict.py: `leafscope-cli predict --weights` gives torchvision's logits for a photo.
#
# Debian's torchvision builds an efficientnet_b0 (fixed seed, BatchNorm statistics recalibrated
# on random images so that activations are in a realistic range), saves it as torch.save does,
# and computes logits with torchvision's own IMAGENET1K_V1 preprocessing on PIL; the CLI reads
# the same file and photo through the shim and must agree.
#
# SPDX-License-Identifier: GPL-3.0-or-later

import json
import os
import subprocess
import sys
import tempfile

try:
    import torch
    import torchvision
    from PIL import Image
    from torchvision import transforms as T
except ImportError as e:
    print(f"1..0 # SKIP Debian's python3-torchvision is not installed ({e})")
    sys.exit(0)

cli = os.environ["LEAFSCOPE_CLI"]
torch.manual_seed(0)


def make_model(num_classes):
    model = torchvision.models.efficientnet_b0(num_classes=num_classes)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(8, 3, 224, 224) * 2 - 1)
    return model.eval()


def photo(path, w, h):
    g = torch.Generator().manual_seed(w * h)
    small = torch.rand(3, h // 8, w // 8, generator=g)
    big = torch.nn.functional.interpolate(small[None], size=(h, w), mode="bilinear")[0]
    Image.fromarray((big.permute(1, 2, 0) * 255).byte().numpy()).save(path)


preprocess = T.Compose([T.Resize(256, interpolation=T.InterpolationMode.BICUBIC),
                        T.CenterCrop(224), T.ToTensor(),
                        T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])

cases = [(1000, 320, 240), (5, 200, 300)]
print(f"1..{len(cases) + 1}")
n = 0
failed = False
with tempfile.TemporaryDirectory() as tmp:
    # The CLI must not read or write the real home's settings, data or caches.
    env = dict(os.environ, HOME=tmp, **{f"XDG_{kind}_HOME": os.path.join(tmp, kind.lower())
                                        for kind in ("CONFIG", "DATA", "CACHE")})
    for num_classes, w, h in cases:
        n += 1
        model = make_model(num_classes)
        weights = os.path.join(tmp, f"b0-{num_classes}.pth")
        torch.save(model.state_dict(), weights)
        image = os.path.join(tmp, f"photo-{w}x{h}.png")
        photo(image, w, h)
        with torch.no_grad():
            ref = model(preprocess(Image.open(image).convert("RGB"))[None])[0]
        out = subprocess.run([cli, "predict", "--weights", weights, "--logits", "--json", image],
                             check=True, capture_output=True, text=True, env=env).stdout
        result = json.loads(out)
        ours = torch.tensor(result["logits"])
        err = (ours - ref).abs().max().item()
        bound = 1e-4 * ref.abs().max().item()
        top = result["top"][0]["index"]
        ok = err <= bound and top == int(ref.argmax()) and len(result["top"]) == min(5, num_classes)
        failed |= not ok
        print(f"{'ok' if ok else 'not ok'} {n} /cli/predict/weights-{num_classes}-classes"
              f" # max |dlogit| {err:.3g}, bound {bound:.3g}")

    # A file that is not a weight file is refused with a message, not a crash.
    n += 1
    bogus = os.path.join(tmp, "notes.pth")
    with open(bogus, "w") as f:
        f.write("these are not weights\n")
    p = subprocess.run([cli, "predict", "--weights", bogus, image], capture_output=True, text=True,
                       env=env)
    ok = p.returncode == 1 and "leafscope-cli:" in p.stderr and p.stdout == ""
    failed |= not ok
    print(f"{'ok' if ok else 'not ok'} {n} /cli/predict/refuses-text-file # {p.stderr.strip()}")

sys.exit(1 if failed else 0)
