"""Text progress for the CLI's runs: one bar per run (steps, it/s, ETA), and a bar per run of a series (a grid's
cells, a walk's frames, a count's batches) under its label."""

from __future__ import annotations

import sys
import time


class ProgressBar:
    """A one-line text progress bar: steps, it/s, ETA."""

    def __init__(self, stream, width: int = 30) -> None:
        self.stream, self.width = stream, width
        self.started = time.perf_counter()
        self.drawn = False

    def update(self, event) -> None:
        if event.final:  # the result, after the last step: the bar is full already
            return
        done = event.index + 1
        filled = int(self.width * done / event.total)
        rate = done / max(event.elapsed, 1e-9)
        eta = (event.total - done) / rate if rate > 0 else 0.0
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (self.width - filled)}] {done}/{event.total} "
            f"t={event.timestep:.0f} {rate:.1f} it/s ETA {eta:.0f}s "
        )
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


class SeriesProgress:
    """A progress bar per run of a series (a grid's cells, a walk's frames), each under "LABEL n/total"."""

    def __init__(self, label: str, total: int, stream=None) -> None:
        self.label, self.total, self.stream = label, total, stream or sys.stderr  # sys.stderr as it is now
        self.bar: ProgressBar | None = None

    def __call__(self, event) -> None:
        if event.index == 0 and not event.final:
            self.close()
            print(f"{self.label} {event.lane + 1}/{self.total}", file=self.stream)
            self.bar = ProgressBar(self.stream)
        if self.bar is not None:
            self.bar.update(event)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
