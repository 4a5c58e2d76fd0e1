"""``generate``, ``txt2img``, ``edit`` and ``upscale``: build the job from the flags, run it on the engine with a
text progress bar, print the saved paths; ``--save-steps`` also writes the run's steps."""

from __future__ import annotations

import random
import sys
from pathlib import Path

from ddpm_studio.commands.progress import ProgressBar


def default_model_ref() -> str:
    from ddpm_studio.engine.models.catalogue import list_models

    bundled = list_models([])
    if not bundled:
        raise ValueError("No bundled model is installed here; pass --model with a pipeline folder or a cached hub id.")
    return bundled[0].ref


def recommended(model_ref: str) -> dict:
    """The model's recommended scheduler, steps and guidance: its family's, overridden by its folder's
    (``engine/models/defaults.py``); {} when it has none or the reference does not resolve (loading the model
    reports that properly)."""
    from ddpm_studio.engine.models.catalogue import ModelError, inspect_model, resolve
    from ddpm_studio.engine.models.defaults import read_defaults, recommended_settings

    try:
        return recommended_settings(inspect_model(model_ref))
    except ModelError:
        try:
            return read_defaults(resolve(model_ref), model_ref)
        except ModelError:
            return {}


def _common_job_fields(args, model_ref: str, defaults: dict | None = None) -> dict:
    """The fields every sampling command sets; ``defaults``: the model's ``recommended`` settings when the caller
    has read them already."""
    from ddpm_studio.commands.scheduling import job_scheduler
    from ddpm_studio.engine.jobs.scheduler_table import DEFAULT_SCHEDULER, DEFAULT_STEPS
    from ddpm_studio.paths import default_output_dir

    if defaults is None:
        defaults = recommended(model_ref) if args.scheduler is None or args.steps is None else {}
    return dict(
        model=model_ref,
        **job_scheduler(args, defaults, DEFAULT_SCHEDULER),  # --scheduler dpm++2m-karras: DPM++ 2M, Karras
        steps=args.steps if args.steps is not None else defaults.get("steps", DEFAULT_STEPS),
        seed=random.randrange(2**32) if args.seed is None else args.seed,
        batch_size=args.batch,
        preview_every=1 if getattr(args, "save_steps", None) else 0,
        output_dir=str(Path(args.out or default_output_dir()).expanduser()),
        **_variation_fields(args),
    )


def _variation_fields(args) -> dict:
    """--variation-seed and --variation-strength (generate and txt2img): a strength without a seed draws one at
    random, as A1111 does; a seed without any strength would do nothing and is refused. An explicit strength 0 is
    taken (a sweep from 0 to 1 starts there): it is the seed's own picture."""
    strength, seed = getattr(args, "variation_strength", None), getattr(args, "variation_seed", None)
    if strength is None:
        if seed is not None:
            raise ValueError(f"--variation-seed {seed} does nothing without --variation-strength S (0 … 1).")
        return {}
    if seed is None:
        seed = random.randrange(2**32) if strength else 0
    return dict(variation_seed=seed, variation_strength=strength)


def _prompt_fields(args) -> dict:
    extra = {}
    model = args.model
    if hasattr(args, "prediction"):  # txt2img and edit: clip skip and add-ons
        extra = {"prediction_type": args.prediction, "clip_skip": args.clip_skip, "vae": args.vae,
                 "loras": tuple(lora_argument(text) for text in args.lora),
                 "attention_maps": bool(args.attention_maps), **control_fields(args)}
        model = home_checkpoint(args.models_home, model) if args.models_home else model
        extra.update(split_fields(args, model))
    unset = None in (args.guidance, args.scheduler, args.steps)
    defaults = recommended(model) if unset else {}  # read once for the guidance, scheduler and steps
    if unset and extra.get("loras"):  # a few-step LoRA's preset (Lightning, Hyper-SD, DMD2, LCM) over the model's
        from ddpm_studio.commands.scheduling import lora_defaults

        defaults = lora_defaults(extra["loras"], defaults, model)
    guidance = args.guidance if args.guidance is not None else defaults.get("guidance_scale", args.guidance_default)
    if getattr(args, "true_cfg", 1.0) != 1.0:  # txt2img: Flux's true CFG
        extra["true_cfg_scale"] = args.true_cfg
    prompt, negative = styled_prompts(args)
    return dict(prompt=prompt, negative_prompt=negative, guidance_scale=guidance,
                **extra, **_common_job_fields(args, model, defaults))


