"""Z-Image, Flux.2 Klein and Qwen-Image as ComfyUI keeps them, in the Text to Image panel: the models home's
diffusion model is listed, its Files row pairs the one text encoder and the VAE its family takes (by kind, width and
latent channels), and a run from the Generate button previews every step and saves a picture whose job names those
files and restores them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ddpm_studio.engine.output.metadata import read_job
from tests.comfy_files import save_configs
from tests.ui_runs import choose, generate_small


def _zimage(root: Path) -> Path:
    from diffusers import ZImagePipeline

    from tests.comfy_qwen3 import save_zimage_files
    from tests.tiny_zimage import save_tiny_zimage

    folder = save_tiny_zimage(root / "tiny-zimage")
    save_configs(folder, root / "configs" / "z-image-turbo")
    return save_zimage_files(ZImagePipeline.from_pretrained(folder, local_files_only=True), root / "zimage")["model"]


def _klein(root: Path) -> Path:
    from diffusers import Flux2KleinPipeline

    from tests.comfy_qwen3 import save_klein_files
    from tests.tiny_klein import save_tiny_klein

    folder = save_tiny_klein(root / "tiny-klein")
    save_configs(folder, root / "configs" / "flux.2-klein-4b")
    return save_klein_files(Flux2KleinPipeline.from_pretrained(folder, local_files_only=True), root / "klein")["model"]


def _qwenimage(root: Path) -> Path:
    from tests.comfy_qwenimage import save_qwenimage_files, tiny_qwenimage_split_pipeline

    pipe = tiny_qwenimage_split_pipeline()
    pipe.save_pretrained(root / "tiny-qwen-image", safe_serialization=True)
    save_configs(root / "tiny-qwen-image", root / "configs" / "qwen-image")
    return save_qwenimage_files(pipe, root / "qwenimage")["model"]


@pytest.fixture(scope="module")
def comfy(tmp_path_factory):
    """Each family's files in a ComfyUI folder of its own (Z-Image's and Klein's text encoders share a name), and
    one config root holding the three folders they load through."""
    root = tmp_path_factory.mktemp("split-families-panel")
    return dict(root=root, zimage=_zimage(root), klein=_klein(root), qwenimage=_qwenimage(root))


@pytest.mark.parametrize("family", ["zimage", "klein", "qwenimage"])
def test_the_diffusion_model_is_paired_in_the_files_row_and_runs(make_window, comfy, family, tmp_path, monkeypatch,
                                                                  qtbot):
    from ddpm_studio.ui.core.settings import Settings

    model = comfy[family]
    monkeypatch.setenv("DDPM_STUDIO_CONFIGS", str(comfy["root"] / "configs"))
    settings = Settings(tmp_path / "settings.ini")
    settings.output_dir = str(tmp_path / "out")
    settings.models_home = str(model.parents[2])  # the family's ComfyUI folder
    window = make_window(settings)
    window.tabs.setCurrentWidget(window.text2image_panel)
    panel = window.text2image_panel
    choose(panel, model.stem)
    assert panel.current_model_info().arch == family
    combos = panel.split.combos
    assert panel.form.isRowVisible(panel.split.box) and set(combos) == {"text_encoder", "vae"}
    assert all(combo.currentData() for combo in combos.values()) and panel.generate_button.isEnabled()
    fields = panel.job_fields()
    assert len(fields["text_encoders"]) == 1 and fields["vae"] == combos["vae"].currentData()
    histories = []
    panel.window().sampler.job_started.connect(lambda _id, _job, history: histories.append(history))
    result = generate_small(panel, qtbot, prompt="a red fox in snow")
    assert result.images.shape == (1, 64, 64, 3) and np.isfinite(result.images).all() and result.images.std() > 0
    steps = [event for event in histories[0].frames() if not event.final]
    assert len(steps) == 2 and all(event.x0 is not None and event.x0.std() > 0 for event in steps)
    job = read_job(panel.gallery.paths()[0])
    assert job.text_encoders == fields["text_encoders"] and job.vae == fields["vae"]
    assert Path(job.model).resolve() == model.resolve()
