"""A model folder's recommended sampling settings: ``ddpm_studio.json`` beside ``model_index.json``.

InvokeAI keeps per-model "default settings" (scheduler, steps) that are filled in when the model is chosen; this is
the same idea, stored with the model so that it travels with the folder. Our trainer writes the scheduler and step
count its preview grids used; the bundled model carries the ones its README grid was made with. The Generate panel
and the CLI use them when the model is selected / when no flag is given. A model may also name an autoguidance guide
that ships inside its folder, and the scale to use it at (engine/sampling/guidance.py). The trainer also names the model after
its run and says where it came from (``name``, ``about``), so that two exports are not both called "model" (their
folder's name). The file is optional metadata: a missing, unreadable or partly wrong file yields only the entries that
are valid, never an error.
"""

from __future__ import annotations

import json
from pathlib import Path

DEFAULTS_FILE = "ddpm_studio.json"
MAX_NAME, MAX_ABOUT = 80, 300  # characters: a name for a list entry, a line for its tooltip
BUNDLED_PREFIX = "bundled:"  # a model that ships inside the package: bundled:emoji-32


def read_defaults(model_path: Path, ref: str = "") -> dict:
    """``{"scheduler": name, "steps": n, "guide_model": ref, "guidance_scale": w, "name": text, "about": text}``, or
    the valid subset of it, for the pipeline folder ``model_path`` (whose reference is ``ref``).

    The file names an autoguidance guide as a pipeline folder inside the model's own (``"guide": "guide"``), so the
    pair travels together; it comes back as a reference: ``bundled:NAME/guide`` for a bundled model, else a path.
    """
    from ddpm_studio.engine.jobs.checks import MAX_AUTOGUIDANCE, MAX_STEPS, MIN_AUTOGUIDANCE
    from ddpm_studio.engine.jobs.scheduler_table import SCHEDULERS

    path = Path(model_path) / DEFAULTS_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    found = _texts(data)
    if data.get("scheduler") in SCHEDULERS:
        found["scheduler"] = data["scheduler"]
    steps = data.get("steps")
    if isinstance(steps, int) and not isinstance(steps, bool) and 1 <= steps <= MAX_STEPS:
        found["steps"] = steps
    guide, scale = data.get("guide"), data.get("guidance_scale")
    if _inner_pipeline(Path(model_path), guide) and _is_number(scale) and MIN_AUTOGUIDANCE <= scale <= MAX_AUTOGUIDANCE:
        bundled = ref.startswith(BUNDLED_PREFIX)
        found["guide_model"] = f"{ref}/{guide}" if bundled else str(Path(model_path).resolve() / guide)
        found["guidance_scale"] = float(scale)
    return found


def _texts(data: dict) -> dict:
    """``name`` and ``about``: one line each, within their lengths."""
    found = {}
    for key, most in (("name", MAX_NAME), ("about", MAX_ABOUT)):
        value = data.get(key)
        if isinstance(value, str) and value.strip() and "\n" not in value and len(value) <= most:
            found[key] = value.strip()
    return found


def _inner_pipeline(model_path: Path, guide) -> bool:
    """Whether ``guide`` is a plain relative path to a pipeline folder inside ``model_path``."""
    if not isinstance(guide, str) or not guide or "\\" in guide:
        return False
    parts = Path(guide).parts
    if Path(guide).is_absolute() or any(part in ("..", ".") for part in parts):
        return False
    return (model_path / guide / "model_index.json").is_file()


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def write_defaults(model_path: Path, scheduler: str, steps: int, guide: str = "", guidance_scale: float = 1.0,
                   name: str = "", about: str = "") -> Path:
    """Write the recommended settings; ``guide`` is a pipeline folder inside ``model_path`` (relative), or nothing;
    ``name`` and ``about`` are what the model lists show (cut to their lengths, on one line)."""
    data: dict = {"scheduler": scheduler, "steps": int(steps)}
    if guide:
        data.update(guide=guide, guidance_scale=float(guidance_scale))
    for key, value, most in (("name", name, MAX_NAME), ("about", about, MAX_ABOUT)):
        value = " ".join(value.split())[:most]
        if value:
            data[key] = value
    path = Path(model_path) / DEFAULTS_FILE
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def recommended_settings(info, ref: str = "") -> dict:
    """What a newly chosen model brings: its family's defaults (models/families.py: scheduler, steps, guidance
    scale; its flavour's, such as Flux.1 schnell's, over them), then a step-distilled model's preset (an SDXL-Turbo
    or Lightning checkpoint: models/presets.py), overridden by what its own folder's ``ddpm_studio.json`` says
    (``read_defaults``)."""
    from ddpm_studio.engine.models.families import family_of_info
    from ddpm_studio.engine.models.presets import preset_for_model

    family = family_of_info(info)
    own = dict(family.defaults_for(getattr(info, "flavour", ""))) if family is not None else {}
    return {**own, **preset_for_model(info), **read_defaults(info.path, ref or info.ref)}
