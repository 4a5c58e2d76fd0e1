"""Flux.1's image to image, inpaint and outpaint through FluxImg2ImgPipeline and FluxInpaintPipeline on the tiny
random pipeline (tests/flow_edits.py: the checks every flow family shares), and ``edit`` on the CLI."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ddpm_studio.engine.models.catalogue import inspect_model
from ddpm_studio.engine.output.metadata import read_job
from ddpm_studio.engine.runner import Engine
from tests import flow_edits
from tests.tiny_flux import save_tiny_flux


@pytest.fixture(scope="module")
def flux(tmp_path_factory):
    return save_tiny_flux(tmp_path_factory.mktemp("flux-edit") / "tiny-flux")


@pytest.fixture(scope="module")
def pics(tmp_path_factory):
    return flow_edits.pictures(tmp_path_factory.mktemp("pictures"))


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu")


def test_flux_lists_its_edit_modes(flux):
    assert inspect_model(str(flux)).modes == ("txt2img", "img2img", "inpaint", "outpaint")


def test_img2img_previews_every_step_at_the_inputs_size(engine, flux, pics):
    flow_edits.check_img2img_previews_every_step(engine, flux, pics, guidance_scale=3.5)


def test_inpaint_keeps_the_unmasked_pixels(engine, flux, pics):
    flow_edits.check_inpaint_keeps_the_unmasked_pixels(engine, flux, pics)


def test_outpaint_grows_the_picture(engine, flux, pics):
    flow_edits.check_outpaint_grows_the_picture(engine, flux, pics)


def test_cancel_inside_a_step(engine, flux, pics, tmp_path):
    flow_edits.check_cancel_inside_a_step(engine, flux, pics, lambda t: t.single_transformer_blocks[0], tmp_path)


def test_the_png_restores_the_job(engine, flux, pics, tmp_path):
    flow_edits.check_the_png_restores_the_job(engine, flux, pics, tmp_path)


def test_the_cli_edits_with_flux(flux, pics, tmp_path, capsys):
    from ddpm_studio.cli import main

    assert main(["edit", "--model", str(flux), "--mode", "img2img", "--image", pics["picture"], "--prompt",
                 "a red fox", "--steps", "4", "--strength", "0.5", "--scheduler", "euler", "--out",
                 str(tmp_path), "--device", "cpu"]) == 0
    out = capsys.readouterr().out.split()[0]
    with Image.open(out) as image:
        assert image.size == flow_edits.SIZE
        assert "Denoising strength: 0.5" in image.text["parameters"]
    job = read_job(out)
    assert job.mode == "img2img" and job.strength == 0.5 and job.model == str(flux)
    assert not np.array_equal(np.asarray(Image.open(out).convert("RGB")), pics["pixels"])
