"""A seed walk: an animation along the slerp between two or more seeds (``variation.py``), one ordinary run per
frame, each frame saved as a normal PNG with its own metadata (seed, variation seed and strength), then the frames
as a GIF and a WebP. Frame k of N lies at k/(N−1) of the way through the seeds, so the first frame is the first
seed's picture, the last the last seed's and every seed in between is a frame of its own when N allows. No Qt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ddpm_studio.engine.events import StopCheck, never_stop
from ddpm_studio.engine.jobs.checks import MAX_SEED, JobError
from ddpm_studio.engine.jobs.types import Job
from ddpm_studio.engine.series.runner import run_series

MAX_FRAMES = 1000
ANCESTRAL_NOTE = ("{scheduler} draws new noise at every step from each segment's first seed, so the walk jumps where "
                  "a segment ends; a deterministic scheduler (ddim, dpm++2m, euler) walks smoothly")


def parse_seeds(text: str) -> list[int]:
    """``3,9,12`` → [3, 9, 12]: two or more seeds, each valid."""
    try:
        seeds = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise JobError(f"A seed walk needs seeds separated by commas, e.g. 3,9,12; got '{text}'.") from None
    if len(seeds) < 2:
        raise JobError(f"A seed walk goes between two or more seeds (e.g. 3,9,12); got '{text}'.")
    for seed in seeds:
        if not 0 <= seed <= MAX_SEED:
            raise JobError(f"Seed {seed} of the walk is out of range: 0 … {MAX_SEED}.")
    for a, b in zip(seeds, seeds[1:]):
        if a == b:
            raise JobError(f"The walk goes from seed {a} to seed {b}: nowhere. Give different seeds one after another.")
    return seeds


def walk_points(seeds: list[int], frames: int) -> list[tuple[int, int, float]]:
    """(seed, variation seed, strength) per frame; a frame that lands on a seed is that seed's own run."""
    if len(seeds) < 2:
        raise JobError("A seed walk goes between two or more seeds.")
    if not len(seeds) <= frames <= MAX_FRAMES:
        raise JobError(f"A walk through {len(seeds)} seeds needs {len(seeds)} … {MAX_FRAMES} frames; got {frames}.")
    points = []
    for k in range(frames):
        position = k * (len(seeds) - 1) / (frames - 1)
        segment = min(int(position), len(seeds) - 2)
        strength = position - segment
        if strength >= 1.0 - 1e-9:
            points.append((seeds[segment + 1], 0, 0.0))
        elif strength <= 1e-9:
            points.append((seeds[segment], 0, 0.0))
        else:
            points.append((seeds[segment], seeds[segment + 1], round(strength, 6)))
    return points


def walk_jobs(base: Job, seeds: list[int], frames: int, output_dir: str = "") -> list[Job]:
    """One job per frame: ``base`` with batch 1 and the frame's seed, variation seed and strength."""
    return [base.replace(seed=seed, variation_seed=other, variation_strength=strength, batch_size=1,
                         output_dir=output_dir or base.output_dir)
            for seed, other, strength in walk_points(seeds, frames)]


def is_ancestral(scheduler: str) -> bool:
    """Whether the scheduler adds fresh noise at every step (drawn from the seed's generator)."""
    return scheduler in ("ddpm", "euler-a", "lcm")


@dataclass
class WalkResult:
    images: list[np.ndarray] = field(default_factory=list)
    saved_paths: list[str] = field(default_factory=list)
    cancelled: bool = False


def run_walk(engine, base: Job, seeds: list[int], frames: int, out: str | Path, on_step=None,
             should_stop: StopCheck = never_stop) -> WalkResult:
    """Run every frame, saved into ``out/frames`` (``save_walk`` then makes the animations). On cancel (within one
    step) the frames written so far are removed again."""
    jobs = walk_jobs(base, seeds, frames, str(Path(out).expanduser() / "frames"))
    results = run_series(engine, jobs, on_step, should_stop)
    if results is None:
        return WalkResult(cancelled=True)
    return WalkResult(images=[r.images[0] for r in results], saved_paths=[p for r in results for p in r.saved_paths])


def save_walk(out: str | Path, images: list[np.ndarray], fps: float = 12.0) -> dict[str, Path]:
    """The frames as ``seed-walk.gif`` and ``seed-walk.webp`` (looping, the last frame not held: a walk is a loop
    only if it ends where it began)."""
    from ddpm_studio.engine.output.step_export import save_gif, save_webp

    folder = Path(out).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    frames = [np.ascontiguousarray(image) for image in images]
    hold = int(1000 / fps)
    return {"gif": save_gif(folder / "seed-walk.gif", frames, fps, hold_last_ms=hold),
            "webp": save_webp(folder / "seed-walk.webp", frames, fps, hold_last_ms=hold)}
