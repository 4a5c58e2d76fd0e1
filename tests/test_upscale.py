"""4× upscaling with tiny random SD x4 and LDM upscalers: sizes, previews, tiles and seams, errors, cancel, CLI, GUI."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt

from ddpm_studio.engine.jobs.checks import JobError
from ddpm_studio.engine.jobs.upscale_job import UpscaleJob
from ddpm_studio.engine.models.catalogue import ModelError
from ddpm_studio.engine.output.metadata import read_job
from ddpm_studio.engine.png.chunks import parse_a1111
from ddpm_studio.engine.runner import Engine
from ddpm_studio.engine.upscale.tiling import Blender, tile_boxes
from tests.tiny_upscalers import save_tiny_ldm_sr, save_tiny_x4


@pytest.fixture(scope="module")
def upscalers(tmp_path_factory):
    root = tmp_path_factory.mktemp("upscalers")
    return {"x4": save_tiny_x4(root / "x4"), "ldm": save_tiny_ldm_sr(root / "ldm")}


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu")


def picture(path, width, height, seed=0):
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)
    return str(path)


@pytest.mark.parametrize("kind", ["x4", "ldm"])
def test_four_times_the_size_with_previews_and_metadata(engine, upscalers, tmp_path, kind):
    image = picture(tmp_path / "in.png", 44, 36)  # not a multiple of anything the UNets need: padded, then cropped
    events = []
    job = UpscaleJob(model=str(upscalers[kind]), image=image, prompt="sharp photo", steps=3, seed=4, noise_level=30,
                     output_dir=str(tmp_path / "out"))
    result = engine.run(job, on_step=events.append)
    assert result.images.shape == (1, 144, 176, 3) and result.reference.shape == (144, 176, 3)
    assert [e.index for e in events] == [0, 1, 2, 3] and all(e.x_t is not None and e.x0 is not None for e in events)
    assert events[-1].final and events[-1].x0.shape == (1, 144, 176, 3)  # the result, 4× the input
    assert events[0].x_t.shape == (1, 36, 44, 3)  # both denoise at the input's resolution
    saved = result.saved_paths[0]
    assert read_job(saved) == job
    with Image.open(saved) as png:
        assert png.size == (176, 144)
        params = parse_a1111(png.text["parameters"])
    assert params["Noise level"] == "30" and params["Upscale"] == "4x" and params["Size"] == "176x144"


def test_our_ldm_loop_matches_the_diffusers_pipeline(engine, upscalers, tmp_path):
    """LDMSuperResolutionPipeline has no callback, so we run its loop ourselves; it must give the same picture."""
    import torch
    from diffusers import DDIMScheduler, LDMSuperResolutionPipeline

    image = picture(tmp_path / "in.png", 32, 32, seed=3)
    ours = engine.run(UpscaleJob(model=str(upscalers["ldm"]), image=image, scheduler="ddim", steps=4, seed=9,
                                 output_dir=""), save=False).images[0]
    pipe = LDMSuperResolutionPipeline.from_pretrained(upscalers["ldm"], local_files_only=True)
    pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    theirs = pipe(Image.open(image), num_inference_steps=4, generator=torch.Generator().manual_seed(9), output_type="np").images[0]
    theirs = np.clip(np.round(theirs * 255), 0, 255).astype(np.uint8)
    assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1


def test_large_input_goes_tile_by_tile_with_progress_across_tiles(engine, upscalers, tmp_path):
    image = picture(tmp_path / "big.png", 200, 136)  # larger than one automatic pass (192 px)
    events = []
    result = engine.run(UpscaleJob(model=str(upscalers["x4"]), image=image, steps=2, output_dir=""), on_step=events.append,
                        save=False)
    assert result.tiles == 4 and result.images.shape == (1, 544, 800, 3)
    *events, last = events
    assert last.final and last.x0.shape == (1, 136, 200, 3)  # the result, as small as every preview (≤ 256 px)
    assert [e.index for e in events] == list(range(8)) and {e.total for e in events} == {8}
    # previews are the whole picture at the input's resolution, filling in tile by tile
    assert all(e.x_t.shape == e.x0.shape == (1, 136, 200, 3) for e in events)
    source = np.asarray(Image.open(image))
    corner_first, corner_last = (slice(0, 8), slice(0, 8)), (slice(128, 136), slice(192, 200))  # one tile each
    assert np.array_equal(events[0].x0[0][corner_last], source[corner_last])  # the last tile has not started
    assert np.array_equal(events[-1].x0[0][corner_first], events[-1].x_t[0][corner_first])  # the first is done...
    shrunk = result.images[0].reshape(136, 4, 200, 4, 3).astype(float).mean(axis=(1, 3))
    assert np.abs(events[-1].x0[0][corner_first] - shrunk[corner_first]).max() <= 1  # ...and shows its result
    assert not np.array_equal(events[-1].x0[0][corner_first], source[corner_first])
    explicit = engine.run(UpscaleJob(model=str(upscalers["ldm"]), image=image, steps=1, tile=64, overlap=16, output_dir=""),
                          save=False)
    assert explicit.tiles == 4 * 3 and explicit.images.shape == (1, 544, 800, 3)


def border_and_inner_jumps(image: np.ndarray, boxes, scale: int):
    """The largest step between horizontal neighbours on the tile borders' columns, and everywhere else."""
    jumps = np.abs(np.diff(image.mean(axis=2), axis=1))  # jumps[:, j] is between columns j and j+1
    borders = sorted({b.x0 * scale - 1 for b in boxes if b.x0} | {b.x1 * scale - 1 for b in boxes if b.x1 * scale < image.shape[1]})
    inner = np.delete(jumps, borders, axis=1)
    return jumps[:, borders].max(), inner.max()


