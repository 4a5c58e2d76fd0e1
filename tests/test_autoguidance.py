"""Autoguidance on real tiny models: the combination, its limits (scale 1 = the model, 0 = the guide), compatibility
checks, the recommended guide in a model folder, the CLI flags and the PNG metadata."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ddpm_studio.cli import main
from ddpm_studio.engine.jobs.checks import JobError
from ddpm_studio.engine.jobs.types import GenerateJob
from ddpm_studio.engine.models.catalogue import ModelError, resolve
from ddpm_studio.engine.models.pixel_ddpm import load_ddpm
from ddpm_studio.engine.models.defaults import read_defaults, write_defaults
from ddpm_studio.engine.output.metadata import read_job, read_png_text
from ddpm_studio.engine.runner import Engine
from ddpm_studio.engine.sampling.guidance import GuidedUNet
from tests.tiny_models import save_tiny_ddpm


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu")


@pytest.fixture(scope="module")
def guide_dir(tmp_path_factory):
    """Another tiny DDPM of the same shape and schedule as ``tiny_ddpm_dir``, with other weights."""
    return save_tiny_ddpm(tmp_path_factory.mktemp("guides") / "guide", seed=7)


def test_guided_prediction_is_guide_plus_scale_times_difference(tiny_ddpm_dir, guide_dir):
    main_unet, guide_unet = load_ddpm(str(tiny_ddpm_dir)).unet, load_ddpm(str(guide_dir)).unet
    x, t = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0)), torch.tensor(500)
    with torch.inference_mode():
        strong, weak = main_unet(x, t).sample, guide_unet(x, t).sample
        guided = GuidedUNet(main_unet, guide_unet, 2.5)(x, t).sample
    assert (strong - weak).abs().mean() > 1e-3  # the two models really differ
    torch.testing.assert_close(guided, weak + 2.5 * (strong - weak))


def test_scale_one_is_the_model_alone_and_zero_the_guide_alone(engine, tiny_ddpm_dir, guide_dir):
    base = GenerateJob(model=str(tiny_ddpm_dir), scheduler="ddim", steps=4, seed=5, batch_size=2, preview_every=0)
    alone = engine.run(base, save=False).images
    guide_alone = engine.run(base.replace(model=str(guide_dir)), save=False).images
    at_one = engine.run(base.replace(guide_model=str(guide_dir), guidance_scale=1.0), save=False).images
    at_zero = engine.run(base.replace(guide_model=str(guide_dir), guidance_scale=0.0), save=False).images
    at_two = engine.run(base.replace(guide_model=str(guide_dir), guidance_scale=2.0), save=False).images

    assert np.array_equal(at_one, alone)
    assert np.abs(at_zero.astype(int) - guide_alone.astype(int)).max() <= 1  # float rounding of w·(a − b)
    assert not np.array_equal(at_two, alone) and not np.array_equal(at_two, guide_alone)


def test_previews_show_the_guided_x0(engine, tiny_ddpm_dir, guide_dir):
    job = GenerateJob(model=str(tiny_ddpm_dir), scheduler="ddim", steps=3, seed=1, batch_size=1)
    plain, guided = [], []
    engine.run(job, on_step=plain.append, save=False)
    engine.run(job.replace(guide_model=str(guide_dir), guidance_scale=3.0), on_step=guided.append, save=False)
    assert len(guided) == 4 and guided[-1].final and all(event.x0 is not None for event in guided)
    assert not np.array_equal(plain[0].x0, guided[0].x0)  # the same x_T, another prediction: the guided one


def test_an_incompatible_guide_is_refused_with_both_folders_named(engine, tiny_ddpm_dir, tmp_path):
    wrong_size = save_tiny_ddpm(tmp_path / "wrong-size", sample_size=32)
    wrong_kind = save_tiny_ddpm(tmp_path / "wrong-kind", prediction_type="v_prediction")
    job = GenerateJob(model=str(tiny_ddpm_dir), steps=2, batch_size=1)
    with pytest.raises(ModelError, match=r"wrong-size cannot guide .*tiny-ddpm.*sample_size 32 \(the model's is 16\)"):
        engine.run(job.replace(guide_model=str(wrong_size), guidance_scale=2.0), save=False)
    with pytest.raises(ModelError, match=r"prediction_type v_prediction \(the model's is epsilon\)"):
        engine.run(job.replace(guide_model=str(wrong_kind), guidance_scale=2.0), save=False)
    with pytest.raises(ModelError, match="Model folder not found"):
        engine.run(job.replace(guide_model=str(tmp_path / "nowhere"), guidance_scale=2.0), save=False)
    # a scheduler config that leaves out entries at diffusers' defaults describes the same schedule
    terse = save_tiny_ddpm(tmp_path / "terse", seed=2)
    config_file = terse / "scheduler" / "scheduler_config.json"
    config = json.loads(config_file.read_text())
    for key in ("beta_start", "beta_end", "beta_schedule", "prediction_type"):
        del config[key]
    config_file.write_text(json.dumps(config))
    assert engine.run(job.replace(guide_model=str(terse), guidance_scale=2.0), save=False).images.shape == (1, 16, 16, 3)


def test_job_rules_and_parameters_line():
    with pytest.raises(JobError, match="Autoguidance needs a guide model"):
        GenerateJob(model="m", guidance_scale=2.0)
    with pytest.raises(JobError, match="autoguidance scale must be between 0.0 and 10.0"):
        GenerateJob(model="m", guide_model="g", guidance_scale=11.0)
    assert not GenerateJob(model="m", guide_model="g").guided  # scale 1: the guide is not used
    assert GenerateJob(model="m").a1111_fields() == []
    assert GenerateJob(model="m", guide_model="g", guidance_scale=2.0).a1111_fields() == [
        ("Autoguidance", 2.0), ("Guide model", "g")]
    old = {"kind": "generate", "model": "m", "scheduler": "ddim", "steps": 3, "seed": 0, "batch_size": 1,
           "preview_every": 1, "output_dir": ""}  # a job saved before autoguidance existed
    assert GenerateJob.from_dict(old).guidance_scale == 1.0


def test_recommended_guide_lives_inside_the_model_folder(tiny_ddpm_dir, tmp_path):
    model = save_tiny_ddpm(tmp_path / "model")
    save_tiny_ddpm(model / "guide", seed=3)
    write_defaults(model, "ddim", 10, guide="guide", guidance_scale=2.0)
    assert read_defaults(model) == {"scheduler": "ddim", "steps": 10, "guide_model": str(model.resolve() / "guide"),
                                    "guidance_scale": 2.0}
    assert read_defaults(model, "bundled:mine")["guide_model"] == "bundled:mine/guide"
    for bad in ("../tiny-ddpm", str(model / "guide"), "missing", ""):  # outside, absolute, absent: ignored
        (model / "ddpm_studio.json").write_text(json.dumps({"steps": 10, "guide": bad, "guidance_scale": 2}))
        assert read_defaults(model) == {"steps": 10}, bad
    (model / "ddpm_studio.json").write_text(json.dumps({"guide": "guide", "guidance_scale": "strong"}))
    assert read_defaults(model) == {}


def test_cli_uses_the_recommended_guide_and_its_flags_override(tmp_path, capsys):
    model = save_tiny_ddpm(tmp_path / "model")
    save_tiny_ddpm(model / "guide", seed=3)
    write_defaults(model, "ddim", 3, guide="guide", guidance_scale=2.0)
    common = ["generate", "--model", str(model), "--batch", "1", "--seed", "2", "--device", "cpu"]

    assert main([*common, "--out", str(tmp_path / "recommended")]) == 0
    job = read_job(next((tmp_path / "recommended").glob("*.png")))
    assert (job.guide_model, job.guidance_scale) == (str(model.resolve() / "guide"), 2.0)
    parameters = read_png_text(next((tmp_path / "recommended").glob("*.png")))["parameters"]
    assert "Autoguidance: 2.0, Guide model: " in parameters and "CFG scale" not in parameters  # not classifier-free

    assert main([*common, "--autoguidance", "1", "--out", str(tmp_path / "off")]) == 0
    assert not read_job(next((tmp_path / "off").glob("*.png"))).guided

    plain = save_tiny_ddpm(tmp_path / "plain")
    assert main(["generate", "--model", str(plain), "--guide", str(model / "guide"), "--batch", "1"]) == 1
    assert "say how strongly with --autoguidance W" in capsys.readouterr().err


def test_generate_panel_offers_the_recommended_guide_and_runs_guided(make_window, qtbot, tmp_path):
    from PySide6.QtCore import Qt

    from ddpm_studio.ui.core.settings import Settings

    guided = save_tiny_ddpm(tmp_path / "models" / "tiny-guided")
    save_tiny_ddpm(guided / "guide", seed=3)
    write_defaults(guided, "ddim", 3, guide="guide", guidance_scale=2.5)
    plain = save_tiny_ddpm(tmp_path / "models" / "tiny-plain", seed=1)
    settings = Settings(tmp_path / "settings.ini")
    settings.add_model_folder(str(tmp_path / "models"))
    settings.output_dir = str(tmp_path / "out")
    window = make_window(settings)
    panel = window.generate_panel
    guided_ref, plain_ref = str(guided.resolve()), str(plain.resolve())

    panel.model_box.setCurrentIndex(panel.model_box.findData(plain_ref))
    assert panel.guide_box.currentData() == "" and not panel.guidance.isEnabled()
    assert not panel.current_job().guided
    panel.model_box.setCurrentIndex(panel.model_box.findData(guided_ref))
    assert panel.guide_box.currentText() == "Its own guide (recommended)"
    assert panel.guide_box.currentData() == str(guided.resolve() / "guide")
    assert panel.guidance.value() == 2.5 and panel.guidance.isEnabled()
    assert panel.guide_box.findData(plain_ref) >= 0  # any other listed model can guide too
    assert panel.guide_box.findData(guided_ref) < 0  # but not the model itself
    panel.refresh_models(include_hf_cache=True)  # as when the backend comes up: the choice outlives a re-listing
    assert panel.guide_box.currentText() == "Its own guide (recommended)" and panel.guidance.value() == 2.5

    panel.batch.setValue(1)
    with qtbot.waitSignal(window.sampler.job_finished, timeout=60000):
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.gallery.count() == 1, timeout=10000)
    png = next((tmp_path / "out").glob("*.png"))
    job = read_job(png)
    assert (job.model, job.guide_model, job.guidance_scale) == (guided_ref, str(guided.resolve() / "guide"), 2.5)

    # another model without a guide of its own: no guide; restoring the PNG brings the guided run's settings back
    panel.model_box.setCurrentIndex(panel.model_box.findData(plain_ref))
    assert panel.guide_box.currentData() == "" and not panel.current_job().guided
    assert panel.restore_from_png(str(png))
    assert panel.current_job().replace(output_dir=job.output_dir, preview_every=job.preview_every) == job
    # a restored guide that is no listed model stays a choice, through a re-listing too
    elsewhere = save_tiny_ddpm(tmp_path / "elsewhere" / "early-export", seed=4)
    panel.apply_job(job.replace(guide_model=str(elsewhere)))
    panel.refresh_models(include_hf_cache=True)
    assert panel.current_job().guide_model == str(elsewhere)


def test_first_launch_generates_with_the_bundled_model_and_its_guide(make_window, qtbot, tmp_path):
    """A fresh install: no settings, the bundled model chosen, its recommended guide filled in after the backend comes
    up (which re-lists the models); pressing Generate makes guided images."""
    from PySide6.QtCore import Qt

    from ddpm_studio.ui.core.settings import Settings

    settings = Settings(tmp_path / "settings.ini")
    settings.output_dir = str(tmp_path / "out")
    window = make_window(settings)
    panel = window.generate_panel
    defaults = read_defaults(resolve("bundled:emoji-32"), "bundled:emoji-32")
    assert panel.model_box.currentData() == "bundled:emoji-32"
    assert panel.guide_box.currentData() == defaults["guide_model"] == "bundled:emoji-32/guide"
    assert panel.guidance.value() == defaults["guidance_scale"]

    panel.batch.setValue(1)
    with qtbot.waitSignal(window.sampler.job_finished, timeout=120000):
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    job = read_job(next((tmp_path / "out").glob("*.png")))
    assert job.guided and job.guide_model == "bundled:emoji-32/guide" and job.scheduler == defaults["scheduler"]
