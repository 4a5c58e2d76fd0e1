"""Tiny random instruction-editing models built offline: Flux.1 Kontext (a FluxKontextPipeline on the tiny Flux.1
pipeline's components: FLUX.1 Kontext [dev] is Flux.1's transformer class with 64 inputs, told apart by its folder's
pipeline class), Qwen-Image-Edit folders (the tiny Qwen-Image pipeline's parts under QwenImageEditPipeline or
QwenImageEditPlusPipeline, with the ``processor`` entry their model_index.json has: transformers' Qwen2VLProcessor,
which cannot be built here without torchvision, so these folders are for what is checked before loading), and a
Qwen-Image-Edit pipeline that runs here on a stand-in for that processor."""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

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


VISION_TOKENS = ("<|vision_start|>", "<|image_pad|>", "<|vision_end|>")


class StandInProcessor:
    """What QwenImageEdit(Plus)Pipeline calls of transformers' Qwen2VLProcessor, for tests on a machine without
    torchvision (whose lack keeps the real one from being built): transformers' PIL Qwen2-VL image processor (the
    pictures' patches and their grid) and the tokenizer, each ``<|image_pad|>`` expanded to its picture's merged
    patches (grid t·h·w / merge², as the Qwen2-VL processor counts them)."""

    def __init__(self, tokenizer):
        from transformers import Qwen2VLImageProcessorPil

        self.tokenizer = tokenizer
        self.image_processor = Qwen2VLImageProcessorPil()

    def __call__(self, text, images=None, padding=True, return_tensors="pt"):
        from transformers import BatchFeature

        features = dict(self.image_processor(images=images, return_tensors="pt")) if images is not None else {}
        grids = iter(features.get("image_grid_thw", ()))
        merged = self.image_processor.merge_size ** 2

        def expand(_match) -> str:
            return "<|image_pad|>" * (int(next(grids).prod()) // merged)

        texts = [re.sub(re.escape("<|image_pad|>"), expand, line) for line in text]
        return BatchFeature({**self.tokenizer(texts, padding=padding, return_tensors=return_tensors), **features})


def tiny_qwenimage_edit_pipeline(plus: bool = False):
    """A tiny Qwen-Image-Edit (Plus) pipeline that runs here: the tiny Qwen-Image transformer and VAE, a two-layer
    Qwen2.5-VL whose vision tower (one block, the real patch 14, temporal patch 2 and 2×2 merge) reads the pictures,
    the tiny tokenizer with Qwen's vision tokens, and ``StandInProcessor``."""
    import diffusers
    from tokenizers import AddedToken
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    from tests.tiny_qwenimage import TEXT_WIDTH, tiny_qwen_tokenizer, tiny_qwenimage_pipeline

    parts = tiny_qwenimage_pipeline().components
    tokenizer = tiny_qwen_tokenizer()
    tokenizer.add_tokens([AddedToken(token, special=True, normalized=False) for token in VISION_TOKENS])
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in VISION_TOKENS}
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    torch.manual_seed(1)
    parts["text_encoder"] = Qwen2_5_VLForConditionalGeneration(Qwen2_5_VLConfig(
        text_config={"hidden_size": TEXT_WIDTH, "intermediate_size": 37, "num_hidden_layers": 2,
                     "num_attention_heads": 2, "num_key_value_heads": 2, "vocab_size": len(tokenizer),
                     "rope_scaling": {"mrope_section": [2, 2, 4], "rope_type": "default", "type": "default"},
                     "rope_theta": 1000000.0, "bos_token_id": None, "eos_token_id": end},
        vision_config={"depth": 1, "hidden_size": 16, "intermediate_size": 16, "num_heads": 2,
                       "out_hidden_size": TEXT_WIDTH},
        hidden_size=TEXT_WIDTH, vocab_size=len(tokenizer), bos_token_id=None, eos_token_id=end,
        image_token_id=ids["<|image_pad|>"], vision_start_token_id=ids["<|vision_start|>"],
        video_token_id=ids["<|image_pad|>"])).eval()
    parts["tokenizer"] = tokenizer
    cls = diffusers.QwenImageEditPlusPipeline if plus else diffusers.QwenImageEditPipeline
    return cls(processor=StandInProcessor(tokenizer), **parts)
