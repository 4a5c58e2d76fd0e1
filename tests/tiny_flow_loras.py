"""LoRAs for the tiny flow pipelines, made in the test as artists' tools write them for the real models: the
original module names (BFL's Flux.1/Chroma/Flux.2 blocks, Stability's MMDiT ``joint_blocks``, Qwen-Image's and
Z-Image's own) in kohya's layout (``lora_unet_`` + the name with underscores, ``lora_down``/``lora_up``/``alpha``)
or ComfyUI's (``diffusion_model.`` + the dotted name, ``lora_A``/``lora_B``), random A and B (B not zero, so the
LoRA changes the picture as a trained one does).

The widths are the tiny transformer's: its inner width (heads × head size), Flux.1's MLP ratio 4 and Flux.2's gated
MLP of ratio 3 (FluxTransformer2DModel's and Flux2Transformer2DModel's own), SD3's MLP ratio 4."""

from __future__ import annotations

from pathlib import Path

import torch


def _flux_modules(config: dict, mods: bool) -> list[tuple[str, int, int]]:
    inner = config["num_attention_heads"] * config["attention_head_dim"]
    mlp = 4 * inner
    out = []
    for i in range(config["num_layers"]):
        for stream in ("img", "txt"):
            out += [(f"double_blocks.{i}.{stream}_attn.qkv", inner, 3 * inner),
                    (f"double_blocks.{i}.{stream}_attn.proj", inner, inner),
                    (f"double_blocks.{i}.{stream}_mlp.0", inner, mlp), (f"double_blocks.{i}.{stream}_mlp.2", mlp, inner)]
            out += [(f"double_blocks.{i}.{stream}_mod.lin", inner, 6 * inner)] if mods else []
    for i in range(config["num_single_layers"]):
        # linear1 (q, k, v and the MLP's input fused) is left out: diffusers' kohya Flux converter splits it at the
        # real model's widths (3072 × 3 + 12288, _convert_kohya_flux_lora_to_diffusers), which a tiny one lacks
        out += [(f"single_blocks.{i}.linear2", inner + mlp, inner)]
        out += [(f"single_blocks.{i}.modulation.lin", inner, 3 * inner)] if mods else []
    return out


def _klein_modules(config: dict) -> list[tuple[str, int, int]]:
    inner = config["num_attention_heads"] * config["attention_head_dim"]
    mlp = int(inner * config.get("mlp_ratio", 3.0))
    out = []
    for i in range(config["num_layers"]):
        for stream in ("img", "txt"):
            out += [(f"double_blocks.{i}.{stream}_attn.qkv", inner, 3 * inner),
                    (f"double_blocks.{i}.{stream}_attn.proj", inner, inner),
                    (f"double_blocks.{i}.{stream}_mlp.0", inner, 2 * mlp),  # gated: two halves
                    (f"double_blocks.{i}.{stream}_mlp.2", mlp, inner)]
    for i in range(config["num_single_layers"]):
        out += [(f"single_blocks.{i}.linear1", inner, 3 * inner + 2 * mlp),
                (f"single_blocks.{i}.linear2", inner + mlp, inner)]
    return out


def _sd3_modules(config: dict) -> list[tuple[str, int, int]]:
    inner = config["num_attention_heads"] * config["attention_head_dim"]
    out = []
    last = config["num_layers"] - 1
    for i in range(config["num_layers"]):
        out += [(f"joint_blocks.{i}.x_block.attn.qkv", inner, 3 * inner), (f"joint_blocks.{i}.x_block.attn.proj", inner, inner),
                (f"joint_blocks.{i}.x_block.mlp.fc1", inner, 4 * inner), (f"joint_blocks.{i}.x_block.mlp.fc2", 4 * inner, inner),
                (f"joint_blocks.{i}.context_block.attn.qkv", inner, 3 * inner)]
        if i != last:  # the last block's context stream is pre-only: no output projection, no MLP
            out += [(f"joint_blocks.{i}.context_block.attn.proj", inner, inner),
                    (f"joint_blocks.{i}.context_block.mlp.fc1", inner, 4 * inner),
                    (f"joint_blocks.{i}.context_block.mlp.fc2", 4 * inner, inner)]
    return out


def _own_modules(transformer, under: str, words: tuple[str, ...]) -> list[tuple[str, int, int]]:
    """The Linear layers of a transformer whose original names are diffusers' (Qwen-Image, Z-Image)."""
    return [(name, m.in_features, m.out_features) for name, m in transformer.named_modules()
            if isinstance(m, torch.nn.Linear) and name.startswith(under) and any(w in name for w in words)]


def flow_modules(family: str, transformer) -> list[tuple[str, int, int]]:
    """(original module name, in, out) of the layers a LoRA for ``family`` trains, for this tiny transformer."""
    config = dict(transformer.config)
    if family in ("flux", "chroma"):
        return _flux_modules(config, mods=family == "flux")
    if family == "klein":
        return _klein_modules(config)
    if family == "sd3":
        return _sd3_modules(config)
    if family == "qwenimage":
        return _own_modules(transformer, "transformer_blocks.", ("attn.", "img_mlp", "txt_mlp"))
    if family == "zimage":
        return _own_modules(transformer, "layers.", ("attention.", "feed_forward."))
    raise ValueError(family)


def flow_lora_state(family: str, transformer, layout: str = "kohya", seed: int = 1, rank: int = 4,
                    scale: float = 0.3) -> dict:
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for name, width_in, width_out in flow_modules(family, transformer):
        down = torch.randn(rank, width_in, generator=generator) * scale
        up = torch.randn(width_out, rank, generator=generator) * scale
        if layout == "kohya":
            key = "lora_unet_" + name.replace(".", "_")
            state.update({f"{key}.lora_down.weight": down, f"{key}.lora_up.weight": up,
                          f"{key}.alpha": torch.tensor(float(rank))})
        else:  # ComfyUI / AI-Toolkit
            state.update({f"diffusion_model.{name}.lora_A.weight": down, f"diffusion_model.{name}.lora_B.weight": up})
    return state


def save_flow_lora(path: Path, family: str, transformer, layout: str = "kohya", seed: int = 1) -> Path:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"ss_network_module": "networks.lora_flux"} if layout == "kohya" else None
    save_file(flow_lora_state(family, transformer, layout, seed), str(path), metadata=metadata)
    return path
