"""``generate|txt2img --count N``: N images, seeds seed … seed + N − 1 in batches; under a 2-process
``accelerate launch`` on the CPU the seeds are split between the processes, every seed made exactly once, each file
its own, and the gallery index holds them all."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from ddpm_studio.cli import main
from ddpm_studio.commands.count import batches
from ddpm_studio.engine.gallery.index import GalleryIndex
from ddpm_studio.engine.output.metadata import read_metadata


def _seeds(folder) -> list[int]:
    return sorted(read_metadata(path)["seed"] for path in folder.glob("*.png"))


def test_count_makes_every_seed_once_in_batches(tiny_ddpm_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert batches([3, 4, 5, 6, 7], 2) == [(3, 2), (5, 2), (7, 1)]
    assert main(["generate", "--model", str(tiny_ddpm_dir), "--steps", "2", "--seed", "3", "--count", "5", "--batch",
                 "2", "--out", str(tmp_path / "out")]) == 0
    assert _seeds(tmp_path / "out") == [3, 4, 5, 6, 7]
    assert sorted(r["seed"] for r in GalleryIndex().search()) == [3, 4, 5, 6, 7]


def test_two_processes_under_accelerate_split_the_seeds(tiny_ddpm_dir, tmp_path):
    launcher = shutil.which("accelerate", path=os.path.dirname(sys.executable)) or shutil.which("accelerate")
    assert launcher, "accelerate's launcher is not installed"
    out = tmp_path / "out"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "XDG_DATA_HOME": str(tmp_path / "data")}
    # on a CPU machine --multi_gpu is what starts two processes (--cpu starts one, whatever --num_processes says)
    cmd = [launcher, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
           "--dynamo_backend", "no", "--main_process_port", "29531", "-m", "ddpm_studio", "generate", "--model",
           str(tiny_ddpm_dir), "--steps", "2", "--seed", "0", "--count", "6", "--batch", "2", "--out", str(out)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "process 1/2: 3 image(s), seeds 0–2" in done.stderr and "process 2/2: 3 image(s), seeds 3–5" in done.stderr
    assert _seeds(out) == [0, 1, 2, 3, 4, 5]  # every seed once, in six files
    search = subprocess.run([sys.executable, "-m", "ddpm_studio", "search", "--json"], env=env, capture_output=True,
                            text=True, timeout=120)
    assert search.returncode == 0, search.stderr
    import json

    assert sorted(row["seed"] for row in json.loads(search.stdout)) == [0, 1, 2, 3, 4, 5]
