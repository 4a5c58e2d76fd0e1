"""The Upscale panel with a model upscaler (a tiny ESRGAN in a user's folder): listed beside the diffusion upscalers,
its factor in the size shown, the fields it takes no part in disabled, run tile by tile, the before/after view."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from tests.upscaler_models import save_upscaler


@pytest.fixture()
def model(tmp_path):
    return save_upscaler(tmp_path / "ESRGAN", "esrgan", 2, ".pth")


@pytest.fixture()
def window(make_window, tmp_path, model):
    from ddpm_studio.ui.core.settings import Settings

    settings = Settings(tmp_path / "settings.ini")
    settings.output_dir = str(tmp_path / "out")
    settings.add_model_folder(str(model.parent))
    return make_window(settings)


def test_panel_lists_and_runs_a_model_upscaler(window, qtbot, tmp_path, model):
    panel = window.upscale_panel
    window.tabs.setCurrentWidget(panel)
    names = [panel.model_box.itemText(i) for i in range(panel.model_box.count())]
    assert any("2x-tiny-esrgan" in name for name in names)
    assert panel.select_model(str(model.resolve()))
    assert not panel.steps.isEnabled() and not panel.noise_level.isEnabled() and not panel.prompts.prompt.isEnabled()
    path = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(path)
    assert panel.load_image(str(path))
    assert "→ 96×80" in panel.image_label.text()  # the model's own factor
    panel.tile.setValue(32)
    panel.overlap.setValue(8)
    with qtbot.waitSignal(window.sampler.job_finished, timeout=120000) as done:
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    result = done.args[1]
    assert result.images.shape == (1, 80, 96, 3) and result.tiles == 4
    qtbot.waitUntil(lambda: panel.compare.after is not None)
    assert (panel.compare.before.width(), panel.compare.after.width()) == (96, 96)
    assert panel.compare.labels == ("Lanczos", "2x-tiny-esrgan")
    qtbot.waitUntil(lambda: panel.gallery.count() == 1)


def test_lanczos_needs_no_model(window, qtbot, tmp_path):
    panel = window.upscale_panel
    window.tabs.setCurrentWidget(panel)
    assert panel.select_model("lanczos")
    path = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(path)
    assert panel.load_image(str(path)) and "→ 128×96" in panel.image_label.text()
    with qtbot.waitSignal(window.sampler.job_finished, timeout=60000) as done:
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    result = done.args[1]
    assert result.images.shape == (1, 96, 128, 3)
    with Image.open(path) as image:  # the result is Lanczos itself
        lanczos = np.asarray(image.resize((128, 96), Image.Resampling.LANCZOS)).astype(int)
    assert np.abs(result.images[0].astype(int) - lanczos).max() <= 1


def test_redraw_rows_after_a_model_upscaler(make_window, qtbot, tmp_path, model):
    from ddpm_studio.ui.core.settings import Settings
    from tests.tiny_sd import save_tiny_sd

    sd = save_tiny_sd(tmp_path / "sd" / "tiny-sd")
    settings = Settings(tmp_path / "settings.ini")
    settings.output_dir = str(tmp_path / "out")
    settings.add_model_folder(str(model.parent))
    settings.add_model_folder(str(sd.parent))
    window = make_window(settings)
    panel = window.upscale_panel
    window.tabs.setCurrentWidget(panel)
    assert panel.select_model(str(model.resolve()))
    redraw = panel.redraw
    assert redraw.enabled.isVisibleTo(panel) and not redraw.model.isVisibleTo(panel)
    redraw.enabled.setChecked(True)
    assert redraw.model.isVisibleTo(panel) and redraw.model.select(str(sd.resolve()))
    assert panel.steps.isEnabled() and panel.prompts.prompt.isEnabled()  # the redraw's
    assert not panel.noise_level.isEnabled()
    redraw.strength.setValue(0.5)
    redraw.tile.setValue(64)
    panel.steps.setValue(2)
    path = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(path)
    assert panel.load_image(str(path))
    with qtbot.waitSignal(window.sampler.job_finished, timeout=120000) as done:
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    result = done.args[1]
    assert result.images.shape == (1, 80, 96, 3) and result.tiles == 4 and result.job.redraw == str(sd.resolve())
    panel.select_model("lanczos")  # Lanczos is followed by a redraw too; a diffusion upscaler is not
    assert redraw.enabled.isVisibleTo(panel)
