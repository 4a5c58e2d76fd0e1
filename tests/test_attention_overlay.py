"""Per-word attention maps in the GUI (ui/canvas/attention_overlay.py): the "Attention maps" check box of Text to Image and
Edit goes into the job; after a run with it, a word of the prompt can be picked above x̂0, its map is laid over the
picture and follows the scrubber; runs without maps hide the word control."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from ddpm_studio.engine.jobs.types import EditJob, Text2ImageJob
from tests.tiny_sd import save_tiny_sd


@pytest.fixture(scope="module")
def sd_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("sd-attention")
    save_tiny_sd(root / "txt2img", "txt2img")
    return root


@pytest.fixture()
def window(window_on, sd_root):
    return window_on(sd_root)


def run(qtbot, panel, maps: bool) -> None:
    panel.prompts.prompt.setPlainText("red cat")
    panel.prompts.attention_maps.setChecked(maps)
    panel.width_box.setValue(64)
    panel.height_box.setValue(64)
    panel.steps.setValue(4)
    panel.random_seed.setChecked(False)
    panel.seed.setText("3")
    assert panel.current_job().attention_maps is maps
    before = panel.gallery.count()
    qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.gallery.count() == before + 1, timeout=120000)  # after the canvas's finish_run


def shown(canvas):
    return canvas.x0_view.image().copy()


def test_a_word_map_is_laid_over_x0_and_follows_the_scrubber(window, qtbot):
    panel = window.text2image_panel
    window.tabs.setCurrentWidget(panel)
    canvas, words = panel.canvas, panel.canvas.attention
    assert not words.isVisible()
    run(qtbot, panel, maps=True)
    assert words.isVisible() and words.isEnabled()
    assert [words.combo.itemText(i) for i in range(words.combo.count())] == ["none", "red", "cat"]

    canvas.slider.setValue(1)  # a step part-way through the run
    plain = shown(canvas)
    words.pick("red")
    red, red_map = shown(canvas), words.shown_map()
    assert red != plain and red_map is not None and red_map.shape == (8, 8)  # latent size
    words.pick("cat")
    assert shown(canvas) != red and not np.array_equal(words.shown_map(), red_map)

    words.pick("red")
    canvas.slider.setValue(2)
    assert not np.array_equal(words.shown_map(), red_map)  # the map of the step scrubbed to
    canvas.slider.setValue(canvas.slider.maximum())  # the result: the run's mean map
    assert words.shown_map() is not None

    canvas.right_view.setCurrentIndex(canvas.right_view.findData("change"))
    assert not words.isEnabled()  # the maps go over the predicted image only
    canvas.right_view.setCurrentIndex(canvas.right_view.findData("x0"))
    run(qtbot, panel, maps=True)
    assert words.combo.currentText() == "red"  # picked again in the next run with that word
    words.pick("none")
    assert words.shown_map() is None

    run(qtbot, panel, maps=False)
    assert not words.isVisible()
    assert not window.generate_panel.canvas.attention.isVisible()


def test_the_check_box_round_trips_through_the_job(window):
    for panel, job in ((window.text2image_panel, Text2ImageJob(model="m", prompt="red cat", attention_maps=True)),
                       (window.edit_panel, EditJob(model="m", image="x.png", prompt="red cat", attention_maps=True))):
        box = panel.prompts.attention_maps
        assert not box.isChecked() and box.toolTip()  # off by default
        panel.apply_fields(job)
        assert box.isChecked() and panel.prompts.values()["attention_maps"] is True
        panel.apply_fields(Text2ImageJob(model="m", prompt="red cat") if panel is window.text2image_panel
                           else EditJob(model="m", image="x.png", prompt="red cat"))
        assert not box.isChecked()
    upscale = window.upscale_panel.prompts
    assert not upscale.form.isRowVisible(upscale.attention_maps) and upscale.values()["attention_maps"] is False
