"""Contracts on the code's shape: the engine is headless (no Qt), checked two ways."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_linter_contracts_hold():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert lint, "import-linter is not installed (pip install -e .[test])"
    out = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "KEPT" in out.stdout and "BROKEN" not in out.stdout


def test_engine_imports_no_qt_at_run_time(tiny_ddpm_dir):
    """Run a whole job headless in a fresh interpreter and check no Qt module was loaded."""
    code = f"""
import sys
from ddpm_studio.engine.jobs import GenerateJob
from ddpm_studio.engine.runner import Engine
from ddpm_studio.engine import history, metadata, output, preview
Engine(device="cpu").run(GenerateJob(model={str(tiny_ddpm_dir)!r}, steps=2, batch_size=1), save=False)
qt = sorted(m for m in sys.modules if m.startswith(("PySide6", "qasync", "ddpm_studio.ui")))
print("QT:", qt)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"}, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "QT: []" in out.stdout
