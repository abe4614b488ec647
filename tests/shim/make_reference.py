#!/usr/bin/python3
# make_reference.py: reference outputs from torchvision's own efficientnet_b0, which the shim
# must reproduce. Writes into the directory given as the only argument:
#   b0.pth              torchvision state dict (OrderedDict, as torch.save writes it) whose
#                       BatchNorm statistics were recalibrated on synthetic images
#   broken.pth          the same with one key renamed, one dropped and one shape changed
#   nan.pth, inf.pth,   the same with one NaN weight, one infinite bias, one negative BatchNorm
#   negative-var.pth,   variance, integer stem weights: every key and shape fits, the values
#   integer.pth         cannot be trained from
#   input.f32           the evaluation batch, raw little-endian float32 [N, 3, H, W]
#   logits1000.f32      eval-mode logits of the 1000-class model on input.f32
#   logits5.f32         logits after swapping in a 5-class head made of copied rows
#   cam.f32             Grad-CAM on features.8 of the 1000-class model for cam_class, [N, H, W]
#   train-input.f32     the training batch
#   after-adam.pth      the 5-class model's state dict after one Adam step (see train_step)
#   after-sgd.pth       the same after one SGD step with momentum instead
#   reference.ini       shapes, the copied rows, the training settings and the loss
#
# SPDX-License-Identifier: GPL-3.0-or-later

import collections
import copy
import os
import sys
from functools import partial

import torch
import torch.nn.functional as F
import torchvision

BATCH = 3
SIZE = 96
HEAD_ROWS = [7, 123, 404, 650, 999]
CAM_CLASS = 404
TRAIN_LABELS = [0, 3, 1, 4]
LABEL_SMOOTHING = 0.1
CLASS_WEIGHTS = [1.0, 2.0, 0.5, 1.0, 1.5]
# Learning rates of the features.7-8 group and of the head group. SGD's are large so that the
# step stands well above float32 rounding of the parameters when the test subtracts them.
ADAM_LR = (1e-3, 1e-2)
SGD_LR = (1.0, 0.5)
SGD_MOMENTUM = 0.9
WEIGHT_DECAY = 1e-4


def write_f32(path, tensor):
    tensor.detach().to(torch.float32).contiguous().numpy().astype("<f4").tofile(path)


