"""Ordinary jobs run one after another as one series (a grid's cells, a seed walk's frames, a race's lanes, the
batches of ``--count``): each step event tagged with its run's number (``lane``), each run saved as a normal image;
cancelled within one step, the series keeps nothing — the files its runs saved are removed again. The caller gives
the jobs, and hears when each run starts and ends. No Qt."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from pathlib import Path

from ddpm_studio.engine.events import Result, StepEvent, StopCheck, never_stop


def run_series(engine, jobs: Iterable, on_step=None, should_stop: StopCheck = never_stop, save: bool = True,
               on_start: Callable[[int, object], None] | None = None,
               on_result: Callable[[int, Result], None] | None = None) -> list[Result] | None:
    """The runs' results in order, or None when cancelled (with their files gone). ``save`` False: nothing is written
    (a race keeps its lanes in memory until it is exported). ``on_start(number, job)`` comes before each run,
    ``on_result(number, result)`` as soon as a run has finished (its files saved), before the next one starts.
    ``jobs`` may be a generator: each job is then made just before its run."""
    results: list[Result] = []
    for number, job in enumerate(jobs):
        def step(event: StepEvent, number: int = number) -> None:
            if on_step is not None:
                on_step(dataclasses.replace(event, lane=number))

        if on_start is not None:
            on_start(number, job)
        result = engine.run(job, on_step=step, should_stop=should_stop, save=save)
        if result.cancelled:
            discard([path for done in results for path in done.saved_paths])
            return None
        results.append(result)
        if on_result is not None:
            on_result(number, result)
    return results


def discard(paths: list[str]) -> None:
    """The files a series that did not finish had saved."""
    for path in paths:
        Path(path).unlink(missing_ok=True)
