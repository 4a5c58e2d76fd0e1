"""A tiny random Chroma pipeline built offline: a ChromaTransformer2DModel of one double- and one single-stream block
(patch size 1 on latents packed 2×2: 16 channels × 4 = 64 inputs, and a one-layer approximator in place of Flux's
modulation), Flux.1's 16-channel VAE and T5 from ``tiny_flux.py`` (Chroma has no CLIP), and the flow-matching Euler
scheduler with the dynamic shifting of Chroma1-HD's scheduler config."""

from __future__ import annotations

from pathlib import Path

import torch

from tests.tiny_flux import T5_WIDTH, tiny_flux_vae, tiny_t5_encoder, tiny_t5_tokenizer


def tiny_chroma_pipeline():
    from diffusers import (
        ChromaPipeline,
        ChromaTransformer2DModel,
        FlowMatchEulerDiscreteScheduler,
    )

    torch.manual_seed(0)
    transformer = ChromaTransformer2DModel(
        patch_size=1, in_channels=64, num_layers=1, num_single_layers=1, attention_head_dim=8,
        num_attention_heads=2, joint_attention_dim=T5_WIDTH, axes_dims_rope=(2, 2, 4),
        approximator_num_channels=16, approximator_hidden_dim=32, approximator_layers=1,
    )
    scheduler = FlowMatchEulerDiscreteScheduler(  # Flux-dev's config: ChromaPipeline takes its mu from these keys
        shift=3.0, use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15, base_image_seq_len=256,
        max_image_seq_len=4096)
    return ChromaPipeline(transformer=transformer, vae=tiny_flux_vae(), text_encoder=tiny_t5_encoder().eval(),
                          tokenizer=tiny_t5_tokenizer(), scheduler=scheduler)


def save_tiny_chroma(path: Path) -> Path:
    """The tiny Chroma pipeline saved as a diffusers folder (safetensors)."""
    tiny_chroma_pipeline().save_pretrained(path, safe_serialization=True)
    return path
