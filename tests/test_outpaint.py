"""Outpainting (engine/sampling/outpaint.py): the canvas grown by exactly the requested pixels on each side, the new area
painted by an inpainting model or a normal one, the original pixels outside the seam kept exactly; in the CLI
(``edit --mode outpaint --extend L,R,T,B``) and in the Edit panel."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from ddpm_studio.cli import main
from ddpm_studio.engine.jobs.checks import JobError
from ddpm_studio.engine.jobs.types import EditJob
from ddpm_studio.engine.output.metadata import read_job, read_png_text
from ddpm_studio.engine.runner import Engine
from ddpm_studio.engine.sampling.outpaint import make_canvas
from tests.tiny_sd import save_tiny_sd


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("outpaint")
    return {"sd": save_tiny_sd(root / "sd"), "inpaint": save_tiny_sd(root / "inpaint", "inpaint")}


@pytest.fixture(scope="module")
def picture(tmp_path_factory) -> tuple[str, np.ndarray]:
    pixels = (np.random.default_rng(0).random((40, 56, 3)) * 255).astype(np.uint8)
    path = tmp_path_factory.mktemp("picture") / "picture.png"
    Image.fromarray(pixels).save(path)
    return str(path), pixels


def test_the_canvas_masks_the_new_area_and_the_seam_only(picture):
    _, pixels = picture
    canvas = make_canvas(Image.fromarray(pixels), (10, 6, 0, 13), "edge", 8, seed=0)
    assert canvas.size == (72, 53) and canvas.image.size == (72, 56)  # padded to the 8-pixel grid
    mask, alpha, filled = np.asarray(canvas.mask), canvas.alpha, np.asarray(canvas.image)
    assert (mask[:32, 18:58] == 0).all() and (alpha[:32, 18:58] == 0).all()  # kept: the picture less the bands
    assert (mask[:, :10] == 255).all() and (alpha[:, :10] == 1).all()  # the new area
    assert 0 < alpha[10, 14] < 1  # the seam band, blended
    assert np.array_equal(filled[:40, 10:66], pixels)
    assert np.array_equal(filled[5, :10], np.repeat(pixels[5, :1], 10, 0))  # the edge stretched outwards
    noise = np.asarray(make_canvas(Image.fromarray(pixels), (10, 6, 0, 13), "noise", 8, seed=0).image)
    assert np.array_equal(noise[:40, 10:66], pixels) and noise[:, :10].std() > 10


@pytest.mark.parametrize("kind", ["sd", "inpaint"])
def test_outpainting_grows_the_canvas_and_keeps_the_picture_outside_the_seam(models, picture, kind):
    path, pixels = picture
    job = EditJob(model=str(models[kind]), mode="outpaint", prompt="a meadow", image=path, extend=(10, 6, 0, 13),
                  feather=8, strength=1.0, steps=3, seed=1, preview_every=0)
    result = Engine(device="cpu").run(job, save=False).images[0]
    assert result.shape == (53, 72, 3)  # 40 + 0 + 13 high, 56 + 10 + 6 wide
    assert np.array_equal(result[:32, 18:58], pixels[:32, 8:48])  # the original, bit for bit, outside the bands
    assert not np.array_equal(result[:, :10], np.asarray(make_canvas(Image.fromarray(pixels), job.extend, "edge", 8,
                                                                      0).image)[:53, :10])  # the new area painted


def test_impossible_outpaints_are_refused_in_words():
    with pytest.raises(JobError, match="grown on at least one side"):
        EditJob(model="m", mode="outpaint", prompt="x", image="a.png")
    with pytest.raises(JobError, match="four numbers"):
        EditJob(model="m", mode="outpaint", prompt="x", image="a.png", extend=(1, 2))


def test_cli_outpaint(models, picture, tmp_path, capsys):
    path, _ = picture
    common = ["edit", "--model", str(models["sd"]), "--mode", "outpaint", "--image", path, "--prompt", "a meadow",
              "--steps", "2", "--strength", "1", "--seed", "4"]
    assert main(common + ["--extend", "16,0,8,0", "--outpaint-fill", "noise", "--feather", "4",
                          "--out", str(tmp_path)]) == 0
    out = next(tmp_path.glob("*.png"))
    assert Image.open(out).size == (72, 48)
    assert 'Outpaint: "16,0,8,0", Outpaint fill: noise, Mask blur: 4' in read_png_text(out)["parameters"]
    assert read_job(out).extend == (16, 0, 8, 0)
    capsys.readouterr()
    assert main(common + ["--extend", "16,0", "--out", str(tmp_path)]) == 1
    assert "four numbers" in capsys.readouterr().err


def test_the_edit_panel_outpaints(window_on, models, picture, qtbot):
    path, pixels = picture
    window = window_on(models["sd"].parent)
    panel = window.edit_panel
    window.tabs.setCurrentWidget(panel)
    assert not panel.outpaint.extend_row.isVisibleTo(panel)
    panel.mode_box.setCurrentIndex(panel.mode_box.findData("outpaint"))
    assert panel.outpaint.extend_row.isVisibleTo(panel)
    names = [panel.model_box.itemText(i) for i in range(panel.model_box.count())]
    assert {"sd", "inpaint"} <= set(names)  # a normal model outpaints too (masked img2img)
    panel.model_box.setCurrentIndex(panel.model_box.findText("inpaint"))
    panel.load_image(path)
    panel.outpaint.sides["right"].setValue(24)
    assert panel.outpaint.size_label.text() == "56×40 → 80×40"
    assert panel.control_size() == (80, 40)  # a control image drawn here lines up with the grown canvas
    panel.prompts.prompt.setPlainText("a meadow")
    panel.steps.setValue(2)
    with qtbot.waitSignal(window.sampler.job_finished, timeout=60000) as done:
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    result = done.args[1].saved_paths[0]
    with Image.open(result) as image:
        assert image.size == (80, 40) and np.array_equal(np.asarray(image)[:, :46], pixels[:, :46])
    panel.outpaint.sides["right"].setValue(0)
    assert panel.restore_from_png(result) and panel.outpaint.extend() == (0, 24, 0, 0)
