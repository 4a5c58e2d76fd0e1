"""Scheduler races (engine/series/race.py, engine/series/race_export.py, ``ddpm-studio race``): one x_T, lanes that differ in one
parameter, each bit for bit the image of a separate run; scrubbed together by fraction of the run; cancel keeps
nothing."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from ddpm_studio.cli import main
from ddpm_studio.engine.jobs.checks import JobError
from ddpm_studio.engine.jobs.race import RaceJob
from ddpm_studio.engine.jobs.types import GenerateJob, Text2ImageJob
from ddpm_studio.engine.output.metadata import read_job
from ddpm_studio.engine.runner import Engine
from ddpm_studio.engine.series.race import run_race
from ddpm_studio.engine.series.race_export import at_fraction, export_race


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu")


def test_each_lane_is_the_image_of_a_separate_run(engine, tiny_ddpm_dir):
    race = RaceJob(base=GenerateJob(model=str(tiny_ddpm_dir), steps=6, seed=4, batch_size=1),
                   field="scheduler", values=("ddim", "dpm++2m", "euler-a"))
    events = []
    result = run_race(engine, race, on_step=events.append)
    assert [lane.label for lane in result.lanes] == ["ddim", "dpm++2m", "euler-a"] and not result.cancelled
    for lane, job in zip(result.lanes, race.lanes()):
        alone = Engine(device="cpu").run(job, save=False).images
        assert np.array_equal(lane.result.images, alone)
        assert lane.steps[-1].final and len([e for e in lane.steps if not e.final]) == 6
    assert sorted({e.lane for e in events}) == [0, 1, 2]  # every step event says which lane it is
    distances = [row["distance_to_final"] for row in result.lanes[0].rows()]
    assert distances[0] > distances[-1] and all(d is not None for d in distances)


def test_a_text_to_image_race_over_guidance(engine, tmp_path):
    from tests.tiny_sd import save_tiny_sd

    model = save_tiny_sd(tmp_path / "sd")
    base = Text2ImageJob(model=str(model), prompt="a cat", steps=3, width=64, height=64, seed=1)
    race = RaceJob(base=base, field="guidance_scale", values=(3.0, 9.0))
    result = run_race(engine, race)
    assert [lane.label for lane in result.lanes] == ["guidance-3", "guidance-9"]
    for lane, job in zip(result.lanes, race.lanes()):
        assert np.array_equal(lane.result.images, engine.run(job, save=False).images)


def test_lanes_of_different_lengths_line_up_by_fraction(engine, tiny_ddpm_dir):
    race = RaceJob(base=GenerateJob(model=str(tiny_ddpm_dir), scheduler="ddim", steps=4, seed=0, batch_size=1),
                   field="steps", values=(4, 8))
    short, long_ = run_race(engine, race).lanes
    assert [short.label, long_.label] == ["steps-4", "steps-8"]
    assert at_fraction(short, 0.5).index == 1 and at_fraction(long_, 0.5).index == 3  # step 2/4 beside step 4/8
    assert at_fraction(short, 1.0).final and at_fraction(long_, 1.0).final


def test_cancel_stops_within_a_step_and_keeps_nothing(engine, tiny_ddpm_dir):
    race = RaceJob(base=GenerateJob(model=str(tiny_ddpm_dir), steps=20, seed=0, batch_size=1),
                   field="scheduler", values=("ddim", "euler"))
    seen = []
    result = run_race(engine, race, on_step=seen.append, should_stop=lambda: len(seen) >= 25)
    assert result.cancelled and result.lanes == []
    assert len(seen) == 25 and seen[-1].lane == 1  # the first lane finished; the second stopped at once


@pytest.mark.parametrize("changes,message", [(dict(values=("ddim",)), "2 to 8 lanes"),
                                             (dict(values=("ddim", "ddim")), "repeats"),
                                             (dict(field="seed", values=(1, 2)), "differ in one of"),
                                             (dict(values=("ddim", "warp")), "Unknown scheduler")])
def test_a_race_that_cannot_be_run_is_a_message(tiny_ddpm_dir, changes, message):
    base = GenerateJob(model=str(tiny_ddpm_dir), batch_size=1)
    with pytest.raises(JobError, match=message):
        RaceJob(**{**dict(base=base, field="scheduler", values=("ddim", "euler")), **changes})
    with pytest.raises(JobError, match="batch size to 1"):
        RaceJob(base=base.replace(batch_size=2), field="scheduler", values=("ddim", "euler"))


def test_the_cli_writes_each_lane_the_animation_the_sheet_and_the_table(tiny_ddpm_dir, tmp_path, capsys):
    out = tmp_path / "race"
    assert main(["race", "--model", str(tiny_ddpm_dir), "--schedulers", "ddim,dpm++2m,euler-a", "--steps", "5",
                 "--seed", "3", "--out", str(out), "--device", "cpu"]) == 0
    printed = capsys.readouterr()
    assert printed.out.split() == [str(out / f"{name}.png") for name in ("ddim", "dpm++2m", "euler-a")]
    assert "x0 within" in printed.err
    for name in ("ddim", "dpm++2m", "euler-a"):  # each a normal image of ours: it restores its own run
        job = read_job(out / f"{name}.png")
        assert job.scheduler == name and job.seed == 3 and job.steps == 5
        alone = Engine(device="cpu").run(job, save=False).images[0]
        assert np.array_equal(np.asarray(Image.open(out / f"{name}.png").convert("RGB")), alone)
    with open(out / "race.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 15 and rows[0]["lane"] == "ddim" and float(rows[0]["distance_to_final"]) > 0
    animation = Image.open(out / "race.gif")
    assert animation.n_frames == 6  # five steps stepped together, then the results
    assert Image.open(out / "race.webp").n_frames == 6 and Image.open(out / "contact-sheet.png").width > 0


def test_the_cli_races_one_thing_at_a_time(tiny_ddpm_dir, tmp_path, capsys):
    code = main(["race", "--model", str(tiny_ddpm_dir), "--schedulers", "ddim,euler", "--steps", "5,10",
                 "--out", str(tmp_path)])
    assert code == 1 and "varies one thing" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_export_writes_a_file_per_lane_and_the_table(engine, tiny_ddpm_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    race = RaceJob(base=GenerateJob(model=str(tiny_ddpm_dir), steps=3, seed=0, batch_size=1),
                   field="scheduler", values=("ddim", "euler"))
    written = export_race(tmp_path / "out", run_race(engine, race), "cpu")
    assert set(written["lanes"]) == {"ddim", "euler"} and written["table"].is_file()
    from ddpm_studio.engine.gallery.index import GalleryIndex

    found = {row["scheduler"]: row["path"] for row in GalleryIndex().search("sampler:ddim")}
    assert found == {"ddim": str(written["lanes"]["ddim"])}  # each lane is in the gallery
