"""A job's ControlNet fields: the preprocessors a control image may name, the limits, the checks, and the units as
A1111's ControlNet extension writes them into the parameters. Plain values, no image work (that is
``control/preprocess.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ddpm_studio.engine.jobs.checks import JobError, check_float, check_int

PREPROCESSORS = ("none", "canny", "scribble", "invert")
MAX_CONTROLNETS = 4
MAX_CONTROL_WEIGHT = 2.0


def preprocessor_of(job, number: int) -> str:
    """The preprocessor of control image ``number``: its own, else the only one given for all, else none."""
    names = job.control_preprocess
    if number < len(names):
        return names[number]
    return names[0] if len(names) == 1 else "none"


def check_control_fields(job) -> None:
    if not job.controlnets and not job.control_images:
        return
    if job.kind == "upscale" or getattr(job, "mode", "") == "instruct":
        raise JobError("ControlNet steers Text to Image and Edit's img2img, inpaint and outpaint; not "
                       f"{'an upscale' if job.kind == 'upscale' else 'instruct edits'}.")
    if len(job.controlnets) > MAX_CONTROLNETS:
        raise JobError(f"At most {MAX_CONTROLNETS} ControlNets at once; got {len(job.controlnets)}.")
    for unit in job.controlnets:
        if not (isinstance(unit, tuple) and len(unit) == 4 and isinstance(unit[0], str) and unit[0].strip()):
            raise JobError(f"A ControlNet is (file or name, weight, start, end), not {unit!r}.")
        name, weight, start, end = unit
        name = Path(name).name  # the ControlNet's name, as its list shows it
        check_float(f"weight of the ControlNet {name}", weight, 0.0, MAX_CONTROL_WEIGHT)
        check_float(f"start of the ControlNet {name}", start, 0.0, 1.0)
        check_float(f"end of the ControlNet {name}", end, 0.0, 1.0)
        if start >= end:
            raise JobError(f"The ControlNet {name} must start before it ends (start {start}, end {end}).")
    if len(job.control_images) != len(job.controlnets):
        raise JobError(f"Each ControlNet needs its control image, in order: {len(job.controlnets)} ControlNet(s), "
                       f"{len(job.control_images)} image(s).")
    if not all(isinstance(path, str) and path for path in job.control_images):
        raise JobError("A control image must be a file path.")
    for name in job.control_preprocess:
        if name not in PREPROCESSORS:
            raise JobError(f"Unknown control preprocessor '{name}'. Choose one of: {', '.join(PREPROCESSORS)}.")
    if len(job.control_preprocess) not in (0, 1, len(job.controlnets)):
        raise JobError("Give one preprocessor for all control images, or one each.")
    if not (isinstance(job.canny_thresholds, tuple) and len(job.canny_thresholds) == 2):
        raise JobError("The canny thresholds are two numbers: low, high.")
    for label, value in zip(("low", "high"), job.canny_thresholds):
        check_int(f"canny {label} threshold", value, 0, 255)
    if job.canny_thresholds[0] > job.canny_thresholds[1]:
        raise JobError(f"The canny low threshold ({job.canny_thresholds[0]}) must not be above the high one "
                       f"({job.canny_thresholds[1]}).")


def control_a1111_fields(job) -> list[tuple[str, Any]]:
    """``ControlNet 0: "Module: canny, Model: NAME, Weight: 1, Guidance Start: 0, Guidance End: 1"``, as A1111's
    ControlNet extension writes each unit."""
    fields = []
    for number, (name, weight, start, end) in enumerate(job.controlnets):
        model = Path(name).stem if name.endswith((".safetensors", ".pth", ".ckpt")) else Path(name).name
        fields.append((f"ControlNet {number}", f"Module: {preprocessor_of(job, number)}, Model: {model}, "
                                               f"Weight: {weight:g}, Guidance Start: {start:g}, Guidance End: {end:g}"))
    return fields
