"""Tiled diffusion upscaling (upscale/redraw.py, the Ultimate SD Upscale way): a tiny ESRGAN's 2× redrawn tile by
tile with img2img of a tiny SD model — the size, one progress over all tiles with whole-picture previews, the
metadata, cancel, the CLI, and no seam where tiles meet (measured: the step across a tile border is no larger than
the steps inside tiles)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ddpm_studio.cli import main
from ddpm_studio.engine.jobs.checks import JobError
from ddpm_studio.engine.jobs.upscale_job import UpscaleJob
from ddpm_studio.engine.output.metadata import read_png_text
from ddpm_studio.engine.runner import Engine
from ddpm_studio.engine.upscale.redraw import redraw_boxes
from tests.tiny_sd import save_tiny_sd
from tests.upscaler_models import save_upscaler


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("redraw")
    torch.set_num_threads(1)
    return {"sd": save_tiny_sd(root / "sd"), "esrgan": save_upscaler(root / "ESRGAN", "esrgan", 2)}


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu")


def gradient(path, width=48, height=40):
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack([x * 255 / width, y * 255 / height, np.full_like(x, 128.0)], axis=-1).astype(np.uint8)
    Image.fromarray(pixels).save(path)
    return str(path)


def _job(files, image, **changes) -> UpscaleJob:
    return UpscaleJob(**{**dict(model=str(files["esrgan"]), image=image, redraw=str(files["sd"]), strength=0.5,
                                redraw_tile=64, prompt="a smooth gradient", scheduler="euler", steps=4, seed=3,
                                preview_every=1), **changes})


def test_redrawn_tile_by_tile_with_one_progress(engine, files, tmp_path):
    events = []
    job = _job(files, gradient(tmp_path / "in.png"), output_dir=str(tmp_path / "out"))
    result = engine.run(job, on_step=events.append)
    assert result.images.shape == (1, 80, 96, 3) and result.tiles == 4 == len(redraw_boxes(96, 80, 64))
    steps = [e for e in events if not e.final]
    # the upscaler's one tile, then 4 redrawn tiles × int(4 × 0.5) steps, in one progress
    assert [e.index for e in steps] == list(range(9)) and {e.total for e in steps} == {9}
    assert [e.upscaling for e in steps] == [True] + [False] * 8
    assert all(e.x_t.shape == (1, 80, 96, 3) for e in steps[1:])  # the whole picture, the running tile over it
    assert result.reference.shape == (80, 96, 3)
    text = read_png_text(result.saved_paths[0])["parameters"]
    assert "Denoising strength: 0.5" in text and "Redraw model: sd" in text and "Postprocess upscaler: 2x-tiny" in text
    plain = engine.run(job.replace(redraw="", output_dir=""))  # the redraw changed the upscaled picture
    assert np.abs(plain.images.astype(int) - result.images.astype(int)).mean() > 1
    seen = []
    cancelled = engine.run(job.replace(output_dir=str(tmp_path / "c")), on_step=seen.append,
                           should_stop=lambda: len(seen) >= 3)
    assert cancelled.cancelled and not (tmp_path / "c").exists()


def test_no_seam_where_tiles_meet(engine, files, tmp_path):
    """Measured on rows and columns: a tile pasted over its neighbour (no blend) makes a step twice the others
    here; blended, the border steps are the inside ones. The sizes put the borders at other rows of each tile than
    its own texture's period (the tiny model's), so that texture is not taken for a seam."""
    result = engine.run(_job(files, gradient(tmp_path / "in.png", 96, 56), redraw_tile=64, preview_every=0,
                             output_dir=""))
    picture = result.images[0].astype(float)
    steps_x = np.abs(np.diff(picture, axis=1)).mean(axis=(0, 2))  # the step between column x and x+1
    steps_y = np.abs(np.diff(picture, axis=0)).mean(axis=(1, 2))
    boxes = redraw_boxes(picture.shape[1], picture.shape[0], 64)
    assert len(boxes) > 4
    borders_x = sorted({b.x0 - 1 for b in boxes if b.x0} | {b.x1 - 1 for b in boxes if b.x1 < picture.shape[1]})
    borders_y = sorted({b.y0 - 1 for b in boxes if b.y0} | {b.y1 - 1 for b in boxes if b.y1 < picture.shape[0]})
    inside_x = np.delete(steps_x, borders_x).mean()
    inside_y = np.delete(steps_y, borders_y).mean()
    assert steps_x[borders_x].max() <= np.delete(steps_x, borders_x).max()  # no border step stands out …
    assert steps_y[borders_y].max() <= np.delete(steps_y, borders_y).max()
    assert steps_x[borders_x].mean() <= 1.1 * inside_x and steps_y[borders_y].mean() <= 1.1 * inside_y  # … on average


def test_redraw_needs_a_model_upscaler_and_cli(files, tmp_path, capsys):
    with pytest.raises(JobError, match="follows a model upscaler"):
        UpscaleJob(model=str(files["sd"]), image="x.png", redraw=str(files["sd"]))
    image = gradient(tmp_path / "in.png", 32, 24)
    assert main(["upscale", image, "--model", str(files["esrgan"]), "--redraw", str(files["sd"]), "--strength", "0.3",
                 "--prompt", "a gradient", "--steps", "4", "--redraw-tile", "64", "--seed", "1",
                 "--out", str(tmp_path / "o"), "--device", "cpu"]) == 0
    path = capsys.readouterr().out.split()[0]
    with Image.open(path) as png:
        assert png.size == (64, 48) and "Redraw model: sd" in png.text["parameters"]