def test_feathered_tiles_leave_no_seam_on_a_smooth_gradient():
    """Tiles disagree a little, as diffusion tiles do (here: each tile's brightness is off by up to 4 levels); the
    blend must spread that over the overlap, so a smooth ramp stays smooth where tiles meet."""
    width, height, scale = 160, 48, 4
    ramp = np.linspace(0.2, 0.8, width * scale)[None, :, None].repeat(height * scale, 0).repeat(3, 2)
    boxes = tile_boxes(width, height, tile=64, overlap=16)
    offsets = np.random.default_rng(1).uniform(-4 / 255, 4 / 255, len(boxes))
    feathered = Blender(width, height, boxes, scale)
    hard = np.zeros_like(ramp)
    for box, offset in zip(boxes, offsets):
        tile = ramp[box.y0 * scale : box.y1 * scale, box.x0 * scale : box.x1 * scale] + offset
        feathered.add(box, tile)
        hard[box.y0 * scale : box.y1 * scale, box.x0 * scale : box.x1 * scale] = tile  # pasted, no blend
    assert len(boxes) == 3
    border, inner = border_and_inner_jumps(feathered.result(), boxes, scale)
    assert border <= 1.5 * inner  # no seam: the border steps are like the ramp's own steps
    hard_border, hard_inner = border_and_inner_jumps(hard, boxes, scale)
    assert hard_border > 3 * hard_inner  # the measure does see a seam when there is one


def test_errors_are_messages(engine, upscalers, tmp_path):
    tiny = picture(tmp_path / "tiny.png", 12, 40)
    with pytest.raises(ModelError, match="tiny.png is 12×40; upscaling needs at least 16 px"):
        engine.run(UpscaleJob(model=str(upscalers["x4"]), image=tiny, steps=1, output_dir=""))
    (tmp_path / "text.png").write_text("not a picture")
    with pytest.raises(ModelError, match="text.png cannot be read"):
        engine.run(UpscaleJob(model=str(upscalers["x4"]), image=str(tmp_path / "text.png"), steps=1, output_dir=""))
    from tests.tiny_sd import save_tiny_sd

    sd = save_tiny_sd(tmp_path / "sd", "txt2img")
    with pytest.raises(ModelError, match="StableDiffusionPipeline, not a 4× upscaler; open it in the Text to Image panel"):
        engine.run(UpscaleJob(model=str(sd), image=tiny, steps=1, output_dir=""))
    with pytest.raises(JobError, match="one image per run"):
        UpscaleJob(model="m", image="x.png", batch_size=2)
    with pytest.raises(JobError, match="overlap \\(40\\) must be at most half the tile size \\(64\\)"):
        UpscaleJob(model="m", image="x.png", tile=64, overlap=40)
    with pytest.raises(JobError, match="prediction type from their own config"):
        UpscaleJob(model="m", image="x.png", prediction_type="epsilon")
    saved = UpscaleJob(model="m", image="x.png").to_dict()  # what upscale PNGs already carry still restores
    assert UpscaleJob.from_dict(saved).prediction_type == "auto"


