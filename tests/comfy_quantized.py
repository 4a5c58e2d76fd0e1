"""A diffusion-model file (ComfyUI's layout, as tests/comfy_files.py writes it) rewritten as the float8 and GGUF
files artists download: ``*_fp8_e4m3fn.safetensors`` (the weights of the linear layers in float8, the rest, norms
and biases, kept in bf16 as ComfyUI's fp8 files keep them), "scaled fp8" (each float8 weight divided by a scale
per tensor, its absolute maximum over float8's largest value, the scale stored beside it as ``<layer>.scale_weight``
with a ``scaled_fp8`` marker: ComfyUI's older layout, comfy/utils.py convert_old_quants), and GGUF (city96's
layout: the same key names, the weights quantised with the gguf package, Q8_0 by default, K-quants as random
blocks), with the reference each stands for (its tensors as gguf dequantises them)."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def _quantised(key: str, value: torch.Tensor) -> bool:
    return key.endswith(".weight") and value.dim() >= 2 and value.shape[0] > 1 and "norm" not in key


def save_float8(source: Path, path: Path, dtype=torch.float8_e4m3fn, scaled: bool = False,
                new_names: bool = False) -> Path:
    """``source`` rewritten in float8 (``dtype``), scaled per tensor if ``scaled`` (``new_names``: ComfyUI's newer
    ``weight_scale`` key instead of ``scale_weight``)."""
    state = load_file(str(source))
    out = {}
    biggest = torch.finfo(dtype).max
    for key, value in state.items():
        if not _quantised(key, value):
            out[key] = value.to(torch.bfloat16)
            continue
        if scaled:
            scale = value.float().abs().max().clamp(min=1e-12) / biggest
            out[key] = (value.float() / scale).to(dtype)
            name = "weight_scale" if new_names else "scale_weight"
            out[f"{key.removesuffix('.weight')}.{name}"] = scale.reshape(())
        else:
            out[key] = value.to(dtype)
    if scaled and not new_names:
        out["scaled_fp8"] = torch.zeros(0, dtype=dtype)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(out, str(path))
    return path


def dequantised(float8_file: Path, path: Path) -> Path:
    """The reference a float8 file stands for: each weight times its scale, in float32, ComfyUI's key names."""
    state = load_file(str(float8_file))
    out = {}
    for key, value in state.items():
        if key == "scaled_fp8" or key.endswith((".scale_weight", ".weight_scale")):
            continue
        layer = key.removesuffix(".weight")
        scale = state.get(f"{layer}.scale_weight", state.get(f"{layer}.weight_scale"))
        out[key] = value.float() * scale.float() if scale is not None and key.endswith(".weight") else value.float()
    save_file(out, str(path))
    return path


