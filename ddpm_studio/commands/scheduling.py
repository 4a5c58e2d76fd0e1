"""--scheduler and --schedule: a scheduler by its name, or by a combined name as the app wrote them before the
Schedule type row (``dpm++2m-karras``) and as A1111's old sampler list read (``euler-karras``); the schedule type
beside it (``--schedule karras``). And the preset a few-step LoRA brings (engine/models/presets.py) where the flags
leave steps, guidance or scheduler open."""

from __future__ import annotations

import argparse


def scheduler_arguments(parser, schedulers, help_text: str) -> None:
    from ddpm_studio.engine.jobs.schedule_types import SCHEDULE_TYPES

    def scheduler_name(text: str) -> str:
        from ddpm_studio.engine.jobs.schedule_types import split_name

        if split_name(text)[0] not in schedulers:
            raise argparse.ArgumentTypeError(f"'{text}' is not a scheduler; choose one of {', '.join(schedulers)}, "
                                             f"or one with a schedule type, as dpm++2m-karras or euler-sgm_uniform")
        return text

    parser.add_argument("--scheduler", type=scheduler_name, metavar="NAME",
                        help=f"{', '.join(schedulers)} (a combined name such as dpm++2m-karras also works); "
                             f"{help_text}")
    parser.add_argument("--schedule", choices=[key for key in SCHEDULE_TYPES if key], metavar="TYPE",
                        help="the schedule type, as A1111's and ComfyUI's: "
                             f"{', '.join(key for key in SCHEDULE_TYPES if key)} (default: the model's own spacing; "
                             "the types a scheduler takes: docs)")


def job_scheduler(args, defaults: dict, fallback: str) -> dict:
    """The job's ``scheduler`` and ``schedule``: the flags', else the model's recommended (or its preset's)."""
    from ddpm_studio.engine.jobs.schedule_types import split_name

    if args.scheduler:
        name, schedule = split_name(args.scheduler, getattr(args, "schedule", None) or "")
    else:
        name, schedule = split_name(defaults.get("scheduler", fallback),
                                    getattr(args, "schedule", None) or defaults.get("schedule", ""))
    return dict(scheduler=name, schedule=schedule)


def lora_defaults(loras, defaults: dict, model_ref: str) -> dict:
    """``defaults`` with what the first few-step LoRA among ``loras`` ((path or name, weight) pairs) brings over
    them, for the family of the model ``model_ref``; the LoRAs the command names by a name alone are found by the
    engine later and bring nothing here."""
    from pathlib import Path

    from ddpm_studio.engine.models.catalogue import ModelError, inspect_model
    from ddpm_studio.engine.models.families import family_of_info
    from ddpm_studio.engine.models.presets import preset_for_lora

    try:
        family = family_of_info(inspect_model(model_ref))
    except ModelError:
        family = None
    family_key = family.key if family is not None else ""

    for name, weight in loras:
        if weight and Path(name).expanduser().is_file():
            preset = preset_for_lora(Path(name).expanduser(), family_key)
            if preset:
                return {**defaults, **preset}
    return defaults
