"""The schedulers a job may name, by short name, and what each is: its diffusers class and settings, the label the UI
shows, and the A1111 sampler name and schedule type written into (and read back from) PNG metadata; the defaults.

Plain data, no torch: jobs check their scheduler against it, the metadata and the gallery read the A1111 names, and
``sampling/schedulers.py`` builds a scheduler from a row.
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
    # Trajectory Consistency Distillation (Zheng et al. 2024): diffusers' TCDScheduler, for TCD and Hyper-SD 1-step
    # LoRAs; its step's eta (0.3, diffusers' default) sets how much fresh noise each step adds
    "tcd": SchedulerSpec("TCDScheduler", "TCD", "TCD", note="For TCD and Hyper-SD LoRAs, at 1–8 steps"),
}

DEFAULT_SCHEDULER = "dpm++2m"
DEFAULT_STEPS = 25
# those that suit pixel-space DDPMs (LCM needs a distilled model), in the order the panels list them
PIXEL_SCHEDULERS = ("dpm++2m", "dpm++2m-karras", "unipc", "ddim", "euler", "euler-a", "heun", "dpm2", "pndm", "lms", "ddpm")
LATENT_SCHEDULERS = ("dpm++2m", "dpm++2m-karras", "euler-a", "euler", "ddim", "unipc", "lcm", "tcd")  # the SD panels' list

# A flow-matching model (SD 3.5) keeps the job's scheduler names, each made a flow solver: Euler on the model's own
# flow schedule (its shift kept), DPM++ 2M and UniPC on flow sigmas with the model's shift (``flow_shift``) and its
# velocity read as a flow prediction (diffusers' names). The others have no flow form here and are refused by name.
FLOW_SCHEDULERS: dict[str, SchedulerSpec] = {
    "euler": SchedulerSpec("FlowMatchEulerDiscreteScheduler", "Euler", "Euler"),
    "dpm++2m": SchedulerSpec(
        "DPMSolverMultistepScheduler",
        "DPM++ 2M",
        "DPM++ 2M",
        overrides={"algorithm_type": "dpmsolver++", "solver_order": 2, "use_flow_sigmas": True,
                   "prediction_type": "flow_prediction"},
    ),
    "unipc": SchedulerSpec("UniPCMultistepScheduler", "UniPC", "UniPC",
                           overrides={"use_flow_sigmas": True, "prediction_type": "flow_prediction"}),
    # diffusers' FlowMatchLCMScheduler: x̂0 from the velocity at each σ, then fresh noise to the next σ (a consistency
    # sampler on the flow); it takes set_timesteps(sigmas=…, mu=…) as flow Euler does, so every flow pipeline drives it
    "lcm": SchedulerSpec("FlowMatchLCMScheduler", "LCM", "LCM",
                         note="For few-step (consistency-distilled) flow models and LoRAs"),
}
FLOW_SHIFT_KEY = "shift"  # where a flow Euler config keeps its shift (flow_shift for the solvers)
