"""Cancel inside a step: hooks between the model's blocks stop a latent run part-way through the model's call, the
stages ("sampling", "decoding") are told as they begin, and no hook stays behind on the model after a run."""

from __future__ import annotations

import pytest
import torch

from ddpm_studio.engine.jobs.types import Text2ImageJob
from ddpm_studio.engine.runner import Engine
from tests.stopped_runs import run_stopped_in_second_call
from tests.tiny_sd import save_tiny_sd


@pytest.fixture(scope="module")
def sd(tmp_path_factory):
    return save_tiny_sd(tmp_path_factory.mktemp("sd") / "txt2img")


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu")


def _job(sd, tmp_path, steps=4):
    return Text2ImageJob(model=str(sd), prompt="a lighthouse", steps=steps, seed=3, width=32, height=32,
                         output_dir=str(tmp_path))


def _hook_counts(module: torch.nn.Module) -> int:
    return sum(len(m._forward_pre_hooks) for m in module.modules())


def test_cancel_stops_inside_the_models_call(engine, sd, tmp_path):
    unet = engine.load(str(sd), "txt2img").pipe.unet
    hooks_before = _hook_counts(unet)
    result, steps, calls = run_stopped_in_second_call(engine, _job(sd, tmp_path), unet, unet.mid_block)
    assert result.cancelled and result.images is None and not list(tmp_path.glob("*.png"))
    assert calls == {"started": 2, "ended": 1}  # the second call never finished: stopped between its blocks
    assert len(steps) == 1 and result.steps_run == 1
    assert _hook_counts(unet) == hooks_before  # no hook of the run's stays on the model


def test_stages_are_told_as_they_begin(engine, sd, tmp_path):
    said = []
    steps = []

    def on_stage(stage):
        said.append((stage, len(steps)))

    result = engine.run(_job(sd, tmp_path, steps=3), on_step=steps.append, on_stage=on_stage)
    assert not result.cancelled
    # sampling before the first step's event; decoding after the last step's, before the final event
    assert said == [("sampling", 0), ("decoding", 3)]


def test_cancel_during_the_decode_saves_nothing(engine, sd, tmp_path):
    decoding = {"now": False}

    def on_stage(stage):
        decoding["now"] = stage == "decoding"

    result = engine.run(_job(sd, tmp_path), on_stage=on_stage, should_stop=lambda: decoding["now"])
    assert result.cancelled and not list(tmp_path.glob("*.png"))
