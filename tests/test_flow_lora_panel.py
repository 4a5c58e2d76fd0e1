"""The Text to Image panel's LoRA list with a flow model: for Flux.1 it offers Flux LoRAs (tagged with the families
their layers fit) and greys SD ones, the other way round for an SD model, and a ticked Flux LoRA goes into the run
from the Generate button and changes its picture."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette

from ddpm_studio.ui.core.settings import Settings
from tests.test_lora_gui import item_of, save_lora, tick
from tests.tiny_flow_loras import save_flow_lora
from tests.tiny_flux import save_tiny_flux
from tests.tiny_sd import save_tiny_sd
from tests.ui_runs import choose, generate_small


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from diffusers import FluxTransformer2DModel

    root = tmp_path_factory.mktemp("flux-lora-panel")
    flux = save_tiny_flux(root / "models" / "tiny-flux")
    save_tiny_sd(root / "models" / "tiny-sd")
    transformer = FluxTransformer2DModel.from_pretrained(flux, subfolder="transformer", local_files_only=True)
    save_flow_lora(root / "loras" / "flux-style.safetensors", "flux", transformer, "kohya")
    save_flow_lora(root / "loras" / "flux-comfy.safetensors", "flux", transformer, "comfy", seed=2)
    save_lora(root / "loras" / "sd-style.safetensors")  # the tiny SD UNet's cross-attention, 32 wide
    return root


@pytest.fixture()
def panel(make_window, models, tmp_path):
    settings = Settings(tmp_path / "settings.ini")
    settings.output_dir = str(tmp_path / "out")
    settings.add_model_folder(str(models / "models"))
    settings.add_own_folder("loras", str(models / "loras"))
    window = make_window(settings)
    window.tabs.setCurrentWidget(window.text2image_panel)
    return window.text2image_panel


def test_a_flux_model_offers_flux_loras_and_greys_sd_ones(panel):
    loras = panel.addons.loras
    grey = loras.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
    choose(panel, "tiny-flux")
    assert panel.form.isRowVisible(loras)
    assert item_of(loras, "flux-style").text() == "flux-style   [Flux.1 or Chroma]"
    for name in ("flux-style", "flux-comfy"):
        assert item_of(loras, name).foreground().color() != grey
    assert item_of(loras, "sd-style").foreground().color() == grey
    assert "another family" in item_of(loras, "sd-style").toolTip()
    choose(panel, "tiny-sd")  # and the other way round
    assert item_of(loras, "flux-style").foreground().color() == grey
    assert item_of(loras, "sd-style").foreground().color() != grey
    choose(panel, "tiny-flux")
    tick(loras, "sd-style")
    path = item_of(loras, "sd-style").data(Qt.ItemDataRole.UserRole)
    assert not loras.rows[path].name.isEnabled()  # a chosen LoRA of another family: its row says so


def test_a_ticked_flux_lora_goes_into_the_run_and_changes_its_picture(panel, qtbot):
    choose(panel, "tiny-flux")
    base = generate_small(panel, qtbot, prompt="a cat")
    panel.gallery.clear()
    tick(panel.addons.loras, "flux-style", 1.0)
    styled = generate_small(panel, qtbot, prompt="a cat")
    (ref, weight), = styled.job.loras
    assert "flux-style" in ref and weight == 1.0
    assert np.abs(styled.images.astype(int) - base.images).max() > 5
