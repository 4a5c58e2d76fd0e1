"""Diffusion-model files in float8, as ComfyUI and the model makers ship them (``flux1-dev-fp8.safetensors``,
``z_image_turbo_fp8*.safetensors``): weights stored as ``float8_e4m3fn`` or ``float8_e5m2``, known from the dtypes in
the safetensors header; and "scaled fp8" files, whose float8 weights are multiplied by a scale per tensor.

Scaled fp8 as ComfyUI reads it (comfy/utils.py ``convert_old_quants``, comfy/ops.py ``MixedPrecisionOps``): the older
files mark themselves with a ``scaled_fp8`` key and hold ``<layer>.scale_weight`` (and ``<layer>.scale_input``, only
for float8 matrix products); the newer ones hold ``<layer>.weight_scale`` (and ``input_scale``) with a
``<layer>.comfy_quant`` tensor or the header's ``_quantization_metadata`` naming each layer's format. A weight is its
float8 tensor times its scale. The NVFP4 layout (``weight_scale_2``, packed uint8 weights) is refused by name.

Loading keeps the float8 tensors float8: the file's tensors are read as stored, renamed by diffusers' own conversion
for the model class (``SINGLE_FILE_LOADABLE_CLASSES[...]["checkpoint_mapping_fn"]``, the one ``from_single_file``
uses), assigned to a model built on the meta device from the config folder, and hooked (float8_casting.py) so each
layer computes in the compute dtype. Never is the whole model expanded. A weight's scale follows it through the
conversion: the conversion is run a second time on the scales, each broadcast (without copying) to its weight's
shape, so whatever the conversion splits, renames or joins, each converted weight meets its own scales.
"""

from __future__ import annotations

import json
from pathlib import Path

from ddpm_studio.engine.errors import ModelError, first_line

DTYPE_WORDS = {"F8_E4M3": "float8 e4m3fn", "F8_E5M2": "float8 e5m2"}
SCALE_SUFFIXES = (".scale_weight", ".weight_scale")  # ComfyUI's older and newer names for a weight's scale
DROPPED_SUFFIXES = (".scale_input", ".input_scale", ".comfy_quant")  # for float8 matrix products only: not needed
MARKER = "scaled_fp8"
NVFP4_SCALE = ".weight_scale_2"
OTHER_PARTS = ("first_stage_model.", "vae.", "text_encoders.", "cond_stage_model.", "conditioner.")
DIFFUSION_PREFIX = "model.diffusion_model."


def read_header(path: Path) -> tuple[dict, dict]:
    """(tensor name → {dtype, shape, …}, the header's __metadata__) of a safetensors file; {} for what cannot be
    read (read_shapes says what is wrong with it)."""
    from ddpm_studio.engine.models.single_file import safetensors_header

    try:
        return safetensors_header(path)
    except (OSError, ValueError, UnicodeDecodeError):
        return {}, {}


def float8_storage(path: Path, prefix: str = "") -> str:
    """What a safetensors file (its tensors under ``prefix``: one part of an all-in-one file) stores its weights as,
    in words ("float8 e4m3fn", "scaled float8 e4m3fn"), or "" when it holds no float8 tensor."""
    header, meta = read_header(path)
    header = {key: value for key, value in header.items() if key.startswith(prefix)}
    counts: dict[str, int] = {}
    for value in header.values():
        dtype = value.get("dtype", "")
        if dtype in DTYPE_WORDS:
            counts[dtype] = counts.get(dtype, 0) + 1
    if not counts:
        return ""
    words = DTYPE_WORDS[max(counts, key=counts.get)]
    scaled = any(key.endswith(SCALE_SUFFIXES) or key.endswith(MARKER) for key in header) or \
        "_quantization_metadata" in meta
    return f"scaled {words}" if scaled else words


