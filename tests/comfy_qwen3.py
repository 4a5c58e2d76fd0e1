"""Write a tiny Z-Image or Flux.2 Klein pipeline as the files artists keep (ComfyUI's layout): the diffusion model in
its original key layout (Tongyi's for Z-Image as ComfyUI's z_image_turbo_bf16.safetensors holds it, BFL's for Klein),
the Qwen3 text encoder as ComfyUI's qwen_3_4b.safetensors keeps it (Qwen3's own names under ``model.``, no LM head),
and the VAE (Flux.1's ae.safetensors in the LDM layout; Flux.2's flux2-vae.safetensors, the LDM layout with its quant
convolutions inside the encoder and decoder and its batch norm's statistics).

The names are the inverse of diffusers' conversions (single_file_utils.convert_z_image_transformer_checkpoint_to_
diffusers, convert_flux2_transformer_checkpoint_to_diffusers, convert_ldm_vae_checkpoint): tests load the files back
and compare pictures with the pipeline's own, so a wrong name here fails loudly.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from safetensors.torch import save_file

from tests.comfy_files import _plain, _swap_halves, save_vae
from tests.ldm_checkpoint import vae_to_ldm

ZIMAGE_RENAMES = (("all_final_layer.2-1.", "final_layer."), ("all_x_embedder.2-1.", "x_embedder."),
                  (".attention.to_out.0.", ".attention.out."), (".attention.norm_k.", ".attention.k_norm."),
                  (".attention.norm_q.", ".attention.q_norm."))


def zimage_to_original(state: dict) -> dict:
    """A diffusers ZImageTransformer2DModel's state in Tongyi's layout: q/k/v fused as ``attention.qkv``."""
    out = {}
    for key, value in state.items():
        if m := re.match(r"(.*)\.attention\.to_([qkv])\.weight", key):
            if m[2] == "q":
                out[f"{m[1]}.attention.qkv.weight"] = torch.cat(
                    [state[f"{m[1]}.attention.to_{x}.weight"] for x in "qkv"])
            continue
        for old, new in ZIMAGE_RENAMES:
            key = key.replace(old, new)
        out[key] = value
    return out


def save_qwen3(model, path: Path) -> Path:
    """A transformers Qwen3 (Qwen3Model or Qwen3ForCausalLM) as ComfyUI keeps it: ``model.``-prefixed names, no head."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {key: value for key, value in _plain(model.state_dict()).items() if not key.startswith("lm_head.")}
    if not any(key.startswith("model.") for key in state):
        state = {f"model.{key}": value for key, value in state.items()}
    save_file(state, str(path))
    return path


def save_zimage_files(pipe, home: Path, prefix: str = "model.diffusion_model.") -> dict:
    """The tiny Z-Image pipeline as a ComfyUI models home: models/diffusion_models/tiny-z-image-turbo.safetensors
    (behind ``prefix``), models/text_encoders/qwen_3_4b.safetensors, models/vae/ae.safetensors."""
    models = home / "models"
    files = {"model": models / "diffusion_models" / "tiny-z-image-turbo.safetensors"}
    files["model"].parent.mkdir(parents=True, exist_ok=True)
    state = zimage_to_original(_plain(pipe.transformer.state_dict()))
    save_file({prefix + key: value for key, value in state.items()}, str(files["model"]))
    files["qwen3"] = save_qwen3(pipe.text_encoder, models / "text_encoders" / "qwen_3_4b.safetensors")
    files["vae"] = save_vae(pipe.vae, models / "vae" / "ae.safetensors")
    return files


KLEIN_FIXED = {"x_embedder": "img_in", "context_embedder": "txt_in",
               "time_guidance_embed.timestep_embedder.linear_1": "time_in.in_layer",
               "time_guidance_embed.timestep_embedder.linear_2": "time_in.out_layer",
               "time_guidance_embed.guidance_embedder.linear_1": "guidance_in.in_layer",
               "time_guidance_embed.guidance_embedder.linear_2": "guidance_in.out_layer",
               "double_stream_modulation_img.linear": "double_stream_modulation_img.lin",
               "double_stream_modulation_txt.linear": "double_stream_modulation_txt.lin",
               "single_stream_modulation.linear": "single_stream_modulation.lin", "proj_out": "final_layer.linear"}
