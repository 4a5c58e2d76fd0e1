"""Sampling benchmark: what do previews cost, and what does our engine add over a bare diffusers loop?

Three ways to sample the same small UNet (random weights; speed does not depend on training) with the same
scheduler, seed and batch, measured side by side in one process, interleaved over several rounds:

  preview      Engine.run with x_t and x̂0 previews every step (what the GUI does)
  no_preview   Engine.run with previews off (what the CLI does)
  bare         unet + scheduler.step in a plain loop, nothing else

Prints a table, then one JSON line: preview_every_step / no_preview and engine_no_preview / bare_diffusers_loop
(medians of ratios paired within each round, and the same from the fastest runs), plus the torch thread count. Targets: both ≤ 1.02.

    python bench/sampling.py [--preset small] [--resolution 32] [--batch 8] [--steps 25] [--rounds 11] [--threads 2]
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


def bare_loop(unet, scheduler_config, job, device, dtype) -> None:
    from ddpm_studio.engine.sampling.pixel import initial_noise
    from ddpm_studio.engine.sampling.schedulers import build_scheduler

    scheduler = build_scheduler(job.scheduler, scheduler_config)
    scheduler.set_timesteps(job.steps, device=device)
    size = unet.config.sample_size
    x, _ = initial_noise(job, (unet.config.in_channels, size, size))
    x = x.to(device, dtype) * scheduler.init_noise_sigma
    with torch.inference_mode():
        for t in scheduler.timesteps:
            out = unet(scheduler.scale_model_input(x, t), t).sample
            x = scheduler.step(out, t, x).prev_sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="small")
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--scheduler", default="dpm++2m")
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from diffusers import DDPMPipeline, DDPMScheduler

    from ddpm_studio.engine.jobs.types import GenerateJob
    from ddpm_studio.engine.runner import Engine
    from ddpm_studio.training.ddpm.presets import build_unet

    folder = Path(tempfile.mkdtemp(prefix="ddpm-bench-")) / "model"
    unet = build_unet(args.preset, args.resolution)
    params = sum(p.numel() for p in unet.parameters())
    DDPMPipeline(unet=unet, scheduler=DDPMScheduler()).save_pretrained(folder)

    engine = Engine(device=args.device)
    job = GenerateJob(model=str(folder), scheduler=args.scheduler, steps=args.steps, seed=0, batch_size=args.batch)
    model = engine.load(job.model)
    device, dtype = engine.device.device, engine.device.dtype
    previews = []

    runs = {
        "preview": lambda: (previews.clear(), engine.run(job.replace(preview_every=1), on_step=previews.append, save=False)),
        "no_preview": lambda: engine.run(job.replace(preview_every=0), save=False),
        "bare": lambda: bare_loop(model.unet, model.scheduler_config, job, device, dtype),
    }
    for run in runs.values():  # warm-up
        run()
    times = interleaved(runs, args.rounds)
    med = {name: statistics.median(v) for name, v in times.items()}
    preview_ratio = paired_ratio(times, "preview", "no_preview")
    engine_ratio = paired_ratio(times, "no_preview", "bare")
    print(f"UNet preset {args.preset}: {params / 1e6:.2f} M params, {args.resolution} px, batch {args.batch}, "
          f"{args.scheduler} {args.steps} steps, {args.rounds} rounds, torch threads {torch.get_num_threads()}, {engine.device.label}")
    for name, values in times.items():
        print(f"  {name:<11} median {med[name]:.3f} s   min {min(values):.3f} s   max {max(values):.3f} s")
    print(json.dumps({
        "preview_every_step/no_preview": round(preview_ratio, 4),
        "engine_no_preview/bare_diffusers_loop": round(engine_ratio, 4),
        "same_by_fastest_run": [round(min(times["preview"]) / min(times["no_preview"]), 4),
                                round(min(times["no_preview"]) / min(times["bare"]), 4)],
        "seconds_per_run_bare": round(med["bare"], 4),
        "torch_threads": torch.get_num_threads(),
        "device": engine.device.label,
        "unet_params_m": round(params / 1e6, 2),
    }))


if __name__ == "__main__":
    main()
