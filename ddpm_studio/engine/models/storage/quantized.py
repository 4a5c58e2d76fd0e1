"""What a diffusion-model file stores its weights as, and the loader for each storage: float8 (float8_files.py),
GGUF (gguf_files.py), or the compute dtype itself (diffusers' ``from_single_file``, as every bf16/fp16 file loads).

``storage_words`` is shown where the model is (the model's info line, the run's note): "float8 e4m3fn, computed in
bfloat16 layer by layer", "GGUF Q8_0, …"; a plain file says nothing.
"""

from __future__ import annotations

from pathlib import Path


def storage_of(path: Path) -> str:
    """"float8 e4m3fn", "scaled float8 e4m3fn", "float8 e5m2", "GGUF Q8_0" …; "" for a plain file."""
    from ddpm_studio.engine.models.storage.gguf_files import gguf_storage, is_gguf

    if is_gguf(path):
        return gguf_storage(path)
    from ddpm_studio.engine.models.storage.float8_files import float8_storage

    return float8_storage(path)


def text_storage(path: Path, prefix: str = "") -> str:
    """What a text encoder's tensors (``prefix``: its part of an all-in-one file) are stored as; "" when plain."""
    from ddpm_studio.engine.models.storage.float8_files import float8_storage
    from ddpm_studio.engine.models.storage.gguf_files import gguf_storage, is_gguf

    return gguf_storage(path) if is_gguf(path) else float8_storage(path, prefix)


def dtype_name(dtype) -> str:
    return str(dtype).removeprefix("torch.")


def storage_words(storage: str, compute_dtype) -> str:
    """The note: what the weights stay as in memory and what each layer computes in."""
    if not storage:
        return ""
    return f"weights kept as {storage} in memory, each layer computed in {dtype_name(compute_dtype)}"


def load_denoiser(class_name: str, path: Path, config: Path, subfolder: str, dtype, plain_source=str):
    """(the diffusion model in ``path`` as diffusers' ``class_name``, in its own storage; its note or ""). A plain
    file is read by diffusers from ``plain_source(path)`` (split_files: its tensors without ComfyUI's prefix)."""
    storage = storage_of(path)
    if storage.startswith("GGUF"):
        from ddpm_studio.engine.models.storage.gguf_files import load_gguf_denoiser

        model = load_gguf_denoiser(class_name, path, config, subfolder, dtype)
    elif storage:
        from ddpm_studio.engine.models.storage.float8_files import load_float8_denoiser

        model = load_float8_denoiser(class_name, path, config, subfolder, dtype)
    else:
        import diffusers

        model = getattr(diffusers, class_name).from_single_file(
            plain_source(path), config=str(config), subfolder=subfolder, local_files_only=True, torch_dtype=dtype)
    return model, storage_words(storage, dtype)


VAE_PREFIXES = ("first_stage_model.", "vae.")  # diffusers' LDM_VAE_KEYS: a checkpoint's VAE


def vae_source(path: Path):
    """What diffusers reads a VAE from: the file, or from a float8 checkpoint (ComfyUI's all-in-one
    ``flux1-dev-fp8.safetensors``) only the VAE's tensors, so the transformer's weights are not read a second time
    beside the ones kept."""
    if is_gguf_path(path) or not storage_of(path):
        return str(path)
    from ddpm_studio.engine.models.storage.float8_files import _read_tensors, read_header

    header, _ = read_header(path)
    return _read_tensors(path, header, [key for key in header if key.startswith(VAE_PREFIXES)])


def is_gguf_path(path: Path) -> bool:
    from ddpm_studio.engine.models.storage.gguf_files import is_gguf

    return is_gguf(path)
