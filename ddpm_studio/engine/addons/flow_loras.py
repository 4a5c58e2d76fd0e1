"""A flow family's LoRA file made ready for its pipeline's own diffusers loader (FluxLoraLoaderMixin for Flux.1 and
Chroma, SD3LoraLoaderMixin, ZImageLoraLoaderMixin, QwenImageLoraLoaderMixin, Flux2LoraLoaderMixin), which converts
the kohya, ComfyUI and AI-Toolkit layouts itself, and checked to have landed on the model.

Two layouts artists download are renamed here first, to ones those loaders convert:

- a Flux.1/Chroma LoRA in ComfyUI's layout with peft's names (``diffusion_model.double_blocks.0.img_attn.qkv.
  lora_A.weight``): FluxLoraLoaderMixin converts ComfyUI's ``diffusion_model.`` keys only with kohya's
  ``lora_down``/``lora_up`` (its ``is_kohya`` test), so ``lora_A``/``lora_B`` are spelt so (the same matrices);
- an SD 3.5 LoRA in kohya's layout (sd-scripts' ``lora_unet_joint_blocks_0_x_block_attn_qkv``) or in ComfyUI's
  with the same original names (``diffusion_model.joint_blocks.0.x_block.attn.qkv.lora_A.weight``), which
  SD3LoraLoaderMixin does not convert (it reads diffusers' names, ``transformer.transformer_blocks.0.attn.to_q``): mapped onto SD3Transformer2DModel's names as diffusers' own single-file
  conversion maps the checkpoint (``convert_sd3_transformer_checkpoint_to_diffusers`` in
  ``loaders/single_file_utils.py``: ``joint_blocks.i`` → ``transformer_blocks.i``, a fused ``qkv`` split into
  ``to_q``/``to_k``/``to_v`` (``add_*_proj`` for the context block), ``proj`` → ``to_out.0``/``to_add_out``,
  ``mlp.fc1``/``fc2`` → ``ff.net.0.proj``/``ff.net.2``); the fused ``qkv``'s up matrix splits into three with the
  down matrix shared, and kohya's ``alpha / rank`` goes into the up matrices (sd-scripts' LoRA scales by it).

Anything else goes to the loader as the file, and a layout it cannot read is its error, said with the file's name."""

from __future__ import annotations

import re
from pathlib import Path

import torch

SD3_PARTS = {  # sd-scripts' SD3 module (under joint_blocks_i_) → SD3Transformer2DModel's, per stream
    "x_block_attn_proj": "attn.to_out.0", "context_block_attn_proj": "attn.to_add_out",
    "x_block_mlp_fc1": "ff.net.0.proj", "x_block_mlp_fc2": "ff.net.2",
    "context_block_mlp_fc1": "ff_context.net.0.proj", "context_block_mlp_fc2": "ff_context.net.2",
    "x_block_adaLN_modulation_1": "norm1.linear", "context_block_adaLN_modulation_1": "norm1_context.linear",
    "x_block_attn2_proj": "attn2.to_out.0",
}
SD3_QKV = {"x_block_attn_qkv": ("attn.to_q", "attn.to_k", "attn.to_v"),
           "context_block_attn_qkv": ("attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj"),
           "x_block_attn2_qkv": ("attn2.to_q", "attn2.to_k", "attn2.to_v")}


def _read(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path))


def lora_source(path: Path, family: str, state: dict | None = None):
    """What ``load_lora_weights`` is given for the LoRA at ``path`` on a ``family`` model: the path itself, or its
    tensors renamed to a layout that family's loader converts."""
    if family in ("flux", "chroma"):
        state = state if state is not None else _read(path)
        if any(k.startswith("diffusion_model.") and ".lora_A." in k for k in state) and not any(
                ".lora_down." in k for k in state):
            return {k.replace(".lora_A.", ".lora_down.").replace(".lora_B.", ".lora_up."): v for k, v in state.items()}
        return state
    if family == "sd3":
        state = state if state is not None else _read(path)
        if any(k.startswith("diffusion_model.joint_blocks.") for k in state):  # ComfyUI's: the same modules
            state = {_kohya_name(k): v for k, v in state.items()}
        if any(k.startswith("lora_unet_joint_blocks_") for k in state):
            return sd3_kohya_to_diffusers(state)
        return state
    return str(path) if state is None else state


def _kohya_name(key: str) -> str:
    """A ComfyUI key (``diffusion_model.joint_blocks.0.x_block.attn.qkv.lora_A.weight``) as kohya spells it."""
    for ours, kohya in ((".lora_A.weight", ".lora_down.weight"), (".lora_B.weight", ".lora_up.weight"),
                        (".lora_down.weight", ".lora_down.weight"), (".lora_up.weight", ".lora_up.weight"),
                        (".alpha", ".alpha")):
        if key.endswith(ours):
            module = key[len("diffusion_model."):-len(ours)] if key.startswith("diffusion_model.") else None
            return key if module is None else "lora_unet_" + module.replace(".", "_") + kohya
    return key


def sd3_kohya_to_diffusers(state: dict) -> dict:
    """sd-scripts' SD3 LoRA keys as SD3Transformer2DModel's (peft ``lora_A``/``lora_B``, ``transformer.`` prefix);
    its text-encoder keys (``lora_te1_``/``lora_te2_``) are left out (what is not the transformer's is refused by the
    loader's own rules otherwise). A module of the file not in the map is a ValueError naming it."""
    out: dict[str, torch.Tensor] = {}
    for key in [k for k in state if k.startswith("lora_unet_") and k.endswith(".lora_down.weight")]:
        module = key[len("lora_unet_"):-len(".lora_down.weight")]
        match = re.fullmatch(r"joint_blocks_(\d+)_(.+)", module)
        if match is None or (match.group(2) not in SD3_PARTS and match.group(2) not in SD3_QKV):
            raise ValueError(f"an SD 3.5 kohya LoRA module this converter does not know: {module}")
        block, part = match.groups()
        down = state[key]
        up = state[f"lora_unet_{module}.lora_up.weight"]
        alpha = state.get(f"lora_unet_{module}.alpha")
        scale = float(alpha) / down.shape[0] if alpha is not None else 1.0
        up = up * scale
        prefix = f"transformer.transformer_blocks.{block}."
        if part in SD3_QKV:
            for name, piece in zip(SD3_QKV[part], up.chunk(3, dim=0)):
                out[f"{prefix}{name}.lora_A.weight"] = down.clone()
                out[f"{prefix}{name}.lora_B.weight"] = piece.contiguous()
        else:
            out[f"{prefix}{SD3_PARTS[part]}.lora_A.weight"] = down
            out[f"{prefix}{SD3_PARTS[part]}.lora_B.weight"] = up
    return out


def landed(pipe, name: str) -> bool:
    """Whether the adapter ``name`` reached any of the pipeline's models (a LoRA none of whose keys are the model's
    layers is left out by diffusers with a warning only)."""
    for component in ("transformer", "unet", "text_encoder", "text_encoder_2", "text_encoder_3"):
        model = getattr(pipe, component, None)
        if model is not None and name in (getattr(model, "peft_config", None) or {}):
            return True
    return False
