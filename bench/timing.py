"""Side-by-side timing for the benchmarks: interleaved rounds, ratios paired within each round."""

from __future__ import annotations

import statistics
import time
from typing import Callable


def interleaved(runs: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Seconds of each run per round; the order rotates every round so that no run always goes first."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            start = time.perf_counter()
            runs[name]()
            times[name].append(time.perf_counter() - start)
    return times


def paired_ratio(times: dict[str, list[float]], over: str, under: str) -> float:
    """Median over rounds of over/under (the machine's speed drifts between rounds, less within one)."""
    return statistics.median(a / b for a, b in zip(times[over], times[under]))
