"""Flux.1 from a diffusers folder on a tiny random pipeline (dev-like, with the guidance embedding): recognised as its
family, text to image through the engine's stages with x_t and x̂0 previews unpacked from the transformer's 2×2
tokens, its flow schedulers with the pipeline's dynamic shift, cancel inside a step, add-ons refused by name, the
negative prompt left out and said so, variation seeds on packed latents, its PNG's metadata."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ddpm_studio.engine.jobs.types import Text2ImageJob
from ddpm_studio.engine.models.catalogue import ModelError, inspect_model
from ddpm_studio.engine.models.families import BY_KEY, family_of_info
from ddpm_studio.engine.output.metadata import read_job
from ddpm_studio.engine.runner import Engine
from tests.hires_runs import run_two_pass_hires
from tests.stopped_runs import run_stopped_in_second_call
from tests.tiny_flux import T5_WIDTH, save_tiny_flux


@pytest.fixture(scope="module")
def flux(tmp_path_factory):
    return save_tiny_flux(tmp_path_factory.mktemp("flux") / "tiny-flux")


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu")


def _job(flux, **fields):
    values = dict(model=str(flux), prompt="a lighthouse at dusk", steps=2, seed=7, width=64, height=64,
                  preview_every=1, scheduler="euler", guidance_scale=3.5)
    return Text2ImageJob(**{**values, **fields})


@pytest.mark.parametrize("guidance_embeds", [True, False])  # dev-like and schnell-like
def test_the_tiny_folder_generates_with_the_bare_diffusers_pipeline(tmp_path, guidance_embeds):
    from diffusers import FluxPipeline

    folder = save_tiny_flux(tmp_path / "tiny", guidance_embeds)
    pipe = FluxPipeline.from_pretrained(folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    assert pipe.tokenizer_2("a cat at dusk").input_ids == [3, 6, 10, 11, 1]  # its words, then </s>
    images = pipe("a cat", num_inference_steps=2, width=64, height=64, output_type="np",
                  generator=torch.Generator().manual_seed(0)).images
    assert images.shape == (1, 64, 64, 3) and np.isfinite(images).all() and images.std() > 0


def test_the_folder_is_a_flux_model_with_its_modes(flux):
    info = inspect_model(str(flux))
    row = BY_KEY["flux"]
    assert family_of_info(info) is row and info.family == "flux" and info.arch in ("", "flux")
    assert info.modes == row.variant(64).modes == ("txt2img", "img2img", "inpaint", "outpaint")
    assert info.panel == "Text to Image" and info.context_dim == T5_WIDTH
    assert row.packed == 2 and not row.negative_prompt


def test_packing_and_unpacking_are_inverse_and_keep_flux_order():
    from ddpm_studio.engine.sampling.latent import pack_latents, unpack_latents

    latents = torch.randn(2, 16, 8, 12)
    tokens = pack_latents(latents, 2)
    assert tokens.shape == (2, 24, 64)
    assert torch.equal(tokens[0, 1, :4], latents[0, 0, 0:2, 2:4].reshape(4))  # token 1: channel 0's second patch
    assert torch.equal(unpack_latents(tokens, 2, 64, 96, 8), latents)


def test_text_to_image_previews_every_step_and_says_how_the_prompts_were_read(engine, flux, tmp_path):
    events = []
    job = _job(flux, prompt="a (lighthouse:1.4) at [dusk]", negative_prompt="blurry", output_dir=str(tmp_path),
               scheduler="dpm++2m", clip_skip=2)  # its σ all below 1 (Euler's first is 1: noise level 0)
    result = engine.run(job, on_step=events.append)
    assert result.images.shape == (1, 64, 64, 3) and np.isfinite(result.images).all()
    *steps, last = events
    assert last.final and len(steps) == 2 and [e.index for e in steps] == [0, 1]
    for event in steps:
        assert event.x_t.shape == (1, 8, 8, 3) and event.x0.shape == (1, 8, 8, 3)  # unpacked, 16 channels → RGB
        assert np.isfinite(event.x0.astype(float)).all() and event.x0.std() > 0
        assert 0 < event.noise_level < 1 and event.noise_kind == "flow"
    assert steps[0].noise_level > steps[1].noise_level  # σ_t falls
    assert "plain text" in result.note and "negative prompt was not used" in result.note
    assert "clip skip was not used" in result.note  # FluxPipeline takes none: its CLIP gives only the pooled text
    assert read_job(sorted(result.saved_paths)[0]) == job
    quiet = engine.run(_job(flux, preview_every=0), save=False)
    assert "negative prompt" not in quiet.note and "clip skip" not in quiet.note  # none given: nothing to say


def test_the_negative_prompt_and_guidance_go_where_flux_takes_them(engine, flux):
    from ddpm_studio.engine.sampling.latent import pipeline_arguments

    loaded = engine.load(str(flux), "txt2img")
    args = pipeline_arguments(loaded, _job(flux, negative_prompt="blurry", guidance_scale=4.0), "a cat", "blurry")
    assert "negative_prompt" not in args and args["guidance_scale"] == 4.0 and args["prompt"] == "a cat"


@pytest.mark.parametrize("scheduler", ["euler", "dpm++2m", "unipc"])
def test_its_flow_schedulers_run_with_the_pipelines_shift(engine, flux, scheduler):
    events = []
    result = engine.run(_job(flux, scheduler=scheduler), on_step=events.append, save=False)
    assert np.isfinite(result.images).all() and len(events) == 3
    assert all(e.x0 is not None and 0 < e.noise_level <= 1 for e in events[:-1])


def test_the_solvers_take_the_dynamic_shift():
    from ddpm_studio.engine.sampling.schedulers import build_scheduler

    config = {"_class_name": "FlowMatchEulerDiscreteScheduler", "shift": 3.0, "use_dynamic_shifting": True}

    def second_sigma(name, mu):
        scheduler = build_scheduler(name, config)
        scheduler.set_timesteps(4, mu=mu)
        return float(scheduler.sigmas[1])

    for name in ("dpm++2m", "unipc"):
        assert build_scheduler(name, config).config.use_dynamic_shifting
        assert second_sigma(name, 1.0) > second_sigma(name, 0.1)  # a larger picture's larger shift: noisier longer
        assert second_sigma(name, 1.0) == pytest.approx(second_sigma("euler", 1.0), rel=0.2)
    assert not build_scheduler("unipc", {**config, "use_dynamic_shifting": False}).config.use_dynamic_shifting


def test_a_scheduler_without_a_flow_form_is_refused_naming_those_that_work(engine, flux):
    with pytest.raises(ModelError, match=r"flow-matching model.*DDIM.*euler.*dpm\+\+2m.*unipc"):
        engine.run(_job(flux, scheduler="ddim"), save=False)


def test_addons_it_does_not_take_are_refused_by_name(engine, flux):
    with pytest.raises(ModelError, match="No LoRA named 'style'"):  # LoRAs it takes (test_flow_loras.py)
        engine.run(_job(flux, prompt="a cat <lora:style:0.8>"), save=False)


def test_cancel_inside_a_step_stops_the_run_with_no_image(engine, flux, tmp_path):
    transformer = engine.load(str(flux), "txt2img").pipe.transformer
    # the second call reaches its single-stream block: Cancel is pressed there
    result, steps, _ = run_stopped_in_second_call(engine, _job(flux, steps=3, output_dir=str(tmp_path)),
                                                  transformer, transformer.single_transformer_blocks[0])
    assert result.cancelled and result.images is None and not list(tmp_path.glob("*.png"))
    assert len(steps) == 1 and result.steps_run == 1


def test_variation_draws_packed_latents(engine, flux):
    plain = engine.run(_job(flux, preview_every=0), save=False).images
    same = engine.run(_job(flux, preview_every=0, variation_seed=9, variation_strength=0.0001), save=False).images
    varied = engine.run(_job(flux, preview_every=0, variation_seed=9, variation_strength=0.5), save=False).images
    assert np.abs(plain.astype(int) - same.astype(int)).max() <= 2 and not np.array_equal(plain, varied)


def test_full_decodes_of_x0_unpack_and_add_the_shift_back(engine, flux):
    events = []
    engine.run(_job(flux, preview_every=0, full_decode_every=1), on_step=events.append, save=False)
    assert all(e.x0 is not None and e.x0.shape == (1, 64, 64, 3) for e in events)


def test_flux_latents_preview_with_the_published_map_or_a_fit(flux):
    from types import SimpleNamespace

    from diffusers import AutoencoderKL

    from ddpm_studio.engine.sampling.latent_preview import LatentToRGB

    real = SimpleNamespace(latent_channels=16, scaling_factor=0.3611, shift_factor=0.1159,
                           block_out_channels=(128, 256, 512, 512))
    assert LatentToRGB.for_vae(SimpleNamespace(config=real)).source == "Flux factors (published by ComfyUI)"
    fitted = LatentToRGB.for_vae(AutoencoderKL.from_pretrained(flux / "vae"))
    assert fitted.source == "fitted to this VAE" and fitted.weights.shape == (16, 3)


@pytest.mark.parametrize("upscaler", ["latent", "lanczos"])
def test_the_hires_fix_runs_its_second_pass_through_the_img2img_pipeline(engine, flux, upscaler, tmp_path):
    """Flux (its latents unpacked, enlarged and packed again): the first pass at 64², the second at 128² through
    the family's img2img pipeline, previews of both passes at their own size, the progress over both, the job back
    from the PNG."""
    job = _job(flux, steps=4, scheduler="euler", hires_scale=2.0, hires_upscaler=upscaler, hires_strength=0.5)
    run_two_pass_hires(engine, job, tmp_path)


def test_a_hires_pass_after_a_flow_solver_runs_with_euler_and_says_so(engine, flux):
    events = []
    result = engine.run(_job(flux, steps=4, scheduler="unipc", hires_scale=1.5, hires_upscaler="lanczos"),
                        on_step=events.append, save=False)
    assert result.images.shape == (1, 96, 96, 3) and len(events) == 7  # 4 + 2 + the result
    assert "the hires pass ran with Euler" in result.note


def _counting_calls(transformer):
    calls = []
    return calls, transformer.register_forward_pre_hook(lambda _module, _inputs: calls.append(1))


def test_true_cfg_runs_the_negative_prompt_where_the_user_asks(engine, flux, tmp_path):
    from PIL import Image

    from ddpm_studio.engine.sampling.latent import pipeline_arguments

    loaded = engine.load(str(flux), "txt2img")
    asked = _job(flux, negative_prompt="blurry", true_cfg_scale=4.0, output_dir=str(tmp_path))
    args = pipeline_arguments(loaded, asked, "a cat", "(blurry:1.2)")
    assert args["true_cfg_scale"] == 4.0 and args["negative_prompt"] == "blurry" and args["guidance_scale"] == 3.5
    empty = pipeline_arguments(loaded, _job(flux, true_cfg_scale=2.0), "a cat", "")
    assert empty["negative_prompt"] == ""  # against the empty prompt: still true CFG
    calls, handle = _counting_calls(loaded.pipe.transformer)
    try:
        result = engine.run(asked)
        plain = engine.run(_job(flux, negative_prompt="blurry", preview_every=0), save=False)
    finally:
        handle.remove()
    assert len(calls) == 4 + 2  # true CFG: two passes a step; distilled guidance alone: one
    assert "negative prompt was not used" not in result.note and "negative prompt was not used" in plain.note
    assert "true CFG scale above 1 uses it" in plain.note
    assert not np.array_equal(result.images, plain.images) and np.isfinite(result.images).all()
    path = sorted(result.saved_paths)[0]
    assert read_job(path) == asked
    with Image.open(path) as image:
        text = image.text["parameters"]  # Forge's names: the true CFG pass's scale, then the distilled guidance, once
        assert "CFG scale: 4, Distilled CFG Scale: 3.5" in text and "True CFG" not in text


def test_a_true_cfg_scale_below_1_is_refused_and_sd_families_refuse_one_above():
    from ddpm_studio.engine.jobs.checks import JobError
    from ddpm_studio.engine.models.families import FAMILIES

    with pytest.raises(JobError, match="true CFG scale must be between 1"):
        Text2ImageJob(model="m", true_cfg_scale=0.5)
    assert Text2ImageJob(model="m").true_cfg_scale == 1.0 and Text2ImageJob(model="m").a1111_fields() == []
    assert [family.key for family in FAMILIES if family.true_cfg] == ["flux"]


def test_the_cli_takes_true_cfg(flux, tmp_path):
    from ddpm_studio.cli import main

    args = ["txt2img", "--model", str(flux), "--prompt", "a boat", "--negative", "snow", "--size", "64x64",
            "--seed", "3", "--device", "cpu", "--steps", "2", "--true-cfg", "3", "--out", str(tmp_path)]
    assert main(args) == 0
    job = read_job(next(tmp_path.glob("*.png")))
    assert job.true_cfg_scale == 3.0 and job.negative_prompt == "snow" and job.guidance_scale == 3.5


def test_a_folder_without_the_guidance_embedding_is_schnell_with_its_defaults(flux, tmp_path):
    from ddpm_studio.engine.models.defaults import recommended_settings

    schnell = inspect_model(str(save_tiny_flux(tmp_path / "tiny-schnell", guidance_embeds=False)))
    dev = inspect_model(str(flux))
    assert (schnell.flavour, dev.flavour) == ("schnell", "")
    assert schnell.family == dev.family == "flux" and schnell.modes == dev.modes
    # FLUX.1-schnell's model card: 4 steps, guidance 0; Flux.1-dev's: 28 steps at 3.5
    assert recommended_settings(schnell) == {"scheduler": "euler", "steps": 4, "guidance_scale": 0.0}
    assert recommended_settings(dev) == {"scheduler": "euler", "steps": 28, "guidance_scale": 3.5}
    assert BY_KEY["flux"].defaults["steps"] == 28  # the flavour's are laid over the family's, not written into them
    (schnell.path / "ddpm_studio.json").write_text('{"steps": 8}', encoding="utf-8")
    assert recommended_settings(inspect_model(str(schnell.path)))["steps"] == 8  # its folder's own still wins


def test_the_cli_samples_schnell_with_its_defaults(tmp_path):
    from PIL import Image

    from ddpm_studio.cli import main

    schnell = save_tiny_flux(tmp_path / "tiny-schnell", guidance_embeds=False)
    args = ["txt2img", "--model", str(schnell), "--prompt", "a boat", "--size", "64x64", "--seed", "3",
            "--device", "cpu", "--out", str(tmp_path / "out")]
    assert main(args) == 0
    with Image.open(next((tmp_path / "out").glob("*.png"))) as image:
        text = image.text["parameters"]
    assert "Steps: 4" in text and "CFG scale: 1, Distilled CFG Scale: 0.0" in text
