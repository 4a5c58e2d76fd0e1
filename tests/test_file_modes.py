"""Saved files get the mode a normal write gives (0666 less the umask), not the owner-only 0600 of mkstemp and
safetensors: result PNGs, exported models, checkpoints, and the folders the tools write."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
from PIL import Image

from ddpm_studio.engine.jobs.types import GenerateJob
from ddpm_studio.engine.output.save import write_png_atomic
from ddpm_studio.engine.runner import Engine
from ddpm_studio.engine.runtime.files import create_exclusive, give_normal_modes
from ddpm_studio.training.checkpoints import latest_checkpoint
from ddpm_studio.training.ddpm.config import TrainConfig
from ddpm_studio.training.ddpm.trainer import train
from tests.folders import solid_folder


@pytest.fixture(params=[0o022, 0o027], ids=["umask-022", "umask-027"])
def normal(request) -> int:
    """Set the umask for the test; the mode a normally created file then gets (0o644 or 0o640)."""
    old = os.umask(request.param)
    try:
        yield 0o666 & ~request.param
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def modes_under(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): mode(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def test_write_png_atomic_gives_the_normal_mode(tmp_path, normal):
    path = write_png_atomic(Image.new("RGB", (4, 4), (1, 2, 3)), tmp_path / "out", "7", None)
    assert path.name == "00000-7.png" and mode(path) == normal
    assert [p.name for p in path.parent.iterdir()] == ["00000-7.png"]  # no temp file left behind


def test_create_exclusive_makes_a_new_file_with_the_normal_mode(tmp_path, normal, monkeypatch):
    fd, path = create_exclusive(tmp_path, ".partial-", ".png")
    os.close(fd)
    assert path.parent == tmp_path and path.name.startswith(".partial-") and path.name.endswith(".png")
    assert mode(path) == normal
    path.write_bytes(b"taken")
    monkeypatch.setattr("secrets.token_hex", lambda n: path.name[len(".partial-"):-len(".png")])
    with pytest.raises(FileExistsError, match="No free temporary file name"):
        create_exclusive(tmp_path, ".partial-", ".png")
    assert path.read_bytes() == b"taken"  # never opened again


def test_give_normal_modes_widens_owner_only_files_and_nothing_else(tmp_path, normal):
    (tmp_path / "unet").mkdir()
    weights = tmp_path / "unet" / "weights.safetensors"
    weights.write_bytes(b"w")
    weights.chmod(0o600)
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.write_text("not in the folder")
    outside.chmod(0o600)
    (tmp_path / "link").symlink_to(outside)
    give_normal_modes(tmp_path)
    assert mode(weights) == normal
    assert mode(script) == 0o755 | normal  # extra bits are kept
    assert mode(outside) == 0o600  # a link is not followed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "run.sh", "unet"]  # the probe file is gone


def test_engine_saves_pngs_with_the_normal_mode(tiny_ddpm_dir, tmp_path, normal):
    out = tmp_path / "out"
    job = GenerateJob(model=str(tiny_ddpm_dir), scheduler="ddim", steps=2, batch_size=2, output_dir=str(out))
    result = Engine(device="cpu").run(job)
    assert len(result.saved_paths) == 2
    assert {mode(Path(p)) for p in result.saved_paths} == {normal}


def test_training_run_writes_its_model_and_checkpoints_with_the_normal_mode(tmp_path):
    """umask 027: a file 0600 (what safetensors writes) or 0644 (what ignoring the umask gives) both fail."""
    old = os.umask(0o027)
    try:
        config = TrainConfig(data_dir=str(solid_folder(tmp_path / "red", count=4)), output_dir=str(tmp_path / "run"),
                             preset="tiny", resolution=16, batch_size=4, max_steps=2, lr_warmup_steps=1,
                             checkpoint_every=1, sample_every=1000, sample_steps=2, num_samples=1, log_every=1)
        train(config)
    finally:
        os.umask(old)
    run = tmp_path / "run"
    model = modes_under(run / "model")
    assert model["unet/diffusion_pytorch_model.safetensors"] == 0o640
    assert model["train_config.json"] == model["README.md"] == 0o640
    assert set(model.values()) == {0o640}, model
    checkpoint = modes_under(latest_checkpoint(run)[1])
    assert "model.safetensors" in checkpoint and set(checkpoint.values()) == {0o640}, checkpoint
    assert set(modes_under(run).values()) == {0o640}  # the run's own files too: every checkpoint, samples, config


def test_grow_tool_writes_its_folder_with_the_normal_mode(tiny_ddpm_dir, tmp_path, monkeypatch, normal):
    from tools import grow_model

    target = tmp_path / "grown"
    monkeypatch.setattr(sys, "argv", ["grow_model.py", str(tiny_ddpm_dir), str(target)])
    grow_model.main()
    grown = modes_under(target)
    assert grown["unet/diffusion_pytorch_model.safetensors"] == grown["unet/config.json"] == normal
    assert all(bits & normal == normal for bits in grown.values()), grown  # copied files keep their source's mode
