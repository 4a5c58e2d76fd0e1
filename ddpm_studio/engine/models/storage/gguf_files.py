"""Diffusion-model files in GGUF (city96's ComfyUI-GGUF files, ``flux1-dev-Q8_0.gguf`` … ``Q4_K_S``): the original
key layout of the model (BFL's, Alibaba's) with each large weight quantised in llama.cpp's block formats.

The header is read with the ``gguf`` package's GGUFReader (it maps the file; tensor names, types and shapes come
from the header, no weights are read). GGUF lists a tensor's dimensions innermost first; ``gguf_shapes`` turns them
round to torch's order, so the family is told from the names and shapes exactly as for a safetensors file
(split_files.read_split).

Loading goes through diffusers' GGUF quantizer (``from_single_file(..., quantization_config=GGUFQuantizationConfig(
compute_dtype=...))``): the quantised weights stay in their blocks (``GGUFParameter``) and each linear layer
dequantises its weight when it runs (diffusers' GGUFLinear: CUDA kernels where the ``kernels`` package provides them,
else its torch dequantisation, which runs on the CPU too).
"""

from __future__ import annotations

from pathlib import Path

from ddpm_studio.engine.errors import ModelError, first_line

GGUF_SUFFIX = ".gguf"
PLAIN_TYPES = ("F32", "F16", "BF16")


def is_gguf(path: Path) -> bool:
    return Path(path).suffix.lower() == GGUF_SUFFIX


def _reader(path: Path):
    try:
        import gguf
    except ImportError:
        raise ModelError(f"{Path(path).name} is a GGUF file, and reading one needs the gguf package "
                         "(pip install gguf).") from None
    try:
        return gguf.GGUFReader(str(path))
    except Exception as exc:
        raise ModelError(f"{path} is not a readable GGUF file: {first_line(exc, 200)}") from None


def gguf_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor name → shape (torch's order) of a GGUF file, from its header; a T5 encoder's (llama.cpp's names)
    under transformers' names, as text_files.py reads a T5 file (gguf_text.py)."""
    from ddpm_studio.engine.models.storage.gguf_text import T5_ARCH, architecture, t5_shapes

    reader = _reader(path)
    if architecture(reader) == T5_ARCH:
        return t5_shapes(reader)
    return {t.name: tuple(int(d) for d in reversed(list(t.shape))) for t in reader.tensors}


def gguf_storage(path: Path) -> str:
    """What a GGUF file's weights are stored as, in words: its most common quantisation ("GGUF Q8_0")."""
    counts: dict[str, int] = {}
    for tensor in _reader(path).tensors:
        name = tensor.tensor_type.name
        if name not in PLAIN_TYPES:
            counts[name] = counts.get(name, 0) + 1
    return f"GGUF {max(counts, key=counts.get)}" if counts else "GGUF (unquantised)"


def load_gguf_denoiser(class_name: str, path: Path, config: Path, subfolder: str, compute_dtype):
    """The diffusers model ``class_name`` from a GGUF file through diffusers' GGUF quantizer, computing in
    ``compute_dtype``; offline, its config from ``config``/``subfolder``."""
    import diffusers
    from diffusers import GGUFQuantizationConfig

    _reader(path)  # a clear error when the package is missing or the file unreadable
    cls = getattr(diffusers, class_name)
    try:
        return cls.from_single_file(str(path), config=str(config), subfolder=subfolder, local_files_only=True,
                                    torch_dtype=compute_dtype,
                                    quantization_config=GGUFQuantizationConfig(compute_dtype=compute_dtype))
    except ValueError as exc:  # diffusers names an unsupported quantisation type
        raise ModelError(f"{Path(path).name} cannot be loaded through diffusers' GGUF quantizer: "
                         f"{first_line(exc, 300)}") from None
