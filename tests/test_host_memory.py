"""Freed CPU tensors are reused, not faulted in again (ddpm_studio/host_memory.py). Each case runs in a process of
its own, since the tuning is process-wide and the test process may already have it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc is tuned on Linux only")

# training steps of a small conv net at batch 64, 32 px, whose activations and gradients are freed after each step;
# first the tuning (mode "tuned"), a CLI command (mode "cli"), a one-step training run (mode "train"), or nothing
ROUNDS = """
import json, resource, sys, tempfile
from pathlib import Path
import torch
mode = sys.argv[1]
if mode == "tuned":
    from ddpm_studio.host_memory import keep_freed_memory
    keep_freed_memory()
elif mode == "cli":
    from ddpm_studio.cli import main
    main(["search", "nothing"])
elif mode == "train":
    from PIL import Image
    from ddpm_studio.training.ddpm.config import TrainConfig
    from ddpm_studio.training.ddpm.trainer import train
    data = Path(tempfile.mkdtemp())
    for i in range(2):
        Image.new("RGB", (16, 16), (40 * i, 90, 200)).save(data / f"{i}.png")
    train(TrainConfig(data_dir=str(data), output_dir=str(data / "run"), preset="tiny", resolution=16, batch_size=2,
                      max_steps=1, checkpoint_every=10, sample_every=10, use_ema=False))
torch.manual_seed(0)
torch.set_num_threads(1)
nn = torch.nn
net = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.GroupNorm(8, 32), nn.SiLU(),
                    nn.Conv2d(32, 64, 3, padding=1, stride=2), nn.GroupNorm(8, 64), nn.SiLU(),
                    nn.Upsample(scale_factor=2), nn.Conv2d(64, 3, 3, padding=1))
x = torch.randn(64, 3, 32, 32)
for _ in range(4):  # the first steps fault in what the process will keep
    net(x).square().mean().backward()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(8):
    net(x).square().mean().backward()
print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before))
"""


def faults(mode: str, **env) -> int:
    """Page faults of eight steps in a fresh process, after ``mode``."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "DDPM_STUDIO_HOST"))}
    done = subprocess.run([sys.executable, "-c", ROUNDS, mode], env=dict(environment, **env), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def untuned() -> int:
    count = faults("default")
    if count == 0:
        pytest.skip("this C library keeps freed pages anyway")
    return count  # glibc as it comes: about 28 000 a step (110 MB of 4 KiB pages faulted in and zeroed again)


def test_tuned_heap_reuses_freed_pages(untuned):
    assert faults("tuned") < untuned / 4


def test_the_cli_and_the_trainer_tune_it(untuned):
    assert faults("cli") < untuned / 4
    assert faults("train") < untuned / 4


@pytest.mark.parametrize("name, value", [("MALLOC_TRIM_THRESHOLD_", "131072"), ("MALLOC_MMAP_THRESHOLD_", "65536"),
                                         ("DDPM_STUDIO_HOST_MEMORY", "default")])
def test_the_users_own_setting_wins(name, value, monkeypatch):
    """With glibc's own setting (or ours turned off) the tuning is not applied: mallopt is never called. (Counting page
    faults cannot show it: glibc's own adaptive threshold makes an untuned process's count vary threefold.)"""
    import ctypes

    from ddpm_studio import host_memory

    called = []

    def mallopt(*args):  # glibc's, recorded instead of called
        called.append(args)
        return 1

    class Libc:
        pass

    libc = Libc()
    libc.mallopt = mallopt
    monkeypatch.setattr(ctypes, "CDLL", lambda *a, **k: libc)
    for other in ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "DDPM_STUDIO_HOST_MEMORY"):
        monkeypatch.delenv(other, raising=False)
    assert host_memory._tune() and len(called) == 2  # the stand-in C library is tuned when nothing says otherwise
    called.clear()
    monkeypatch.setenv(name, value)
    assert host_memory._tune() is False and called == []
