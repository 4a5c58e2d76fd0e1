"""T5 text encoders in GGUF (city96's ``t5-v1_1-xxl-encoder-Q8_0.gguf`` …, made with llama.cpp's converter):
llama.cpp's tensor names (``enc.blk.N.attn_q``, ``token_embd``), read back to transformers' T5 names through the
``gguf`` package's own name map (gguf.get_tensor_name_map for MODEL_ARCH.T5ENCODER, which lists transformers' names
for each of llama.cpp's), so the file is told and paired as a T5 file (text_files.py reads transformers' names).

Loading keeps the quantised blocks: each linear layer whose weight is quantised becomes diffusers' GGUFLinear (it
dequantises its weight as it runs, as for GGUF diffusion models); the token embedding, norms and the relative
attention bias, small or looked up rather than multiplied, are dequantised into the compute dtype. T5's feed-forward
casts its input to ``wo``'s dtype (transformers' T5DenseGatedActDense), which a quantised weight's bytes would make
uint8: while the feed-forward runs, its ``wo`` holds its dequantised weight, put back after.
"""

from __future__ import annotations

from pathlib import Path

from ddpm_studio.engine.errors import ModelError, first_line

T5_ARCH = "t5encoder"


def architecture(reader) -> str:
    field = reader.fields.get("general.architecture")
    if field is None:
        return ""
    return bytes(field.parts[field.data[0]]).decode("utf-8", "replace")


def _name_map(blocks: int):
    import gguf

    return gguf.get_tensor_name_map(gguf.MODEL_ARCH.T5ENCODER, blocks)


def _blocks(names) -> int:
    numbers = [int(name.split(".")[2]) for name in names if name.startswith("enc.blk.")]
    return max(numbers, default=-1) + 1


def transformers_names(names) -> dict[str, str]:
    """llama.cpp's T5 tensor name → transformers' (T5 v1.1's gated feed-forward: ``ffn_up`` is ``wi_1`` where the
    file has ``ffn_gate``, else ``wi``)."""
    names = list(names)
    mapping = _name_map(_blocks(names))
    gated = any(".ffn_gate." in name for name in names)
    inverse: dict[str, str] = {}
    for hf_name, (_, gguf_name) in mapping.mapping.items():
        if not (hf_name == "shared" or hf_name.startswith("encoder.")):
            continue  # other models' names for the same tensor
        if ".DenseReluDense.wi" in hf_name and hf_name.endswith(".wi") == gated:
            continue
        inverse.setdefault(gguf_name, hf_name)
    out = {}
    for name in names:
        stem, _, suffix = name.rpartition(".")
        if stem in inverse:
            out[name] = f"{inverse[stem]}.{suffix}"
    return out


def t5_shapes(reader) -> dict[str, tuple[int, ...]]:
    """A T5 GGUF file's tensors under transformers' names, torch's order of dimensions."""
    tensors = {t.name: tuple(int(d) for d in reversed(list(t.shape))) for t in reader.tensors}
    return {hf: tensors[name] for name, hf in transformers_names(tensors).items()}


class _WoDequantised:
    """A pre- and post-forward pair (torch hooks) on T5's feed-forward: ``wo`` holds its dequantised weight while
    it runs."""

    def __init__(self, dtype):
        self.dtype = dtype
        self.kept = None

    def before(self, module, args):
        import torch
        from diffusers.quantizers.gguf.utils import dequantize_gguf_tensor

        wo = module.wo
        self.kept = wo._parameters["weight"]
        wo._parameters["weight"] = torch.nn.Parameter(dequantize_gguf_tensor(self.kept).to(self.dtype),
                                                      requires_grad=False)

    def after(self, module, args, output):
        module.wo._parameters["weight"] = self.kept
        self.kept = None


def load_gguf_t5(class_name: str, config: Path, path: Path, dtype):
    """The transformers T5 encoder ``class_name`` from a GGUF file, its quantised linear weights kept quantised."""
    import torch
    import transformers
    from diffusers.models.model_loading_utils import load_gguf_checkpoint
    from diffusers.quantizers.gguf.utils import GGUFParameter, _replace_with_gguf_linear, dequantize_gguf_tensor

    from ddpm_studio.engine.models.storage.float8_casting import report_compute_dtype

    try:
        tensors = load_gguf_checkpoint(str(path))
    except Exception as exc:
        raise ModelError(f"{path.name} cannot be read as a GGUF file: {first_line(exc, 200)}") from None
    names = transformers_names(tensors)
    state = {names[key]: value for key, value in tensors.items() if key in names}
    with torch.device("meta"):
        model = getattr(transformers, class_name)(
            transformers.AutoConfig.from_pretrained(config, local_files_only=True))
    if "shared.weight" in state:
        state.setdefault("encoder.embed_tokens.weight", state["shared.weight"])
    _replace_with_gguf_linear(model, dtype, state)
    own = dict(model.named_parameters(remove_duplicate=False))
    missing = [key for key in own if key not in state]
    if missing:
        raise ModelError(f"{path.name} lacks weights of its {class_name}: {', '.join(missing[:3])}.")
    for key in own:
        value = state[key]
        module_name, _, param = key.rpartition(".")
        module = model.get_submodule(module_name)
        if isinstance(value, GGUFParameter) and type(module).__name__ == "GGUFLinear":
            module._parameters[param] = value  # stays in its blocks
        else:
            plain = dequantize_gguf_tensor(value) if isinstance(value, GGUFParameter) else value
            module._parameters[param] = torch.nn.Parameter(plain.to(dtype), requires_grad=False)
    if hasattr(model, "tie_weights"):
        model.tie_weights()
    left = [name for name, tensor in [*model.named_parameters(), *model.named_buffers()] if tensor.is_meta]
    if left:
        raise ModelError(f"{path.name} lacks weights of its {class_name}: {', '.join(left[:3])}.")
    for name, module in model.named_modules():
        if name.endswith("DenseReluDense") and type(getattr(module, "wo", None)).__name__ == "GGUFLinear":
            hooks = _WoDequantised(dtype)
            module.register_forward_pre_hook(hooks.before)
            module.register_forward_hook(hooks.after)
    report_compute_dtype(model, dtype)
    return model.eval().requires_grad_(False)
