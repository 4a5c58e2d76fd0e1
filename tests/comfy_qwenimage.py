"""Write a tiny Qwen-Image pipeline as ComfyUI keeps its files: the transformer with diffusers' own key names
(qwen_image_*.safetensors; optionally behind ``model.diffusion_model.``), Qwen2.5-VL in the layout of Qwen's own
files, ``visual.*`` and ``model.*`` (qwen_2.5_vl_7b.safetensors; transformers 5 names them ``model.visual.*`` and
``model.language_model.*``), and the VAE in Wan 2.1's original layout (qwen_image_vae.safetensors).

The Wan names are the inverse of diffusers' ``convert_wan_vae_to_diffusers``; ``wan_vae_to_original`` checks itself
by running that conversion back, so a wrong name here fails loudly. That conversion is written for Wan's own depth
(two residual blocks a level, three a decoder level, and four levels), so the tiny VAE here has that shape, only
narrow (``tiny_qwenimage_split_pipeline``).
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from safetensors.torch import save_file

WAN_FIXED = {"encoder.conv_in": "encoder.conv1", "decoder.conv_in": "decoder.conv1",
             "encoder.norm_out": "encoder.head.0", "encoder.conv_out": "encoder.head.2",
             "decoder.norm_out": "decoder.head.0", "decoder.conv_out": "decoder.head.2",
             "quant_conv": "conv1", "post_quant_conv": "conv2"}
WAN_RESNET = {"norm1": "residual.0", "conv1": "residual.2", "norm2": "residual.3", "conv2": "residual.6",
              "conv_shortcut": "shortcut"}


def _plain(state: dict) -> dict:
    return {key: value.detach().clone().contiguous() for key, value in state.items()}


def _wan_name(key: str) -> str:
    stem, _, param = key.rpartition(".")
    if stem in WAN_FIXED:
        return f"{WAN_FIXED[stem]}.{param}"
    if m := re.fullmatch(r"(encoder|decoder)\.mid_block\.(resnets|attentions)\.(\d)\.(.+)", key):
        index = {("resnets", "0"): 0, ("attentions", "0"): 1, ("resnets", "1"): 2}[m[2], m[3]]
        rest = m[4]
        if m[2] == "resnets":
            layer, _, param = rest.rpartition(".")
            rest = f"{WAN_RESNET[layer]}.{param}"
        return f"{m[1]}.middle.{index}.{rest}"
    if m := re.fullmatch(r"encoder\.down_blocks\.(\d+)\.(norm1|conv1|norm2|conv2|conv_shortcut)\.(\w+)", key):
        return f"encoder.downsamples.{m[1]}.{WAN_RESNET[m[2]]}.{m[3]}"
    if key.startswith("encoder.down_blocks."):  # the resampling layers keep their names
        return key.replace("encoder.down_blocks.", "encoder.downsamples.")
    resnet = r"(norm1|conv1|norm2|conv2|conv_shortcut)"
    if m := re.fullmatch(rf"decoder\.up_blocks\.(\d)\.resnets\.(\d)\.{resnet}\.(\w+)", key):
        return f"decoder.upsamples.{4 * int(m[1]) + int(m[2])}.{WAN_RESNET[m[3]]}.{m[4]}"
    if m := re.fullmatch(r"decoder\.up_blocks\.(\d)\.upsamplers\.0\.(.+)", key):
        return f"decoder.upsamples.{4 * int(m[1]) + 3}.{m[2]}"
    raise KeyError(f"no Wan name for {key}")


def wan_vae_to_original(vae) -> dict:
    """An AutoencoderKLQwenImage's weights under Wan 2.1's original names, checked against diffusers' conversion."""
    from diffusers.loaders.single_file_utils import convert_wan_vae_to_diffusers

    state = _plain(vae.state_dict())
    original = {_wan_name(key): value for key, value in state.items()}
    back = convert_wan_vae_to_diffusers(dict(original))
    assert set(back) == set(state) and all(back[k] is original[_wan_name(k)] for k in state), "not Wan's names"
    return original


def qwen_vl_to_original(text_encoder, lm_head: bool = True) -> dict:
    """A transformers 5 Qwen2_5_VLForConditionalGeneration's weights in Qwen's own file layout (ComfyUI's)."""
    out = {}
    for key, value in _plain(text_encoder.state_dict()).items():
        if key.startswith("model.visual."):
            key = key.removeprefix("model.")
        elif key.startswith("model.language_model."):
            key = "model." + key.removeprefix("model.language_model.")
        elif key == "lm_head.weight" and not lm_head:
            continue
        out[key] = value
    return out


def tiny_qwenimage_split_pipeline():
    """The tiny Qwen-Image pipeline (tests/tiny_qwenimage.py) with a VAE of Wan's own depth, only narrow."""
    from diffusers import AutoencoderKLQwenImage

    from tests.tiny_qwenimage import LATENTS_MEAN, LATENTS_STD, tiny_qwenimage_pipeline

    pipe = tiny_qwenimage_pipeline()
    torch.manual_seed(1)
    pipe.vae = AutoencoderKLQwenImage(base_dim=8, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2,
                                      temperal_downsample=[False, True, True], latents_mean=list(LATENTS_MEAN),
                                      latents_std=list(LATENTS_STD))
    pipe.register_modules(vae=pipe.vae)
    return pipe


def save_qwenimage_files(pipe, home: Path, prefix: bool = False, lm_head: bool = True) -> dict:
    """The tiny pipeline as a ComfyUI models home: models/diffusion_models/tiny-qwen_image.safetensors (behind
    ``model.diffusion_model.`` with ``prefix``), models/text_encoders/qwen_2.5_vl_7b.safetensors (without its LM head
    unless ``lm_head``), models/vae/qwen_image_vae.safetensors."""
    models = home / "models"
    files = {"model": models / "diffusion_models" / "tiny-qwen_image.safetensors",
             "qwenvl": models / "text_encoders" / "qwen_2.5_vl_7b.safetensors",
             "vae": models / "vae" / "qwen_image_vae.safetensors"}
    for path in files.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    state = _plain(pipe.transformer.state_dict())
    save_file({("model.diffusion_model." if prefix else "") + k: v for k, v in state.items()}, str(files["model"]))
    save_file(qwen_vl_to_original(pipe.text_encoder, lm_head), str(files["qwenvl"]))
    save_file(wan_vae_to_original(pipe.vae), str(files["vae"]))
    return files
