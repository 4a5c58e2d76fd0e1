"""What cancel-inside-a-step costs (ddpm_studio/engine/sampling/inside_step.py): a Stable-Diffusion-shaped pipeline run plain
against the same run with the pre-hooks on every ResNet, transformer, down- and upsampling block of the UNet and the
VAE decoder. Random weights (speed does not depend on training), SD 1.x's block layout at reduced width, the same
seed, measured side by side in one process, interleaved.

Prints the hook count, a table, then one JSON line: hooked/plain (median of ratios paired within each round), the
seconds per step, the torch thread count and the CPU.

    python bench/inside_step.py [--size 256] [--steps 8] [--rounds 7] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent))
from timing import interleaved, paired_ratio  # noqa: E402


def pipeline(width: int):
    """SD 1.x's UNet layout (4 levels, 2 layers, attention in 3) and VAE layout, ``width`` channels at the top."""
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel

    from tests.tiny_sd import tiny_components

    parts = tiny_components(Path(tempfile.mkdtemp(prefix="ddpm-bench-inside-")))
    torch.manual_seed(0)
    parts["unet"] = UNet2DConditionModel(
        in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=(width, 2 * width, 4 * width, 4 * width),
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3, cross_attention_dim=32, attention_head_dim=8)
    parts["vae"] = AutoencoderKL(
        latent_channels=4, block_out_channels=(width // 2, width, 2 * width, 2 * width), layers_per_block=2,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4)
    parts["scheduler"] = DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
    return StableDiffusionPipeline(**parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256, help="picture size in pixels (latent: size / 8)")
    parser.add_argument("--width", type=int, default=64, help="the UNet's top channel count, a multiple of 64 (SD 1.x: 320)")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from ddpm_studio.engine.sampling.inside_step import _blocks, watch_inside_steps
    from ddpm_studio.training.precision import device_name

    pipe = pipeline(args.width)
    pipe.set_progress_bar_config(disable=True)
    never = (lambda: False)

    def plain():
        with torch.inference_mode():
            pipe("a lighthouse", num_inference_steps=args.steps, height=args.size, width=args.size,
                 generator=torch.Generator().manual_seed(0), output_type="np")

    def hooked():
        with watch_inside_steps(pipe, never, RuntimeError):
            plain()

    cpu = device_name(torch.device("cpu"))
    plain(), hooked()  # warm-up
    times = interleaved({"plain": plain, "hooked": hooked}, args.rounds)
    hooks = len(_blocks(pipe.unet)) + len(_blocks(pipe.vae.decoder)) + 2
    params = sum(p.numel() for p in pipe.unet.parameters())
    print(f"UNet {params / 1e6:.1f} M parameters, {args.size} px, {args.steps} steps, {hooks} hooks, {args.rounds} rounds, "
          f"torch threads {torch.get_num_threads()}, CPU {cpu}")
    for name, values in times.items():
        print(f"  {name:<7} median {statistics.median(values):.3f} s   min {min(values):.3f} s   max {max(values):.3f} s")
    print(json.dumps({
        "hooked/plain": round(paired_ratio(times, "hooked", "plain"), 4),
        "seconds_per_step_plain": round(statistics.median(times["plain"]) / args.steps, 4),
        "hooks": hooks,
        "torch_threads": torch.get_num_threads(),
        "cpu": cpu,
    }))


if __name__ == "__main__":
    main()
