"""Chroma in the Text to Image panel: listed with its family, its negative prompt shown (real CFG) with the rows of
what it does not take hidden, its scheduler and defaults filled in when chosen, and a run from the Generate button
that uses the negative prompt, shows its steps and saves a picture whose parameters restore."""

from __future__ import annotations

import pytest

from tests.tiny_chroma import save_tiny_chroma
from tests.tiny_flux import save_tiny_flux
from tests.tiny_sd import save_tiny_sd
from tests.ui_runs import choose, generate_small, offered, text2image_panel_on


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("chroma-panel")
    save_tiny_chroma(root / "tiny-chroma")
    save_tiny_flux(root / "tiny-flux")
    save_tiny_sd(root / "tiny-sd")
    return root


@pytest.fixture()
def panel(make_window, models, tmp_path):
    return text2image_panel_on(make_window, models, tmp_path)


def test_chroma_is_listed_with_its_family_and_keeps_the_negative_prompt(panel):
    assert "tiny-chroma" in {panel.model_box.itemText(i) for i in range(panel.model_box.count())}
    choose(panel, "tiny-chroma")
    assert panel.current_model_info().family == "chroma"
    panel.prompts.negative.setPlainText("blurry")
    # LoRAs; no embeddings, VAE, ControlNet or attention maps; the hires fix through its img2img pipeline
    assert [kind for kind, shown in offered(panel).items() if shown] == ["loras", "hires", "attention"]
    assert panel.form.isRowVisible(panel.prompts.negative)  # real CFG takes it
    assert not panel.form.isRowVisible(panel.prompts.true_cfg)  # its guidance scale is CFG already
    assert not panel.form.isRowVisible(panel.prompts.clip_skip)  # T5 alone
    choose(panel, "tiny-sd")
    assert panel.form.isRowVisible(panel.prompts.clip_skip)
    choose(panel, "tiny-chroma")
    fields = panel.job_fields()
    assert fields["negative_prompt"] == "blurry" and fields["true_cfg_scale"] == 1.0 and fields["loras"] == ()


def test_choosing_chroma_brings_its_scheduler_and_defaults(panel):
    choose(panel, "tiny-sd")
    choose(panel, "tiny-chroma")
    listed = [panel.scheduler_box.itemData(i) for i in range(panel.scheduler_box.count())]
    assert listed == ["euler", "lcm"] and panel.scheduler_box.currentData() == "euler"
    assert panel.steps.value() == 40 and panel.prompts.guidance.value() == 3.0
    assert panel.width_box.value() == panel.height_box.value() == 1024
    choose(panel, "tiny-flux")
    assert panel.prompts.guidance.value() == 3.5 and not panel.form.isRowVisible(panel.prompts.negative)
    choose(panel, "tiny-sd")
    assert panel.prompts.guidance.value() == 7.5  # still a family's own: SD's again


def test_chroma_runs_from_the_generate_button_and_its_picture_restores(panel, qtbot):
    choose(panel, "tiny-chroma")
    result = generate_small(panel, qtbot, "a (lighthouse:1.3) at dusk", negative="snow")
    assert result.images.shape == (1, 64, 64, 3) and result.model_name == "tiny-chroma"
    assert "plain text" in result.note and "negative prompt" not in result.note
    assert result.job.negative_prompt == "snow" and result.job.guidance_scale == 3.0
    assert len(panel.canvas._history.frames()) >= 2  # each step kept for the scrubber
    choose(panel, "tiny-sd")
    panel.prompts.negative.setPlainText("")
    assert panel.restore_from_png(panel.gallery.paths()[0])
    assert panel.current_model_info().family == "chroma" and panel.steps.value() == 2
    assert panel.prompts.negative.toPlainText() == "snow" and panel.prompts.guidance.value() == 3.0
