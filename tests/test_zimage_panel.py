"""Z-Image in the Text to Image panel: listed with the SD models; the negative prompt shown (its pipeline's true CFG
reads it above guidance 0), clip skip and the rows of what its family does not take hidden (and back for an SD model);
its schedulers and Turbo's defaults; a run from the Generate button that shows its steps, saves its picture and says
the negative prompt was not used at guidance 0; and its parameters restored from that picture."""

from __future__ import annotations

import pytest

from tests.tiny_sd import save_tiny_sd
from tests.tiny_zimage import save_tiny_zimage
from tests.ui_runs import choose, generate_small, offered, text2image_panel_on


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("zimage-panel")
    save_tiny_zimage(root / "tiny-zimage")
    save_tiny_sd(root / "tiny-sd")
    return root


@pytest.fixture()
def panel(make_window, models, tmp_path):
    return text2image_panel_on(make_window, models, tmp_path)


def test_z_image_keeps_the_negative_prompt_and_hides_clip_skip_and_the_addon_rows(panel):
    assert {"tiny-zimage", "tiny-sd"} <= {panel.model_box.itemText(i) for i in range(panel.model_box.count())}
    panel.prompts.negative.setPlainText("blurry")
    panel.prompts.clip_skip.setValue(2)
    choose(panel, "tiny-zimage")
    shown = panel.form.isRowVisible
    assert [kind for kind, on in offered(panel).items() if on] == ["loras", "hires"]  # through its img2img pipeline
    assert shown(panel.prompts.negative) and not shown(panel.prompts.clip_skip)
    assert "read at guidance above 0" in panel.prompts.negative.placeholderText()
    fields = panel.job_fields()
    assert fields["negative_prompt"] == "blurry" and fields["clip_skip"] == 1 and fields["loras"] == ()
    choose(panel, "tiny-sd")
    assert set(offered(panel).values()) == {True} and shown(panel.prompts.clip_skip)
    assert panel.prompts.negative.placeholderText() == "What to avoid (optional)"
    assert panel.job_fields()["clip_skip"] == 2  # the value was kept while hidden


def test_choosing_z_image_brings_its_schedulers_and_turbos_defaults(panel):
    choose(panel, "tiny-sd")
    choose(panel, "tiny-zimage")
    listed = [panel.scheduler_box.itemData(i) for i in range(panel.scheduler_box.count())]
    assert listed == ["euler", "unipc", "lcm"] and panel.scheduler_box.currentData() == "euler"
    assert panel.steps.value() == 9 and panel.prompts.guidance.value() == 0.0
    choose(panel, "tiny-sd")
    assert panel.prompts.guidance.value() == 7.5


def test_z_image_runs_from_the_generate_button_and_its_picture_restores_it(panel, qtbot):
    choose(panel, "tiny-zimage")
    window = panel.window()
    result = generate_small(panel, qtbot, "a (lighthouse:1.3) at dusk", negative="blurry")
    assert result.images.shape == (1, 64, 64, 3) and result.model_name == "tiny-zimage"
    assert "plain text" in result.note and "at guidance 0 Z-Image runs no unconditional pass" in result.note
    assert result.job.negative_prompt == "blurry" and result.job.guidance_scale == 0.0
    assert result.job.scheduler == "euler" and result.job.clip_skip == 1
    assert len(panel.canvas._history.frames()) >= 2  # each step kept for the scrubber
    choose(panel, "tiny-sd")
    panel.prompts.negative.setPlainText("")
    assert window.restore_from_png(panel.gallery.paths()[0])
    assert panel.model_box.currentText() == "tiny-zimage" and panel.current_job() == result.job
