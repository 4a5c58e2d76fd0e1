"""The schedulers the app offers, by short name, and how to build each from a model's scheduler config.

The table is plain data (cheap to import); ``build_scheduler`` imports diffusers when called.
A1111 names and schedule types are what other tools read from our PNG metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SchedulerSpec:
    class_name: str  # diffusers class
    label: str  # shown in the UI: a name short enough for a narrow list
    a1111_sampler: str  # "Sampler:" in the A1111 parameters line
    a1111_schedule: str = ""  # "Schedule type:" (Karras etc.), empty when the sampler's default
    overrides: dict[str, Any] = field(default_factory=dict)
    needs: str = ""  # an extra Python module the scheduler needs at run time
    note: str = ""  # what to know before choosing it (the UI's tooltip)


SCHEDULERS: dict[str, SchedulerSpec] = {
    "ddpm": SchedulerSpec("DDPMScheduler", "DDPM", "DDPM", note="The paper's ancestral sampler: it needs many steps"),
    "ddim": SchedulerSpec("DDIMScheduler", "DDIM", "DDIM"),
    "dpm++2m": SchedulerSpec(
        "DPMSolverMultistepScheduler",
        "DPM++ 2M",
        "DPM++ 2M",
        overrides={"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": False},
    ),
    "dpm++2m-karras": SchedulerSpec(
        "DPMSolverMultistepScheduler",
        "DPM++ 2M Karras",
        "DPM++ 2M",
        "Karras",
        overrides={"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": True},
    ),
    "unipc": SchedulerSpec("UniPCMultistepScheduler", "UniPC", "UniPC"),
    "euler": SchedulerSpec("EulerDiscreteScheduler", "Euler", "Euler"),
    "euler-a": SchedulerSpec("EulerAncestralDiscreteScheduler", "Euler a", "Euler a"),
    "heun": SchedulerSpec("HeunDiscreteScheduler", "Heun", "Heun", note="2 model calls per step"),
    "dpm2": SchedulerSpec("KDPM2DiscreteScheduler", "DPM2", "DPM2", note="2 model calls per step"),
    "pndm": SchedulerSpec("PNDMScheduler", "PNDM / PLMS", "PLMS", overrides={"skip_prk_steps": True}),
    "lms": SchedulerSpec("LMSDiscreteScheduler", "LMS", "LMS", needs="scipy"),
    "lcm": SchedulerSpec("LCMScheduler", "LCM", "LCM", note="For LCM-distilled models only, at 4–8 steps"),
}

DEFAULT_SCHEDULER = "dpm++2m"
DEFAULT_STEPS = 25
# those that suit pixel-space DDPMs (LCM needs a distilled model), in the order the panels list them
PIXEL_SCHEDULERS = ("dpm++2m", "dpm++2m-karras", "unipc", "ddim", "euler", "euler-a", "heun", "dpm2", "pndm", "lms", "ddpm")
LATENT_SCHEDULERS = ("dpm++2m", "dpm++2m-karras", "euler-a", "euler", "ddim", "unipc", "lcm")  # the SD panels' list


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
