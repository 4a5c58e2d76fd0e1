"""The scrubber under pytest-qt: every kept step shown as stored, keys, play, the change view, exports, and
looking back while a run goes on."""

from __future__ import annotations

import pytest
from PIL import Image
from PySide6.QtCore import Qt

from ddpm_studio.engine.step_export import change_image
from ddpm_studio.ui.images import grid, to_qimage
from ddpm_studio.ui.settings import Settings


@pytest.fixture()
def window(make_window, tmp_path, tiny_ddpm_dir):
    settings = Settings(tmp_path / "settings.ini")
    settings.output_dir = str(tmp_path / "out")
    settings.add_model_folder(str(tiny_ddpm_dir))
    settings.history_budget_mb = 64
    return make_window(settings)


def run(window, qtbot, steps=8, scheduler="ddim"):
    panel = window.generate_panel
    panel.model_box.setCurrentIndex(panel.model_box.findText("tiny-ddpm"))
    panel.scheduler_box.setCurrentIndex(panel.scheduler_box.findData(scheduler))
    panel.steps.setValue(steps)
    panel.batch.setValue(2)
    with qtbot.waitSignal(window.sampler.job_finished, timeout=60000):
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Done" in panel.canvas.step_label.text(), timeout=10000)
    return panel.canvas


def test_every_step_shows_its_stored_frames(window, qtbot):
    assert window.sampler.history_budget == 64 * 1024 * 1024  # the preference reaches the sampler
    canvas = run(window, qtbot)
    history = canvas._history
    assert len(history) == 8 and canvas.kept_label.text() == "8 steps"
    for i in range(8):
        canvas.slider.setValue(i)
        assert canvas.x_t_view.image() == to_qimage(grid(history[i].x_t))
        assert canvas.x0_view.image() == to_qimage(grid(history[i].x0))
        assert canvas.step_label.text().startswith(f"Step {i + 1}/8 · t=")
        assert "ᾱ_t=" in canvas.step_label.text()
    canvas.right_view.setCurrentIndex(canvas.right_view.findData("change"))
    canvas.slider.setValue(3)
    assert canvas.x0_view.image() == to_qimage(grid(change_image(history[3], history[2])))


def test_keys_and_play(window, qtbot):
    canvas = run(window, qtbot)
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_Home)
    assert canvas.slider.value() == 0
    qtbot.keyClick(canvas, Qt.Key.Key_Right)
    qtbot.keyClick(canvas, Qt.Key.Key_Right)
    assert canvas.slider.value() == 2
    qtbot.keyClick(canvas, Qt.Key.Key_End)
    qtbot.keyClick(canvas, Qt.Key.Key_Left)
    assert canvas.slider.value() == 6
    qtbot.keyClick(canvas, Qt.Key.Key_Space)  # plays from here to the end, then stops
    assert canvas.playing
    qtbot.waitUntil(lambda: not canvas.playing, timeout=5000)
    assert canvas.slider.value() == 7
    qtbot.keyClick(canvas, Qt.Key.Key_Space)  # at the end: starts again from the first step
    assert canvas.playing and canvas.slider.value() <= 1
    qtbot.keyClick(canvas, Qt.Key.Key_Space)
    assert not canvas.playing


def test_exports_from_the_canvas(window, qtbot, tmp_path):
    canvas = run(window, qtbot, steps=6)
    canvas.export("gif", str(tmp_path / "run.gif"))
    with Image.open(tmp_path / "run.gif") as gif:
        assert gif.n_frames == 6
    canvas.export("webp", str(tmp_path / "run.webp"))
    with Image.open(tmp_path / "run.webp") as webp:
        assert webp.n_frames == 6
    canvas.export("frames", str(tmp_path / "frames"))
    assert len(list((tmp_path / "frames").glob("frame-*.png"))) == 6
    canvas.export("sheet", str(tmp_path / "sheet.png"))
    assert Image.open(tmp_path / "sheet.png").width > 256


def test_looking_back_during_a_run(window, qtbot):
    panel = window.generate_panel
    panel.model_box.setCurrentIndex(panel.model_box.findText("tiny-ddpm"))
    panel.scheduler_box.setCurrentIndex(panel.scheduler_box.findData("ddpm"))
    panel.steps.setValue(1000)
    panel.batch.setValue(1)
    canvas = panel.canvas
    with qtbot.waitSignal(window.sampler.job_finished, timeout=120000):
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: canvas.slider.isEnabled() and canvas.slider.maximum() >= 5, timeout=30000)
        canvas.slider.setValue(0)  # look back at the first step while sampling goes on
        first = to_qimage(grid(canvas._history[0].x_t))
        shown_at = canvas.progress.value()
        qtbot.waitUntil(lambda: canvas.progress.value() > shown_at + 5, timeout=30000)
        assert canvas.slider.value() == 0 and canvas.x_t_view.image() == first  # it stays where the user put it
        assert canvas.slider.maximum() > 5  # while the range keeps growing
        panel.cancel()
