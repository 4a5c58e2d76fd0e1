"""Write a diffusers Stable Diffusion pipeline as one original-layout ("LDM") checkpoint, the kind A1111 and CivitAI
share: ``model.diffusion_model.*`` (UNet), ``first_stage_model.*`` (VAE), ``cond_stage_model.transformer.*`` (CLIP);
SDXL's two text encoders as ``conditioner.embedders.0.transformer.*`` (CLIP) and ``conditioner.embedders.1.model.*``
(OpenCLIP: packed q/k/v, ``resblocks``, a transposed projection).

The key names are the inverse of the renaming diffusers applies when it reads such a file (its single_file_utils);
tests load the file back through ``from_single_file`` and compare the images, so a wrong name here fails loudly.
"""

from __future__ import annotations

import re
from pathlib import Path

RESNET_RENAMES = [("norm1", "in_layers.0"), ("conv1", "in_layers.2"), ("norm2", "out_layers.0"),
                  ("conv2", "out_layers.3"), ("time_emb_proj", "emb_layers.1"), ("conv_shortcut", "skip_connection")]
UNET_FIXED = {"time_embedding.linear_1": "time_embed.0", "time_embedding.linear_2": "time_embed.2",
              "conv_in": "input_blocks.0.0", "conv_norm_out": "out.0", "conv_out": "out.2",
              "add_embedding.linear_1": "label_emb.0.0", "add_embedding.linear_2": "label_emb.0.2"}  # the last two: SDXL
VAE_ATTENTION = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}


def _resnet(rest: str) -> str:
    head, _, tail = rest.partition(".")
    return dict(RESNET_RENAMES).get(head, head) + "." + tail


def unet_to_ldm(state: dict, layers_per_block: int) -> dict:
    per_block = layers_per_block + 1
    out = {}
    for key, value in state.items():
        stem, _, param = key.rpartition(".")
        if stem in UNET_FIXED:
            out[f"{UNET_FIXED[stem]}.{param}"] = value
        elif m := re.match(r"down_blocks\.(\d+)\.resnets\.(\d+)\.(.*)", key):
            out[f"input_blocks.{int(m[1]) * per_block + int(m[2]) + 1}.0.{_resnet(m[3])}"] = value
        elif m := re.match(r"down_blocks\.(\d+)\.attentions\.(\d+)\.(.*)", key):
            out[f"input_blocks.{int(m[1]) * per_block + int(m[2]) + 1}.1.{m[3]}"] = value
        elif m := re.match(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)", key):
            out[f"input_blocks.{(int(m[1]) + 1) * per_block}.0.op.{m[2]}"] = value
        elif m := re.match(r"mid_block\.resnets\.(\d+)\.(.*)", key):
            out[f"middle_block.{2 * int(m[1])}.{_resnet(m[2])}"] = value
        elif m := re.match(r"mid_block\.attentions\.0\.(.*)", key):
            out[f"middle_block.1.{m[1]}"] = value
        elif m := re.match(r"up_blocks\.(\d+)\.resnets\.(\d+)\.(.*)", key):
            out[f"output_blocks.{int(m[1]) * per_block + int(m[2])}.0.{_resnet(m[3])}"] = value
        elif m := re.match(r"up_blocks\.(\d+)\.attentions\.(\d+)\.(.*)", key):
            out[f"output_blocks.{int(m[1]) * per_block + int(m[2])}.1.{m[3]}"] = value
        elif m := re.match(r"up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.*)", key):
            has_attention = any(k.startswith(f"up_blocks.{m[1]}.attentions.") for k in state)
            out[f"output_blocks.{int(m[1]) * per_block + layers_per_block}.{2 if has_attention else 1}.conv.{m[2]}"] = value
        else:
            raise KeyError(f"no LDM name for UNet key {key}")
    return out


def vae_to_ldm(state: dict, num_blocks: int) -> dict:
    out = {}
    for key, value in state.items():
        key_ldm = key.replace("conv_norm_out", "norm_out")
        if m := re.match(r"(encoder|decoder)\.mid_block\.attentions\.0\.(.*)\.(weight|bias)", key):
            name = VAE_ATTENTION[m[2]]
            if m[3] == "weight" and name != "norm":
                value = value[:, :, None, None]  # the LDM VAE attention uses 1×1 convolutions
            key_ldm = f"{m[1]}.mid.attn_1.{name}.{m[3]}"
        elif m := re.match(r"(encoder|decoder)\.mid_block\.resnets\.(\d+)\.(.*)", key):
            key_ldm = f"{m[1]}.mid.block_{int(m[2]) + 1}.{m[3].replace('conv_shortcut', 'nin_shortcut')}"
        elif m := re.match(r"encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.(.*)", key):
            key_ldm = f"encoder.down.{m[1]}.block.{m[2]}.{m[3].replace('conv_shortcut', 'nin_shortcut')}"
        elif m := re.match(r"encoder\.down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)", key):
            key_ldm = f"encoder.down.{m[1]}.downsample.conv.{m[2]}"
        elif m := re.match(r"decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.*)", key):
            key_ldm = f"decoder.up.{num_blocks - 1 - int(m[1])}.block.{m[2]}.{m[3].replace('conv_shortcut', 'nin_shortcut')}"
        elif m := re.match(r"decoder\.up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.*)", key):
            key_ldm = f"decoder.up.{num_blocks - 1 - int(m[1])}.upsample.conv.{m[2]}"
        out[key_ldm] = value
    return out


