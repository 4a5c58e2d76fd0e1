"""Z-Image's image to image, inpaint and outpaint through ZImageImg2ImgPipeline and ZImageInpaintPipeline on the tiny
random pipeline (tests/flow_edits.py: the checks every flow family shares), Turbo's guidance 0 and with CFG."""

from __future__ import annotations

import pytest

from ddpm_studio.engine.models.catalogue import inspect_model
from ddpm_studio.engine.runner import Engine
from tests import flow_edits
from tests.tiny_zimage import save_tiny_zimage


@pytest.fixture(scope="module")
def zimage(tmp_path_factory):
    return save_tiny_zimage(tmp_path_factory.mktemp("zimage-edit") / "tiny-zimage")


@pytest.fixture(scope="module")
def pics(tmp_path_factory):
    return flow_edits.pictures(tmp_path_factory.mktemp("pictures"))


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu")


def test_zimage_lists_its_edit_modes(zimage):
    assert inspect_model(str(zimage)).modes == ("txt2img", "img2img", "inpaint", "outpaint")


@pytest.mark.parametrize("guidance", [0.0, 2.0])  # Turbo's, and CFG with the negative prompt
def test_img2img_previews_every_step_at_the_inputs_size(engine, zimage, pics, guidance):
    flow_edits.check_img2img_previews_every_step(engine, zimage, pics, guidance_scale=guidance,
                                                 negative_prompt="blurry")


def test_inpaint_keeps_the_unmasked_pixels(engine, zimage, pics):
    flow_edits.check_inpaint_keeps_the_unmasked_pixels(engine, zimage, pics, guidance_scale=0.0)


def test_outpaint_grows_the_picture(engine, zimage, pics):
    flow_edits.check_outpaint_grows_the_picture(engine, zimage, pics, guidance_scale=0.0)


def test_cancel_inside_a_step(engine, zimage, pics, tmp_path):
    flow_edits.check_cancel_inside_a_step(engine, zimage, pics, lambda t: t.layers[0], tmp_path, guidance_scale=0.0)


def test_the_png_restores_the_job(engine, zimage, pics, tmp_path):
    flow_edits.check_the_png_restores_the_job(engine, zimage, pics, tmp_path, guidance_scale=0.0)
