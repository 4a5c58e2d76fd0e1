"""The app under pytest-qt (offscreen): generate, previews, gallery, cancel, queue, restore, close mid-run."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QAction, QDropEvent

from ddpm_studio.engine.jobs.types import GenerateJob
from ddpm_studio.engine.output.metadata import read_job
from ddpm_studio.ui.core.settings import Settings
from ddpm_studio.ui.widgets.images import to_qimage


@pytest.fixture()
def models_root(tiny_ddpm_dir, tmp_path):
    root = tmp_path / "my-models"
    shutil.copytree(tiny_ddpm_dir, root / "tiny-ddpm")
    return root


def settings_for(settings_path, models_root, out_dir) -> Settings:
    settings = Settings(settings_path)
    settings.add_model_folder(str(models_root))
    settings.output_dir = str(out_dir)
    return settings


@pytest.fixture()
def window(make_window, tmp_path, models_root):
    return make_window(settings_for(tmp_path / "settings.ini", models_root, tmp_path / "out"))


def pixels(view) -> bytes:
    """The view's image as tightly packed RGB bytes (QImage rows carry padding)."""
    image = view.image()
    if image is None:
        return b""
    image = image.convertToFormat(image.Format.Format_RGB888)
    row = image.width() * 3
    data = bytes(image.constBits())
    return b"".join(data[y * image.bytesPerLine() : y * image.bytesPerLine() + row] for y in range(image.height()))


def set_form(panel, scheduler="ddim", steps=6, seed=5, batch=2):
    panel.model_box.setCurrentIndex(panel.model_box.findText("tiny-ddpm"))
    panel.scheduler_box.setCurrentIndex(panel.scheduler_box.findData(scheduler))
    panel.steps.setValue(steps)
    panel.random_seed.setChecked(False)
    panel.seed.setText(str(seed))
    panel.batch.setValue(batch)


def test_generate_shows_previews_saves_png_and_fills_gallery(window, qtbot, tmp_path):
    panel = window.generate_panel
    assert panel.generate_button.isEnabled()
    assert panel.model_box.itemData(0).startswith("bundled:")  # the bundled model comes first: the default
    set_form(panel, steps=8, seed=5, batch=2)
    assert panel.model_box.currentText() == "tiny-ddpm"

    seen = []
    panel.canvas.x0_view.set_image = _recording(panel.canvas.x0_view.set_image, lambda: seen.append(pixels(panel.canvas.x0_view)))
    with qtbot.waitSignal(window.sampler.job_finished, timeout=60000):
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.gallery.count() == 2, timeout=10000)

    assert len(seen) >= 2 and len(set(seen)) >= 2  # the canvas changed between steps
    saved = sorted((tmp_path / "out").glob("*.png"))
    assert [p.name for p in saved] == ["00000-5.png", "00001-6.png"]
    assert sorted(panel.gallery.paths()) == [str(p) for p in saved]
    assert read_job(saved[0]) == panel.current_job()
    assert "Done" in panel.canvas.step_label.text()
    # the scrubber holds every step, then the result x_0 (the saved images), and shows the stored frame for each
    history = panel.canvas._history
    assert len(history) == 9 and panel.canvas.slider.isEnabled()
    assert [f.final for f in history.frames()] == [False] * 8 + [True]
    saved_pixels = np.stack([np.asarray(Image.open(p)) for p in saved])
    assert np.array_equal(history[-1].x0, saved_pixels) and np.array_equal(history[-1].x_t, saved_pixels)
    assert panel.canvas.kept_label.text() == "8 steps + the result"
    panel.canvas.slider.setValue(7)
    panel.canvas.slider.setValue(8)
    assert panel.canvas.step_label.text() == "x_0 — the result, after all 8 steps"
    assert panel.canvas.x0_view.image() == to_qimage(_grid(saved_pixels))
    panel.canvas.slider.setValue(0)
    assert panel.canvas.x0_view.image() == to_qimage(_grid(history[0].x0))
    assert panel.canvas.x0_view.image() != to_qimage(_grid(history[-1].x0))
    assert "Step 1/8" in panel.canvas.step_label.text()
    # the large viewer opens from the gallery
    viewer = panel.gallery.view_item(panel.gallery.item(0))
    assert not viewer.view.image().isNull()
    viewer.close()


