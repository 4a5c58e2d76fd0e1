"""The Grid tab under pytest-qt: every cell an ordinary run on the sampler thread, saved with its own metadata beside
the labelled sheet; the scrubber steps every cell together; cancel keeps no cell on disk."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from ddpm_studio.engine.output.metadata import read_job
from ddpm_studio.engine.runner import Engine
from ddpm_studio.engine.series.xyz_grid import GRID_KEY
from ddpm_studio.ui.core.settings import Settings
from ddpm_studio.ui.widgets.images import to_qimage


@pytest.fixture()
def window(window_on, tiny_ddpm_dir):
    window = window_on(tiny_ddpm_dir)
    window.tabs.setCurrentWidget(window.grid_panel)
    return window


def set_grid(panel, x=("", ""), y=("", ""), z=("", ""), steps=3, seed=5):
    form = panel.form
    form.model_box.setCurrentIndex(form.model_box.findText("tiny-ddpm"))
    form.scheduler_box.setCurrentIndex(form.scheduler_box.findData("ddim"))
    form.steps.setValue(steps)
    form.seed_field.keep(seed)
    for row, (name, values) in zip(form.axis_rows, (x, y, z)):
        row.choose(name, values)


def run(panel, qtbot):
    with qtbot.waitSignal(panel.grid_finished, timeout=120000) as finished:
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    return finished.args[0]


def test_every_cell_is_a_separate_run_saved_beside_the_sheet(window, qtbot, tmp_path):
    panel = window.grid_panel
    set_grid(panel, x=("scheduler", "ddim, euler-a"), y=("steps", "2, 4"))
    grid = run(panel, qtbot)
    assert grid is not None and len(grid.cells) == 4
    assert [c.coords for c in grid.cells] == [(0, 0, 0), (1, 0, 0), (0, 1, 0), (1, 1, 0)]
    folder = panel.folder
    assert folder.parent == tmp_path / "out" and folder.name.startswith("grid-")
    for cell in grid.cells:
        saved = cell.result.saved_paths[0]
        assert saved.startswith(str(folder))
        job = read_job(saved)  # normal metadata: the cell's own settings
        assert (job.scheduler, job.steps, job.seed) == (cell.job.scheduler, cell.job.steps, 5)
        alone = Engine(device="cpu").run(cell.job.replace(output_dir=""), save=False).images
        assert np.array_equal(np.asarray(Image.open(saved).convert("RGB")), alone[0])
    sheet = Image.open(panel.sheet_path)
    assert panel.sheet_path == folder / "grid.png"
    axes = json.loads(sheet.info[GRID_KEY])["axes"]
    assert axes == [{"name": "scheduler", "values": ["ddim", "euler-a"]}, {"name": "steps", "values": [2, 4]}]
    assert all(event.final for event in panel.shown_events())
    assert panel.cells_view.views[3].image() == to_qimage(panel.finished[3].steps[-1].x0[0])
    assert panel.open_button.isEnabled() and not panel.cancel_button.isEnabled()


def test_the_scrubber_steps_every_cell_together(window, qtbot):
    panel = window.grid_panel
    set_grid(panel, x=("steps", "4, 8"), y=("scheduler", "ddim"), z=("seed", "1, 2"))
    run(panel, qtbot)
    view = panel.cells_view
    assert view.z_box.isVisibleTo(panel) and view.z_box.count() == 2 and view.pages.count() == 2
    panel.slider.setValue(500)
    shown = panel.shown_events()
    assert [(e.index, e.total) for e in shown] == [(1, 4), (3, 8), (1, 4), (3, 8)]  # step 2/4 beside step 4/8
    assert view.step_labels[1].text().startswith("step 4/8")
    assert view.views[1].image() == to_qimage(shown[1].x0[0])
    view.show_box.setCurrentIndex(view.show_box.findData("x_t"))
    assert view.views[1].image() == to_qimage(shown[1].x_t[0])
    panel.slider.setValue(0)
    assert [e.index for e in panel.shown_events()] == [0, 0, 0, 0]
    view.z_box.setCurrentIndex(1)
    assert view.pages.currentWidget().isAncestorOf(view.views[2])


def test_cancel_keeps_no_cell_on_disk(window, qtbot, tmp_path):
    panel = window.grid_panel
    set_grid(panel, x=("steps", "2, 1000"), steps=2)
    panel.form.scheduler_box.setCurrentIndex(panel.form.scheduler_box.findData("ddpm"))
    with qtbot.waitSignal(panel.grid_finished, timeout=120000) as finished:
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: len(panel.finished) == 1 and panel.shown_events()[1] is not None, timeout=60000)
        assert list(panel.folder.glob("*.png"))  # the first cell was saved
        qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    assert finished.args == [None]
    assert not panel.folder.exists() and panel.result is None and panel.finished == []
    assert all(label.text() == "Cancelled — nothing kept" for label in panel.cells_view.step_labels)
    assert not panel.open_button.isEnabled() and panel.run_button.isEnabled()
    qtbot.waitUntil(lambda: not window.sampler.busy, timeout=30000)


def test_axes_that_cannot_make_a_grid_are_a_message(window, qtbot, tmp_path):
    panel = window.grid_panel
    set_grid(panel)
    assert panel.run_series() is None and "X axis" in panel.error_box.text()
    panel.error_box.close()
    set_grid(panel, x=("steps", "10, 20"), z=("seed", "1, 2"))
    assert panel.run_series() is None and "the Y axis is not" in panel.error_box.text()
    panel.error_box.close()
    set_grid(panel, x=("steps", "10, x"))
    assert panel.run_series() is None and "The X axis" in panel.error_box.text()
    assert "takes whole numbers" in panel.error_box.text()
    panel.error_box.close()
    set_grid(panel, x=("steps", "0, 5"))
    assert panel.run_series() is None and "The X axis (steps 0)" in panel.error_box.text()
    panel.error_box.close()
    set_grid(panel, x=("scheduler", "Euler a, DDIM"))
    assert [a.values for a in panel.form.axes()] == [("euler-a", "ddim")]  # as the lists show them, any case
    names = [panel.form.axis_rows[0].name_box.itemData(i) for i in range(panel.form.axis_rows[0].name_box.count())]
    assert "autoguidance" in names and "prompt" not in names  # a pixel model's parameters
    assert not panel.running and not list((tmp_path / "out").glob("grid-*"))


def test_a_text_to_image_grid_with_a_prompt_axis(make_window, qtbot, tmp_path):
    from tests.tiny_sd import save_tiny_sd

    settings = Settings(tmp_path / "settings.ini")
    settings.output_dir = str(tmp_path / "out")
    settings.add_model_folder(str(save_tiny_sd(tmp_path / "models" / "tiny-sd")))
    panel = make_window(settings).grid_panel
    form = panel.form
    form.model_box.setCurrentIndex(form.model_box.findText("tiny-sd"))
    assert form.row_shown(form.prompt) and form.row_shown(form.negative_prompt)
    form.prompt.setPlainText("a red cat")
    form.negative_prompt.setPlainText("blurry")
    form.width_box.setValue(64)
    form.height_box.setValue(64)
    form.steps.setValue(2)
    form.seed_field.keep(3)
    form.axis_rows[0].choose("prompt", "red, blue")
    form.axis_rows[1].choose("guidance", "3, 9")
    grid = run(panel, qtbot)
    assert [(c.job.prompt, c.job.guidance_scale) for c in grid.cells] == [
        ("a red cat", 3.0), ("a blue cat", 3.0), ("a red cat", 9.0), ("a blue cat", 9.0)]
    assert {c.job.negative_prompt for c in grid.cells} == {"blurry"}
    assert read_job(grid.cells[1].result.saved_paths[0]).prompt == "a blue cat"
