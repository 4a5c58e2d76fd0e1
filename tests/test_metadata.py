"""PNG metadata: A1111 parameters for other tools, a JSON job for exact round-trips."""

from __future__ import annotations

import pytest
from PIL import Image

from ddpm_studio.engine.jobs.checks import JobError
from ddpm_studio.engine.jobs.types import GenerateJob
from ddpm_studio.engine.jobs.reading import job_from_dict
from ddpm_studio.engine.output.metadata import MetadataError, a1111_parameters, read_job, read_metadata
from ddpm_studio.engine.png.chunks import parse_a1111
from ddpm_studio.engine.runner import Engine


def test_saved_png_round_trips_into_an_equal_job(tiny_ddpm_dir, tmp_path):
    job = GenerateJob(model=str(tiny_ddpm_dir), scheduler="dpm++2m-karras", steps=3, seed=99, batch_size=2, output_dir=str(tmp_path))
    result = Engine(device="cpu").run(job)
    for index, path in enumerate(sorted(result.saved_paths)):
        assert read_job(path) == job
        meta = read_metadata(path)
        assert meta["index"] == index and meta["seed"] == 99 + index and meta["device"] == "cpu/float32"
        with Image.open(path) as image:
            params = parse_a1111(image.text["parameters"])
            assert image.size == (16, 16)
        assert params["Steps"] == "3"
        assert params["Sampler"] == "DPM++ 2M" and params["Schedule type"] == "Karras"
        assert params["Seed"] == str(99 + index)
        assert params["Size"] == "16x16"
        assert params["Model"] == "tiny-ddpm"


def test_a1111_layout_and_quoting():
    job = GenerateJob(model="x", scheduler="euler-a", steps=20, seed=5)
    text = a1111_parameters(job, seed=5, width=32, height=32, model_name="my, model", device="cpu/float32")
    assert text.startswith("Steps: 20, Sampler: Euler a, Seed: 5, Size: 32x32, Model: \"my, model\", Device: cpu/float32, Version: ddpm-studio")
    assert "\n" not in text  # unconditional: no prompt lines
    assert parse_a1111(text)["Model"] == "my, model"


def test_job_validation_messages():
    with pytest.raises(JobError, match="Unknown scheduler 'fast'"):
        GenerateJob(model="m", scheduler="fast")
    with pytest.raises(JobError, match="steps must be between 1 and 1000; got 0"):
        GenerateJob(model="m", steps=0)
    with pytest.raises(JobError, match="batch size must be a whole number"):
        GenerateJob(model="m", batch_size=2.5)
    with pytest.raises(JobError, match="No model chosen"):
        GenerateJob(model=" ")
    with pytest.raises(JobError, match="Unknown job field"):
        GenerateJob.from_dict({"model": "m", "cfg": 3})
    job = GenerateJob(model="m", seed=3)
    assert job_from_dict(job.to_dict()) == job


def test_foreign_and_broken_pngs_are_clear_errors(tmp_path):
    plain = tmp_path / "plain.png"
    Image.new("RGB", (4, 4)).save(plain)
    with pytest.raises(MetadataError, match="carries no DDPM Studio parameters"):
        read_job(plain)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not a png")
    with pytest.raises(MetadataError, match="junk.png is not a readable image"):
        read_job(junk)
