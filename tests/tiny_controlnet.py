"""A tiny random-weight ControlNet built from a tiny SD pipeline's UNet config (diffusers' ``from_unet``), its zero
convolutions (and the last layer of its control-image encoder) given random weights so that it steers: a fresh
ControlNet's are zero and change nothing."""

from __future__ import annotations

from pathlib import Path

import torch


def save_tiny_controlnet(path: Path, pipeline: Path, seed: int = 0, single_file: bool = False) -> Path:
    from diffusers import AutoencoderKL, ControlNetModel, UNet2DConditionModel
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    unet = UNet2DConditionModel.from_pretrained(pipeline / "unet")
    downsamplings = len(AutoencoderKL.load_config(pipeline / "vae")["block_out_channels"])  # to the latent size
    controlnet = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(8,) * downsamplings,
                                           load_weights_from_unet=False)
    with torch.no_grad():
        for block in [*controlnet.controlnet_down_blocks, controlnet.controlnet_mid_block,
                      controlnet.controlnet_cond_embedding.conv_out]:
            block.weight.normal_(0.0, 0.3)
    if single_file:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in controlnet.state_dict().items()}, str(path))
        controlnet.save_config(path.parent / f"{path.stem}-config")
        return path
    controlnet.save_pretrained(path)
    return path
