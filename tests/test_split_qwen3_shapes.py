"""The shipped config folders of the Qwen3 families (Z-Image, Flux.2 Klein) against the real files' layouts, at real
size on the meta device (no weights, no memory): the transformer built from each folder, written in the original
layout (tests/comfy_qwen3.py) and read back by diffusers' own single-file conversion, gives every tensor of the model
at its shape, and its keys alone name the family and the folder; the Qwen3 built from the folder, in ComfyUI's
layout, is known as a Qwen3 of its width and fills the text encoder's place."""

from __future__ import annotations

import json

import pytest
import torch

from ddpm_studio.engine.models.families import BY_KEY
from ddpm_studio.engine.models.split_files import SplitFacts, assign, read_split
from ddpm_studio.engine.models.text_files import encoders_in
from ddpm_studio.paths import resources_dir
from tests.comfy_qwen3 import flux2_vae_to_original, klein_to_original, zimage_to_original

CONFIGS = resources_dir() / "configs"
FOLDERS = [("z-image-turbo", "zimage", 2560), ("flux.2-klein-4b", "klein", 2560), ("flux.2-klein-9b", "klein", 4096)]


def _meta(name, part):
    import diffusers
    import transformers

    library, class_name = json.loads((CONFIGS / name / "model_index.json").read_text())[part]
    with torch.device("meta"):
        if library == "diffusers":
            cls = getattr(diffusers, class_name)
            return cls.from_config(cls.load_config(CONFIGS / name / part))
        return getattr(transformers, class_name)(transformers.AutoConfig.from_pretrained(CONFIGS / name / part))


def _original(family, state):
    from diffusers.loaders import single_file_utils as utils

    if family == "zimage":
        return zimage_to_original(state), utils.convert_z_image_transformer_checkpoint_to_diffusers
    return klein_to_original(state), utils.convert_flux2_transformer_checkpoint_to_diffusers


@pytest.mark.parametrize(("name", "family", "width"), FOLDERS)
def test_the_original_layout_of_each_shipped_config_is_read_back_whole(name, family, width, tmp_path):
    model = _meta(name, "transformer")
    state = model.state_dict()
    original, convert = _original(family, dict(state))
    shipped = {f"model.diffusion_model.{key}": tuple(value.shape) for key, value in original.items()}
    facts = read_split(tmp_path / "model.safetensors", shipped)
    assert facts is not None and (facts.family, facts.config) == (family, name)  # known by its keys alone
    # read without the prefix, as split_files hands it to diffusers (Flux.2's conversion would keep it)
    converted = convert(checkpoint=dict(original), config=dict(model.config))
    assert {k: tuple(v.shape) for k, v in converted.items()} == {k: tuple(v.shape) for k, v in state.items()}


@pytest.mark.parametrize(("name", "family", "width"), FOLDERS)
def test_the_real_qwen3_is_known_by_kind_and_width_and_fills_its_place(name, family, width, tmp_path):
    encoder = _meta(name, "text_encoder")
    state = {key: tuple(value.shape) for key, value in encoder.state_dict().items() if not key.startswith("lm_head.")}
    comfy = {key if key.startswith("model.") else f"model.{key}": shape for key, shape in state.items()}
    (found,) = encoders_in(tmp_path / "qwen_3.safetensors", comfy)
    assert (found.kind, found.width) == ("qwen3", width)
    chosen = assign(BY_KEY[family], CONFIGS / name, SplitFacts(family, name, False), [found])
    assert chosen == {"text_encoder": found}


def test_the_real_flux2_vae_layout_is_read_back_whole():
    from ddpm_studio.engine.models.split_files import vae_channels
    from ddpm_studio.engine.models.vae_files import flux2_to_diffusers

    vae = _meta("flux.2-klein-4b", "vae")
    state = vae.state_dict()
    original = flux2_vae_to_original(dict(state), len(vae.config.down_block_types))
    assert vae_channels(CONFIGS, {k: tuple(v.shape) for k, v in original.items()}) == 32
    converted = flux2_to_diffusers(original, vae.config)
    assert {k: tuple(v.shape) for k, v in converted.items()} == \
        {k: tuple(v.shape) for k, v in state.items() if k != "bn.num_batches_tracked"}
