"""The shipped config folders against the real files' layouts, at real size on the meta device (no weights, no
memory): a transformer built from each folder, written in the original layout (Stability's MMDiT names, BFL's Flux
names, lodestones' Chroma names) and read back by diffusers' own single-file conversion, gives every tensor of the
model at its shape; the CLIP-L, CLIP-G and T5-XXL built from the folders are known by kind and width and fill their
places."""

from __future__ import annotations

import json

import pytest
import torch

from ddpm_studio.engine.models.families import BY_KEY
from ddpm_studio.engine.models.split_files import SplitFacts, assign, read_split
from ddpm_studio.engine.models.text_files import encoders_in
from ddpm_studio.paths import resources_dir
from tests.comfy_files import flux_to_original, sd3_to_original

CONFIGS = resources_dir() / "configs"


def _meta_transformer(name):
    import diffusers

    folder = CONFIGS / name / "transformer"
    cls = getattr(diffusers, json.loads((folder / "config.json").read_text())["_class_name"])
    with torch.device("meta"):
        return cls.from_config(cls.load_config(folder))


@pytest.mark.parametrize(("name", "family"), [("sd3.5-medium", "sd3"), ("sd3.5-large", "sd3"),
                                              ("flux.1-dev", "flux"), ("flux.1-schnell", "flux")])
def test_the_original_layout_of_each_shipped_config_is_read_back_whole(name, family, tmp_path):
    from diffusers.loaders import single_file_utils as utils

    model = _meta_transformer(name)
    state = model.state_dict()
    if family == "sd3":
        original = sd3_to_original(dict(state), model.config.num_layers)
        convert = utils.convert_sd3_transformer_checkpoint_to_diffusers
    else:
        original = flux_to_original(dict(state))
        convert = utils.convert_flux_transformer_checkpoint_to_diffusers
    shipped = {f"model.diffusion_model.{key}": tuple(value.shape) for key, value in original.items()}
    facts = read_split(tmp_path / "model.safetensors", shipped)
    assert facts is not None and (facts.family, facts.config) == (family, name)  # known by its keys alone
    converted = convert(checkpoint={f"model.diffusion_model.{k}": v for k, v in original.items()},
                        config=dict(model.config))
    assert {k: tuple(v.shape) for k, v in converted.items()} == {k: tuple(v.shape) for k, v in state.items()}


@pytest.mark.parametrize("name", ["sd3.5-medium", "flux.1-dev"])
def test_real_text_encoders_are_known_by_kind_and_width_and_fill_their_places(name, tmp_path):
    import transformers

    index = json.loads((CONFIGS / name / "model_index.json").read_text())
    family = BY_KEY["sd3" if name.startswith("sd3") else "flux"]
    found = []
    for part in family.split.text_encoders:
        cls = getattr(transformers, index[part.folder][1])
        with torch.device("meta"):
            encoder = cls(transformers.AutoConfig.from_pretrained(CONFIGS / name / part.folder))
        state = encoder.state_dict()
        if part.kind == "clip" and not any(key.startswith("text_model.") for key in state):
            state = {f"text_model.{key}": value for key, value in state.items()}  # ComfyUI's names
        path = tmp_path / f"{part.words[0]}.safetensors"
        (one,) = encoders_in(path, {key: tuple(value.shape) for key, value in state.items()})
        found.append(one)
    assert [f.width for f in found] == ([768, 1280, 4096] if family.key == "sd3" else [768, 4096])
    chosen = assign(family, CONFIGS / name, SplitFacts(family.key, name, False), list(reversed(found)))
    assert {part: f.path.name for part, f in chosen.items()} == {
        part.folder: f"{part.words[0]}.safetensors" for part in family.split.text_encoders}


def test_chromas_original_layout_is_read_back_whole_and_its_t5_fills_its_place(tmp_path):
    import transformers
    from diffusers.loaders import single_file_utils as utils

    from tests.comfy_chroma import chroma_to_original

    model = _meta_transformer("chroma")
    state = model.state_dict()
    original = chroma_to_original(dict(state))
    facts = read_split(tmp_path / "Chroma1-HD.safetensors", {k: tuple(v.shape) for k, v in original.items()})
    assert facts is not None and (facts.family, facts.config) == ("chroma", "chroma")
    converted = utils.convert_chroma_transformer_checkpoint_to_diffusers(checkpoint=dict(original),
                                                                         config=dict(model.config))
    assert {k: tuple(v.shape) for k, v in converted.items()} == {k: tuple(v.shape) for k, v in state.items()}
    with torch.device("meta"):
        t5 = transformers.T5EncoderModel(transformers.AutoConfig.from_pretrained(CONFIGS / "chroma" / "text_encoder"))
    path = tmp_path / "t5xxl_fp16.safetensors"
    (found,) = encoders_in(path, {key: tuple(value.shape) for key, value in t5.state_dict().items()})
    family = BY_KEY["chroma"]
    chosen = assign(family, CONFIGS / "chroma", SplitFacts("chroma", "chroma", False), [found])
    assert (found.width, {part: f.path.name for part, f in chosen.items()}) == (4096, {"text_encoder": path.name})
