"""Tiny random-weight models built from configs, saved as real diffusers folders (seconds on a CPU)."""

from __future__ import annotations

from pathlib import Path


def save_tiny_ddpm(path: Path, sample_size: int = 16, prediction_type: str = "epsilon", preset: str = "tiny",
                   seed: int = 0) -> Path:
    from diffusers import DDPMPipeline, DDPMScheduler

    from ddpm_studio.training.ddpm.presets import build_unet

    scheduler = DDPMScheduler(num_train_timesteps=1000, prediction_type=prediction_type)
    DDPMPipeline(unet=build_unet(preset, sample_size, seed), scheduler=scheduler).save_pretrained(path, safe_serialization=True)
    return Path(path)
