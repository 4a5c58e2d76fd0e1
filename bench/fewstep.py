"""A few-step run against a full one, on the same model: the wall-clock ratio of a 4-step LCM (or Turbo, or flow
LCM) run to a 25-step run, each a whole ``Engine.run`` (text encoding, the steps, decode) as the CLI makes it.

  sd        an SD 1.x pipeline (tests/tiny_sd.py's shapes, random weights): 4 steps of LCM, guidance 1 (one model
            call a step, as an LCM LoRA runs), against 25 of DPM++ 2M at guidance 7.5 (two calls a step)
  turbo     the same pipeline as a Turbo model runs: 1 step of Euler a, SGM Uniform, guidance 0, against the 25
  zimage    Z-Image-Turbo's transformer geometry (bench/families.py's): 4 steps of the flow LCM against 25 of Euler
  <folder>  any Text to Image model folder (--model): its LCM at 4 steps against DPM++ 2M (Euler: flow) at 25

Interleaved over rounds (timing.py); prints one JSON line: per case the median seconds of each run and the median of
the paired ratios few/full. On a machine others share, ``--threads 1`` suffers least from their load.

    python bench/fewstep.py [--cases sd,turbo,zimage] [--model FOLDER] [--size 256] [--rounds 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent))
from timing import interleaved, paired_ratio  # noqa: E402

FULL_STEPS, FEW_STEPS = 25, 4


def cases(folder: Path, names: list[str], model: str) -> dict[str, tuple[str, dict, dict]]:
    """name → (model folder, the few-step job's fields, the full job's)."""
    found = {}
    if "sd" in names or "turbo" in names:
        from tests.tiny_sd import save_tiny_sd

        sd = str(save_tiny_sd(folder / "sd"))
        full = dict(scheduler="dpm++2m", steps=FULL_STEPS, guidance_scale=7.5)
        if "sd" in names:
            found["sd"] = (sd, dict(scheduler="lcm", steps=FEW_STEPS, guidance_scale=1.0), full)
        if "turbo" in names:  # stabilityai/sdxl-turbo's model card: 1 step, guidance 0 (models/presets.py)
            found["turbo"] = (sd, dict(scheduler="euler-a", schedule="sgm_uniform", steps=1, guidance_scale=0.0), full)
    if "zimage" in names:
        from families import save_zimage

        path, _ = save_zimage(folder / "zimage")
        found["zimage"] = (str(path), dict(scheduler="lcm", steps=FEW_STEPS, guidance_scale=0.0),
                           dict(scheduler="euler", steps=FULL_STEPS, guidance_scale=0.0))
    if model:
        from ddpm_studio.engine.models.catalogue import inspect_model
        from ddpm_studio.engine.models.families import family_of_info

        family = family_of_info(inspect_model(model))
        flow = family is not None and bool(family.schedulers)
        found[Path(model).name] = (model, dict(scheduler="lcm", steps=FEW_STEPS, guidance_scale=1.0),
                                   dict(scheduler="euler" if flow else "dpm++2m", steps=FULL_STEPS))
    return found


def measure(engine, model: str, few: dict, full: dict, size: int, rounds: int) -> dict:
    from ddpm_studio.engine.jobs.types import Text2ImageJob

    base = dict(model=model, prompt="a lighthouse at dusk", seed=1, batch_size=1, width=size, height=size,
                preview_every=0)
    jobs = {"few": Text2ImageJob(**base, **few), "full": Text2ImageJob(**base, **full)}
    for job in jobs.values():  # loaded and warmed once each, outside the timing
        engine.run(job, save=False)
    times = interleaved({name: (lambda job=job: engine.run(job, save=False)) for name, job in jobs.items()}, rounds)
    return {"few": {**few, "seconds": statistics.median(times["few"])},
            "full": {**full, "seconds": statistics.median(times["full"])},
            "few_over_full": paired_ratio(times, "few", "full")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default="sd,turbo,zimage")
    parser.add_argument("--model", default="", help="a Text to Image model folder to measure as well")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from ddpm_studio.engine.runner import Engine

    engine = Engine(device="cuda" if torch.cuda.is_available() else "cpu")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (model, few, full) in cases(Path(tmp), [c for c in args.cases.split(",") if c], args.model).items():
            results[name] = measure(engine, model, few, full, args.size, args.rounds)
            few, full = results[name]["few"]["seconds"], results[name]["full"]["seconds"]
            ratio = results[name]["few_over_full"]
            print(f"{name:10s} few {few:.3f} s  full {full:.3f} s  ratio {ratio:.3f}", flush=True)
    from ddpm_studio.training.precision import device_name

    cpu = device_name(torch.device("cpu"))
    print(json.dumps({"fewstep": results, "torch_threads": torch.get_num_threads(), "cpu": cpu, "size": args.size,
                      "rounds": args.rounds}))


if __name__ == "__main__":
    main()
