"""Flux.2 Klein in the Text to Image panel: listed with the SD models, the negative prompt, clip skip and the rows of
what its family does not take hidden, its schedulers and the defaults its folder selects (a step-distilled one's few
steps), a run from the Generate button that shows its steps and saves its picture, and that picture's parameters
restored."""

from __future__ import annotations

import pytest

from tests.tiny_klein import save_tiny_klein
from tests.tiny_sd import save_tiny_sd
from tests.ui_runs import choose, generate_small, offered, text2image_panel_on


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("klein-panel")
    save_tiny_klein(root / "tiny-klein")
    save_tiny_klein(root / "tiny-klein-base", is_distilled=False)
    save_tiny_sd(root / "tiny-sd")
    return root


@pytest.fixture()
def panel(make_window, models, tmp_path):
    return text2image_panel_on(make_window, models, tmp_path)


def test_klein_hides_the_negative_prompt_clip_skip_and_the_other_addon_rows_and_an_sd_model_shows_them_again(panel):
    listed = {panel.model_box.itemText(i) for i in range(panel.model_box.count())}
    assert {"tiny-klein", "tiny-klein-base", "tiny-sd"} <= listed
    panel.prompts.negative.setPlainText("blurry")
    choose(panel, "tiny-klein")
    panel.prompts.clip_skip.setValue(2)
    choose(panel, "tiny-klein")
    assert [kind for kind, on in offered(panel).items() if on] == ["loras", "attention"]  # its LoRAs, attention maps
    assert not panel.form.isRowVisible(panel.prompts.negative)
    assert not panel.form.isRowVisible(panel.prompts.clip_skip)  # its pipeline has none
    fields = panel.job_fields()
    assert fields["negative_prompt"] == "" and fields["loras"] == () and "hires_scale" not in fields
    assert fields["clip_skip"] == 1
    choose(panel, "tiny-sd")
    assert set(offered(panel).values()) == {True} and panel.form.isRowVisible(panel.prompts.negative)
    assert panel.form.isRowVisible(panel.prompts.clip_skip) and panel.job_fields()["clip_skip"] == 2
    assert panel.job_fields()["negative_prompt"] == "blurry"  # the text was kept while hidden
    choose(panel, "tiny-klein-base")  # a base model guides with it (as negative_prompt_embeds)
    assert panel.form.isRowVisible(panel.prompts.negative) and panel.job_fields()["negative_prompt"] == "blurry"


def test_choosing_klein_brings_its_schedulers_and_the_defaults_its_folder_selects(panel):
    choose(panel, "tiny-sd")
    choose(panel, "tiny-klein")
    listed = [panel.scheduler_box.itemData(i) for i in range(panel.scheduler_box.count())]
    assert listed == ["euler", "dpm++2m", "unipc", "lcm"] and panel.scheduler_box.currentData() == "euler"
    assert panel.steps.value() == 4 and panel.prompts.guidance.value() == 1.0  # step-distilled
    choose(panel, "tiny-klein-base")
    assert panel.steps.value() == 50 and panel.prompts.guidance.value() == 4.0  # CFG on the empty prompt
    choose(panel, "tiny-sd")
    assert panel.prompts.guidance.value() == 7.5


def test_klein_runs_from_the_generate_button_and_its_picture_restores(panel, qtbot):
    choose(panel, "tiny-klein")
    result = generate_small(panel, qtbot)
    assert result.images.shape == (1, 64, 64, 3) and result.model_name == "tiny-klein"
    assert "plain text" in result.note and "negative prompt" not in result.note
    assert result.job.negative_prompt == "" and result.job.guidance_scale == 1.0
    assert len(panel.canvas._history.frames()) >= 2  # each step kept for the scrubber
    choose(panel, "tiny-sd")
    panel.steps.setValue(9)
    assert panel.restore_from_png(result.saved_paths[0])
    assert panel.model_box.currentText() == "tiny-klein" and panel.steps.value() == 2
    assert panel.seed.text() == str(result.job.seed) and panel.prompts.guidance.value() == 1.0
    assert panel.prompts.prompt.toPlainText() == "a (lighthouse:1.3) at dusk"
