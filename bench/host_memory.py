"""glibc's malloc as it comes against tuned to keep freed memory (ddpm_studio/host_memory.py), on the CPU: a training
step of the `small` UNet at 32 px and batch 64 (forward, backward, fused AdamW) and a sampling call of it at batch 8.
Each side of each round runs in a fresh process (bench/isolated.py), alternating which goes first; per side the
seconds per step and the page faults per step, after a few warm-up steps.

Prints each round, then one JSON line: tuned over default speed (> 1 is faster) for both workloads.

    python bench/host_memory.py [--rounds 3] [--steps 10] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

WORKLOADS = {"train": 64, "sample": 8}  # batch


def one_side(args) -> dict:
    if args.side == "tuned":
        from ddpm_studio.host_memory import keep_freed_memory

        assert keep_freed_memory(), "the tuning did not take (not glibc, or MALLOC_* set)"
    from ddpm_studio.training.ddpm.presets import build_unet

    batch = WORKLOADS[args.workload]
    model = build_unet("small", 32)
    x = torch.randn(batch, 3, 32, 32)
    if args.workload == "train":
        model.train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)

        def step():
            noise = torch.randn_like(x)
            loss = F.mse_loss(model(x + noise, torch.randint(0, 1000, (batch,))).sample, noise)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    else:
        model.eval()

        def step():
            with torch.inference_mode():
                model(x, 500)
    for _ in range(3):
        step()
    faults, started = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.perf_counter()
    for _ in range(args.steps):
        step()
    return {"seconds": (time.perf_counter() - started) / args.steps,
            "faults": (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / args.steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--side", choices=["default", "tuned"], help=argparse.SUPPRESS)  # for isolated.py
    parser.add_argument("--workload", choices=list(WORKLOADS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.side:
        print(json.dumps(one_side(args)))
        return
    from isolated import in_own_process

    result = {"torch_threads": torch.get_num_threads()}
    for workload, batch in WORKLOADS.items():
        runs = {"default": [], "tuned": []}
        for r in range(args.rounds):
            for side in ("default", "tuned") if r % 2 == 0 else ("tuned", "default"):
                runs[side].append(in_own_process(__file__, "--side", side, "--workload", workload,
                                                 "--steps", args.steps, "--threads", args.threads))
            print(f"{workload} (batch {batch}) round {r + 1}: " + ", ".join(
                f"{side} {runs[side][-1]['seconds'] * 1000:.0f} ms/step, {runs[side][-1]['faults']:.0f} faults/step"
                for side in runs))
        result[f"{workload}_tuned_over_default"] = round(statistics.median(
            d["seconds"] / t["seconds"] for d, t in zip(runs["default"], runs["tuned"])), 3)
        for side, measured in runs.items():
            ms = 1000 * statistics.median(r["seconds"] for r in measured)
            result[f"{workload}_{side}_ms_per_step"] = round(ms, 1)
            result[f"{workload}_{side}_faults_per_step"] = round(statistics.median(r["faults"] for r in measured))
    print(json.dumps(result))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
