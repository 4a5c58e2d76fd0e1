"""What the engine emits: a StepEvent per model call, a Result at the end."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


@dataclass(frozen=True)
class StepEvent:
    """One denoising step, or (``final``) the run's result after the last one.

    ``x_t`` and ``x0`` are uint8 arrays of shape (batch, height, width, 3) — the noisy sample the model saw
    and the model's prediction of the clean image — or None when this step was not previewed.
    ``noise_level`` is ᾱ_t for variance-preserving schedulers, σ_t for Karras-style ones, a flow model's σ_t
    (x_t = (1 − σ)·x0 + σ·ε, 0 … 1) for flow-matching ones (``noise_kind``: alpha_bar, sigma, flow).
    The final event (``index == total``, made by ``final_event``) holds the finished images as both x_t and x0: the
    last model call still sees a noisy x_t, so without it a run's step history would end one step short of x_0.
    """

    index: int  # 0-based model call
    total: int  # model calls in the run (Heun/DPM2/PNDM make more calls than requested steps)
    timestep: float
    elapsed: float  # seconds since sampling started
    x_t: np.ndarray | None = None
    x0: np.ndarray | None = None
    noise_level: float | None = None
    noise_kind: str = "alpha_bar"
    final: bool = False
    lane: int = 0  # which run of a comparison (a race's lane) this step belongs to; 0 for a single run
    attention: np.ndarray | None = None  # per-word attention maps (words × h × w uint8, latent size), when asked for
    attention_words: tuple[str, ...] = ()  # the words of ``attention``, in prompt order
    second_pass: bool = False  # a step of a hires fix's second pass (engine/upscale/hires_fix.py) …
    upscaling: bool = False  # … or of its diffusion upscaler, between the passes
    prompt_switch: str = ""  # the text this step switched to (prompt editing, prompts/editing.py); "" when none

    @property
    def done_fraction(self) -> float:
        return min(self.index + 1, self.total) / self.total


def final_event(last: StepEvent, images: np.ndarray) -> StepEvent:
    """The result x_0 (uint8, batch × H × W × 3, made small like every preview) as the event after ``last``."""
    from ddpm_studio.engine.preview import preview_uint8

    shown = preview_uint8(images)
    return StepEvent(index=last.total, total=last.total, timestep=0.0, elapsed=last.elapsed, x_t=shown, x0=shown,
                     final=True)


@dataclass
class SampleOutput:
    """What every sampling loop returns to the engine (pixel, latent, upscaler); ``Engine.run`` makes the Result."""

    images: np.ndarray | None  # uint8 NHWC, None when cancelled
    steps_run: int
    cancelled: bool
    addons: Any = None  # latent jobs: the LoRAs and embeddings the run used (adapters.UsedAddons)
    reference: np.ndarray | None = None  # upscaling: Lanczos 4×, (4H, 4W, 3) uint8, to compare with
    tiles: int = 1  # upscaling: how many tiles the picture was cut into
    note: str = ""  # what the run tells the user about the job (a negative prompt its family cannot use)
    prompts: Any = None  # a wildcard prompt's (prompt, negative prompt) per image, as resolved (wildcard_runs.py)


@dataclass
class Result:
    """The outcome of a job: images as uint8 arrays (batch, H, W, 3), the job, timings and saved files."""

    job: Any
    images: np.ndarray | None
    cancelled: bool = False
    seconds: float = 0.0
    steps_run: int = 0
    device: str = "cpu"
    dtype: str = "float32"
    model_name: str = ""
    saved_paths: list[str] = field(default_factory=list)
    reference: np.ndarray | None = None  # a classic result to compare with (upscaling: Lanczos 4×), uint8 (H, W, 3)
    tiles: int = 1  # upscaling: how many tiles the picture was cut into
    addons: Any = None  # latent jobs: the LoRAs and embeddings used (adapters.UsedAddons)
    note: str = ""  # about the model, for the user (an SD 2.x file's prediction type and how it was found)
    family_fields: dict = field(default_factory=dict)  # its family's own A1111 fields (output/family_metadata.py)
    prompts: Any = None  # a wildcard prompt's (prompt, negative prompt) per image, as resolved; None without


StepCallback = Callable[[StepEvent], None]
StopCheck = Callable[[], bool]
StageCallback = Callable[[str], None]  # a stage's name: "sampling", "decoding" (inside_step.STAGES)


def never_stop() -> bool:
    return False


def ignore_step(event: StepEvent) -> None:
    return None


def ignore_stage(stage: str) -> None:
    return None
