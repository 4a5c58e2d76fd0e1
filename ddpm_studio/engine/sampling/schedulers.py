"""Building a job's scheduler from a model's scheduler config.

Which schedulers there are (the table, plain data) is ``jobs/scheduler_table.py``; ``build_scheduler`` imports diffusers
when called.
"""

from __future__ import annotations

from typing import Any

from ddpm_studio.engine.jobs.scheduler_table import SCHEDULERS


def build_scheduler(name: str, base_config: dict[str, Any]):
    """A fresh scheduler of kind ``name`` that keeps the model's training noise schedule from ``base_config``."""
    import diffusers

    spec = SCHEDULERS[name]
    if spec.needs:
        try:
            __import__(spec.needs)
        except ImportError as exc:  # pragma: no cover - scipy is a dependency
            raise RuntimeError(f"The {spec.label} scheduler needs the Python package '{spec.needs}'.") from exc
    cls = getattr(diffusers, spec.class_name)
    config = {k: v for k, v in dict(base_config).items() if not k.startswith("_")}
    config.update(spec.overrides)
    return cls.from_config(config)