def test_cancel_mid_run_saves_nothing(window, qtbot, tmp_path):
    panel = window.generate_panel
    set_form(panel, scheduler="ddpm", steps=1000, batch=1)
    with qtbot.waitSignal(window.sampler.job_finished, timeout=60000) as finished:
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: panel.canvas.progress.value() >= 2, timeout=30000)
        qtbot.keyClick(panel, Qt.Key.Key_Escape)
    result = finished.args[1]
    assert result.cancelled and result.steps_run < 1000
    qtbot.waitUntil(lambda: "Cancelled" in panel.canvas.step_label.text(), timeout=5000)
    assert not list((tmp_path / "out").glob("*.png"))
    assert panel.gallery.count() == 0


def test_queue_runs_in_order_and_cancel_all(window, qtbot, tmp_path):
    panel = window.generate_panel
    set_form(panel, steps=3, seed=1, batch=1)
    panel.generate()
    set_form(panel, steps=3, seed=2, batch=1)
    panel.generate()
    qtbot.waitUntil(lambda: panel.gallery.count() == 2, timeout=60000)
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["00000-1.png", "00001-2.png"]

    set_form(panel, scheduler="ddpm", steps=1000, seed=3, batch=1)
    panel.generate()
    panel.generate()
    qtbot.waitUntil(lambda: window.sampler.busy and "1 waiting" in panel.queue_label.text(), timeout=30000)
    panel.cancel_all()
    qtbot.waitUntil(lambda: not window.sampler.busy and window.sampler._queue.empty(), timeout=30000)
    qtbot.wait(200)
    assert panel.gallery.count() == 2 and panel.queue_label.text() == ""


def test_cancel_is_said_at_once(window, qtbot, tmp_path):
    panel = window.generate_panel
    set_form(panel, scheduler="ddpm", steps=1000, batch=1)
    with qtbot.waitSignal(window.sampler.job_finished, timeout=60000):
        panel.generate()
        qtbot.waitUntil(lambda: panel.canvas.progress.value() >= 2, timeout=30000)
        assert "running" in panel.canvas.progress.text()  # which step runs now, not only the last one shown
        qtbot.keyClick(panel, Qt.Key.Key_Escape)
        assert panel.canvas.step_label.text() == "Cancelling…"  # before the run has stopped
    qtbot.waitUntil(lambda: "Cancelled" in panel.canvas.step_label.text(), timeout=5000)


def test_close_window_mid_run_asks_then_stops_cleanly(make_window, qtbot, tmp_path, models_root):
    window = make_window(settings_for(tmp_path / "settings.ini", models_root, tmp_path / "out"))
    panel = window.generate_panel
    set_form(panel, scheduler="ddpm", steps=1000, batch=1)
    panel.generate()
    qtbot.waitUntil(lambda: panel.canvas.progress.value() >= 2, timeout=30000)
    window.close()  # the window's close button, File → Quit and Ctrl+Q all come here
    box = window.quit_guard.box
    assert box is not None and box.isVisible() and "a run is in progress" in box.text().lower()
    assert box.defaultButton().text() == "Keep working"
    box.defaultButton().click()  # keep working: the run goes on
    progress = panel.canvas.progress.value()
    qtbot.waitUntil(lambda: panel.canvas.progress.value() > progress, timeout=30000)
    assert window.isVisible() and window.sampler.busy

    window.close()
    window.quit_guard.quit_button.click()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=30000)  # closed once the sampler had stopped
    assert window.sampler.isFinished()
    assert not list((tmp_path / "out").glob("*.png"))


def test_close_window_when_idle_closes_at_once(make_window, qtbot, tmp_path, models_root):
    window = make_window(settings_for(tmp_path / "settings.ini", models_root, tmp_path / "out"))
    window.close()
    assert window.quit_guard.box is None  # nothing to lose: no question
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=30000)
    assert window.sampler.isFinished()


