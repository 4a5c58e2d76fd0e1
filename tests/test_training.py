"""The trainer on tiny UNets and generated folders: it learns, resumes exactly, survives kills, and exports models."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest
from safetensors.torch import load_file

from ddpm_studio.engine.jobs.types import GenerateJob
from ddpm_studio.engine.models.defaults import read_defaults
from ddpm_studio.engine.runner import Engine
from ddpm_studio.training.checkpoints import latest_checkpoint
from ddpm_studio.training.ddpm import trainer as trainer_module
from ddpm_studio.training.ddpm.config import TrainConfig
from ddpm_studio.training.ddpm.trainer import train
from ddpm_studio.training.events import TrainControl, TrainingError
from tests.folders import hostile_folder, shapes_folder, solid_folder
from tests.killed_runs import kill_after_checkpoint

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


def tiny_config(data, out, **changes) -> TrainConfig:
    values = dict(data_dir=str(data), output_dir=str(out), preset="tiny", resolution=16, batch_size=8, max_steps=20,
                  learning_rate=2e-3, lr_warmup_steps=5, checkpoint_every=1000, sample_every=1000, sample_steps=5,
                  num_samples=4, log_every=5, mixed_precision="no")
    values.update(changes)
    return TrainConfig(**values)


def test_fifty_steps_lower_the_loss(tmp_path):
    events = []
    summary = train(tiny_config(shapes_folder(tmp_path / "shapes"), tmp_path / "run", max_steps=50), on_event=events.append)
    losses = [e.loss for e in events if e.kind == "step"]
    assert len(losses) == 10 and losses[-1] < 0.6 * losses[0]
    kinds = [e.kind for e in events]
    assert kinds[0] == "data" and "sample" in kinds and "exported" in kinds and kinds[-1] == "finished"
    sample = next(e for e in events if e.kind == "sample")
    assert sample.image.dtype == np.uint8 and sample.image.ndim == 3 and os.path.isfile(sample.path)
    model = tmp_path / "run" / "model"
    assert (model / "unet" / "diffusion_pytorch_model.safetensors").is_file()
    assert (model / "train_config.json").is_file() and "trained from scratch" in (model / "README.md").read_text()
    # what its preview samples were made with; named after its run, not "model" like every export
    assert read_defaults(model) == {"scheduler": "dpm++2m", "steps": 5, "name": "run",
                                    "about": "trained from scratch (tiny UNet) on 16 images, step 50 of 50"}
    assert summary.model_dir == str(model) and not summary.stopped


def test_learns_a_solid_colour(tmp_path):
    """An honest check that learning happened: samples of a model trained on one colour come out that colour.
    (v-prediction: a few dozen steps suffice; ε-prediction needs far more before its x̂0 at t≈T is usable.)"""
    colour = np.array([200, 40, 40])
    config = tiny_config(solid_folder(tmp_path / "red", tuple(colour)), tmp_path / "run", max_steps=60,
                         prediction_type="v_prediction", use_ema=False)
    untrained_folder = tmp_path / "untrained"
    summary = train(config)
    engine = Engine(device="cpu")
    images = engine.run(GenerateJob(model=summary.model_dir, scheduler="ddim", steps=20, batch_size=4), save=False).images
    mean = images.reshape(-1, 3).mean(0)
    assert np.abs(mean - colour).max() < 25, mean

    train(tiny_config(solid_folder(tmp_path / "red2", tuple(colour)), untrained_folder, max_steps=1, prediction_type="v_prediction", use_ema=False))
    before = engine.run(GenerateJob(model=str(untrained_folder / "model"), scheduler="ddim", steps=20, batch_size=4), save=False).images
    assert np.abs(before.reshape(-1, 3).mean(0) - colour).max() > 40  # the check can fail: an untrained model fails it


def test_stop_then_resume_matches_an_uninterrupted_run(tmp_path):
    """Stopped at step 10 and resumed to 20 gives the same weights as 20 steps in one go: the optimizer, the learning
    rate schedule, the EMA and the random state all come back from the checkpoint."""
    data = solid_folder(tmp_path / "red", count=8)  # one batch per epoch: batch order cannot differ
    straight = train(tiny_config(data, tmp_path / "straight", checkpoint_every=10))

    control = TrainControl()
    events = []

    def on_event(event):
        events.append(event)
        if event.kind == "checkpoint" and event.step == 10:
            control.request_stop()

    first = train(tiny_config(data, tmp_path / "resumed", checkpoint_every=10), on_event=on_event, control=control)
    assert first.stopped and first.step == 10
    assert [e.step for e in events if e.kind == "checkpoint"] == [10]  # stopped right after one: not saved twice
    assert latest_checkpoint(tmp_path / "resumed")[0] == 10
    events.clear()
    second = train(tiny_config(data, tmp_path / "resumed", checkpoint_every=10), on_event=events.append, resume=True)
    resumed = next(e for e in events if e.kind == "resumed")
    assert resumed.step == 10 and second.step == 20

    a = load_file(f"{straight.model_dir}/unet/diffusion_pytorch_model.safetensors")
    b = load_file(f"{second.model_dir}/unet/diffusion_pytorch_model.safetensors")
    assert a.keys() == b.keys()
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-6


def test_export_now_exports_while_paused(tmp_path):
    """Paused at step 3, Export now writes the model at once (not after Resume); Resume then trains on."""
    control, events = TrainControl(), []
    paused, exported = threading.Event(), threading.Event()

    def on_event(event):
        events.append(event)
        if event.kind == "step" and event.step == 3:
            control.pause()
        elif event.kind == "paused":
            paused.set()
        elif event.kind == "exported" and event.step == 3:
            exported.set()

    run = threading.Thread(target=train, args=(tiny_config(shapes_folder(tmp_path / "shapes"), tmp_path / "run",
                                                           max_steps=6, log_every=1),),
                           kwargs=dict(on_event=on_event, control=control))
    run.start()
    try:
        assert paused.wait(120)
        control.request_export()
        assert exported.wait(120), [e.kind for e in events]
        assert control.paused and not any(e.kind == "resumed" for e in events)  # exported while still paused
        assert (tmp_path / "run" / "model" / "unet" / "diffusion_pytorch_model.safetensors").is_file()
    finally:
        control.resume()
        run.join(120)
    assert events[-1].kind == "finished" and events[-1].step == 6


def test_an_early_copy_ships_as_the_models_autoguidance_guide(tmp_path):
    """guide_step keeps the EMA model at that step; exports after it carry it as model/guide and recommend it, exports
    before it (a stop) do not, and a resumed run still finds it."""
    data = shapes_folder(tmp_path / "shapes")
    out = tmp_path / "run"
    control = TrainControl()
    events = []

    def on_event(event):
        events.append(event)
        if event.kind == "step" and event.step == 5:
            control.request_stop()

    first = train(tiny_config(data, out, guide_step=8, log_every=5), on_event=on_event, control=control)
    assert first.stopped and first.step == 5
    assert "guide_model" not in read_defaults(out / "model") and not (out / "model" / "guide").exists()

    events.clear()
    train(tiny_config(data, out, guide_step=8, log_every=5, guide_scale=1.5), on_event=events.append, resume=True)
    guide_event = next(e for e in events if e.kind == "guide")
    assert guide_event.step == 8 and guide_event.path == str(out / "guide")
    assert [e.kind for e in events].index("guide") < [e.kind for e in events].index("exported")  # a guide is not a model
    assert next(e for e in events if e.kind == "sample").message == "autoguidance 1.5"  # drawn as the model recommends
    model = out / "model"
    recommended = {k: v for k, v in read_defaults(model).items() if k not in ("name", "about")}
    assert recommended == {"scheduler": "dpm++2m", "steps": 5, "guide_model": str(model.resolve() / "guide"),
                           "guidance_scale": 1.5}
    guide = load_file(model / "guide" / "unet" / "diffusion_pytorch_model.safetensors")
    kept = load_file(out / "guide" / "unet" / "diffusion_pytorch_model.safetensors")
    final = load_file(model / "unet" / "diffusion_pytorch_model.safetensors")
    assert all(bool((guide[k] == kept[k]).all()) for k in guide)  # the step-8 copy, as kept
    assert max(float((guide[k] - final[k]).abs().max()) for k in guide) > 1e-4  # not the final weights
    job = GenerateJob(model=str(model), scheduler="ddim", steps=3, batch_size=1, guide_model=str(model / "guide"),
                      guidance_scale=1.5)
    assert Engine(device="cpu").run(job, save=False).images.shape == (1, 16, 16, 3)
    with pytest.raises(ValueError, match="guide step must be from 0 \\(none\\) to below the 20 steps"):
        tiny_config(data, out, guide_step=20).validate()


def test_hostile_folder_trains_on_the_good_files(tmp_path):
    folder, good, bad = hostile_folder(tmp_path / "hostile")
    events = []
    train(tiny_config(folder, tmp_path / "run", max_steps=3, batch_size=4), on_event=events.append)
    data = next(e for e in events if e.kind == "data")
    assert f"{len(good)} usable image(s)" in data.message
    for name in bad:
        assert name in data.message


def test_nan_loss_stops_with_a_message_and_keeps_the_checkpoint(tmp_path, monkeypatch):
    real_loss = trainer_module._training_loss
    calls = []

    def poisoned(*args):
        calls.append(1)
        loss = real_loss(*args)
        return loss * float("nan") if len(calls) > 12 else loss

    monkeypatch.setattr(trainer_module, "_training_loss", poisoned)
    with pytest.raises(TrainingError, match=r"loss became nan at step 15.*checkpoint-00000010"):
        train(tiny_config(solid_folder(tmp_path / "red"), tmp_path / "run", checkpoint_every=10, max_steps=30))
    assert latest_checkpoint(tmp_path / "run")[0] == 10


def test_killed_run_leaves_a_loadable_latest_checkpoint(tmp_path):
    data = shapes_folder(tmp_path / "shapes")
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "ddpm_studio", "train", str(data), "--out", str(out), "--from-scratch", "tiny",
           "--resolution", "16", "--steps", "100000", "--batch-size", "4", "--checkpoint-every", "3", "--sample-every", "100000"]
    step = kill_after_checkpoint(cmd, out, 6, ENV)
    events = []
    summary = train(tiny_config(data, out, max_steps=step + 2, batch_size=4, checkpoint_every=3), on_event=events.append, resume=True)
    assert next(e for e in events if e.kind == "resumed").step == step
    assert summary.step == step + 2
    assert not (out / "checkpoints" / "checkpoint-99999999.partial").exists()


def test_two_process_accelerate_launch_makes_a_loadable_model(tmp_path):
    launcher = shutil.which("accelerate", path=os.path.dirname(sys.executable)) or shutil.which("accelerate")
    assert launcher, "accelerate's launcher is not installed"
    data = shapes_folder(tmp_path / "shapes")
    out = tmp_path / "run"
    # on a CPU machine --multi_gpu is what starts two processes (--cpu starts one, whatever --num_processes says)
    cmd = [launcher, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
           "--dynamo_backend", "no", "--main_process_port", "29517", "-m", "ddpm_studio", "train", str(data), "--out", str(out),
           "--from-scratch", "tiny", "--resolution", "16", "--steps", "6", "--batch-size", "4", "--checkpoint-every", "3",
           "--sample-every", "6"]
    done = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Finished at step 6" in done.stderr
    assert "Training on 2 processes (multi_cpu)" in done.stderr  # two, not one run twice
    images = Engine(device="cpu").run(GenerateJob(model=str(out / "model"), steps=3, batch_size=1), save=False).images
    assert images.shape == (1, 16, 16, 3)
    assert latest_checkpoint(out)[0] == 6


def test_cli_resume_keeps_the_runs_recipe(tmp_path, capsys):
    from ddpm_studio.cli import main

    data = solid_folder(tmp_path / "red")
    out = tmp_path / "run"
    common = [str(data), "--out", str(out), "--batch-size", "4", "--checkpoint-every", "2", "--sample-every", "100"]
    assert main(["train", *common, "--from-scratch", "tiny", "--resolution", "16", "--steps", "2", "--lr", "0.002"]) == 0
    assert main(["train", *common, "--steps", "4", "--resume"]) == 0
    config = TrainConfig.load(out / "model" / "train_config.json")
    assert (config.preset, config.resolution, config.learning_rate, config.max_steps) == ("tiny", 16, 0.002, 4)
    assert "Resumed from checkpoint-00000002 at step 2" in capsys.readouterr().err


def test_cli_takes_preset_for_from_scratch_and_warms_a_short_run_up_for_a_tenth(tmp_path, capsys):
    from ddpm_studio.cli import main

    data = solid_folder(tmp_path / "red", count=4)
    common = [str(data), "--batch-size", "4", "--resolution", "16", "--checkpoint-every", "100", "--sample-every", "100"]
    assert main(["train", *common, "--out", str(tmp_path / "a"), "--preset", "tiny", "--steps", "20"]) == 0
    config = TrainConfig.load(tmp_path / "a" / "train_config.json")
    assert (config.preset, config.lr_warmup_steps) == ("tiny", 2)  # not the default 100, more than the run has
    assert main(["train", *common, "--out", str(tmp_path / "b"), "--from-scratch", "tiny", "--steps", "4",
                 "--warmup", "3"]) == 0
    assert TrainConfig.load(tmp_path / "b" / "train_config.json").lr_warmup_steps == 3  # as given
    with pytest.raises(SystemExit):
        main(["train", *common, "--out", str(tmp_path / "c"), "--preset", "enormous"])
    assert "invalid choice: 'enormous'" in capsys.readouterr().err


def test_fine_tune_records_the_base_models_noise_schedule(tmp_path, capsys):
    """A fine-tune trains with its base model's scheduler (v-prediction, cosine betas, 500 steps here), so its
    train_config.json files, checkpoints and model card say that, not the recipe's defaults; and it resumes."""
    import json

    from ddpm_studio.cli import main
    from ddpm_studio.training.checkpoints import read_state
    from tests.tiny_models import save_tiny_ddpm

    base = save_tiny_ddpm(tmp_path / "base", prediction_type="v_prediction")
    scheduler_file = base / "scheduler" / "scheduler_config.json"
    scheduler = json.loads(scheduler_file.read_text(encoding="utf-8"))
    scheduler.update(beta_schedule="squaredcos_cap_v2", num_train_timesteps=500)
    scheduler_file.write_text(json.dumps(scheduler), encoding="utf-8")
    data, out = solid_folder(tmp_path / "red", count=4), tmp_path / "run"
    config = tiny_config(data, out, base_model=str(base), max_steps=2, batch_size=4, checkpoint_every=2)
    summary = train(config)
    assert (config.prediction_type, config.beta_schedule, config.num_train_timesteps) == ("epsilon", "linear", 1000)
    built = ("v_prediction", "squaredcos_cap_v2", 500)

    def recorded(path):
        saved = TrainConfig.load(path)
        return saved.prediction_type, saved.beta_schedule, saved.num_train_timesteps

    model = out / "model"
    assert summary.model_dir == str(model) and "prediction: v_prediction;" in (model / "README.md").read_text()
    assert recorded(model / "train_config.json") == recorded(out / "train_config.json") == built
    assert read_state(latest_checkpoint(out)[1])["config"]["prediction_type"] == "v_prediction"

    common = [str(data), "--out", str(out), "--batch-size", "4", "--checkpoint-every", "2", "--sample-every", "100"]
    assert main(["train", *common, "--steps", "4", "--resume"]) == 0
    assert "Resumed from checkpoint-00000002 at step 2" in capsys.readouterr().err
    resumed = TrainConfig.load(model / "train_config.json")
    assert (resumed.base_model, resumed.max_steps) == (str(base), 4) and recorded(model / "train_config.json") == built
    card = (model / "README.md").read_text()
    assert "prediction: v_prediction;" in card and "Steps: 4 of 4" in card


