"""Write a tiny diffusers pipeline of a flow family as the files artists keep (ComfyUI's layout): the diffusion model
in its original key layout (Stability's MMDiT names for SD 3.5, optionally behind ``model.diffusion_model.`` with
its VAE as ``first_stage_model.*``, as Stability's sd3.5_medium.safetensors), each text encoder in a file of its own
with transformers' key names (ComfyUI's clip_l.safetensors, clip_g.safetensors, t5xxl_fp16.safetensors), and the VAE
in the original layout (ComfyUI's models/vae files). The config folder a test points DDPM_STUDIO_CONFIGS at is the
pipeline's configs and tokenizers, under the name of the real one it stands in for.

The key names are the inverse of diffusers' single_file_utils conversions (convert_sd3_transformer_checkpoint_to_
diffusers, convert_ldm_vae_checkpoint): tests load the files back through from_single_file and compare pictures, so
a wrong name here fails loudly.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file

from tests.ldm_checkpoint import vae_to_ldm

SD3_FIXED = {"pos_embed.proj": "x_embedder.proj",
             "time_text_embed.timestep_embedder.linear_1": "t_embedder.mlp.0",
             "time_text_embed.timestep_embedder.linear_2": "t_embedder.mlp.2",
             "time_text_embed.text_embedder.linear_1": "y_embedder.mlp.0",
             "time_text_embed.text_embedder.linear_2": "y_embedder.mlp.2",
             "context_embedder": "context_embedder", "proj_out": "final_layer.linear"}
SD3_BLOCK = {"attn.to_out.0": "x_block.attn.proj", "attn.to_add_out": "context_block.attn.proj",
             "norm1.linear": "x_block.adaLN_modulation.1", "norm1_context.linear": "context_block.adaLN_modulation.1",
             "ff.net.0.proj": "x_block.mlp.fc1", "ff.net.2": "x_block.mlp.fc2",
             "ff_context.net.0.proj": "context_block.mlp.fc1", "ff_context.net.2": "context_block.mlp.fc2",
             "attn.norm_q": "x_block.attn.ln_q", "attn.norm_k": "x_block.attn.ln_k",
             "attn.norm_added_q": "context_block.attn.ln_q", "attn.norm_added_k": "context_block.attn.ln_k",
             # MMDiT-X's second attention (SD 3.5 Medium's first 13 blocks)
             "attn2.norm_q": "x_block.attn2.ln_q", "attn2.norm_k": "x_block.attn2.ln_k",
             "attn2.to_out.0": "x_block.attn2.proj"}


def _swap_halves(weight: torch.Tensor) -> torch.Tensor:
    """(scale, shift) ↔ (shift, scale): the original AdaLayerNormContinuous order is the other one."""
    first, second = weight.chunk(2, dim=0)
    return torch.cat([second, first], dim=0)


def sd3_to_original(state: dict, num_layers: int) -> dict:
    out = {}
    for key, value in state.items():
        stem, _, param = key.rpartition(".")
        if key == "pos_embed.pos_embed":  # the position table (a buffer)
            out["pos_embed"] = value
        elif stem in SD3_FIXED:
            out[f"{SD3_FIXED[stem]}.{param}"] = value
        elif stem == "norm_out.linear":
            out[f"final_layer.adaLN_modulation.1.{param}"] = _swap_halves(value)
        elif m := re.match(r"transformer_blocks\.(\d+)\.(.*)", stem):
            i, rest = int(m[1]), m[2]
            if rest in ("attn.to_q", "attn.to_k", "attn.to_v", "attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj",
                        "attn2.to_q", "attn2.to_k", "attn2.to_v"):
                continue  # joined below
            if rest not in SD3_BLOCK:
                raise KeyError(f"no original name for {key}")
            if rest == "norm1_context.linear" and i == num_layers - 1:
                value = _swap_halves(value)
            out[f"joint_blocks.{i}.{SD3_BLOCK[rest]}.{param}"] = value
        else:
            raise KeyError(f"no original name for {key}")
    for i in range(num_layers):
        for param in ("weight", "bias"):
            block = f"transformer_blocks.{i}.attn"
            out[f"joint_blocks.{i}.x_block.attn.qkv.{param}"] = torch.cat(
                [state[f"{block}.to_{x}.{param}"] for x in "qkv"])
            out[f"joint_blocks.{i}.context_block.attn.qkv.{param}"] = torch.cat(
                [state[f"{block}.add_{x}_proj.{param}"] for x in "qkv"])
            if f"transformer_blocks.{i}.attn2.to_q.{param}" in state:
                out[f"joint_blocks.{i}.x_block.attn2.qkv.{param}"] = torch.cat(
                    [state[f"transformer_blocks.{i}.attn2.to_{x}.{param}"] for x in "qkv"])
    return out


def _plain(state: dict) -> dict:
    return {key: value.detach().clone().contiguous() for key, value in state.items()}


def save_text_encoder(model, path: Path) -> Path:
    """A transformers text encoder as ComfyUI keeps it: transformers' key names, one file; a CLIP's under
    ``text_model.`` (transformers 5's CLIPTextModel leaves that level out of its own names)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state = _plain(model.state_dict())
    if type(model).__name__ == "CLIPTextModel" and not any(key.startswith("text_model.") for key in state):
        state = {f"text_model.{key}": value for key, value in state.items()}
    save_file(state, str(path))
    return path


def save_vae(vae, path: Path, prefix: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    state = vae_to_ldm(_plain(vae.state_dict()), len(vae.config.down_block_types))
    save_file({prefix + key: value for key, value in state.items()}, str(path))
    return path


def save_sd3_files(pipe, home: Path, checkpoint: bool = False) -> dict:
    """The tiny SD 3 pipeline as a ComfyUI models home: models/diffusion_models/tiny-sd35.safetensors (or, with
    ``checkpoint``, models/checkpoints/tiny-sd35.safetensors holding its VAE too, as Stability ships sd3.5_medium),
    models/text_encoders/clip_l.safetensors and clip_g.safetensors, models/vae/sd35_vae.safetensors."""
    models = home / "models"
    state = sd3_to_original(_plain(pipe.transformer.state_dict()), pipe.transformer.config.num_layers)
    files = {}
    if checkpoint:
        files["model"] = models / "checkpoints" / "tiny-sd35.safetensors"
        vae = vae_to_ldm(_plain(pipe.vae.state_dict()), len(pipe.vae.config.down_block_types))
        state = {**{f"model.diffusion_model.{k}": v for k, v in state.items()},
                 **{f"first_stage_model.{k}": v for k, v in vae.items()}}
    else:
        files["model"] = models / "diffusion_models" / "tiny-sd35.safetensors"
        files["vae"] = save_vae(pipe.vae, models / "vae" / "sd35_vae.safetensors")
    files["model"].parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(files["model"]))
    files["clip_l"] = save_text_encoder(pipe.text_encoder, models / "text_encoders" / "clip_l.safetensors")
    files["clip_g"] = save_text_encoder(pipe.text_encoder_2, models / "clip" / "clip_g.safetensors")
    return files


def save_all_in_one(checkpoint: Path, clip_l: Path, clip_g: Path, path: Path) -> Path:
    """Stability's checkpoint with both CLIP encoders inside under ComfyUI's prefixes
    (``text_encoders.clip_l.transformer.``), as its all-in-one files hold them."""
    from safetensors.torch import load_file

    state = load_file(str(checkpoint))
    for name, encoder in (("clip_l", clip_l), ("clip_g", clip_g)):
        state.update({f"text_encoders.{name}.transformer.{k}": v for k, v in load_file(str(encoder)).items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path))
    return path


def save_configs(pipeline_dir: Path, out: Path) -> Path:
    """A pipeline folder's configs and tokenizers, without weights: what a shipped config folder stands in for."""
    for item in pipeline_dir.rglob("*"):
        if item.is_file() and item.suffix != ".safetensors":
            (out / item.relative_to(pipeline_dir)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(item, out / item.relative_to(pipeline_dir))
    return out


FLUX_FIXED = {"time_text_embed.timestep_embedder.linear_1": "time_in.in_layer",
              "time_text_embed.timestep_embedder.linear_2": "time_in.out_layer",
              "time_text_embed.text_embedder.linear_1": "vector_in.in_layer",
              "time_text_embed.text_embedder.linear_2": "vector_in.out_layer",
              "time_text_embed.guidance_embedder.linear_1": "guidance_in.in_layer",
              "time_text_embed.guidance_embedder.linear_2": "guidance_in.out_layer",
              "context_embedder": "txt_in", "x_embedder": "img_in", "proj_out": "final_layer.linear"}
FLUX_DOUBLE = {"norm1.linear": "img_mod.lin", "norm1_context.linear": "txt_mod.lin",
               "attn.norm_q": "img_attn.norm.query_norm", "attn.norm_k": "img_attn.norm.key_norm",
               "attn.norm_added_q": "txt_attn.norm.query_norm", "attn.norm_added_k": "txt_attn.norm.key_norm",
               "ff.net.0.proj": "img_mlp.0", "ff.net.2": "img_mlp.2", "ff_context.net.0.proj": "txt_mlp.0",
               "ff_context.net.2": "txt_mlp.2", "attn.to_out.0": "img_attn.proj", "attn.to_add_out": "txt_attn.proj"}
FLUX_SINGLE = {"norm.linear": "modulation.lin", "attn.norm_q": "norm.query_norm", "attn.norm_k": "norm.key_norm",
               "proj_out": "linear2"}
FLUX_JOINED = ("attn.to_q", "attn.to_k", "attn.to_v", "attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj",
               "proj_mlp")


def flux_to_original(state: dict) -> dict:
    """A diffusers Flux transformer's state in BFL's layout (flux1-dev.safetensors), q/k norm weights as ``scale``."""
    out = {}
    doubles, singles = set(), set()
    for key, value in state.items():
        stem, _, param = key.rpartition(".")
        if stem in FLUX_FIXED:
            out[f"{FLUX_FIXED[stem]}.{param}"] = value
        elif stem == "norm_out.linear":
            out[f"final_layer.adaLN_modulation.1.{param}"] = _swap_halves(value)
        elif m := re.match(r"(transformer_blocks|single_transformer_blocks)\.(\d+)\.(.*)", stem):
            double = m[1] == "transformer_blocks"
            (doubles if double else singles).add(int(m[2]))
            if m[3] in FLUX_JOINED:
                continue
            table, block = (FLUX_DOUBLE, "double_blocks") if double else (FLUX_SINGLE, "single_blocks")
            name = table[m[3]]
            out[f"{block}.{m[2]}.{name}.{'scale' if name.endswith('_norm') else param}"] = value
        else:
            raise KeyError(f"no original name for {key}")
    for i in doubles:
        for param in ("weight", "bias"):
            block = f"transformer_blocks.{i}.attn"
            out[f"double_blocks.{i}.img_attn.qkv.{param}"] = torch.cat(
                [state[f"{block}.to_{x}.{param}"] for x in "qkv"])
            out[f"double_blocks.{i}.txt_attn.qkv.{param}"] = torch.cat(
                [state[f"{block}.add_{x}_proj.{param}"] for x in "qkv"])
    for i in singles:
        for param in ("weight", "bias"):
            block = f"single_transformer_blocks.{i}"
            out[f"single_blocks.{i}.linear1.{param}"] = torch.cat(
                [*(state[f"{block}.attn.to_{x}.{param}"] for x in "qkv"), state[f"{block}.proj_mlp.{param}"]])
    return out


def flux_converter_for_tiny_widths(original):
    """diffusers' Flux converter splits a single block's fused q/k/v/MLP weights at Flux.1's own widths (its
    single_file_utils fixes inner_dim = 3072, the MLP 4 × that). For a tiny model this wraps it: the tiny pieces are
    padded to those widths before and cut back after, so every key name is still diffusers' own conversion."""
    flux_widths = (3072, 3072, 3072, 4 * 3072)

    def convert(checkpoint, config, **kwargs):
        inner = config["num_attention_heads"] * config["attention_head_dim"]
        tiny = (inner, inner, inner, 4 * inner)
        for key in [k for k in checkpoint if re.search(r"single_blocks\.\d+\.linear1\.", k)]:
            pieces = torch.split(checkpoint[key], tiny)
            checkpoint[key] = torch.cat([torch.cat([p, p.new_zeros((size - p.shape[0], *p.shape[1:]))])
                                         for p, size in zip(pieces, flux_widths)])
        out = original(checkpoint=checkpoint, config=config, **kwargs)
        for key in out:
            if m := re.match(r"single_transformer_blocks\.\d+\.(attn\.to_[qkv]|proj_mlp)\.", key):
                out[key] = out[key][: 4 * inner if m[1] == "proj_mlp" else inner]
        return out

    return convert


def save_flux_files(pipe, home: Path) -> dict:
    """The tiny Flux pipeline as a ComfyUI models home: models/diffusion_models/tiny-flux1-dev.safetensors (BFL's
    layout), models/text_encoders/clip_l.safetensors and t5xxl_fp16.safetensors, models/vae/ae.safetensors."""
    models = home / "models"
    files = {"model": models / "diffusion_models" / "tiny-flux1-dev.safetensors"}
    files["model"].parent.mkdir(parents=True, exist_ok=True)
    save_file(flux_to_original(_plain(pipe.transformer.state_dict())), str(files["model"]))
    files["clip_l"] = save_text_encoder(pipe.text_encoder, models / "text_encoders" / "clip_l.safetensors")
    files["t5xxl"] = save_text_encoder(pipe.text_encoder_2, models / "text_encoders" / "t5xxl_fp16.safetensors")
    files["vae"] = save_vae(pipe.vae, models / "vae" / "ae.safetensors")
    return files


def header_only_file(path: Path, keys) -> Path:
    """A safetensors file of headers only (what telling a family from its keys reads): ``keys`` a list (each 1 long)
    or {key: shape}; the data is never read."""
    import json

    shapes = keys if isinstance(keys, dict) else dict.fromkeys(keys, (1,))
    text = json.dumps({key: {"dtype": "BF16", "shape": list(shape), "data_offsets": [0, 0]}
                       for key, shape in shapes.items()}).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(len(text).to_bytes(8, "little") + text)
    return path
