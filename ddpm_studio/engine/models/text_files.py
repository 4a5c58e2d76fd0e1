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


KINDS = {
    "clip": TextKind("text_model.embeddings.token_embedding.weight", "text_model.embeddings.token_embedding.weight",
                     "CLIP text encoder", level="text_model."),
    "t5": TextKind("encoder.block.0.layer.0.SelfAttention.q.weight", "encoder.block.0.layer.0.SelfAttention.q.weight",
                   "T5 encoder"),
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


def load_text_encoder(class_name: str, config: Path, found: TextEncoderFile, dtype):
    """The transformers encoder ``class_name`` built from the config folder ``config`` with the weights of
    ``found``. A CLIP with a projection whose file has none gets the identity, as diffusers and ComfyUI give SD 3's
    CLIP-L; a T5's tied input embedding is its ``shared`` table."""
    import torch
    import transformers

    from ddpm_studio.engine.models.float8_files import float8_storage, split_float8_state
    from ddpm_studio.engine.models.gguf_files import is_gguf

    if is_gguf(found.path):  # a T5 in GGUF (t5-v1_1-xxl-encoder-Q8_0.gguf): its blocks kept
        from ddpm_studio.engine.models.gguf_text import load_gguf_t5

        return load_gguf_t5(class_name, config, found.path, dtype)
    cls = getattr(transformers, class_name)
    stored = float8_storage(found.path, found.prefix)  # t5xxl_fp8_e4m3fn… stays float8 (float8_casting.py)
    state, scales = split_float8_state(read_tensors(found.path, found.prefix), dtype) if stored else \
        (read_tensors(found.path, found.prefix, dtype), {})
    with torch.device("meta"):
        model = cls(transformers.AutoConfig.from_pretrained(config, local_files_only=True))
    own = model.state_dict()
    level = KINDS[found.kind].level  # transformers 5's CLIPTextModel has no text_model. level in its names
    if level and not any(k.startswith(level) for k in own):
        state = {key.removeprefix(level): value for key, value in state.items()}
        scales = {key.removeprefix(level): value for key, value in scales.items()}
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
    for name in list(missing):  # buffers the model makes itself (CLIP's position ids) are made again here
        if name.endswith("position_ids"):
            module_name, _, buffer = name.rpartition(".")
            module = model.get_submodule(module_name)
            setattr(module, buffer, torch.arange(getattr(module, buffer).shape[-1]).expand((1, -1)))
            missing.remove(name)
    if missing:
        raise ModelError(f"{found.path} lacks weights of its {class_name}: {', '.join(missing[:3])}"
                         f"{' …' if len(missing) > 3 else ''}.")
    keep = getattr(model, "_keep_in_fp32_modules", None) or ()
    if stored:
        from ddpm_studio.engine.models.float8_casting import TEXT_GROUPS, enable_stored_float8, report_compute_dtype

        enable_stored_float8(model, dtype, scales, TEXT_GROUPS, tuple(keep) if dtype == torch.float16 else ())
        report_compute_dtype(model, dtype)
    if dtype == torch.float16 and keep:  # T5's feed-forward output overflows in fp16 (transformers keeps it fp32)
        for name, param in model.named_parameters():
            if any(part in name.split(".") for part in keep) and not (stored and param.dtype.itemsize == 1):
                param.data = param.data.float()
    return model.eval().requires_grad_(False)
