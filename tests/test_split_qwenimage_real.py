"""The shipped qwen-image config folder against ComfyUI's files' layouts at real size, on the meta device (no
weights, no memory): the 20 B transformer's keys are known as Qwen-Image's, bare or behind
``model.diffusion_model.``; Qwen2.5-VL-7B in Qwen's own layout is known as a 3584-wide Qwen2.5-VL, fills the
pipeline's text encoder, and its names map onto transformers 5's model whole; the Wan VAE at Qwen-Image's depth in
Wan's names is a 16-channel Wan-style VAE that diffusers' conversion reads back whole."""

from __future__ import annotations

import json

import torch

from ddpm_studio.engine.models.families import BY_KEY
from ddpm_studio.engine.models.split_files import SplitFacts, assign, read_split, vae_channels
from ddpm_studio.engine.models.text_files import KINDS, _renamed, encoders_in
from ddpm_studio.paths import resources_dir
from tests.comfy_qwenimage import qwen_vl_to_original, wan_vae_to_original

FOLDER = resources_dir() / "configs" / "qwen-image"


def _meta(part):
    import diffusers
    import transformers

    library, class_name = json.loads((FOLDER / "model_index.json").read_text())[part]
    with torch.device("meta"):
        if library == "diffusers":
            cls = getattr(diffusers, class_name)
            return cls.from_config(cls.load_config(FOLDER / part))
        return getattr(transformers, class_name)(transformers.AutoConfig.from_pretrained(FOLDER / part))


def test_the_real_transformer_is_known_by_its_keys(tmp_path):
    shapes = {key: tuple(value.shape) for key, value in _meta("transformer").state_dict().items()}
    for prefix in ("", "model.diffusion_model."):
        facts = read_split(tmp_path / "qwen_image_bf16.safetensors", {prefix + k: v for k, v in shapes.items()})
        assert facts is not None and (facts.family, facts.config, facts.vae_inside) == ("qwenimage", "qwen-image",
                                                                                        False)


def test_the_real_text_encoder_is_known_fills_its_place_and_maps_whole(tmp_path):
    encoder = _meta("text_encoder")
    own = encoder.state_dict()
    original = qwen_vl_to_original(encoder)
    assert "visual.blocks.31.mlp.down_proj.weight" in original and "model.layers.27.mlp.up_proj.weight" in original
    path = tmp_path / "qwen_2.5_vl_7b.safetensors"
    (found,) = encoders_in(path, {key: tuple(value.shape) for key, value in original.items()})
    assert (found.kind, found.width) == ("qwen2.5-vl", 3584)
    family = BY_KEY["qwenimage"]
    chosen = assign(family, FOLDER, SplitFacts("qwenimage", "qwen-image", False), [found])
    assert chosen == {"text_encoder": found}
    mapped = _renamed(original, KINDS["qwen2.5-vl"].renames, own)
    assert {k: tuple(v.shape) for k, v in mapped.items()} == {k: tuple(v.shape) for k, v in own.items()}


def test_the_real_vae_in_wans_names_is_read_back_whole(tmp_path):
    vae = _meta("vae")
    original = wan_vae_to_original(vae)  # checks itself against diffusers' convert_wan_vae_to_diffusers
    shapes = {key: tuple(value.shape) for key, value in original.items()}
    assert shapes["decoder.conv1.weight"] == (384, 16, 3, 3, 3)  # Wan 2.1's: 96 × 4 out, z_dim 16 in
    assert vae_channels(tmp_path / "qwen_image_vae.safetensors", shapes, wan=True) == 16
    assert vae_channels(tmp_path / "qwen_image_vae.safetensors", shapes) == 0  # no AutoencoderKL
