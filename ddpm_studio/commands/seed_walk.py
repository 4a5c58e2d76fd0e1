"""``generate|txt2img --seed-walk 3,9,12 --frames 24 --out DIR``: one run per frame along the slerp through the
seeds (``engine/series/seed_walk.py``), the frames as normal PNGs in DIR/frames, and DIR/seed-walk.gif and .webp."""

from __future__ import annotations

import sys
from pathlib import Path


def run_seed_walk(args, job, engine) -> int:
    from ddpm_studio.commands.progress import SeriesProgress
    from ddpm_studio.engine.series.seed_walk import (
        ANCESTRAL_NOTE,
        is_ancestral,
        parse_seeds,
        run_walk,
        save_walk,
        walk_jobs,
    )

    if not args.out:
        raise ValueError("--seed-walk needs --out DIR: the folder for its frames and animations.")
    if job.variation_strength:
        raise ValueError("--seed-walk makes its own variations; leave out --variation-seed and --variation-strength.")
    seeds = parse_seeds(args.seed_walk)
    total = len(walk_jobs(job, seeds, args.frames))  # the frames checked before anything runs
    if is_ancestral(job.scheduler):
        print(f"note: {ANCESTRAL_NOTE.format(scheduler=job.scheduler)}", file=sys.stderr)
    progress = SeriesProgress("frame", total)
    walk = run_walk(engine, job, seeds, args.frames, args.out, progress)
    progress.close()
    written = save_walk(args.out, walk.images, args.fps)
    for path in [*walk.saved_paths, written["gif"], written["webp"]]:
        print(path)
    print(f"{total} frames through seeds {', '.join(map(str, seeds))} written to {Path(args.out)}: frames/, "
          f"{written['gif'].name}, {written['webp'].name}", file=sys.stderr)
    return 0
