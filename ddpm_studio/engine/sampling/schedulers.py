"""Building a job's scheduler from a model's scheduler config.

Which schedulers there are (the table, plain data) is ``jobs/scheduler_table.py``; ``build_scheduler`` imports diffusers
when called. A flow-matching model's config (its flow Euler scheduler's) makes the job's name its flow form
(``FLOW_SCHEDULERS``); a name with none is refused, naming those that work.
"""

from __future__ import annotations

import inspect
from typing import Any

from ddpm_studio.engine.errors import ModelError
from ddpm_studio.engine.jobs.schedule_types import SCHEDULE_TYPES, schedules_of, split_name
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


def build_scheduler(name: str, base_config: dict[str, Any], schedule: str = ""):
    """A fresh scheduler of kind ``name`` that keeps the model's training noise schedule from ``base_config``, its
    σ spaced as the schedule type ``schedule`` says (jobs/schedule_types.py; "" the model's own). ``name`` may be a
    combined one (``dpm++2m-karras``)."""
    import diffusers

    name, schedule = split_name(name, schedule)
    if is_flow_config(base_config):
        return _with_schedule(_flow_scheduler(name, base_config), name, schedule, flow=True)
    spec = SCHEDULERS[name]
    if spec.needs:
        try:
            __import__(spec.needs)
        except ImportError as exc:  # pragma: no cover - scipy is a dependency
            raise RuntimeError(f"The {spec.label} scheduler needs the Python package '{spec.needs}'.") from exc
    cls = getattr(diffusers, spec.class_name)
    config = {k: v for k, v in dict(base_config).items() if not k.startswith("_")}
    config.update(spec.overrides)
    return _with_schedule(cls.from_config(config), name, schedule)


def _with_schedule(scheduler, name: str, schedule: str, flow: bool = False):
    """``scheduler`` made again with the schedule type's settings (its own config otherwise kept); a type the
    scheduler does not take is refused, naming those it does."""
    if not schedule:
        return scheduler
    if schedule not in schedules_of(name, flow):
        label = (FLOW_SCHEDULERS if flow else SCHEDULERS)[name].label
        takes = [SCHEDULE_TYPES[key].label for key in schedules_of(name, flow) if key]
        raise ModelError(f"The {label} scheduler{' of a flow-matching model' if flow else ''} takes no "
                         f"{SCHEDULE_TYPES[schedule].label} schedule; "
                         + (f"choose one of {', '.join(takes)}, or Automatic." if takes else "leave it on Automatic."))
    takes = inspect.signature(type(scheduler).__init__).parameters
    overrides = {k: v for k, v in SCHEDULE_TYPES[schedule].overrides.items() if k in takes}
    # without the "_" keys: diffusers drops from a config the keys its _use_default_values lists, overrides and all
    own = {k: v for k, v in dict(scheduler.config).items() if not k.startswith("_")}
    return type(scheduler).from_config({**own, **overrides})


TCD_ETA = 0.3  # TCD's γ: its step's default and the TCD LoRA model card's (h1t/TCD-SDXL-LoRA: eta=0.3)


def step_arguments(scheduler, pipe) -> dict:
    """Pipeline arguments a scheduler needs: TCD's eta (the SD pipelines pass theirs, 0 by default, to its step)."""
    if type(scheduler).__name__ == "TCDScheduler" and "eta" in inspect.signature(pipe.__call__).parameters:
        return {"eta": TCD_ETA}
    return {}


def seeded_steps(scheduler, generators):
    """A stochastic step (flow LCM's fresh noise) drawn from the run's generators where its pipeline passes none (the
    flow pipelines call ``step`` without one): the same seed gives the same picture. The signature stays the step's."""
    import functools

    step = scheduler.step
    if "generator" not in inspect.signature(step).parameters or not generators:
        return scheduler

    @functools.wraps(step)
    def with_generator(*args, **kwargs):
        if kwargs.get("generator") is None:
            kwargs["generator"] = generators if len(generators) > 1 else generators[0]
        return step(*args, **kwargs)

    scheduler.step = with_generator
    return scheduler


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
    if spec.class_name.startswith("FlowMatch"):  # another flow scheduler on the model's config: what it takes of it
        takes = inspect.signature(cls.__init__).parameters
        return cls.from_config({**{k: v for k, v in config.items() if k in takes}, **spec.overrides})
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
