"""The forward process: schedules as diffusers computes them, q(x_t | x_0) at both ends and in between (diffusers'
timesteps, t = 0 … T − 1), the model's noise estimate for ε-, v- and x0-predicting models, and the explorer panel."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ddpm_studio.engine.inspect.forward import (
    BETA_SCHEDULES,
    fixed_noise,
    model_noise_check,
    named_schedule,
    q_sample,
    schedule_from_config,
    to_model_space,
)


@pytest.fixture(scope="module")
def picture():
    rng = np.random.default_rng(0)
    return to_model_space(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))


@pytest.mark.parametrize("name", BETA_SCHEDULES)
def test_schedules_match_diffusers(name):
    from diffusers import DDPMScheduler

    ours = named_schedule(name, 1000, 0.00085, 0.012)
    theirs = DDPMScheduler(num_train_timesteps=1000, beta_schedule=name, beta_start=0.00085, beta_end=0.012)
    assert np.allclose(ours.alphas_cumprod, theirs.alphas_cumprod.double().numpy(), atol=1e-6)
    config = dict(theirs.config)
    assert np.allclose(schedule_from_config(config).betas, theirs.betas.double().numpy(), atol=1e-7)


def test_q_sample_is_nearly_the_picture_at_zero_and_noise_at_T_minus_1(picture):
    schedule = named_schedule("linear")
    eps = fixed_noise(3, picture.shape)
    assert schedule.alpha_bar(0) == pytest.approx(1 - schedule.betas[0]) and schedule.alpha_bar(0) < 1
    start = q_sample(picture, 0, schedule, eps)
    assert np.allclose(start, np.sqrt(1 - 1e-4) * picture + 1e-2 * eps)  # β_0 = 1e-4: a trace of noise
    assert 0 < np.abs(start - picture).max() < 0.06
    end = q_sample(picture, schedule.steps - 1, schedule, eps)
    assert abs(end.mean()) < 0.05 and abs(end.std() - 1.0) < 0.05  # statistically N(0, 1) in model space
    assert np.abs(end - eps).max() < 0.02  # ᾱ_999 ≈ 4e-5: x_999 is ε, all but a trace of the picture
    for outside in (-1, schedule.steps):
        with pytest.raises(ValueError):
            schedule.alpha_bar(outside)


@pytest.mark.parametrize("t", [0, 1, 10, 250, 500, 999])
def test_q_sample_matches_the_closed_form_and_diffusers_add_noise(picture, t):
    from diffusers import DDPMScheduler

    schedule = named_schedule("squaredcos_cap_v2")
    eps = fixed_noise(7, picture.shape)
    ab = float(np.prod(1 - schedule.betas[: t + 1]))
    ours = q_sample(picture, t, schedule, eps)
    assert np.allclose(ours, np.sqrt(ab) * picture + np.sqrt(1 - ab) * eps)
    scheduler = DDPMScheduler(beta_schedule="squaredcos_cap_v2")
    as_torch = lambda a: torch.from_numpy(a.transpose(2, 0, 1)[None]).float()  # noqa: E731
    theirs = scheduler.add_noise(as_torch(picture), as_torch(eps), torch.tensor([t]))  # the same t as diffusers
    assert np.allclose(ours, theirs[0].numpy().transpose(1, 2, 0), atol=1e-5)


class Oracle(torch.nn.Module):
    """A 'model' that knows the answer, in the form a prediction type asks for."""

    def __init__(self, answer: np.ndarray) -> None:
        super().__init__()
        self.answer = torch.from_numpy(answer.transpose(2, 0, 1)[None].copy()).float()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.timesteps = []  # the timesteps it was asked at

    def forward(self, sample, timestep):
        from types import SimpleNamespace

        self.timesteps.append(int(timestep))
        return SimpleNamespace(sample=self.answer)


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction", "sample"])
def test_model_noise_estimate_for_every_prediction_type(picture, prediction_type):
    schedule = named_schedule("linear")
    eps = fixed_noise(1, picture.shape)
    t = 300
    ab = schedule.alpha_bar(t)
    v = np.sqrt(ab) * eps - np.sqrt(1 - ab) * picture
    oracle = Oracle({"epsilon": eps, "v_prediction": v, "sample": picture}[prediction_type])
    check = model_noise_check(oracle, prediction_type, picture, t, schedule, eps)
    assert check.mse < 1e-8 and np.allclose(check.eps_pred, eps, atol=1e-4)
    assert oracle.timesteps == [t]  # the model is asked at the t on screen, not t − 1
    blind = model_noise_check(Oracle(np.zeros_like(picture)), "epsilon", picture, t, schedule, eps)
    assert abs(blind.mse - np.mean(eps**2)) < 1e-6  # a model that sees no noise scores E[ε²] ≈ 1


def test_the_model_is_asked_at_every_timestep_from_0_to_T_minus_1(picture):
    schedule = named_schedule("linear")
    eps = fixed_noise(4, picture.shape)
    for t in (0, schedule.steps - 1):
        oracle = Oracle(eps)
        check = model_noise_check(oracle, "epsilon", picture, t, schedule, eps)
        assert oracle.timesteps == [t] and check.t == t and check.mse < 1e-8
    for outside in (-1, schedule.steps):
        with pytest.raises(ValueError):
            model_noise_check(Oracle(eps), "epsilon", picture, outside, schedule, eps)


def test_explorer_panel(make_window, qtbot, tmp_path, tiny_ddpm_dir):
    from ddpm_studio.ui.core.settings import Settings

    settings = Settings(tmp_path / "settings.ini")
    settings.add_model_folder(str(tiny_ddpm_dir))
    window = make_window(settings)
    panel = window.explorer_panel
    window.tabs.setCurrentWidget(panel)
    panel.model_box.setCurrentIndex(panel.model_box.findText("tiny-ddpm"))
    rng = np.random.default_rng(2)
    Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)).save(tmp_path / "photo.png")
    assert panel.load_image(str(tmp_path / "photo.png"))
    assert panel.x0.shape == (16, 16, 3)  # the tiny model's resolution, from the centre square

    panel.t_slider.setValue(0)  # diffusers' t = 0 already holds a trace of noise; x_0 has its own view
    assert panel.image_of("x_t") != panel.image_of("x0") and panel.image_of("x0") is not None
    assert panel.t_slider.maximum() == panel.t_spin.maximum() == 999 and "ᾱ_t = 0.9999 " in panel.level_label.text()
    panel.t_slider.setValue(999)
    assert panel.t_slider.value() == 999 and panel.plot.t == 999
    panel.schedule_box.setCurrentIndex(panel.schedule_box.findData("squaredcos_cap_v2"))
    assert set(panel.plot.curves) == {"alpha_bar", "beta", "log10_snr"} and panel.plot.t == 999

    panel.t_slider.setValue(0)  # the model can be asked at t = 0 too, as the sampler's last step asks it
    task = panel.ask_model()
    qtbot.waitUntil(task.done, timeout=30000)
    assert panel.check is not None and panel.check.t == 0 and "At t = 0: MSE" in panel.mse_label.text()

    panel.t_slider.setValue(400)
    task = panel.ask_model()
    qtbot.waitUntil(task.done, timeout=30000)
    assert panel.check is not None and panel.check.t == 400 and np.isfinite(panel.check.mse)
    assert "MSE(ε̂, ε) = " in panel.mse_label.text() and panel.image_of("error") is not None
    panel.refresh_models()  # the same model, schedule and picture: the answer still belongs to what is shown
    assert panel.check is not None and panel.image_of("error") is not None
    panel.t_slider.setValue(401)  # another t: the old answer is cleared, not shown against the new x_t
    assert panel.image_of("error") is None and panel.mse_label.text() == ""


@pytest.fixture()
def explorer(qtbot, qloop, tmp_path, tiny_ddpm_dir):
    """An explorer panel on its own, the tiny model picked and a picture open, at t = 400."""
    from ddpm_studio.ui.core.settings import Settings
    from ddpm_studio.ui.explorer.panel import ExplorerPanel

    settings = Settings(tmp_path / "settings.ini")
    settings.add_model_folder(str(tiny_ddpm_dir))
    panel = ExplorerPanel(settings)
    qtbot.addWidget(panel)
    panel.model_box.setCurrentIndex(panel.model_box.findText("tiny-ddpm"))
    rng = np.random.default_rng(5)
    for name in ("one", "two"):
        Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(tmp_path / f"{name}.png")
    assert panel.load_image(str(tmp_path / "one.png"))
    panel.t_slider.setValue(400)
    yield panel
    panel.shutdown()


CHANGES = {
    "t": lambda panel, folder: panel.t_slider.setValue(401),
    "schedule": lambda panel, folder: panel.schedule_box.setCurrentIndex(panel.schedule_box.findData("scaled_linear")),
    "seed": lambda panel, folder: panel.seed.setValue(panel.seed.value() + 1),
    "picture": lambda panel, folder: panel.load_image(str(folder / "two.png")),
    "model": lambda panel, folder: panel.model_box.setCurrentIndex(panel.model_box.findData("")),
}


def shows_no_answer(panel) -> bool:
    return (panel.check is None and panel.image_of("eps_pred") is None and panel.image_of("error") is None
            and "MSE" not in panel.mse_label.text())


@pytest.mark.parametrize("change", CHANGES)
def test_explorer_clears_the_answer_when_what_it_was_asked_for_changes(explorer, qtbot, tmp_path, change):
    task = explorer.ask_model()
    qtbot.waitUntil(task.done, timeout=30000)
    assert explorer.check is not None and explorer.image_of("eps_pred") is not None
    CHANGES[change](explorer, tmp_path)
    assert shows_no_answer(explorer) and explorer.mse_label.text() == ""


@pytest.mark.parametrize("change", CHANGES)
def test_explorer_drops_an_answer_that_arrives_after_a_change(explorer, qtbot, tmp_path, change):
    task = explorer.ask_model()
    CHANGES[change](explorer, tmp_path)  # before the worker's answer reaches the panel
    qtbot.waitUntil(task.done, timeout=30000)
    assert shows_no_answer(explorer) and "ask again" in explorer.mse_label.text()
    if change != "model":
        task = explorer.ask_model()  # asked again, the answer is for what is shown now
        qtbot.waitUntil(task.done, timeout=30000)
        assert explorer.check.t == explorer.t_slider.value() and explorer.image_of("error") is not None
