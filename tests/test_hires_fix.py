"""The hires fix (engine/upscale/hires_fix.py): two passes in one job on tiny random SD 1.x and SDXL pipelines — the result
is the base size × the factor, one progress count over both passes with the second pass marked, A1111's fields in
the metadata and the job back from it; cancel in the second pass saves nothing; the CLI flags and the Text to Image
rows, with the trajectory plot marking where the second pass starts; and the size those rows start from, which
follows the model's family (SDXL 1024², SD 512²) unless the user chose one."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from ddpm_studio.cli import main
from ddpm_studio.engine.jobs.checks import JobError
from ddpm_studio.engine.jobs.types import Text2ImageJob
from ddpm_studio.engine.models.catalogue import ModelError
from ddpm_studio.engine.output.metadata import read_job, read_png_text
from ddpm_studio.engine.runner import Engine
from tests.tiny_sd import save_tiny_sd, save_tiny_sdxl
from tests.tiny_upscalers import save_tiny_x4


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("hires")
    return {"sd": save_tiny_sd(root / "sd"), "xl": save_tiny_sdxl(root / "xl")}


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu")


def _job(model, **changes) -> Text2ImageJob:
    return Text2ImageJob(**{**dict(model=str(model), prompt="a red fox", scheduler="euler-a", steps=4, width=64,
                                   height=48, seed=5, preview_every=1, hires_scale=2.0, hires_strength=0.5),
                            **changes})


@pytest.mark.parametrize("kind,upscaler", [("sd", "latent"), ("sd", "lanczos"), ("xl", "latent")])
def test_two_passes_make_the_base_size_times_the_factor(engine, models, kind, upscaler):
    events = []
    result = engine.run(_job(models[kind], hires_upscaler=upscaler), on_step=events.append, save=False)
    assert result.images.shape == (1, 96, 128, 3)  # 64×48 × 2, height first
    steps = [e for e in events if not e.final]
    assert [e.index for e in steps] == list(range(6))  # 4 steps, then int(4 × 0.5) = 2, counted on
    assert all(e.total == 6 for e in steps) and result.steps_run == 6
    assert [e.second_pass for e in steps] == [False] * 4 + [True] * 2
    assert steps[3].x_t.shape[1:3] != steps[4].x_t.shape[1:3]  # the second pass's previews are larger
    plain = engine.run(_job(models[kind], hires_scale=1.0), save=False).images
    assert plain.shape == (1, 48, 64, 3)


def test_the_second_pass_redraws_the_enlarged_first_pass(engine, models):
    """Strength and steps reach the second pass: a stronger second pass moves further from the first."""
    first = engine.run(_job(models["sd"], hires_scale=1.0), save=False).images[0]
    enlarged = np.asarray(Image.fromarray(first).resize((128, 96), Image.Resampling.LANCZOS)).astype(int)
    weak, strong = (engine.run(_job(models["sd"], hires_upscaler="lanczos", hires_strength=s, hires_steps=10),
                               save=False).images[0].astype(int) for s in (0.1, 0.9))
    assert np.abs(weak - enlarged).mean() < np.abs(strong - enlarged).mean()


def test_a_diffusion_upscaler_enlarges_between_the_passes(engine, models, tmp_path):
    upscaler = save_tiny_x4(tmp_path / "tiny-x4")
    events = []
    job = _job(models["sd"], hires_upscaler=str(upscaler), output_dir=str(tmp_path / "out"))
    result = engine.run(job, on_step=events.append)
    assert result.images.shape == (1, 96, 128, 3)
    steps = [e for e in events if not e.final]
    assert [e.index for e in steps] == list(range(26)) and {e.total for e in steps} == {26}  # 4 + 20 + 2
    assert [e.second_pass for e in steps] == [False] * 24 + [True] * 2
    assert [e.upscaling for e in steps] == [False] * 4 + [True] * 20 + [False] * 2
    assert "Hires upscaler: tiny-x4" in read_png_text(result.saved_paths[0])["parameters"]
    seen = []
    cancelled = engine.run(job.replace(output_dir=str(tmp_path / "cancelled")), on_step=seen.append,
                           should_stop=lambda: len(seen) >= 10)  # inside the upscaler's steps
    assert cancelled.cancelled and not (tmp_path / "cancelled").exists()
    with pytest.raises(ModelError):
        engine.run(job.replace(hires_upscaler=str(tmp_path / "no-such-upscaler")), save=False)


def test_metadata_is_a1111s_and_the_job_comes_back(engine, models, tmp_path):
    job = _job(models["sd"], hires_steps=6, output_dir=str(tmp_path), preview_every=0)
    path = engine.run(job).saved_paths[0]
    text = read_png_text(path)["parameters"]
    assert "Size: 64x48" in text  # the first pass's size, as A1111 writes it
    assert "Denoising strength: 0.5" in text
    assert "Hires upscale: 2, Hires steps: 6, Hires upscaler: Latent" in text
    again = read_job(path)
    assert again == job
    with Image.open(path) as image:
        assert image.size == (128, 96)
        assert np.array_equal(np.asarray(image), engine.run(again, save=False).images[0])


def test_cancel_in_the_second_pass_saves_nothing(engine, models, tmp_path):
    seen = []
    result = engine.run(_job(models["sd"], output_dir=str(tmp_path)), on_step=seen.append,
                        should_stop=lambda: any(e.second_pass for e in seen))
    assert result.cancelled and result.saved_paths == [] and not list(tmp_path.iterdir())
    assert seen[-1].second_pass and result.steps_run == 5


def test_impossible_hires_jobs_are_refused_in_words(models):
    with pytest.raises(JobError, match="strength 0 would only enlarge"):
        _job("m", hires_strength=0.0)
    with pytest.raises(JobError, match="would make 2560×2560"):
        _job("m", width=1280, height=1280, hires_scale=2.0)
    with pytest.raises(JobError, match="Attention maps are not recorded through a hires fix"):
        _job("m", attention_maps=True)
    with pytest.raises(JobError, match="latent, lanczos, a 4× diffusion upscaler or an upscaler model file"):
        _job("m", hires_upscaler="")


def test_cli_hires_flags(models, tmp_path):
    assert main(["txt2img", "--model", str(models["sd"]), "--prompt", "a fox", "--size", "64x64", "--steps", "3",
                 "--seed", "1", "--hires", "1.5", "--hires-strength", "0.6", "--hires-upscaler", "lanczos",
                 "--hires-steps", "5", "--out", str(tmp_path)]) == 0
    path = next(tmp_path.glob("*.png"))
    assert Image.open(path).size == (96, 96)
    job = read_job(path)
    assert (job.hires_scale, job.hires_strength, job.hires_upscaler, job.hires_steps) == (1.5, 0.6, "lanczos", 5)


def test_text_to_image_runs_a_hires_fix_and_restores_it(window_on, models, qtbot):
    save_tiny_x4(models["sd"].parent / "x4")  # listed as an upscaler, not as a Text to Image model
    window = window_on(models["sd"].parent)
    panel = window.text2image_panel
    window.tabs.setCurrentWidget(panel)
    panel.model_box.setCurrentIndex(panel.model_box.findText("sd"))
    panel.prompts.prompt.setPlainText("a red fox")
    panel.steps.setValue(4)
    panel.width_box.setValue(64)
    panel.height_box.setValue(64)
    hires = panel.hires
    assert not hires.scale.isEnabled() and not hires.upscaler.isVisibleTo(panel)
    hires.enabled.setChecked(True)
    hires.scale.setValue(1.5)
    assert hires.result.text() == "→ 96×96"
    with qtbot.waitSignal(window.sampler.job_finished, timeout=60000) as done:
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    path = done.args[1].saved_paths[0]
    assert Image.open(path).size == (96, 96)
    qtbot.waitUntil(lambda: "Done" in panel.canvas.step_label.text(), timeout=10000)
    plot = panel.canvas.trajectory
    assert plot.second_pass_start() == 4
    hires.enabled.setChecked(False)
    assert panel.restore_from_png(path)
    assert hires.enabled.isChecked() and hires.scale.value() == 1.5 and panel.current_job().hires_scale == 1.5
    assert [hires.upscaler.itemText(i) for i in range(hires.upscaler.count())] == ["Latent", "Lanczos", "x4 (4×)"]


def test_text_to_image_takes_the_models_family_size_unless_one_was_chosen(window_on, models, qtbot):
    window = window_on(models["sd"].parent)
    panel = window.text2image_panel
    panel.model_box.setCurrentIndex(panel.model_box.findText("sd"))
    assert (panel.width_box.value(), panel.height_box.value()) == (512, 512)
    panel.model_box.setCurrentIndex(panel.model_box.findText("xl"))
    assert (panel.width_box.value(), panel.height_box.value()) == (1024, 1024)  # SDXL's own size
    panel.model_box.setCurrentIndex(panel.model_box.findText("sd"))
    assert (panel.width_box.value(), panel.height_box.value()) == (512, 512)
    panel.width_box.setValue(640)
    panel.model_box.setCurrentIndex(panel.model_box.findText("xl"))
    assert panel.width_box.value() == 640  # chosen by hand: kept
    form = window.race_panel.form  # the Race and Grid forms do the same
    form.model_box.setCurrentIndex(form.model_box.findText("xl"))
    assert (form.width_box.value(), form.height_box.value()) == (1024, 1024)
