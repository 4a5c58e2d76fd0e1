"""How a run moved, step by step: the noise level, and how much x_t and the predicted clean image x̂0 changed since
the previous kept step.

Everything is computed from the previews a ``StepHistory`` keeps (uint8 arrays), after the fact, so it costs the
sampler nothing. A change is the RMS difference of two previews in [0, 1] units (0: identical, 1: black to white
everywhere), always against the previous *kept* step: in a thinned history that step may be several steps back, and
each row says which (``since``). ``TrajectoryCache`` serves a live plot: it computes a step's differences once, so a
new step costs only its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ddpm_studio.engine.events import StepEvent

NOISE_SYMBOLS = {"alpha_bar": "ᾱ_t", "sigma": "σ_t", "flow": "σ_t"}  # StepEvent.noise_kind: how the noise level is written


@dataclass(frozen=True)
class TrajectoryRow:
    index: int  # the step's real index in the run, 0-based; the result (``final``) is index == total
    timestep: float
    noise_level: float | None  # ᾱ_t or σ_t (``noise_kind``), as the event carried it
    x0_change: float | None  # RMS of x̂0 − the previous kept step's x̂0, in [0, 1]; None: nothing to compare
    xt_change: float | None  # the same for x_t
    since: int | None = None  # the index of the previous kept step the changes are against; None for the first
    noise_kind: str = "alpha_bar"
    final: bool = False
    second_pass: bool = False  # a step of a hires fix's second pass …
    upscaling: bool = False  # … or of its diffusion upscaler


def rms_change(current: np.ndarray | None, previous: np.ndarray | None) -> float | None:
    """√mean((a − b)²) of two uint8 previews, in [0, 1] units; None when either is missing or they differ in shape
    (a full decode beside a latent preview, or the result beside a latent run's last preview)."""
    if current is None or previous is None or current.shape != previous.shape:
        return None
    difference = current.astype(np.float32) - previous.astype(np.float32)
    return float(np.sqrt(np.mean(np.square(difference)))) / 255.0


def trajectory_row(event: StepEvent, previous: StepEvent | None) -> TrajectoryRow:
    """One step's row: its noise level, and its changes against ``previous`` (the step kept before it, or None)."""
    if previous is None:
        x0_change = xt_change = None
    else:
        x0_change, xt_change = rms_change(event.x0, previous.x0), rms_change(event.x_t, previous.x_t)
    return TrajectoryRow(index=event.index, timestep=event.timestep, noise_level=event.noise_level,
                         x0_change=x0_change, xt_change=xt_change,
                         since=previous.index if previous is not None else None,
                         noise_kind=event.noise_kind, final=event.final, second_pass=event.second_pass,
                         upscaling=event.upscaling)


def trajectory(events: Sequence[StepEvent]) -> list[TrajectoryRow]:
    """A row per event (a run's kept steps, in order), each step against the one kept before it."""
    return [trajectory_row(event, previous) for previous, event in zip([None, *events[:-1]], events)]


class TrajectoryCache:
    """``trajectory(events)`` for a list that grows (a live run) and thins (the history's budget), computing each
    (previous, step) pair once: a new step costs its own two differences; a thinning recomputes only the steps
    whose previous kept step changed. Keyed by step indices, so ``clear()`` it when a new run starts."""

    def __init__(self) -> None:
        self._rows: dict[tuple[int | None, int], TrajectoryRow] = {}

    def clear(self) -> None:
        self._rows = {}

    def rows(self, events: Sequence[StepEvent]) -> list[TrajectoryRow]:
        rows, kept = [], {}
        previous = None
        for event in events:
            key = (previous.index if previous is not None else None, event.index)
            row = self._rows.get(key)
            if row is None:
                row = trajectory_row(event, previous)
            kept[key] = row
            rows.append(row)
            previous = event
        self._rows = kept  # pairs no longer in the list (thinned away) are forgotten
        return rows