def _check_layout(path: Path, header: dict, meta: dict) -> None:
    if any(key.endswith(NVFP4_SCALE) for key in header):
        raise ModelError(f"{path.name} is in ComfyUI's NVFP4 layout (packed 4-bit weights with two scales), which "
                         "DDPM Studio cannot compute with; use its fp8, GGUF or bf16 file.")
    layers = {}
    if "_quantization_metadata" in meta:
        try:
            layers = json.loads(meta["_quantization_metadata"]).get("layers", {})
        except (ValueError, AttributeError):
            raise ModelError(f"{path.name}: its _quantization_metadata cannot be read.") from None
    formats = {conf.get("format") for conf in layers.values() if isinstance(conf, dict)}
    unknown = formats - {"float8_e4m3fn", "float8_e5m2"}
    if unknown:
        raise ModelError(f"{path.name} holds layers quantised as {', '.join(sorted(map(str, unknown)))}, which "
                         "DDPM Studio cannot compute with (it takes float8 e4m3fn and e5m2).")


SAFETENSORS_DTYPES = {"F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2", "BF16": "bfloat16", "F16": "float16",
                      "F32": "float32", "F64": "float64", "I64": "int64", "I32": "int32", "I16": "int16",
                      "I8": "int8", "U8": "uint8", "BOOL": "bool"}


def _read_tensors(path: Path, header: dict, keys: list[str]) -> dict:
    """The tensors ``keys`` of a safetensors file, each read into its own buffer with plain reads (no memory map,
    whose touched pages would count as the process's memory beside the copies while the file is open)."""
    import torch

    out = {}
    with open(path, "rb", buffering=0) as f:
        start = 8 + int.from_bytes(f.read(8), "little")
        for key in keys:
            entry = header[key]
            dtype = getattr(torch, SAFETENSORS_DTYPES[entry["dtype"]])
            begin, end = entry["data_offsets"]
            tensor = torch.empty(tuple(entry["shape"]), dtype=dtype)
            raw = tensor.reshape(-1).view(torch.uint8).numpy()
            if raw.nbytes != end - begin:
                raise ValueError(f"{key}: {end - begin} bytes for a {entry['dtype']} tensor of shape {entry['shape']}")
            f.seek(start + begin)
            view, done = memoryview(raw), 0
            while done < raw.nbytes:
                got = f.readinto(view[done:])
                if not got:
                    raise ValueError(f"{key}: the file ends early")
                done += got
            out[key] = tensor
    return out


def read_float8_file(path: Path) -> tuple[dict, dict]:
    """(the diffusion model's tensors as stored, the ``model.diffusion_model.`` prefix taken off; weight name →
    its scale as float32) of a float8 file. A checkpoint's VAE and text encoders are left out."""
    import torch

    header, meta = read_header(path)
    _check_layout(path, header, meta)
    prefixed = any(key.startswith(DIFFUSION_PREFIX) for key in header)
    wanted = [key for key in header if not (prefixed and not key.startswith(DIFFUSION_PREFIX)
                                            or key.startswith(OTHER_PARTS))]
    wanted = [key for key in wanted if key.removeprefix(DIFFUSION_PREFIX) != MARKER
              and not key.endswith(DROPPED_SUFFIXES)]
    try:
        tensors = _read_tensors(path, header, wanted)
    except (OSError, ValueError, KeyError, AttributeError) as exc:
        raise ModelError(f"{path.name} cannot be read: {first_line(exc, 200)}") from None
    state, scales = {}, {}
    for key, tensor in tensors.items():
        own = key.removeprefix(DIFFUSION_PREFIX)
        if own.endswith(SCALE_SUFFIXES):
            scales[f"{own.rsplit('.', 1)[0]}.weight"] = tensor.to(torch.float32)
        else:
            state[own] = tensor
    lonely = [key for key in scales if key not in state]
    if lonely:
        raise ModelError(f"{path.name} holds a scale for {lonely[0]}, which it does not hold.")
    return state, scales


def split_float8_state(tensors: dict, dtype) -> tuple[dict, dict]:
    """(a float8 text encoder's tensors: float8 kept, the rest cast to ``dtype``, markers and input scales left out;
    weight name → scale). Its key names are transformers' own, so a scale names its weight directly."""
    import torch

    from ddpm_studio.engine.models.storage.float8_casting import FLOAT8

    state, scales = {}, {}
    for key, tensor in tensors.items():
        if key == MARKER or key.endswith(DROPPED_SUFFIXES):
            continue
        if key.endswith(SCALE_SUFFIXES):
            scales[f"{key.rsplit('.', 1)[0]}.weight"] = tensor.to(torch.float32)
        elif tensor.is_floating_point() and tensor.dtype not in FLOAT8:
            state[key] = tensor.to(dtype)
        else:
            state[key] = tensor
    return state, scales


