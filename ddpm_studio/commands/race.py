"""``race``: one x_T, several schedulers (or step counts, or guidance scales), each lane a normal run; writes each
lane's final image as ``DIR/<lane>.png``, the lanes side by side as an animation, a contact sheet and a per-step table
(``engine/series/race_export.py``), and says when each lane's picture was decided."""

from __future__ import annotations

import random
import sys

DECIDED = 0.05  # x̂0 within this RMS distance (0–1) of the final image: the picture is decided


def _values(text: str | None, kind) -> list:
    if not text:
        return []
    try:
        return [kind(v.strip()) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"'{text}' is not a comma-separated list of {kind.__name__} values.") from None


def base_job(args, scheduler: str | None = None, steps: int | None = None, guidance: float | None = None):
    """One picture's job from the flags a race and a grid share: a Generate job for a pixel model (guidance is
    autoguidance's, with the model's own guide by default), a Text to Image job for a Stable Diffusion one."""
    from ddpm_studio.commands.sample import default_model_ref, home_checkpoint, lora_argument, recommended
    from ddpm_studio.engine.jobs.checks import JobError
    from ddpm_studio.engine.jobs.scheduler_table import DEFAULT_SCHEDULER, DEFAULT_STEPS
    from ddpm_studio.engine.jobs.types import GenerateJob, Text2ImageJob
    from ddpm_studio.engine.models.catalogue import PIXEL_FAMILY, inspect_model

    model = args.model or default_model_ref()
    model = home_checkpoint(args.models_home, model) if args.models_home else model
    info = inspect_model(model, args.allow_pickle)
    addons = dict(loras=tuple(lora_argument(text) for text in args.lora), vae=args.vae)
    defaults = recommended(model)
    from ddpm_studio.engine.jobs.schedule_types import split_name

    name, schedule = split_name(scheduler or defaults.get("scheduler", DEFAULT_SCHEDULER),  # euler-karras: both
                                "" if scheduler else defaults.get("schedule", ""))
    fields = dict(model=model, scheduler=name, schedule=schedule,
                  steps=steps or defaults.get("steps", DEFAULT_STEPS),
                  seed=random.randrange(2**32) if args.seed is None else args.seed, batch_size=1, preview_every=1)
    if guidance is not None:
        fields["guidance_scale"] = guidance
    if info.family == PIXEL_FAMILY:
        if addons["loras"] or addons["vae"]:
            raise JobError("LoRAs and VAEs are for Stable Diffusion models; this is a pixel model.")
        guide = args.guide if args.guide is not None else defaults.get("guide_model", "")
        fields.setdefault("guidance_scale", defaults.get("guidance_scale", 1.0) if guide else 1.0)
        return GenerateJob(guide_model=guide, **fields)
    if "txt2img" in info.modes:
        width, _, height = args.size.lower().partition("x")
        from ddpm_studio.commands.sample import styled_prompts

        prompt, negative = styled_prompts(args)  # each --style applied
        return Text2ImageJob(prompt=prompt, negative_prompt=negative, width=int(width),
                             height=int(height or width), **addons, **fields)
    raise JobError(f"{info.path} is a model for the {info.panel} panel; races and grids run Generate and Text to "
                   "Image models.")


def build_race(args):
    from ddpm_studio.engine.jobs.checks import JobError
    from ddpm_studio.engine.jobs.race import RaceJob

    axes = {"scheduler": _values(args.schedulers, str), "steps": _values(args.steps, int),
            "guidance_scale": _values(args.guidance, float)}
    varied = [name for name, values in axes.items() if len(values) > 1]
    if len(varied) != 1:
        raise JobError("A race varies one thing: give several --schedulers, or several --steps, or several "
                       "--guidance values (comma-separated), and one value (or none) for the others.")
    base = base_job(args, *((axes[n] or [None])[0] for n in ("scheduler", "steps", "guidance_scale")))
    return RaceJob(base=base, field=varied[0], values=axes[varied[0]])


def cmd_race(args) -> int:
    from ddpm_studio.commands.progress import ProgressBar
    from ddpm_studio.commands.sample import addon_folders
    from ddpm_studio.engine.runner import Engine
    from ddpm_studio.engine.series.race import run_race
    from ddpm_studio.engine.series.race_export import export_race

    race = build_race(args)
    engine = Engine(device=args.device, allow_pickle=args.allow_pickle, precision=args.precision,
                    folders=addon_folders(args))
    bars: dict[int, ProgressBar] = {}

    def on_step(event) -> None:
        if event.lane not in bars:
            if bars:
                bars[event.lane - 1].close()
            print(f"lane {event.lane + 1}/{len(race.values)}: {race.label(race.values[event.lane])}", file=sys.stderr)
            bars[event.lane] = ProgressBar(sys.stderr)
        bars[event.lane].update(event)

    result = run_race(engine, race, on_step)
    if bars:
        bars[max(bars)].close()
    written = export_race(args.out, result, engine.device.label)
    for path in written["lanes"].values():
        print(path)
    for lane in result.lanes:
        rows = [r for r in lane.rows() if r["distance_to_final"] is not None]
        decided = next((r for r in rows if r["distance_to_final"] <= DECIDED), None)
        when = f"from step {decided['step']}/{decided['steps']} ({100 * decided['step'] // decided['steps']} %)" \
            if decided else "only at the end"
        print(f"{lane.label}: x0 within {DECIDED:g} of its final image {when}; {lane.result.seconds:.1f} s",
              file=sys.stderr)
    print(f"{written['gif'].name}, {written['webp'].name}, {written['contact_sheet'].name} and "
          f"{written['table'].name} written to {written['table'].parent}", file=sys.stderr)
    return 0
