"""What autoguidance costs per run: the model alone against the model steered by a guide (engine/sampling/guidance.py).

A guided step calls the model and its guide, so the cost is 1 + (guide's time / model's time). The bundled model's
guide is the `xsmall` preset beside a `small` model; a same-size guide is the upper bound. Random weights (speed does
not depend on training), the same scheduler, seed and batch, measured side by side in one process, interleaved.

Prints a table, then one JSON line: xsmall_guide/alone and same_size_guide/alone (medians of ratios paired within
each round) and the torch thread count.

    python bench/autoguidance.py [--preset small] [--guide-preset xsmall] [--batch 8] [--steps 25] [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import interleaved, paired_ratio  # noqa: E402


def save_model(folder: Path, preset: str, resolution: int, seed: int) -> tuple[Path, int]:
    from diffusers import DDPMPipeline, DDPMScheduler

    from ddpm_studio.training.ddpm.presets import build_unet

    unet = build_unet(preset, resolution, seed)
    DDPMPipeline(unet=unet, scheduler=DDPMScheduler()).save_pretrained(folder)
    return folder, sum(p.numel() for p in unet.parameters())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="small")
    parser.add_argument("--guide-preset", default="xsmall")
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--scheduler", default="euler-a")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from ddpm_studio.engine.jobs.types import GenerateJob
    from ddpm_studio.engine.runner import Engine

    root = Path(tempfile.mkdtemp(prefix="ddpm-bench-guide-"))
    model, params = save_model(root / "model", args.preset, args.resolution, 0)
    small_guide, guide_params = save_model(root / "guide", args.guide_preset, args.resolution, 1)
    same_guide, _ = save_model(root / "same", args.preset, args.resolution, 2)

    engines = {name: Engine(device=args.device) for name in ("alone", "guided", "same")}  # each keeps its own models
    job = GenerateJob(model=str(model), scheduler=args.scheduler, steps=args.steps, seed=0, batch_size=args.batch)
    jobs = {"alone": job, "guided": job.replace(guide_model=str(small_guide), guidance_scale=2.0),
            "same": job.replace(guide_model=str(same_guide), guidance_scale=2.0)}
    runs = {name: (lambda name=name: engines[name].run(jobs[name], save=False)) for name in jobs}
    for run in runs.values():  # warm-up: loads the models
        run()
    times = interleaved(runs, args.rounds)
    label = engines["alone"].device.label
    print(f"model {args.preset} ({params / 1e6:.2f} M), guide {args.guide_preset} ({guide_params / 1e6:.2f} M), "
          f"{args.resolution} px, batch {args.batch}, {args.scheduler} {args.steps} steps, {args.rounds} rounds, "
          f"torch threads {torch.get_num_threads()}, {label}")
    for name, values in times.items():
        print(f"  {name:<7} median {statistics.median(values):.3f} s   min {min(values):.3f} s   max {max(values):.3f} s")
    print(json.dumps({
        f"{args.guide_preset}_guide/alone": round(paired_ratio(times, "guided", "alone"), 4),
        "same_size_guide/alone": round(paired_ratio(times, "same", "alone"), 4),
        "seconds_per_run_alone": round(statistics.median(times["alone"]), 4),
        "torch_threads": torch.get_num_threads(),
        "device": label,
    }))


if __name__ == "__main__":
    main()
