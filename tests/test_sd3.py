"""Stable Diffusion 3.5 from a diffusers folder (T5 left out) on a tiny random pipeline: recognised as its family,
text to image through the engine's stages with x_t and x̂0 previews from the flow step, its flow schedulers, cancel
inside a step, the add-ons it does not take refused by name, its prompts as plain text, its PNG's metadata."""

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
from tests.tiny_sd3 import save_tiny_sd3


@pytest.fixture(scope="module")
def sd3(tmp_path_factory):
    return save_tiny_sd3(tmp_path_factory.mktemp("sd3") / "tiny-sd3")


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu")


def _job(sd3, **fields):
    values = dict(model=str(sd3), prompt="a lighthouse at dusk", negative_prompt="blurry", steps=2, seed=7,
                  width=64, height=64, preview_every=1)
    return Text2ImageJob(**{**values, **fields})


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
    assert info.modes == row.variant(16).modes == ("txt2img", "img2img", "inpaint", "outpaint")
    assert info.panel == "Text to Image"
    assert info.context_dim == 96  # the transformer's joint attention width, read from transformer/config.json


def test_text_to_image_previews_every_step_and_says_how_the_prompt_was_read(engine, sd3, tmp_path):
    events = []
    job = _job(sd3, prompt="a (lighthouse:1.4) at [dusk]", output_dir=str(tmp_path))
    result = engine.run(job, on_step=events.append)
    assert result.images.shape == (1, 64, 64, 3) and np.isfinite(result.images).all()
    *steps, last = events
    assert last.final and len(steps) == 2 and [e.index for e in steps] == [0, 1]
    for event in steps:
        assert event.x_t.shape == (1, 8, 8, 3) and event.x0.shape == (1, 8, 8, 3)  # 16 channels → RGB, 1/8 size
        assert np.isfinite(event.x0.astype(float)).all() and event.x0.std() > 0
        assert 0 < event.noise_level < 1 and event.noise_kind == "flow"  # σ_t: x_t = (1 − σ)·x0 + σ·ε
    assert steps[0].noise_level > steps[1].noise_level  # σ falls step by step
    assert "T5 left out" in result.note and "plain text" in result.note
    assert read_job(sorted(result.saved_paths)[0]) == job


@pytest.mark.parametrize("scheduler", ["euler", "dpm++2m", "unipc"])
def test_its_flow_schedulers_run(engine, sd3, scheduler):
    events = []
    result = engine.run(_job(sd3, scheduler=scheduler), on_step=events.append, save=False)
    assert np.isfinite(result.images).all() and len(events) == 3
    assert all(e.x0 is not None and 0 < e.noise_level <= 1 for e in events[:-1])  # σ = 1 at Euler's first step


def test_a_scheduler_without_a_flow_form_is_refused_naming_those_that_work(engine, sd3):
    with pytest.raises(ModelError, match=r"flow-matching model.*DDIM.*euler.*dpm\+\+2m.*unipc"):
        engine.run(_job(sd3, scheduler="ddim"), save=False)


def test_addons_it_does_not_take_are_refused_by_name(engine, sd3):
    with pytest.raises(ModelError, match="No LoRA named 'style'"):  # LoRAs it takes (test_flow_loras.py)
        engine.run(_job(sd3, prompt="a cat <lora:style:0.8>"), save=False)


def test_cancel_inside_a_step_stops_the_run_with_no_image(engine, sd3, tmp_path):
    transformer = engine.load(str(sd3), "txt2img").pipe.transformer
    # the second call reaches its second block: Cancel is pressed there
    result, steps, _ = run_stopped_in_second_call(engine, _job(sd3, steps=3, output_dir=str(tmp_path)),
                                                  transformer, transformer.transformer_blocks[1])
    assert result.cancelled and result.images is None and not list(tmp_path.glob("*.png"))
    assert len(steps) == 1 and result.steps_run == 1


def test_variation_draws_the_transformers_latents(engine, sd3):
    plain = engine.run(_job(sd3, preview_every=0), save=False).images
    same = engine.run(_job(sd3, preview_every=0, variation_seed=9, variation_strength=0.0001), save=False).images
    varied = engine.run(_job(sd3, preview_every=0, variation_seed=9, variation_strength=0.5), save=False).images
    assert np.abs(plain.astype(int) - same.astype(int)).max() <= 2 and not np.array_equal(plain, varied)


def test_the_flow_step_gives_x0_and_the_noise_level():
    from diffusers import FlowMatchEulerDiscreteScheduler

    from ddpm_studio.engine.sampling.latent_preview import StepRecorder

    scheduler = FlowMatchEulerDiscreteScheduler(shift=3.0)
    scheduler.set_timesteps(4)
    recorder = StepRecorder(scheduler)
    x0, noise = torch.randn(1, 16, 4, 4), torch.randn(1, 16, 4, 4)
    sigma = float(scheduler.sigmas[0])
    x_t = (1 - sigma) * x0 + sigma * noise
    scheduler.step(noise - x0, scheduler.timesteps[0], x_t)  # the exact velocity: x̂0 is x0
    assert torch.allclose(recorder.x0, x0, atol=1e-5) and recorder.x_t is x_t
    assert recorder.noise_kind == "flow" and recorder.noise_level == pytest.approx(sigma) == 1.0  # all noise
    recorder.close()


