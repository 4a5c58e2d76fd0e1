"""The hires fix with a model upscaler (a tiny ESRGAN) between the passes, as A1111 uses them: the first pass
through the model (twice for a 2× model and a 3× hires fix), Lanczos to the hires size, the second pass; one
progress over all three with the tiles marked ``upscaling``; its name in the metadata; the CLI flag; the Text to
Image list."""

from __future__ import annotations

import pytest
import torch

from ddpm_studio.cli import main
from ddpm_studio.engine.jobs.types import Text2ImageJob
from ddpm_studio.engine.output.metadata import read_png_text
from ddpm_studio.engine.runner import Engine
from tests.tiny_sd import save_tiny_sd
from tests.upscaler_models import save_upscaler


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("hires-model")
    torch.set_num_threads(1)
    return {"sd": save_tiny_sd(root / "sd"), "esrgan": save_upscaler(root / "ESRGAN", "esrgan", 2, ".pth")}


def _job(files, **changes) -> Text2ImageJob:
    return Text2ImageJob(**{**dict(model=str(files["sd"]), prompt="a red fox", scheduler="euler-a", steps=4, width=64,
                                   height=48, seed=5, preview_every=1, hires_scale=2.0, hires_strength=0.5,
                                   hires_upscaler=str(files["esrgan"])), **changes})


@pytest.mark.parametrize("factor,runs", [(2.0, 1), (3.0, 2)])
def test_a_model_upscaler_enlarges_between_the_passes(files, tmp_path, factor, runs):
    engine = Engine(device="cpu")
    events = []
    result = engine.run(_job(files, hires_scale=factor, output_dir=str(tmp_path)), on_step=events.append)
    assert result.images.shape == (1, int(48 * factor), int(64 * factor), 3)
    steps = [e for e in events if not e.final]
    upscaling = sum(e.upscaling for e in steps)
    assert upscaling == runs  # one tile a run: the pictures are small
    assert [e.index for e in steps] == list(range(len(steps))) and {e.total for e in steps} == {len(steps)}
    assert [e.upscaling for e in steps] == [False] * 4 + [True] * runs + [False] * (len(steps) - 4 - runs)
    assert "Hires upscaler: 2x-tiny-esrgan" in read_png_text(result.saved_paths[0])["parameters"]
    seen = []
    cancelled = engine.run(_job(files, output_dir=str(tmp_path / "c")), on_step=seen.append,
                           should_stop=lambda: any(e.upscaling for e in seen))
    assert cancelled.cancelled and not (tmp_path / "c").exists()


def test_cli_hires_upscaler_flag(files, tmp_path, capsys):
    assert main(["txt2img", "--model", str(files["sd"]), "--prompt", "fox", "--size", "64x48", "--steps", "2",
                 "--hires", "2", "--hires-upscaler", str(files["esrgan"]), "--seed", "1", "--out", str(tmp_path),
                 "--device", "cpu"]) == 0
    path = capsys.readouterr().out.split()[0]
    assert "Hires upscaler: 2x-tiny-esrgan" in read_png_text(path)["parameters"]


def test_text_to_image_lists_model_upscalers_for_the_hires_fix(make_window, files, tmp_path):
    from ddpm_studio.ui.core.settings import Settings

    settings = Settings(tmp_path / "settings.ini")
    settings.add_model_folder(str(files["esrgan"].parent))
    window = make_window(settings)
    box = window.text2image_panel.hires.upscaler
    items = {box.itemText(i): box.itemData(i) for i in range(box.count())}
    assert items.get("2x-tiny-esrgan (2×)") == str(files["esrgan"].resolve())