def open_clip_to_ldm(state: dict) -> dict:
    """A CLIP text model's weights in OpenCLIP's layout (SDXL's second text encoder, SD 2.x's only one)."""
    import torch

    out = {}
    for key, value in state.items():
        key = key.removeprefix("text_model.")
        if key == "embeddings.position_embedding.weight":
            out["positional_embedding"] = value
        elif key == "embeddings.token_embedding.weight":
            out["token_embedding.weight"] = value
        elif key.startswith("final_layer_norm."):
            out["ln_final." + key.rpartition(".")[2]] = value
        elif key == "text_projection.weight":
            out["text_projection"] = value.T  # OpenCLIP multiplies by it from the right
        elif m := re.match(r"encoder\.layers\.(\d+)\.(.*)", key):
            layer, rest = f"transformer.resblocks.{m[1]}", m[2]
            if rest.startswith("self_attn.") and rest.split(".")[1] in ("q_proj", "k_proj", "v_proj"):
                continue  # packed below
            rest = (rest.replace("layer_norm1", "ln_1").replace("layer_norm2", "ln_2").replace("mlp.fc1", "mlp.c_fc")
                    .replace("mlp.fc2", "mlp.c_proj").replace("self_attn.", "attn."))
            out[f"{layer}.{rest}"] = value
        else:
            raise KeyError(f"no OpenCLIP name for {key}")
    layers = {int(m[1]) for k in state if (m := re.search(r"encoder\.layers\.(\d+)\.", k))}
    prefix = "text_model." if any(k.startswith("text_model.") for k in state) else ""
    for i in layers:
        base = f"{prefix}encoder.layers.{i}.self_attn"
        for kind in ("weight", "bias"):
            out[f"transformer.resblocks.{i}.attn.in_proj_{kind}"] = torch.cat(
                [state[f"{base}.{p}_proj.{kind}"] for p in ("q", "k", "v")])
    return out


def _clip_layout(state: dict) -> dict:
    # the original layout nests the CLIP weights under text_model. (transformers 5 names them without it)
    return {k if k.startswith("text_model.") else f"text_model.{k}": v for k, v in state.items()}


def save_single_file(pipeline_dir: Path, out: Path, open_clip: bool = False) -> Path:
    """One ``.safetensors`` holding the pipeline's UNet, VAE and text encoder(s) in the original layout (SD 1.x or SDXL;
    with ``open_clip`` SD 2.x, whose one text encoder is OpenCLIP's: ``cond_stage_model.model.*``)."""
    import diffusers
    from safetensors.torch import save_file

    pipe = diffusers.DiffusionPipeline.from_pretrained(pipeline_dir, local_files_only=True)
    state = {}
    unet = unet_to_ldm(pipe.unet.state_dict(), pipe.unet.config.layers_per_block)
    state.update({f"model.diffusion_model.{k}": v for k, v in unet.items()})
    vae = vae_to_ldm(pipe.vae.state_dict(), len(pipe.vae.config.down_block_types))
    state.update({f"first_stage_model.{k}": v for k, v in vae.items()})
    clip = _clip_layout(pipe.text_encoder.state_dict())
    if hasattr(pipe, "text_encoder_2"):  # SDXL: "conditioner" embedders 0 (CLIP) and 1 (OpenCLIP)
        state.update({f"conditioner.embedders.0.transformer.{k}": v for k, v in clip.items()})
        bigg = open_clip_to_ldm(pipe.text_encoder_2.state_dict())
        state.update({f"conditioner.embedders.1.model.{k}": v for k, v in bigg.items()})
    elif open_clip:
        state.update({f"cond_stage_model.model.{k}": v for k, v in open_clip_to_ldm(pipe.text_encoder.state_dict()).items()})
    else:
        state.update({f"cond_stage_model.transformer.{k}": v for k, v in clip.items()})
    save_file({k: v.contiguous().clone() for k, v in state.items()}, str(out))
    return out


def save_config_folder(pipeline_dir: Path, out: Path) -> Path:
    """The configs of a pipeline folder without its weights: what DDPM Studio ships per family."""
    import shutil

    for item in ("model_index.json", "unet/config.json", "vae/config.json", "text_encoder/config.json",
                 "text_encoder_2/config.json", "scheduler/scheduler_config.json"):
        if (pipeline_dir / item).is_file():
            (out / item).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(pipeline_dir / item, out / item)
    for tokenizer in ("tokenizer", "tokenizer_2"):
        if (pipeline_dir / tokenizer).is_dir():
            shutil.copytree(pipeline_dir / tokenizer, out / tokenizer)
    return out

