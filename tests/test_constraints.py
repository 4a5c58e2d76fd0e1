"""The tested set of versions: constraints.txt pins every package the app and its tests need, the README's two
set-up commands (and so CI, which runs the second) install with it, and what this test run has installed is that set."""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].strip().lower().replace("_", "-")


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            assert "==" in line, f"constraints.txt: {line!r} is not an exact pin"
            name, pinned = line.split("==", 1)
            pins[_name(name)] = pinned.strip()
    return pins


def test_every_dependency_is_pinned():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["test"]
    missing = sorted({_name(r) for r in wanted} - set(_pins()))
    assert not missing, f"constraints.txt has no pin for {missing}"


def test_readme_commands_install_with_the_constraints():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, flags=re.S)
    setup = [b for b in blocks if b.startswith("python3 -m venv")]
    assert len(setup) == 2, "README has exactly two set-up commands"
    for command in setup:
        installs = re.findall(r"pip install ([^&]*)", command)
        assert installs and all("-c constraints.txt" in i for i in installs), command


def test_this_environment_is_the_tested_set():
    """A run with other versions than the pinned ones is not a run of the tested set (the local part, +cpu, aside)."""
    pins = _pins()
    differ = []
    for name in ("torch", "diffusers", "transformers", "peft", "accelerate", "pyside6-essentials", "huggingface-hub"):
        try:
            installed = version(name).split("+", 1)[0]
        except PackageNotFoundError:
            continue
        if installed != pins[name]:
            differ.append(f"{name} {installed} (pinned {pins[name]})")
    assert not differ, "installed versions differ from constraints.txt: " + ", ".join(differ)
