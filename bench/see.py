"""The cost of seeing more: a scheduler race against the same runs made separately, and a Text to Image run with
per-word attention maps on against off. Measured side by side in one process, interleaved.

- Race: the bundled model, 3 lanes (ddim, dpm++2m, euler-a), batch 1, ``--steps`` steps, previews every step, against
  the sum of the three runs made one by one through ``Engine.run`` (target ≤ 1.03).
- Attention maps: bench/latent_preview.py's small random-weight SD at ``--size``, against the same job without them
  (target ≤ 1.3); where the time goes is timed inside the recorder: recording (the extra q and k projections and
  softmax in every cross-attention layer) and taking the maps at each step's end.

Prints a table, then one JSON line.

    python bench/see.py [--steps 25] [--size 256] [--sd-steps 10] [--rounds 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from latent_preview import build_small_sd  # noqa: E402
from timing import interleaved, paired_ratio  # noqa: E402


class Stopwatch:
    """Seconds spent in a method, summed (wrapped on its class for the bench only)."""

    def __init__(self, owner, name: str) -> None:
        self.seconds, self.owner, self.name = 0.0, owner, name
        self.real = getattr(owner, name)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return self.real(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start

        setattr(owner, name, timed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--sd-steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from ddpm_studio.engine.inspect import attention_maps
    from ddpm_studio.engine.jobs.race import RaceJob
    from ddpm_studio.engine.jobs.types import GenerateJob, Text2ImageJob
    from ddpm_studio.engine.runner import Engine
    from ddpm_studio.engine.series.race import run_race

    engine = Engine(device="cpu")
    base = GenerateJob(model="bundled:emoji-32", steps=args.steps, seed=3, batch_size=1, preview_every=1)
    race = RaceJob(base=base, field="scheduler", values=("ddim", "dpm++2m", "euler-a"))

    def separately() -> None:
        for job in race.lanes():
            engine.run(job, save=False)

    model = str(build_small_sd(Path(tempfile.mkdtemp(prefix="bench-see-")) / "small-sd"))
    prompt = Text2ImageJob(model=model, prompt="a red lighthouse on a green cliff at dusk", steps=args.sd_steps,
                           width=args.size, height=args.size, seed=0, preview_every=1)
    separately()
    engine.run(prompt, save=False)  # every model loaded once before timing
    runs = {"race": lambda: run_race(engine, race), "separate_runs": separately,
            "maps_off": lambda: engine.run(prompt, save=False),
            "maps_on": lambda: engine.run(prompt.replace(attention_maps=True), save=False)}
    recording = Stopwatch(attention_maps.AttentionRecorder, "add")
    taking = Stopwatch(attention_maps.AttentionRecorder, "take")
    times = interleaved(runs, args.rounds)
    on, off = statistics.median(times["maps_on"]), statistics.median(times["maps_off"])
    per_run = {k: s.seconds / args.rounds for k, s in (("recording", recording), ("taking", taking))}
    print(f"{'run':16} {'s/run':>8}")
    for name, t in times.items():
        print(f"{name:16} {statistics.median(t):8.3f}")
    print(f"attention maps: +{on - off:.3f} s a run, of which recording {per_run['recording']:.3f} s, taking the maps "
          f"{per_run['taking']:.3f} s")
    print(json.dumps({
        "race/separate_runs": round(paired_ratio(times, "race", "separate_runs"), 4),
        "maps_on/maps_off": round(paired_ratio(times, "maps_on", "maps_off"), 4),
        "seconds_maps_off": round(off, 4), "seconds_recording": round(per_run["recording"], 4),
        "seconds_taking": round(per_run["taking"], 4), "race_steps": args.steps, "sd_size": args.size,
        "sd_steps": args.sd_steps, "torch_threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
