"""Mixed precision ``auto`` (training/precision.py): the fastest finite precision is chosen by measuring, kept in
the cache, recorded in the run, and the measuring changes neither the weights nor the random state."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch

from ddpm_studio.training import precision
from ddpm_studio.training.ddpm.config import TrainConfig
from ddpm_studio.training.ddpm.trainer import train
from tests.folders import solid_folder


def test_the_fastest_finite_precision_is_chosen_and_remembered(tmp_path):
    cache = tmp_path / "precision.json"
    measured = []

    def measure(name):
        measured.append(name)
        return {"no": 0.9, "bf16": 0.3, "fp16": math.inf}[name]  # fp16: its loss was not finite

    choice = precision.choose("key-1", ["no", "bf16", "fp16"], measure, cache)
    assert choice.precision == "bf16" and measured == ["no", "bf16", "fp16"] and not choice.cached
    assert "bf16, the fastest of fp32 0.9 s, bf16 0.3 s, fp16 loss not finite" in choice.describe()
    assert json.loads(cache.read_text())["key-1"] == {"precision": "bf16", "seconds": {"no": 0.9, "bf16": 0.3,
                                                                                       "fp16": math.inf}}

    again = precision.choose("key-1", ["no", "bf16"], lambda name: pytest.fail("measured again"), cache)
    assert again.precision == "bf16" and again.cached
    assert again.describe() == ("Mixed precision auto: bf16, measured before for this model, batch and device: "
                                "fp32 0.9 s, bf16 0.3 s, fp16 loss not finite per step")  # the timings it was chosen by
    cache.write_text(json.dumps({"key-0": "bf16"}))  # as written before the timings were kept
    older = precision.choose("key-0", ["no", "bf16"], lambda name: pytest.fail("measured again"), cache)
    assert older.precision == "bf16" and older.describe().endswith("measured before for this model, batch and device")
    assert precision.choose("key-2", ["no"], lambda name: pytest.fail("nothing to measure"), cache).precision == "no"
    assert precision.choose("key-3", ["no", "bf16"], lambda name: math.inf, cache).precision == "no"


def test_timing_a_precision_leaves_the_weights_and_the_random_state(tmp_path):
    model = torch.nn.Linear(8, 8)
    before = [p.detach().clone() for p in model.parameters()]
    inputs = torch.randn(4, 8)
    state = torch.get_rng_state()

    def loss_of(context):
        with context:
            return (model(inputs + torch.randn(4, 8)) ** 2).mean()

    seconds = precision.time_precision(loss_of, list(model.parameters()), torch.device("cpu"), "no", steps=2)
    assert 0 < seconds < math.inf
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert all(p.grad is None for p in model.parameters())
    nan = precision.time_precision(lambda ctx: loss_of(ctx) * math.nan, list(model.parameters()),
                                   torch.device("cpu"), "no", steps=1)
    assert nan == math.inf


def test_auto_measures_records_its_choice_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(precision, "candidates", lambda device: ["no", "bf16"])  # as on a CPU with bf16
    monkeypatch.setattr(precision, "cache_path", lambda: tmp_path / "cache" / "precision.json")
    config = TrainConfig(data_dir=str(solid_folder(tmp_path / "red", count=4)), output_dir=str(tmp_path / "run"),
                         preset="tiny", resolution=16, batch_size=4, max_steps=2, checkpoint_every=1000,
                         sample_every=1000, sample_steps=2, num_samples=1, log_every=1)
    assert config.mixed_precision == "auto"  # the default
    events = []
    train(config, on_event=events.append)
    said = [e for e in events if e.kind == "precision"]
    assert len(said) == 1 and said[0].message.startswith("Mixed precision auto: ") and "fp32" in said[0].message
    saved = TrainConfig.load(tmp_path / "run" / "train_config.json")
    assert saved.mixed_precision == "auto" and saved.chosen_precision in ("no", "bf16")
    assert said[0].precision == precision.NAMES[saved.chosen_precision]
    cached = json.loads((tmp_path / "cache" / "precision.json").read_text())
    assert [entry["precision"] for entry in cached.values()] == [saved.chosen_precision]
    events.clear()
    # the same model, batch and device (a new run: the first one's folder is not mixed into): no measuring again
    train(dataclasses.replace(config, output_dir=str(tmp_path / "run-again")), on_event=events.append)
    again = next(e.message for e in events if e.kind == "precision")
    assert "measured before" in again and "fp32 " in again and " s per step" in again  # with the timings

    events.clear()
    train(dataclasses.replace(config, mixed_precision="no", output_dir=str(tmp_path / "run-2")), on_event=events.append)
    set_by_hand = [e for e in events if e.kind == "precision"]  # a precision that was set is said too
    assert len(set_by_hand) == 1 and set_by_hand[0].precision == "fp32" and "as set" in set_by_hand[0].message
