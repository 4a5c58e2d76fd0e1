"""StepHistory keeps every step within its memory budget, evenly thinned when it must."""

from __future__ import annotations

import numpy as np

from ddpm_studio.engine.events import StepEvent
from ddpm_studio.engine.history import StepHistory


def _event(i: int, total: int, side: int = 32) -> StepEvent:
    frame = np.full((1, side, side, 3), i % 256, np.uint8)
    return StepEvent(index=i, total=total, timestep=float(total - i), elapsed=0.0, x_t=frame, x0=frame)


def test_keeps_every_step_under_budget():
    history = StepHistory()
    for i in range(50):
        history.add(_event(i, 50))
    assert [f.index for f in history.frames()] == list(range(50)) and not history.thinned


def test_budget_holds_on_a_1000_step_run():
    per_frame = _event(0, 1).x_t.nbytes * 2
    history = StepHistory(budget_bytes=100 * per_frame)
    for i in range(1000):
        history.add(_event(i, 1000))
        assert history.nbytes <= 100 * per_frame
    kept = [f.index for f in history.frames()]
    assert history.thinned and kept[-1] == 999 and 50 <= len(kept) <= 101
    gaps = {b - a for a, b in zip(kept[:-2], kept[1:-1])}
    assert len(gaps) == 1  # evenly spaced (plus the last step)


def test_steps_without_previews_are_not_stored():
    history = StepHistory()
    history.add(StepEvent(index=0, total=1, timestep=1.0, elapsed=0.0))
    assert len(history) == 0
