"""SD 3.5 in the Text to Image panel: listed with the SD models, the rows of what its family does not take hidden
(and back for an SD model), and a run from the Generate button that shows its steps and saves its picture."""

from __future__ import annotations

import pytest

from tests.tiny_sd import save_tiny_sd
from tests.tiny_sd3 import save_tiny_sd3
from tests.ui_runs import choose, generate_small, offered, text2image_panel_on


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("sd3-panel")
    save_tiny_sd3(root / "tiny-sd3")
    save_tiny_sd(root / "tiny-sd")
    return root


@pytest.fixture()
def panel(make_window, models, tmp_path):
    return text2image_panel_on(make_window, models, tmp_path)


def test_sd3_hides_what_its_family_does_not_take_and_an_sd_model_shows_it_again(panel):
    assert {"tiny-sd3", "tiny-sd"} <= {panel.model_box.itemText(i) for i in range(panel.model_box.count())}
    panel.hires.enabled.setChecked(True)
    panel.prompts.attention_maps.setChecked(True)
    choose(panel, "tiny-sd3")
    # the hires fix through its img2img pipeline, attention maps from its joint attention
    assert [kind for kind, shown in offered(panel).items() if shown] == ["loras", "hires", "attention"]
    assert panel.form.isRowVisible(panel.prompts.clip_skip)  # its CLIP-L and CLIP-G take it
    fields = panel.job_fields()
    assert fields["loras"] == () and fields["vae"] == "" and fields["hires_scale"] == 2.0
    assert fields["attention_maps"] is True and "controlnets" not in fields
    choose(panel, "tiny-sd")
    assert set(offered(panel).values()) == {True}
    assert panel.job_fields()["hires_scale"] == 2.0 and panel.job_fields()["attention_maps"] is True


def test_sd3_runs_from_the_generate_button(panel, qtbot, make_window):
    choose(panel, "tiny-sd3")
    result = generate_small(panel, qtbot)
    assert result.images.shape == (1, 64, 64, 3) and result.model_name == "tiny-sd3"
    assert "plain text" in result.note
    assert len(panel.canvas._history.frames()) >= 2  # each step kept for the scrubber


def test_choosing_sd3_brings_its_schedulers_and_defaults_and_an_sd_model_its_own_again(panel):
    def listed():
        return [panel.scheduler_box.itemData(i) for i in range(panel.scheduler_box.count())]

    choose(panel, "tiny-sd")
    sd_list = listed()
    choose(panel, "tiny-sd3")
    assert listed() == ["euler", "dpm++2m", "unipc", "lcm"] and panel.scheduler_box.currentData() == "euler"
    assert panel.steps.value() == 28 and panel.prompts.guidance.value() == 3.5
    choose(panel, "tiny-sd")
    assert listed() == sd_list and panel.prompts.guidance.value() == 7.5  # still SD 3.5's: SD's own again
    choose(panel, "tiny-sd3")
    panel.prompts.guidance.setValue(5.0)  # the user's own scale: no family's, so it stays
    choose(panel, "tiny-sd")
    assert panel.prompts.guidance.value() == 5.0


def test_a_user_scale_stays_when_the_family_does_not_change(panel):
    choose(panel, "tiny-sd")
    panel.prompts.guidance.setValue(5.0)
    panel.refresh_models()
    assert panel.prompts.guidance.value() == 5.0
