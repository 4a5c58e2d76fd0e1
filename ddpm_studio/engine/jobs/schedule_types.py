"""Schedule types: the σ spacing a sampler walks, chosen beside it as A1111 1.9+ ("Schedule type") and ComfyUI (the
KSampler's ``scheduler``) offer, and what each is in diffusers' scheduler configs.

diffusers' scheduler overview ("Noise schedules and schedule types", docs/source/en/api/schedulers/overview.md) gives
the equivalents: Karras is ``use_karras_sigmas=True``; SGM uniform and Simple are ``timestep_spacing="trailing"``;
exponential and beta are ``timestep_spacing="linspace"`` with ``use_exponential_sigmas`` / ``use_beta_sigmas``.
A1111's Uniform is k-diffusion's evenly spaced timesteps, diffusers' ``linspace`` spacing. Which scheduler takes which
(``CLASS_SCHEDULES``) follows each class's constructor in diffusers 0.42 (tests/test_schedule_types.py checks it):
LCM and TCD keep ``timestep_spacing`` in their config but never read it, so they take none.

A combined name, as the app wrote before the Schedule type row (``dpm++2m-karras``) and as a command line may give
(``euler-karras``), is a scheduler and a schedule type (``split_name``). Plain data, no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ddpm_studio.engine.jobs.scheduler_table import FLOW_SCHEDULERS, SCHEDULERS


@dataclass(frozen=True)
class ScheduleType:
    label: str  # the UI's, and A1111's "Schedule type:" (sd_schedulers.py's labels)
    overrides: dict[str, Any] = field(default_factory=dict)  # what it sets in the scheduler's config
    note: str = ""


AUTOMATIC = ""
SCHEDULE_TYPES: dict[str, ScheduleType] = {  # keys: ComfyUI's scheduler names (A1111 uses them as its aliases)
    AUTOMATIC: ScheduleType("Automatic", note="The model's own spacing (its scheduler config's)"),
    "uniform": ScheduleType("Uniform", {"timestep_spacing": "linspace"}, "Steps evenly spaced from first to last"),
    "karras": ScheduleType("Karras", {"use_karras_sigmas": True},
                           "Karras et al.'s σ spacing: more small steps at the end"),
    "exponential": ScheduleType("Exponential", {"timestep_spacing": "linspace", "use_exponential_sigmas": True},
                                "σ evenly spaced in log σ"),
    "sgm_uniform": ScheduleType("SGM Uniform", {"timestep_spacing": "trailing"},
                                "Starts at the last training step (trailing): what Turbo and Lightning models want"),
    "simple": ScheduleType("Simple", {"timestep_spacing": "trailing"}, "ComfyUI's simple: trailing timesteps"),
    "beta": ScheduleType("Beta", {"timestep_spacing": "linspace", "use_beta_sigmas": True},
                         "σ spaced by a beta distribution: more steps at both ends"),
}

_SPACING = ("uniform", "sgm_uniform", "simple")
_SIGMAS = ("karras", "exponential", "beta")
CLASS_SCHEDULES: dict[str, tuple[str, ...]] = {  # diffusers class → the schedule types it takes
    "DDPMScheduler": _SPACING,
    "DDIMScheduler": _SPACING,
    "PNDMScheduler": _SPACING,
    "EulerAncestralDiscreteScheduler": _SPACING,
    "DPMSolverMultistepScheduler": _SPACING + _SIGMAS,
    "UniPCMultistepScheduler": _SPACING + _SIGMAS,
    "EulerDiscreteScheduler": _SPACING + _SIGMAS,
    "HeunDiscreteScheduler": _SPACING + _SIGMAS,
    "KDPM2DiscreteScheduler": _SPACING + _SIGMAS,
    "LMSDiscreteScheduler": _SPACING + _SIGMAS,
    "LCMScheduler": (),
    "TCDScheduler": (),
    # flow matching: σ in [0, 1], no timestep spacing; the σ conversions apply to the (shifted) flow σ
    "FlowMatchEulerDiscreteScheduler": _SIGMAS,
    "FlowMatchLCMScheduler": _SIGMAS,
}
# the solvers on flow sigmas (use_flow_sigmas) put Karras etc. before their flow σ in set_timesteps: none there
FLOW_SOLVER_SCHEDULES: tuple[str, ...] = ()

# the names the app wrote before the Schedule type row: still read (old PNGs' jobs, settings, command lines)
COMBINED: dict[str, tuple[str, str]] = {"dpm++2m-karras": ("dpm++2m", "karras")}


def without_combined(names) -> tuple[str, ...]:
    """A panel's scheduler list without the combined names (its Schedule type row gives them)."""
    return tuple(name for name in names if name not in COMBINED)


