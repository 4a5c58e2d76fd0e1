"""A model's recommended scheduler and steps (ddpm_studio.json): read leniently, used by the CLI when no flag is given,
filled into the Generate panel when the model is chosen, and written by the trainer."""

from __future__ import annotations

import json
import shutil

import pytest

from ddpm_studio.cli import main
from ddpm_studio.engine.jobs.scheduler_table import DEFAULT_SCHEDULER
from ddpm_studio.engine.jobs.types import GenerateJob
from ddpm_studio.engine.models.catalogue import resolve
from ddpm_studio.engine.models.defaults import DEFAULTS_FILE, read_defaults, write_defaults
from ddpm_studio.engine.output.metadata import read_job
from ddpm_studio.engine.runner import Engine
from ddpm_studio.ui.core.settings import Settings


@pytest.mark.parametrize(
    "content, expected",
    [
        ({"scheduler": "euler-a", "steps": 20}, {"scheduler": "euler-a", "steps": 20}),
        ({"scheduler": "no-such-sampler", "steps": 20}, {"steps": 20}),
        ({"scheduler": "ddim", "steps": 0}, {"scheduler": "ddim"}),
        ({"scheduler": "ddim", "steps": "20"}, {"scheduler": "ddim"}),
        ({"scheduler": "ddim", "steps": True}, {"scheduler": "ddim"}),
        (["euler-a", 20], {}),
        ("{not json", {}),
    ],
)
def test_read_keeps_only_valid_entries(tmp_path, content, expected):
    text = content if isinstance(content, str) else json.dumps(content)
    (tmp_path / DEFAULTS_FILE).write_text(text)
    assert read_defaults(tmp_path) == expected


def test_write_then_read_and_missing_file(tmp_path):
    assert read_defaults(tmp_path) == {}
    write_defaults(tmp_path, "unipc", 12)
    assert read_defaults(tmp_path) == {"scheduler": "unipc", "steps": 12}


@pytest.fixture()
def recommending_model(tiny_ddpm_dir, tmp_path):
    model = tmp_path / "models" / "tiny-recommends"
    shutil.copytree(tiny_ddpm_dir, model)
    write_defaults(model, "euler-a", 3)
    return model


def test_cli_uses_the_recommendation_unless_a_flag_says_otherwise(recommending_model, tiny_ddpm_dir, tmp_path, capsys):
    def run(*flags):
        assert main(["generate", "--model", str(recommending_model), "--seed", "1", "--batch", "1",
                     "--out", str(tmp_path / "out"), *flags]) == 0
        return read_job(capsys.readouterr().out.split()[0])

    job = run()
    assert (job.scheduler, job.steps) == ("euler-a", 3)
    job = run("--scheduler", "ddim")
    assert (job.scheduler, job.steps) == ("ddim", 3)
    job = run("--steps", "2")
    assert (job.scheduler, job.steps) == ("euler-a", 2)
    # a model without the file gets the app's defaults
    assert main(["generate", "--model", str(tiny_ddpm_dir), "--steps", "2", "--batch", "1", "--out", str(tmp_path / "o2")]) == 0
    assert read_job(capsys.readouterr().out.split()[0]).scheduler == DEFAULT_SCHEDULER


def test_panel_fills_in_the_recommendation_when_the_model_is_chosen(make_window, tiny_ddpm_dir, recommending_model, tmp_path):
    shutil.copytree(tiny_ddpm_dir, recommending_model.parent / "tiny-plain")
    settings = Settings(tmp_path / "settings.ini")
    settings.add_model_folder(str(recommending_model.parent))
    settings.output_dir = str(tmp_path / "out")
    panel = make_window(settings).generate_panel
    plain, recommends = panel.model_box.findText("tiny-plain"), panel.model_box.findText("tiny-recommends")
    assert plain >= 0 and recommends >= 0

    panel.model_box.setCurrentIndex(plain)
    panel.scheduler_box.setCurrentIndex(panel.scheduler_box.findData("ddim"))
    panel.steps.setValue(9)
    panel.model_box.setCurrentIndex(recommends)
    assert (panel.scheduler_box.currentData(), panel.steps.value()) == ("euler-a", 3)

    # the user's own choice survives a re-listing of the same models (e.g. after the HF cache scan)
    panel.scheduler_box.setCurrentIndex(panel.scheduler_box.findData("unipc"))
    panel.refresh_models(include_hf_cache=True)
    assert panel.model_box.currentData() == str(recommending_model.resolve())
    assert (panel.scheduler_box.currentData(), panel.steps.value()) == ("unipc", 3)

    # a model without recommendations leaves the form alone
    panel.model_box.setCurrentIndex(panel.model_box.findText("tiny-plain"))
    assert (panel.scheduler_box.currentData(), panel.steps.value()) == ("unipc", 3)

    # a restored job (from settings or a dropped PNG) keeps its own scheduler and steps
    job = panel.current_job().replace(model=str(recommending_model.resolve()), scheduler="ddim", steps=5)
    panel.apply_job(job)
    assert panel.model_box.currentData() == str(recommending_model.resolve())
    assert (panel.scheduler_box.currentData(), panel.steps.value()) == ("ddim", 5)


def test_the_bundled_model_recommends_what_its_readme_grid_used():
    defaults = read_defaults(resolve("bundled:emoji-32"), "bundled:emoji-32")
    assert set(defaults) == {"scheduler", "steps", "guide_model", "guidance_scale"} and defaults["steps"] <= 25
    assert defaults["guide_model"] == "bundled:emoji-32/guide" and defaults["guidance_scale"] > 1
    # its guide ships beside it and fits it (the engine checks shape, schedule and prediction type)
    job = GenerateJob(model="bundled:emoji-32", steps=2, batch_size=1, preview_every=0, guide_model=defaults["guide_model"],
                      guidance_scale=defaults["guidance_scale"])
    assert Engine(device="cpu").run(job, save=False).images.shape == (1, 32, 32, 3)
