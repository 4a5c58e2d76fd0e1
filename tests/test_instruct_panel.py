"""The Edit panel's instruct mode with the flow families: Flux.1 Kontext and Flux.2 Klein listed there (Flux.1 itself
not), the reference strip shown for the model that reads references (add, drop, remove, reorder, its limit), hidden for
Kontext, a Klein reference edit run from the Edit button with previews for the scrubber, its PNG restored with its
references, and the line on Qwen-Image-Edit where torchvision is missing."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from ddpm_studio.engine.output.metadata import read_job
from tests.tiny_flux import save_tiny_flux
from tests.tiny_instruct import save_tiny_kontext, save_tiny_qwenimage_edit
from tests.tiny_klein import save_tiny_klein
from tests.ui_runs import choose


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("instruct-panel")
    save_tiny_kontext(root / "tiny-kontext")
    save_tiny_klein(root / "tiny-klein")
    save_tiny_flux(root / "tiny-flux")
    save_tiny_qwenimage_edit(root / "tiny-qwen-edit-plus", plus=True)
    return root


def _pictures(folder) -> dict:
    rng = np.random.default_rng(7)
    found = {}
    for name, (width, height) in (("input", (96, 64)), ("ref1", (80, 64)), ("ref2", (64, 80)), ("ref3", (64, 64))):
        Image.fromarray((rng.random((height, width, 3)) * 255).astype(np.uint8)).save(folder / f"{name}.png")
        found[name] = str((folder / f"{name}.png").resolve())
    (folder / "notes.txt").write_text("not a picture")
    found["text"] = str(folder / "notes.txt")
    return found


def _drop_files(widget, paths) -> None:
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(path) for path in paths])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    widget.dropEvent(event)
    assert event.isAccepted()


def _listed(panel) -> set[str]:
    return {panel.model_box.itemText(i) for i in range(panel.model_box.count())}


def test_the_reference_strip_and_a_klein_reference_edit_from_the_button(window_on, models, tmp_path, qtbot):
    pics = _pictures(tmp_path)
    window = window_on(models)
    panel = window.edit_panel
    window.tabs.setCurrentWidget(panel)
    panel.mode_box.setCurrentIndex(panel.mode_box.findData("instruct"))
    assert {"tiny-kontext", "tiny-klein", "tiny-qwen-edit-plus"} <= _listed(panel)
    assert "tiny-flux" not in _listed(panel)

    choose(panel, "tiny-kontext")  # one picture, no image guidance (InstructPix2Pix's)
    strip = panel.references
    assert not strip.isVisibleTo(panel) and not panel.image_guidance.isEnabled()

    choose(panel, "tiny-klein")
    assert strip.isVisibleTo(panel) and strip.limit == 3
    assert strip.add_paths([pics["ref1"], pics["text"], pics["ref2"]]) == [f"{pics['text']} is not an image Qt "
                                                                           "can read"]
    assert strip.paths() == (pics["ref1"], pics["ref2"])
    strip.list.setCurrentRow(1)
    assert strip.earlier_button.isEnabled() and not strip.later_button.isEnabled()
    strip.move_selected(-1)  # ref2 first now
    assert strip.paths() == (pics["ref2"], pics["ref1"]) and strip.list.currentRow() == 0
    problems = strip.add_paths([pics["ref3"], pics["ref1"]])  # the third fits, a fourth does not
    assert strip.paths() == (pics["ref2"], pics["ref1"], pics["ref3"]) and "left out" in problems[0]
    assert not strip.add_button.isEnabled()
    strip.list.setCurrentRow(2)
    strip.remove_selected()
    assert strip.paths() == (pics["ref2"], pics["ref1"]) and strip.add_button.isEnabled()
    _drop_files(strip.list, [pics["ref3"]])  # a file dropped from outside is added at the end
    assert strip.paths() == (pics["ref2"], pics["ref1"], pics["ref3"])
    strip.list.setCurrentRow(2)
    strip.remove_selected()

    panel.load_image(pics["input"])
    panel.prompts.prompt.setPlainText("make it snow")
    panel.prompts.guidance.setValue(1.0)
    panel.steps.setValue(3)
    assert panel.job_fields()["references"] == (pics["ref2"], pics["ref1"])
    qtbot.waitUntil(lambda: panel.generate_button.isEnabled(), timeout=60000)
    with qtbot.waitSignal(window.sampler.job_finished, timeout=120000) as done:
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    result = done.args[1]
    assert not result.cancelled and result.model_name == "tiny-klein"
    saved = result.saved_paths[0]
    with Image.open(saved) as image:
        assert image.size == (96, 64)
    assert len(panel.canvas._history.frames()) >= 3  # every step kept for the scrubber
    job = read_job(saved)
    assert job.mode == "instruct" and job.references == (pics["ref2"], pics["ref1"])

    strip.set_paths([])
    choose(panel, "tiny-kontext")
    assert panel.restore_from_png(saved)
    assert panel.model_box.currentText() == "tiny-klein" and strip.paths() == (pics["ref2"], pics["ref1"])
    assert strip.isVisibleTo(panel)


@pytest.mark.skipif(importlib.util.find_spec("torchvision") is not None, reason="torchvision is installed here")
def test_the_panel_says_a_qwen_image_edit_model_cannot_run_without_torchvision(window_on, models, qtbot):
    window = window_on(models)
    panel = window.edit_panel
    window.tabs.setCurrentWidget(panel)
    panel.mode_box.setCurrentIndex(panel.mode_box.findData("instruct"))
    choose(panel, "tiny-qwen-edit-plus")
    assert panel.form.isRowVisible(panel.run_hint) and "torchvision" in panel.run_hint.text()
    assert panel.references.isVisibleTo(panel) and panel.references.limit == 2
    choose(panel, "tiny-kontext")
    assert not panel.form.isRowVisible(panel.run_hint)
