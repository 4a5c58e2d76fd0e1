"""The Race tab under pytest-qt: lanes run as ordinary jobs on the sampler thread (each image that of a separate run),
scrubbed together by fraction of the run, plotted per lane, cancelled (nothing kept) and exported."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from ddpm_studio.engine.jobs.types import GenerateJob
from ddpm_studio.engine.output.metadata import read_job
from ddpm_studio.engine.runner import Engine
from ddpm_studio.ui.core.settings import Settings
from ddpm_studio.ui.core.worker import SamplerThread
from ddpm_studio.ui.widgets.images import to_qimage


@pytest.fixture()
def window(make_window, tmp_path, tiny_ddpm_dir):
    settings = Settings(tmp_path / "settings.ini")
    settings.output_dir = str(tmp_path / "out")
    settings.add_model_folder(str(tiny_ddpm_dir))
    window = make_window(settings)
    window.tabs.setCurrentWidget(window.race_panel)
    return window


def set_race(panel, field, values, steps=5, scheduler="ddim", seed=7):
    form = panel.form
    form.model_box.setCurrentIndex(form.model_box.findText("tiny-ddpm"))
    form.field_box.setCurrentIndex(form.field_box.findData(field))
    form.steps.setValue(steps)
    form.scheduler_box.setCurrentIndex(form.scheduler_box.findData(scheduler))
    if field == "scheduler":
        for name, box in form.checks.items():
            box.setChecked(name in values)
    else:
        form.values_edit.setText(", ".join(map(str, values)))
    form.seed_field.keep(seed)


def run(panel, qtbot):
    with qtbot.waitSignal(panel.race_finished, timeout=120000) as finished:
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    return finished.args[0]


def test_each_lane_is_the_image_of_a_separate_run(window, qtbot, tmp_path):
    panel = window.race_panel
    set_race(panel, "scheduler", ("ddim", "euler-a"))
    assert not panel.form.row_shown(panel.form.scheduler_box) and panel.form.row_shown(panel.form.checks_widget)
    result = run(panel, qtbot)
    assert result is not None and [lane.label for lane in result.lanes] == ["ddim", "euler-a"]
    for lane, job in zip(result.lanes, result.race.lanes()):
        assert isinstance(job, GenerateJob) and job.scheduler == lane.label and job.seed == 7
        alone = Engine(device="cpu").run(job, save=False).images
        assert np.array_equal(lane.result.images, alone)
        assert lane.steps[-1].final and len([e for e in lane.steps if not e.final]) == 5
        assert {e.lane for e in lane.steps} == {result.lanes.index(lane)}
    # at the scrubber's right end every lane shows its result; the plot has a curve per lane, a point per step
    shown = panel.shown_events()
    assert all(event.final for event in shown)
    assert panel.lanes_view.x0_views[1].image() == to_qimage(result.lanes[1].steps[-1].x0[0])
    assert [label for label, _ in panel.plot.curves] == ["ddim", "euler-a"]
    assert all(len(points) == 5 for _, points in panel.plot.curves)
    distances = [d for _, d, _ in panel.plot.curves[0][1]]
    assert distances[0] > distances[-1] >= 0
    assert panel.export_button.isEnabled() and not panel.cancel_button.isEnabled()
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.png"))  # a race saves nothing


def test_the_scrubber_lines_lanes_up_by_fraction_and_the_plot_moves_it(window, qtbot):
    panel = window.race_panel
    set_race(panel, "steps", (4, 8))
    assert panel.form.row_shown(panel.form.values_edit) and not panel.form.row_shown(panel.form.steps)
    result = run(panel, qtbot)
    assert [lane.label for lane in result.lanes] == ["steps-4", "steps-8"]
    panel.slider.setValue(500)
    short, long_ = panel.shown_events()
    assert (short.index, short.total, long_.index, long_.total) == (1, 4, 3, 8)  # step 2/4 beside step 4/8
    assert panel.lanes_view.step_labels[0].text().startswith("step 2/4")
    assert panel.lanes_view.step_labels[1].text().startswith("step 4/8")
    assert panel.lanes_view.x_t_views[1].image() == to_qimage(long_.x_t[0])
    assert panel.plot.marker == 0.5 and panel.scrub_label.text() == "50 % of the run"
    plot = panel.plot
    qtbot.mouseClick(plot, Qt.MouseButton.LeftButton, pos=QPoint(round(plot.x_of(0.25)), plot.height() // 2))
    assert abs(panel.slider.value() - 250) <= 5 and abs(plot.marker - 0.25) < 0.01
    assert panel.shown_events()[1].index == 1  # step 2 of 8


def test_cancel_mid_race_keeps_no_lane(window, qtbot):
    panel = window.race_panel
    set_race(panel, "steps", (2, 1000), scheduler="ddpm")
    with qtbot.waitSignal(panel.race_finished, timeout=120000) as finished:
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: len(panel.finished) == 1 and panel.shown_events()[1] is not None, timeout=60000)
        assert panel.shown_events()[0].final and len(panel.plot.curves) == 1  # the first lane is done
        qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    assert finished.args == [None]
    assert panel.finished == [] and panel.result is None
    assert panel.shown_events() == [None, None] and panel.plot.curves == []
    assert all(label.text() == "Cancelled — nothing kept" for label in panel.lanes_view.step_labels)
    assert not panel.export_button.isEnabled() and panel.run_button.isEnabled()
    assert not panel.open_button.isEnabled()
    assert not list(Path(window.settings.panel_output_dir("race")).glob("race-*"))  # a cancelled race saves nothing
    qtbot.waitUntil(lambda: not window.sampler.busy, timeout=30000)


def test_cancel_stops_only_the_job_asked_for():
    thread = SamplerThread()  # never started: its queue is only looked at
    job = GenerateJob(model="bundled:emoji-32", steps=3, batch_size=1)
    first, second = thread.submit(job), thread.submit(job)
    thread.cancel(first)
    assert thread._pending == {second} and not thread._stop_current.is_set()


def test_export_writes_the_race(window, qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    panel = window.race_panel
    set_race(panel, "scheduler", ("ddim", "dpm++2m"), steps=3)
    result = run(panel, qtbot)
    saved = panel.folder  # saved as it finished, before any export, into a folder of its own
    assert saved is not None and saved.parent == Path(window.settings.panel_output_dir("race"))
    assert saved.name.startswith("race-") and panel.open_button.isEnabled()
    assert sorted(p.name for p in saved.iterdir()) == ["contact-sheet.png", "ddim.png", "dpm++2m.png", "race.csv",
                                                       "race.gif", "race.webp"]
    assert str(saved) in panel.status.text()
    from ddpm_studio.engine.gallery.index import GalleryIndex

    index = GalleryIndex()  # each lane is an image of the gallery
    try:
        assert index.get(str(saved / "ddim.png")) is not None and index.get(str(saved / "dpm++2m.png")) is not None
    finally:
        index.close()

    target = tmp_path / "new" / "race-copy"  # a name typed in the dialog, not there yet: made
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args: (str(target), ""))
    written = panel.choose_export()
    assert sorted(written["lanes"]) == ["ddim", "dpm++2m"]
    assert [lane.label for lane in result.lanes] == ["dpm++2m", "ddim"]  # in the order the panel lists them
    assert read_job(target / "ddim.png") == result.lanes[1].job
    assert all((target / name).is_file() for name in ("race.gif", "race.webp", "contact-sheet.png", "race.csv"))
    assert "Exported the race" in window.statusBar().currentMessage()


def test_a_guidance_race_of_a_text_to_image_model(make_window, qtbot, tmp_path):
    from tests.tiny_sd import save_tiny_sd

    settings = Settings(tmp_path / "settings.ini")
    settings.add_model_folder(str(save_tiny_sd(tmp_path / "models" / "tiny-sd")))
    panel = make_window(settings).race_panel
    form = panel.form
    form.model_box.setCurrentIndex(form.model_box.findText("tiny-sd"))
    assert form.row_shown(form.prompt) and form.row_shown(form.size_row)
    assert "lcm" in form.checks and "ddpm" not in form.checks  # the schedulers Text to Image offers
    form.field_box.setCurrentIndex(form.field_box.findData("guidance_scale"))
    form.values_edit.setText("3, 9")
    form.prompt.setPlainText("a cat")
    form.width_box.setValue(64)
    form.height_box.setValue(64)
    form.steps.setValue(2)
    race = form.current_race()
    assert [job.guidance_scale for job in race.lanes()] == [3.0, 9.0]
    assert {(job.kind, job.prompt, job.width) for job in race.lanes()} == {("txt2img", "a cat", 64)}
    result = run(panel, qtbot)
    assert [lane.label for lane in result.lanes] == ["guidance-3", "guidance-9"]
    assert all(event.final for event in panel.shown_events()) and len(panel.plot.curves) == 2


def test_lanes_that_cannot_race_are_a_message(window, qtbot):
    panel = window.race_panel
    set_race(panel, "steps", ("10", "x"))
    assert panel.run_race() is None
    assert "whole numbers separated by commas" in panel.error_box.text() and not panel.running
    panel.error_box.close()
    set_race(panel, "scheduler", ("ddim",))
    assert panel.run_race() is None and "2 to 8 lanes" in panel.error_box.text()
    panel.error_box.close()
