"""``generate|txt2img … --count N``: N images, seeds seed … seed + N − 1, made in batches of ``--batch`` that run as
one series (``engine/series/runner.py``), each batch's paths printed as soon as it is saved. Under
``accelerate launch --num_processes K`` the seeds are split between the processes (accelerate's
``split_between_processes``: each takes one contiguous share), each process writes its own files (the names are
claimed atomically, so two processes never take the same one) and the gallery index takes them all — every seed
exactly once. On a machine without a GPU, ``accelerate launch --multi_gpu --num_processes K`` is what starts K
processes (with ``--cpu`` accelerate starts one); they then split the seeds over gloo."""

from __future__ import annotations

import sys

from ddpm_studio.distributed import process_state, several_processes


def batches(seeds: list[int], batch: int) -> list[tuple[int, int]]:
    """(first seed, images) per run; a share of seeds is contiguous, so a batch is seed … seed + images − 1."""
    return [(seeds[i], min(batch, len(seeds) - i)) for i in range(0, len(seeds), batch)]


def run_count(args, job, engine) -> int:
    from ddpm_studio.commands.progress import ProgressBar
    from ddpm_studio.engine.series.runner import run_series

    if args.count < 1:
        raise ValueError(f"--count must be at least 1; got {args.count}.")
    if getattr(args, "seed_walk", None):
        raise ValueError("--count and --seed-walk make different things; use one of them.")
    seeds = list(range(job.seed, job.seed + args.count))
    label = ""
    if several_processes():
        if args.seed is None:
            raise ValueError("--count across processes needs --seed, so that every process splits the same seeds.")
        state = process_state()
        with state.split_between_processes(seeds) as share:
            seeds = list(share)
        label = f"process {state.process_index + 1}/{state.num_processes}: "
    saved: list[str] = []
    bar: ProgressBar | None = None

    def started(number: int, batch) -> None:  # a bar per batch
        nonlocal bar
        bar = ProgressBar(sys.stderr)

    def finished(number: int, result) -> None:  # each batch's files are printed as soon as they are saved
        bar.close()
        saved.extend(result.saved_paths)
        for path in result.saved_paths:
            print(path, flush=True)

    jobs = (job.replace(seed=first, batch_size=images) for first, images in batches(seeds, job.batch_size))
    run_series(engine, jobs, on_step=lambda event: bar.update(event), on_start=started, on_result=finished)
    span = f"seeds {seeds[0]}–{seeds[-1]}" if seeds else "no seeds (more processes than images)"
    print(f"{label}{len(saved)} image(s), {span}, on {engine.device.label}", file=sys.stderr)
    return 0
