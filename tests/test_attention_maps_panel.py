"""Attention maps for the transformer families in the Text to Image panel and the CLI: SD 3.5 and Flux.1 record
them from their joint attention (engine/inspect/joint_attention.py) — the row is offered, a run from the Generate
button carries a map per word every step, ``--attention-maps DIR`` writes them; a family whose attention is not
recorded yet (Z-Image) keeps the row disabled saying so (its job asks for none), and the CLI refuses it by name,
never a crash."""

from __future__ import annotations

import numpy as np
import pytest

from tests.tiny_flux import save_tiny_flux
from tests.tiny_sd import save_tiny_sd
from tests.tiny_sd3 import save_tiny_sd3
from tests.tiny_zimage import save_tiny_zimage
from tests.ui_runs import choose, generate_small, text2image_panel_on


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("attention-panel")
    save_tiny_sd(root / "tiny-sd")
    save_tiny_sd3(root / "tiny-sd3")
    save_tiny_flux(root / "tiny-flux")
    save_tiny_zimage(root / "tiny-zimage")
    return root


@pytest.fixture()
def panel(make_window, models, tmp_path):
    return text2image_panel_on(make_window, models, tmp_path)


def test_a_family_whose_attention_is_not_recorded_shows_the_row_disabled_saying_why(panel):
    maps = panel.prompts.attention_maps
    choose(panel, "tiny-sd")
    maps.setChecked(True)
    assert maps.isEnabled() and maps.text() == "Attention maps" and panel.job_fields()["attention_maps"] is True
    choose(panel, "tiny-zimage")
    assert panel.form.isRowVisible(maps) and not maps.isEnabled()
    assert maps.text() == "Attention maps: not available for Z-Image yet" and "Z-Image" in maps.toolTip()
    assert panel.job_fields()["attention_maps"] is False  # the job asks for none
    choose(panel, "tiny-flux")
    assert maps.isEnabled() and maps.text() == "Attention maps" and panel.job_fields()["attention_maps"] is True


@pytest.mark.parametrize("model", ["tiny-sd3", "tiny-flux"])
def test_a_joint_attention_family_records_maps_from_the_generate_button(panel, model, qtbot):
    choose(panel, model)
    panel.prompts.attention_maps.setChecked(True)
    histories = []
    panel.window().sampler.job_started.connect(lambda _id, _job, history: histories.append(history))
    result = generate_small(panel, qtbot, prompt="a red fox in snow")
    assert result.job.attention_maps and np.isfinite(result.images).all()
    steps = [event for event in histories[0].frames() if not event.final]
    assert len(steps) == 2 and all(event.attention_words == ("a", "red", "fox", "in", "snow") for event in steps)
    assert all(event.attention.shape == (5, 8, 8) for event in steps)


@pytest.mark.parametrize("model", ["tiny-sd3", "tiny-flux"])
def test_the_cli_writes_a_joint_attention_familys_maps(models, model, tmp_path):
    from ddpm_studio.cli import main

    assert main(["txt2img", "--model", str(models / model), "--prompt", "a fox", "--steps", "2", "--size", "64x64",
                 "--device", "cpu", "--out", str(tmp_path / "out"), "--attention-maps", str(tmp_path / "maps")]) == 0
    assert sorted(p.name for p in (tmp_path / "maps").glob("*.png")) == ["a.png", "fox.png"]
    assert len(list((tmp_path / "maps" / "steps").glob("fox-*.png"))) == 2


def test_the_cli_refuses_attention_maps_on_a_family_it_does_not_record_by_name(models, tmp_path, capsys):
    from ddpm_studio.cli import main

    code = main(["txt2img", "--model", str(models / "tiny-zimage"), "--prompt", "a fox", "--steps", "2", "--size",
                 "64x64", "--device", "cpu", "--out", str(tmp_path / "out"), "--attention-maps", str(tmp_path / "maps")])
    err = capsys.readouterr().err
    assert code == 1 and "is a Z-Image model, which does not take attention maps; run it without" in err
    assert "Traceback" not in err and not (tmp_path / "out").exists() and not (tmp_path / "maps").exists()
