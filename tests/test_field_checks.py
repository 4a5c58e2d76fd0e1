"""Values the job would refuse are caught at their field, before a run: a size typed off the model's grid snaps to it
(and says so), a hires fix too large (or too small) is said beside it and Generate waits, and so does a picture too
small to upscale — real windows, tiny real models, the limits read from the job's own validation."""

from __future__ import annotations

import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from ddpm_studio.engine.jobs.checks import MAX_SIDE, MIN_SIDE, SIDE_STEP, JobError
from ddpm_studio.engine.jobs.types import Text2ImageJob
from ddpm_studio.engine.jobs.upscale_job import MIN_UPSCALE_INPUT
from ddpm_studio.ui.core.settings import Settings
from ddpm_studio.ui.core.theme import warning_colour
from tests.tiny_sd import save_tiny_sd
from tests.tiny_upscalers import save_tiny_x4


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    save_tiny_sd(root / "tiny-sd")
    save_tiny_x4(root / "tiny-x4")
    return root


@pytest.fixture()
def window(make_window, tmp_path, models):
    settings = Settings(tmp_path / "settings.ini")
    settings.output_dir = str(tmp_path / "out")
    settings.add_model_folder(str(models))
    window = make_window(settings)
    window.resize(1280, 800)
    return window


def type_into(box, text: str) -> None:
    box.lineEdit().selectAll()
    QTest.keyClicks(box.lineEdit(), text)


def in_warning_colour(note) -> bool:
    return note.palette().color(note.foregroundRole()) == warning_colour(QApplication.palette())


def test_the_job_and_the_size_fields_share_one_rule():
    assert SIDE_STEP == 8 and MIN_SIDE == 32 and MAX_SIDE == 2048
    with pytest.raises(JobError, match="multiple of 8"):
        Text2ImageJob(model="m", width=66)


def test_a_width_off_the_grid_snaps_to_it_and_says_so(window):
    panel = window.text2image_panel
    window.tabs.setCurrentWidget(panel)
    note = panel.size.note
    type_into(panel.width_box, "66")
    assert note.isVisible() and "66 → 64" in note.text() and in_warning_colour(note)  # said while it is typed
    QTest.keyClick(panel.width_box.lineEdit(), Qt.Key.Key_Return)
    assert panel.width_box.value() == 64
    assert note.isVisible() and "66 → 64" in note.text() and not in_warning_colour(note)  # what was done, quietly
    type_into(panel.width_box, "1024")
    assert not note.isVisible()


def test_a_height_of_3_becomes_the_smallest_side_not_the_old_one(window):
    panel = window.text2image_panel
    type_into(panel.height_box, "3")
    QTest.keyClick(panel.height_box.lineEdit(), Qt.Key.Key_Return)
    assert panel.height_box.value() == MIN_SIDE and "3 → 32" in panel.size.note.text()
    type_into(panel.height_box, "5000")
    QTest.keyClick(panel.height_box.lineEdit(), Qt.Key.Key_Return)
    assert panel.height_box.value() == MAX_SIDE


def test_generate_runs_with_the_size_as_shown_after_snapping(window, monkeypatch):
    """Ctrl+Enter while a size is still being typed: the run takes the snapped size the field then shows."""
    panel = window.text2image_panel
    submitted = []
    monkeypatch.setattr(panel, "submit", submitted.append)
    type_into(panel.width_box, "66")
    panel.generate_button.click()
    assert panel.width_box.text() == "64" and [job.width for job in submitted] == [64]


def test_a_hires_fix_the_job_would_refuse_is_said_beside_it_and_generate_waits(window):
    panel = window.text2image_panel
    window.tabs.setCurrentWidget(panel)
    hires = panel.hires
    assert panel.generate_button.isEnabled()
    panel.width_box.setValue(2048)
    panel.height_box.setValue(2048)
    hires.enabled.setChecked(True)
    hires.scale.setValue(2.0)
    assert hires.note.isVisibleTo(panel) and "at most 2048" in hires.note.text() and in_warning_colour(hires.note)
    assert not panel.generate_button.isEnabled()
    assert panel.problem_note.isVisible() and "at most 2048" in panel.problem_note.text()  # where Generate is
    panel.width_box.setValue(512)
    panel.height_box.setValue(512)
    assert hires.result.text() == "→ 1024×1024" and not hires.note.isVisibleTo(panel)
    assert panel.generate_button.isEnabled() and not panel.problem_note.isVisible()
    panel.width_box.setValue(32)
    panel.height_box.setValue(32)
    hires.scale.setValue(1.05)  # 32 × 1.05 is still 32 on the grid
    assert "as it is" in hires.note.text() and not panel.generate_button.isEnabled()
    hires.enabled.setChecked(False)
    assert panel.generate_button.isEnabled() and not hires.note.isVisibleTo(panel)


def test_a_picture_too_small_to_upscale_is_said_when_opened_and_generate_waits(window, tmp_path):
    panel = window.upscale_panel
    window.tabs.setCurrentWidget(panel)
    assert panel.model_box.count() == 2  # Lanczos (no model), then the one upscaler
    small, fine = tmp_path / "small.png", tmp_path / "fine.png"
    Image.new("RGB", (10, 10), "red").save(small)
    Image.new("RGB", (MIN_UPSCALE_INPUT, 24), "red").save(fine)
    assert panel.load_image(str(small))
    assert "10×10" in panel.image_label.text() and "40×40" not in panel.image_label.text()
    assert panel.input_note.isVisible() and f"at least {MIN_UPSCALE_INPUT} px" in panel.input_note.text()
    assert in_warning_colour(panel.input_note) and not panel.generate_button.isEnabled()
    assert panel.load_image(str(fine))
    assert "(16×24 → 64×96)" in panel.image_label.text() and not panel.input_note.isVisible()
    assert panel.generate_button.isEnabled()
