"""Write the tiny Chroma pipeline as the files artists keep (ComfyUI's layout): the diffusion model in lodestones'
original key layout (Chroma1-HD.safetensors; optionally behind ``model.diffusion_model.``, as ComfyUI saves it), the
T5 encoder as t5xxl_fp16.safetensors and Flux.1's VAE as ae.safetensors in the original layout.

Chroma's keys are Flux's (BFL's double and single blocks, txt_in, img_in, final_layer.linear; tests/comfy_files.py
writes those) without the per-block modulation, plus the approximator that replaced it: ``distilled_guidance_layer``
with its in/out projections, MLP layers named ``in_layer``/``out_layer`` and RMS norms holding ``scale`` — the
inverse of diffusers' convert_chroma_transformer_checkpoint_to_diffusers (single_file_utils), which loads them back.
"""

from __future__ import annotations

import re
from pathlib import Path

from safetensors.torch import save_file

from tests.comfy_files import _plain, flux_to_original, save_text_encoder, save_vae

APPROXIMATOR = "distilled_guidance_layer."
APPROXIMATOR_NAMES = {"linear_1": "in_layer", "linear_2": "out_layer"}  # diffusers' → the original's, per layer


def chroma_to_original(state: dict) -> dict:
    """A diffusers ChromaTransformer2DModel's state in the original layout."""
    out = flux_to_original({key: value for key, value in state.items() if not key.startswith(APPROXIMATOR)})
    for key, value in state.items():
        if not key.startswith(APPROXIMATOR):
            continue
        rest = key.removeprefix(APPROXIMATOR)
        if m := re.fullmatch(r"layers\.(\d+)\.(linear_[12])\.(weight|bias)", rest):
            rest = f"layers.{m[1]}.{APPROXIMATOR_NAMES[m[2]]}.{m[3]}"
        elif m := re.fullmatch(r"norms\.(\d+)\.weight", rest):
            rest = f"norms.{m[1]}.scale"
        elif not re.fullmatch(r"(in|out)_proj\.(weight|bias)", rest):
            raise KeyError(f"no original name for {key}")
        out[APPROXIMATOR + rest] = value
    return out


def save_chroma_files(pipe, home: Path, prefix: str = "") -> dict:
    """The tiny Chroma pipeline as a ComfyUI models home: models/diffusion_models/tiny-chroma1-hd.safetensors (its
    keys behind ``prefix``), models/text_encoders/t5xxl_fp16.safetensors, models/vae/ae.safetensors."""
    models = home / "models"
    files = {"model": models / "diffusion_models" / "tiny-chroma1-hd.safetensors"}
    files["model"].parent.mkdir(parents=True, exist_ok=True)
    state = chroma_to_original(_plain(pipe.transformer.state_dict()))
    save_file({prefix + key: value for key, value in state.items()}, str(files["model"]))
    files["t5xxl"] = save_text_encoder(pipe.text_encoder, models / "text_encoders" / "t5xxl_fp16.safetensors")
    files["vae"] = save_vae(pipe.vae, models / "vae" / "ae.safetensors")
    return files
