"""Text-encoder files as artists keep them (ComfyUI's ``models/text_encoders``, ``models/clip``): which encoder a
file holds and how wide it is, from its safetensors header alone, and the encoder built from a shipped config and
loaded from it.

ComfyUI's files keep the Hugging Face transformers key names (``clip_l.safetensors``: ``text_model.encoder.
layers.N…``; ``t5xxl_fp16.safetensors``: ``shared.weight``, ``encoder.block.N.layer…``), alone or behind a prefix
in an all-in-one checkpoint (``text_encoders.clip_l.transformer.``); transformers 5's own CLIPTextModel drops the
``text_model.`` level, which loading takes off. A kind here is one such layout: the key that
says it and the tensor whose shape gives its width (CLIP-L 768, CLIP-G 1280, T5-XXL 4096 …). A family adds a kind
by adding a row to ``KINDS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ddpm_studio.engine.errors import ModelError, first_line


@dataclass(frozen=True)
class TextKind:
    key: str  # a key only this kind of encoder holds (after its prefix)
    width_key: str  # the tensor whose last dimension is its width
    label: str  # what a user reads
    level: str = ""  # a first level of the files' key names that a model of its kind may not have
    # (old prefix, new prefix): the files' levels a newer transformers model names otherwise, the first that fits
    renames: tuple[tuple[str, str], ...] = ()


KINDS = {
    "clip": TextKind("text_model.embeddings.token_embedding.weight", "text_model.embeddings.token_embedding.weight",
                     "CLIP text encoder", level="text_model."),
    "t5": TextKind("encoder.block.0.layer.0.SelfAttention.q.weight", "encoder.block.0.layer.0.SelfAttention.q.weight",
                   "T5 encoder"),
    # Qwen2.5-VL with its vision tower (Qwen-Image's qwen_2.5_vl_7b.safetensors): the layout of Qwen/Qwen2.5-VL-7B's
    # files, visual.* and model.* (the language model), which transformers 5 names model.visual.* and
    # model.language_model.* (its conversion_mapping.py, Qwen2VLForConditionalGeneration; InvokeAI's Qwen-Image
    # loader maps ComfyUI's files the same way). Known by its vision tower, which no Qwen3 file has.
    "qwen2.5-vl": TextKind("visual.patch_embed.proj.weight", "model.embed_tokens.weight", "Qwen2.5-VL text encoder",
                           renames=(("visual.", "model.visual."), ("model.", "model.language_model."))),
    # ComfyUI's qwen_3_4b.safetensors / qwen_3_8b (Z-Image, Flux.2 Klein) keep Qwen3's own names under model.;
    # ComfyUI (comfy/sd.py detect_te_model) knows Qwen3 by its q/k norms, which Qwen2.5-VL lacks, and its width by
    # post_attention_layernorm (2560 for Qwen3-4B, 4096 for 8B); transformers 5's Qwen3Model has no model. level
    "qwen3": TextKind("model.layers.0.self_attn.q_norm.weight", "model.layers.0.post_attention_layernorm.weight",
                      "Qwen3 text encoder", level="model."),
}


@dataclass(frozen=True)
class TextEncoderFile:
    """One encoder found in a file: its kind, its width and the prefix of its keys there."""

    path: Path
    kind: str
    width: int
    prefix: str = ""

    @property
    def label(self) -> str:
        return f"{KINDS[self.kind].label} {self.width} wide"


def encoders_in(path: Path, shapes: dict[str, tuple[int, ...]]) -> list[TextEncoderFile]:
    """Every encoder of a known kind in a file, by its keys (one for a text-encoder file, several in an all-in-one)."""
    found = []
    for name, kind in KINDS.items():
        for key in shapes:
            if key.endswith(kind.key):
                prefix = key[: -len(kind.key)]
                shape = shapes.get(prefix + kind.width_key, ())
                if shape:
                    found.append(TextEncoderFile(path, name, int(shape[-1]), prefix))
    return found


def read_tensors(path: Path, prefix: str = "", dtype=None) -> dict:
    """The tensors of ``path`` whose keys start with ``prefix``, the prefix taken off."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            tensors = {key[len(prefix):]: f.get_tensor(key) for key in f.keys() if key.startswith(prefix)}
    except Exception as exc:  # a truncated or foreign file
        raise ModelError(f"{path} cannot be read as safetensors: {first_line(exc, 200)}") from None
    if dtype is not None:
        tensors = {key: value.to(dtype) if value.is_floating_point() else value for key, value in tensors.items()}
    return tensors


