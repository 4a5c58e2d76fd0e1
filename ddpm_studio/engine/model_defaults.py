"""A model folder's recommended sampling settings: ``ddpm_studio.json`` beside ``model_index.json``.

InvokeAI keeps per-model "default settings" (scheduler, steps) that are filled in when the model is chosen; this is
the same idea, stored with the model so that it travels with the folder. Our trainer writes the scheduler and step
count its preview grids used; the bundled model carries the ones its README grid was made with. The Generate panel
and the CLI use them when the model is selected / when no flag is given. The file is optional metadata: a missing,
unreadable or partly wrong file yields only the entries that are valid, never an error.
"""

from __future__ import annotations

import json
from pathlib import Path

DEFAULTS_FILE = "ddpm_studio.json"


def read_defaults(model_path: Path) -> dict:
    """``{"scheduler": name, "steps": n}``, or the valid subset of it, for the pipeline folder ``model_path``."""
    from ddpm_studio.engine.jobs import MAX_STEPS
    from ddpm_studio.engine.schedulers import SCHEDULERS

    path = Path(model_path) / DEFAULTS_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    found = {}
    if data.get("scheduler") in SCHEDULERS:
        found["scheduler"] = data["scheduler"]
    steps = data.get("steps")
    if isinstance(steps, int) and not isinstance(steps, bool) and 1 <= steps <= MAX_STEPS:
        found["steps"] = steps
    return found


def write_defaults(model_path: Path, scheduler: str, steps: int) -> Path:
    path = Path(model_path) / DEFAULTS_FILE
    path.write_text(json.dumps({"scheduler": scheduler, "steps": int(steps)}, indent=2) + "\n", encoding="utf-8")
    return path
