"""Engine options the GUI's settings hold; importable without torch (the window opens before torch loads)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MemoryOptions:
    """Trade speed for memory in latent pipelines (they change no pixel except through VAE tiling's seams)."""

    attention_slicing: bool = False  # attention computed in slices: less peak memory, a little slower
    vae_tiling: bool = False  # decode large images tile by tile
    cpu_offload: bool = False  # keep each model on the CPU until it runs (GPUs only)
    vae_fp32: bool = False  # the VAE in float32 while the rest runs in fp16/bf16: the fix for black (NaN) images
