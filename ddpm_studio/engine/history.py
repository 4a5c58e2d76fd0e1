"""Every previewed step of a run, kept within a memory budget so the user can scrub back afterwards.

When a run would exceed the budget, every other stored step is dropped (the last one always stays) and
the stride doubles, so what is kept stays evenly spaced. Appended from the worker thread, read from the GUI.
"""

from __future__ import annotations

import threading

from ddpm_studio.engine.events import StepEvent

DEFAULT_BUDGET_BYTES = 256 * 1024 * 1024


def event_bytes(event: StepEvent) -> int:
    return sum(a.nbytes for a in (event.x_t, event.x0, event.attention) if a is not None)


class StepHistory:
    def __init__(self, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        self.budget_bytes = budget_bytes
        self._frames: list[StepEvent] = []
        self._bytes = 0
        self._stride = 1
        self._lock = threading.Lock()

    def add(self, event: StepEvent) -> None:
        if event.x_t is None and event.x0 is None and event.attention is None:
            return
        with self._lock:
            # the previous last frame only stays if it falls on the stride
            if self._frames and self._frames[-1].index % self._stride != 0:
                self._bytes -= event_bytes(self._frames.pop())
            self._frames.append(event)
            self._bytes += event_bytes(event)
            while self._bytes > self.budget_bytes and len(self._frames) > 2:
                self._stride *= 2
                kept = [f for f in self._frames[:-1] if f.index % self._stride == 0] + [self._frames[-1]]
                self._frames = kept
                self._bytes = sum(event_bytes(f) for f in kept)

    @property
    def thinned(self) -> bool:
        """True when steps were dropped to stay within the budget."""
        return self._stride > 1

    @property
    def nbytes(self) -> int:
        return self._bytes

    def frames(self) -> list[StepEvent]:
        with self._lock:
            return list(self._frames)

    def __len__(self) -> int:
        with self._lock:
            return len(self._frames)

    def __getitem__(self, i: int) -> StepEvent:
        with self._lock:
            return self._frames[i]