@pytest.mark.parametrize("preset, low, high", [("xsmall", 0.6e6, 0.8e6), ("small", 2.6e6, 2.9e6), ("small4", 10.5e6, 11e6), ("medium", 4.3e6, 4.6e6), ("large", 10e6, 12.5e6)])
def test_preset_sizes_match_their_comments_and_large_ones_fit_a_bundle(preset, low, high):
    """The comments in presets.py quote these counts; 12.5 M parameters is 25 MB in fp16, a bundled model's limit."""
    import torch
    from diffusers import UNet2DModel

    from ddpm_studio.training.ddpm.presets import unet_config

    with torch.device("meta"):
        unet = UNet2DModel(**unet_config(preset, 32))
    assert low <= sum(p.numel() for p in unet.parameters()) <= high


def test_a_new_run_never_mixes_into_an_earlier_one(tmp_path, capsys):
    """`train` into a folder that holds a run, without --resume, is refused (it used to start at step 0 beside the
    old checkpoints, and a later --resume took the old, higher step); --new-run sets the earlier run aside as the
    Train panel does, and the resume then goes on from the new run's checkpoint. The trainer refuses it as well."""
    from ddpm_studio.cli import main
    from ddpm_studio.training.earlier_run import EarlierRunError

    data = solid_folder(tmp_path / "red", count=4)
    out = tmp_path / "run"
    common = [str(data), "--out", str(out), "--from-scratch", "tiny", "--resolution", "16", "--batch-size", "4",
              "--checkpoint-every", "4", "--sample-every", "100"]
    assert main(["train", *common, "--steps", "4"]) == 0
    first_model = (out / "model" / "unet" / "diffusion_pytorch_model.safetensors").read_bytes()
    capsys.readouterr()

    assert main(["train", *common, "--steps", "2"]) == 1
    err = capsys.readouterr().err
    assert f"{out} already holds a training run (checkpoints up to step 4 and an exported model)" in err
    assert "Add --resume to continue it, --new-run to move it into a subfolder" in err
    assert latest_checkpoint(out)[0] == 4 and not list(out.glob("earlier-run-*"))  # nothing touched
    with pytest.raises(EarlierRunError, match="already holds a training run"):
        train(tiny_config(data, out))

    assert main(["train", *common, "--steps", "2", "--new-run"]) == 0
    earlier = next(out.glob("earlier-run-*"))
    assert f"the earlier run in {out} is now in {earlier}" in capsys.readouterr().err
    assert (earlier / "model" / "unet" / "diffusion_pytorch_model.safetensors").read_bytes() == first_model
    assert latest_checkpoint(earlier)[0] == 4 and (earlier / "loss_log.csv").is_file()
    assert latest_checkpoint(out)[0] == 2

    assert main(["train", *common, "--steps", "3", "--resume"]) == 0
    assert "Resumed from checkpoint-00000002 at step 2" in capsys.readouterr().err  # not the set-aside step 4

    other = solid_folder(tmp_path / "blue", colour=(40, 40, 200), count=4)
    assert main(["train", str(other), "--out", str(out), "--steps", "4", "--resume"]) == 0
    assert f"note: resuming the run in {out} with another recipe: its pictures were {data}, these are {other}" \
        in capsys.readouterr().err


def test_runs_set_aside_in_the_same_second_keep_their_own_folders(tmp_path, monkeypatch):
    import datetime
    import types

    from ddpm_studio.training import checkpoints as ckpt

    class Frozen(datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return cls(2026, 12, 8, 10, 0, 0)

    monkeypatch.setattr(ckpt, "datetime", types.SimpleNamespace(datetime=Frozen))
    out = tmp_path / "run"
    moved = []
    for number in range(3):
        (out / "checkpoints" / "checkpoint-00000001").mkdir(parents=True)
        (out / "train_config.json").write_text(f'{{"run": {number}}}', encoding="utf-8")
        moved.append(ckpt.set_aside(out))
    assert [p.name for p in moved] == ["earlier-run-20261208-100000", "earlier-run-20261208-100000-2",
                                       "earlier-run-20261208-100000-3"]
    assert [(p / "train_config.json").read_text(encoding="utf-8") for p in moved] == [
        f'{{"run": {number}}}' for number in range(3)]
