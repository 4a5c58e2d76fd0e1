"""Latent preview cost: a small Stable Diffusion run with the linear latent→RGB preview every step vs no preview,
and with a full VAE decode of x0 every step for contrast. Measured side by side in one process, interleaved.

The pipeline is built from configs with random weights (speed does not depend on training): a small
UNet2DConditionModel, an SD-shaped 4-level AutoencoderKL and a small CLIP text encoder, at 256×256 (32×32 latents).

Prints a table, then one JSON line: linear_preview / no_preview (target ≤ 1.02) and full_decode / no_preview.

    python bench/latent_preview.py [--size 256] [--steps 10] [--rounds 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import interleaved, paired_ratio  # noqa: E402


def build_small_sd(folder: Path) -> Path:
    import diffusers
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from tests.tiny_sd import tiny_components

    parts = tiny_components(folder.parent / ".parts")
    torch.manual_seed(0)
    parts["unet"] = UNet2DConditionModel(
        sample_size=32, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(64, 128, 256),
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=128, attention_head_dim=8,
    )
    parts["vae"] = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(32, 64, 128, 128), layers_per_block=1,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4, norm_num_groups=32,
    )
    parts["text_encoder"] = CLIPTextModel(CLIPTextConfig(
        vocab_size=1000, hidden_size=128, intermediate_size=256, num_attention_heads=4, num_hidden_layers=2,
        max_position_embeddings=77, projection_dim=128, bos_token_id=512, eos_token_id=513, pad_token_id=513,
    ))
    diffusers.StableDiffusionPipeline(**parts).save_pretrained(folder)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from ddpm_studio.engine.jobs.types import Text2ImageJob
    from ddpm_studio.engine.runner import Engine

    folder = build_small_sd(Path(tempfile.mkdtemp(prefix="ddpm-sd-bench-")) / "small-sd")
    engine = Engine(device="cpu")
    base = Text2ImageJob(model=str(folder), prompt="a lighthouse at dusk", steps=args.steps, width=args.size, height=args.size)
    events = []
    runs = {
        "no_preview": base.replace(preview_every=0),
        "linear_preview": base.replace(preview_every=1),
        "full_decode": base.replace(preview_every=1, full_decode_every=1),
    }
    loaded = engine.load(base.model, "txt2img")
    unet_params = sum(p.numel() for p in loaded.pipe.unet.parameters())
    for job in runs.values():
        engine.run(job, on_step=events.append, save=False)
    times = interleaved({name: lambda job=job: (events.clear(), engine.run(job, on_step=events.append, save=False))
                         for name, job in runs.items()}, args.rounds)
    linear = paired_ratio(times, "linear_preview", "no_preview")
    full = paired_ratio(times, "full_decode", "no_preview")
    print(f"small SD (UNet {unet_params / 1e6:.1f} M params), {args.size}×{args.size}, {args.steps} steps of dpm++2m, "
          f"{args.rounds} rounds, preview map: {loaded.to_rgb.source}, torch threads {torch.get_num_threads()}")
    for name, values in times.items():
        print(f"  {name:<15} median {statistics.median(values):.3f} s   min {min(values):.3f} s")
    print(json.dumps({
        "linear_preview_every_step/no_preview": round(linear, 4),
        "full_vae_decode_every_step/no_preview": round(full, 4),
        "seconds_per_run_no_preview": round(statistics.median(times["no_preview"]), 3),
        "torch_threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
