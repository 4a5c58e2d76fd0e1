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
from ddpm_studio.engine.jobs.types import GenerateJob
from ddpm_studio.engine.runner import Engine
from ddpm_studio.engine import history, preview
from ddpm_studio.engine.output import metadata
from ddpm_studio.engine.output import save as output
Engine(device="cpu").run(GenerateJob(model={str(tiny_ddpm_dir)!r}, steps=2, batch_size=1), save=False)
qt = sorted(m for m in sys.modules if m.startswith(("PySide6", "qasync", "ddpm_studio.ui")))
print("QT:", qt)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"}, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "QT: []" in out.stdout


def _imports_by_module() -> dict[str, set[str]]:
    """Every module of ddpm_studio and the ddpm_studio modules it imports, at the top or inside a function."""
    import ast

    package = ROOT / "ddpm_studio"
    modules = {}
    for path in package.rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        modules[name] = path
    graph = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ddpm_studio"):
                for alias in node.names:  # a submodule imported by name, else the module itself
                    whole = f"{node.module}.{alias.name}"
                    found.add(whole if whole in modules else node.module)
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names if alias.name in modules}
        graph[name] = {other for other in found if other in modules and other != name}
    return graph


def test_no_import_cycles():
    """No module imports one that (through others) imports it back, function-level imports included."""
    graph = _imports_by_module()
    cycles, done, path = [], set(), []

    def visit(module: str) -> None:
        path.append(module)
        for other in sorted(graph[module]):
            if other in path:
                cycles.append(" → ".join(path[path.index(other):] + [other]))
            elif other not in done:
                visit(other)
        path.pop()
        done.add(module)

    for module in sorted(graph):
        if module not in done:
            visit(module)
    assert cycles == []


def test_every_folder_holds_at_most_about_twenty_modules():
    crowded = {str(folder.relative_to(ROOT)): count for folder in (ROOT / "ddpm_studio").rglob("*")
               if folder.is_dir() and (count := len([p for p in folder.glob("*.py") if p.name != "__init__.py"])) > 20}
    assert crowded == {}


def test_every_folder_the_architecture_page_names_exists_and_every_package_is_named():
    import re

    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(ddpm_studio/[\w/]+)/`", page))
    packages = {str(init.parent.relative_to(ROOT)) for init in (ROOT / "ddpm_studio").rglob("__init__.py")} - {
        "ddpm_studio", "ddpm_studio/ui"}
    assert named - packages == set(), "named on the page but not in the code"
    assert packages - named == set(), "in the code but not on the page"
    for path in re.findall(r"`((?:engine|ui|training|commands)/[\w/]+\.py)`", page):
        assert (ROOT / "ddpm_studio" / path).is_file(), path


def test_what_failed_is_told_by_the_errors_type_not_its_wording():
    import torch

    from ddpm_studio.engine.errors import NON_FINITE, OUT_OF_MEMORY, UNEXPECTED, USER, describe_failure, failure_kind
    from ddpm_studio.engine.jobs.checks import JobError
    from ddpm_studio.engine.models.catalogue import ModelError
    from ddpm_studio.engine.sampling.non_finite import NonFiniteError

    assert failure_kind(JobError("the steps must be between 1 and 1000")) == USER
    assert failure_kind(ModelError("out of memory is in this message, but it is a user's error")) == USER
    assert failure_kind(NonFiniteError("NaN", "decode", remedy="vae-fp32")) == NON_FINITE
    assert describe_failure(NonFiniteError("NaN", "decode", remedy="vae-fp32")).remedy == "vae-fp32"
    assert failure_kind(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")) == OUT_OF_MEMORY
    assert failure_kind(RuntimeError("MPS backend out of memory (MPS allocated: 17.9 GB)")) == OUT_OF_MEMORY
    oom = describe_failure(RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 GB"), "cpu")
    assert oom.kind == OUT_OF_MEMORY and "(cpu) ran out of memory" in oom.message
    assert failure_kind(ValueError("a bug")) == UNEXPECTED
    assert describe_failure(KeyError("x")).message == "Unexpected error (KeyError): 'x'"


def test_no_ui_code_reads_an_errors_wording():
    """The UI reads an error's kind and remedy (engine/errors.py), never words in its message."""
    import re

    found = []
    for path in (ROOT / "ddpm_studio" / "ui").rglob("*.py"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"""(["'][^"']+["']|\b[A-Z][A-Z0-9_]{2,})\s+in\s+(str\((exc|error)\)|message\b|exc\.args)""", line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == []


def test_a_limit_is_written_once_with_the_job_and_read_by_the_widgets():
    """Guidance's 0–50 and the hires factor's bounds come from engine/jobs/checks.py, not from numbers in widgets."""
    import re

    written = []
    for path in (ROOT / "ddpm_studio" / "ui").rglob("*.py"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"maximum=(50|4)\.0\b|minimum=1\.05\b|\(0\.0, 50\.0\)", line):
                written.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert written == []