def _k_blocks(rows: int, cols: int, kind, seed: int):
    """Random but well-formed K-quant blocks (gguf-py dequantises K-quants but cannot make them): each block's two
    fp16 factors (d, dmin) small and set, its packed scales and quants random bits."""
    import gguf
    import numpy as np

    block, size = gguf.GGML_QUANT_SIZES[kind]
    random = np.random.default_rng(seed)
    data = random.integers(0, 256, size=(rows, cols // block, size), dtype=np.uint8)
    factors = np.array([2e-5, 1e-5], dtype=np.float16).view(np.uint8)  # weights of about ±0.02
    data[:, :, :4] = factors  # Q4_K and Q5_K blocks begin with d and dmin
    return data.reshape(rows, -1)


def save_gguf(source: Path, path: Path, quant: str = "Q8_0", arch: str = "flux", reference: Path | None = None) -> Path:
    """``source`` as a GGUF file, its linear weights quantised to ``quant`` with gguf.quants where their rows divide
    into its blocks (Q4_K, Q5_K: random blocks, see ``_k_blocks``), the rest F32, each tensor under its own key
    name (city96's layout). ``reference``: the same tensors as gguf.quants dequantises them, a safetensors file."""
    import gguf

    kind = getattr(gguf.GGMLQuantizationType, quant)
    block, _ = gguf.GGML_QUANT_SIZES[kind]
    tensors = []
    for i, (key, value) in enumerate(load_file(str(source)).items()):
        array = value.float().numpy()
        if _quantised(key, value) and array.ndim == 2 and array.shape[-1] % block == 0:
            data = _k_blocks(*array.shape, kind, i) if quant.endswith("_K") else gguf.quants.quantize(array, kind)
            tensors.append((key, key, value, data))
        else:
            tensors.append((key, key, value, None))
    return _write_gguf(path, arch, kind, tensors, reference)


def _write_gguf(path: Path, arch: str, kind, tensors, reference: Path | None) -> Path:
    """A GGUF file of ``tensors`` — (its name in the file, its key in ``reference``, the tensor, its quantised blocks
    of ``kind`` or None to keep it F32) — and ``reference``: each as gguf dequantises it, a safetensors file."""
    import gguf
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(path), arch)
    plain = {}
    for name, key, value, data in tensors:
        if data is not None:
            writer.add_tensor(name, data, raw_dtype=kind)
            plain[key] = torch.from_numpy(np.ascontiguousarray(gguf.quants.dequantize(data, kind)))
        else:
            writer.add_tensor(name, value.float().numpy().astype(np.float32))
            plain[key] = value.float()
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    if reference is not None:
        save_file(plain, str(reference))
    return path


def save_all_in_one_float8(files: dict, path: Path) -> Path:
    """ComfyUI's all-in-one fp8 checkpoint (as ``flux1-dev-fp8.safetensors``): the diffusion model under
    ``model.diffusion_model.`` and T5 under ``text_encoders.t5xxl.transformer.``, both float8, CLIP-L under
    ``text_encoders.clip_l.transformer.`` and the VAE under ``vae.`` in bf16."""
    out = {}
    parts = (("model", "model.diffusion_model.", True), ("t5xxl", "text_encoders.t5xxl.transformer.", True),
             ("clip_l", "text_encoders.clip_l.transformer.", False), ("vae", "vae.", False))
    for name, prefix, float8 in parts:
        for key, value in load_file(str(files[name])).items():
            small = value.to(torch.float8_e4m3fn) if float8 and _quantised(key, value) else value.to(torch.bfloat16)
            out[prefix + key] = small
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(out, str(path))
    return path


ZIMAGE_RENAMES = ((".attention.to_out.0.", ".attention.out."), (".attention.norm_q.", ".attention.q_norm."),
                  (".attention.norm_k.", ".attention.k_norm."), ("all_final_layer.2-1.", "final_layer."),
                  ("all_x_embedder.2-1.", "x_embedder."))


def zimage_to_original(state: dict) -> dict:
    """A diffusers Z-Image transformer's state in Alibaba's layout (ComfyUI's z_image_turbo files): the inverse of
    diffusers' convert_z_image_transformer_checkpoint_to_diffusers (q, k, v joined as ``attention.qkv``)."""
    out = {}
    for key, value in state.items():
        if ".attention.to_k.weight" in key or ".attention.to_v.weight" in key:
            continue
        if ".attention.to_q.weight" in key:
            stem = key.removesuffix(".to_q.weight")
            out[f"{stem}.qkv.weight"] = torch.cat([state[f"{stem}.to_{x}.weight"] for x in "qkv"])
            continue
        for diffusers_name, original in ZIMAGE_RENAMES:
            key = key.replace(diffusers_name, original)
        out[key] = value
    return {key: value.detach().clone().contiguous() for key, value in out.items()}


def save_t5_gguf(source: Path, path: Path, reference: Path) -> Path:
    """A T5 text-encoder file as llama.cpp's converter writes it (city96's t5-v1_1-xxl-encoder-Q8_0.gguf): the
    architecture ``t5encoder``, llama.cpp's tensor names (the gguf package's name map), the weights whose rows
    divide into Q8_0's blocks quantised (the token embedding too), the rest F32; ``reference``: the same tensors as
    gguf dequantises them, in transformers' names."""
    import gguf

    state = load_file(str(source))
    blocks = 1 + max(int(key.split(".")[2]) for key in state if key.startswith("encoder.block."))
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.T5ENCODER, blocks)
    kind = gguf.GGMLQuantizationType.Q8_0
    tensors = []
    for key, value in state.items():
        name = names.get_name(key, try_suffixes=(".weight",))
        if name is None or key == "encoder.embed_tokens.weight":  # the tied copy of shared
            continue
        array = value.float().numpy()
        quantised = array.ndim == 2 and array.shape[-1] % 32 == 0 and "relative_attention_bias" not in key
        tensors.append((name, key, value, gguf.quants.quantize(array, kind) if quantised else None))
    return _write_gguf(path, "t5encoder", kind, tensors, reference)