def schedules_of(name: str, flow: bool = False) -> tuple[str, ...]:
    """The schedule types (keys, Automatic first) that the scheduler ``name`` takes (its flow form's with ``flow``)."""
    name, _ = split_name(name)
    spec = (FLOW_SCHEDULERS if flow else SCHEDULERS).get(name)
    if spec is None:
        return (AUTOMATIC,)
    takes = CLASS_SCHEDULES.get(spec.class_name, ())
    if flow and spec.overrides.get("use_flow_sigmas"):
        takes = FLOW_SOLVER_SCHEDULES
    return (AUTOMATIC,) + tuple(key for key in SCHEDULE_TYPES if key in takes)


def split_name(name: str, schedule: str = AUTOMATIC) -> tuple[str, str]:
    """(scheduler, schedule type) of a name that may be a combined one (``dpm++2m-karras``, ``euler-sgm_uniform``);
    a schedule given beside it wins over the combined name's only when the name has none of its own. Unknown names come
    back as given (the job's check names them)."""
    if name in COMBINED:
        base, kind = COMBINED[name]
        return base, schedule or kind
    if name in SCHEDULERS or name in FLOW_SCHEDULERS:
        return name, schedule
    head, dash, tail = name.rpartition("-")
    if dash and tail in SCHEDULE_TYPES and tail and (head in SCHEDULERS or head in FLOW_SCHEDULERS):
        return head, schedule or tail
    return name, schedule


def scheduler_fields(value: str, schedule: str) -> dict:
    """A job's ``scheduler`` and ``schedule`` for a grid cell's or race lane's scheduler ``value``: a combined name's
    own type; else the job's ``schedule`` where the scheduler takes it, else automatic."""
    base, own = split_name(value)
    if own or value in COMBINED:
        return {"scheduler": base, "schedule": own}
    takes = schedule in schedules_of(base) or schedule in schedules_of(base, flow=True)
    return {"scheduler": base, "schedule": schedule if takes else AUTOMATIC}


def schedule_problem(name: str, schedule: str) -> str:
    """Why a job cannot run ``name`` with ``schedule``, in words; empty when it can (on some model: a flow model's
    own check is at build time)."""
    if schedule not in SCHEDULE_TYPES:
        return f"Unknown schedule type '{schedule}'. Choose one of: {', '.join(k for k in SCHEDULE_TYPES if k)}."
    base, schedule = split_name(name, schedule)
    if schedule and schedule not in schedules_of(base) and schedule not in schedules_of(base, flow=True):
        label = SCHEDULERS[base].label if base in SCHEDULERS else base
        takes = [SCHEDULE_TYPES[k].label for k in schedules_of(base) if k]
        return (f"The {label} scheduler takes no {SCHEDULE_TYPES[schedule].label} schedule"
                + (f"; it takes {', '.join(takes)}." if takes else "; leave the schedule type on Automatic."))
    return ""


def a1111_names(name: str, schedule: str) -> tuple[str, str]:
    """A1111's "Sampler:" and "Schedule type:" (empty when automatic) for a job's scheduler and schedule type."""
    base, schedule = split_name(name, schedule)
    spec = SCHEDULERS.get(base) or FLOW_SCHEDULERS[base]
    return spec.a1111_sampler, SCHEDULE_TYPES[schedule].label if schedule else spec.a1111_schedule


def from_a1111(sampler: str, schedule_label: str = "") -> tuple[str, str] | None:
    """(scheduler, schedule type) of A1111's "Sampler:" and "Schedule type:" (A1111 before 1.9 wrote "DPM++ 2M Karras"
    as one sampler name); None for a sampler the app does not have."""
    if sampler.endswith(" Karras") and not schedule_label:
        sampler, schedule_label = sampler.removesuffix(" Karras"), "Karras"
    base = next((key for key, spec in SCHEDULERS.items() if spec.a1111_sampler == sampler and key not in COMBINED),
                None)
    if base is None:
        return None
    label = schedule_label.strip().lower()
    schedule = next((key for key, kind in SCHEDULE_TYPES.items()
                     if key and label in (kind.label.lower(), key)), AUTOMATIC)
    return base, schedule if schedule in schedules_of(base) else AUTOMATIC


def combined_name(name: str, schedule: str) -> str:
    """One name for both (the gallery's sampler column, a race lane): ``dpm++2m-karras``, ``euler-sgm_uniform``."""
    base, schedule = split_name(name, schedule)
    if not schedule:
        return base
    old = next((key for key, pair in COMBINED.items() if pair == (base, schedule)), None)
    return old or f"{base}-{schedule}"
