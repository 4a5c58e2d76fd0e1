"""Few-step sampling on tiny random pipelines: TCD and LCM on Stable Diffusion, schedule types in a run and its
metadata, the flow-matching LCM on every flow family (their pipelines pass their own σ, as Chroma's and Qwen-Image's,
or shift by the picture's size, as Flux's), reproducible from the seed; presets from a Turbo model's and a Lightning LoRA's names, in the command
line's defaults."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from ddpm_studio.engine.jobs.types import Text2ImageJob
from ddpm_studio.engine.models.catalogue import inspect_model
from ddpm_studio.engine.models.defaults import recommended_settings
from ddpm_studio.engine.models.presets import preset_for_lora
from ddpm_studio.engine.output.metadata import read_job
from ddpm_studio.engine.png.chunks import parse_a1111
from ddpm_studio.engine.runner import Engine
from tests.tiny_chroma import save_tiny_chroma
from tests.tiny_flux import save_tiny_flux
from tests.tiny_klein import save_tiny_klein
from tests.tiny_qwenimage import save_tiny_qwenimage
from tests.tiny_sd import save_tiny_sd
from tests.tiny_sd3 import save_tiny_sd3


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("fewstep")
    return {"sd": save_tiny_sd(root / "tiny-sd"), "turbo": save_tiny_sd(root / "tiny-sdxl-turbo"),
            "chroma": save_tiny_chroma(root / "tiny-chroma"), "flux": save_tiny_flux(root / "tiny-flux"),
            "sd3": save_tiny_sd3(root / "tiny-sd3"), "qwenimage": save_tiny_qwenimage(root / "tiny-qwenimage"),
            "klein": save_tiny_klein(root / "tiny-klein")}


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu")


def _sd(models, **fields):
    return Text2ImageJob(**{**dict(model=str(models["sd"]), prompt="x", steps=3, width=32, height=32, seed=3), **fields})


@pytest.mark.parametrize("scheduler, schedule", [("tcd", ""), ("lcm", ""), ("euler", "karras"),
                                                 ("euler-a", "sgm_uniform"), ("dpm++2m", "beta"), ("ddim", "simple")])
def test_each_runs_on_the_tiny_sd_pipeline_with_previews(engine, models, scheduler, schedule):
    events = []
    result = engine.run(_sd(models, scheduler=scheduler, schedule=schedule), on_step=events.append, save=False)
    assert result.images.shape == (1, 32, 32, 3) and len(events) == 4 and events[-1].final
    assert all(e.x0 is not None for e in events)


def test_tcd_is_stochastic_yet_the_same_from_the_same_seed(engine, models):
    job = _sd(models, scheduler="tcd", steps=4)
    first, again = engine.run(job, save=False).images, engine.run(job, save=False).images
    assert np.array_equal(first, again)
    assert not np.array_equal(first, engine.run(job.replace(seed=4), save=False).images)


def test_tcd_steps_with_its_eta():
    from diffusers import StableDiffusionPipeline, TCDScheduler

    from ddpm_studio.engine.sampling.schedulers import TCD_ETA, step_arguments

    assert step_arguments(TCDScheduler(), StableDiffusionPipeline) == {"eta": TCD_ETA}


def test_a_schedule_type_changes_the_picture_and_is_in_its_metadata(engine, models, tmp_path):
    plain = engine.run(_sd(models, scheduler="euler"), save=False).images
    result = engine.run(_sd(models, scheduler="euler", schedule="karras", output_dir=str(tmp_path)))
    assert not np.array_equal(plain, result.images)
    path = sorted(result.saved_paths)[0]
    assert read_job(path).schedule == "karras"
    with Image.open(path) as image:
        fields = parse_a1111(image.text["parameters"])
    assert fields["Sampler"] == "Euler" and fields["Schedule type"] == "Karras"


def test_an_old_combined_name_makes_the_picture_of_its_two_halves(engine, models):
    old = engine.run(_sd(models, scheduler="dpm++2m-karras"), save=False).images
    assert np.array_equal(old, engine.run(_sd(models, scheduler="dpm++2m", schedule="karras"), save=False).images)


@pytest.mark.parametrize("family, guidance", [("chroma", 3.0), ("flux", 3.5), ("sd3", 3.5), ("qwenimage", 4.0),
                                              ("klein", 1.0)])  # every flow family's pipeline drives it
def test_the_flow_lcm_runs_on_flow_families_and_keeps_to_its_seed(engine, models, family, guidance):
    job = Text2ImageJob(model=str(models[family]), prompt="a lighthouse", steps=3, seed=7, width=64, height=64,
                        scheduler="lcm", guidance_scale=guidance)
    events = []
    result = engine.run(job, on_step=events.append, save=False)
    assert np.isfinite(result.images).all() and len(events) == 4
    assert all(e.x0 is not None and 0 < e.noise_level <= 1 for e in events[:-1])
    assert np.array_equal(result.images, engine.run(job, save=False).images)  # its fresh noise from the seed
    euler = engine.run(job.replace(scheduler="euler"), save=False).images
    assert not np.array_equal(result.images, euler)


def test_the_flow_lcm_takes_a_karras_schedule(engine, models):
    job = Text2ImageJob(model=str(models["chroma"]), prompt="a lighthouse", steps=3, seed=7, width=64, height=64,
                        scheduler="lcm", schedule="karras", guidance_scale=3.0)
    assert np.isfinite(engine.run(job, save=False).images).all()


def test_a_turbo_model_brings_its_steps_guidance_and_scheduler(models):
    assert recommended_settings(inspect_model(str(models["turbo"]))) == {
        "scheduler": "euler-a", "schedule": "sgm_uniform", "steps": 1, "guidance_scale": 0.0, "preset": "Turbo"}
    assert "preset" not in recommended_settings(inspect_model(str(models["sd"])))


def _lora(path, metadata=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"lora_unet_x.lora_down.weight": torch.zeros(4, 32)}, str(path), metadata=metadata)
    return path


def test_a_lora_is_known_by_its_file_name_or_its_metadata(tmp_path):
    named = preset_for_lora(_lora(tmp_path / "sdxl_lightning_8step_lora.safetensors"))
    assert named == {"scheduler": "euler", "schedule": "sgm_uniform", "steps": 8, "guidance_scale": 0.0,
                     "preset": "SDXL-Lightning 8-step"}
    kept = _lora(tmp_path / "fast.safetensors", {"ss_output_name": "dmd2_sdxl_4step_lora"})
    assert preset_for_lora(kept)["scheduler"] == "lcm" and preset_for_lora(kept)["guidance_scale"] == 0.0
    assert preset_for_lora(_lora(tmp_path / "lightning_bolts.safetensors")) == {}  # no step count: a style
    assert preset_for_lora(_lora(tmp_path / "Hyper-SDXL-1step-lora.safetensors"))["scheduler"] == "tcd"
    flux = preset_for_lora(_lora(tmp_path / "Hyper-FLUX.1-dev-8steps-lora.safetensors"), "flux")
    assert flux == {"steps": 8, "guidance_scale": 3.5, "preset": "Hyper-SD 8-step"}  # the family's scheduler kept


def test_the_command_line_takes_a_lightning_loras_settings_unless_given(models, tmp_path):
    from ddpm_studio.cli import build_parser
    from ddpm_studio.commands.sample import _prompt_fields

    lora = _lora(tmp_path / "sdxl_lightning_4step_lora.safetensors")
    parser = build_parser()
    base = ["txt2img", "--model", str(models["sd"]), "--prompt", "x", "--lora", f"{lora}:1"]
    fields = _prompt_fields(parser.parse_args(base))
    assert (fields["steps"], fields["guidance_scale"], fields["scheduler"], fields["schedule"]) == (
        4, 0.0, "euler", "sgm_uniform")
    fields = _prompt_fields(parser.parse_args([*base, "--steps", "6", "--guidance", "1.5"]))
    assert (fields["steps"], fields["guidance_scale"], fields["scheduler"]) == (6, 1.5, "euler")
    plain = _prompt_fields(parser.parse_args(base[:5]))
    assert plain["steps"] == 25 and plain["schedule"] == ""
    turbo = _prompt_fields(parser.parse_args(["txt2img", "--model", str(models["turbo"]), "--prompt", "x"]))
    assert (turbo["steps"], turbo["guidance_scale"], turbo["scheduler"]) == (1, 0.0, "euler-a")


def test_a_hires_fix_runs_its_second_pass_with_the_flow_lcm_and_tcd(engine, models):
    flux = Text2ImageJob(model=str(models["flux"]), prompt="a lighthouse", steps=3, seed=7, width=64, height=64,
                         scheduler="lcm", guidance_scale=3.5, hires_scale=1.5, hires_upscaler="lanczos")
    first = engine.run(flux, save=False)
    assert first.images.shape == (1, 96, 96, 3) and "Euler" not in first.note  # its scale_noise: no Euler needed
    assert np.array_equal(first.images, engine.run(flux, save=False).images)
    tcd = _sd(models, scheduler="tcd", steps=4, hires_scale=1.5)
    assert engine.run(tcd, save=False).images.shape == (1, 48, 48, 3)
