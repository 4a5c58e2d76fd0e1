"""Ship a trained model with the app: copy a training run's exported pipeline into resources/models/NAME with fp16
safetensors weights, check that fp16 does not change the samples, write its model card, and draw the sample grid
that the README shows.

    python tools/bundle_model.py runs/emoji-32 --name emoji-32 --grid docs/samples-emoji.png \
        --hardware "2-core CPU (bf16 autocast), no GPU" --wall-time "1 h 50 min"
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="a training output folder (holds model/, train_config.json, checkpoints/)")
    parser.add_argument("--name", default="emoji-32")
    parser.add_argument("--grid", default="docs/samples-emoji.png")
    parser.add_argument("--scheduler", default="dpm++2m", help="for the grid; also stored as the model's recommended one")
    parser.add_argument("--steps", type=int, default=25, help="for the grid; also stored as the model's recommended count")
    parser.add_argument("--hardware", required=True)
    parser.add_argument("--wall-time", required=True)
    parser.add_argument("--log", help="the training log (default: RUN.log beside the run folder)")
    args = parser.parse_args()

    from diffusers import UNet2DModel

    from ddpm_studio.engine.jobs import GenerateJob
    from ddpm_studio.engine.model_defaults import write_defaults
    from ddpm_studio.engine.runner import Engine
    from ddpm_studio.training.checkpoints import latest_checkpoint, read_state
    from ddpm_studio.training.config import TrainConfig
    from ddpm_studio.training.trainer import sample_grid

    run = Path(args.run)
    source = run / "model"
    target = ROOT / "resources" / "models" / args.name
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging, ignore=shutil.ignore_patterns("unet"))
    UNet2DModel.from_pretrained(source / "unet", dtype=torch.float16).save_pretrained(staging / "unet", safe_serialization=True)

    step, checkpoint = latest_checkpoint(run)
    loss = read_state(checkpoint).get("loss")
    config = TrainConfig.load(run / "train_config.json")
    log = Path(args.log) if args.log else run.with_suffix(".log")
    losses = [float(m.group(1)) for m in re.finditer(r"loss ([\d.]+) lr", log.read_text())] if log.exists() else []

    # fp16 must not hurt: sample both ways with the same seed and compare
    engine = Engine(device="cpu")
    job = GenerateJob(model=str(source), scheduler=args.scheduler, steps=args.steps, seed=0, batch_size=64, preview_every=0)
    full = engine.run(job, save=False).images
    half = engine.run(job.replace(model=str(staging)), save=False).images
    diff = np.abs(full.astype(int) - half.astype(int))
    print(f"fp16 vs fp32 weights: mean |Δ| {diff.mean():.3f}, max |Δ| {diff.max()} (uint8 levels)")

    card = (staging / "README.md").read_text(encoding="utf-8")
    card += f"""
## As bundled with DDPM Studio (`bundled:{args.name}`)

- Trained with `ddpm-studio train` and the recipe `tools/{args.name}.train.json` on {args.hardware}: {step} steps
  (batch {config.batch_size}, {config.mixed_precision} mixed precision) in {args.wall_time}.
- Final logged loss {loss:.4f}{f"; first logged {losses[0]:.4f}" if losses else ""}.
- Weights stored as fp16 safetensors; against the fp32 weights the samples differ by {diff.mean():.3f} uint8 levels on
  average (max {diff.max()}) with {args.scheduler}, {args.steps} steps, seed 0.
- Data: the Noto Color Emoji glyphs (SIL Open Font License 1.1, see `licenses/`), rendered by `tools/render_emoji.py`.
"""
    (staging / "README.md").write_text(card, encoding="utf-8")
    write_defaults(staging, args.scheduler, args.steps)  # the app's default for this model is what the grid shows
    (staging / "bundle.json").write_text(json.dumps({
        "steps": step, "final_loss": loss, "hardware": args.hardware, "wall_time": args.wall_time,
        "fp16_mean_abs_diff": round(float(diff.mean()), 4), "fp16_max_abs_diff": int(diff.max()),
    }, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)

    bundled = engine.run(job.replace(model=f"bundled:{args.name}"), save=False).images
    grid = sample_grid(bundled)
    Path(args.grid).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid).resize((grid.shape[1] * 2, grid.shape[0] * 2), Image.Resampling.NEAREST).save(args.grid)
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    print(f"bundled {target} ({size / 1e6:.1f} MB), step {step}, loss {loss:.4f}; grid {args.grid}")


if __name__ == "__main__":
    main()
