"""SD 3.5 as ComfyUI keeps it, in the Text to Image panel: a models home's diffusion model is listed, paired with
the text encoders and VAE of its folders (a list per part), the user's choice remembered per model, what is missing
said and Generate waiting, and a run from the Generate button whose picture names its files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from ddpm_studio.engine.output.metadata import read_job
from tests.comfy_files import save_configs, save_sd3_files
from tests.tiny_sd3 import save_tiny_sd3
from tests.ui_runs import choose


@pytest.fixture(scope="module")
def comfy(tmp_path_factory):
    from diffusers import StableDiffusion3Pipeline

    root = tmp_path_factory.mktemp("split-panel")
    folder = save_tiny_sd3(root / "tiny-sd3")
    pipe = StableDiffusion3Pipeline.from_pretrained(folder, local_files_only=True, text_encoder_3=None,
                                                    tokenizer_3=None)
    save_configs(folder, root / "configs" / "sd3.5-medium")
    files = save_sd3_files(pipe, root / "ComfyUI")
    shutil.copy(files["clip_g"], root / "ComfyUI" / "models" / "text_encoders" / "my-clip-g.safetensors")
    return dict(root=root, home=root / "ComfyUI", **files)


def _panel(make_window, comfy, tmp_path, monkeypatch, home=None):
    from ddpm_studio.ui.core.settings import Settings

    monkeypatch.setenv("DDPM_STUDIO_CONFIGS", str(comfy["root"] / "configs"))
    settings = Settings(tmp_path / "settings.ini")
    settings.output_dir = str(tmp_path / "out")
    settings.models_home = str(home or comfy["home"])
    window = make_window(settings)
    window.tabs.setCurrentWidget(window.text2image_panel)
    return window.text2image_panel


def test_the_diffusion_model_is_listed_paired_and_runs(make_window, comfy, tmp_path, monkeypatch, qtbot):
    panel = _panel(make_window, comfy, tmp_path, monkeypatch)
    choose(panel, "tiny-sd35")
    combos = panel.split.combos
    assert panel.form.isRowVisible(panel.split.box) and set(combos) == {"text_encoder", "text_encoder_2",
                                                                         "text_encoder_3", "vae"}
    assert combos["text_encoder_3"].count() == 1 and combos["text_encoder_3"].currentText() == "(none found)"
    fields = panel.job_fields()
    assert sorted(Path(p).name for p in fields["text_encoders"]) == ["clip_g.safetensors", "clip_l.safetensors"]
    assert Path(fields["vae"]).name == "sd35_vae.safetensors" and panel.generate_button.isEnabled()
    panel.width_box.setValue(64)
    panel.height_box.setValue(64)
    panel.steps.setValue(2)
    with qtbot.waitSignal(panel.window().sampler.job_finished, timeout=120000) as done:
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    assert done.args[1].images.shape == (1, 64, 64, 3) and "T5-XXL left out" in done.args[1].note
    qtbot.waitUntil(lambda: panel.gallery.count() == 1, timeout=10000)
    assert read_job(panel.gallery.paths()[0]).text_encoders == fields["text_encoders"]


def test_the_users_choice_is_remembered(make_window, comfy, tmp_path, monkeypatch):
    panel = _panel(make_window, comfy, tmp_path, monkeypatch)
    choose(panel, "tiny-sd35")
    combo = panel.split.combos["text_encoder_2"]
    combo.setCurrentIndex(combo.findText("my-clip-g.safetensors"))
    ref = panel.model_box.currentData()
    assert Path(panel.settings.model_parts(ref)["text_encoder_2"]).name == "my-clip-g.safetensors"
    panel.split.model_changed(panel.current_model_info())  # chosen again later: the remembered file
    assert panel.split.combos["text_encoder_2"].currentText() == "my-clip-g.safetensors"
    assert "my-clip-g.safetensors" in {Path(p).name for p in panel.job_fields()["text_encoders"]}


def test_what_is_missing_is_said_and_generate_waits(make_window, comfy, tmp_path, monkeypatch):
    home = tmp_path / "Lacking" / "models"
    (home / "diffusion_models").mkdir(parents=True)
    (home / "text_encoders").mkdir()
    shutil.copy(comfy["model"], home / "diffusion_models")
    shutil.copy(comfy["clip_l"], home / "text_encoders")
    panel = _panel(make_window, comfy, tmp_path, monkeypatch, home=home.parent)
    choose(panel, "tiny-sd35")
    assert not panel.generate_button.isEnabled()
    said = panel.problem_note.text()
    assert "needs its CLIP-G text encoder (a clip_g file, 48 wide) and a VAE (16 latent channels)" in said


def test_a_race_runs_the_diffusion_model_with_its_paired_files(make_window, comfy, tmp_path, monkeypatch, qtbot):
    from ddpm_studio.engine.jobs.checks import JobError

    panel = _panel(make_window, comfy, tmp_path, monkeypatch)
    race = panel.window().race_panel
    form = race.form
    form.model_box.setCurrentIndex(form.model_box.findText("tiny-sd35", flags=Qt.MatchFlag.MatchExactly))
    form.prompt.setPlainText("a boat at dusk")
    form.width_box.setValue(64)
    form.height_box.setValue(64)
    form.steps.setValue(2)
    form.field_box.setCurrentIndex(form.field_box.findData("scheduler"))
    for name, box in form.checks.items():
        box.setChecked(name in ("euler", "unipc"))
    job = form.base_job()
    assert sorted(Path(p).name for p in job.text_encoders) == ["clip_g.safetensors", "clip_l.safetensors"]
    assert Path(job.vae).name == "sd35_vae.safetensors"
    panel.window().tabs.setCurrentWidget(race)
    with qtbot.waitSignal(race.race_finished, timeout=120000) as finished:
        qtbot.mouseClick(race.run_button, Qt.MouseButton.LeftButton)
    result = finished.args[0]
    assert result is not None and [lane.label for lane in result.lanes] == ["euler", "unipc"]
    assert all(lane.result.images.shape == (1, 64, 64, 3) for lane in result.lanes)
    panel.settings.models_home = str(tmp_path / "elsewhere")  # its files gone from the folders: said, not run
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.setattr("ddpm_studio.engine.models.home.home_above", lambda path: None)
    with pytest.raises(JobError, match=r"tiny-sd35.safetensors \(SD 3.5 diffusion model\) needs its CLIP-L"):
        form.base_job()
