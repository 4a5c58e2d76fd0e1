"""Tiling overhead of 4× upscaling: the same picture upscaled in one pass and tile by tile, side by side in one run.

The upscaler is an SD x4-shaped pipeline built from configs with random weights (speed does not depend on training):
a small 7-channel UNet2DConditionModel conditioned on the noise level, a 3-level (4×) AutoencoderKL and a small CLIP
text encoder. The input is small enough for one pass, so both ways fit; tiles overlap, so the tiled run denoises more
pixels than there are, and pays for it.

Prints a table, then one JSON line: tiled / single_pass (the tiling overhead), with the tile layout and threads.

    python bench/upscale.py [--size 128] [--tile 64] [--overlap 16] [--steps 5] [--rounds 3] [--threads 2]

A model upscaler at real size (Real-ESRGAN x4plus's RRDBNet, 256² → 1024²: our tiled run against spandrel's plain
call, seconds and peak memory) runs from here too, its arguments after the word (bench/model_upscale.py):

    python bench/upscale.py model [--size 256] [--rounds 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import interleaved, paired_ratio  # noqa: E402


def build_small_x4(folder: Path) -> Path:
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        DDPMScheduler,
        StableDiffusionUpscalePipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    from tests.tiny_sd import tiny_components

    parts = tiny_components(folder.parent / ".parts")
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=64, in_channels=7, out_channels=4, layers_per_block=1, block_out_channels=(64, 128, 256),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=128,
        attention_head_dim=8, num_class_embeds=1000,
    )
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(32, 64, 128), layers_per_block=1,
        down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3, norm_num_groups=32,
        scaling_factor=0.08333,
    )
    text = CLIPTextModel(CLIPTextConfig(
        vocab_size=1000, hidden_size=128, intermediate_size=256, num_attention_heads=4, num_hidden_layers=2,
        max_position_embeddings=77, projection_dim=128, bos_token_id=512, eos_token_id=513, pad_token_id=513,
    ))
    StableDiffusionUpscalePipeline(
        vae=vae, text_encoder=text, tokenizer=parts["tokenizer"], unet=unet, low_res_scheduler=DDPMScheduler(),
        scheduler=DDIMScheduler(prediction_type="v_prediction"), safety_checker=None, feature_extractor=None,
        watermarker=None, max_noise_level=350,
    ).save_pretrained(folder)
    return folder


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "model":  # the model upscaler's measurement (bench/model_upscale.py)
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import model_upscale

        sys.argv = [model_upscale.__file__, *sys.argv[2:]]
        raise SystemExit(model_upscale.main())
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=128, help="input side in pixels (the output is 4×)")
    parser.add_argument("--tile", type=int, default=64)
    parser.add_argument("--overlap", type=int, default=16)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from ddpm_studio.engine.jobs.upscale_job import UpscaleJob
    from ddpm_studio.engine.runner import Engine

    root = Path(tempfile.mkdtemp(prefix="ddpm-upscale-bench-"))
    folder = build_small_x4(root / "small-x4")
    image = root / "input.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (args.size, args.size, 3), dtype=np.uint8)).save(image)
    engine = Engine(device="cpu")
    base = UpscaleJob(model=str(folder), image=str(image), prompt="a sharp photo", steps=args.steps, preview_every=0)
    runs = {"single_pass": base, "tiled": base.replace(tile=args.tile, overlap=args.overlap)}
    tiles = {name: engine.run(job, save=False).tiles for name, job in runs.items()}  # also warms up
    times = interleaved({name: lambda job=job: engine.run(job, save=False) for name, job in runs.items()}, args.rounds)
    ratio = paired_ratio(times, "tiled", "single_pass")
    unet_params = sum(p.numel() for p in engine.load(base.model, "upscale").pipe.unet.parameters())
    print(f"small SD x4 upscaler (UNet {unet_params / 1e6:.1f} M params), {args.size}² → {args.size * 4}², "
          f"{args.steps} steps, {args.rounds} rounds, torch threads {torch.get_num_threads()}")
    for name, values in times.items():
        print(f"  {name:<12} {tiles[name]:>2} tile(s)  median {statistics.median(values):.2f} s   min {min(values):.2f} s")
    print(json.dumps({
        "tiled/single_pass": round(ratio, 4),
        "tiles": tiles["tiled"], "tile": args.tile, "overlap": args.overlap, "input_side": args.size,
        "seconds_single_pass": round(statistics.median(times["single_pass"]), 3),
        "torch_threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
