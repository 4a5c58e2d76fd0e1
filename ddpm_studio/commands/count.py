"""``generate|txt2img … --count N``: N images, seeds seed … seed + N − 1, made in batches of ``--batch``. Under
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
    saved = []
    for first, images in batches(seeds, job.batch_size):
        bar = ProgressBar(sys.stderr)
        result = engine.run(job.replace(seed=first, batch_size=images), on_step=bar.update)
        bar.close()
        saved += result.saved_paths
        for path in result.saved_paths:
            print(path, flush=True)
    span = f"seeds {seeds[0]}–{seeds[-1]}" if seeds else "no seeds (more processes than images)"
    print(f"{label}{len(saved)} image(s), {span}, on {engine.device.label}", file=sys.stderr)
    return 0
