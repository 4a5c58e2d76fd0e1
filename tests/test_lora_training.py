"""The LoRA trainer on tiny random SD 1.x, 2.x and SDXL pipelines and generated captioned folders: captions and
buckets, a LoRA that loads in diffusers and in our Text to Image, exact resume, kills, and the CLI's contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from ddpm_studio.engine.addons.resources import AddonFolders, lora_file
from ddpm_studio.engine.jobs.types import Text2ImageJob
from ddpm_studio.engine.runner import Engine
from ddpm_studio.training.checkpoints import latest_checkpoint
from ddpm_studio.training.events import TrainControl
from ddpm_studio.training.lora.buckets import bucket_sizes, nearest_bucket
from ddpm_studio.training.lora.captions import CaptionOptions
from ddpm_studio.training.lora.config import LoraTrainConfig
from ddpm_studio.training.lora.data import LoraData
from ddpm_studio.training.lora.trainer import train_lora
from tests.folders import captioned_folder
from tests.killed_runs import kill_after_checkpoint
from tests.tiny_sd import save_tiny_sd, save_tiny_sd2, save_tiny_sdxl

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def sd15(tmp_path_factory):
    return save_tiny_sd(tmp_path_factory.mktemp("base") / "tiny-sd")


def lora_config(data, out, base, **changes) -> LoraTrainConfig:
    values = dict(data_dir=str(data), output_dir=str(out), base_model=str(base), resolution=32, rank=4, alpha=4.0,
                  batch_size=2, max_steps=4, learning_rate=5e-3, checkpoint_every=2, sample_every=100, sample_steps=2,
                  trigger="zqx", log_every=1, mixed_precision="no")
    values.update(changes)
    return LoraTrainConfig(**values)


def test_captions_come_from_sidecars_and_the_report_names_orphans_and_empty_ones(tmp_path):
    data = captioned_folder(tmp_path / "data")
    (data / "stripes-2.txt").write_text("  \n", encoding="utf-8")
    (data / "left-over.txt").write_text("a picture that was deleted", encoding="utf-8")
    (data / "broken.png").write_bytes(b"not a png")
    found = LoraData(data, 32, CaptionOptions(trigger="zqx"))
    captions = {item.path.name: item.caption for item in found.items}
    assert captions == {"stripes-0.png": "a photo of zqx", "stripes-1.png": "zqx, red stripes, shiny, flat",
                        "stripes-2.png": "a photo of zqx", "stripes-3.png": "a photo of zqx"}
    details = found.report.details()
    assert f"skipped {data / 'broken.png'}" in details
    assert f"note {data / 'left-over.txt'}: a caption file without an image" in details
    assert f"note {data / 'stripes-2.txt'}: an empty caption file" in details
    with pytest.raises(ValueError, match="needs a trigger word"):
        LoraData(data, 32, CaptionOptions(trigger=""))


def test_buckets_keep_the_aspect_ratio(tmp_path):
    sizes = bucket_sizes(512)
    assert (512, 512) in sizes and all(w % 64 == 0 and h % 64 == 0 and w * h <= 512 * 512 for w, h in sizes)
    wide, tall = nearest_bucket(1024, 512, sizes), nearest_bucket(600, 1200, sizes)
    assert wide[0] > wide[1] and 1.7 < wide[0] / wide[1] < 2.3 and tall[1] > tall[0]
    data = captioned_folder(tmp_path / "data")
    buckets = {item.path.name: item.bucket for item in LoraData(data, 32, CaptionOptions(trigger="x")).items}
    assert buckets["stripes-0.png"][0] > buckets["stripes-0.png"][1] and buckets["stripes-1.png"] == (32, 32)
    square = LoraData(data, 32, CaptionOptions(trigger="x"), buckets=False)
    assert {item.bucket for item in square.items} == {(32, 32)}
    assert "2 buckets" in LoraData(data, 32, CaptionOptions(trigger="x")).bucket_summary()


def test_a_trained_lora_loads_in_diffusers_and_in_our_text_to_image(tmp_path, sd15):
    from diffusers import StableDiffusionPipeline

    data = captioned_folder(tmp_path / "data")
    events = []
    summary = train_lora(lora_config(data, tmp_path / "mine", sd15, sample_every=4), on_event=events.append)
    path = Path(summary.model_dir)
    assert path == tmp_path / "mine" / "lora" / "mine.safetensors" and not summary.stopped
    with safe_open(str(path), "pt") as f:
        keys, metadata = set(f.keys()), f.metadata()
    assert keys and all(k.startswith("lora_unet_") for k in keys)
    assert any(k.endswith("attn2_to_k.lora_down.weight") for k in keys) and any(k.endswith(".alpha") for k in keys)
    assert (metadata["ss_network_dim"], metadata["ss_network_alpha"], metadata["ss_output_name"]) == ("4", "4", "mine")
    assert json.loads(metadata["ss_tag_frequency"])["data"]["zqx"] == 1
    assert json.loads(metadata["ddpm_studio_recipe"])["trigger"] == "zqx"
    sample = next(e for e in events if e.kind == "sample")
    assert sample.image.shape == (32, 72, 3) and Path(sample.path).is_file()  # without | with, side by side
    assert not np.array_equal(sample.image[:, :32], sample.image[:, 40:])

    pipe = StableDiffusionPipeline.from_pretrained(sd15, local_files_only=True, safety_checker=None)
    pipe.set_progress_bar_config(disable=True)
    args = dict(prompt="a photo of zqx", num_inference_steps=2, height=32, width=32, output_type="np")
    before = pipe(**args, generator=torch.Generator().manual_seed(1)).images
    pipe.load_lora_weights(str(path))
    after = pipe(**args, generator=torch.Generator().manual_seed(1)).images
    assert np.abs(before - after).max() > 1e-3

    assert lora_file(path).context_dim == 32 and lora_file(path).triggers[0] == "zqx"  # the trigger first
    engine = Engine(device="cpu", folders=AddonFolders(loras=[str(path.parent)]))
    job = Text2ImageJob(model=str(sd15), prompt="a photo of zqx", width=32, height=32, steps=2, seed=1, batch_size=1)
    plain = engine.run(job, save=False).images
    with_lora = engine.run(job.replace(loras=(("mine", 1.0),)), save=False).images
    assert not np.array_equal(plain, with_lora)


def test_stop_then_resume_matches_an_unbroken_run(tmp_path, sd15):
    data = captioned_folder(tmp_path / "data", count=5)  # 3 batches an epoch: the order matters
    changes = dict(max_steps=6, checkpoint_every=3, caption_dropout=0.3, shuffle_tags=True, random_flip=True,
                   noise_offset=0.05, min_snr_gamma=5.0)
    straight = train_lora(lora_config(data, tmp_path / "straight", sd15, **changes))
    control, saved = TrainControl(), []

    def stop_at_3(event):
        if event.kind == "checkpoint":
            saved.append(event.step)
            if event.step == 3:
                control.request_stop()

    first = train_lora(lora_config(data, tmp_path / "resumed", sd15, **changes), on_event=stop_at_3, control=control)
    assert first.stopped and first.step == 3 and saved == [3]  # stopped right after a checkpoint: not saved twice
    checkpoint = latest_checkpoint(tmp_path / "resumed")[1]
    assert sum(f.stat().st_size for f in checkpoint.iterdir()) < 1_000_000  # the LoRA, not the whole base model
    second = train_lora(lora_config(data, tmp_path / "resumed", sd15, **changes), resume=True)
    assert second.step == 6
    a, b = load_file(straight.model_dir), load_file(second.model_dir)
    assert a.keys() == b.keys() and max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-6


def test_sdxl_with_both_text_encoders_from_the_cli(tmp_path, capsys):
    from diffusers import StableDiffusionXLPipeline

    from ddpm_studio.cli import main

    base = save_tiny_sdxl(tmp_path / "tiny-sdxl")
    data = captioned_folder(tmp_path / "data")
    out = tmp_path / "xl-run"
    assert main(["train", str(data), "--out", str(out), "--base", str(base), "--lora", "--rank", "4", "--alpha", "2",
                 "--resolution", "32", "--steps", "2", "--trigger", "zqx", "--train-text-encoder",
                 "--batch-size", "2", "--sample-every", "100", "--lr", "0.005"]) == 0
    path = out / "lora" / "xl-run.safetensors"
    said = capsys.readouterr()
    assert said.out.strip().endswith(str(path))
    assert f"samples at step 2: {out / 'samples' / 'step-00000002.png'} ('" in said.err  # where to look, and what
    keys = load_file(path).keys()
    assert {k.split("_")[1] for k in keys} == {"unet", "te1", "te2"}
    assert lora_file(path).arch == "sdxl"
    pipe = StableDiffusionXLPipeline.from_pretrained(base, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    args = dict(prompt="a photo of zqx", num_inference_steps=2, height=32, width=32, output_type="np")
    before = pipe(**args, generator=torch.Generator().manual_seed(1)).images
    pipe.load_lora_weights(str(path))
    assert np.abs(before - pipe(**args, generator=torch.Generator().manual_seed(1)).images).max() > 1e-4


def test_a_run_resumes_only_with_its_own_trainer(tmp_path, sd15):
    from ddpm_studio.training.ddpm.config import TrainConfig
    from ddpm_studio.training.ddpm.trainer import train
    from ddpm_studio.training.events import TrainingError

    data = captioned_folder(tmp_path / "data")
    train_lora(lora_config(data, tmp_path / "run", sd15, max_steps=1))
    with pytest.raises(TrainingError, match="holds a LoRA run; resume it as one"):
        train(TrainConfig(data_dir=str(data), output_dir=str(tmp_path / "run"), preset="tiny", resolution=16),
              resume=True)


def test_an_sd2_v_prediction_lora_trains(tmp_path):
    base = save_tiny_sd2(tmp_path / "tiny-sd2")
    summary = train_lora(lora_config(captioned_folder(tmp_path / "data"), tmp_path / "v", base, max_steps=2,
                                     min_snr_gamma=5.0, gradient_checkpointing=True))
    assert summary.last_loss is not None and np.isfinite(summary.last_loss)


def test_the_cli_refuses_settings_of_the_other_trainer(tmp_path, capsys, sd15):
    from ddpm_studio.cli import main

    data = captioned_folder(tmp_path / "data")
    assert main(["train", str(data), "--out", str(tmp_path / "a"), "--base", str(sd15), "--lora",
                 "--guide-step", "3"]) == 1
    assert "--guide-step is for pixel DDPMs, not a LoRA" in capsys.readouterr().err
    assert main(["train", str(data), "--out", str(tmp_path / "b"), "--rank", "4"]) == 1
    assert "--rank: LoRA settings; add --lora" in capsys.readouterr().err
    assert main(["train", str(data), "--out", str(tmp_path / "c"), "--lora"]) == 1
    assert "choose a Text to Image model as its base (--base) first" in capsys.readouterr().err


def test_a_killed_lora_run_resumes(tmp_path, sd15):
    data = captioned_folder(tmp_path / "data")
    out = tmp_path / "run"
    common = [sys.executable, "-m", "ddpm_studio", "train", str(data), "--out", str(out)]
    cmd = [*common, "--base", str(sd15), "--lora", "--rank", "4", "--resolution", "32", "--steps", "100000",
           "--checkpoint-every", "2", "--sample-every", "100000", "--trigger", "zqx"]
    step = kill_after_checkpoint(cmd, out, 4, ENV)
    done = subprocess.run([*common, "--resume", "--steps", str(step + 2)], env=ENV, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"Resumed from checkpoint-{step:08d} at step {step}" in done.stderr
    assert f"Finished at step {step + 2}" in done.stderr and (out / "lora" / "run.safetensors").is_file()
    assert not (out / "checkpoints" / "checkpoint-99999999.partial").exists()


def test_two_process_accelerate_launch_trains_a_lora(tmp_path, sd15):
    import shutil

    launcher = shutil.which("accelerate", path=os.path.dirname(sys.executable)) or shutil.which("accelerate")
    assert launcher, "accelerate's launcher is not installed"
    data = captioned_folder(tmp_path / "data")
    out = tmp_path / "run"
    # on a CPU machine --multi_gpu is what starts two processes (--cpu starts one, whatever --num_processes says)
    cmd = [launcher, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
           "--dynamo_backend", "no", "--main_process_port", "29519", "-m", "ddpm_studio", "train", str(data),
           "--out", str(out), "--base", str(sd15), "--lora", "--rank", "4", "--resolution", "32", "--steps", "4",
           "--checkpoint-every", "2", "--sample-every", "4", "--trigger", "zqx"]
    done = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Finished at step 4" in done.stderr
    assert "Training on 2 processes (multi_cpu)" in done.stderr  # two, not one run twice
    assert lora_file(out / "lora" / "run.safetensors").context_dim == 32
    assert latest_checkpoint(out)[0] == 4 and (out / "samples" / "step-00000004.png").is_file()


def test_a_long_caption_is_said_once_and_a_caption_folder_is_named(tmp_path, sd15):
    """A caption past the text encoder's 77 tokens is cut with one line naming its file (diffusers logged the
    whole cut-off text at every encoding: a 1 MB caption made a 1 MB log); a folder where a caption file would be
    is named, and its picture trains with the template caption."""
    import logging

    data = captioned_folder(tmp_path / "data")
    long_caption = "red stripes, " * 20000  # 260 kB
    (data / "stripes-1.txt").write_text(long_caption, encoding="utf-8")
    (data / "stripes-2.txt").mkdir()
    found = LoraData(data, 32, CaptionOptions(trigger="zqx"))
    assert f"note {data / 'stripes-2.txt'}: a folder, not a caption file" in found.report.details()
    assert {item.path.name: item.caption for item in found.items}["stripes-2.png"] == "a photo of zqx"

    logged = []  # what diffusers and transformers log, wherever their handlers write it

    class Record(logging.Handler):
        def emit(self, record):
            logged.append(record.getMessage())

    record = Record()
    libraries = [logging.getLogger(name) for name in ("diffusers", "transformers")]
    for library in libraries:
        library.addHandler(record)
    events = []
    try:  # the text encoder trained too: every step encodes the captions again
        train_lora(lora_config(data, tmp_path / "run", sd15, batch_size=4, max_steps=2, train_text_encoder=True),
                   on_event=events.append)
    finally:
        for library in libraries:
            library.removeHandler(record)
    notes = [e.message for e in events if e.kind == "note"]
    assert notes == [f"Captions are cut at the 77 tokens the text encoder reads: {data / 'stripes-1.txt'} is longer."]
    assert "stripes-2.txt: a folder, not a caption file" in next(e for e in events if e.kind == "data").message
    assert not [m for m in logged if "red stripes, red stripes" in m] and sum(map(len, logged)) < 20_000


def test_the_cli_says_how_to_resume_a_run_of_the_other_kind(tmp_path, capsys, sd15):
    from ddpm_studio.cli import main
    from ddpm_studio.training.ddpm.config import TrainConfig

    data, out = captioned_folder(tmp_path / "data"), tmp_path / "pixels"
    out.mkdir()
    TrainConfig(data_dir=str(data), output_dir=str(out), preset="tiny").save(out / "train_config.json")
    assert main(["train", str(data), "--out", str(out), "--base", str(sd15), "--lora", "--resume"]) == 1
    assert f"{out} holds a pixel DDPM run; to resume it, train it without --lora" in capsys.readouterr().err
