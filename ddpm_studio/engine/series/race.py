"""A scheduler race: one x_T, several lanes that differ in one parameter (``jobs.RaceJob``), run one after another
through ``Engine.run`` — the same loop as any run, so each lane's image is bit for bit the image of a separate run
with its settings and seed. Every step event is passed on with its lane; each lane keeps its steps (within a memory
budget, as the scrubber's history does) and, per step, how far its predicted x̂0 still is from the lane's final
image: the moment the picture is decided is where that distance falls to nothing. No Qt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from PIL import Image

from ddpm_studio.engine.events import Result, StepEvent, StopCheck, never_stop
from ddpm_studio.engine.history import DEFAULT_BUDGET_BYTES, StepHistory
from ddpm_studio.engine.jobs.race import RaceJob
from ddpm_studio.engine.series.runner import run_series

LaneStep = Callable[[StepEvent], None]  # gets every step event of every lane (``event.lane`` says which)


@dataclass
class Lane:
    label: str
    job: object
    result: Result
    steps: list[StepEvent] = field(default_factory=list)  # kept steps and, last, the result (``final``)

    @property
    def final_preview(self) -> np.ndarray | None:
        """The lane's result as its last (``final``) event holds it, made small like the previews; None if missing."""
        return self.steps[-1].x0 if self.steps and self.steps[-1].final else None

    def rows(self) -> list[dict]:
        """Per kept step: step, timestep, noise level and the distance of x̂0 to the final image (RMS, 0–1)."""
        rows = []
        for event in self.steps:
            if event.final:
                continue
            rows.append({"lane": self.label, "step": event.index + 1, "steps": event.total,
                         "timestep": round(event.timestep, 3),
                         "noise_level": None if event.noise_level is None else round(float(event.noise_level), 6),
                         "distance_to_final": distance(event.x0, self.final_preview)})
        return rows


@dataclass
class RaceResult:
    race: RaceJob
    lanes: list[Lane]
    cancelled: bool = False


def distance(x0: np.ndarray | None, final: np.ndarray | None) -> float | None:
    """Root-mean-square difference in [0, 1] between a step's x̂0 preview and the final image (its first picture),
    the final one resized to the preview's size (a latent model's previews are smaller than its images)."""
    if x0 is None or final is None:
        return None
    target = final[0]
    if target.shape != x0[0].shape:
        target = np.asarray(Image.fromarray(target).resize((x0.shape[2], x0.shape[1]), Image.Resampling.BILINEAR))
    diff = x0[0].astype(np.float32) / 255.0 - target.astype(np.float32) / 255.0
    return round(float(np.sqrt(np.mean(diff * diff))), 6)


def run_race(engine, race: RaceJob, on_step: LaneStep | None = None, should_stop: StopCheck = never_stop,
             budget_bytes: int = DEFAULT_BUDGET_BYTES) -> RaceResult:
    """Run every lane in turn (``series.runner.run_series``, as a grid's cells), each lane's steps kept in a history
    of its own; stops within one step of ``should_stop`` (then ``cancelled``, nothing kept)."""
    per_lane = max(1, budget_bytes // len(race.values))
    jobs = race.lanes()
    histories = [StepHistory(per_lane) for _ in jobs]

    def lane_step(event: StepEvent) -> None:
        histories[event.lane].add(event)
        if on_step is not None:
            on_step(event)

    results = run_series(engine, [job.replace(preview_every=max(job.preview_every, 1)) for job in jobs], lane_step,
                         should_stop, save=False)
    if results is None:
        return RaceResult(race=race, lanes=[], cancelled=True)
    return RaceResult(race=race, lanes=[Lane(label=race.label(value), job=job, result=result, steps=history.frames())
                                        for value, job, result, history in zip(race.values, jobs, results, histories)])
