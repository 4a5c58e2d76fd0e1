"""Ship a trained model with the app: copy a training run's exported pipeline into resources/models/NAME with fp16
safetensors weights, check that fp16 does not change the samples, write its model card, and draw the sample grid
that the README shows. With ``--guide`` a second, weaker run's model goes in as the model's autoguidance guide
(``NAME/guide``, engine/sampling/guidance.py), recommended at ``--guidance``, and the grid is drawn with it.

    python tools/bundle_model.py runs/emoji-32 --name emoji-32 --grid docs/samples-emoji.png \
        --hardware "2-core CPU (bf16 autocast), no GPU" --wall-time "1 h 50 min" \
        [--guide runs/emoji-32-guide --guidance 2 --guide-wall-time "14 min"]
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
    parser.add_argument("--guide", help="an exported model folder (RUN/model, or a copy of one) to ship as the guide")
    parser.add_argument("--guidance", type=float, default=2.0, help="the recommended autoguidance scale (with --guide)")
    parser.add_argument("--guide-wall-time", default="", help="how long the guide's run took (with --guide)")
    parser.add_argument("--unguided-grid", help="with --guide: also draw the same seeds without it, for comparison")
    args = parser.parse_args()

    from ddpm_studio.engine.jobs.types import GenerateJob
    from ddpm_studio.engine.models.defaults import write_defaults
    from ddpm_studio.engine.runner import Engine
    from ddpm_studio.engine.runtime.files import give_normal_modes
    from ddpm_studio.training.checkpoints import latest_checkpoint, read_state
    from ddpm_studio.training.ddpm.config import TrainConfig

    run = Path(args.run)
    source = run / "model"
    target = ROOT / "resources" / "models" / args.name
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    copy_fp16(source, staging)
    guide = None
    if args.guide:
        guide = Path(args.guide)
        copy_fp16(guide, staging / "guide")
        (staging / "guide" / "ddpm_studio.json").unlink(missing_ok=True)  # a guide has no settings of its own

    step, checkpoint = latest_checkpoint(run)
    loss = read_state(checkpoint).get("loss")
    config = TrainConfig.load(run / "train_config.json")
    log = Path(args.log) if args.log else run.with_suffix(".log")
    losses = [float(m.group(1)) for m in re.finditer(r"loss ([\d.]+) lr", log.read_text())] if log.exists() else []

    # fp16 must not hurt: sample both ways with the same seed and compare
    engine = Engine(device="cpu")
    job = GenerateJob(model=str(source), scheduler=args.scheduler, steps=args.steps, seed=0, batch_size=64, preview_every=0)
    if guide is not None:
        job = job.replace(guide_model=str(guide), guidance_scale=args.guidance)
    full = engine.run(job, save=False).images
    half_guide = {"guide_model": str(staging / "guide")} if guide is not None else {}
    half = engine.run(job.replace(model=str(staging), **half_guide), save=False).images
    diff = np.abs(full.astype(int) - half.astype(int))
    print(f"fp16 vs fp32 weights: mean |Δ| {diff.mean():.3f}, max |Δ| {diff.max()} (uint8 levels)")
    guide_facts = {}
    if guide is not None:
        card_steps = re.search(r"Steps: (\d+) of (\d+)", (guide / "README.md").read_text(encoding="utf-8"))
        guide_config = TrainConfig.load(guide / "train_config.json")
        guide_facts = {"guide_steps": int(card_steps.group(1)), "guide_schedule_steps": int(card_steps.group(2)),
                       "guide_preset": guide_config.preset, "guidance_scale": args.guidance,
                       "guide_wall_time": args.guide_wall_time}

    card = (staging / "README.md").read_text(encoding="utf-8")
    card += f"""
## As bundled with DDPM Studio (`bundled:{args.name}`)

- Trained with `ddpm-studio train` and the recipe `tools/{args.name}.train.json` on {args.hardware}: {step} steps
  (batch {config.batch_size}, {config.mixed_precision} mixed precision) in {args.wall_time}.
- Final logged loss {loss:.4f}{f"; first logged {losses[0]:.4f}" if losses else ""}.
- Weights stored as fp16 safetensors; against the fp32 weights the samples differ by {diff.mean():.3f} uint8 levels on
  average (max {diff.max()}) with {args.scheduler}, {args.steps} steps, seed 0.
{guide_card(args, guide_facts)}- Data: the Noto Color Emoji glyphs (SIL Open Font License 1.1, see `licenses/`), rendered by `tools/render_emoji.py`.
"""
    (staging / "README.md").write_text(card, encoding="utf-8")
    # the app's default for this model is what the grid shows
    write_defaults(staging, args.scheduler, args.steps, guide="guide" if guide else "", guidance_scale=args.guidance)
    (staging / "bundle.json").write_text(json.dumps({
        "steps": step, "final_loss": loss, "hardware": args.hardware, "wall_time": args.wall_time,
        "fp16_mean_abs_diff": round(float(diff.mean()), 4), "fp16_max_abs_diff": int(diff.max()), **guide_facts,
    }, indent=2) + "\n", encoding="utf-8")
    give_normal_modes(staging)  # save_pretrained's safetensors are owner-only (0600)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)

    bundled_guide = {"guide_model": f"bundled:{args.name}/guide"} if guide is not None else {}
    bundled = engine.run(job.replace(model=f"bundled:{args.name}", **bundled_guide), save=False).images
    save_grid(bundled, args.grid)
    if guide is not None and args.unguided_grid:
        unguided = engine.run(job.replace(model=f"bundled:{args.name}", guide_model="", guidance_scale=1.0), save=False)
        save_grid(unguided.images, args.unguided_grid)
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    print(f"bundled {target} ({size / 1e6:.1f} MB), step {step}, loss {loss:.4f}; grid {args.grid}")


def save_grid(images: np.ndarray, path: str) -> None:
    from ddpm_studio.training.ddpm.trainer import sample_grid

    grid = sample_grid(images)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid).resize((grid.shape[1] * 2, grid.shape[0] * 2), Image.Resampling.NEAREST).save(path)


def copy_fp16(source: Path, target: Path) -> None:
    """A pipeline folder with its UNet weights stored as fp16 safetensors."""
    from diffusers import UNet2DModel

    shutil.copytree(source, target, ignore=shutil.ignore_patterns("unet"))
    UNet2DModel.from_pretrained(source / "unet", dtype=torch.float16).save_pretrained(target / "unet", safe_serialization=True)


def guide_card(args, facts: dict) -> str:
    if not facts:
        return ""
    return (f"- Autoguidance guide in `guide/`: preset `{facts['guide_preset']}`, the EMA weights after "
            f"{facts['guide_steps']} of {facts['guide_schedule_steps']} steps of its recipe (`guide/train_config.json`; "
            f"{facts['guide_wall_time']}), recommended at scale {args.guidance:g}; the fp16 check above uses it.\n")


if __name__ == "__main__":
    main()
