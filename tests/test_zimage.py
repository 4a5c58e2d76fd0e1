"""Z-Image from a diffusers folder on a tiny random pipeline: recognised as its family, text to image through the
engine's stages with x_t and x̂0 previews of the plain 16-channel latents its scheduler holds (the transformer
patchifies inside), its two flow schedulers with the pipeline's own sigmas, true CFG with the negative prompt only
above guidance 0 (Turbo's default: none, and the run says so), cancel inside a step, add-ons refused by name, x_T in
float32 as its pipeline keeps it, variation seeds, its defaults and its PNG's metadata."""

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
from tests.tiny_zimage import QWEN_WIDTH, save_tiny_zimage


@pytest.fixture(scope="module")
def zimage(tmp_path_factory):
    return save_tiny_zimage(tmp_path_factory.mktemp("zimage") / "tiny-zimage")


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu")


def _job(zimage, **fields):
    values = dict(model=str(zimage), prompt="a lighthouse at dusk", steps=2, seed=7, width=64, height=64,
                  preview_every=1, scheduler="euler", guidance_scale=0.0)
    return Text2ImageJob(**{**values, **fields})


def _batches_per_call(transformer):
    """A forward pre-hook recording how many latents each transformer call takes (ZImagePipeline passes a list:
    the images, then as many again for the unconditional pass of CFG); returns (the list, the hook's handle)."""
    sizes = []
    handle = transformer.register_forward_pre_hook(lambda _module, args: sizes.append(len(args[0])))
    return sizes, handle


