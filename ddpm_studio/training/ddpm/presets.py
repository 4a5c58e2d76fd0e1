"""Named UNet2DModel sizes for training from scratch (and for tests and benchmarks).

Parameter counts and CPU speeds for 32 px are in shared/ENVIRONMENT.md; attention sits at the lowest
resolution and in the mid block, as in the diffusers unconditional training example.
"""

from __future__ import annotations

from typing import Any

PRESETS: dict[str, dict[str, Any]] = {
    # ~0.18 M parameters: for tests only
    "tiny": dict(block_out_channels=(16, 32), layers_per_block=1, norm_num_groups=8, attention_head_dim=8),
    # ~0.69 M: a weak guide for autoguidance (engine/sampling/guidance.py) of a `small` model; about 0.45× the small's step time
    "xsmall": dict(block_out_channels=(16, 32, 64), layers_per_block=1, norm_num_groups=8, attention_head_dim=32),
    # ~2.7 M: about 1 s per batch-64 step at 32 px on a 2-core CPU (fp32)
    "small": dict(block_out_channels=(32, 64, 128), layers_per_block=1, norm_num_groups=32, attention_head_dim=32),
    # ~10.7 M: small plus a fourth level at 4×4 with 256 channels, where parameters cost little compute; on a 2-core
    # CPU (bf16, batch 64, 32 px) a step takes about 1.17× the small's (paired rounds, 2026-11-29); 21 MB in fp16
    "small4": dict(
        block_out_channels=(32, 64, 128, 256), layers_per_block=1, norm_num_groups=32, attention_head_dim=32
    ),
    # ~4.4 M
    "medium": dict(block_out_channels=(64, 128, 128), layers_per_block=1, norm_num_groups=32, attention_head_dim=32),
    # ~10.4 M (2 layers per block): for GPUs; sized so that its fp16 weights (21 MB) stay under a bundled model's 25 MB
    "large": dict(block_out_channels=(64, 128, 192), layers_per_block=2, norm_num_groups=32, attention_head_dim=32),
    # ~25 M (2 layers per block, 4 levels): for GPUs
    "base": dict(block_out_channels=(64, 128, 256, 256), layers_per_block=2, norm_num_groups=32, attention_head_dim=32),
}


def unet_config(preset: str, resolution: int, channels: int = 3) -> dict[str, Any]:
    """The UNet2DModel config of ``preset`` at ``resolution`` (a multiple of 2**(levels-1))."""
    if preset not in PRESETS:
        raise ValueError(f"Unknown UNet preset '{preset}'. Choose one of: {', '.join(PRESETS)}.")
    spec = dict(PRESETS[preset])
    levels = len(spec["block_out_channels"])
    if resolution % (2 ** (levels - 1)) != 0:
        raise ValueError(f"The '{preset}' UNet needs a resolution divisible by {2 ** (levels - 1)}; got {resolution}.")
    down = ["DownBlock2D"] * (levels - 1) + ["AttnDownBlock2D"]
    up = ["AttnUpBlock2D"] + ["UpBlock2D"] * (levels - 1)
    return dict(
        sample_size=resolution,
        in_channels=channels,
        out_channels=channels,
        down_block_types=tuple(down),
        up_block_types=tuple(up),
        **spec,
    )


def build_unet(preset: str, resolution: int, seed: int = 0):
    import torch
    from diffusers import UNet2DModel

    torch.manual_seed(seed)
    return UNet2DModel(**unet_config(preset, resolution))
