#!/usr/bin/env bash
# Refresh constraints.txt, the tested set of versions: install the newest releases that pyproject.toml allows into a
# fresh venv, run the whole test suite, and only when it passes write what was installed as the new constraints.
# Review the diff of constraints.txt (and read the release notes of what moved) before committing it.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(mktemp -d)/venv
python3 -m venv "$venv"
. "$venv/bin/activate"
pip install -q torch==2.13.0  # the CPU build our machines carry; a loose torch would pull a CUDA build
pip install -q -e ".[test]"
pip install -q --no-deps spandrel  # declares torchvision, which would replace the CPU torch (README, pyproject.toml)
python -m pytest -q --deselect tests/test_constraints.py::test_this_environment_is_the_tested_set  # the newest set, on purpose
{
  grep '^#' constraints.txt
  pip freeze --exclude-editable | grep -iv '^ddpm-studio' | sed 's/^torch==\([0-9.]*\)+cpu$/torch==\1/'
} > constraints.txt.new
mv constraints.txt.new constraints.txt
git --no-pager diff --stat constraints.txt
