"""Flux.1 in the Text to Image panel: listed with the SD models, the negative prompt, clip skip and the rows of what
its family does not take hidden (a hidden negative adds nothing to the job) and back for an SD model, its True CFG row (above 1
the negative prompt shows and goes into the job), its schedulers and defaults (schnell's own for a folder without the
guidance embedding), and a run from the Generate button that shows its steps and saves its picture."""

from __future__ import annotations

import pytest

from tests.tiny_flux import save_tiny_flux
from tests.tiny_sd import save_tiny_sd
from tests.ui_runs import choose, generate_small, offered, text2image_panel_on


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("flux-panel")
    save_tiny_flux(root / "tiny-flux")
    save_tiny_flux(root / "tiny-schnell", guidance_embeds=False)
    save_tiny_sd(root / "tiny-sd")
    return root


@pytest.fixture()
def panel(make_window, models, tmp_path):
    return text2image_panel_on(make_window, models, tmp_path)


def test_flux_hides_the_negative_prompt_and_the_addon_rows_and_an_sd_model_shows_them_again(panel):
    assert {"tiny-flux", "tiny-sd"} <= {panel.model_box.itemText(i) for i in range(panel.model_box.count())}
    panel.prompts.negative.setPlainText("blurry")
    panel.prompts.clip_skip.setValue(2)
    choose(panel, "tiny-flux")
    assert [kind for kind, shown in offered(panel).items() if shown] == ["loras", "hires", "attention"]
    assert not panel.form.isRowVisible(panel.prompts.negative)
    assert not panel.form.isRowVisible(panel.prompts.clip_skip)  # its CLIP gives only the pooled text
    fields = panel.job_fields()
    assert fields["negative_prompt"] == "" and fields["loras"] == ()
    assert fields["clip_skip"] == 1
    choose(panel, "tiny-sd")
    assert set(offered(panel).values()) == {True} and panel.form.isRowVisible(panel.prompts.negative)
    assert panel.form.isRowVisible(panel.prompts.clip_skip)
    assert panel.job_fields()["negative_prompt"] == "blurry" and panel.job_fields()["clip_skip"] == 2  # kept hidden


def test_choosing_flux_brings_its_schedulers_and_defaults(panel):
    choose(panel, "tiny-sd")
    choose(panel, "tiny-flux")
    listed = [panel.scheduler_box.itemData(i) for i in range(panel.scheduler_box.count())]
    assert listed == ["euler", "dpm++2m", "unipc", "lcm"] and panel.scheduler_box.currentData() == "euler"
    assert panel.steps.value() == 28 and panel.prompts.guidance.value() == 3.5
    choose(panel, "tiny-sd")
    assert panel.prompts.guidance.value() == 7.5


def test_flux_runs_from_the_generate_button(panel, qtbot):
    choose(panel, "tiny-flux")
    result = generate_small(panel, qtbot)
    assert result.images.shape == (1, 64, 64, 3) and result.model_name == "tiny-flux"
    assert "plain text" in result.note and "negative prompt" not in result.note
    assert result.job.negative_prompt == "" and result.job.guidance_scale == 3.5
    assert len(panel.canvas._history.frames()) >= 2  # each step kept for the scrubber


def test_the_true_cfg_row_is_flux_only_and_above_1_brings_the_negative_prompt(panel):
    choose(panel, "tiny-sd")
    assert not panel.form.isRowVisible(panel.prompts.true_cfg) and panel.form.isRowVisible(panel.prompts.clip_skip)
    choose(panel, "tiny-flux")
    assert not panel.form.isRowVisible(panel.prompts.clip_skip)  # FluxPipeline reads CLIP-L's pooled output only
    panel.prompts.negative.setPlainText("blurry")
    assert panel.form.isRowVisible(panel.prompts.true_cfg) and not panel.form.isRowVisible(panel.prompts.negative)
    panel.prompts.true_cfg.setValue(4.0)
    assert panel.form.isRowVisible(panel.prompts.negative)
    fields = panel.job_fields()
    assert fields["true_cfg_scale"] == 4.0 and fields["negative_prompt"] == "blurry"
    panel.prompts.true_cfg.setValue(1.0)
    assert not panel.form.isRowVisible(panel.prompts.negative) and panel.job_fields()["negative_prompt"] == ""
    panel.prompts.true_cfg.setValue(4.0)
    choose(panel, "tiny-sd")  # hidden with its row: an SD job has no true CFG, and its negative prompt shows
    fields = panel.job_fields()
    assert fields["true_cfg_scale"] == 1.0 and fields["negative_prompt"] == "blurry"


def test_a_schnell_folder_brings_4_steps_without_guidance_and_dev_its_own_again(panel):
    choose(panel, "tiny-sd")
    choose(panel, "tiny-schnell")
    assert panel.steps.value() == 4 and panel.prompts.guidance.value() == 0.0
    choose(panel, "tiny-flux")
    assert panel.steps.value() == 28 and panel.prompts.guidance.value() == 3.5
    choose(panel, "tiny-schnell")
    choose(panel, "tiny-sd")
    assert panel.prompts.guidance.value() == 7.5  # schnell's 0 is a family's own: SD's again


def test_true_cfg_runs_from_the_generate_button_and_restores(panel, qtbot):
    choose(panel, "tiny-flux")
    panel.prompts.true_cfg.setValue(3.0)
    result = generate_small(panel, qtbot, "a lighthouse at dusk", negative="snow")
    assert result.job.true_cfg_scale == 3.0 and result.job.negative_prompt == "snow"
    assert "negative prompt" not in result.note
    choose(panel, "tiny-sd")
    assert panel.restore_from_png(panel.gallery.paths()[0])
    assert panel.prompts.true_cfg.value() == 3.0 and panel.form.isRowVisible(panel.prompts.negative)
    assert panel.prompts.negative.toPlainText() == "snow"
