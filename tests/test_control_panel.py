"""ControlNet in the panels: Text to Image with a ControlNet unit (a tiny random ControlNet), its control image drawn
in the app and previewed as the ControlNet sees it, run and restored; canny's thresholds shown only when a unit uses
them; ControlNets listed from a models home; Edit's instruct mode without ControlNet."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPointF, Qt

from ddpm_studio.engine.output.metadata import read_job
from tests.tiny_controlnet import save_tiny_controlnet
from tests.tiny_sd import save_tiny_sd


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("control-panel")
    sd = save_tiny_sd(root / "models" / "sd")
    home = root / "home"
    controlnet = save_tiny_controlnet(home / "models" / "ControlNet" / "tiny-cn", sd)
    (home / "models" / "Stable-diffusion").mkdir(parents=True)
    return {"models": root / "models", "home": home, "cn": controlnet}


@pytest.fixture()
def window(window_on, tiny):
    window = window_on(tiny["models"])
    assert window.use_models_home(str(tiny["home"]))
    return window


def _ready(panel):
    panel.model_box.setCurrentIndex(panel.model_box.findText("sd"))
    panel.prompts.prompt.setPlainText("a red fox")
    panel.steps.setValue(3)
    panel.width_box.setValue(64)
    panel.height_box.setValue(64)


def test_a_drawn_scribble_steers_text_to_image_and_comes_back_on_restore(window, tiny, qtbot):
    panel = window.text2image_panel
    window.tabs.setCurrentWidget(panel)
    _ready(panel)
    unit = panel.control.add_unit()
    assert unit.model.currentText() == "tiny-cn"  # listed from the models home's models/ControlNet
    dialog = unit.draw()
    assert dialog.painter.image.size().width() == 64  # a page of the picture's size
    dialog.painter.paint_stroke(QPointF(8, 8), QPointF(56, 40))
    dialog.ok.click()
    drawing = np.asarray(Image.open(unit.image_path).convert("L"))
    assert drawing.min() == 0 and drawing.max() == 255 and (drawing == 255).mean() > 0.5  # black ink, white page
    assert unit.preprocess.currentData() == "scribble" and not unit.preview.pixmap().isNull()
    assert not panel.control.threshold_row.isVisibleTo(panel)
    with qtbot.waitSignal(window.sampler.job_finished, timeout=60000) as done:
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    result = done.args[1]
    assert result.saved_paths, "the run failed"
    job = result.job
    assert job.controlnets == ((str(tiny["cn"]), 1.0, 0.0, 1.0),) and job.control_preprocess == ("scribble",)
    panel.control.clear()
    assert panel.restore_from_png(result.saved_paths[0])
    assert len(panel.control.units) == 1 and panel.control.units[0].image_path == unit.image_path
    assert read_job(result.saved_paths[0]).control_images == (unit.image_path,)


def test_canny_thresholds_show_for_a_canny_unit_and_the_preview_follows_them(window, tiny, qtbot, tmp_path):
    panel = window.text2image_panel
    unit = panel.control.add_unit()
    picture = tmp_path / "photo.png"
    ramp = np.tile(np.linspace(0, 255, 64), (64, 1))  # a soft ramp: an edge only to low thresholds
    Image.fromarray(np.stack([ramp] * 3, axis=-1).astype(np.uint8)).save(picture)
    assert unit.set_image(str(picture))
    unit.preprocess.setCurrentIndex(unit.preprocess.findData("canny"))
    assert panel.control.threshold_row.isVisibleTo(panel)
    before = unit.preview.pixmap().toImage()
    panel.control.low.setValue(10)
    panel.control.high.setValue(20)
    assert unit.preview.pixmap().toImage() != before  # lower thresholds: more edges
    assert panel.current_job().canny_thresholds == (10, 20)
    unit.remove_requested.emit(unit)
    assert panel.control.units == [] and panel.current_job().controlnets == ()


def test_a_unit_without_its_image_is_a_message_and_instruct_has_no_controlnet(window, qtbot):
    panel = window.text2image_panel
    _ready(panel)
    panel.control.add_unit()
    assert panel.generate() is None and "open, paste or draw its control image" in panel.error_box.text()
    panel.error_box.close()
    edit = window.edit_panel
    edit.mode_box.setCurrentIndex(edit.mode_box.findData("instruct"))
    assert not edit.control.section.isVisibleTo(edit)
    edit.mode_box.setCurrentIndex(edit.mode_box.findData("img2img"))
    assert edit.control.section.isVisibleTo(edit)