@pytest.mark.parametrize("kind", ["x4", "ldm"])
def test_cancel_mid_tile_saves_nothing(engine, upscalers, tmp_path, kind):
    image = picture(tmp_path / "in.png", 96, 64)
    events = []
    job = UpscaleJob(model=str(upscalers[kind]), image=image, steps=5, tile=32, overlap=8, output_dir=str(tmp_path / "out"))
    result = engine.run(job, on_step=events.append, should_stop=lambda: len(events) >= 7)
    assert result.cancelled and result.images is None and len(events) == 7
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_cli_upscale(upscalers, tmp_path, capsys):
    from ddpm_studio.cli import main

    image = picture(tmp_path / "in.png", 40, 24)
    assert main(["upscale", image, "--model", str(upscalers["x4"]), "--prompt", "crisp", "--noise-level", "50",
                 "--steps", "2", "--tile", "32", "--overlap", "8", "--seed", "5", "--out", str(tmp_path / "o"),
                 "--device", "cpu"]) == 0
    path = capsys.readouterr().out.split()[0]
    with Image.open(path) as png:
        assert png.size == (160, 96) and "Noise level: 50" in png.text["parameters"] and "Tile: 32" in png.text["parameters"]
    assert main(["upscale", image, "--model", str(upscalers["x4"]), "--batch", "2"]) == 1
    assert "one image per run" in capsys.readouterr().err


@pytest.fixture()
def window(make_window, tmp_path, upscalers):
    from ddpm_studio.ui.core.settings import Settings

    settings = Settings(tmp_path / "settings.ini")
    settings.output_dir = str(tmp_path / "out")
    settings.add_model_folder(str(upscalers["x4"].parent))
    return make_window(settings)


def test_upscale_panel_compares_with_lanczos(window, qtbot, tmp_path, upscalers):
    panel = window.upscale_panel
    window.tabs.setCurrentWidget(panel)
    names = [panel.model_box.itemText(i) for i in range(panel.model_box.count())]
    assert names[0].startswith("Lanczos") and sorted(names[1:]) == ["ldm", "x4"]  # Lanczos: no model
    assert panel.prompts.prompt.placeholderText().startswith("What the picture shows")  # it describes, not makes
    assert not {"ldm", "x4"} & {window.generate_panel.model_box.itemText(i) for i in range(window.generate_panel.model_box.count())}
    panel.select_model(str(upscalers["ldm"].resolve()))
    assert not panel.noise_level.isEnabled() and not panel.prompts.prompt.isEnabled()  # LDM 4× takes neither
    panel.select_model(str(upscalers["x4"].resolve()))
    assert panel.noise_level.isEnabled()

    assert panel.load_image(picture(tmp_path / "in.png", 48, 40))
    assert panel.compare.after is None and panel.compare.before.width() == 48
    panel.steps.setValue(2)
    panel.tile.setValue(32)
    panel.overlap.setValue(8)
    with qtbot.waitSignal(window.sampler.job_finished, timeout=120000) as done:
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    result = done.args[1]
    assert result.images.shape == (1, 160, 192, 3) and result.tiles == 4
    qtbot.waitUntil(lambda: panel.compare.after is not None)
    assert (panel.compare.before.width(), panel.compare.after.width()) == (192, 192)
    qtbot.waitUntil(lambda: panel.gallery.count() == 1)
    # the divider follows the mouse and the keys
    rect = panel.compare.image_rect()
    qtbot.mouseClick(panel.compare, Qt.MouseButton.LeftButton,
                     pos=QPoint(int(rect.left() + rect.width() * 0.25), int(rect.center().y())))
    assert abs(panel.compare.split - 0.25) < 0.02
    qtbot.keyClick(panel.compare, Qt.Key.Key_Right)
    assert abs(panel.compare.split - 0.30) < 0.02


def test_upscale_panel_cancel(window, qtbot, tmp_path):
    panel = window.upscale_panel
    panel.load_image(picture(tmp_path / "in.png", 96, 64))
    panel.steps.setValue(50)
    panel.tile.setValue(32)
    with qtbot.waitSignal(window.sampler.job_started, timeout=60000):
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(window.sampler.job_finished, timeout=60000) as done:
        panel.cancel()
    assert done.args[1].cancelled and panel.compare.after is None