def test_sd3_latents_preview_with_the_published_map_or_a_fit_that_knows_the_shift(sd3):
    from types import SimpleNamespace

    from ddpm_studio.engine.sampling.latent_preview import LatentToRGB

    real = SimpleNamespace(latent_channels=16, scaling_factor=1.5305, shift_factor=0.0609,
                           block_out_channels=(128, 256, 512, 512))
    assert LatentToRGB.for_vae(SimpleNamespace(config=real)).source == "SD 3 factors (published by ComfyUI)"
    assert BY_KEY["sd3"].latent_rgb.shift_factor == 0.0609
    from diffusers import AutoencoderKL

    vae = AutoencoderKL.from_pretrained(sd3 / "vae")
    fitted = LatentToRGB.for_vae(vae)
    assert fitted.source == "fitted to this VAE" and fitted.weights.shape == (16, 3)



def test_its_prompts_go_as_plain_words_and_its_pipeline_gets_no_vae_or_embeddings(engine, sd3):
    from ddpm_studio.engine.prompts.syntax import plain_text
    from ddpm_studio.engine.sampling.latent import pipeline_arguments, prepare_addons

    assert plain_text("a (red:1.3) fox, [snow] BREAK ((night))") == "a red fox, snow night"
    assert plain_text(r"\(kept\) words") == "(kept) words" and plain_text("") == ""
    loaded = engine.load(str(sd3), "txt2img")
    job = _job(sd3, prompt="a (lighthouse:1.4)", negative_prompt="[blurry]")
    used = prepare_addons(loaded, job, None, False)
    assert loaded.vae_slot is None and used.prompt == job.prompt and not used.loras and not used.embeddings
    args = pipeline_arguments(loaded, job, used.prompt, used.negative_prompt)
    assert (args["prompt"], args["negative_prompt"]) == ("a lighthouse", "blurry") and "prompt_embeds" not in args


def test_full_decodes_of_x0_add_the_vaes_shift_back(engine, sd3):
    from ddpm_studio.engine.preview import preview
    from ddpm_studio.engine.sampling.latent import decode_preview

    events = []
    engine.run(_job(sd3, preview_every=0, full_decode_every=1), on_step=events.append, save=False)
    assert all(e.x0 is not None and e.x0.shape == (1, 64, 64, 3) for e in events)
    vae = engine.load(str(sd3), "txt2img").pipe.vae
    with torch.inference_mode():  # model-space 0 is the shift itself once decoded
        expected = preview(vae.decode(torch.full((1, 16, 8, 8), vae.config.shift_factor)).sample)
        assert np.array_equal(decode_preview(vae, torch.zeros(1, 16, 8, 8)), expected)


def test_the_cli_samples_with_the_familys_defaults_where_no_flag_says(sd3, tmp_path):
    from PIL import Image

    from ddpm_studio.cli import main

    args = ["txt2img", "--model", str(sd3), "--prompt", "a boat", "--size", "64x64", "--seed", "3", "--device", "cpu"]
    assert main([*args, "--out", str(tmp_path / "own")]) == 0
    with Image.open(next((tmp_path / "own").glob("*.png"))) as image:
        text = image.text["parameters"]
    assert "Steps: 28" in text and "Sampler: Euler" in text and "CFG scale: 3.5" in text
    assert main([*args, "--steps", "2", "--scheduler", "unipc", "--guidance", "6", "--out", str(tmp_path / "set")]) == 0
    with Image.open(next((tmp_path / "set").glob("*.png"))) as image:
        text = image.text["parameters"]
    assert "Steps: 2" in text and "Sampler: UniPC" in text and "CFG scale: 6" in text


@pytest.mark.parametrize("upscaler", ["latent", "lanczos"])
def test_the_hires_fix_runs_its_second_pass_through_the_img2img_pipeline(engine, sd3, upscaler, tmp_path):
    """SD 3.5: the first pass at 64², the second at 128² through the family's img2img pipeline, previews of both
    passes at their own size, the progress over both, the job back from the PNG."""
    job = _job(sd3, steps=4, scheduler="euler", hires_scale=2.0, hires_upscaler=upscaler, hires_strength=0.5)
    run_two_pass_hires(engine, job, tmp_path)


def test_a_hires_pass_after_a_flow_solver_runs_with_euler_and_says_so(engine, sd3):
    events = []
    result = engine.run(_job(sd3, steps=4, scheduler="unipc", hires_scale=1.5, hires_upscaler="lanczos"),
                        on_step=events.append, save=False)
    assert result.images.shape == (1, 96, 96, 3) and len(events) == 7  # 4 + 2 + the result
    assert "the hires pass ran with Euler" in result.note
