"""Running the Generate and Text to Image panels in a real window, as tests of what a run shows or writes afterwards
need it."""

from __future__ import annotations

from PySide6.QtCore import Qt


def run_generate(window, qtbot, steps: int = 8, scheduler: str = "ddim"):
    """A 2-image run of the tiny DDPM (listed as ``tiny-ddpm``) from the Generate button, waited for to its end;
    returns the panel's canvas."""
    panel = window.generate_panel
    panel.model_box.setCurrentIndex(panel.model_box.findText("tiny-ddpm"))
    panel.scheduler_box.setCurrentIndex(panel.scheduler_box.findData(scheduler))
    panel.steps.setValue(steps)
    panel.batch.setValue(2)
    with qtbot.waitSignal(window.sampler.job_finished, timeout=60000):
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Done" in panel.canvas.step_label.text(), timeout=10000)
    return panel.canvas


def run_small_txt2img(window, qtbot) -> str:
    """A 2-step 32×32 run of the Text to Image panel as it is set, from its Generate button, waited for to its end;
    returns the saved PNG's ``parameters`` text."""
    from PIL import Image

    panel = window.text2image_panel
    panel.width_box.setValue(32)
    panel.height_box.setValue(32)
    panel.steps.setValue(2)
    with qtbot.waitSignal(window.sampler.job_finished, timeout=120000):
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.gallery.count() == 1, timeout=10000)
    with Image.open(panel.gallery.paths()[0]) as image:
        return image.text["parameters"]
