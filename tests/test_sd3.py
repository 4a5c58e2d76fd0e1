"""Stable Diffusion 3.5 from a diffusers folder (T5 left out) on a tiny random pipeline."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ddpm_studio.engine.models.catalogue import inspect_model
from ddpm_studio.engine.models.families import BY_KEY, family_of_info
from tests.tiny_sd3 import save_tiny_sd3


@pytest.fixture(scope="module")
def sd3(tmp_path_factory):
    return save_tiny_sd3(tmp_path_factory.mktemp("sd3") / "tiny-sd3")


def test_the_tiny_folder_generates_with_the_bare_diffusers_pipeline(sd3):
    from diffusers import StableDiffusion3Pipeline

    pipe = StableDiffusion3Pipeline.from_pretrained(sd3, local_files_only=True, text_encoder_3=None, tokenizer_3=None)
    pipe.set_progress_bar_config(disable=True)
    images = pipe("a cat", num_inference_steps=2, width=64, height=64, output_type="np",
                  generator=torch.Generator().manual_seed(0)).images
    assert images.shape == (1, 64, 64, 3) and np.isfinite(images).all() and images.std() > 0


def test_the_folder_is_an_sd3_model_with_its_modes(sd3):
    info = inspect_model(str(sd3))
    row = BY_KEY["sd3"]
    assert family_of_info(info) is row and info.family == "stable-diffusion-3"
    assert info.modes == row.variant(16).modes == ("txt2img",) and info.panel == "Text to Image"
    assert info.context_dim == 96  # the transformer's joint attention width, read from transformer/config.json
