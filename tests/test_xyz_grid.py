"""Parameter grids (engine/series/xyz_grid.py, ``ddpm-studio grid``): every cell an ordinary run, saved with its normal
metadata, equal to a separate run; axes parsed and checked; the sheet's PNG names its axes; cancel keeps nothing."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from ddpm_studio.cli import main
from ddpm_studio.engine.jobs.checks import JobError
from ddpm_studio.engine.jobs.types import GenerateJob, Text2ImageJob
from ddpm_studio.engine.output.metadata import read_job
from ddpm_studio.engine.runner import Engine
from ddpm_studio.engine.series.xyz_grid import GRID_KEY, cell_jobs, parse_axis, run_grid, save_sheet


def test_axes_are_parsed_typed_and_checked():
    assert parse_axis("steps=10, 25").values == (10, 25)
    assert parse_axis('prompt=cat,"a dog, red"').values == ("cat", "a dog, red")
    assert parse_axis("lora:ink=0,0.5,1").values == (0.0, 0.5, 1.0) and parse_axis("lora:ink=1").lora == "ink"
    for text, message in (("steps", "NAME=V1"), ("colour=red", "not a grid axis"), ("steps=a,b", "takes whole numbers"),
                          ("scheduler=ddim,nope", "not a scheduler"), ("seed=1,1", "different values")):
        with pytest.raises(JobError, match=message):
            parse_axis(text)


def test_cells_combine_the_axes_x_fastest_and_refuse_what_a_job_cannot_take(tiny_ddpm_dir):
    base = GenerateJob(model=str(tiny_ddpm_dir), steps=4, seed=2, batch_size=1)
    cells = cell_jobs(base, [parse_axis("scheduler=ddim,euler"), parse_axis("steps=2,3")])
    assert [(c, j.scheduler, j.steps) for c, j in cells] == [((0, 0, 0), "ddim", 2), ((1, 0, 0), "euler", 2),
                                                              ((0, 1, 0), "ddim", 3), ((1, 1, 0), "euler", 3)]
    with pytest.raises(JobError, match="Strength"):
        cell_jobs(base, [parse_axis("strength=0.3,0.6")])
    with pytest.raises(JobError, match="LoRA axis"):
        cell_jobs(base, [parse_axis("lora:ink=0,1")])
    prompt_job = Text2ImageJob(model="m", prompt="a red cat")
    assert [j.prompt for _, j in cell_jobs(prompt_job, [parse_axis("prompt=red,blue")])] == ["a red cat", "a blue cat"]
    with pytest.raises(JobError, match="does not contain"):
        cell_jobs(prompt_job, [parse_axis("prompt=green,blue")])


def test_every_cell_is_a_separate_run_saved_with_its_metadata_and_the_sheet_names_the_axes(tiny_ddpm_dir, tmp_path):
    engine = Engine(device="cpu")
    base = GenerateJob(model=str(tiny_ddpm_dir), scheduler="ddim", steps=3, seed=6, batch_size=1)
    axes = [parse_axis("scheduler=ddim,euler-a"), parse_axis("seed=6,7")]
    grid = run_grid(engine, base, axes, tmp_path)
    assert len(grid.cells) == 4 and not grid.cancelled
    for cell in grid.cells:
        saved = cell.result.saved_paths[0]
        assert read_job(saved) == cell.job.replace(output_dir=str(tmp_path))  # a normal image of ours
        alone = Engine(device="cpu").run(cell.job, save=False).images
        assert np.array_equal(np.asarray(Image.open(saved).convert("RGB"))[None], alone)
    sheet = save_sheet(grid, tmp_path)
    with Image.open(sheet) as image:
        payload = json.loads(image.text[GRID_KEY])
        assert image.width > 2 * 128 and "Seed: 6" in image.text["parameters"]
    assert payload["axes"] == [{"name": "scheduler", "values": ["ddim", "euler-a"]}, {"name": "seed", "values": [6, 7]}]
    assert [c["file"] for c in payload["cells"]] == [c.result.saved_paths[0].rsplit("/", 1)[1] for c in grid.cells]
    assert save_sheet(grid, tmp_path).name == "grid-2.png"  # a second sheet never replaces the first


def test_cancel_removes_the_cells_written_and_writes_no_sheet(tiny_ddpm_dir, tmp_path):
    base = GenerateJob(model=str(tiny_ddpm_dir), steps=10, seed=0, batch_size=1)
    seen = []
    grid = run_grid(Engine(device="cpu"), base, [parse_axis("seed=1,2,3")], tmp_path, on_step=seen.append,
                    should_stop=lambda: len(seen) >= 15)
    assert grid.cancelled and grid.cells == [] and len(seen) == 15 and seen[-1].lane == 1
    assert list(tmp_path.iterdir()) == []


def test_the_cli_writes_every_cell_and_the_sheet(tiny_ddpm_dir, tmp_path, capsys):
    assert main(["grid", "--model", str(tiny_ddpm_dir), "--x", "scheduler=ddim,euler-a", "--y", "steps=2,3",
                 "--seed", "3", "--out", str(tmp_path), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out.split()
    assert len(printed) == 5 and printed[-1] == str(tmp_path / "grid.png")
    assert sorted((read_job(p).scheduler, read_job(p).steps, read_job(p).seed) for p in printed[:4]) == [
        ("ddim", 2, 3), ("ddim", 3, 3), ("euler-a", 2, 3), ("euler-a", 3, 3)]
    assert main(["grid", "--model", str(tiny_ddpm_dir), "--x", "colour=red", "--out", str(tmp_path / "no")]) == 1
    assert "not a grid axis" in capsys.readouterr().err and not (tmp_path / "no").exists()


def test_a_lora_weight_axis(tmp_path):
    from diffusers import StableDiffusionPipeline

    from ddpm_studio.engine.addons.resources import AddonFolders
    from tests.tiny_addons import save_lora
    from tests.tiny_sd import save_tiny_sd

    model = save_tiny_sd(tmp_path / "sd")
    save_lora(tmp_path / "loras" / "ink.safetensors", StableDiffusionPipeline.from_pretrained(model,
                                                                                              local_files_only=True))
    engine = Engine(device="cpu", folders=AddonFolders(loras=[str(tmp_path / "loras")]))
    base = Text2ImageJob(model=str(model), prompt="a cat", steps=2, width=64, height=64, seed=1)
    grid = run_grid(engine, base, [parse_axis("lora:ink=0,1")], tmp_path / "out")
    off, on = (cell.result.images for cell in grid.cells)
    assert np.array_equal(off, engine.run(base, save=False).images) and not np.array_equal(on, off)
    assert [c.job.loras for c in grid.cells] == [(("ink", 0.0),), (("ink", 1.0),)]


def test_the_cli_takes_a_prompt_axis_and_a_lora_axis_on_a_stable_diffusion_model(tmp_path, capsys):
    from diffusers import StableDiffusionPipeline

    from tests.tiny_addons import save_lora
    from tests.tiny_sd import save_tiny_sd

    model = save_tiny_sd(tmp_path / "sd")
    save_lora(tmp_path / "loras" / "ink.safetensors", StableDiffusionPipeline.from_pretrained(model,
                                                                                              local_files_only=True))
    assert main(["grid", "--model", str(model), "--prompt", "a red fox", "--x", "prompt=red,blue", "--y",
                 "lora:ink=0,1", "--lora-dir", str(tmp_path / "loras"), "--size", "64x64", "--steps", "2",
                 "--seed", "1", "--out", str(tmp_path / "out"), "--device", "cpu"]) == 0
    cells = [read_job(p) for p in capsys.readouterr().out.split()[:-1]]
    assert [(j.prompt, j.loras) for j in cells] == [("a red fox", (("ink", 0.0),)), ("a blue fox", (("ink", 0.0),)),
                                                   ("a red fox", (("ink", 1.0),)), ("a blue fox", (("ink", 1.0),))]
