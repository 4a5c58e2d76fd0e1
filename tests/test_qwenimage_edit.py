"""Qwen-Image's image to image, inpaint and outpaint through QwenImageImg2ImgPipeline and QwenImageInpaintPipeline on
the tiny random pipeline (tests/flow_edits.py: the checks every flow family shares): its true CFG with the negative
prompt, and without."""

from __future__ import annotations

import pytest

from ddpm_studio.engine.models.catalogue import inspect_model
from ddpm_studio.engine.runner import Engine
from tests import flow_edits
from tests.tiny_qwenimage import save_tiny_qwenimage


@pytest.fixture(scope="module")
def qwen(tmp_path_factory):
    return save_tiny_qwenimage(tmp_path_factory.mktemp("qwen-edit") / "tiny-qwen-image")


@pytest.fixture(scope="module")
def pics(tmp_path_factory):
    return flow_edits.pictures(tmp_path_factory.mktemp("pictures"))


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu")


def test_qwen_image_lists_its_edit_modes(qwen):
    assert inspect_model(str(qwen)).modes == ("txt2img", "img2img", "inpaint", "outpaint")


@pytest.mark.parametrize("guidance", [1.0, 4.0])  # one pass a step, and its true CFG with the negative prompt
def test_img2img_previews_every_step_at_the_inputs_size(engine, qwen, pics, guidance):
    flow_edits.check_img2img_previews_every_step(engine, qwen, pics, guidance_scale=guidance,
                                                 negative_prompt="blurry")


def test_inpaint_keeps_the_unmasked_pixels(engine, qwen, pics):
    flow_edits.check_inpaint_keeps_the_unmasked_pixels(engine, qwen, pics, guidance_scale=4.0)


def test_outpaint_grows_the_picture(engine, qwen, pics):
    flow_edits.check_outpaint_grows_the_picture(engine, qwen, pics, guidance_scale=1.0)


def test_cancel_inside_a_step(engine, qwen, pics, tmp_path):  # no CFG: one call a step
    flow_edits.check_cancel_inside_a_step(engine, qwen, pics, lambda t: t.transformer_blocks[0], tmp_path,
                                          guidance_scale=1.0)


def test_the_png_restores_the_job(engine, qwen, pics, tmp_path):
    flow_edits.check_the_png_restores_the_job(engine, qwen, pics, tmp_path, guidance_scale=4.0)