def test_the_tiny_folder_generates_with_the_bare_diffusers_pipeline(zimage):
    from diffusers import ZImagePipeline

    pipe = ZImagePipeline.from_pretrained(zimage, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    turn = pipe.tokenizer.apply_chat_template([{"role": "user", "content": "a cat"}], tokenize=False,
                                              add_generation_prompt=True, enable_thinking=True)
    ids = pipe.tokenizer(turn).input_ids
    # <|im_start|> (258) user, the prompt, <|im_end|> (256), then the assistant's turn begun: each byte a token
    assert ids == [258, *b"user\na cat", 256, *b"\n", 258, *b"assistant\n"]
    held = []

    def keep(_pipe, _index, _timestep, kwargs):
        held.append(tuple(kwargs["latents"].shape))
        return kwargs

    images = pipe("a cat", num_inference_steps=2, width=64, height=64, guidance_scale=0.0, output_type="np",
                  generator=torch.Generator().manual_seed(0), callback_on_step_end=keep).images
    assert images.shape == (1, 64, 64, 3) and np.isfinite(images).all() and images.std() > 0
    assert held == [(1, 16, 8, 8)] * 2  # the VAE's latents, not packed: the transformer patchifies inside


def test_the_folder_is_a_z_image_model_with_its_modes(zimage):
    info = inspect_model(str(zimage))
    row = BY_KEY["zimage"]
    assert family_of_info(info) is row and info.family == "z-image" and info.arch in ("", "zimage")
    assert info.modes == row.variant(16).modes == ("txt2img", "img2img", "inpaint", "outpaint")
    assert info.panel == "Text to Image"
    assert info.context_dim == QWEN_WIDTH and row.packed == 1 and row.negative_prompt and row.cfg_above == 0.0


def test_text_to_image_previews_every_step_and_says_what_it_did_not_use(engine, zimage, tmp_path):
    events = []
    job = _job(zimage, prompt="a (lighthouse:1.4) at [dusk]", negative_prompt="blurry", output_dir=str(tmp_path),
               scheduler="unipc")  # its σ all below 1 (Euler's first is 1: noise level 0)
    result = engine.run(job, on_step=events.append)
    assert result.images.shape == (1, 64, 64, 3) and np.isfinite(result.images).all()
    *steps, last = events
    assert last.final and len(steps) == 2 and [e.index for e in steps] == [0, 1]
    for event in steps:
        assert event.x_t.shape == (1, 8, 8, 3) and event.x0.shape == (1, 8, 8, 3)  # 16 channels → RGB
        for preview in (event.x_t, event.x0):
            assert np.isfinite(preview.astype(float)).all() and preview.std() > 0
        assert 0 < event.noise_level < 1 and event.noise_kind == "flow"
    assert steps[0].noise_level > steps[1].noise_level  # σ_t falls
    assert not np.array_equal(steps[0].x0, steps[1].x0)
    assert "plain text" in result.note and "at guidance 0 Z-Image runs no unconditional pass" in result.note
    assert read_job(sorted(result.saved_paths)[0]) == job
    quiet = engine.run(_job(zimage, preview_every=0), save=False)
    assert "negative prompt" not in quiet.note  # none given: nothing to say


def test_the_x0_preview_is_the_flow_prediction_of_the_schedulers_step(engine, zimage):
    """x̂0 = x_t − σ·v̂ with the velocity the scheduler steps with (ZImagePipeline negates its transformer's output
    before the step): the last step of flow Euler lands on σ = 0, so its x̂0 is the final latents exactly."""
    from ddpm_studio.engine.sampling.latent_preview import StepRecorder
    from ddpm_studio.engine.sampling.schedulers import build_scheduler

    loaded = engine.load(str(zimage), "txt2img")
    pipe = loaded.pipe
    pipe.scheduler = build_scheduler("euler", loaded.scheduler_config)
    recorder = StepRecorder(pipe.scheduler)
    last = {}

    def keep(_pipe, _index, _timestep, kwargs):
        last["x0"], last["latents"] = recorder.x0.clone(), kwargs["latents"].clone()
        return kwargs

    try:
        pipe("a cat", num_inference_steps=2, width=64, height=64, guidance_scale=0.0, output_type="latent",
             generator=torch.Generator().manual_seed(0), callback_on_step_end=keep)
    finally:
        recorder.close()
    assert last["x0"].dtype == torch.float32 and torch.allclose(last["x0"], last["latents"], atol=1e-5)


def test_the_negative_prompt_is_true_cfg_above_guidance_0(engine, zimage):
    from ddpm_studio.engine.sampling.latent import pipeline_arguments

    loaded = engine.load(str(zimage), "txt2img")
    args = pipeline_arguments(loaded, _job(zimage, negative_prompt="blurry", guidance_scale=2.0), "a cat", "blurry")
    assert args["negative_prompt"] == "blurry" and args["guidance_scale"] == 2.0
    sizes, handle = _batches_per_call(loaded.pipe.transformer)
    try:
        plain = engine.run(_job(zimage, preview_every=0, guidance_scale=0.0, negative_prompt="blurry"), save=False)
        assert sizes == [1, 1]  # Turbo's guidance 0: one pass a step
        sizes.clear()
        guided = engine.run(_job(zimage, preview_every=0, guidance_scale=2.0, negative_prompt="blurry"), save=False)
        assert sizes == [2, 2]  # the prompt's and the negative prompt's
        other = engine.run(_job(zimage, preview_every=0, guidance_scale=2.0, negative_prompt="a red fox"), save=False)
    finally:
        handle.remove()
    assert "negative prompt" in plain.note and "negative prompt" not in guided.note
    assert not np.array_equal(guided.images, other.images)  # the negative prompt steers the picture


def test_a_clip_skip_is_not_passed_to_its_pipeline_and_the_run_says_so(engine, zimage):
    from ddpm_studio.engine.sampling.latent import pipeline_arguments

    job = _job(zimage, preview_every=0, clip_skip=2)
    assert "clip_skip" not in pipeline_arguments(engine.load(str(zimage), "txt2img"), job, "a cat", "")
    result = engine.run(job, save=False)  # ZImagePipeline's call takes none: it would be a TypeError
    assert np.isfinite(result.images).all() and "clip skip was not used" in result.note


@pytest.mark.parametrize("scheduler", ["euler", "unipc", "lcm"])  # the flow LCM takes its sigmas too
def test_its_flow_schedulers_run_on_the_pipelines_sigmas(engine, zimage, scheduler):
    events = []
    result = engine.run(_job(zimage, scheduler=scheduler), on_step=events.append, save=False)
    assert np.isfinite(result.images).all() and len(events) == 3
    assert all(e.x0 is not None and 0 < e.noise_level <= 1 for e in events[:-1])


@pytest.mark.parametrize("scheduler, label", [("dpm++2m", r"DPM\+\+ 2M"), ("ddim", "DDIM")])
def test_a_scheduler_that_cannot_take_its_sigmas_is_refused_naming_those_that_work(engine, zimage, scheduler, label):
    with pytest.raises(ModelError, match=rf"flow-matching model \(Z-Image\): the {label} scheduler does not take its "
                                         r"schedule; choose one of euler \(Euler\), unipc \(UniPC\), lcm \(LCM\)\."):
        engine.run(_job(zimage, scheduler=scheduler), save=False)


def test_addons_it_does_not_take_are_refused_by_name(engine, zimage):
    with pytest.raises(ModelError, match="No LoRA named 'style'"):  # LoRAs it takes (test_flow_loras.py)
        engine.run(_job(zimage, prompt="a cat <lora:style:0.8>"), save=False)
    with pytest.raises(ModelError, match="does not take attention maps"):
        engine.run(_job(zimage, attention_maps=True), save=False)


def test_a_side_its_pipeline_refuses_is_a_clear_error(engine, zimage):
    with pytest.raises(ModelError, match=r"tiny-zimage is a Z-Image model: .*multiples of 16 px, and 72×64 is not; "
                                         r"choose 64×64"):
        engine.run(_job(zimage, width=72), save=False)


def test_cancel_inside_a_step_stops_the_run_with_no_image(engine, zimage, tmp_path):
    transformer = engine.load(str(zimage), "txt2img").pipe.transformer
    # the second call reaches its first main layer: Cancel is pressed there
    result, steps, calls = run_stopped_in_second_call(engine, _job(zimage, steps=3, output_dir=str(tmp_path)),
                                                      transformer, transformer.layers[0])
    assert result.cancelled and result.images is None and not list(tmp_path.glob("*.png"))
    assert len(steps) == 1 and result.steps_run == 1 and calls == {"started": 2, "ended": 1}


def test_x_t_is_drawn_in_float32_as_its_pipeline_keeps_it(engine, zimage):
    """ZImagePipeline draws x_T in float32 whatever the transformer's dtype and asserts its latents stay so: a varied
    x_T is drawn so too, also with a transformer in bf16 (as on a GPU)."""
    from ddpm_studio.engine.sampling.stages import LatentRun, prepare

    loaded = engine.load(str(zimage), "txt2img")
    job = _job(zimage, variation_seed=9, variation_strength=0.5, batch_size=2)
    run = LatentRun(loaded=loaded, job=job, device="cpu", on_step=None, should_stop=lambda: False)
    loaded.pipe.transformer.to(torch.bfloat16)
    try:
        prepare(run)
    finally:
        loaded.pipe.transformer.to(torch.float32)
    latents = run.args["latents"]
    assert latents.dtype == torch.float32 and latents.shape == (2, 16, 8, 8) and len(run.generators) == 2


def test_variation_seeds_vary_its_latents(engine, zimage):
    plain = engine.run(_job(zimage, preview_every=0), save=False).images
    same = engine.run(_job(zimage, preview_every=0, variation_seed=9, variation_strength=0.0001), save=False).images
    varied = engine.run(_job(zimage, preview_every=0, variation_seed=9, variation_strength=0.5), save=False).images
    assert np.abs(plain.astype(int) - same.astype(int)).max() <= 2 and not np.array_equal(plain, varied)


def test_full_decodes_of_x0_add_the_shift_back(engine, zimage):
    events = []
    engine.run(_job(zimage, preview_every=0, full_decode_every=1), on_step=events.append, save=False)
    assert all(e.x0 is not None and e.x0.shape == (1, 64, 64, 3) for e in events)


def test_its_defaults_are_turbos(zimage):
    from ddpm_studio.engine.models.defaults import recommended_settings

    assert recommended_settings(inspect_model(str(zimage))) == {"scheduler": "euler", "steps": 9,
                                                                "guidance_scale": 0.0}


def test_its_latents_preview_with_flux_published_map(zimage):
    from types import SimpleNamespace

    from ddpm_studio.engine.sampling.latent_preview import LatentToRGB

    real = SimpleNamespace(latent_channels=16, scaling_factor=0.3611, shift_factor=0.1159,
                           block_out_channels=(128, 256, 512, 512))  # Z-Image-Turbo's VAE: Flux.1's
    assert LatentToRGB.for_vae(SimpleNamespace(config=real)).source == "Flux factors (published by ComfyUI)"
    assert BY_KEY["zimage"].latent_rgb is BY_KEY["flux"].latent_rgb


@pytest.mark.parametrize("upscaler", ["latent", "lanczos"])
def test_the_hires_fix_runs_its_second_pass_through_the_img2img_pipeline(engine, zimage, upscaler, tmp_path):
    """The first pass at 64², the second at 128² through the family's img2img pipeline, previews of both passes at
    their own size, the progress over both."""
    job = _job(zimage, steps=4, hires_scale=2.0, hires_upscaler=upscaler, hires_strength=0.5)
    run_two_pass_hires(engine, job, tmp_path)