"""Tiny random 4× upscalers built offline: StableDiffusionUpscalePipeline (a 7-channel UNet conditioned on the noise
level as a class label, a 4× VAE) and LDMSuperResolutionPipeline (a 6-channel UNet2DModel, a 4× VQ model)."""

from __future__ import annotations

from pathlib import Path

import torch

from tests.tiny_sd import tiny_components


def save_tiny_x4(path: Path) -> Path:
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        DDPMScheduler,
        StableDiffusionUpscalePipeline,
        UNet2DConditionModel,
    )

    parts = tiny_components(path.parent / f".{path.name}-parts")
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=16, in_channels=7, out_channels=4, layers_per_block=1, block_out_channels=(16, 32),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, norm_num_groups=8, attention_head_dim=8, num_class_embeds=1000,
    )
    vae = AutoencoderKL(  # three levels: 4× between latents and pixels, as the real x4 upscaler's VAE
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 8, 16), layers_per_block=1,
        down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3, norm_num_groups=8,
        scaling_factor=0.08333,
    )
    pipe = StableDiffusionUpscalePipeline(
        vae=vae, text_encoder=parts["text_encoder"], tokenizer=parts["tokenizer"], unet=unet,
        low_res_scheduler=DDPMScheduler(), scheduler=DDIMScheduler(prediction_type="v_prediction",
                                                                    beta_schedule="scaled_linear", clip_sample=False),
        safety_checker=None, feature_extractor=None, watermarker=None, max_noise_level=350,
    )
    pipe.save_pretrained(path, safe_serialization=True)
    return path


def save_tiny_ldm_sr(path: Path) -> Path:
    from diffusers import DDIMScheduler, LDMSuperResolutionPipeline, UNet2DModel, VQModel

    torch.manual_seed(0)
    unet = UNet2DModel(
        sample_size=16, in_channels=6, out_channels=3, layers_per_block=1, block_out_channels=(16, 32),
        down_block_types=("DownBlock2D", "AttnDownBlock2D"), up_block_types=("AttnUpBlock2D", "UpBlock2D"),
        norm_num_groups=8,
    )
    vqvae = VQModel(
        in_channels=3, out_channels=3, latent_channels=3, block_out_channels=(8, 8, 16), layers_per_block=1,
        down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3, norm_num_groups=8,
        num_vq_embeddings=64, vq_embed_dim=3,
    )
    LDMSuperResolutionPipeline(vqvae=vqvae, unet=unet, scheduler=DDIMScheduler()).save_pretrained(path, safe_serialization=True)
    return path