def test_drop_png_restores_parameters(window, qtbot, tmp_path, models_root):
    from ddpm_studio.engine.runner import Engine

    job = GenerateJob(model=str(models_root / "tiny-ddpm"), scheduler="heun", steps=3, seed=777, batch_size=3, output_dir=str(tmp_path / "else"))
    png = Engine(device="cpu").run(job).saved_paths[0]
    panel = window.generate_panel
    set_form(panel, scheduler="ddim", steps=9, seed=1, batch=1)

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(png)])
    drop = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(drop)
    assert panel.current_job() == job.replace(output_dir=str(tmp_path / "out"))  # the folder is never restored


def test_settings_and_last_parameters_persist(make_window, tmp_path, models_root):
    first = make_window(settings_for(tmp_path / "s.ini", models_root, tmp_path / "out"))
    set_form(first.generate_panel, scheduler="unipc", steps=17, seed=4242, batch=3)
    expected = first.generate_panel.current_job()
    first.close()
    assert first.sampler.wait(30000)

    second = make_window(settings_for(tmp_path / "s.ini", models_root, tmp_path / "out"))
    assert second.generate_panel.current_job() == expected


def test_broken_model_folder_is_an_error_dialog(window, qtbot, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline"}')
    window.generate_panel.add_model_folder(str(broken))
    box = window.generate_panel.error_box
    assert box is not None and "Text to Image" in box.text() and str(broken) in box.text()
    box.close()
    assert window.isVisible() and window.generate_panel.generate_button.isEnabled()


def test_failed_run_reports_and_worker_survives(window, qtbot, models_root, tmp_path):
    panel = window.generate_panel
    weights = models_root / "tiny-ddpm" / "unet" / "diffusion_pytorch_model.safetensors"
    good = weights.read_bytes()
    set_form(panel, steps=2, batch=1)
    with qtbot.waitSignal(window.sampler.job_finished, timeout=30000):
        panel.generate()
    qtbot.waitUntil(lambda: panel.canvas.x0_view.image() is not None, timeout=5000)  # a run's pictures on screen
    weights.write_bytes(good[:100])
    with qtbot.waitSignal(window.sampler.job_failed, timeout=30000):
        panel.generate()
    qtbot.waitUntil(lambda: panel.error_box is not None, timeout=5000)
    assert "Could not read the UNet weights" in panel.error_box.text()
    # the failure is not shown over the last run's pictures
    assert panel.canvas.step_label.text() == "Failed — nothing saved"
    assert panel.canvas.x0_view.image() is None and panel.canvas.x_t_view.image() is None
    panel.error_box.close()
    weights.write_bytes(good)
    with qtbot.waitSignal(window.sampler.job_finished, timeout=30000) as done:
        panel.generate()
    assert not done.args[1].cancelled


def test_window_is_shown_before_torch_is_imported(tmp_path):
    env = {"QT_QPA_PLATFORM": "offscreen", "DDPM_STUDIO_SETTINGS": str(tmp_path / "s.ini"), "HF_HUB_OFFLINE": "1"}
    import os

    out = subprocess.run(
        [sys.executable, "-m", "ddpm_studio", "gui", "--exit-when-ready", "--device", "cpu"],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "torch imported then: no" in out.stdout
    assert "backend ready at" in out.stdout


def _grid(batch: np.ndarray):
    from ddpm_studio.ui.widgets.images import grid

    return grid(batch)


def _recording(method, after):
    def wrapper(*args, **kwargs):
        method(*args, **kwargs)
        after()

    return wrapper


def test_esc_cancels_the_run_from_any_tab_and_the_menu_shows_it(window, qtbot, tmp_path):
    action = next(a for a in window.findChildren(QAction) if a.text() == "Cancel current run")
    assert action.shortcut().toString() == "Esc"  # shown in the Queue menu
    panel = window.generate_panel
    set_form(panel, scheduler="ddpm", steps=1000, batch=1)
    with qtbot.waitSignal(window.sampler.job_finished, timeout=60000) as finished:
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: panel.canvas.progress.value() >= 2, timeout=30000)
        window.tabs.setCurrentWidget(window.train_panel)  # a tab with no Cancel button of its own
        qtbot.keyClick(window.train_panel, Qt.Key.Key_Escape)
    assert finished.args[1].cancelled


def test_open_folder_without_a_file_manager_says_so_and_offers_the_path(window, qtbot, tmp_path, monkeypatch):
    from PySide6.QtGui import QDesktopServices, QGuiApplication

    panel = window.generate_panel
    set_form(panel, steps=2, batch=1)
    with qtbot.waitSignal(window.sampler.job_finished, timeout=60000):
        panel.generate()
    qtbot.waitUntil(lambda: panel.gallery.count() == 1, timeout=10000)
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: False)  # a desktop with no launcher
    assert not panel.gallery.open_folder(panel.gallery.item(0))
    box = panel.gallery.message_box
    assert box is not None and str(tmp_path / "out") in box.text()
    copy = next(b for b in box.buttons() if b.text() == "Copy the path")
    copy.click()
    assert QGuiApplication.clipboard().text() == str(tmp_path / "out")


