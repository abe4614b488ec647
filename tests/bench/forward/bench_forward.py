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
    """Images per second from the fastest of `iterations` batches after an untimed one, and
    per CPU second from the cheapest: the same rule as bench-forward."""
    best_wall = best_cpu = float("inf")
    with torch.inference_mode():
        run(x)
        for _ in range(iterations):
            start, cpu_start = time.perf_counter(), time.process_time()
            run(x)
            best_wall = min(best_wall, time.perf_counter() - start)
            best_cpu = min(best_cpu, time.process_time() - cpu_start)
    return batch / best_wall, batch / best_cpu


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
            rate, cpu_rate = measure(run, xl, args.batch, args.iterations)
            impl = f"torchvision {layout}"
            if args.json:
                print(json.dumps({"impl": impl, "what": what, "batch": args.batch,
                                  "size": args.size, "threads": torch.get_num_threads(),
                                  "images_per_second": round(rate, 2),
                                  "images_per_cpu_second": round(cpu_rate, 2)}), flush=True)
            else:
                print(f"{impl}  {what:20s} {rate:8.1f} img/s  {cpu_rate:8.1f} img/CPU-s  "
                      f"(batch {args.batch}, {args.size} px, {torch.get_num_threads()} threads)",
                      flush=True)


if __name__ == "__main__":
    main()
