"""The scrubber under pytest-qt: every kept step shown as stored, keys, play, the change view, exports, and
looking back while a run goes on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from ddpm_studio.engine.output.step_export import change_image, frame_image
from ddpm_studio.ui.core.settings import Settings
from ddpm_studio.ui.widgets.images import grid, to_qimage
from tests.ui_runs import run_generate


@pytest.fixture()
def window(make_window, tmp_path, tiny_ddpm_dir):
    settings = Settings(tmp_path / "settings.ini")
    settings.output_dir = str(tmp_path / "out")
    settings.add_model_folder(str(tiny_ddpm_dir))
    settings.history_budget_mb = 64
    return make_window(settings)


def test_every_step_shows_its_stored_frames(window, qtbot):
    assert window.sampler.history_budget == 64 * 1024 * 1024  # the preference reaches the sampler
    canvas = run_generate(window, qtbot)
    history = canvas._history
    assert len(history) == 9 and canvas.kept_label.text() == "8 steps + the result"
    for i in range(8):
        canvas.slider.setValue(i)
        assert canvas.x_t_view.image() == to_qimage(grid(history[i].x_t))
        assert canvas.x0_view.image() == to_qimage(grid(history[i].x0))
        assert canvas.step_label.text().startswith(f"Step {i + 1}/8 · t=")
        assert "ᾱ_t=" in canvas.step_label.text()
    canvas.slider.setValue(8)  # the last position is the result, x_0: what was saved
    assert history[8].final and canvas.step_label.text() == "x_0 — the result, after all 8 steps"
    saved = np.stack([np.asarray(Image.open(p)) for p in sorted(window.generate_panel.gallery.paths())])
    assert canvas.x0_view.image() == canvas.x_t_view.image() == to_qimage(grid(saved))
    canvas.right_view.setCurrentIndex(canvas.right_view.findData("change"))
    canvas.slider.setValue(3)
    assert canvas.x0_view.image() == to_qimage(grid(change_image(history[3], history[2])))


def test_keys_and_play(window, qtbot):
    canvas = run_generate(window, qtbot)
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_Home)
    assert canvas.slider.value() == 0
    qtbot.keyClick(canvas, Qt.Key.Key_Right)
    qtbot.keyClick(canvas, Qt.Key.Key_Right)
    assert canvas.slider.value() == 2
    qtbot.keyClick(canvas, Qt.Key.Key_End)
    qtbot.keyClick(canvas, Qt.Key.Key_Left)
    assert canvas.slider.value() == 7  # 8 steps, then the result
    qtbot.keyClick(canvas, Qt.Key.Key_Space)  # plays from here to the end, then stops
    assert canvas.playing
    qtbot.waitUntil(lambda: not canvas.playing, timeout=5000)
    assert canvas.slider.value() == 8
    qtbot.keyClick(canvas, Qt.Key.Key_Space)  # at the end: starts again from the first step
    assert canvas.playing and canvas.slider.value() <= 1
    qtbot.keyClick(canvas, Qt.Key.Key_Space)
    assert not canvas.playing


def test_exports_from_the_canvas(window, qtbot, tmp_path):
    canvas = run_generate(window, qtbot, steps=6)
    canvas.export("gif", str(tmp_path / "run.gif"))
    with Image.open(tmp_path / "run.gif") as gif:
        assert gif.n_frames == 7  # six steps, then the result
    canvas.export("webp", str(tmp_path / "run.webp"))
    with Image.open(tmp_path / "run.webp") as webp:  # lossless: the last frame is exactly the result's
        assert webp.n_frames == 7
        webp.seek(6)
        last = np.asarray(webp.convert("RGB"))
    result = frame_image(canvas._history[6], "both", canvas._history[5], width=last.shape[1])
    assert canvas._history[6].final and np.array_equal(last, result)
    canvas.export("frames", str(tmp_path / "frames"))
    names = sorted(p.name for p in (tmp_path / "frames").glob("frame-*.png"))
    assert len(names) == 7 and names[-1] == "frame-0007-result.png"
    canvas.export("sheet", str(tmp_path / "sheet.png"))
    assert Image.open(tmp_path / "sheet.png").width > 256


@pytest.mark.parametrize("kind, suffix", [("gif", ".gif"), ("webp", ".webp"), ("sheet", ".png")])
def test_export_dialog_starts_in_the_output_folder_and_adds_the_suffix(window, qtbot, tmp_path, monkeypatch, kind,
                                                                     suffix):
    from PySide6.QtWidgets import QFileDialog

    canvas = run_generate(window, qtbot, steps=3)
    asked = []
    chosen = str(tmp_path / "out" / "mine")  # a name typed without its extension
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda parent, title, start, filter_: (asked.append(start), (chosen, filter_))[1])
    with qtbot.waitSignal(canvas.exported) as exported:
        canvas.choose_export(kind)
    seed = window.generate_panel.current_job().seed
    assert asked == [str(tmp_path / "out" / f"steps-generate-seed{seed}-ddim{suffix}")]  # a name from the run
    assert exported.args == [str(tmp_path / "out" / f"mine{suffix}")]
    with Image.open(tmp_path / "out" / f"mine{suffix}") as picture:
        assert picture.width > 0
    assert "Exported the steps to" in window.statusBar().currentMessage()


def test_an_export_that_cannot_be_written_is_a_message(window, qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    canvas = run_generate(window, qtbot, steps=3)
    target = tmp_path / "no such folder" / "steps.gif"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args: (str(target), ""))
    assert canvas.choose_export("gif") is None
    assert canvas.error_box is not None and str(target) in canvas.error_box.text()
    assert not target.exists()
    canvas.error_box.close()


def test_looking_back_during_a_run_generate(window, qtbot):
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


def test_frames_go_into_a_folder_of_their_own(window, qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    canvas = run_generate(window, qtbot, steps=3)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args: str(tmp_path / "out"))
    first, second = canvas.choose_export("frames"), canvas.choose_export("frames")
    seed = window.generate_panel.current_job().seed
    assert first == str(tmp_path / "out" / f"steps-generate-seed{seed}-ddim-frames") and second == first + "-2"
    assert len(list((tmp_path / "out").glob("frame-*.png"))) == 0  # none loose among the results
    assert len(list(Path(first).glob("frame-*.png"))) == 4
