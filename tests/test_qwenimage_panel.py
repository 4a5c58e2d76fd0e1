"""Qwen-Image in the Text to Image panel: listed with the SD models, the rows of what its family does not take hidden
and the negative prompt kept (its guidance is true CFG), its schedulers, defaults and size, a run from the Generate
button that shows its steps and saves its picture, and that picture's parameters restored."""

from __future__ import annotations

import pytest

from tests.tiny_qwenimage import save_tiny_qwenimage
from tests.tiny_sd import save_tiny_sd
from tests.ui_runs import choose, generate_small, offered, text2image_panel_on


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("qwenimage-panel")
    save_tiny_qwenimage(root / "tiny-qwen-image")
    save_tiny_sd(root / "tiny-sd")
    return root


@pytest.fixture()
def panel(make_window, models, tmp_path):
    return text2image_panel_on(make_window, models, tmp_path)


def test_qwen_image_hides_the_addon_rows_keeps_the_negative_prompt_and_brings_its_defaults(panel):
    assert {"tiny-qwen-image", "tiny-sd"} <= {panel.model_box.itemText(i) for i in range(panel.model_box.count())}
    choose(panel, "tiny-sd")
    panel.prompts.negative.setPlainText("blurry")
    panel.prompts.clip_skip.setValue(2)
    choose(panel, "tiny-qwen-image")
    # the hires fix through its img2img pipeline; attention maps from its joint attention
    assert [kind for kind, on in offered(panel).items() if on] == ["loras", "hires", "attention"]
    assert panel.form.isRowVisible(panel.prompts.negative)
    assert not panel.form.isRowVisible(panel.prompts.clip_skip)  # no CLIP encoder to skip layers of
    listed = [panel.scheduler_box.itemData(i) for i in range(panel.scheduler_box.count())]
    assert listed == ["euler", "unipc", "lcm"] and panel.scheduler_box.currentData() == "euler"
    assert panel.steps.value() == 50 and panel.prompts.guidance.value() == 4.0
    assert (panel.width_box.value(), panel.height_box.value()) == (1328, 1328)  # its model card's square
    fields = panel.job_fields()
    assert fields["negative_prompt"] == "blurry" and fields["loras"] == ()
    assert fields["clip_skip"] == 1  # hidden: the job reads the last layer
    choose(panel, "tiny-sd")
    assert set(offered(panel).values()) == {True} and panel.prompts.guidance.value() == 7.5
    assert panel.form.isRowVisible(panel.prompts.clip_skip)
    assert panel.width_box.value() == 512


def test_qwen_image_runs_from_the_generate_button_and_its_picture_restores(panel, qtbot):
    choose(panel, "tiny-qwen-image")
    panel.scheduler_box.setCurrentIndex(panel.scheduler_box.findData("unipc"))
    window = panel.window()
    result = generate_small(panel, qtbot, "a red fox at dusk", negative="blurry")
    assert result.images.shape == (1, 64, 64, 3) and result.model_name == "tiny-qwen-image"
    assert "plain text" in result.note and "negative prompt" not in result.note
    assert (result.job.negative_prompt, result.job.guidance_scale, result.job.scheduler) == ("blurry", 4.0, "unipc")
    assert len(panel.canvas._history.frames()) >= 2  # each step kept for the scrubber

    choose(panel, "tiny-sd")
    panel.prompts.negative.setPlainText("")
    assert window.restore_from_png(panel.gallery.paths()[0])
    assert panel.model_box.currentText() == "tiny-qwen-image"
    restored = panel.current_job()
    assert (restored.negative_prompt, restored.guidance_scale, restored.scheduler, restored.steps) == \
        ("blurry", 4.0, "unipc", 2)
    assert (restored.width, restored.height) == (64, 64)
