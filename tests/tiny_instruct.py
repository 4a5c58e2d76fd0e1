"""Tiny random instruction-editing models built offline: Flux.1 Kontext (a FluxKontextPipeline on the tiny Flux.1
pipeline's components: FLUX.1 Kontext [dev] is Flux.1's transformer class with 64 inputs, told apart by its folder's
pipeline class) and Qwen-Image-Edit folders (the tiny Qwen-Image pipeline's parts under QwenImageEditPipeline or
QwenImageEditPlusPipeline, with the ``processor`` entry their model_index.json has: transformers' Qwen2VLProcessor,
which cannot be built here without torchvision, so these folders are for what can be checked without it)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.tiny_flux import tiny_flux_pipeline
from tests.tiny_qwenimage import save_tiny_qwenimage


def save_tiny_kontext(path: Path) -> Path:
    """A tiny FluxKontextPipeline saved as a diffusers folder (safetensors)."""
    from diffusers import FluxKontextPipeline

    parts = tiny_flux_pipeline(path.parent / f".{path.name}-parts").components
    FluxKontextPipeline(**parts).save_pretrained(path, safe_serialization=True)
    return path


def save_tiny_qwenimage_edit(path: Path, plus: bool = False) -> Path:
    """The tiny Qwen-Image folder made a Qwen-Image-Edit one (Plus: several pictures), as its model_index.json says."""
    save_tiny_qwenimage(path)
    index_path = path / "model_index.json"
    index = json.loads(index_path.read_text())
    index["_class_name"] = "QwenImageEditPlusPipeline" if plus else "QwenImageEditPipeline"
    index["processor"] = ["transformers", "Qwen2VLProcessor"]
    index_path.write_text(json.dumps(index, indent=2))
    return path


def qwenimage_edit_pipeline(folder: Path, plus: bool = False):
    """The folder's Qwen-Image-Edit pipeline built from its parts with no processor (what its call's arguments are
    built for can be checked; its prompt encoding needs the processor)."""
    import diffusers
    from diffusers import QwenImagePipeline

    parts = QwenImagePipeline.from_pretrained(_as_text_to_image(folder), local_files_only=True).components
    cls = diffusers.QwenImageEditPlusPipeline if plus else diffusers.QwenImageEditPipeline
    return cls(processor=None, **parts)


def _as_text_to_image(folder: Path) -> Path:
    """A copy of the folder's index as a QwenImagePipeline's, beside it (links to its parts)."""
    plain = folder.parent / f".{folder.name}-t2i"
    if not plain.exists():
        plain.mkdir()
        for part in folder.iterdir():
            if part.name != "model_index.json":
                (plain / part.name).symlink_to(part.resolve())
        index = json.loads((folder / "model_index.json").read_text())
        index["_class_name"] = "QwenImagePipeline"
        index.pop("processor", None)
        (plain / "model_index.json").write_text(json.dumps(index))
    return plain