def styled_prompts(args) -> tuple[str, str]:
    """``--prompt`` and ``--negative`` with each ``--style`` applied in order (A1111's styles.csv: ``--styles`` files,
    then the models home's); the job holds the applied text."""
    names = list(getattr(args, "style", None) or [])
    if not names:
        return args.prompt, args.negative
    from ddpm_studio.engine.prompts.styles import apply_styles, chosen, home_styles_file, read_styles

    files = list(getattr(args, "styles", None) or [])
    if getattr(args, "models_home", None):
        from ddpm_studio.engine.models.home import models_home

        home = home_styles_file(models_home(args.models_home).root)
        files += [home] if home else []
    available = {}
    for path in files:  # a file given that cannot be read is an error: it was asked for
        available.update(read_styles(path))
    return apply_styles(args.prompt, args.negative, chosen(available, names, files))


def control_fields(args) -> dict:
    """--controlnet PATH:WEIGHT[:START:END] (repeatable), --control-image FILE (one each, in order),
    --control-preprocess (one for all, or one each) and --canny LOW,HIGH."""
    units = tuple(controlnet_argument(text) for text in args.controlnet)
    if not units and not args.control_image:
        return {}
    try:
        low, high = (int(v) for v in args.canny.split(","))
    except ValueError:
        raise ValueError(f"--canny must be two whole numbers LOW,HIGH; got '{args.canny}'.") from None
    return dict(controlnets=units, control_images=tuple(args.control_image),
                control_preprocess=tuple(args.control_preprocess), canny_thresholds=(low, high))


def controlnet_argument(text: str) -> tuple[str, float, float, float]:
    """``PATH:WEIGHT[:START:END]`` → (path or name, weight, start, end); the numbers may be left out (1, 0, 1)."""
    parts = text.split(":")
    numbers: list[float] = []
    while parts and len(numbers) < 3 and len(parts) > 1:
        try:
            numbers.insert(0, float(parts[-1]))
        except ValueError:
            break
        parts.pop()
    if len(numbers) == 2:  # PATH:START:END is not a form: the first number is the weight
        raise ValueError(f"--controlnet {text}: give PATH:WEIGHT or PATH:WEIGHT:START:END.")
    weight, start, end = (numbers + [1.0, 0.0, 1.0][len(numbers):]) if numbers else (1.0, 0.0, 1.0)
    return ":".join(parts), weight, start, end


def lora_argument(text: str) -> tuple[str, float]:
    """``PATH_OR_NAME:WEIGHT`` (the weight may be left out: 1) → (path or name, weight)."""
    head, colon, tail = text.rpartition(":")
    if colon and head:
        try:
            return head, float(tail)
        except ValueError:
            pass
    return text, 1.0


def home_checkpoint(home: str, model: str) -> str:
    """``model`` as given if it is a path, else a checkpoint of that name in the models home's checkpoint folders."""
    from ddpm_studio.engine.models.home import models_home

    if Path(model).expanduser().exists() or ":" in model or "/" in model:
        return model
    found = models_home(home)
    for folder in found.checkpoints + found.diffusion_models:
        for candidate in sorted(Path(folder).rglob("*")):
            if model in (candidate.name, candidate.stem) and (candidate.suffix in (".safetensors", ".gguf") or
                                                               (candidate / "model_index.json").is_file()):
                return str(candidate)
    from ddpm_studio.engine.models.catalogue import ModelError

    raise ModelError(f"No model named '{model}' here, nor among the checkpoints of the models home {home}.")


