"""A1111/Forge parameters with a family's own fields: SD 3.5's flow scheduler writes its ``Shift``, Flux's distilled
guidance is ``Distilled CFG Scale`` beside Forge's ``CFG scale: 1``; each picture's job comes back whole, and the
gallery reads the guidance back, from our PNGs and from a Forge Flux picture."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from PIL import Image, PngImagePlugin

from ddpm_studio.engine.gallery.rows import row_from_png
from ddpm_studio.engine.jobs.types import GenerateJob, Text2ImageJob
from ddpm_studio.engine.output.family_metadata import family_fields
from ddpm_studio.engine.output.metadata import read_job
from ddpm_studio.engine.png.chunks import parse_a1111
from ddpm_studio.engine.runner import Engine
from ddpm_studio.engine.sampling.schedulers import fixed_shift
from tests.tiny_flux import save_tiny_flux
from tests.tiny_sd3 import save_tiny_sd3

FORGE_FLUX = ("a red fox in snow, golden hour\nSteps: 20, Sampler: Euler, Schedule type: Simple, CFG scale: 1, "
              "Distilled CFG Scale: 3.5, Seed: 1234, Size: 896x1152, Model hash: 8e91b68084, "
              "Model: flux1-dev-bnb-nf4-v2, Version: f2.0.1v1.10.1-previous-313-g8a042934, Module 1: ae")


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu")


@pytest.fixture(scope="module")
def sd3(tmp_path_factory):
    return save_tiny_sd3(tmp_path_factory.mktemp("sd3") / "tiny-sd3")


@pytest.fixture(scope="module")
def flux(tmp_path_factory):
    return save_tiny_flux(tmp_path_factory.mktemp("flux") / "tiny-flux")


def _saved(engine, model, folder, **fields):
    job = Text2ImageJob(model=str(model), prompt="a boat at dusk", steps=2, seed=5, width=64, height=64,
                        scheduler="euler", guidance_scale=4.5, output_dir=str(folder), **fields)
    result = engine.run(job)
    (path,) = result.saved_paths
    with Image.open(path) as image:
        return job, path, parse_a1111(image.text["parameters"]), image.text["parameters"]


def test_an_sd35_picture_writes_its_shift_and_comes_back_whole(engine, sd3, tmp_path):
    job, path, fields, text = _saved(engine, sd3, tmp_path / "out", negative_prompt="blurry")
    assert fields["CFG scale"] == "4.5" and fields["Shift"] == "3" and "Distilled CFG Scale" not in fields
    assert fields["Sampler"] == "Euler" and fields["Steps"] == "2" and fields["negative_prompt"] == "blurry"
    assert "CFG scale: 4.5, Shift: 3, Seed: 5" in text  # the guidance's place in the line, then the shift
    assert read_job(path) == job
    row = row_from_png(path)
    assert row["guidance"] == 4.5 and row["scheduler"] == "euler" and row["steps"] == 2 and row["seed"] == 5


def test_a_flux_picture_writes_forges_distilled_cfg_scale_and_comes_back_whole(engine, flux, tmp_path):
    job, path, fields, text = _saved(engine, flux, tmp_path / "out")
    assert fields["CFG scale"] == "1" and fields["Distilled CFG Scale"] == "4.5"
    assert "CFG scale: 1, Distilled CFG Scale: 4.5, Seed: 5" in text
    assert "Shift" not in fields  # its shift follows the picture's size (dynamic shifting): the config's is not used
    assert read_job(path) == job
    row = row_from_png(path)
    assert row["guidance"] == 4.5 and row["source"] == "ddpm-studio"
    job, path, fields, _ = _saved(engine, flux, tmp_path / "true-cfg", true_cfg_scale=2.0, negative_prompt="blurry")
    assert fields["CFG scale"] == "2" and fields["Distilled CFG Scale"] == "4.5"  # a true CFG pass ran, as in Forge
    assert read_job(path) == job


def test_a_forge_flux_picture_is_read_with_its_distilled_guidance(tmp_path):
    path = tmp_path / "forge-flux.png"
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", FORGE_FLUX)
    Image.new("RGB", (16, 16)).save(path, pnginfo=info)
    row = row_from_png(path)
    assert row["source"] == "a1111" and row["guidance"] == 3.5  # not Forge's CFG scale: 1
    # its sampler and schedule type as one of our combined names (jobs/schedule_types.py)
    assert row["scheduler"] == "euler-simple" and row["steps"] == 20 and row["seed"] == 1234
    assert row["model"] == "flux1-dev-bnb-nf4-v2" and row["prompt"] == "a red fox in snow, golden hour"


def test_a_picture_without_our_json_falls_back_to_its_distilled_guidance(engine, flux, tmp_path):
    _, path, _, text = _saved(engine, flux, tmp_path / "out")
    plain = tmp_path / "plain.png"
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", text)  # what another tool keeps of it: the A1111 text alone
    with Image.open(path) as image:
        image.save(plain, pnginfo=info)
    assert row_from_png(plain)["guidance"] == 4.5


def test_the_fields_follow_the_family_row_and_the_scheduler_config():
    sd = SimpleNamespace(family="stable-diffusion", context_dim=768, arch="sd1")  # a catalogue ModelInfo's fields
    job = Text2ImageJob(model="sd", guidance_scale=6.0)
    assert family_fields(sd, job, {"_class_name": "PNDMScheduler"}) == {"guidance": [("CFG scale", 6.0)]}
    assert family_fields(None, GenerateJob(model="ddpm"), {}) == {}  # no family: as before
    assert fixed_shift({"_class_name": "FlowMatchEulerDiscreteScheduler", "shift": 3.0}) == 3.0
    assert fixed_shift({"_class_name": "FlowMatchEulerDiscreteScheduler", "shift": 3.0,
                        "use_dynamic_shifting": True}) is None
    assert fixed_shift({"_class_name": "EulerDiscreteScheduler", "shift": 3.0}) is None
