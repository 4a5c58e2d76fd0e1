"""A tiny random Stable Diffusion 3 pipeline built offline: an SD3Transformer2DModel of 2 layers, a 16-channel
AutoencoderKL with a scaling and a shift factor (SD3's own: 1.5305, 0.0609), two CLIP text encoders with projections
of different widths (32 and 48, as SD3's CLIP-L and CLIP-G are 768 and 1280) on the byte-level tokenizer of
``tiny_sd.py``, no T5 (left out, as ComfyUI allows) and a flow-matching Euler scheduler with shift 3."""

from __future__ import annotations

from pathlib import Path

import torch

from tests.tiny_sd import tiny_tokenizer

JOINT_WIDTH = 96  # the transformer's context width: T5's in a real model (4096); the CLIPs' 32 + 48 padded to it


def tiny_sd3_pipeline(parts: Path):
    from diffusers import (
        AutoencoderKL,
        FlowMatchEulerDiscreteScheduler,
        SD3Transformer2DModel,
        StableDiffusion3Pipeline,
    )
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection

    torch.manual_seed(0)
    transformer = SD3Transformer2DModel(
        sample_size=8, patch_size=2, in_channels=16, out_channels=16, num_layers=2, attention_head_dim=8,
        num_attention_heads=4, joint_attention_dim=JOINT_WIDTH, caption_projection_dim=32,
        pooled_projection_dim=64, pos_embed_max_size=32,
    )
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=16, block_out_channels=(8, 8, 16, 16), layers_per_block=1,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4, norm_num_groups=8,
        sample_size=64, scaling_factor=1.5305, shift_factor=0.0609, use_quant_conv=False, use_post_quant_conv=False,
    )
    tokenizer = tiny_tokenizer(parts / "tokenizer-src")
    common = dict(vocab_size=1000, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
                  max_position_embeddings=77, bos_token_id=512, eos_token_id=513, pad_token_id=513, projection_dim=32)
    return StableDiffusion3Pipeline(
        transformer=transformer, vae=vae,
        text_encoder=CLIPTextModelWithProjection(CLIPTextConfig(hidden_size=32, **common)), tokenizer=tokenizer,
        text_encoder_2=CLIPTextModelWithProjection(CLIPTextConfig(hidden_size=48, **common)), tokenizer_2=tokenizer,
        text_encoder_3=None, tokenizer_3=None, scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
    )


def save_tiny_sd3(path: Path) -> Path:
    """The tiny SD3 pipeline saved as a diffusers folder (safetensors), T5 left out."""
    tiny_sd3_pipeline(path.parent / f".{path.name}-parts").save_pretrained(path, safe_serialization=True)
    return path
