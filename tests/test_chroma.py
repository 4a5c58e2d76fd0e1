"""Chroma from a diffusers folder on a tiny random pipeline: recognised as its family, text to image through the
engine's stages with x_t and x̂0 previews unpacked from the transformer's 2×2 tokens, real CFG with the negative
prompt (two transformer calls a step), its flow scheduler, its defaults, cancel inside a step, add-ons refused by
name, variation seeds on packed latents, its PNG's metadata read back (the panel test restores it)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ddpm_studio.engine.jobs.types import Text2ImageJob
from ddpm_studio.engine.models.catalogue import ModelError, inspect_model
from ddpm_studio.engine.models.defaults import recommended_settings
from ddpm_studio.engine.models.families import BY_KEY, family_of_info
from ddpm_studio.engine.output.metadata import read_job
from ddpm_studio.engine.runner import Engine
from tests.hires_runs import run_two_pass_hires
from tests.stopped_runs import run_stopped_in_second_call
from tests.tiny_chroma import save_tiny_chroma
from tests.tiny_flux import T5_WIDTH


@pytest.fixture(scope="module")
def chroma(tmp_path_factory):
    return save_tiny_chroma(tmp_path_factory.mktemp("chroma") / "tiny-chroma")


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu")


def _job(chroma, **fields):
    values = dict(model=str(chroma), prompt="a lighthouse at dusk", steps=2, seed=7, width=64, height=64,
                  preview_every=1, scheduler="euler", guidance_scale=3.0)
    return Text2ImageJob(**{**values, **fields})


def _counting_calls(transformer):
    calls = []
    handle = transformer.register_forward_pre_hook(lambda _module, _inputs: calls.append(1))
    return calls, handle


def test_the_tiny_folder_generates_with_the_bare_diffusers_pipeline(chroma):
    from diffusers import ChromaPipeline

    pipe = ChromaPipeline.from_pretrained(chroma, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    assert pipe.tokenizer("a cat at dusk").input_ids == [3, 6, 10, 11, 1]  # its words, then </s>
    images = pipe("a cat", negative_prompt="a dog", num_inference_steps=2, width=64, height=64, output_type="np",
                  generator=torch.Generator().manual_seed(0)).images
    assert images.shape == (1, 64, 64, 3) and np.isfinite(images).all() and images.std() > 0


def test_the_folder_is_a_chroma_model_with_its_modes(chroma):
    info = inspect_model(str(chroma))
    row = BY_KEY["chroma"]
    assert family_of_info(info) is row and info.family == "chroma" and info.flavour == ""
    assert info.modes == row.variant(64).modes == ("txt2img", "img2img", "inpaint", "outpaint")
    assert info.panel == "Text to Image"
    assert info.context_dim == T5_WIDTH and row.packed == 2 and row.negative_prompt and not row.true_cfg
    assert row.text_widths == (4096,) and not row.prompt_weights and row.addons == {"hires", "lora", "attention"}


def test_its_defaults_are_chroma1_hds(chroma):
    assert recommended_settings(inspect_model(str(chroma))) == {"scheduler": "euler", "steps": 40,
                                                                 "guidance_scale": 3.0}


def test_text_to_image_previews_every_step_and_runs_real_cfg(engine, chroma, tmp_path):
    events = []
    job = _job(chroma, prompt="a (lighthouse:1.4) at [dusk]", negative_prompt="snow", output_dir=str(tmp_path),
               scheduler="euler")
    transformer = engine.load(str(chroma), "txt2img").pipe.transformer
    calls, handle = _counting_calls(transformer)
    try:
        result = engine.run(job, on_step=events.append)
    finally:
        handle.remove()
    assert len(calls) == 4  # each step: the prompt's pass and the negative prompt's
    assert result.images.shape == (1, 64, 64, 3) and np.isfinite(result.images).all()
    *steps, last = events
    assert last.final and len(steps) == 2 and [e.index for e in steps] == [0, 1]
    for event in steps:
        assert event.x_t.shape == (1, 8, 8, 3) and event.x0.shape == (1, 8, 8, 3)  # unpacked, 16 channels → RGB
        assert np.isfinite(event.x0.astype(float)).all() and event.x0.std() > 0
        assert np.isfinite(event.x_t.astype(float)).all() and event.x_t.std() > 0
    assert 1 >= steps[0].noise_level > steps[1].noise_level > 0 and steps[0].noise_kind == "flow"  # σ_t; Euler: 1 first
    assert "plain text" in result.note and "negative prompt" not in result.note
    path = sorted(result.saved_paths)[0]
    assert read_job(path) == job
    from PIL import Image

    with Image.open(path) as image:
        text = image.text["parameters"]
    assert "Negative prompt: snow" in text and "CFG scale: 3.0" in text and "True CFG" not in text


def test_the_negative_prompt_changes_the_picture_and_guidance_1_runs_one_pass(engine, chroma):
    plain = engine.run(_job(chroma, preview_every=0), save=False).images
    negative = engine.run(_job(chroma, preview_every=0, negative_prompt="red fox in snow"), save=False).images
    assert not np.array_equal(plain, negative)
    transformer = engine.load(str(chroma), "txt2img").pipe.transformer
    calls, handle = _counting_calls(transformer)
    try:
        engine.run(_job(chroma, preview_every=0, guidance_scale=1.0, negative_prompt="snow"), save=False)
    finally:
        handle.remove()
    assert len(calls) == 2  # no guidance: no unconditional pass


@pytest.mark.parametrize("scheduler", ["dpm++2m", "unipc"])
def test_the_solvers_its_pipeline_cannot_drive_are_refused_naming_euler(engine, chroma, scheduler):
    # ChromaPipeline hands set_timesteps its own sigmas, which these do not take (FluxPipeline leaves them out)
    with pytest.raises(ModelError, match=r"\(Chroma\): the .* scheduler does not take its schedule.*euler \(Euler\)"):
        engine.run(_job(chroma, scheduler=scheduler), save=False)


def test_a_scheduler_without_a_flow_form_is_refused(engine, chroma):
    with pytest.raises(ModelError, match=r"flow-matching model.*DDIM"):
        engine.run(_job(chroma, scheduler="ddim"), save=False)


def test_addons_and_true_cfg_it_does_not_take_are_refused_by_name_and_clip_skip_left_out(engine, chroma):
    with pytest.raises(ModelError, match="No LoRA named 'style'"):  # LoRAs it takes (test_flow_loras.py)
        engine.run(_job(chroma, prompt="a cat <lora:style:0.8>"), save=False)
    with pytest.raises(ModelError, match="classifier-free guidance already.*set it to 1"):
        engine.run(_job(chroma, true_cfg_scale=4.0), save=False)
    skipped = engine.run(_job(chroma, clip_skip=2, preview_every=0), save=False)  # T5 alone: no CLIP layers
    assert "clip skip was not used" in skipped.note and np.isfinite(skipped.images).all()


@pytest.mark.parametrize("upscaler", ["latent", "lanczos"])
def test_the_hires_fix_runs_its_second_pass_through_its_img2img_pipeline(engine, chroma, upscaler, tmp_path):
    """Chroma's img2img pipeline takes the enlarged latents as they are (its image processor told their channels),
    or the enlarged picture."""
    job = _job(chroma, steps=4, hires_scale=2.0, hires_upscaler=upscaler, hires_strength=0.5)
    run_two_pass_hires(engine, job, tmp_path)


def test_cancel_inside_a_step_stops_the_run_with_no_image(engine, chroma, tmp_path):
    transformer = engine.load(str(chroma), "txt2img").pipe.transformer
    # the second call (the first step's negative pass) reaches its single-stream block: Cancel is pressed there
    result, steps, calls = run_stopped_in_second_call(engine, _job(chroma, steps=3, output_dir=str(tmp_path)),
                                                      transformer, transformer.single_transformer_blocks[0])
    assert result.cancelled and result.images is None and not list(tmp_path.glob("*.png"))
    assert steps == [] and result.steps_run == 0 and calls == {"started": 2, "ended": 1}


def test_variation_draws_packed_latents(engine, chroma):
    plain = engine.run(_job(chroma, preview_every=0), save=False).images
    same = engine.run(_job(chroma, preview_every=0, variation_seed=9, variation_strength=0.0001), save=False).images
    varied = engine.run(_job(chroma, preview_every=0, variation_seed=9, variation_strength=0.5), save=False).images
    assert np.abs(plain.astype(int) - same.astype(int)).max() <= 2 and not np.array_equal(plain, varied)


def test_full_decodes_of_x0_unpack_and_add_the_shift_back(engine, chroma):
    events = []
    engine.run(_job(chroma, preview_every=0, full_decode_every=1), on_step=events.append, save=False)
    assert all(e.x0 is not None and e.x0.shape == (1, 64, 64, 3) for e in events)


def test_chroma_latents_preview_with_fluxs_published_map_or_a_fit(engine, chroma):
    loaded = engine.load(str(chroma), "txt2img")
    assert loaded.to_rgb.source == "fitted to this VAE" and loaded.to_rgb.weights.shape == (16, 3)
    assert BY_KEY["chroma"].latent_rgb is BY_KEY["flux"].latent_rgb  # Flux.1's VAE: ComfyUI's Flux factors
    assert BY_KEY["chroma"].taesd_repo == "madebyollin/taef1"


def test_the_cli_samples_with_chromas_defaults_and_the_negative_prompt(chroma, tmp_path):
    from PIL import Image

    from ddpm_studio.cli import main

    args = ["txt2img", "--model", str(chroma), "--prompt", "a boat", "--negative", "snow", "--size", "64x64",
            "--seed", "3", "--device", "cpu", "--steps", "2", "--out", str(tmp_path)]
    assert main(args) == 0
    path = next(tmp_path.glob("*.png"))
    with Image.open(path) as image:
        text = image.text["parameters"]
    assert "Sampler: Euler" in text and "CFG scale: 3.0" in text and "Negative prompt: snow" in text
    assert read_job(path).negative_prompt == "snow" and read_job(path).guidance_scale == 3.0
