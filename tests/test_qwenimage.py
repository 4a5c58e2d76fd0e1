"""Qwen-Image from a diffusers folder on a tiny random pipeline: recognised as its family, text to image through the
engine's stages equal to the bare QwenImagePipeline's, with x_t and x̂0 previews unpacked from the transformer's 2×2
tokens and full decodes through its Wan-style VAE (latents normalised per channel, decoded as one frame), the job's
guidance as true CFG with a negative prompt, its flow schedulers with the folder's dynamic shift and terminal σ,
cancel inside a step, add-ons refused by name, variation seeds on packed latents, its PNG's metadata."""

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
from tests.tiny_qwenimage import (
    LATENTS_MEAN,
    LATENTS_STD,
    TEMPLATE_HEAD,
    TEXT_WIDTH,
    save_tiny_qwenimage,
)


@pytest.fixture(scope="module")
def qwen(tmp_path_factory):
    return save_tiny_qwenimage(tmp_path_factory.mktemp("qwenimage") / "tiny-qwen-image")


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu")


def _job(qwen, **fields):
    values = dict(model=str(qwen), prompt="a red fox at dusk", steps=2, seed=7, width=64, height=64,
                  preview_every=1, scheduler="euler", guidance_scale=4.0)
    return Text2ImageJob(**{**values, **fields})


