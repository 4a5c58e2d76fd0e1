"""SD 3.5's image to image, inpaint and outpaint through StableDiffusion3Img2ImgPipeline and StableDiffusion3InpaintPipeline on the tiny
random pipeline (tests/flow_edits.py: the checks every flow family shares), and ``edit`` on the CLI."""

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


def test_the_cli_edits_with_sd3(sd3, pics, tmp_path, capsys):
    from ddpm_studio.cli import main

    assert main(["edit", "--model", str(sd3), "--mode", "img2img", "--image", pics["picture"], "--prompt",
                 "a red fox", "--steps", "4", "--strength", "0.5", "--scheduler", "euler", "--out",
                 str(tmp_path), "--device", "cpu"]) == 0
    out = capsys.readouterr().out.split()[0]
    with Image.open(out) as image:
        assert image.size == flow_edits.SIZE
        assert "Denoising strength: 0.5" in image.text["parameters"]
    job = read_job(out)
    assert job.mode == "img2img" and job.strength == 0.5 and job.model == str(sd3)
    assert not np.array_equal(np.asarray(Image.open(out).convert("RGB")), pics["pixels"])
