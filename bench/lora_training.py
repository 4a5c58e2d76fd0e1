"""LoRA training throughput: our LoRA trainer's step against the inner step of diffusers'
examples/text_to_image/train_text_to_image_lora.py, side by side on the same small SD-shaped pipeline (bench/
latent_preview.py's: 3-level UNet, 4-level VAE, small CLIP text encoder), resolution, batch, rank and threads.

The reference is re-implemented here from that script's documented loop: the frozen UNet with peft LoRA layers on
to_q/to_k/to_v/to_out.0 (rank = alpha, Gaussian init), AdamW (default kernels) on them, a constant learning rate,
and per step: each picture decoded, resized and centre-cropped (its dataset transform), the caption tokenized, the
VAE encoder run (``latent_dist.sample()``), the text encoder run, the UNet, MSE on ε, backward, clipping at 1.0, and
``loss.item()`` logged. Ours is ``train_lora`` as users run it: latents cached once per picture and text embeddings
once per caption (the text encoder is frozen), fused AdamW, the loss read back every ``log_every`` steps; timed
between its first and last loss report, so start-up and the one-off latent caching are left out of the step rate
(the caching time is printed beside it). The reference runs in fp32, as that script does by default; ours in its
default, mixed precision ``auto`` (fp32 on a CPU without bf16 instructions, where bf16 is many times slower). Each
side of each round runs in a fresh process (bench/isolated.py), as in bench/training.py.

    python bench/lora_training.py [--resolution 256] [--batch 2] [--steps 10] [--rounds 2] [--threads 2]
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from latent_preview import build_small_sd  # noqa: E402

RANK = 8


def make_folder(path: Path, count: int, size: int) -> Path:
    from PIL import Image

    path.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path / f"{i:04d}.png")
        (path / f"{i:04d}.txt").write_text(f"a picture, number {i % 4}", encoding="utf-8")
    return path


def reference_seconds_per_step(model: Path, data: Path, args) -> float:
    from diffusers import DDPMScheduler, StableDiffusionPipeline
    from diffusers.optimization import get_scheduler
    from peft import LoraConfig
    from PIL import Image

    pipe = StableDiffusionPipeline.from_pretrained(model, local_files_only=True, safety_checker=None)
    unet, vae, text_encoder, tokenizer = pipe.unet, pipe.vae, pipe.text_encoder, pipe.tokenizer
    for part in (unet, vae, text_encoder):
        part.requires_grad_(False)
    unet.add_adapter(LoraConfig(r=RANK, lora_alpha=RANK, init_lora_weights="gaussian",
                                target_modules=["to_k", "to_q", "to_v", "to_out.0"]))
    params = [p for p in unet.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.999), weight_decay=1e-2, eps=1e-8)
    lr_scheduler = get_scheduler("constant", optimizer)
    noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    pictures = sorted(data.glob("*.png"))
    size = args.resolution

    def load(path: Path) -> torch.Tensor:  # Resize(size) + CenterCrop(size) + ToTensor + Normalize([0.5], [0.5])
        image = Image.open(path).convert("RGB")
        scale = size / min(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BILINEAR)
        left, top = (image.width - size) // 2, (image.height - size) // 2
        array = np.asarray(image.crop((left, top, left + size, top + size)), np.float32) / 127.5 - 1.0
        return torch.from_numpy(array).permute(2, 0, 1)

    unet.train()
    warmup, marks = 2, []
    for step in range(warmup + args.steps):
        if step == warmup:
            marks.append(time.perf_counter())
        batch = [pictures[(step * args.batch + i) % len(pictures)] for i in range(args.batch)]
        pixels = torch.stack([load(p) for p in batch])
        captions = [p.with_suffix(".txt").read_text(encoding="utf-8") for p in batch]
        ids = tokenizer(captions, max_length=tokenizer.model_max_length, padding="max_length", truncation=True,
                        return_tensors="pt").input_ids
        latents = vae.encode(pixels).latent_dist.sample() * vae.config.scaling_factor
        noise = torch.randn_like(latents)
        timesteps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (latents.shape[0],)).long()
        noisy = noise_scheduler.add_noise(latents, noise, timesteps)
        states = text_encoder(ids, return_dict=False)[0]
        prediction = unet(noisy, timesteps, states, return_dict=False)[0]
        loss = F.mse_loss(prediction.float(), noise.float(), reduction="mean")
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        lr_scheduler.step()
        optimizer.zero_grad()
        loss.detach().item()
    return (time.perf_counter() - marks[0]) / args.steps


def ours_seconds_per_step(model: Path, data: Path, out: Path, args) -> tuple[float, float]:
    """(seconds per step between the first and last loss report, seconds from start to the first step's end)."""
    from ddpm_studio.training.lora.config import LoraTrainConfig
    from ddpm_studio.training.lora.trainer import train_lora

    marks: list[tuple[int, float]] = []
    log_every = 2
    config = LoraTrainConfig(data_dir=str(data), output_dir=str(out), base_model=str(model), rank=RANK,
                             alpha=float(RANK), resolution=args.resolution, batch_size=args.batch,
                             max_steps=log_every + args.steps, log_every=log_every, checkpoint_every=10**6,
                             sample_every=10**6, buckets=False)
    started = time.perf_counter()
    train_lora(config, on_event=lambda e: marks.append((e.step, time.perf_counter())) if e.kind == "step" else None)
    (first_step, first_time), (last_step, last_time) = marks[0], marks[-1]
    return (last_time - first_time) / (last_step - first_step), first_time - started


def row(args, tmp: Path) -> dict:
    """The LoRA row: rounds of both sides, each side in a fresh process, alternating which goes first."""
    from isolated import in_own_process

    model = build_small_sd(tmp / "small-sd")
    data = make_folder(tmp / "lora-data", 16, args.resolution)
    reference, ours = [], []
    for r in range(args.rounds):
        for side in ("reference", "ours") if r % 2 == 0 else ("ours", "reference"):
            done = in_own_process(__file__, "--side", side, "--model", model, "--data", data,
                                  "--out", tmp / f"lora-run-{r}", "--resolution", args.resolution,
                                  "--batch", args.batch, "--steps", args.steps, "--threads", args.threads)
            (reference if side == "reference" else ours).append(done["seconds"])
        print(f"lora round {r + 1}: reference {reference[-1]:.3f} s/step, ours {ours[-1][0]:.3f} s/step "
              f"(start-up incl. latent caching {ours[-1][1]:.1f} s)")
    print(f"  small SD at {args.resolution} px, batch {args.batch}, rank {RANK}, {args.steps} timed steps a side")
    return {"lora_ours_over_reference": round(statistics.median(ref / o[0] for ref, o in zip(reference, ours)), 3),
            "lora_ours_s_per_step": round(statistics.median(o[0] for o in ours), 4),
            "lora_reference_s_per_step": round(statistics.median(reference), 4),
            "lora_ours_start_up_s": round(statistics.median(o[1] for o in ours), 2)}


def one_side(args) -> dict:
    """One side of one round, in this (fresh) process."""
    model, data = Path(args.model), Path(args.data)
    if args.side == "reference":
        return {"seconds": reference_seconds_per_step(model, data, args)}
    return {"seconds": list(ours_seconds_per_step(model, data, Path(args.out), args))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--side", choices=["reference", "ours"], help=argparse.SUPPRESS)  # one side, for isolated.py
    for hidden in ("--model", "--data", "--out"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.side:
        print(json.dumps(one_side(args)))
        return
    result = row(args, Path(tempfile.mkdtemp(prefix="ddpm-lora-bench-")))
    from ddpm_studio.training.precision import device_name

    print(f"CPU {device_name(torch.device('cpu'))}, torch threads {torch.get_num_threads()}")
    print(json.dumps(dict(result, torch_threads=torch.get_num_threads())))


if __name__ == "__main__":
    main()