def _renamed(state: dict, renames, own) -> dict:
    """``state`` with each key's first matching old level renamed, when the model names the new levels and the file
    does not already."""
    new = tuple(after for _, after in renames)
    if not renames or not any(k.startswith(new) for k in own) or any(k.startswith(new) for k in state):
        return state
    out = {}
    for key, value in state.items():
        old, after = next(((o, a) for o, a in renames if key.startswith(o)), ("", ""))
        out[after + key[len(old):] if old else key] = value
    return out


def load_text_encoder(class_name: str, config: Path, found: TextEncoderFile, dtype):
    """The transformers encoder ``class_name`` built from the config folder ``config`` with the weights of
    ``found``. A CLIP with a projection whose file has none gets the identity, as diffusers and ComfyUI give SD 3's
    CLIP-L; a T5's tied input embedding is its ``shared`` table."""
    import torch
    import transformers
    from accelerate import init_empty_weights

    from ddpm_studio.engine.models.storage.float8_files import float8_storage, split_float8_state
    from ddpm_studio.engine.models.storage.gguf_files import is_gguf

    if is_gguf(found.path):  # a T5 in GGUF (t5-v1_1-xxl-encoder-Q8_0.gguf): its blocks kept
        from ddpm_studio.engine.models.storage.gguf_text import load_gguf_t5

        return load_gguf_t5(class_name, config, found.path, dtype)
    cls = getattr(transformers, class_name)
    stored = float8_storage(found.path, found.prefix)  # t5xxl_fp8_e4m3fn… stays float8 (float8_casting.py)
    state, scales = split_float8_state(read_tensors(found.path, found.prefix), dtype) if stored else \
        (read_tensors(found.path, found.prefix, dtype), {})
    with init_empty_weights(include_buffers=False):  # buffers made by the model (rotary inv_freq) stay real
        model = cls(transformers.AutoConfig.from_pretrained(config, local_files_only=True))
    own = model.state_dict()
    level = KINDS[found.kind].level  # transformers 5's CLIPTextModel has no text_model. level in its names
    if level and not any(k.startswith(level) for k in own):
        state = {key.removeprefix(level): value for key, value in state.items()}
        scales = {key.removeprefix(level): value for key, value in scales.items()}
    state, scales = _renamed(state, KINDS[found.kind].renames, own), _renamed(scales, KINDS[found.kind].renames, own)
    embedding = next((key for key in ("model.language_model.embed_tokens.weight", "model.embed_tokens.weight")
                      if key in state), None)
    if "lm_head.weight" in own and "lm_head.weight" not in state and embedding:
        # a causal LM's head, which ComfyUI's Qwen files may leave out (its Qwen25_7BVLI_Config has lm_head False):
        # the pipelines read hidden states only, so the input embedding stands in for it
        state["lm_head.weight"] = state[embedding]
    if "text_projection.weight" in own and "text_projection.weight" not in state:
        width = own["text_projection.weight"].shape
        if width[0] == width[1]:
            state["text_projection.weight"] = torch.eye(width[0], dtype=dtype)
    if "shared.weight" in own and "shared.weight" not in state and "encoder.embed_tokens.weight" in state:
        state["shared.weight"] = state["encoder.embed_tokens.weight"]
    if "encoder.embed_tokens.weight" in own and "encoder.embed_tokens.weight" not in state and "shared.weight" in state:
        state["encoder.embed_tokens.weight"] = state["shared.weight"]
    wrong = [key for key, value in state.items() if key in own and tuple(value.shape) != tuple(own[key].shape)]
    if wrong:
        raise ModelError(f"{found.path} does not fit {config.name}'s {class_name}: {wrong[0]} is "
                         f"{tuple(state[wrong[0]].shape)}, the model's is {tuple(own[wrong[0]].shape)}.")
    model.load_state_dict({key: value for key, value in state.items() if key in own}, strict=False, assign=True)
    if hasattr(model, "tie_weights"):
        model.tie_weights()
    missing = [name for name, param in [*model.named_parameters(), *model.named_buffers()] if param.is_meta]
    if missing:
        raise ModelError(f"{found.path} lacks weights of its {class_name}: {', '.join(missing[:3])}"
                         f"{' …' if len(missing) > 3 else ''}.")
    keep = getattr(model, "_keep_in_fp32_modules", None) or ()
    if stored:
        from ddpm_studio.engine.models.storage.float8_casting import TEXT_GROUPS, enable_stored_float8, report_compute_dtype

        enable_stored_float8(model, dtype, scales, TEXT_GROUPS, tuple(keep) if dtype == torch.float16 else ())
        report_compute_dtype(model, dtype)
    if dtype == torch.float16 and keep:  # T5's feed-forward output overflows in fp16 (transformers keeps it fp32)
        for name, param in model.named_parameters():
            if any(part in name.split(".") for part in keep) and not (stored and param.dtype.itemsize == 1):
                param.data = param.data.float()
    return model.eval().requires_grad_(False)
