"""The Edit panel with the flow families: a Flux.1 and an SD 3.5 model listed in its image to image, inpaint and
outpaint modes (never instruct), their rows as their family takes them (Euler, no LoRAs, Flux's negative prompt
behind True CFG, no inpainting-model hint), an inpainting run of Flux from the Edit button that keeps the unmasked
pixels, and its PNG restored into the panel."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPointF, Qt

from ddpm_studio.engine.output.metadata import read_job
from tests.flow_edits import FEATHER, beyond_blur, pictures
from tests.tiny_flux import save_tiny_flux
from tests.tiny_sd import save_tiny_sd
from tests.tiny_sd3 import save_tiny_sd3
from tests.ui_runs import choose


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("flow-edit-panel")
    save_tiny_flux(root / "tiny-flux")
    save_tiny_sd3(root / "tiny-sd3")
    save_tiny_sd(root / "tiny-sd")
    return root


def _listed(panel) -> set[str]:
    return {panel.model_box.itemText(i) for i in range(panel.model_box.count())}


def _mode(panel, mode: str) -> None:
    panel.mode_box.setCurrentIndex(panel.mode_box.findData(mode))


def test_the_edit_panel_lists_flow_models_and_inpaints_with_flux_from_its_button(window_on, models, tmp_path, qtbot):
    pics = pictures(tmp_path)
    window = window_on(models)
    panel = window.edit_panel
    window.tabs.setCurrentWidget(panel)
    for mode in ("img2img", "inpaint", "outpaint"):
        _mode(panel, mode)
        assert {"tiny-flux", "tiny-sd3", "tiny-sd"} <= _listed(panel), mode
    _mode(panel, "instruct")
    assert not {"tiny-flux", "tiny-sd3"} & _listed(panel)

    _mode(panel, "img2img")
    choose(panel, "tiny-sd3")
    assert [panel.scheduler_box.itemData(i) for i in range(panel.scheduler_box.count())] == ["euler"]
    assert panel.form.isRowVisible(panel.prompts.negative) and panel.form.isRowVisible(panel.addons.loras)
    assert not panel.form.isRowVisible(panel.addons.vae)  # its own LoRAs, no add-on VAE
    assert panel.prompts.guidance.value() == 3.5 and panel.steps.value() == 28  # SD 3.5's defaults
    choose(panel, "tiny-sd")
    assert panel.form.isRowVisible(panel.addons.loras) and panel.scheduler_box.count() > 3
    _mode(panel, "inpaint")
    choose(panel, "tiny-flux")
    assert not panel.form.isRowVisible(panel.prompts.negative) and panel.form.isRowVisible(panel.prompts.true_cfg)
    assert not panel.inpaint_hint.isVisibleTo(panel)  # no inpainting model to recommend: its pipeline inpaints

    panel.load_image(pics["small"])
    panel.painter.paint_stroke(QPointF(30, 20), QPointF(34, 20))
    stroke = panel.painter.mask_array() >= 128
    panel.outpaint.feather.setValue(FEATHER)
    panel.prompts.prompt.setPlainText("a red fox")
    panel.strength.setValue(1.0)
    panel.steps.setValue(2)
    qtbot.waitUntil(lambda: panel.generate_button.isEnabled(), timeout=60000)
    with qtbot.waitSignal(window.sampler.job_finished, timeout=120000) as done:
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    result_ = done.args[1]
    assert not result_.cancelled and result_.model_name == "tiny-flux"
    saved = result_.saved_paths[0]
    with Image.open(saved) as image:
        result = np.asarray(image.convert("RGB"))
    pixels = pics["small_pixels"]
    outside = beyond_blur(stroke, FEATHER)
    assert result.shape == pixels.shape and np.array_equal(result[outside], pixels[outside])
    assert (result != pixels).any(axis=-1)[stroke].mean() > 0.5
    assert len(panel.canvas._history.frames()) >= 2  # each step kept for the scrubber
    job = read_job(saved)
    assert job.mode == "inpaint" and job.strength == 1.0 and job.scheduler == "euler" and job.feather == FEATHER

    _mode(panel, "img2img")
    choose(panel, "tiny-sd")
    assert panel.restore_from_png(saved)
    assert panel.mode() == "inpaint" and panel.model_box.currentText() == "tiny-flux"
    assert panel.strength.value() == 1.0 and panel.painter.has_mask()
