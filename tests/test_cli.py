"""The headless CLI on the same engine: files, metadata, errors and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ddpm_studio.cli import main
from ddpm_studio.engine.jobs.types import GenerateJob
from ddpm_studio.engine.output.metadata import read_job


def test_generate_writes_pngs_with_metadata(tiny_ddpm_dir, tmp_path, capsys):
    code = main(["generate", "--model", str(tiny_ddpm_dir), "--scheduler", "euler", "--steps", "4",
                 "--seed", "12", "--batch", "2", "--out", str(tmp_path)])
    assert code == 0
    captured = capsys.readouterr()
    paths = captured.out.split()
    assert [os.path.basename(p) for p in paths] == ["00000-12.png", "00001-13.png"]
    assert "4/4" in captured.err  # the progress bar reached the end
    job = read_job(paths[0])
    assert job == GenerateJob(model=str(tiny_ddpm_dir), scheduler="euler", steps=4, seed=12, batch_size=2,
                              preview_every=0, output_dir=str(tmp_path))


def test_info_prints_parameters_and_json(tiny_ddpm_dir, tmp_path, capsys):
    main(["generate", "--model", str(tiny_ddpm_dir), "--steps", "2", "--seed", "3", "--batch", "1", "--out", str(tmp_path)])
    png = capsys.readouterr().out.split()[0]
    assert main(["info", png]) == 0
    assert capsys.readouterr().out.startswith("Steps: 2, Sampler: DPM++ 2M, Seed: 3, Size: 16x16, Model: tiny-ddpm")
    assert main(["info", png, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["job"]["seed"] == 3


@pytest.mark.parametrize(
    "argv, message",
    [
        (["generate", "--model", "/no/such/model", "--out", "X"], "Model folder not found: /no/such/model"),
        (["generate", "--model", "m", "--steps", "0"], "The steps must be between 1 and 1000; got 0."),
        (["info", "/no/such.png"], "/no/such.png: no such file."),
    ],
)
def test_errors_are_one_line_exit_1(argv, message, capsys):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.strip() == f"ddpm-studio: error: {message}"


def test_usage_error_exit_2_and_debug_traceback(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    usage = subprocess.run([sys.executable, "-m", "ddpm_studio", "generate", "--bogus"], capture_output=True, text=True, env=env)
    assert usage.returncode == 2 and "unrecognized arguments: --bogus" in usage.stderr
    debug = subprocess.run([sys.executable, "-m", "ddpm_studio", "--debug", "info", str(tmp_path / "x.png")],
                           capture_output=True, text=True, env=env)
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_loading_a_pipeline_shows_only_our_progress(tmp_path):
    """diffusers' "Loading pipeline components" and transformers' "Loading weights" bars stay out of the CLI's output
    (a process of its own: which bars are on is process-wide)."""
    from tests.tiny_sd import save_tiny_sd

    model = save_tiny_sd(tmp_path / "sd", "txt2img")
    out = subprocess.run([sys.executable, "-m", "ddpm_studio", "txt2img", "--model", str(model), "--prompt", "a fox",
                          "--steps", "2", "--size", "32x32", "--seed", "1", "--out", str(tmp_path / "out"),
                          "--device", "cpu"], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr
    assert "2/2" in out.stderr  # ours
    assert "Loading pipeline components" not in out.stderr and "Loading weights" not in out.stderr
    assert out.stdout.strip().endswith("00000-1.png")
