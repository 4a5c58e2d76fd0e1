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


def text2image_panel_on(make_window, models, tmp_path):
    """The Text to Image panel of a real window whose settings list ``models``' folders and save under tmp."""
    from ddpm_studio.ui.core.settings import Settings

    settings = Settings(tmp_path / "settings.ini")
    settings.output_dir = str(tmp_path / "out")
    settings.add_model_folder(str(models))
    window = make_window(settings)
    window.tabs.setCurrentWidget(window.text2image_panel)
    return window.text2image_panel


def choose(panel, name: str) -> None:
    """Choose the model listed as ``name`` in a panel's model list."""
    panel.model_box.setCurrentIndex(panel.model_box.findText(name, flags=Qt.MatchFlag.MatchExactly))


def offered(panel) -> dict:
    """Which of the Text to Image panel's add-on rows are offered (shown, and for attention maps enabled)."""
    form, shown = panel.form, panel.form.isRowVisible
    assert form is panel.prompts.form
    return {"loras": shown(panel.addons.loras), "embeddings": shown(panel.addons.embeddings),
            "vae": shown(panel.addons.vae), "hires": shown(panel.hires.first_row),
            "controlnet": shown(panel.control.section),
            "attention": shown(panel.prompts.attention_maps) and panel.prompts.attention_maps.isEnabled()}


def generate_small(panel, qtbot, prompt: str = "a (lighthouse:1.3) at dusk", negative: str | None = None):
    """A 64×64 run of 2 steps of the Text to Image panel's chosen model (with ``prompt``, and ``negative`` where
    given), from its Generate button, waited for to its end and its picture in the gallery; returns the Result."""
    panel.prompts.prompt.setPlainText(prompt)
    if negative is not None:
        panel.prompts.negative.setPlainText(negative)
    panel.width_box.setValue(64)
    panel.height_box.setValue(64)
    panel.steps.setValue(2)
    with qtbot.waitSignal(panel.window().sampler.job_finished, timeout=120000) as done:
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.gallery.count() == 1, timeout=10000)
    return done.args[1]
