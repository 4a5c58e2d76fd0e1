"""Training throughput at default settings: our trainers against the inner steps of diffusers' example scripts,
side by side, with the CPU's model and its bf16 flags printed.

DDPM rows: the reference is re-implemented from examples/unconditional_image_generation/train_unconditional.py's
documented recipe: fp32, AdamW(β 0.95/0.999, weight decay 1e-6, eps 1e-8) with default kernels, cosine schedule with
warm-up, gradient clipping at 1.0, EMAModel stepped every step, and `loss.item()` logged every step. Ours is
`ddpm_studio.training.train` with its defaults: mixed precision `auto` (measured per model, batch and device;
training/precision.py), fused AdamW, foreach EMA, the loss read back every `log_every` steps. Rows: the `small` UNet
at batch 64 (target ≥ 1.3 on a CPU with bf16 instructions, ≥ 1.2 without) and the 0.69 M `xsmall` one at batch 16
(target ≥ 1.0: auto is never slower than fp32). LoRA row: bench/lora_training.py (target ≥ 1.5).

Each side of each round runs in a fresh process (bench/isolated.py), so that neither inherits the other's
process-wide state: our trainer tunes glibc's malloc for the whole process (ddpm_studio/host_memory.py), and a
reference run after ours would otherwise run with it too. Prints each row, then one JSON line.

    python bench/training.py [--rows small,xsmall,lora] [--steps 30] [--rounds 2] [--threads 2] [--ours-precision no]

``--ours-precision no`` runs our DDPM side in fp32 instead of at its default (auto): what a CPU without bf16
instructions runs, measured on one that has them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


def make_folder(path: Path, count: int, size: int) -> Path:
    from PIL import Image

    path.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path / f"{i:04d}.png")
    return path


def reference_images_per_s(args, data: Path) -> float:
    """The reference inner loop, timed after a few warm-up steps."""
    from diffusers import DDPMScheduler
    from diffusers.optimization import get_scheduler
    from diffusers.training_utils import EMAModel

    from ddpm_studio.training.ddpm.dataset import ImageFolderDataset
    from ddpm_studio.training.ddpm.presets import build_unet

    model = build_unet(args.preset, args.resolution)
    noise_scheduler = DDPMScheduler(num_train_timesteps=1000)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.95, 0.999), weight_decay=1e-6, eps=1e-8)
    lr_scheduler = get_scheduler("cosine", optimizer, num_warmup_steps=500, num_training_steps=10_000)
    ema = EMAModel(model.parameters(), decay=0.9999, use_ema_warmup=True, inv_gamma=1.0, power=0.75)
    loader = torch.utils.data.DataLoader(ImageFolderDataset(data, args.resolution), batch_size=args.batch, shuffle=True, drop_last=True)
    model.train()
    warmup, steps, done, logs = 3, args.steps, 0, []
    start = None
    while done < warmup + steps:
        for clean in loader:
            if done == warmup:
                start = time.perf_counter()
            noise = torch.randn(clean.shape)
            timesteps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (clean.shape[0],)).long()
            noisy = noise_scheduler.add_noise(clean, noise, timesteps)
            output = model(noisy, timesteps).sample
            loss = F.mse_loss(output.float(), noise.float())
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            lr_scheduler.step()
            optimizer.zero_grad()
            ema.step(model.parameters())
            logs.append({"loss": loss.detach().item(), "lr": lr_scheduler.get_last_lr()[0]})
            done += 1
            if done == warmup + steps:
                break
    return steps * args.batch / (time.perf_counter() - start)


def ours_images_per_s(args, data: Path, out: Path) -> tuple[float, str]:
    """Our trainer at its defaults, timed between its first and last loss read-back (start-up and the precision
    measurement excluded); also the precision auto chose."""
    from ddpm_studio.training.ddpm.config import TrainConfig
    from ddpm_studio.training.ddpm.trainer import train

    marks: list[tuple[int, float]] = []
    chosen = []

    def on_event(event):
        if event.kind == "step":
            marks.append((event.step, time.perf_counter()))
        elif event.kind == "precision":
            chosen.append(event.message)

    log_every = 3
    config = TrainConfig(data_dir=str(data), output_dir=str(out), preset=args.preset, resolution=args.resolution,
                         batch_size=args.batch, max_steps=log_every + args.steps, log_every=log_every,
                         checkpoint_every=10**9, sample_every=10**9, lr_warmup_steps=500,
                         mixed_precision=args.precision)
    train(config, on_event=on_event)
    (first_step, first_time), (last_step, last_time) = marks[0], marks[-1]
    return (last_step - first_step) * args.batch / (last_time - first_time), (chosen or [""])[0]


ROWS = {"small": ("small", 32, 64), "xsmall": ("xsmall", 32, 16)}  # preset, resolution, batch


def one_side(args) -> dict:
    """One side of one round, in this (fresh) process: {"rate": images per second, "precision": auto's message}."""
    preset, resolution, batch = ROWS[args.row]
    row_args = argparse.Namespace(preset=preset, resolution=resolution, batch=batch, steps=args.steps,
                                  precision=args.ours_precision)
    if args.side == "reference":
        return {"rate": reference_images_per_s(row_args, Path(args.data)), "precision": ""}
    rate, chosen = ours_images_per_s(row_args, Path(args.data), Path(args.out))
    return {"rate": rate, "precision": chosen}


def ddpm_row(name: str, args, tmp: Path) -> dict:
    from isolated import in_own_process

    preset, resolution, batch = ROWS[name]
    data = make_folder(tmp / f"data-{resolution}", max(2 * batch, 128), resolution)
    reference, ours, chosen = [], [], ""
    for r in range(args.rounds):
        for side in ("reference", "ours") if r % 2 == 0 else ("ours", "reference"):
            done = in_own_process(__file__, "--side", side, "--rows", name, "--data", data,
                                  "--out", tmp / f"run-{name}-{r}", "--steps", args.steps, "--threads", args.threads,
                                  "--ours-precision", args.ours_precision)
            (reference if side == "reference" else ours).append(done["rate"])
            chosen = done["precision"] or chosen
        print(f"{name} round {r + 1}: reference {reference[-1]:.1f} img/s, ours {ours[-1]:.1f} img/s")
    print(f"  UNet {preset} at {resolution} px, batch {batch}: {chosen}")
    return {f"{name}_ours_over_reference": round(statistics.median(o / f for o, f in zip(ours, reference)), 3),
            f"{name}_ours_images_per_s": round(statistics.median(ours), 1),
            f"{name}_reference_images_per_s": round(statistics.median(reference), 1),
            f"{name}_precision": chosen.split(":", 1)[-1].split(",")[0].split("(")[0].strip() if chosen
            else {"no": "fp32"}.get(args.ours_precision, args.ours_precision)}


def cpu_facts() -> dict:
    from ddpm_studio.training.precision import cpu_has_bf16, device_name

    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        flags = set()
    return {"cpu": device_name(torch.device("cpu")), "bf16_instructions": cpu_has_bf16(),
            "flags": sorted(f for f in flags if f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="small,xsmall,lora")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ours-precision", default="auto", choices=["auto", "no", "bf16"],
                        help="our DDPM side's mixed precision (default: auto, the trainer's default)")
    parser.add_argument("--side", choices=["reference", "ours"], help=argparse.SUPPRESS)  # one side, for isolated.py
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.side:
        args.row = args.rows
        print(json.dumps(one_side(args)))
        return
    tmp = Path(tempfile.mkdtemp(prefix="ddpm-train-bench-"))
    facts = cpu_facts()
    print(f"CPU {facts['cpu']}; flags {', '.join(facts['flags'])}; torch threads {torch.get_num_threads()}")
    result = dict(facts, torch_threads=torch.get_num_threads())
    for name in args.rows.split(","):
        if name == "lora":
            import lora_training

            lora_args = argparse.Namespace(resolution=256, batch=2, steps=min(args.steps, 10), rounds=args.rounds,
                                           threads=args.threads)
            result.update(lora_training.row(lora_args, tmp))
        else:
            result.update(ddpm_row(name, args, tmp))
    print(json.dumps(result))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
