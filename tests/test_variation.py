"""Variation seeds (engine/sampling/variation.py): x_T slerped from the seed's noise towards the variation seed's, for pixel
DDPMs and Stable Diffusion — strength 0 and 1 are the two seeds' own pictures bit for bit — written and read as
A1111 writes them; ``--variation-seed/--variation-strength`` on the CLI and the Variation row in the panels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ddpm_studio.cli import main
from ddpm_studio.engine.jobs.checks import JobError
from ddpm_studio.engine.jobs.types import EditJob, GenerateJob, Text2ImageJob
from ddpm_studio.engine.output.metadata import read_job, read_png_text
from ddpm_studio.engine.runner import Engine
from ddpm_studio.engine.sampling.variation import initial_noise, slerp
from tests.tiny_sd import save_tiny_sd


@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory):
    return save_tiny_sd(tmp_path_factory.mktemp("variation") / "sd")


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu")


def _pixel(model, **changes) -> GenerateJob:
    return GenerateJob(**{**dict(model=str(model), scheduler="ddim", steps=4, seed=3, batch_size=2, preview_every=0),
                          **changes})


def _sd(model, **changes) -> Text2ImageJob:
    return Text2ImageJob(**{**dict(model=str(model), prompt="a red fox", scheduler="ddim", steps=3, width=64,
                                   height=64, seed=3, batch_size=2, preview_every=0), **changes})


def test_slerp_keeps_the_ends_exactly_and_the_norm_between():
    a, b = (torch.randn(4, 16, 16, generator=torch.Generator().manual_seed(s)) for s in (1, 2))
    assert torch.equal(slerp(0.0, a, b), a) and torch.equal(slerp(1.0, a, b), b)
    middle = slerp(0.5, a, b)
    assert abs(middle.norm() / a.norm() - 1) < 0.05  # a plain blend would shrink it to about 0.71
    assert abs((0.5 * a + 0.5 * b).norm() / a.norm() - 0.71) < 0.05
    noise, _ = initial_noise(3, 9, 0.5, 2, (4, 16, 16))
    alone, _ = initial_noise(4, 10, 0.5, 1, (4, 16, 16))
    assert torch.equal(noise[1], alone[0])  # image i of a batch: seed + i towards variation seed + i


@pytest.mark.parametrize("kind", ["pixel", "sd"])
def test_strength_0_and_1_are_the_two_seeds_pictures_bit_for_bit(engine, tiny_ddpm_dir, tiny_sd, kind):
    make, model = (_pixel, tiny_ddpm_dir) if kind == "pixel" else (_sd, tiny_sd)
    seed3, seed9 = (engine.run(make(model, seed=s), save=False).images for s in (3, 9))
    assert not np.array_equal(seed3, seed9)
    at_0 = engine.run(make(model, variation_seed=9, variation_strength=0.0), save=False).images
    at_1 = engine.run(make(model, variation_seed=9, variation_strength=1.0), save=False).images
    between = engine.run(make(model, variation_seed=9, variation_strength=0.5), save=False).images
    assert np.array_equal(at_0, seed3) and np.array_equal(at_1, seed9)
    assert not np.array_equal(between, seed3) and not np.array_equal(between, seed9)


def test_metadata_is_a1111s_and_each_image_restores_its_own_variation(engine, tiny_ddpm_dir, tmp_path):
    job = _pixel(tiny_ddpm_dir, variation_seed=9, variation_strength=0.25, output_dir=str(tmp_path))
    result = engine.run(job)
    second = result.saved_paths[1]
    assert "Seed: 4, Variation seed: 10, Variation seed strength: 0.25" in read_png_text(second)["parameters"]
    again = read_job(second, own_seed=True)
    assert (again.seed, again.variation_seed, again.variation_strength) == (4, 10, 0.25)
    alone = engine.run(again.replace(batch_size=1), save=False).images[0].astype(int)
    other = engine.run(again.replace(batch_size=1, variation_seed=11), save=False).images[0].astype(int)
    with Image.open(second) as image:
        saved = np.asarray(image).astype(int)
    # the same picture: bit for bit on some CPUs; where the convolution kernels differ between a batch of 2 and of 1
    # (oneDNN on avx2), a level or two here and there — while another variation seed changes it wholesale
    assert np.abs(saved - alone).max() <= 2 and np.abs(saved - alone).mean() < 0.1
    assert np.abs(saved - other).mean() > 20


def test_bad_variations_are_refused_in_words():
    with pytest.raises(JobError, match="variation strength"):
        GenerateJob(model="m", variation_strength=1.5)
    with pytest.raises(JobError, match="Variation seeds vary a picture made from noise"):
        EditJob(model="m", prompt="x", image="a.png", variation_seed=2, variation_strength=0.5)


def test_cli_variation_flags(tiny_ddpm_dir, tmp_path, capsys):
    common = ["generate", "--model", str(tiny_ddpm_dir), "--scheduler", "ddim", "--steps", "3", "--batch", "1"]
    assert main(common + ["--seed", "9", "--out", str(tmp_path / "plain")]) == 0
    assert main(common + ["--seed", "3", "--variation-seed", "9", "--variation-strength", "1",
                          "--out", str(tmp_path / "varied")]) == 0
    plain, varied = (np.asarray(Image.open(next((tmp_path / d).glob("*.png")))) for d in ("plain", "varied"))
    assert np.array_equal(plain, varied)
    capsys.readouterr()
    assert main(common + ["--seed", "3", "--variation-seed", "9", "--out", str(tmp_path / "x")]) == 1
    assert "--variation-seed 9 does nothing without --variation-strength" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["pixel", "sd"])
def test_an_explicit_variation_strength_0_runs_and_is_the_seeds_own_picture(tiny_ddpm_dir, tiny_sd, tmp_path, kind):
    """A sweep from 0 to 1 starts at 0 (A1111 takes it): the seed's picture, not a refusal."""
    common = (["generate", "--model", str(tiny_ddpm_dir)] if kind == "pixel" else
              ["txt2img", "--model", str(tiny_sd), "--prompt", "a red fox", "--size", "64x64"])
    common += ["--scheduler", "ddim", "--steps", "3", "--batch", "1", "--seed", "3", "--device", "cpu"]
    assert main(common + ["--out", str(tmp_path / "plain")]) == 0
    assert main(common + ["--variation-seed", "5", "--variation-strength", "0", "--out", str(tmp_path / "zero")]) == 0
    plain, zero = (np.asarray(Image.open(next((tmp_path / d).glob("*.png")))) for d in ("plain", "zero"))
    assert np.array_equal(plain, zero)