KLEIN_DOUBLE = {"attn.norm_q": "img_attn.norm.query_norm", "attn.norm_k": "img_attn.norm.key_norm",
                "attn.to_out.0": "img_attn.proj", "ff.linear_in": "img_mlp.0", "ff.linear_out": "img_mlp.2",
                "attn.norm_added_q": "txt_attn.norm.query_norm", "attn.norm_added_k": "txt_attn.norm.key_norm",
                "attn.to_add_out": "txt_attn.proj", "ff_context.linear_in": "txt_mlp.0",
                "ff_context.linear_out": "txt_mlp.2"}
KLEIN_SINGLE = {"attn.to_qkv_mlp_proj": "linear1", "attn.to_out": "linear2", "attn.norm_q": "norm.query_norm",
                "attn.norm_k": "norm.key_norm"}


def klein_to_original(state: dict) -> dict:
    """A diffusers Flux2Transformer2DModel's state in BFL's layout (flux-2-klein-4b.safetensors): q/k/v fused, q/k
    norm weights as ``scale``, the final modulation's halves in BFL's (shift, scale) order."""
    out = {}
    for key, value in state.items():
        stem, _, param = key.rpartition(".")
        if stem in KLEIN_FIXED:
            out[f"{KLEIN_FIXED[stem]}.{param}"] = value
        elif stem == "norm_out.linear":
            out[f"final_layer.adaLN_modulation.1.{param}"] = _swap_halves(value)
        elif m := re.match(r"transformer_blocks\.(\d+)\.(.*)", stem):
            if m[2] in ("attn.to_q", "attn.to_k", "attn.to_v", "attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj"):
                continue  # joined below
            name = KLEIN_DOUBLE[m[2]]
            out[f"double_blocks.{m[1]}.{name}.{'scale' if name.endswith('_norm') else param}"] = value
        elif m := re.match(r"single_transformer_blocks\.(\d+)\.(.*)", stem):
            name = KLEIN_SINGLE[m[2]]
            out[f"single_blocks.{m[1]}.{name}.{'scale' if name.endswith('_norm') else param}"] = value
        else:
            raise KeyError(f"no original name for {key}")
    for i in sorted({int(m[1]) for k in state if (m := re.match(r"transformer_blocks\.(\d+)\.", k))}):
        block = f"transformer_blocks.{i}.attn"
        out[f"double_blocks.{i}.img_attn.qkv.weight"] = torch.cat([state[f"{block}.to_{x}.weight"] for x in "qkv"])
        out[f"double_blocks.{i}.txt_attn.qkv.weight"] = torch.cat(
            [state[f"{block}.add_{x}_proj.weight"] for x in "qkv"])
    return out


def save_flux2_vae(vae, path: Path) -> Path:
    """An AutoencoderKLFlux2 as BFL's flux2-vae.safetensors: the LDM layout, the quant convolutions inside the encoder
    and decoder, the batch norm's running statistics (its step counter left out)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(flux2_vae_to_original(_plain(vae.state_dict()), len(vae.config.down_block_types)), str(path))
    return path


def flux2_vae_to_original(state: dict, num_blocks: int) -> dict:
    state = dict(state)
    norm = {key: state.pop(key) for key in ("bn.running_mean", "bn.running_var")}
    state.pop("bn.num_batches_tracked", None)
    ldm = vae_to_ldm(state, num_blocks)
    for old, new in (("quant_conv.", "encoder.quant_conv."), ("post_quant_conv.", "decoder.post_quant_conv.")):
        for key in [k for k in ldm if k.startswith(old)]:
            ldm[new + key[len(old):]] = ldm.pop(key)
    return {**ldm, **norm}


def save_klein_files(pipe, home: Path, prefix: str = "") -> dict:
    """The tiny Klein pipeline as a ComfyUI models home: models/diffusion_models/tiny-flux-2-klein-4b.safetensors
    (BFL's layout, behind ``prefix``), models/text_encoders/qwen_3_4b.safetensors, models/vae/flux2-vae.safetensors."""
    models = home / "models"
    files = {"model": models / "diffusion_models" / "tiny-flux-2-klein-4b.safetensors"}
    files["model"].parent.mkdir(parents=True, exist_ok=True)
    state = klein_to_original(_plain(pipe.transformer.state_dict()))
    save_file({prefix + key: value for key, value in state.items()}, str(files["model"]))
    files["qwen3"] = save_qwen3(pipe.text_encoder, models / "text_encoders" / "qwen_3_4b.safetensors")
    files["vae"] = save_flux2_vae(pipe.vae, models / "vae" / "flux2-vae.safetensors")
    return files
