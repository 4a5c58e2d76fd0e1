"""Inpainting (engine/sampling/inpaint.py, mask_blend.py): any Stable Diffusion model inpaints — an inpainting one, or a normal
one as masked img2img — and every pixel further than the mask blur from the painted stroke is the input's own, bit for
bit; in the engine, the CLI (a normal single-file checkpoint) and the Edit panel."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPointF, Qt

from ddpm_studio.cli import main
from ddpm_studio.engine.jobs.types import EditJob
from ddpm_studio.engine.models.catalogue import ModelError, inspect_model
from ddpm_studio.engine.output.metadata import read_job, read_png_text
from ddpm_studio.engine.runner import Engine
from ddpm_studio.engine.sampling.inpaint import make_canvas
from tests.ldm_checkpoint import save_config_folder, save_single_file
from tests.tiny_sd import save_tiny_sd, save_tiny_sdxl

FEATHER = 4


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("inpaint")
    return {"sd": save_tiny_sd(root / "sd"), "inpaint": save_tiny_sd(root / "inpaint", "inpaint"),
            "sdxl": save_tiny_sdxl(root / "sdxl")}


@pytest.fixture(scope="module")
def picture(tmp_path_factory) -> tuple[str, str, np.ndarray, np.ndarray]:
    """A 60×44 picture (not on the 8-pixel grid) and a mask with one stroke: (picture, mask, pixels, stroke)."""
    folder = tmp_path_factory.mktemp("picture")
    pixels = (np.random.default_rng(0).random((44, 60, 3)) * 255).astype(np.uint8)
    stroke = np.zeros((44, 60), dtype=bool)
    stroke[12:28, 22:40] = True
    Image.fromarray(pixels).save(folder / "picture.png")
    Image.fromarray(np.where(stroke, 255, 0).astype(np.uint8)).save(folder / "mask.png")
    return str(folder / "picture.png"), str(folder / "mask.png"), pixels, stroke


def beyond_blur(stroke: np.ndarray, feather: int) -> np.ndarray:
    """Pixels further than ``feather`` from the stroke: outside the blurred mask."""
    from scipy.ndimage import distance_transform_edt

    return distance_transform_edt(~stroke) > feather


def test_the_canvas_repaints_the_stroke_and_blends_a_band_around_it(picture):
    _, mask, pixels, stroke = picture
    canvas = make_canvas(Image.fromarray(pixels), Image.open(mask), FEATHER)
    assert canvas.image.size == (64, 48) and canvas.size == (60, 44)  # padded to the grid, cropped back
    alpha = canvas.alpha[:44, :60]
    assert (alpha[stroke] == 1).all() and (alpha[beyond_blur(stroke, FEATHER)] == 0).all()
    assert 0 < alpha[20, 20] < 1  # two pixels left of the stroke: blended
    repainted = np.asarray(canvas.mask)[:44, :60] == 255
    assert repainted[alpha > 0].all()  # the pipeline repaints everything the blend takes …
    assert repainted[8:32, 16:48].all() and not repainted[:8].any()  # … in whole 8×8 latent cells


@pytest.mark.parametrize("kind", ["sd", "inpaint", "sdxl"])
def test_inpainting_keeps_every_pixel_outside_the_blurred_mask(models, picture, kind):
    path, mask, pixels, stroke = picture
    job = EditJob(model=str(models[kind]), mode="inpaint", prompt="a red ball", image=path, mask=mask,
                  feather=FEATHER, strength=1.0, steps=3, seed=1, preview_every=0)
    result = Engine(device="cpu").run(job, save=False).images[0]
    assert result.shape == pixels.shape  # the input's size, not floored to the grid
    outside = beyond_blur(stroke, FEATHER)
    assert np.array_equal(result[outside], pixels[outside])  # bit for bit, the corners included
    changed = (result != pixels).any(axis=-1)
    assert changed[stroke].mean() > 0.9  # the stroke repainted


def test_a_black_mask_is_refused_in_words(models, picture, tmp_path):
    path, _, pixels, _ = picture
    black = tmp_path / "black.png"
    Image.new("L", (60, 44), 0).save(black)
    with pytest.raises(ModelError, match=f"{black}.*black everywhere"):
        Engine(device="cpu").run(EditJob(model=str(models["sd"]), mode="inpaint", prompt="x", image=path,
                                         mask=str(black), steps=2), save=False)


def test_cli_inpaints_with_a_normal_checkpoint(models, picture, tmp_path, capsys, monkeypatch):
    path, mask, pixels, stroke = picture
    checkpoint = save_single_file(models["sd"], tmp_path / "ordinary.safetensors")
    save_config_folder(models["sd"], tmp_path / "configs" / "sd1")
    monkeypatch.setenv("DDPM_STUDIO_CONFIGS", str(tmp_path / "configs"))
    assert "inpaint" in inspect_model(str(checkpoint)).modes
    assert main(["edit", "--model", str(checkpoint), "--mode", "inpaint", "--image", path, "--mask", mask,
                 "--prompt", "a red ball", "--steps", "2", "--strength", "1", "--feather", str(FEATHER),
                 "--out", str(tmp_path / "out"), "--device", "cpu"]) == 0
    out = capsys.readouterr().out.split()[0]
    with Image.open(out) as image:
        result = np.asarray(image.convert("RGB"))
    outside = beyond_blur(stroke, FEATHER)
    assert result.shape == pixels.shape and np.array_equal(result[outside], pixels[outside])
    assert f"Mask blur: {FEATHER}" in read_png_text(out)["parameters"]
    assert read_job(out).mode == "inpaint" and read_job(out).feather == FEATHER


def test_the_edit_panel_inpaints_with_any_model_and_recommends_an_inpainting_one(window_on, models, picture, qtbot):
    path, _, pixels, _ = picture
    window = window_on(models["sd"].parent)
    panel = window.edit_panel
    window.tabs.setCurrentWidget(panel)
    panel.mode_box.setCurrentIndex(panel.mode_box.findData("inpaint"))
    names = [panel.model_box.itemText(i) for i in range(panel.model_box.count())]
    assert {"sd", "inpaint", "sdxl"} <= set(names)  # every SD model, not only inpainting ones
    assert panel.outpaint.feather.isVisibleTo(panel)  # the mask blur
    panel.model_box.setCurrentIndex(panel.model_box.findText("inpaint"))
    assert not panel.inpaint_hint.isVisibleTo(panel)
    panel.model_box.setCurrentIndex(panel.model_box.findText("sd"))
    assert panel.inpaint_hint.isVisibleTo(panel) and "inpainting model" in panel.inpaint_hint.text()
    assert panel.generate_button.isEnabled() or not panel.ready

    panel.load_image(path)
    panel.painter.paint_stroke(QPointF(30, 20), QPointF(34, 20))
    stroke = panel.painter.mask_array() >= 128
    panel.outpaint.feather.setValue(FEATHER)
    panel.prompts.prompt.setPlainText("a red ball")
    panel.strength.setValue(1.0)
    panel.steps.setValue(2)
    qtbot.waitUntil(lambda: panel.generate_button.isEnabled(), timeout=60000)
    with qtbot.waitSignal(window.sampler.job_finished, timeout=120000) as done:
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    saved = done.args[1].saved_paths[0]
    with Image.open(saved) as image:
        result = np.asarray(image.convert("RGB"))
    outside = beyond_blur(stroke, FEATHER)
    assert result.shape == pixels.shape and np.array_equal(result[outside], pixels[outside])
    assert (result != pixels).any(axis=-1)[stroke].mean() > 0.5
    assert read_job(saved).model == str(models["sd"]) and read_job(saved).feather == FEATHER

    panel.mode_box.setCurrentIndex(panel.mode_box.findData("img2img"))
    assert not panel.inpaint_hint.isVisibleTo(panel)
