"""The engine's sampling loop on a real tiny UNet: every scheduler, seeds, previews, cancel."""

from __future__ import annotations

import numpy as np
import pytest

from ddpm_studio.engine.jobs.scheduler_table import SCHEDULERS
from ddpm_studio.engine.jobs.types import GenerateJob
from ddpm_studio.engine.runner import Engine


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu")


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_every_scheduler_yields_images_and_x0_previews(engine, tiny_ddpm_dir, name):
    events = []
    job = GenerateJob(model=str(tiny_ddpm_dir), scheduler=name, steps=4, seed=3, batch_size=2)
    result = engine.run(job, on_step=events.append, save=False)

    assert not result.cancelled
    assert result.images.shape == (2, 16, 16, 3) and result.images.dtype == np.uint8
    *events, last = events  # the stream ends on the result x_0, after the last model call
    assert last.final and last.index == last.total == len(events) and np.array_equal(last.x0, result.images)
    assert not any(e.final for e in events)
    assert len(events) == result.steps_run >= 4  # heun/dpm2/pndm make more model calls than steps
    assert [e.index for e in events] == list(range(len(events)))
    assert all(e.total == len(events) for e in events)
    for event in events:
        assert event.x_t.shape == (2, 16, 16, 3) and event.x0.shape == (2, 16, 16, 3)
        assert 0.0 < event.noise_level <= 1.0
    assert events[0].timestep > events[-1].timestep
    # x_t really changes from step to step
    assert not np.array_equal(events[0].x_t, events[-1].x_t)


def test_same_seed_same_images_bit_for_bit(engine, tiny_ddpm_dir):
    job = GenerateJob(model=str(tiny_ddpm_dir), scheduler="euler-a", steps=5, seed=42, batch_size=2)
    first = engine.run(job, save=False).images
    second = engine.run(job, save=False).images
    other = engine.run(job.replace(seed=43), save=False).images
    assert np.array_equal(first, second)
    assert not np.array_equal(first, other)


def test_batch_image_i_uses_seed_plus_i(engine, tiny_ddpm_dir):
    batch = engine.run(GenerateJob(model=str(tiny_ddpm_dir), scheduler="ddim", steps=3, seed=10, batch_size=3), save=False)
    alone = engine.run(GenerateJob(model=str(tiny_ddpm_dir), scheduler="ddim", steps=3, seed=12, batch_size=1), save=False)
    # the same noise, the same deterministic sampler: equal up to float rounding of batched convolutions
    assert np.abs(batch.images[2].astype(int) - alone.images[0].astype(int)).max() <= 1


def test_preview_interval(engine, tiny_ddpm_dir):
    events = []
    engine.run(GenerateJob(model=str(tiny_ddpm_dir), scheduler="ddim", steps=7, preview_every=3, batch_size=1), on_step=events.append, save=False)
    previewed = [e.index for e in events if e.x0 is not None]
    assert previewed == [0, 3, 6, 7]  # and the result, after the 7th call
    assert events[-1].final

    events.clear()
    engine.run(GenerateJob(model=str(tiny_ddpm_dir), scheduler="ddim", steps=3, preview_every=0, batch_size=1), on_step=events.append, save=False)
    assert len(events) == 3 and all(e.x_t is None and e.x0 is None for e in events)  # no previews: no result event


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction", "sample"])
def test_x0_closed_form_matches_scheduler(prediction_type):
    """DDIM gives pred_original_sample; the closed form we use for DPM-Solver/UniPC/PNDM must agree with it."""
    import torch
    from diffusers import DDIMScheduler

    from ddpm_studio.engine.sampling.pixel import predicted_x0

    scheduler = DDIMScheduler(num_train_timesteps=1000, clip_sample=False, prediction_type=prediction_type)
    scheduler.set_timesteps(10)
    torch.manual_seed(1)
    x_t, eps = torch.randn(1, 3, 8, 8), torch.randn(1, 3, 8, 8)
    t = scheduler.timesteps[3]
    expected = scheduler.step(eps, t, x_t).pred_original_sample
    ours = predicted_x0(x_t, eps, scheduler.alphas_cumprod[int(t)], prediction_type)
    assert torch.allclose(ours, expected, atol=1e-5)


def test_cancel_stops_within_one_step_and_writes_nothing(engine, tiny_ddpm_dir, tmp_path):
    events = []
    job = GenerateJob(model=str(tiny_ddpm_dir), scheduler="ddpm", steps=50, batch_size=1, output_dir=str(tmp_path / "out"))
    result = engine.run(job, on_step=events.append, should_stop=lambda: len(events) >= 5)
    assert result.cancelled and result.images is None and result.saved_paths == []
    assert len(events) == 5
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_finished_run_writes_pngs(engine, tiny_ddpm_dir, tmp_path):
    job = GenerateJob(model=str(tiny_ddpm_dir), scheduler="dpm++2m-karras", steps=3, seed=7, batch_size=2, output_dir=str(tmp_path))
    result = engine.run(job)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["00000-7.png", "00001-8.png"]
    assert sorted(result.saved_paths) == sorted(str(tmp_path / n) for n in names)


def test_ddpm_scheduler_matches_diffusers_ddpm_pipeline(tiny_ddpm_dir):
    """Our loop with the DDPM scheduler reproduces diffusers' own DDPMPipeline for the same seed."""
    import torch
    from diffusers import DDPMPipeline

    ours = Engine(device="cpu").run(GenerateJob(model=str(tiny_ddpm_dir), scheduler="ddpm", steps=10, seed=4, batch_size=1), save=False)
    pipe = DDPMPipeline.from_pretrained(tiny_ddpm_dir)
    pipe.set_progress_bar_config(disable=True)
    theirs = pipe(batch_size=1, generator=torch.Generator("cpu").manual_seed(4), num_inference_steps=10, output_type="np").images
    assert np.abs(ours.images.astype(int) - np.round(theirs * 255).astype(int)).max() <= 1


@pytest.mark.parametrize("name", ["dpm++2m", "unipc", "pndm", "euler", "heun"])
def test_v_prediction_models_sample(tmp_path_factory, name):
    from tests.tiny_models import save_tiny_ddpm

    folder = tmp_path_factory.getbasetemp() / "tiny-v"
    if not folder.exists():
        save_tiny_ddpm(folder, prediction_type="v_prediction")
    events = []
    result = Engine(device="cpu").run(GenerateJob(model=str(folder), scheduler=name, steps=3, batch_size=1), on_step=events.append, save=False)
    assert result.images.shape == (1, 16, 16, 3) and all(e.x0 is not None for e in events)