def _bare(qwen, **call):
    from diffusers import QwenImagePipeline

    pipe = QwenImagePipeline.from_pretrained(qwen, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    return pipe, pipe(**{"prompt": "a red fox at dusk", "num_inference_steps": 2, "width": 64, "height": 64,
                         "output_type": "np", "generator": [torch.Generator().manual_seed(7)], **call}).images


def test_the_tiny_folder_generates_with_the_bare_diffusers_pipeline(qwen):
    pipe, images = _bare(qwen, negative_prompt=" ", true_cfg_scale=4.0)
    assert len(pipe.tokenizer(TEMPLATE_HEAD).input_ids) == pipe.prompt_template_encode_start_idx == 34  # as the real
    assert images.shape == (1, 64, 64, 3) and np.isfinite(images).all() and images.std() > 0
    assert pipe.vae_scale_factor == 8 and tuple(pipe.vae.config.latents_mean) == pytest.approx(LATENTS_MEAN)


def test_the_folder_is_a_qwen_image_model_with_its_modes(qwen):
    info = inspect_model(str(qwen))
    row = BY_KEY["qwenimage"]
    assert family_of_info(info) is row and info.family == "qwen-image" and info.arch in ("", "qwenimage")
    assert info.modes == row.variant(64).modes == ("txt2img", "img2img", "inpaint", "outpaint")
    assert info.panel == "Text to Image" and info.context_dim == TEXT_WIDTH and row.packed == 2 and row.negative_prompt
    assert row.guidance_argument == "true_cfg_scale"


def test_its_defaults_are_its_pipelines_and_model_cards():
    from ddpm_studio.engine.models.families import (
        family_of_folder,
        family_of_text_widths,
    )

    row = BY_KEY["qwenimage"]
    assert family_of_folder("QwenImagePipeline", 3584) is row and family_of_text_widths((3584,)) is row
    assert row.variant(64).channels == row.latent_channels * row.packed**2 and row.taesd_repo == ""
    assert row.defaults == {"scheduler": "euler", "steps": 50, "guidance_scale": 4.0} and row.side == 1328
    assert row.schedulers == ("euler", "unipc", "lcm") and not row.prompt_weights
    assert row.addons == {"hires", "lora", "attention"}


def test_text_to_image_is_the_bare_pipelines_with_true_cfg_and_previews_every_step(engine, qwen, tmp_path):
    events = []
    job = _job(qwen, negative_prompt="blurry", output_dir=str(tmp_path), full_decode_every=0)
    result = engine.run(job, on_step=events.append)
    _, bare = _bare(qwen, negative_prompt="blurry", true_cfg_scale=4.0)
    assert np.abs(result.images.astype(int) - np.round(bare * 255).astype(int)).max() <= 1
    *steps, last = events
    assert last.final and len(steps) == 2 and [e.index for e in steps] == [0, 1]
    for event in steps:
        assert event.x_t.shape == (1, 8, 8, 3) and event.x0.shape == (1, 8, 8, 3)  # unpacked, 16 channels → RGB
        assert np.isfinite(event.x0.astype(float)).all() and event.x0.std() > 0 and event.x_t.std() > 0
    assert all(e.noise_kind == "flow" for e in steps)
    # σ_t: 1 (all noise) at Euler's first step, then the folder's terminal σ (its shift_terminal)
    assert steps[0].noise_level == 1 and steps[1].noise_level == pytest.approx(0.02, abs=1e-6)
    assert "plain text" in result.note and "negative prompt" not in result.note
    assert read_job(sorted(result.saved_paths)[0]) == job


def test_unipc_previews_falling_noise_levels_between_0_and_1(engine, qwen):
    events = []
    result = engine.run(_job(qwen, scheduler="unipc"), on_step=events.append, save=False)
    *steps, _ = events
    assert np.isfinite(result.images).all() and all(e.x0 is not None for e in steps)
    assert all(0 < e.noise_level < 1 for e in steps) and steps[0].noise_level > steps[1].noise_level  # σ_t falls


def test_the_guidance_goes_to_true_cfg_with_a_negative_prompt(engine, qwen):
    from ddpm_studio.engine.sampling.latent import pipeline_arguments

    loaded = engine.load(str(qwen), "txt2img")
    args = pipeline_arguments(loaded, _job(qwen, guidance_scale=4.0), "a cat", "")
    assert args["true_cfg_scale"] == 4.0 and "guidance_scale" not in args and args["negative_prompt"] == " "
    args = pipeline_arguments(loaded, _job(qwen, guidance_scale=5.0), "a cat", "blurry")
    assert args["true_cfg_scale"] == 5.0 and args["negative_prompt"] == "blurry"
    args = pipeline_arguments(loaded, _job(qwen, guidance_scale=1.0, clip_skip=2), "a cat", "blurry")
    assert args["true_cfg_scale"] == 1.0 and args["negative_prompt"] is None and "clip_skip" not in args


def test_guidance_1_runs_one_pass_a_step_and_says_the_negative_was_not_used(engine, qwen):
    transformer = engine.load(str(qwen), "txt2img").pipe.transformer
    calls = []
    handle = transformer.register_forward_pre_hook(lambda *_: calls.append(1))
    try:
        guided = engine.run(_job(qwen, preview_every=0, negative_prompt="blurry"), save=False)
        guided_calls = len(calls)
        plain = engine.run(_job(qwen, preview_every=0, negative_prompt="blurry", guidance_scale=1.0, clip_skip=2),
                           save=False)
    finally:
        handle.remove()
    assert guided_calls == 4 and len(calls) - guided_calls == 2  # two passes a step with CFG, one without
    assert "negative prompt was not used" in plain.note and "clip skip was not used" in plain.note
    assert "negative prompt" not in guided.note and not np.array_equal(guided.images, plain.images)


def test_dpm_2m_which_takes_no_sigmas_is_refused_naming_those_that_work(engine, qwen):
    with pytest.raises(ModelError, match=r"\(Qwen-Image\): the DPM\+\+ 2M scheduler.*euler.*unipc"):
        engine.run(_job(qwen, scheduler="dpm++2m"), save=False)


def test_the_unipc_solver_keeps_the_folders_terminal_sigma():
    from ddpm_studio.engine.sampling.schedulers import build_scheduler
    from tests.tiny_qwenimage import SCHEDULER_CONFIG

    config = {"_class_name": "FlowMatchEulerDiscreteScheduler", **SCHEDULER_CONFIG}
    euler, unipc = build_scheduler("euler", config), build_scheduler("unipc", config)
    assert unipc.config.shift_terminal == 0.02 and unipc.config.use_dynamic_shifting
    for scheduler in (euler, unipc):
        scheduler.set_timesteps(sigmas=np.linspace(1.0, 1 / 4, 4), mu=0.7)  # as QwenImagePipeline calls it
    assert float(unipc.sigmas[-2]) == pytest.approx(0.02, abs=1e-6)
    assert float(euler.sigmas[-2]) == pytest.approx(0.02, abs=1e-6)
    assert "shift_terminal" not in build_scheduler("dpm++2m", config).config  # a solver that has no such setting


def test_addons_it_does_not_take_are_refused_by_name(engine, qwen):
    with pytest.raises(ModelError, match="No LoRA named 'style'"):  # LoRAs it takes (test_flow_loras.py)
        engine.run(_job(qwen, prompt="a cat <lora:style:0.8>"), save=False)
    with pytest.raises(ModelError, match="Qwen-Image model, which does not take ControlNet"):
        engine.run(_job(qwen, controlnets=(("some-controlnet", 1.0, 0.0, 1.0),), control_images=("pose.png",)),
                   save=False)


def test_cancel_inside_a_step_stops_the_run_with_no_image(engine, qwen, tmp_path):
    transformer = engine.load(str(qwen), "txt2img").pipe.transformer
    # no CFG: one call a step; the second call reaches its transformer block and Cancel is pressed there
    result, steps, calls = run_stopped_in_second_call(
        engine, _job(qwen, steps=3, guidance_scale=1.0, output_dir=str(tmp_path)), transformer,
        transformer.transformer_blocks[0])
    assert result.cancelled and result.images is None and not list(tmp_path.glob("*.png"))
    assert len(steps) == 1 and result.steps_run == 1 and calls == {"started": 2, "ended": 1}


def test_variation_draws_packed_latents(engine, qwen):
    plain = engine.run(_job(qwen, preview_every=0), save=False).images
    same = engine.run(_job(qwen, preview_every=0, variation_seed=9, variation_strength=0.0001), save=False).images
    varied = engine.run(_job(qwen, preview_every=0, variation_seed=9, variation_strength=0.5), save=False).images
    assert np.abs(plain.astype(int) - same.astype(int)).max() <= 2 and not np.array_equal(plain, varied)


def test_full_decodes_of_x0_unnormalise_and_decode_one_frame(engine, qwen):
    events = []
    result = engine.run(_job(qwen, preview_every=0, full_decode_every=1), on_step=events.append, save=False)
    assert all(e.x0 is not None and e.x0.shape == (1, 64, 64, 3) for e in events)
    # Euler's last step lands on x̂0 (σ next is 0): its full decode is the picture itself
    assert np.abs(events[1].x0.astype(int) - result.images.astype(int)).max() <= 1


def test_model_and_vae_latents_follow_the_vaes_normalisation(qwen):
    from types import SimpleNamespace

    from diffusers import AutoencoderKLQwenImage

    from ddpm_studio.engine.sampling.latent_preview import (
        model_latents,
        takes_frames,
        vae_latents,
    )

    vae = AutoencoderKLQwenImage.from_pretrained(qwen / "vae")
    x = torch.randn(2, 16, 4, 6)
    z = vae_latents(vae, x)
    assert torch.allclose(z[:, 3], x[:, 3] * LATENTS_STD[3] + LATENTS_MEAN[3])
    assert torch.allclose(model_latents(vae, z), x, atol=1e-5)
    assert takes_frames(vae) and vae_latents(vae, x.unsqueeze(2)).shape == (2, 16, 1, 4, 6)
    sd3 = SimpleNamespace(config=SimpleNamespace(scaling_factor=1.5305, shift_factor=0.0609))
    assert torch.allclose(vae_latents(sd3, x), x / 1.5305 + 0.0609) and not takes_frames(sd3)


def test_qwen_image_latents_preview_with_comfyuis_wan_map_or_a_fit(qwen):
    from types import SimpleNamespace

    from diffusers import AutoencoderKLQwenImage

    from ddpm_studio.engine.sampling.latent_preview import LatentToRGB, _normalised_as

    real = SimpleNamespace(z_dim=16, base_dim=96, dim_mult=[1, 2, 4, 4], latents_mean=list(LATENTS_MEAN),
                           latents_std=list(LATENTS_STD))
    published = LatentToRGB.for_vae(SimpleNamespace(config=real))
    assert published.source == "Wan 2.1 factors (published by ComfyUI)"
    assert published(torch.zeros(1, 16, 1, 2, 2)).shape == (1, 2, 2, 3)  # a frame VAE's 5-D latents: its one frame
    other = SimpleNamespace(**{**vars(real), "latents_std": [1.0] * 16})  # another VAE's statistics: not its map
    assert not _normalised_as(other, BY_KEY["qwenimage"].latent_rgb)
    fitted = LatentToRGB.for_vae(AutoencoderKLQwenImage.from_pretrained(qwen / "vae"))
    assert fitted.source == "fitted to this VAE" and fitted.weights.shape == (16, 3)


@pytest.mark.parametrize("upscaler", ["latent", "lanczos"])
def test_the_hires_fix_runs_its_second_pass_through_the_img2img_pipeline(engine, qwen, upscaler, tmp_path):
    """The first pass at 64², the second at 128² through the family's img2img pipeline, previews of both passes at
    their own size, the progress over both."""
    job = _job(qwen, steps=4, hires_scale=2.0, hires_upscaler=upscaler, hires_strength=0.5)
    run_two_pass_hires(engine, job, tmp_path)