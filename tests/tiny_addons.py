"""Add-on files made in the test for the tiny models: LoRAs in kohya/A1111 and diffusers/peft key layouts, A1111 and
SDXL textual-inversion embeddings, and VAE files — written as artists' tools write them, with random weights."""

from __future__ import annotations

import json
from pathlib import Path

import torch


def _linears(model, only: str):
    """(name, in, out) of the Linear layers whose name holds ``only``, named as in an original (transformers 4) file:
    a CLIPTextModel's layers under ``text_model.``."""
    out = []
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and only in name and "lora" not in name:
            if hasattr(model, "embeddings") and not name.startswith("text_model."):  # transformers 5's CLIPTextModel
                name = "text_model." + name
            out.append((name, module.in_features, module.out_features))
    return out


def lora_state(pipe, layout: str = "kohya", rank: int = 4, seed: int = 1, scale: float = 0.5) -> dict:
    """A LoRA over the UNet's attention layers and every text encoder's attention, in ``layout``: ``kohya``
    (``lora_unet_…``/``lora_te_…`` or SDXL's ``lora_te1_``/``lora_te2_``, down/up/alpha) or ``diffusers``
    (``unet.….lora_A``/``lora_B``)."""
    generator = torch.Generator().manual_seed(seed)
    xl = getattr(pipe, "text_encoder_2", None) is not None
    parts = [("unet", pipe.unet, "attn"), ("text_encoder", pipe.text_encoder, "self_attn")]
    if xl:
        parts.append(("text_encoder_2", pipe.text_encoder_2, "self_attn"))
    kohya_prefix = {"unet": "lora_unet_", "text_encoder": "lora_te1_" if xl else "lora_te_",
                    "text_encoder_2": "lora_te2_"}
    state = {}
    for component, model, only in parts:
        for name, width_in, width_out in _linears(model, only):
            down = torch.randn(rank, width_in, generator=generator) * scale
            up = torch.randn(width_out, rank, generator=generator) * scale
            if layout == "kohya":
                key = kohya_prefix[component] + name.replace(".", "_")
                state.update({f"{key}.lora_down.weight": down, f"{key}.lora_up.weight": up,
                              f"{key}.alpha": torch.tensor(float(rank))})
            else:
                state.update({f"{component}.{name}.lora_A.weight": down, f"{component}.{name}.lora_B.weight": up})
    return state


def save_lycoris(path: Path, pipe, kind: str, seed: int = 5) -> Path:
    """A LyCORIS file over the UNet: ``locon`` (LoRA on the attention layers and on the resnets' 3×3 convolutions),
    ``loha`` (Hadamard products, ``hada_w1_a`` …) or ``lokr`` (Kronecker products, ``lokr_w1``, ``lokr_w2``)."""
    from safetensors.torch import save_file

    generator = torch.Generator().manual_seed(seed)
    state = {}
    for name, module in pipe.unet.named_modules():
        key = "lora_unet_" + name.replace(".", "_")
        if isinstance(module, torch.nn.Linear) and "attn" in name:
            out_width, in_width = module.out_features, module.in_features
            if kind == "loha":
                for part, shape in (("w1_a", (out_width, 4)), ("w1_b", (4, in_width)), ("w2_a", (out_width, 4)),
                                    ("w2_b", (4, in_width))):
                    state[f"{key}.hada_{part}"] = torch.randn(*shape, generator=generator)
            elif kind == "lokr":
                state[f"{key}.lokr_w1"] = torch.randn(4, 4, generator=generator)
                state[f"{key}.lokr_w2"] = torch.randn(out_width // 4, in_width // 4, generator=generator)
            else:
                state[f"{key}.lora_down.weight"] = torch.randn(4, in_width, generator=generator) * 0.5
                state[f"{key}.lora_up.weight"] = torch.randn(out_width, 4, generator=generator) * 0.5
            state[f"{key}.alpha"] = torch.tensor(4.0)
        elif kind == "locon" and isinstance(module, torch.nn.Conv2d) and "resnets" in name and "conv1" in name:
            out_width, in_width, kh, kw = module.weight.shape
            state[f"{key}.lora_down.weight"] = torch.randn(4, in_width, kh, kw, generator=generator) * 0.1
            state[f"{key}.lora_up.weight"] = torch.randn(out_width, 4, 1, 1, generator=generator) * 0.1
            state[f"{key}.alpha"] = torch.tensor(4.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path))
    return path


def save_lora(path: Path, pipe, layout: str = "kohya", seed: int = 1, tags: dict | None = None, rank: int = 4) -> Path:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"ss_network_module": "networks.lora"} if layout == "kohya" else {}
    if tags:
        metadata["ss_tag_frequency"] = json.dumps({"10_subject": tags})
    save_file(lora_state(pipe, layout, rank=rank, seed=seed), str(path), metadata=metadata or None)
    return path


def save_embedding(path: Path, widths: tuple[int, ...], vectors: int = 2, seed: int = 3) -> Path:
    """An A1111 embedding (``emb_params``) for one text encoder, or an SDXL one (``clip_l``, ``clip_g``) for two."""
    from safetensors.torch import save_file

    generator = torch.Generator().manual_seed(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    if len(widths) == 2:
        state = {"clip_l": torch.randn(vectors, widths[0], generator=generator),
                 "clip_g": torch.randn(vectors, widths[1], generator=generator)}
    else:
        state = {"emb_params": torch.randn(vectors, widths[0], generator=generator)}
    save_file(state, str(path))
    return path