def split_fields(args, model: str) -> dict:
    """A diffusion-model file's text encoders and VAE: the files named (--text-encoder, --vae), and for the parts
    they leave open, the files the models home pairs it with (--models-home, else the ComfyUI folder the file is
    in). {} for any other model; --text-encoder with one is refused."""
    from ddpm_studio.engine.models.catalogue import ModelError, inspect_model

    text = tuple(getattr(args, "text_encoder", []))
    try:
        info = inspect_model(model, args.allow_pickle)
    except ModelError:
        info = None  # loading the model says what is wrong with it
    if info is None or not info.split:
        if text:
            raise ValueError("--text-encoder is for a diffusion-model file (SD 3.5, Flux.1); "
                             f"{model} holds its own text encoders.")
        return {}
    from ddpm_studio.engine.models.home import home_above, models_home

    home = models_home(args.models_home) if args.models_home else home_above(info.path)
    if home is not None:
        from ddpm_studio.engine.models.pairing import pair_in_home

        pairing = pair_in_home(info.path, home)
        given = assign_given(info.path, text) if text else {}
        paired = {part: path for part, path in pairing.chosen if part != "vae" and part not in given}
        text = tuple(given.values()) + tuple(paired.values())
        return dict(text_encoders=text, vae=args.vae or pairing.vae)
    return dict(text_encoders=text, vae=args.vae)


def assign_given(model: Path, text: tuple[str, ...]) -> dict[str, str]:
    """Text part → the file named for it."""
    from ddpm_studio.engine.models.families import BY_KEY
    from ddpm_studio.engine.models.pairing import split_facts
    from ddpm_studio.engine.models.single_file import config_folder
    from ddpm_studio.engine.models.split_files import assign, text_files

    facts = split_facts(model)
    chosen = assign(BY_KEY[facts.family], config_folder(facts.config), facts, text_files(text))
    return {part: str(found.path) for part, found in chosen.items() if found.path != model}


def addon_folders(args):
    """Where the engine finds LoRAs, embeddings and VAEs named by name: the flags' folders, then the models home's."""
    from ddpm_studio.engine.addons.resources import AddonFolders
    from ddpm_studio.engine.models.home import models_home

    folders = AddonFolders(loras=list(getattr(args, "lora_dir", [])), embeddings=list(getattr(args, "embeddings", [])),
                           vaes=list(getattr(args, "vae_dir", [])),
                           controlnets=list(getattr(args, "controlnet_dir", [])),
                           wildcards=list(getattr(args, "wildcards", [])))
    if getattr(args, "models_home", None):
        home = models_home(args.models_home)
        folders.loras += home.loras
        folders.embeddings += home.embeddings
        folders.vaes += home.vaes
        folders.controlnets += home.controlnets
        folders.wildcards += home.wildcards
    return folders


def cmd_generate(args) -> int:
    from ddpm_studio.engine.jobs.types import GenerateJob

    fields = _common_job_fields(args, args.model or default_model_ref())
    return run_job(args, GenerateJob(**fields, **_autoguidance_fields(args, fields["model"])))


def _autoguidance_fields(args, model_ref: str) -> dict:
    """--guide and --autoguidance, each defaulting to the model's recommendation; a scale of 1 turns it off."""
    defaults = recommended(model_ref) if args.guide is None or args.autoguidance is None else {}
    guide = args.guide if args.guide is not None else defaults.get("guide_model", "")
    scale = args.autoguidance if args.autoguidance is not None else defaults.get("guidance_scale")
    if scale is None:
        if guide:
            raise ValueError(f"--guide {guide}: say how strongly with --autoguidance W (1 is off; try 2).")
        scale = 1.0
    return dict(guide_model=guide if scale != 1.0 else "", guidance_scale=scale)


def cmd_txt2img(args) -> int:
    from ddpm_studio.engine.jobs.types import Text2ImageJob

    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size must look like 512x768 (width x height); got '{args.size}'.") from None
    hires = dict(hires_scale=args.hires, hires_strength=args.hires_strength, hires_upscaler=args.hires_upscaler,
                 hires_steps=args.hires_steps)
    return run_job(args, Text2ImageJob(width=width, height=height, **hires, **_prompt_fields(args)))


