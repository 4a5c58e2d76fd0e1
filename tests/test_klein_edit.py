"""Flux.2 Klein's inpaint and outpaint through Flux2KleinInpaintPipeline on the tiny random pipeline
(tests/flow_edits.py: the checks every flow family shares): the step-distilled model and the base one with its
negative prompt as embeddings; no image to image (diffusers 0.42 has no Klein img2img pipeline)."""

from __future__ import annotations

import pytest

from ddpm_studio.engine.models.catalogue import ModelError, inspect_model
from ddpm_studio.engine.runner import Engine
from tests import flow_edits
from tests.tiny_klein import save_tiny_klein


@pytest.fixture(scope="module")
def klein(tmp_path_factory):
    return save_tiny_klein(tmp_path_factory.mktemp("klein-edit") / "tiny-klein")


@pytest.fixture(scope="module")
def klein_base(tmp_path_factory):
    return save_tiny_klein(tmp_path_factory.mktemp("klein-base-edit") / "tiny-klein-base", is_distilled=False)


@pytest.fixture(scope="module")
def pics(tmp_path_factory):
    return flow_edits.pictures(tmp_path_factory.mktemp("pictures"))


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu")


def test_klein_lists_inpaint_and_outpaint_and_refuses_img2img(engine, klein, pics):
    assert inspect_model(str(klein)).modes == ("txt2img", "inpaint", "outpaint", "instruct")
    with pytest.raises(ModelError, match="image-to-image"):
        engine.run(flow_edits.edit_job(klein, "img2img", pics["picture"]), save=False)


def test_inpaint_keeps_the_unmasked_pixels(engine, klein, pics):
    flow_edits.check_inpaint_keeps_the_unmasked_pixels(engine, klein, pics, guidance_scale=1.0)


def test_the_base_model_inpaints_with_its_negative_prompt_and_previews_every_step(engine, klein_base, pics):
    events = []
    job = flow_edits.edit_job(klein_base, "inpaint", pics["small"], mask=pics["mask"], feather=flow_edits.FEATHER,
                              guidance_scale=4.0, negative_prompt="blurry")  # strength 0.5 of 4 steps: 2 run
    result = engine.run(job, on_step=events.append, save=False)
    assert result.images.shape == (1, 44, 60, 3) and "negative prompt was not used" not in result.note
    *steps, last = events
    assert last.final and [e.index for e in steps] == [0, 1] and all(e.total == 2 for e in steps)
    assert all(e.x_t.shape == e.x0.shape == (1, 6, 8, 3) and e.noise_kind == "flow" for e in steps)  # 48×64 / 8


def test_outpaint_grows_the_picture(engine, klein, pics):
    flow_edits.check_outpaint_grows_the_picture(engine, klein, pics, guidance_scale=1.0)


def test_cancel_inside_a_step(engine, klein, pics, tmp_path):
    flow_edits.check_cancel_inside_a_step(engine, klein, pics, lambda t: t.single_transformer_blocks[0], tmp_path,
                                          mode="inpaint", guidance_scale=1.0)


def test_the_png_restores_the_job(engine, klein, pics, tmp_path):
    flow_edits.check_the_png_restores_the_job(engine, klein, pics, tmp_path, guidance_scale=1.0)
