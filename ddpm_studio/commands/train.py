"""``train``: the trainers headless (and under ``accelerate launch``), with the recipe from flags, a config file, or
the run it resumes; Ctrl+C or SIGTERM checkpoints and exports before it exits. ``--lora`` (or resuming a LoRA run)
trains a LoRA for a Stable Diffusion ``--base``; otherwise a pixel DDPM is trained or fine-tuned."""

from __future__ import annotations

import sys
from pathlib import Path

TRAIN_FLAGS = {
    "resolution": "resolution", "steps": "max_steps", "batch_size": "batch_size", "grad_accum": "gradient_accumulation_steps",
    "lr": "learning_rate", "warmup": "lr_warmup_steps", "mixed_precision": "mixed_precision",
    "checkpoint_every": "checkpoint_every", "sample_every": "sample_every", "seed": "seed",
    "guide_step": "guide_step", "guide_scale": "guide_scale",
}


LORA_FLAGS = {  # flags only the LoRA trainer takes
    "rank": "rank", "alpha": "alpha", "trigger": "trigger", "caption_template": "caption_template",
    "caption_dropout": "caption_dropout", "keep_tags": "keep_tags", "min_snr_gamma": "min_snr_gamma",
    "noise_offset": "noise_offset", "validation_prompt": "validation_prompt", "name": "name",
}
LORA_SWITCHES = {"train_text_encoder": True, "shuffle_tags": True, "flip": True, "gradient_checkpointing": True,
                 "no_buckets": False}  # store_true flags → the recipe's value when given
LORA_SWITCH_FIELDS = {"flip": "random_flip", "no_buckets": "buckets"}
DDPM_ONLY = ("from_scratch", "guide_step", "guide_scale", "no_ema")


def trains_a_lora(args) -> bool:
    from ddpm_studio.training.lora.config import is_lora_run

    return args.lora or (args.resume and not args.config and is_lora_run(Path(args.out) / "train_config.json"))


def lora_config_from_args(args):
    from ddpm_studio.training.lora.config import LoraTrainConfig, is_lora_run

    given = [f"--{name.replace('_', '-')}" for name in DDPM_ONLY if getattr(args, name)]
    if given:
        raise ValueError(f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} for pixel DDPMs, not a LoRA.")
    saved = Path(args.out) / "train_config.json"
    if args.config:
        values = LoraTrainConfig.load(args.config).to_dict()
    elif args.resume and saved.is_file():
        if not is_lora_run(saved):
            raise ValueError(f"{args.out} holds a pixel DDPM run; to resume it, train it without --lora; or choose "
                             "another --out.")
        values = LoraTrainConfig.load(saved).to_dict()
    else:
        values = {"base_model": args.base}
    values.update(data_dir=args.folder, output_dir=args.out)
    for flags in (TRAIN_FLAGS, LORA_FLAGS):
        for flag, field_name in flags.items():
            if getattr(args, flag, None) is not None and field_name in LoraTrainConfig.__dataclass_fields__:
                values[field_name] = getattr(args, flag)
    for flag, value in LORA_SWITCHES.items():
        if getattr(args, flag):
            values[LORA_SWITCH_FIELDS.get(flag, flag)] = value
    if args.base:
        values["base_model"] = args.base
    return LoraTrainConfig.from_dict(values)


def train_config_from_args(args):
    from ddpm_studio.training.ddpm.config import TrainConfig

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
    if args.warmup is None and not (args.config or (args.resume and saved.is_file())) and "max_steps" in values:
        # as in the Train panel: a short run warms up for a tenth of its steps, not for more than it has
        values["lr_warmup_steps"] = min(TrainConfig.lr_warmup_steps, values["max_steps"] // 10)
    return TrainConfig.from_dict(values)


def cmd_train(args) -> int:
    import signal

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    from ddpm_studio.training.events import TrainControl

    if trains_a_lora(args):
        from ddpm_studio.training.lora.trainer import train_lora as train

        config = lora_config_from_args(args)
    else:
        from ddpm_studio.training.ddpm.trainer import train

        lora_only = [f"--{f.replace('_', '-')}" for f in (*LORA_FLAGS, *LORA_SWITCHES) if getattr(args, f)]
        if lora_only:
            raise ValueError(f"{', '.join(lora_only)}: LoRA settings; add --lora (and a Stable Diffusion --base).")
        config = train_config_from_args(args)
    config.validate()
    check_the_output_folder(args, config)
    control = TrainControl()

    def stop(signum, _frame):  # first Ctrl+C / SIGTERM: checkpoint, export, exit; a second one kills
        print(f"\nddpm-studio: stopping after this step (signal {signum}); again to abort", file=sys.stderr)
        control.request_stop()
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    bar = TrainProgress(sys.stderr)
    from ddpm_studio.training.earlier_run import OtherTrainersRun

    try:
        summary = train(config, on_event=bar.update, control=control, resume=args.resume)
    except OtherTrainersRun as exc:
        how = "train it without --lora" if not exc.run_is_lora else "add --lora"
        kind = "a LoRA" if exc.run_is_lora else "a pixel DDPM"
        raise ValueError(f"{exc.output} holds {kind} run; to resume it, {how}; or choose another --out.") from None
    print(summary.model_dir)
    return 0


def check_the_output_folder(args, config) -> None:
    """A new run never goes into a folder that holds one: with --new-run the earlier run is moved into a subfolder
    first (as the Train panel's "Start a new run" does), else it is refused, saying what to do. A resume whose
    recipe differs from the run's (other pictures, base model or resolution) is said on stderr."""
    from ddpm_studio.training import checkpoints as ckpt
    from ddpm_studio.training.earlier_run import other_trainer, recipe_changes

    out = Path(args.out).expanduser()
    if args.resume:
        changes = [] if other_trainer(out, config) else recipe_changes(out, config)
        if changes:
            print(f"ddpm-studio: note: resuming the run in {out} with another recipe: {'; '.join(changes)}.",
                  file=sys.stderr)
        return
    if args.new_run:
        from ddpm_studio.distributed import process_state

        state = process_state()  # under accelerate launch: the main process moves it, the others wait for that
        if state.is_main_process and ckpt.describe_run(out):
            print(f"ddpm-studio: the earlier run in {out} is now in {ckpt.set_aside(out)}", file=sys.stderr)
        state.wait_for_everyone()
        return
    earlier = ckpt.describe_run(out)
    if earlier:
        raise ValueError(f"{out} already holds a training run ({earlier}). Add --resume to continue it, --new-run to "
                         "move it into a subfolder and start again, or choose another --out.")


class TrainProgress:
    """Training events as text: a progress line per logged step, a line for everything else."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def update(self, event) -> None:
        if event.kind == "step":
            eta = f" ETA {event.eta_s / 60:.1f} min" if event.eta_s is not None else ""
            self.stream.write(f"step {event.step}/{event.max_steps} loss {event.loss:.4f} lr {event.lr:.2e} "
                              f"{event.images_per_s:.1f} img/s{eta}\n")
        elif event.kind == "sample":  # where the picture is, and what it shows
            note = f" ({event.message})" if event.message else ""
            self.stream.write(f"samples at step {event.step}: {event.path}{note}\n")
        elif event.message or event.path:
            self.stream.write(f"{event.message or event.path}\n")
        self.stream.flush()
