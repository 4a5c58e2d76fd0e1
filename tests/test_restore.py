"""Restoring parameters from a PNG restores how an image was made, never where the app writes; what is missing is said.
Each sampling panel keeps its own output folder."""

from __future__ import annotations

import json
import shutil

import pytest
from PIL import Image, PngImagePlugin
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from ddpm_studio.engine.jobs.types import EditJob, GenerateJob
from ddpm_studio.engine.output.metadata import png_info
from ddpm_studio.ui.core.settings import Settings


@pytest.fixture()
def models_root(tiny_ddpm_dir, tmp_path):
    root = tmp_path / "my-models"
    shutil.copytree(tiny_ddpm_dir, root / "tiny-ddpm")
    return root


@pytest.fixture()
def window(window_on, models_root):
    return window_on(models_root)


def crafted_png(path, job) -> str:
    """A PNG with our metadata, as anyone could write it: the job says whatever its maker wants."""
    Image.new("RGB", (16, 16), (200, 30, 30)).save(path, pnginfo=png_info(job, index=0, width=16, height=16,
                                                                          model_name="x", device="cpu"))
    return str(path)


def drop(window, path: str) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(path)])
    window.dropEvent(QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier))


def test_a_png_cannot_redirect_where_the_app_writes(window, qtbot, tmp_path, models_root):
    autostart = tmp_path / "home" / ".config" / "autostart"
    job = GenerateJob(model=str(models_root / "tiny-ddpm"), scheduler="ddim", steps=2, seed=31, batch_size=1,
                      output_dir=str(autostart))
    panel = window.generate_panel
    drop(window, crafted_png(tmp_path / "downloaded.png", job))
    assert panel.output_dir.text() == str(tmp_path / "out")
    assert panel.current_job() == job.replace(output_dir=str(tmp_path / "out"))  # everything else is restored
    with qtbot.waitSignal(window.sampler.job_finished, timeout=60000):
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    assert [p.name for p in (tmp_path / "out").glob("*.png")] == ["00000-31.png"]
    assert not (tmp_path / "home").exists()


def test_a_restored_model_that_is_not_listed_is_said_and_not_used(window, tmp_path):
    elsewhere = tmp_path / "not-listed" / "model"  # a folder on disk that the user never added
    shutil.copytree(window.generate_panel.model_infos[window.generate_panel.model_box.currentData()].path, elsewhere)
    panel = window.generate_panel
    chosen = panel.model_box.currentData()
    job = GenerateJob(model=str(elsewhere), guide_model=str(tmp_path / "gone"), guidance_scale=2.0, steps=7, seed=3)
    assert window.restore_from_png(crafted_png(tmp_path / "a.png", job))
    assert panel.model_box.currentData() == chosen and panel.current_job().model == chosen
    assert panel.current_job().steps == 7 and panel.current_job().seed == 3
    assert not panel.current_job().guided  # a guide that is not here is not kept as a choice
    text = panel.error_box.text()
    assert f"the model '{elsewhere}' is not in the model list" in text and str(tmp_path / "gone") in text
    panel.error_box.close()


def test_a_restored_input_image_that_is_gone_is_shown_as_missing(window, tmp_path):
    panel = window.edit_panel
    other = tmp_path / "open-before.png"
    Image.new("RGB", (24, 16), (1, 2, 3)).save(other)
    assert panel.load_image(str(other))
    gone = tmp_path / "gone.png"
    job = EditJob(model="anything", image=str(gone), prompt="autumn", steps=3, seed=8)
    assert window.restore_from_png(crafted_png(tmp_path / "edit.png", job))
    assert window.tabs.currentWidget() is panel
    assert panel.image_path == "" and panel.painter.image is None  # not silently the picture open before
    assert panel.image_label.text() == f"Missing: {gone}"
    assert f"the input image {gone} is not there any more" in panel.error_box.text()
    panel.error_box.close()
    assert panel.prompts.prompt.toPlainText() == "autumn"


def test_a_png_with_an_unknown_job_field_is_refused_by_name(window, tmp_path):
    info = PngImagePlugin.PngInfo()
    info.add_itxt("ddpm_studio", json.dumps({"job": {"kind": "generate", "model": "m", "run_this": "rm -rf /"}}))
    path = tmp_path / "odd.png"
    Image.new("RGB", (8, 8)).save(path, pnginfo=info)
    assert not window.restore_from_png(str(path))
    assert "run_this" in window.generate_panel.error_box.text() and str(path) in window.generate_panel.error_box.text()
    window.generate_panel.error_box.close()


def test_each_panel_keeps_its_own_output_folder(make_window, tmp_path, models_root):
    settings = Settings(tmp_path / "settings.ini")
    settings.output_dir = str(tmp_path / "generated")
    first = make_window(settings)
    assert first.upscale_panel.output_dir.text() == str(tmp_path / "generated")  # none of its own yet: Generate's
    first.upscale_panel.output_dir.setText(str(tmp_path / "upscaled"))
    first.edit_panel.output_dir.setText(str(tmp_path / "edited"))
    first.close()
    saved = Settings(tmp_path / "settings.ini")
    assert saved.output_dir == str(tmp_path / "generated")  # the Upscale panel's folder did not overwrite it
    second = make_window(saved)
    assert second.generate_panel.output_dir.text() == str(tmp_path / "generated")
    assert second.upscale_panel.output_dir.text() == str(tmp_path / "upscaled")
    assert second.edit_panel.output_dir.text() == str(tmp_path / "edited")
    assert second.text2image_panel.output_dir.text() == str(tmp_path / "generated")


def test_any_earlier_png_can_be_restored_from_the_file_menu(window, tmp_path, models_root, monkeypatch):
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QFileDialog

    job = GenerateJob(model=str(models_root / "tiny-ddpm"), scheduler="unipc", steps=4, seed=77, batch_size=1)
    png = crafted_png(tmp_path / "out-of-an-earlier-day.png", job)
    (tmp_path / "out").mkdir()
    asked = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda parent, title, start, filter_: (asked.append(start),
                                                                                                (png, filter_))[1])
    next(a for a in window.findChildren(QAction) if a.text() == "Restore parameters from an image…").trigger()
    panel = window.generate_panel
    assert asked == [str(tmp_path / "out")]  # the dialog starts where the panel's results are
    assert (panel.current_job().scheduler, panel.current_job().steps, panel.current_job().seed) == ("unipc", 4, 77)
