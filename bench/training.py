"""Training throughput: our trainer vs the inner step of diffusers' train_unconditional.py, side by side.

The reference is re-implemented here from that script's documented recipe (examples/unconditional_image_generation):
fp32, AdamW(β 0.95/0.999, weight decay 1e-6, eps 1e-8) with default kernels, cosine schedule with warm-up, gradient
clipping at 1.0, EMAModel stepped every step, and `loss.item()` logged every step. Ours is `ddpm_studio.training.train`
as users run it: bf16 autocast where the CPU has bf16 support (else fp32), fused AdamW, foreach EMA, and the loss read
back every `log_every` steps instead of every step. Same UNet, batch, resolution, data and thread count.

Prints a table, then one JSON line with ours / reference in images per second. Target ≥ 1.3.

    python bench/training.py [--preset small] [--resolution 32] [--batch 64] [--steps 30] [--rounds 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
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


def cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def reference_images_per_s(args, data: Path) -> float:
    """The reference inner loop, timed after a few warm-up steps."""
    from diffusers import DDPMScheduler
    from diffusers.optimization import get_scheduler
    from diffusers.training_utils import EMAModel

    from ddpm_studio.training.dataset import ImageFolderDataset
    from ddpm_studio.training.presets import build_unet

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


def ours_images_per_s(args, data: Path, out: Path, precision: str) -> float:
    """Our trainer, timed between its first and last loss read-back (start-up excluded)."""
    from ddpm_studio.training.config import TrainConfig
    from ddpm_studio.training.trainer import train

    marks: list[tuple[int, float]] = []

    def on_event(event):
        if event.kind == "step":
            marks.append((event.step, time.perf_counter()))

    log_every = 3
    config = TrainConfig(data_dir=str(data), output_dir=str(out), preset=args.preset, resolution=args.resolution,
                         batch_size=args.batch, max_steps=log_every + args.steps, mixed_precision=precision,
                         log_every=log_every, checkpoint_every=10**9, sample_every=10**9, lr_warmup_steps=500)
    train(config, on_event=on_event)
    (first_step, first_time), (last_step, last_time) = marks[0], marks[-1]
    return (last_step - first_step) * args.batch / (last_time - first_time)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="small")
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    precision = "bf16" if cpu_has_bf16() else "no"

    tmp = Path(tempfile.mkdtemp(prefix="ddpm-train-bench-"))
    data = make_folder(tmp / "data", max(2 * args.batch, 128), args.resolution)
    reference, ours = [], []
    for r in range(args.rounds):
        reference.append(reference_images_per_s(args, data))
        ours.append(ours_images_per_s(args, data, tmp / f"run-{r}", precision))
        print(f"round {r + 1}: reference {reference[-1]:.1f} img/s, ours {ours[-1]:.1f} img/s")
    ratio = statistics.median(o / ref for o, ref in zip(ours, reference))
    print(f"UNet {args.preset} at {args.resolution} px, batch {args.batch}, {args.steps} timed steps per side, "
          f"ours with mixed precision '{precision}', torch threads {torch.get_num_threads()}")
    print(json.dumps({
        "ours_over_reference_images_per_s": round(ratio, 3),
        "ours_images_per_s": round(statistics.median(ours), 1),
        "reference_images_per_s": round(statistics.median(reference), 1),
        "ours_mixed_precision": precision,
        "torch_threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
