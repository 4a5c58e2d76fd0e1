"""Ordinary jobs run one after another as one series (a grid's cells, a seed walk's frames): each step event tagged
with its run's number (``lane``), each run saved as a normal image; cancelled within one step, the series keeps
nothing — the files its runs saved are removed again. No Qt."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ddpm_studio.engine.events import Result, StepEvent, StopCheck, never_stop


def run_series(engine, jobs: list, on_step=None, should_stop: StopCheck = never_stop,
               save: bool = True) -> list[Result] | None:
    """The runs' results in order, or None when cancelled (with their files gone). ``save`` False: nothing is written
    (a race keeps its lanes in memory until it is exported)."""
    results: list[Result] = []
    for number, job in enumerate(jobs):
        def step(event: StepEvent, number: int = number) -> None:
            if on_step is not None:
                on_step(dataclasses.replace(event, lane=number))

        result = engine.run(job, on_step=step, should_stop=should_stop, save=save)
        if result.cancelled:
            discard([path for done in results for path in done.saved_paths])
            return None
        results.append(result)
    return results


def discard(paths: list[str]) -> None:
    """The files a series that did not finish had saved."""
    for path in paths:
        Path(path).unlink(missing_ok=True)
