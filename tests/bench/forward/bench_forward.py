#!/usr/bin/python3
# bench_forward.py: torchvision's EfficientNet-B0 inference throughput, the baseline that
# bench-forward (the shim) is compared with; see run.sh. Same options, same output.
#
# SPDX-License-Identifier: GPL-3.0-or-later

import argparse
import json
import os
import time

import torch
import torchvision


def measure(run, x, batch, iterations):
    """Images per second over `iterations` batches, after one untimed batch."""
    with torch.inference_mode():
        run(x)
        start = time.perf_counter()
        for _ in range(iterations):
            run(x)
        return batch * iterations / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description="time torchvision's EfficientNet-B0 forward")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--cut", type=int, default=7)
    parser.add_argument("--threads", type=int, default=0, help="0 for all cores")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    torch.set_num_threads(args.threads if args.threads > 0 else len(os.sched_getaffinity(0)))
    torch.manual_seed(1)
    model = torchvision.models.efficientnet_b0().eval()
    x = torch.rand(args.batch, 3, args.size, args.size) * 4 - 2

    for layout, memory_format in (("nchw", torch.contiguous_format),
                                  ("channels-last", torch.channels_last)):
        model = model.to(memory_format=memory_format)
        xl = x.contiguous(memory_format=memory_format)
        for what, run in (("forward", model), (f"features[0:{args.cut}]", model.features[:args.cut])):
            rate = measure(run, xl, args.batch, args.iterations)
            impl = f"torchvision {layout}"
            if args.json:
                print(json.dumps({"impl": impl, "what": what, "batch": args.batch,
                                  "size": args.size, "threads": torch.get_num_threads(),
                                  "images_per_second": round(rate, 2)}), flush=True)
            else:
                print(f"{impl}  {what:20s} {rate:8.1f} img/s  (batch {args.batch}, "
                      f"{args.size} px, {torch.get_num_threads()} threads)", flush=True)


if __name__ == "__main__":
    main()
