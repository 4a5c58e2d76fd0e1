"""Building a job's scheduler from a model's scheduler config.

Which schedulers there are (the table, plain data) is ``jobs/scheduler_table.py``; ``build_scheduler`` imports diffusers
when called. A flow-matching model's config (its flow Euler scheduler's) makes the job's name its flow form
(``FLOW_SCHEDULERS``); a name with none is refused, naming those that work.
"""

from __future__ import annotations

import inspect
from typing import Any

from ddpm_studio.engine.errors import ModelError
from ddpm_studio.engine.jobs.scheduler_table import (
    FLOW_SCHEDULERS,
    FLOW_SHIFT_KEY,
    SCHEDULERS,
)


def is_flow_config(config: dict[str, Any]) -> bool:
    """Whether a model's scheduler config is a flow-matching one (SD 3.5's flow Euler scheduler)."""
    return str(config.get("_class_name", "")).startswith("FlowMatch")


def fixed_shift(config: dict[str, Any]) -> float | None:
    """A flow-matching config's shift of its σ schedule (SD 3.5's 3.0), None where it has none or where the shift
    follows the picture's size (Flux's dynamic shifting: the config's own ``shift`` is not the one used)."""
    if not is_flow_config(config) or config.get("use_dynamic_shifting") or FLOW_SHIFT_KEY not in config:
        return None
    return float(config[FLOW_SHIFT_KEY])


def build_scheduler(name: str, base_config: dict[str, Any]):
    """A fresh scheduler of kind ``name`` that keeps the model's training noise schedule from ``base_config``."""
    import diffusers

    if is_flow_config(base_config):
        return _flow_scheduler(name, base_config)
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


def _flow_scheduler(name: str, base_config: dict[str, Any]):
    """The flow form of ``name``: flow Euler on the model's own config, a solver on flow sigmas with its shift."""
    import diffusers

    spec = FLOW_SCHEDULERS.get(name)
    if spec is None:
        label = SCHEDULERS[name].label if name in SCHEDULERS else name
        works = ", ".join(f"{key} ({FLOW_SCHEDULERS[key].label})" for key in FLOW_SCHEDULERS)
        raise ModelError(f"This is a flow-matching model: the {label} scheduler has no flow form here; "
                         f"choose one of {works}.")
    config = {k: v for k, v in dict(base_config).items() if not k.startswith("_")}
    cls = getattr(diffusers, spec.class_name)
    if cls.__name__ == base_config.get("_class_name"):
        return cls.from_config({**config, **spec.overrides})
    solver = {"num_train_timesteps": config.get("num_train_timesteps", 1000),
              "flow_shift": float(config.get(FLOW_SHIFT_KEY, 1.0)), **spec.overrides,
              # Flux's schedule is shifted by the picture's size (its pipeline passes set_timesteps mu)
              "use_dynamic_shifting": bool(config.get("use_dynamic_shifting", False))}
    if config.get("shift_terminal") and "shift_terminal" in inspect.signature(cls.__init__).parameters:
        solver["shift_terminal"] = config["shift_terminal"]  # Qwen-Image's schedule ends at σ 0.02, not at its last
    return _sigmas_as_array(cls.from_config(solver))


def _sigmas_as_array(scheduler):
    """A solver on flow sigmas whose ``set_timesteps`` takes custom sigmas does numpy arithmetic on them (UniPC's):
    a pipeline that passes its own as a list (Z-Image's) gets them made an array first. The signature stays the
    solver's (pipelines read it to know whether it takes sigmas)."""
    import functools

    import numpy as np

    set_timesteps = scheduler.set_timesteps
    if "sigmas" not in inspect.signature(set_timesteps).parameters:
        return scheduler

    @functools.wraps(set_timesteps)
    def with_array(*args, sigmas=None, **kwargs):
        return set_timesteps(*args, sigmas=None if sigmas is None else np.asarray(sigmas, dtype=np.float64), **kwargs)

    scheduler.set_timesteps = with_array
    return scheduler
