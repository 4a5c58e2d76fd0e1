"""Tiny random-weight models built from configs, saved as real diffusers folders (seconds on a CPU)."""

from __future__ import annotations

from pathlib import Path

import torch


def tiny_unet(sample_size: int = 16, prediction_type: str = "epsilon"):
    from diffusers import UNet2DModel

    torch.manual_seed(0)
    return UNet2DModel(
        sample_size=sample_size,
        in_channels=3,
        out_channels=3,
        block_out_channels=(16, 32),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D"),
        norm_num_groups=8,
        attention_head_dim=8,
    )


def save_tiny_ddpm(path: Path, sample_size: int = 16, prediction_type: str = "epsilon") -> Path:
    from diffusers import DDPMPipeline, DDPMScheduler

    scheduler = DDPMScheduler(num_train_timesteps=1000, prediction_type=prediction_type)
    DDPMPipeline(unet=tiny_unet(sample_size), scheduler=scheduler).save_pretrained(path, safe_serialization=True)
    return Path(path)
