"""The wheel carries the bundled model and the single-file config folders: built offline, installed outside the source
tree in a fresh virtual environment, it generates by default from another working directory."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from ddpm_studio.engine.jobs.scheduler_table import SCHEDULERS
from ddpm_studio.engine.models.catalogue import resolve
from ddpm_studio.engine.models.defaults import read_defaults

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
    assert any(n.startswith("ddpm_studio/resources/models/") and n.endswith("/ddpm_studio.json") for n in names)  # its settings
    for config in ("model_index.json", "unet/config.json", "vae/config.json", "text_encoder/config.json",
                   "scheduler/scheduler_config.json"):  # what single-file checkpoints load through, offline
        assert f"ddpm_studio/resources/configs/sd1/{config}" in names
    assert "ddpm_studio/resources/configs/sdxl/text_encoder_2/config.json" in names
    assert "ddpm_studio/resources/icons/hicolor/256x256/apps/ddpm-studio.png" in names
    assert "ddpm_studio/resources/licenses/NotoColorEmoji-OFL-1.1.txt" in names
    assert {f"ddpm_studio/resources/tokenizers/clip/{name}" for name in ("vocab.json", "merges.txt")} <= set(names)
    assert "ddpm_studio/resources/licenses/OpenAI-CLIP-MIT.txt" in names
    for shipped in ("tokenizers/t5/tokenizer.json", "tokenizers/qwen3/tokenizer.json.gz",
                    "licenses/T5-Qwen3-tokenizers-Apache-2.0.txt", "configs/sd3.5-medium/transformer/config.json",
                    "configs/flux.1-dev/text_encoder_2/config.json"):  # what split files load through, offline
        assert f"ddpm_studio/resources/{shipped}" in names

    # a fresh virtual environment; the wheel goes in with pip, offline. Its heavy dependencies (torch, diffusers,
    # PySide6) are not downloaded again: a .pth file lets it see the ones this interpreter has.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    deps = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    (site / "outer-dependencies.pth").write_text("\n".join(deps) + "\n")
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-index", str(wheel)],
        capture_output=True, text=True, timeout=600,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    assert (venv / "bin" / "ddpm-studio").is_file()  # the console script

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = (
        "import sys, ddpm_studio; from ddpm_studio.cli import main; "
        f"assert ddpm_studio.__file__.startswith({str(site)!r}), ddpm_studio.__file__; "
        "sys.exit(main(['generate', '--steps', '3', '--batch', '1', '--seed', '1', '--out', 'pictures', '--device', 'cpu']))"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("PYTHONPATH", None)
    run = subprocess.run([str(python), "-c", code], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    pngs = list((elsewhere / "pictures").glob("*.png"))
    assert len(pngs) == 1
    info = subprocess.run([str(venv / "bin" / "ddpm-studio"), "info", str(pngs[0])], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=120)
    assert "Model: " in info.stdout and "Steps: 3" in info.stdout
    recommended = SCHEDULERS[read_defaults(resolve("bundled:emoji-32"))["scheduler"]].a1111_sampler
    assert f"Sampler: {recommended}," in info.stdout  # no --scheduler given: the bundled model's own
    assert 'Guide model: "bundled:emoji-32/guide"' in info.stdout  # and its autoguidance guide, from the package too
