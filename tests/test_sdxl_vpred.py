"""SDXL v-prediction checkpoints (issue 29): a ``v_pred`` key makes a single file a v model, ``ztsnr`` adds zero
terminal SNR, a ``.yaml`` beside a file that says nothing may say v, and the panels offer the Prediction row only for
a file that does not say."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from ddpm_studio.engine.jobs.types import Text2ImageJob
from ddpm_studio.engine.models.catalogue import inspect_model
from ddpm_studio.engine.runner import Engine
from tests.ldm_checkpoint import save_config_folder, save_single_file
from tests.tiny_sd import save_tiny_sdxl

JOB = dict(prompt="a fox in snow", negative_prompt="blur", steps=3, seed=5, width=64, height=64, output_dir="")


def with_keys(source, out, *keys):
    """A copy of the checkpoint ``source`` with the marker ``keys`` (empty tensors, as finetuners write them)."""
    from safetensors.torch import load_file, save_file

    state = load_file(str(source))
    state.update({key: torch.tensor([]) for key in keys})
    save_file(state, str(out))
    return out


@pytest.fixture(scope="module")
def xl(tmp_path_factory):
    root = tmp_path_factory.mktemp("vpred")
    folder = save_tiny_sdxl(root / "sdxl")
    files = root / "checkpoints"
    files.mkdir()
    plain = save_single_file(folder, files / "xl-plain.safetensors")
    save_config_folder(folder, root / "configs" / "sdxl")
    return dict(plain=plain, vpred=with_keys(plain, files / "xl-vpred.safetensors", "v_pred"),
                ztsnr=with_keys(plain, files / "xl-ztsnr.safetensors", "v_pred", "ztsnr"),
                files=files, configs=root / "configs")


@pytest.fixture()
def configs(xl, monkeypatch):
    monkeypatch.setenv("DDPM_STUDIO_CONFIGS", str(xl["configs"]))


def test_a_v_pred_key_says_what_the_file_predicts(xl):
    plain, vpred = inspect_model(str(xl["plain"])), inspect_model(str(xl["vpred"]))
    assert (plain.prediction, plain.prediction_unknown) == ("", True)  # nothing says: the user may choose
    assert (vpred.prediction, vpred.prediction_unknown) == ("v_prediction", False)
    assert vpred.family == plain.family == "stable-diffusion-xl"


def test_a_v_pred_file_is_sampled_as_v(xl, configs):
    engine = Engine(device="cpu")
    as_v = engine.run(Text2ImageJob(model=str(xl["vpred"]), **JOB), save=False)
    loaded = engine._model
    assert loaded.scheduler_config["prediction_type"] == "v_prediction"
    assert "v-prediction (from its v_pred key)" in loaded.note and as_v.note == loaded.note
    told = engine.run(Text2ImageJob(model=str(xl["plain"]), prediction_type="v_prediction", **JOB), save=False)
    as_epsilon = engine.run(Text2ImageJob(model=str(xl["plain"]), **JOB), save=False)
    assert engine._model.scheduler_config["prediction_type"] == "epsilon" and engine._model.note == ""
    assert np.abs(as_v.images.astype(int) - told.images.astype(int)).max() <= 1  # the same as choosing v by hand
    assert np.abs(as_v.images.astype(int) - as_epsilon.images.astype(int)).max() > 10


def test_ztsnr_rescales_the_betas_to_zero_terminal_snr(xl, configs):
    engine = Engine(device="cpu")
    result = engine.run(Text2ImageJob(model=str(xl["ztsnr"]), scheduler="euler", **{**JOB, "steps": 2}), save=False)
    config = engine._model.scheduler_config
    assert config["rescale_betas_zero_snr"] and config["timestep_spacing"] == "trailing"
    assert "zero terminal SNR (its ztsnr key)" in result.note
    assert np.isfinite(result.images).all() and result.images.std() > 0
    scheduler = engine._model.pipe.scheduler
    assert float(scheduler.alphas_cumprod[-1]) < 1e-6  # the last step is (almost) pure noise


def test_a_yaml_beside_a_file_that_says_nothing_may_say_v(xl, configs, tmp_path):
    copy = shutil.copy(xl["plain"], tmp_path / "noob.safetensors")
    (tmp_path / "noob.yaml").write_text('model:\n  params:\n    parameterization: "v"\n', encoding="utf-8")
    engine = Engine(device="cpu")
    engine.run(Text2ImageJob(model=str(copy), **{**JOB, "steps": 1}), save=False)
    assert engine._model.scheduler_config["prediction_type"] == "v_prediction"
    assert "v-prediction (from noob.yaml)" in engine._model.note


def test_text_to_image_offers_the_prediction_row_only_where_the_file_does_not_say(make_window, xl, configs,
                                                                                  tmp_path):
    from ddpm_studio.ui.core.settings import Settings

    settings = Settings(tmp_path / "settings.ini")
    settings.output_dir = str(tmp_path / "out")
    settings.add_model_folder(str(xl["files"]))
    panel = make_window(settings).text2image_panel
    shown = {}
    for name in ("xl-plain", "xl-vpred"):
        panel.model_box.setCurrentIndex(panel.model_box.findText(name, flags=pytest.importorskip(
            "PySide6.QtCore").Qt.MatchFlag.MatchContains))
        shown[name] = panel.prompts.form.isRowVisible(panel.prompts.prediction)
    assert shown == {"xl-plain": True, "xl-vpred": False}
