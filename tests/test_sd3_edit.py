"""SD 3.5's image to image, inpaint and outpaint through StableDiffusion3Img2ImgPipeline and
StableDiffusion3InpaintPipeline on the tiny random pipeline (tests/flow_edits.py: the checks every flow family
shares), with its negative prompt, and ``edit`` on the CLI."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ddpm_studio.engine.models.catalogue import inspect_model
from ddpm_studio.engine.output.metadata import read_job
from ddpm_studio.engine.runner import Engine
from tests import flow_edits
from tests.tiny_sd3 import save_tiny_sd3


@pytest.fixture(scope="module")
def sd3(tmp_path_factory):
    return save_tiny_sd3(tmp_path_factory.mktemp("sd3-edit") / "tiny-sd3")


@pytest.fixture(scope="module")
def pics(tmp_path_factory):
    return flow_edits.pictures(tmp_path_factory.mktemp("pictures"))


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu")


def test_sd3_lists_its_edit_modes(sd3):
    assert inspect_model(str(sd3)).modes == ("txt2img", "img2img", "inpaint", "outpaint")


def test_img2img_previews_every_step_at_the_inputs_size(engine, sd3, pics):
    flow_edits.check_img2img_previews_every_step(engine, sd3, pics, guidance_scale=3.5, negative_prompt="blurry")


def test_inpaint_keeps_the_unmasked_pixels(engine, sd3, pics):
    flow_edits.check_inpaint_keeps_the_unmasked_pixels(engine, sd3, pics)


def test_outpaint_grows_the_picture(engine, sd3, pics):
    flow_edits.check_outpaint_grows_the_picture(engine, sd3, pics)


def test_cancel_inside_a_step(engine, sd3, pics, tmp_path):
    flow_edits.check_cancel_inside_a_step(engine, sd3, pics, lambda t: t.transformer_blocks[1], tmp_path)


def test_the_png_restores_the_job(engine, sd3, pics, tmp_path):
    flow_edits.check_the_png_restores_the_job(engine, sd3, pics, tmp_path)


def test_the_cli_outpaints_with_sd3(sd3, pics, tmp_path, capsys):
    from ddpm_studio.cli import main

    assert main(["edit", "--model", str(sd3), "--mode", "outpaint", "--image", pics["picture"], "--prompt",
                 "a meadow", "--steps", "2", "--strength", "1", "--extend", "16,0,0,8", "--feather", "8", "--out",
                 str(tmp_path), "--device", "cpu"]) == 0
    out = capsys.readouterr().out.split()[0]
    with Image.open(out) as image:
        result = np.asarray(image.convert("RGB"))
    assert result.shape == (48 + 8, 64 + 16, 3)
    assert np.array_equal(result[:40, 24:80], pics["pixels"][:40, 8:64])  # the picture outside the seam's band
    job = read_job(out)
    assert job.mode == "outpaint" and job.extend == (16, 0, 0, 8) and job.model == str(sd3)
