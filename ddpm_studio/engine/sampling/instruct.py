"""Instruction editing (Edit's instruct mode) on the flow families, beside InstructPix2Pix: Flux.1 Kontext
(FluxKontextPipeline), Flux.2 Klein's reference editing (Flux2KleinPipeline's ``image=`` pictures) and Qwen-Image-Edit
(QwenImageEditPipeline, QwenImageEditPlusPipeline). The model reads the picture to edit, and any reference pictures,
beside the prompt and denoises a new picture from noise; what differs from InstructPix2Pix's call is here (latent.py
builds the call, stages.py runs it, every step an event as for any run).

- The output has the input picture's size (on the 16-px grid of 2×2 latent patches): the call names it. Without it
  FluxKontextPipeline makes ``max_area`` (1024² by default) at the input's aspect ratio and first resizes the input to
  one of Kontext's preferred resolutions (``_auto_resize``); QwenImageEdit(Plus)Pipeline makes about 1 MP
  (``calculate_dimensions(1024 * 1024, ratio)``); Flux2KleinPipeline the first picture's size.
- Reference pictures, where the model takes them (the family table's ``Variant.references``), follow the picture to
  edit in the pipeline's ``image`` list, in the order the user gave them: Klein and Qwen-Image-Edit Plus name them
  "image 1, image 2 …" in that order.
- Kontext's and Qwen-Image-Edit's pipelines set their schedule by sigmas, which the flow DPM++ 2M does not take: an
  instruct run on a flow model runs with Euler then, and its note says so.
- Qwen-Image-Edit reads the pictures through transformers' Qwen2-VL processor, which (transformers 5.25) cannot be
  built without torchvision: a machine without it is told so by name before anything loads (``Variant.needs``).
No Qt.
"""

from __future__ import annotations

import importlib.util
import inspect

from ddpm_studio.engine.inputs import open_rgb
from ddpm_studio.engine.models.catalogue import ModelError

WHY_NEEDED = {"torchvision": "its pipeline reads the pictures through transformers' Qwen2-VL processor, which cannot "
                             "be built without torchvision"}


def missing_packages(variant) -> list[str]:
    """The packages ``variant``'s pipelines need that are not installed here."""
    return [name for name in (variant.needs if variant is not None else ()) if importlib.util.find_spec(name) is None]


def cannot_run_why(info) -> str:
    """Why this machine cannot run ``info``'s model ("" when it can): the packages its pipeline needs that are not
    installed, by name (the Edit panel shows it, the loader raises it)."""
    from ddpm_studio.engine.models.families import family_of_info

    family = family_of_info(info)
    variant = family.variant_named(info.family) if family is not None else None
    missing = missing_packages(variant)
    if not missing:
        return ""
    why = "; ".join(WHY_NEEDED.get(name, f"it needs {name}") for name in missing)
    return (f"{info.name} is a {family.name} edit model: {why}, and {' and '.join(missing)} is not installed on "
            f"this machine, so it cannot run here (install {' and '.join(missing)} built for the installed torch)")


def check_can_run(info) -> None:
    why = cannot_run_why(info)
    if why:
        raise ModelError(f"{info.path}: {why}.")


def check_references(info, family, job) -> None:
    """A job names no more reference pictures than its model takes (none outside instruct mode)."""
    references = tuple(getattr(job, "references", ()))
    if not references:
        return
    variant = family.variant_named(info.family) if family is not None else None
    most = variant.references if variant is not None and job.mode == "instruct" else 0
    if len(references) > most:
        what = (f"takes up to {most} reference picture{'s' * (most != 1)} besides the one to edit" if most else
                "takes no reference pictures besides the one to edit")
        name = family.name if family is not None else "this"
        raise ModelError(f"{info.name} ({name}) {what}; the job names {len(references)}: remove "
                         f"{len(references) - most} of them.")


def instruct_arguments(pipe, job, image) -> dict:
    """A flow model's instruct call's arguments besides the prompts and steps: the picture (with the references after
    it) and its size, as ``pipe``'s call takes them; ``image`` is the input already fitted to the latent grid (the
    references were counted by ``check_references``)."""
    references = [open_rgb(path, "reference image") for path in job.references]
    for path, picture in zip((job.image, *job.references), (image, *references)):
        _check_picture(pipe, path, picture)
    takes = inspect.signature(type(pipe).__call__).parameters
    args = dict(image=[image, *references] if references else image, height=image.height, width=image.width)
    if "max_area" in takes:  # Kontext: the input's area, so that its size is kept as it is
        args["max_area"] = image.height * image.width
    if "_auto_resize" in takes:  # … and the input not resized to one of its preferred resolutions first
        args["_auto_resize"] = False
    return args


def instruct_scheduler(run, scheduler):
    """A flow instruct run's scheduler: the job's where its ``set_timesteps`` takes sigmas (the Kontext and
    Qwen-Image-Edit pipelines pass their own), else Euler, and ``run.notes`` says so."""
    from ddpm_studio.engine.sampling.schedulers import build_scheduler, is_flow_config

    if not is_flow_config(run.config) or "sigmas" in inspect.signature(scheduler.set_timesteps).parameters:
        return scheduler
    run.notes.append(f"instruction editing on a flow-matching model sets its schedule by sigmas, which "
                     f"{run.job.scheduler} does not take: it ran with Euler")
    return build_scheduler("euler", run.config)


def _check_picture(pipe, path: str, picture) -> None:
    """A picture the pipeline's own image processor would refuse (Flux2KleinPipeline's ``check_image_input``: at
    least 64 px a side, at most 8:1), refused first with its file's name."""
    check = getattr(getattr(pipe, "image_processor", None), "check_image_input", None)
    if check is None:
        return
    try:
        check(picture)
    except ValueError as exc:
        raise ModelError(f"{path} ({picture.width}×{picture.height} on the model's 16-px grid) cannot be read by "
                         f"{type(pipe).__name__}: {exc}.") from None
