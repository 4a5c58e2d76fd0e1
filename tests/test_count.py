"""``generate|txt2img --count N``: N images, seeds seed … seed + N − 1 in batches; under a 2-process
``accelerate launch`` on the CPU the seeds are split between the processes, every seed made exactly once, each file
its own, and the gallery index holds them all."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from ddpm_studio.cli import main
from ddpm_studio.commands.count import batches, run_count
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


def test_each_batch_is_printed_as_soon_as_it_is_saved():
    """The batches run as one series (``engine.series.runner.run_series``): a batch's paths are printed when its run
    ends, before the next one starts, and each run has a progress bar of its own."""
    import contextlib
    import io
    import types

    from ddpm_studio.engine.events import Result, StepEvent
    from ddpm_studio.engine.jobs.types import GenerateJob

    log: list[str] = []

    class Engine:
        device = types.SimpleNamespace(label="fake")

        def run(self, job, on_step=None, should_stop=None, save=True):
            log.append(f"run {job.seed}+{job.batch_size}")
            on_step(StepEvent(index=0, total=1, timestep=10.0, elapsed=1.0))
            return Result(job=job, images=None, saved_paths=[f"{job.seed + i}.png" for i in range(job.batch_size)])

    class Out(io.StringIO):
        def write(self, text):
            if text.strip():
                log.append(text.strip())
            return super().write(text)

    args = types.SimpleNamespace(count=3, seed=4, seed_walk=None)
    err = io.StringIO()
    with contextlib.redirect_stdout(Out()), contextlib.redirect_stderr(err):
        assert run_count(args, GenerateJob(model="m", seed=4, batch_size=2), Engine()) == 0
    assert log == ["run 4+2", "4.png", "5.png", "run 6+1", "6.png"]
    bar = "\r[" + "#" * 30 + "] 1/1 t=10 1.0 it/s ETA 0s \n"
    assert err.getvalue() == bar + bar + "3 image(s), seeds 4–6, on fake\n"


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
