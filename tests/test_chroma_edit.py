"""Chroma's image to image, inpaint and outpaint through ChromaImg2ImgPipeline and ChromaInpaintPipeline on the tiny
random pipeline (tests/flow_edits.py: the checks every flow family shares), with its CFG and the negative prompt."""

from __future__ import annotations

import pytest

from ddpm_studio.engine.models.catalogue import inspect_model
from ddpm_studio.engine.runner import Engine
from tests import flow_edits
from tests.tiny_chroma import save_tiny_chroma


@pytest.fixture(scope="module")
def chroma(tmp_path_factory):
    return save_tiny_chroma(tmp_path_factory.mktemp("chroma-edit") / "tiny-chroma")


@pytest.fixture(scope="module")
def pics(tmp_path_factory):
    return flow_edits.pictures(tmp_path_factory.mktemp("pictures"))


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu")


def test_chroma_lists_its_edit_modes(chroma):
    assert inspect_model(str(chroma)).modes == ("txt2img", "img2img", "inpaint", "outpaint")


def test_img2img_previews_every_step_at_the_inputs_size(engine, chroma, pics):
    flow_edits.check_img2img_previews_every_step(engine, chroma, pics, guidance_scale=3.0, negative_prompt="blurry")


def test_inpaint_keeps_the_unmasked_pixels(engine, chroma, pics):
    flow_edits.check_inpaint_keeps_the_unmasked_pixels(engine, chroma, pics, guidance_scale=3.0)


def test_outpaint_grows_the_picture(engine, chroma, pics):
    flow_edits.check_outpaint_grows_the_picture(engine, chroma, pics, guidance_scale=1.0)


def test_cancel_inside_a_step(engine, chroma, pics, tmp_path):  # no CFG: one call a step
    flow_edits.check_cancel_inside_a_step(engine, chroma, pics, lambda t: t.single_transformer_blocks[0], tmp_path,
                                          guidance_scale=1.0)


def test_the_png_restores_the_job(engine, chroma, pics, tmp_path):  # Euler is its only scheduler
    flow_edits.check_the_png_restores_the_job(engine, chroma, pics, tmp_path, solver="", guidance_scale=3.0)