def _scale_map(state: dict, scales: dict) -> dict:
    """Every tensor of ``state`` as its scale broadcast to its shape (1 for an unscaled one), without copying."""
    import torch

    one = torch.ones((), dtype=torch.float32)
    out = {}
    for key, tensor in state.items():
        scale = scales.get(key, one)
        if scale.numel() != 1:
            raise ModelError(f"{key}: a scale per tensor was expected, it has {scale.numel()} values.")
        out[key] = scale.reshape([1] * tensor.dim()).expand(tensor.shape)
    return out


def _own_scale(key: str, converted):
    """A converted weight's scale: a scalar, one per output row, or None when it is 1 (an unscaled tensor)."""
    import torch

    if converted.dim() == 0 or converted.numel() == 0:
        return None
    if all(stride == 0 for stride in converted.stride()):
        value = converted.reshape(-1)[0]
        return None if float(value) == 1.0 else value.clone()
    rows = converted.reshape(converted.shape[0], -1)
    first = rows[:, :1]
    if not torch.equal(rows, first.expand_as(rows)):
        raise ModelError(f"{key}: the conversion mixes tensors of different scales within a row.")
    if torch.all(first == 1.0):
        return None
    return first.reshape([converted.shape[0]] + [1] * (converted.dim() - 1)).clone()


def convert(class_name: str, state: dict, scales: dict, config: dict) -> tuple[dict, dict]:
    """(``state`` in diffusers' names by the class's own single-file conversion; converted name → scale)."""
    from diffusers.loaders.single_file_model import SINGLE_FILE_LOADABLE_CLASSES

    mapping = SINGLE_FILE_LOADABLE_CLASSES[class_name]["checkpoint_mapping_fn"]
    scale_state = _scale_map(state, scales) if scales else {}
    converted = mapping(checkpoint=state, config=config)
    if not scales:
        return converted, {}
    scaled = mapping(checkpoint=scale_state, config=config)
    own = {key: _own_scale(key, value) for key, value in scaled.items() if key in converted}
    return converted, {key: value for key, value in own.items() if value is not None}


def load_float8_denoiser(class_name: str, path: Path, config: Path, subfolder: str, compute_dtype):
    """The diffusers model ``class_name`` from a float8 file, its float8 weights kept float8 and each layer computed
    in ``compute_dtype`` (float8_casting.py); its config from ``config``/``subfolder``, offline."""
    import diffusers
    import torch
    from accelerate import init_empty_weights

    from ddpm_studio.engine.models.storage.float8_casting import enable_stored_float8

    cls = getattr(diffusers, class_name)
    state, scales = read_float8_file(path)
    model_config = cls.load_config(str(config), subfolder=subfolder, local_files_only=True)
    try:
        converted, converted_scales = convert(class_name, state, scales, model_config)
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"{path.name} cannot be converted to diffusers' {class_name}: "
                         f"{first_line(exc, 200)}") from None
    del state
    with init_empty_weights():
        model = cls.from_config(model_config)
    expected = model.state_dict()
    params = {name for name, _ in model.named_parameters()}
    missing = [key for key in expected if key in params and key not in converted]
    if missing:
        raise ModelError(f"{path.name} lacks {len(missing)} of the weights of a {class_name} (first: {missing[0]}).")
    wrong = [key for key in expected if key in converted and tuple(converted[key].shape) != tuple(expected[key].shape)]
    if wrong:
        raise ModelError(f"{path.name}: {wrong[0]} has shape {tuple(converted[wrong[0]].shape)}, the config folder "
                         f"expects {tuple(expected[wrong[0]].shape)}.")
    model.load_state_dict({key: converted[key] for key in expected if key in converted}, strict=False, assign=True)
    del converted
    enable_stored_float8(model, compute_dtype, converted_scales)
    for name, buffer in model.named_buffers():  # buffers the config built stay as built; none left on meta
        if buffer.is_meta:
            raise ModelError(f"{path.name}: {name} was not loaded.")
    return model.eval().requires_grad_(False)