def cmd_edit(args) -> int:
    from ddpm_studio.engine.jobs.types import EditJob

    try:
        extend = tuple(int(part) for part in args.extend.split(","))
    except ValueError:
        raise ValueError(f"--extend must be four whole numbers LEFT,RIGHT,TOP,BOTTOM; got '{args.extend}'.") from None
    job = EditJob(mode=args.mode, image=args.image, mask=args.mask, strength=args.strength,
                  image_guidance_scale=args.image_guidance, extend=extend, outpaint_fill=args.outpaint_fill,
                  feather=args.feather, references=tuple(args.reference), **_prompt_fields(args))
    return run_job(args, job)


def cmd_upscale(args) -> int:
    from ddpm_studio.engine.jobs.upscale_job import UpscaleJob

    job = UpscaleJob(image=args.image, noise_level=args.noise_level, tile=args.tile, overlap=args.overlap,
                     redraw=args.redraw, strength=args.strength, redraw_tile=args.redraw_tile, **_prompt_fields(args))
    return run_job(args, job)


def make_engine(args):
    from ddpm_studio.engine.runner import Engine
    from ddpm_studio.engine.runtime.options import MemoryOptions

    memory = MemoryOptions(**{name: bool(getattr(args, name, False)) for name in MemoryOptions.__dataclass_fields__})
    return Engine(device=args.device, allow_pickle=args.allow_pickle, precision=getattr(args, "precision", "auto"),
                  memory=memory, folders=addon_folders(args))


def run_job(args, job) -> int:
    if getattr(args, "count", None):
        from ddpm_studio.commands.count import run_count

        return run_count(args, job, make_engine(args))
    if getattr(args, "seed_walk", None):
        from ddpm_studio.commands.seed_walk import run_seed_walk

        return run_seed_walk(args, job, make_engine(args))
    engine = make_engine(args)
    bar = ProgressBar(sys.stderr)
    history = None
    attention = [] if getattr(args, "attention_maps", None) else None
    if getattr(args, "save_steps", None):
        from ddpm_studio.engine.history import StepHistory

        history = StepHistory()

    def on_step(event) -> None:
        if history is not None:
            history.add(event)
        if attention is not None and event.attention is not None:
            attention.append(event)
        bar.update(event)

    result = engine.run(job, on_step=on_step)
    bar.close()
    if result.note:
        print(f"{result.job.model}: {result.note}", file=sys.stderr)
    used = result.addons
    for note in used.notes if used is not None else ():  # embedding files that could not be read, and why
        print(f"note: {note}", file=sys.stderr)
    if used is not None and (used.loras or used.embeddings):
        names = [f"LoRA {name} ({weight:g})" for name, weight, _ in used.loras] + \
                [f"embedding {name}" for name, _ in used.embeddings]
        print("used: " + ", ".join(names), file=sys.stderr)
    for path in result.saved_paths:
        print(path)
    if attention is not None and not result.cancelled:
        from ddpm_studio.engine.inspect.attention_export import export_attention

        maps = export_attention(args.attention_maps, attention, result.images[0])
        print(f"attention maps of {', '.join(p.stem for p in maps)} written to {Path(args.attention_maps)}",
              file=sys.stderr)
    if history is not None and not result.cancelled:
        from ddpm_studio.engine.output.step_export import export_run

        kept = history.frames()
        written = export_run(args.save_steps, kept)
        thinned = " (fewer steps kept, to stay within the memory budget)" if history.thinned else ""
        steps = sum(not event.final for event in kept)
        print(f"{steps} step(s) and the result written to {Path(args.save_steps)}: {written['gif'].name}, "
              f"{written['webp'].name}, {written['contact_sheet'].name}, frames/{thinned}", file=sys.stderr)
    print(
        f"{len(result.saved_paths)} image(s), {result.steps_run} steps, {result.seconds:.1f} s on {engine.device.label}",
        file=sys.stderr,
    )
    return 0
