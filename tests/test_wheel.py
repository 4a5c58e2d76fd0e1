"""The wheel carries the bundled model and the single-file config folders: built offline, installed outside the source
tree, it generates by default."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_installed_wheel_generates_with_the_bundled_model(tmp_path):
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(tmp_path / "dist"), str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    wheel = next((tmp_path / "dist").glob("ddpm_studio-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("ddpm_studio/resources/models/") and n.endswith("model_index.json") for n in names)
    for config in ("model_index.json", "unet/config.json", "vae/config.json", "text_encoder/config.json",
                   "scheduler/scheduler_config.json"):  # what single-file checkpoints load through, offline
        assert f"ddpm_studio/resources/configs/sd1/{config}" in names

    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target", str(site), str(wheel)],
        capture_output=True, text=True, timeout=600,
    )
    assert install.returncode == 0, install.stdout + install.stderr

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = (
        "import sys, ddpm_studio; from ddpm_studio.cli import main; "
        f"assert ddpm_studio.__file__.startswith({str(site)!r}), ddpm_studio.__file__; "
        "sys.exit(main(['generate', '--steps', '3', '--batch', '1', '--seed', '1', '--out', 'pictures', '--device', 'cpu']))"
    )
    env = {**os.environ, "PYTHONPATH": str(site), "HF_HUB_OFFLINE": "1"}
    run = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    pngs = list((elsewhere / "pictures").glob("*.png"))
    assert len(pngs) == 1
    info = subprocess.run([sys.executable, "-m", "ddpm_studio", "info", str(pngs[0])], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=120)
    assert "Model: " in info.stdout and "Steps: 3" in info.stdout