def test_a_file_that_holds_no_model_is_explained_and_not_remembered(window, tmp_path):
    fake = tmp_path / "fake-model.safetensors"
    fake.write_bytes(b"\x00" * 64)
    panel = window.text2image_panel
    panel.add_model_folder(str(fake))
    assert panel.error_box.windowTitle() == "This file holds no model DDPM Studio can use"
    assert str(fake) in panel.error_box.text() and "not a readable safetensors" in panel.error_box.text()
    panel.error_box.close()
    assert str(fake) not in window.settings.model_folders
    assert str(tmp_path / "my-models") in window.settings.model_folders  # what held models stays


def test_a_long_status_message_is_cut_at_a_word_with_an_ellipsis_and_whole_in_its_tooltip(window, qtbot):
    from PySide6.QtWidgets import QStatusBar

    window.resize(900, 600)
    bar = window.statusBar()
    message = "Saved 4 image(s) to /home/artist/Pictures/ddpm-studio/outputs — " + "a long note about the model " * 12
    bar.showMessage(message, 8000)
    shown = QStatusBar.currentMessage(bar)  # what the bar draws
    assert bar.currentMessage() == message and bar.toolTip() == message
    assert shown.endswith("…") and message.startswith(shown[:-1]) and message[len(shown) - 1] == " "
    assert bar.fontMetrics().horizontalAdvance(shown) <= bar.room()  # never under the device label
    assert bar.room() < bar.width() - window.backend_label.sizeHint().width()
    window.resize(3000, 600)  # room enough: whole again
    qtbot.waitUntil(lambda: QStatusBar.currentMessage(bar) == message, timeout=5000)
    bar.showMessage("Ready")
    assert QStatusBar.currentMessage(bar) == "Ready" and bar.toolTip() == ""


def test_quit_during_a_training_asks_then_it_saves_and_the_window_closes(make_window, qtbot, tmp_path):
    from tests.folders import shapes_folder
    from tests.test_train_panel import configure

    settings = Settings(tmp_path / "settings.ini")
    settings.output_dir = str(tmp_path / "out")
    window = make_window(settings)
    panel = window.train_panel
    configure(panel, shapes_folder(tmp_path / "shapes"), tmp_path / "trained", steps=100000)
    panel.sample_every.setValue(100000)
    panel.checkpoint_every.setValue(100000)
    panel.start()
    qtbot.waitUntil(lambda: len(panel.loss_plot.raw) >= 1, timeout=60000)
    window.close()
    box = window.quit_guard.box
    assert box is not None and box.isVisible() and "a training is in progress" in box.text().lower()
    assert window.isVisible() and panel.training
    window.quit_guard.quit_button.click()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=120000)  # after the training thread ended
    assert panel.trainer is None or panel.trainer.isFinished()
    assert (tmp_path / "trained" / "model" / "model_index.json").is_file()  # stopped as Stop does: saved first
