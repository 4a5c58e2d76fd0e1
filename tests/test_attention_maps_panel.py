"""Attention maps for the transformer families (SD 3.5, Flux.1): the Text to Image panel keeps the row, disabled,
saying they are not available for the family yet (and its job asks for none); an SD model enables it again; a CLI
job asking for them on such a model gets a clear refusal naming the family, never a crash."""

from __future__ import annotations

import pytest

from tests.tiny_flux import save_tiny_flux
from tests.tiny_sd import save_tiny_sd
from tests.tiny_sd3 import save_tiny_sd3
from tests.ui_runs import choose, text2image_panel_on


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("attention-panel")
    save_tiny_sd(root / "tiny-sd")
    save_tiny_sd3(root / "tiny-sd3")
    save_tiny_flux(root / "tiny-flux")
    return root


@pytest.fixture()
def panel(make_window, models, tmp_path):
    return text2image_panel_on(make_window, models, tmp_path)


@pytest.mark.parametrize(("model", "family"), [("tiny-sd3", "SD 3.5"), ("tiny-flux", "Flux.1")])
def test_a_transformer_family_shows_the_attention_row_disabled_saying_why(panel, model, family):
    maps = panel.prompts.attention_maps
    choose(panel, "tiny-sd")
    maps.setChecked(True)
    assert maps.isEnabled() and maps.text() == "Attention maps" and panel.job_fields()["attention_maps"] is True
    choose(panel, model)
    assert panel.form.isRowVisible(maps) and not maps.isEnabled()
    assert maps.text() == f"Attention maps: not available for {family} yet" and family in maps.toolTip()
    assert panel.job_fields()["attention_maps"] is False  # the job asks for none
    choose(panel, "tiny-sd")
    assert maps.isEnabled() and maps.text() == "Attention maps" and panel.job_fields()["attention_maps"] is True


@pytest.mark.parametrize(("model", "family"), [("tiny-sd3", "SD 3.5"), ("tiny-flux", "Flux.1")])
def test_the_cli_refuses_attention_maps_on_a_transformer_family_by_name(models, model, family, tmp_path, capsys):
    from ddpm_studio.cli import main

    code = main(["txt2img", "--model", str(models / model), "--prompt", "a fox", "--steps", "2", "--size", "64x64",
                 "--device", "cpu", "--out", str(tmp_path / "out"), "--attention-maps", str(tmp_path / "maps")])
    err = capsys.readouterr().err
    assert code == 1 and f"is a {family} model, which does not take attention maps; run it without" in err
    assert "Traceback" not in err and not (tmp_path / "out").exists() and not (tmp_path / "maps").exists()