def synthetic_images(generator, n):
    """Smooth random colour fields plus noise: closer to photos than white noise."""
    low = torch.randn(n, 3, SIZE // 16, SIZE // 16, generator=generator)
    x = F.interpolate(low, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
    return x + 0.3 * torch.randn(n, 3, SIZE, SIZE, generator=generator)


def recalibrate(model, generator):
    """Running statistics from a few batches, so that activations are in a realistic range."""
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(synthetic_images(generator, 8))
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = 0.1
    model.eval()


def grad_cam(model, x, cls):
    act = model.features(x).detach().requires_grad_(True)
    score = model.classifier(torch.flatten(model.avgpool(act), 1))[:, cls].sum()
    (grad,) = torch.autograd.grad(score, act)
    cam = F.relu((grad.mean(dim=(2, 3), keepdim=True) * act).sum(1, keepdim=True))
    cam = F.interpolate(cam, size=x.shape[2:], mode="bilinear", align_corners=False)[:, 0]
    low = cam.amin(dim=(1, 2), keepdim=True)
    span = cam.amax(dim=(1, 2), keepdim=True) - low
    return (cam - low) / span


def train_step(model, x, optimiser, lr):
    """One step on features.7, features.8 and the head, the rest frozen, BatchNorm in inference
    mode and dropout off (model.eval()); the features and the head in two groups."""
    for name, param in model.named_parameters():
        param.requires_grad = name.startswith(("features.7.", "features.8.", "classifier."))
    model.eval()
    features = [p for n, p in model.named_parameters() if n.startswith(("features.7.", "features.8."))]
    head = list(model.classifier.parameters())
    optim = optimiser(
        [{"params": features, "lr": lr[0]}, {"params": head, "lr": lr[1]}],
        weight_decay=WEIGHT_DECAY,
    )
    optim.zero_grad()
    loss = F.cross_entropy(
        model(x),
        torch.tensor(TRAIN_LABELS),
        weight=torch.tensor(CLASS_WEIGHTS),
        label_smoothing=LABEL_SMOOTHING,
    )
    loss.backward()
    optim.step()
    return loss.item()


def main():
    out = sys.argv[1]
    torch.manual_seed(20240611)
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    generator = torch.Generator().manual_seed(7)

    model = torchvision.models.efficientnet_b0()
    recalibrate(model, generator)
    state = model.state_dict()
    torch.save(state, os.path.join(out, "b0.pth"))

    broken = collections.OrderedDict(state)
    broken["features.3.0.block.0.0.weights"] = broken.pop("features.3.0.block.0.0.weight")
    del broken["features.5.1.block.2.fc1.bias"]
    broken["features.6.0.block.3.1.weight"] = torch.ones(7)
    torch.save(broken, os.path.join(out, "broken.pth"))

    def nan(t):
        t.view(-1)[3] = float("nan")
        return t

    def inf(t):
        t[0] = float("inf")
        return t

    for name, key, change in [
        ("nan.pth", "features.5.0.block.0.0.weight", nan),
        ("inf.pth", "classifier.1.bias", inf),
        ("negative-var.pth", "features.3.0.block.1.1.running_var", torch.neg),
        ("integer.pth", "features.0.0.weight", lambda t: t.round().long()),
    ]:
        changed = collections.OrderedDict(state)
        changed[key] = change(changed[key].clone())
        torch.save(changed, os.path.join(out, name))

    x = synthetic_images(generator, BATCH)
    write_f32(os.path.join(out, "input.f32"), x)
    with torch.no_grad():
        write_f32(os.path.join(out, "logits1000.f32"), model(x))
    write_f32(os.path.join(out, "cam.f32"), grad_cam(model, x, CAM_CLASS))

    model5 = copy.deepcopy(model)
    linear = model.classifier[1]
    model5.classifier[1] = torch.nn.Linear(1280, len(HEAD_ROWS))
    with torch.no_grad():
        model5.classifier[1].weight.copy_(linear.weight[HEAD_ROWS])
        model5.classifier[1].bias.copy_(linear.bias[HEAD_ROWS])
        write_f32(os.path.join(out, "logits5.f32"), model5(x))

    x_train = synthetic_images(generator, len(TRAIN_LABELS))
    write_f32(os.path.join(out, "train-input.f32"), x_train)
    model5_sgd = copy.deepcopy(model5)
    loss = train_step(model5, x_train, torch.optim.Adam, ADAM_LR)
    torch.save(model5.state_dict(), os.path.join(out, "after-adam.pth"))
    train_step(model5_sgd, x_train, partial(torch.optim.SGD, momentum=SGD_MOMENTUM), SGD_LR)
    torch.save(model5_sgd.state_dict(), os.path.join(out, "after-sgd.pth"))

    def join(values):
        return ";".join(repr(v) for v in values)

    with open(os.path.join(out, "reference.ini"), "w") as f:
        f.write("[reference]\n")
        f.write(f"batch={BATCH}\nsize={SIZE}\n")
        f.write(f"head_rows={join(HEAD_ROWS)}\ncam_class={CAM_CLASS}\n")
        f.write(f"train_labels={join(TRAIN_LABELS)}\nlabel_smoothing={LABEL_SMOOTHING!r}\n")
        f.write(f"class_weights={join(CLASS_WEIGHTS)}\n")
        f.write(f"adam_lr={join(ADAM_LR)}\nsgd_lr={join(SGD_LR)}\nsgd_momentum={SGD_MOMENTUM!r}\n")
        f.write(f"weight_decay={WEIGHT_DECAY!r}\n")
        f.write(f"train_loss={loss!r}\n")


if __name__ == "__main__":
    main()
