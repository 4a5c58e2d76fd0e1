"""Command line: ``ddpm-studio`` opens the app; ``generate`` and ``info`` run headless on the same engine.

Errors are one plain line on stderr with exit code 1 (2 for usage errors); ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

from ddpm_studio import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ddpm-studio", description="Local image generation with diffusion models.")
    parser.add_argument("--version", action="version", version=f"ddpm-studio {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    gui = sub.add_parser("gui", help="open the app (the default)")
    gui.add_argument("--device", default="auto", choices=["auto", "cuda", "mps", "cpu"])
    gui.add_argument("--exit-when-ready", action="store_true", help="open, load the backend, print timings, quit")

    from ddpm_studio.engine.schedulers import DEFAULT_SCHEDULER, SCHEDULERS

    gen = sub.add_parser("generate", help="sample images from an unconditional DDPM")
    gen.add_argument("--model", help="bundled:NAME, a pipeline folder, or a cached hub id (default: the bundled model)")
    gen.add_argument("--scheduler", default=DEFAULT_SCHEDULER, choices=list(SCHEDULERS))
    gen.add_argument("--steps", type=int, default=25)
    gen.add_argument("--seed", type=int, help="default: random")
    gen.add_argument("--batch", type=int, default=4, help="images per run")
    gen.add_argument("--out", help="output folder (default: your pictures folder / DDPM Studio)")
    gen.add_argument("--device", default="auto", choices=["auto", "cuda", "mps", "cpu"])
    gen.add_argument("--allow-pickle", action="store_true", help="allow loading pickle (.bin) weights — they can run code")
    _save_steps_argument(gen)

    t2i = sub.add_parser("txt2img", help="text to image with a Stable Diffusion model")
    _prompt_arguments(t2i, SCHEDULERS)
    t2i.add_argument("--size", default="512x512", help="WIDTHxHEIGHT, multiples of 8")

    edit = sub.add_parser("edit", help="change an image with a prompt: img2img, inpaint or instruct")
    _prompt_arguments(edit, SCHEDULERS)
    edit.add_argument("--image", required=True)
    edit.add_argument("--mode", default="img2img", choices=["img2img", "inpaint", "instruct"])
    edit.add_argument("--mask", default="", help="inpaint: white where the image is repainted")
    edit.add_argument("--strength", type=float, default=0.75, help="img2img/inpaint: how much to change (0–1)")
    edit.add_argument("--image-guidance", type=float, default=1.5, help="instruct: how closely to keep the input image")

    up = sub.add_parser("upscale", help="4× upscale an image with a diffusion upscaler (SD x4 or LDM 4×), tile by tile")
    up.add_argument("image")
    _prompt_arguments(up, SCHEDULERS, prompt_required=False, guidance=9.0)
    up.add_argument("--noise-level", type=int, default=20, help="SD x4: noise added to the input first (0–350)")
    up.add_argument("--tile", type=int, default=0, help="tile side in input pixels (default: automatic)")
    up.add_argument("--overlap", type=int, default=16, help="overlap between tiles, in input pixels")

    tr = sub.add_parser("train", help="train or fine-tune a DDPM on a folder of images (works under accelerate launch)")
    tr.add_argument("folder", help="a folder of images (searched recursively)")
    tr.add_argument("--out", required=True, help="where checkpoints, samples and the final model go")
    origin = tr.add_mutually_exclusive_group()
    origin.add_argument("--base", default="", help="a DDPM pipeline to fine-tune (bundled:NAME, a folder, a cached hub id)")
    origin.add_argument("--from-scratch", metavar="PRESET", help="train a new UNet of this size: tiny, small, medium, base")
    tr.add_argument("--config", help="a train_config.json to start from (flags override it)")
    tr.add_argument("--resolution", type=int)
    tr.add_argument("--steps", type=int, help="optimizer steps in all")
    tr.add_argument("--batch-size", type=int)
    tr.add_argument("--grad-accum", type=int)
    tr.add_argument("--lr", type=float)
    tr.add_argument("--warmup", type=int, help="learning-rate warm-up steps")
    tr.add_argument("--mixed-precision", choices=["no", "fp16", "bf16"])
    tr.add_argument("--checkpoint-every", type=int)
    tr.add_argument("--sample-every", type=int)
    tr.add_argument("--seed", type=int)
    tr.add_argument("--no-ema", action="store_true")
    tr.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")
    tr.add_argument("--threads", type=int, help="torch CPU threads")

    info = sub.add_parser("info", help="print the parameters stored in one of our PNGs")
    info.add_argument("image")
    info.add_argument("--json", action="store_true", help="print the stored job as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command in (None, "gui"):
            from ddpm_studio.ui.app import run_app

            return run_app(
                exit_when_ready=getattr(args, "exit_when_ready", False), device=getattr(args, "device", "auto")
            )
        if args.command == "generate":
            return cmd_generate(args)
        if args.command == "txt2img":
            return cmd_txt2img(args)
        if args.command == "edit":
            return cmd_edit(args)
        if args.command == "upscale":
            return cmd_upscale(args)
        if args.command == "train":
            return cmd_train(args)
        if args.command == "info":
            return cmd_info(args)
    except KeyboardInterrupt:
        print("ddpm-studio: cancelled", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        print(f"ddpm-studio: error: {exc}", file=sys.stderr)
        return 1
    parser.error(f"unknown command {args.command}")
    return 2


def _prompt_arguments(parser, schedulers, prompt_required: bool = True, guidance: float = 7.5) -> None:
    parser.add_argument("--model", required=True,
                        help="a Stable Diffusion pipeline folder, a single-file .safetensors checkpoint, or a cached hub id")
    parser.add_argument("--prompt", required=prompt_required, default="")
    parser.add_argument("--negative", default="", help="negative prompt")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--guidance", type=float, default=guidance, help="classifier-free guidance scale")
    parser.add_argument("--seed", type=int, help="default: random")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--scheduler", default="dpm++2m", choices=list(schedulers))
    parser.add_argument("--out", help="output folder (default: your pictures folder / DDPM Studio)")
    parser.add_argument("--device", default="auto", choices=["auto", "cuda", "mps", "cpu"])
    parser.add_argument("--allow-pickle", action="store_true", help="allow loading pickle (.bin) weights — they can run code")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp16", "bf16", "fp32"])
    parser.add_argument("--attention-slicing", action="store_true", help="less memory, a little slower")
    parser.add_argument("--vae-tiling", action="store_true", help="decode large images tile by tile")
    parser.add_argument("--cpu-offload", action="store_true", help="keep each model on the CPU until it runs (GPUs)")
    parser.add_argument("--vae-fp32", action="store_true", help="the VAE in float32: the fix for black (NaN) images")
    _save_steps_argument(parser)


def _save_steps_argument(parser) -> None:
    parser.add_argument("--save-steps", metavar="DIR",
                        help="also write every step: DIR/frames/*.png, steps.gif, steps.webp and contact-sheet.png")


def default_model_ref() -> str:
    from ddpm_studio.engine.models import list_models

    bundled = list_models([])
    if not bundled:
        raise ValueError("No bundled model is installed here; pass --model with a pipeline folder or a cached hub id.")
    return bundled[0].ref


def _common_job_fields(args) -> dict:
    from ddpm_studio.paths import default_output_dir

    return dict(
        scheduler=args.scheduler,
        steps=args.steps,
        seed=random.randrange(2**32) if args.seed is None else args.seed,
        batch_size=args.batch,
        preview_every=1 if getattr(args, "save_steps", None) else 0,
        output_dir=str(Path(args.out or default_output_dir()).expanduser()),
    )


def _prompt_fields(args) -> dict:
    return dict(model=args.model, prompt=args.prompt, negative_prompt=args.negative, guidance_scale=args.guidance,
                **_common_job_fields(args))


def cmd_generate(args) -> int:
    from ddpm_studio.engine.jobs import GenerateJob

    return run_job(args, GenerateJob(model=args.model or default_model_ref(), **_common_job_fields(args)))


def cmd_txt2img(args) -> int:
    from ddpm_studio.engine.jobs import Text2ImageJob

    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size must look like 512x768 (width x height); got '{args.size}'.") from None
    return run_job(args, Text2ImageJob(width=width, height=height, **_prompt_fields(args)))


def cmd_edit(args) -> int:
    from ddpm_studio.engine.jobs import EditJob

    job = EditJob(mode=args.mode, image=args.image, mask=args.mask, strength=args.strength,
                  image_guidance_scale=args.image_guidance, **_prompt_fields(args))
    return run_job(args, job)


def cmd_upscale(args) -> int:
    from ddpm_studio.engine.jobs import UpscaleJob

    job = UpscaleJob(image=args.image, noise_level=args.noise_level, tile=args.tile, overlap=args.overlap,
                     **_prompt_fields(args))
    return run_job(args, job)


def run_job(args, job) -> int:
    from ddpm_studio.engine.options import MemoryOptions
    from ddpm_studio.engine.runner import Engine

    memory = MemoryOptions(attention_slicing=getattr(args, "attention_slicing", False),
                           vae_tiling=getattr(args, "vae_tiling", False), cpu_offload=getattr(args, "cpu_offload", False),
                           vae_fp32=getattr(args, "vae_fp32", False))
    engine = Engine(device=args.device, allow_pickle=args.allow_pickle, precision=getattr(args, "precision", "auto"),
                    memory=memory)
    bar = ProgressBar(sys.stderr)
    history = None
    if getattr(args, "save_steps", None):
        from ddpm_studio.engine.history import StepHistory

        history = StepHistory()

    def on_step(event) -> None:
        if history is not None:
            history.add(event)
        bar.update(event)

    result = engine.run(job, on_step=on_step)
    bar.close()
    for path in result.saved_paths:
        print(path)
    if history is not None and not result.cancelled:
        from ddpm_studio.engine.step_export import export_run

        written = export_run(args.save_steps, history.frames())
        thinned = " (fewer steps kept, to stay within the memory budget)" if history.thinned else ""
        print(f"{len(history)} step(s) written to {Path(args.save_steps)}: {written['gif'].name}, "
              f"{written['webp'].name}, {written['contact_sheet'].name}, frames/{thinned}", file=sys.stderr)
    print(
        f"{len(result.saved_paths)} image(s), {result.steps_run} steps, {result.seconds:.1f} s on {engine.device.label}",
        file=sys.stderr,
    )
    return 0


TRAIN_FLAGS = {
    "resolution": "resolution", "steps": "max_steps", "batch_size": "batch_size", "grad_accum": "gradient_accumulation_steps",
    "lr": "learning_rate", "warmup": "lr_warmup_steps", "mixed_precision": "mixed_precision",
    "checkpoint_every": "checkpoint_every", "sample_every": "sample_every", "seed": "seed",
}


def train_config_from_args(args):
    from ddpm_studio.training.config import TrainConfig

    saved = Path(args.out) / "train_config.json"
    if args.config:
        values = TrainConfig.load(args.config).to_dict()
    elif args.resume and saved.is_file():  # resume with the recipe the run started with; flags still override
        values = TrainConfig.load(saved).to_dict()
    else:
        values = {}
    values.update(data_dir=args.folder, output_dir=args.out)
    for flag, field_name in TRAIN_FLAGS.items():
        if getattr(args, flag) is not None:
            values[field_name] = getattr(args, flag)
    if args.base:
        values["base_model"] = args.base
    if args.from_scratch:
        values.update(base_model="", preset=args.from_scratch)
    if args.no_ema:
        values["use_ema"] = False
    return TrainConfig.from_dict(values)


def cmd_train(args) -> int:
    import signal

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    from ddpm_studio.training.events import TrainControl
    from ddpm_studio.training.trainer import train

    config = train_config_from_args(args)
    config.validate()
    control = TrainControl()

    def stop(signum, _frame):  # first Ctrl+C / SIGTERM: checkpoint, export, exit; a second one kills
        print(f"\nddpm-studio: stopping after this step (signal {signum}); again to abort", file=sys.stderr)
        control.request_stop()
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    bar = TrainProgress(sys.stderr)
    summary = train(config, on_event=bar.update, control=control, resume=args.resume)
    print(summary.model_dir)
    return 0


class TrainProgress:
    """Training events as text: a progress line per logged step, a line for everything else."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def update(self, event) -> None:
        if event.kind == "step":
            eta = f" ETA {event.eta_s / 60:.1f} min" if event.eta_s is not None else ""
            self.stream.write(f"step {event.step}/{event.max_steps} loss {event.loss:.4f} lr {event.lr:.2e} "
                              f"{event.images_per_s:.1f} img/s{eta}\n")
        elif event.message or event.path:
            self.stream.write(f"{event.message or event.path}\n")
        self.stream.flush()


def cmd_info(args) -> int:
    from ddpm_studio.engine.metadata import read_metadata, read_png_text

    if args.json:
        print(json.dumps(read_metadata(args.image), indent=2, sort_keys=True))
        return 0
    text = read_png_text(args.image)
    if "parameters" not in text:
        raise ValueError(f"{args.image} carries no generation parameters.")
    print(text["parameters"])
    return 0


class ProgressBar:
    """A one-line text progress bar: steps, it/s, ETA."""

    def __init__(self, stream, width: int = 30) -> None:
        self.stream, self.width = stream, width
        self.started = time.perf_counter()
        self.drawn = False

    def update(self, event) -> None:
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
