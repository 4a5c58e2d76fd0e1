"""Flux.2 Klein from a diffusers folder on a tiny random pipeline (step-distilled like Klein 4B and 9B, and like
their base models): recognised as its family with the defaults its folder selects, text to image through the
engine's stages with x_t and x̂0 previews unpacked from its tokens (32 channels patchified 2×2, normalised by the
VAE's batch norm), full decodes that undo that normalisation as its pipeline does, its flow schedulers, cancel inside
a step, add-ons refused by name, the negative prompt as a base model's CFG pass reads it (its embeddings) and left out
in a step-distilled one, said so,
variation seeds drawn as its pipeline draws x_T, its PNG's metadata."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ddpm_studio.engine.jobs.types import Text2ImageJob
from ddpm_studio.engine.models.catalogue import ModelError, inspect_model
from ddpm_studio.engine.models.defaults import recommended_settings
from ddpm_studio.engine.models.families import BY_KEY, family_of_info
from ddpm_studio.engine.output.metadata import read_job
from ddpm_studio.engine.runner import Engine
from tests.stopped_runs import run_stopped_in_second_call
from tests.tiny_klein import CONTEXT_WIDTH, save_tiny_klein


@pytest.fixture(scope="module")
def klein(tmp_path_factory):
    return save_tiny_klein(tmp_path_factory.mktemp("klein") / "tiny-klein")


@pytest.fixture(scope="module")
def klein_base(tmp_path_factory):
    return save_tiny_klein(tmp_path_factory.mktemp("klein-base") / "tiny-klein-base", is_distilled=False)


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu")


def _job(folder, **fields):
    values = dict(model=str(folder), prompt="a lighthouse at dusk", steps=2, seed=7, width=64, height=64,
                  preview_every=1, scheduler="euler", guidance_scale=1.0)
    return Text2ImageJob(**{**values, **fields})


@pytest.mark.parametrize("is_distilled", [True, False])
def test_the_tiny_folder_generates_with_the_bare_diffusers_pipeline(tmp_path, is_distilled):
    from diffusers import Flux2KleinPipeline

    folder = save_tiny_klein(tmp_path / "tiny", is_distilled)
    pipe = Flux2KleinPipeline.from_pretrained(folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    assert pipe.config.is_distilled is is_distilled and len(pipe.tokenizer) > 256
    text = pipe.tokenizer.apply_chat_template([{"role": "user", "content": "a cat"}], tokenize=False,
                                              add_generation_prompt=True, enable_thinking=False)
    assert text.startswith("<|im_start|>user\na cat<|im_end|>") and text.endswith("</think>\n\n")
    images = pipe(prompt="a cat", num_inference_steps=2, width=64, height=64, guidance_scale=4.0, output_type="np",
                  generator=torch.Generator().manual_seed(0)).images
    assert images.shape == (1, 64, 64, 3) and np.isfinite(images).all() and images.std() > 0


def test_the_folder_is_a_klein_model_with_its_modes(klein):
    info = inspect_model(str(klein))
    row = BY_KEY["klein"]
    assert family_of_info(info) is row and info.family == "flux2-klein" and info.arch in ("", "klein")
    assert info.modes == row.variant(128).modes == ("txt2img", "inpaint", "outpaint", "instruct")
    assert info.panel == "Text to Image"
    assert info.context_dim == CONTEXT_WIDTH and row.packed == 2 and row.negative_embeds
    assert row.variant(128).channels == row.latent_channels * row.packed**2


def test_a_distilled_folder_brings_few_steps_and_a_base_one_cfg(klein, klein_base):
    assert recommended_settings(inspect_model(str(klein))) == {"scheduler": "euler", "steps": 4,
                                                                "guidance_scale": 1.0}
    base = inspect_model(str(klein_base))
    assert recommended_settings(base) == {"scheduler": "euler", "steps": 50, "guidance_scale": 4.0}
    own = klein_base / "ddpm_studio.json"
    own.write_text(json.dumps({"steps": 30}), encoding="utf-8")
    try:  # the folder's own file still wins
        assert recommended_settings(base)["steps"] == 30
    finally:
        own.unlink()


def test_its_tokens_unpack_to_latents_its_vae_decodes_as_its_pipeline_does(klein):
    """The pipeline's own code turns VAE latents into tokens (patchify, normalise by the batch norm, pack); the
    previews unpack them (latent.unpack_latents) and full decodes undo the normalisation (vae_latents)."""
    from diffusers import Flux2KleinPipeline

    from ddpm_studio.engine.sampling.latent import unpack_latents
    from ddpm_studio.engine.sampling.latent_preview import model_latents, vae_latents

    pipe = Flux2KleinPipeline.from_pretrained(klein, local_files_only=True)
    z = torch.randn(2, 32, 8, 12)
    patches = pipe._patchify_latents(z)
    mean = pipe.vae.bn.running_mean.view(1, -1, 1, 1)
    std = torch.sqrt(pipe.vae.bn.running_var.view(1, -1, 1, 1) + pipe.vae.config.batch_norm_eps)
    tokens = pipe._pack_latents((patches - mean) / std)
    latents = unpack_latents(tokens, 2, 64, 96, pipe.vae_scale_factor)  # model space: what the previews map
    assert latents.shape == (2, 32, 8, 12) and not torch.allclose(latents, z, atol=0.1)
    assert torch.allclose(vae_latents(pipe.vae, latents), z, atol=1e-5)
    assert torch.allclose(model_latents(pipe.vae, z), latents, atol=1e-5)


def test_text_to_image_previews_every_step_and_says_how_the_prompts_were_read(engine, klein, tmp_path):
    events = []
    job = _job(klein, prompt="a (lighthouse:1.4) at [dusk]", negative_prompt="blurry", output_dir=str(tmp_path),
               scheduler="dpm++2m")  # its σ all below 1 (Euler's first is 1)
    result = engine.run(job, on_step=events.append)
    assert result.images.shape == (1, 64, 64, 3) and np.isfinite(result.images).all() and result.images.std() > 0
    *steps, last = events
    assert last.final and len(steps) == 2 and [e.index for e in steps] == [0, 1]
    for event in steps:
        assert event.x_t.shape == (1, 8, 8, 3) and event.x0.shape == (1, 8, 8, 3)  # unpacked, 32 channels → RGB
        assert np.isfinite(event.x0.astype(float)).all() and event.x0.std() > 0 and event.x_t.std() > 0
        assert 0 < event.noise_level < 1 and event.noise_kind == "flow"
    assert steps[0].noise_level > steps[1].noise_level  # σ_t falls
    assert "plain text" in result.note and "negative prompt was not used" in result.note
    assert "step-distilled" in result.note  # why: its pipeline runs no unconditional pass
    assert read_job(sorted(result.saved_paths)[0]) == job
    quiet = engine.run(_job(klein, preview_every=0), save=False)
    assert "negative prompt" not in quiet.note  # none given: nothing to say


def test_clip_skip_is_left_out_and_said_so(engine, klein):
    result = engine.run(_job(klein, preview_every=0, clip_skip=2), save=False)
    assert np.isfinite(result.images).all() and "clip skip was not used" in result.note
    assert "clip skip" not in engine.run(_job(klein, preview_every=0), save=False).note


def _model_calls(engine, folder, **fields) -> int:
    transformer = engine.load(str(folder), "txt2img").pipe.transformer
    calls = []
    handle = transformer.register_forward_pre_hook(lambda *_: calls.append(1))
    try:
        engine.run(_job(folder, preview_every=0, **fields), save=False)
    finally:
        handle.remove()
    return len(calls)


def test_a_base_model_guides_with_the_negative_prompt_and_a_distilled_one_does_not(engine, klein, klein_base):
    from diffusers import Flux2KleinPipeline

    from ddpm_studio.engine.sampling.latent import pipeline_arguments

    loaded = engine.load(str(klein_base), "txt2img")
    args = pipeline_arguments(loaded, _job(klein_base, negative_prompt="blurry", guidance_scale=4.0), "a cat", "x")
    assert "negative_prompt" not in args and args["guidance_scale"] == 4.0 and args["prompt"] == "a cat"
    bare = Flux2KleinPipeline.from_pretrained(klein_base, local_files_only=True)
    own = bare.encode_prompt(prompt=["x"])[0]
    assert torch.equal(args["negative_prompt_embeds"], own)  # its pipeline's own encoding of the negative text
    quiet = pipeline_arguments(loaded, _job(klein_base, negative_prompt="blurry", guidance_scale=1.0), "a cat", "x")
    assert "negative_prompt_embeds" not in quiet  # no CFG pass to read it: not encoded
    with_negative = engine.run(_job(klein_base, negative_prompt="blurry", guidance_scale=4.0, preview_every=0),
                               save=False)
    empty = engine.run(_job(klein_base, guidance_scale=4.0, preview_every=0), save=False)
    assert not np.allclose(with_negative.images, empty.images) and "negative prompt" not in with_negative.note
    bare.set_progress_bar_config(disable=True)
    got = bare(prompt="a lighthouse at dusk", negative_prompt_embeds=bare.encode_prompt(prompt=["blurry"])[0],
               num_inference_steps=2, width=64, height=64, guidance_scale=4.0, output_type="np",
               generator=torch.Generator().manual_seed(7)).images
    # what the bare pipeline makes of that negative, within a level of 8 bits
    assert np.abs(with_negative.images.astype(int) - np.round(got * 255).astype(int)).max() <= 1
    assert _model_calls(engine, klein_base, guidance_scale=4.0) == 4  # CFG: two calls a step
    assert _model_calls(engine, klein_base, guidance_scale=1.0) == 2
    assert _model_calls(engine, klein, guidance_scale=4.0) == 2  # step-distilled: its pipeline ignores guidance


@pytest.mark.parametrize("scheduler", ["euler", "dpm++2m", "unipc"])
def test_its_flow_schedulers_run_with_the_pipelines_shift(engine, klein, scheduler):
    events = []
    result = engine.run(_job(klein, scheduler=scheduler), on_step=events.append, save=False)
    assert np.isfinite(result.images).all() and len(events) == 3
    assert all(e.x0 is not None and 0 < e.noise_level <= 1 for e in events[:-1])


def test_a_scheduler_without_a_flow_form_is_refused_naming_those_that_work(engine, klein):
    with pytest.raises(ModelError, match=r"flow-matching model.*DDIM.*euler.*dpm\+\+2m.*unipc"):
        engine.run(_job(klein, scheduler="ddim"), save=False)


def test_addons_it_does_not_take_are_refused_by_name(engine, klein):
    with pytest.raises(ModelError, match="No LoRA named 'style'"):  # LoRAs it takes (test_flow_loras.py)
        engine.run(_job(klein, prompt="a cat <lora:style:0.8>"), save=False)
    with pytest.raises(ModelError, match="does not take a hires fix"):
        engine.run(_job(klein, hires_scale=2.0), save=False)


def test_cancel_inside_a_step_stops_the_run_with_no_image(engine, klein, tmp_path):
    transformer = engine.load(str(klein), "txt2img").pipe.transformer
    # the second call reaches its single-stream block: Cancel is pressed there
    result, steps, _ = run_stopped_in_second_call(engine, _job(klein, steps=3, output_dir=str(tmp_path)),
                                                  transformer, transformer.single_transformer_blocks[0])
    assert result.cancelled and result.images is None and not list(tmp_path.glob("*.png"))
    assert len(steps) == 1 and result.steps_run == 1


def test_variation_draws_x_t_as_its_pipeline_does(engine, klein):
    plain = engine.run(_job(klein, preview_every=0), save=False).images
    same = engine.run(_job(klein, preview_every=0, variation_seed=9, variation_strength=0.0001), save=False).images
    varied = engine.run(_job(klein, preview_every=0, variation_seed=9, variation_strength=0.5), save=False).images
    assert np.abs(plain.astype(int) - same.astype(int)).max() <= 2 and not np.array_equal(plain, varied)


def test_full_decodes_of_x0_undo_the_batch_norm(engine, klein):
    events = []
    result = engine.run(_job(klein, preview_every=0, full_decode_every=1), on_step=events.append, save=False)
    assert [e.index for e in events] == [0, 1] and all(e.x0.shape == (1, 64, 64, 3) for e in events)
    # the last step's x̂0 is the picture itself (the Euler step to σ = 0): decoded as the pipeline decodes it
    assert np.abs(events[-1].x0.astype(int) - result.images.astype(int)).max() <= 2
    assert np.abs(events[0].x0.astype(int) - result.images.astype(int)).max() > 2


def test_klein_latents_preview_with_the_published_map_or_a_fit(klein):
    from types import SimpleNamespace

    from diffusers import AutoencoderKLFlux2

    from ddpm_studio.engine.sampling.latent_preview import LatentToRGB

    real = SimpleNamespace(latent_channels=32, block_out_channels=(128, 256, 512, 512), batch_norm_eps=1e-4)
    assert LatentToRGB.for_vae(SimpleNamespace(config=real)).source == "Flux.2 factors (published by ComfyUI)"
    fitted = LatentToRGB.for_vae(AutoencoderKLFlux2.from_pretrained(klein / "vae"))
    assert fitted.source == "fitted to this VAE" and fitted.weights.shape == (32, 3)
