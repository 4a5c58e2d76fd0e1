"""The Race and Grid tabs with SD 3.5 and Flux.1: a model whose family row lists its schedulers offers only those
(as Text to Image does) and brings its family's defaults; a race over them and a grid over scheduler, steps and
guidance run every lane or cell as an ordinary job, each cell's PNG with its family's own fields."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from ddpm_studio.engine.jobs.scheduler_table import LATENT_SCHEDULERS
from ddpm_studio.engine.jobs.types import Text2ImageJob
from ddpm_studio.engine.models.families import BY_KEY
from ddpm_studio.engine.output.metadata import read_job
from ddpm_studio.engine.png.chunks import parse_a1111
from ddpm_studio.engine.runner import Engine
from ddpm_studio.engine.series.race_export import export_race
from tests.tiny_flux import save_tiny_flux
from tests.tiny_sd import save_tiny_sd
from tests.tiny_sd3 import save_tiny_sd3


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("series-families")
    save_tiny_sd3(root / "tiny-sd3")
    save_tiny_flux(root / "tiny-flux")
    save_tiny_sd(root / "tiny-sd")
    return root


@pytest.fixture()
def window(window_on, models):
    return window_on(models)


def choose(form, name: str, size: int = 64, prompt: str = "a boat at dusk") -> None:
    form.model_box.setCurrentIndex(form.model_box.findText(name, flags=Qt.MatchFlag.MatchExactly))
    assert form.model_box.currentText() == name
    form.prompt.setPlainText(prompt)
    form.width_box.setValue(size)
    form.height_box.setValue(size)
    form.seed_field.keep(5)


def listed(box) -> list[str]:
    return [box.itemData(i) for i in range(box.count())]


@pytest.mark.parametrize("panel_name", ["race_panel", "grid_panel"])
def test_a_flow_family_offers_its_own_schedulers_and_defaults_and_an_sd_model_all_again(window, panel_name):
    form = getattr(window, panel_name).form
    for name, key in (("tiny-sd3", "sd3"), ("tiny-flux", "flux")):
        choose(form, name)
        family = BY_KEY[key]
        assert listed(form.scheduler_box) == list(family.schedulers)
        assert form.scheduler_box.currentData() == family.defaults["scheduler"]
        assert form.steps.value() == family.defaults["steps"]
        assert form.guidance.value() == family.defaults["guidance_scale"]
        if panel_name == "race_panel":
            assert list(form.checks) == list(family.schedulers)
        else:
            row = form.axis_rows[0]
            row.choose("scheduler", "")
            assert set(row.values_edit.placeholderText().removeprefix("e.g. ").split(", ")) <= set(family.schedulers)
            assert (row.name_box.findData("clip_skip") >= 0) == family.clip_skip  # SD 3.5's CLIPs take it, Flux not
    choose(form, "tiny-sd")
    assert listed(form.scheduler_box) == list(LATENT_SCHEDULERS)
    assert form.guidance.value() == Text2ImageJob.guidance_scale
    if panel_name == "race_panel":
        assert list(form.checks) == list(LATENT_SCHEDULERS)
    else:
        assert form.axis_rows[0].name_box.findData("clip_skip") >= 0


def test_a_flux_race_over_its_schedulers_runs_each_lane_as_its_own_job(window, qtbot, tmp_path):
    panel = window.race_panel
    form = panel.form
    window.tabs.setCurrentWidget(panel)
    choose(form, "tiny-flux")
    form.field_box.setCurrentIndex(form.field_box.findData("scheduler"))
    form.steps.setValue(2)
    for name, box in form.checks.items():
        box.setChecked(name in ("euler", "unipc"))
    with qtbot.waitSignal(panel.race_finished, timeout=120000) as finished:
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    result = finished.args[0]
    assert result is not None and [lane.label for lane in result.lanes] == ["euler", "unipc"]
    for lane, job in zip(result.lanes, result.race.lanes()):
        assert isinstance(job, Text2ImageJob) and job.scheduler == lane.label and job.guidance_scale == 3.5
        assert len([e for e in lane.steps if not e.final]) == 2
        assert all(e.x0 is not None for e in lane.steps)
    alone = Engine(device="cpu").run(result.race.lanes()[1], save=False).images
    assert np.array_equal(result.lanes[1].result.images, alone)
    written = export_race(tmp_path / "export", result, "cpu")  # each lane's PNG with Flux's own fields
    with Image.open(written["lanes"]["unipc"]) as image:
        assert "CFG scale: 1, Distilled CFG Scale: 3.5" in image.text["parameters"]


@pytest.mark.parametrize(("name", "axes", "guidance_key"), [
    ("tiny-sd3", (("scheduler", "euler, dpm++2m"), ("guidance", "2, 5")), "CFG scale"),
    ("tiny-flux", (("steps", "1, 2"), ("guidance", "2, 5")), "Distilled CFG Scale"),
])
def test_a_grid_over_scheduler_steps_and_guidance_saves_every_cell_with_its_familys_fields(
        window, qtbot, name, axes, guidance_key):
    panel = window.grid_panel
    form = panel.form
    window.tabs.setCurrentWidget(panel)
    choose(form, name)
    form.steps.setValue(2)
    for row, (axis, values) in zip(form.axis_rows, axes):
        row.choose(axis, values)
    with qtbot.waitSignal(panel.grid_finished, timeout=120000) as finished:
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    grid = finished.args[0]
    assert grid is not None and len(grid.cells) == 4
    for cell in grid.cells:
        saved = cell.result.saved_paths[0]
        assert read_job(saved) == cell.job
        with Image.open(saved) as image:
            fields = parse_a1111(image.text["parameters"])
        assert float(fields[guidance_key]) == cell.job.guidance_scale
    values = {(cell.job.scheduler, cell.job.steps, cell.job.guidance_scale) for cell in grid.cells}
    assert len(values) == 4 and {g for *_, g in values} == {2.0, 5.0}
    with Image.open(panel.sheet_path) as sheet:  # the sheet names its first cell's settings the same way
        assert float(parse_a1111(sheet.text["parameters"])[guidance_key]) == grid.cells[0].job.guidance_scale
    last = grid.cells[-1]
    alone = Engine(device="cpu").run(last.job.replace(output_dir=""), save=False).images
    with Image.open(last.result.saved_paths[0]) as image:
        assert np.array_equal(np.asarray(image.convert("RGB")), alone[0])
