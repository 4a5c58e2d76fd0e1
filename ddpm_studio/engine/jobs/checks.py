"""What a job's values may be: the limits (which the widgets read too, so a bound is written once), the error a
bad value raises, and the checks every job type and the control fields use. No torch, no Qt."""

from __future__ import annotations

from typing import Any

from ddpm_studio.engine.errors import USER

MAX_STEPS = 1000
MAX_BATCH = 64
MAX_SEED = 2**32 - 1
MIN_SIDE, MAX_SIDE = 32, 2048
SIDE_STEP = 8  # a latent picture's sides go by the VAE's 8×8 blocks
MIN_AUTOGUIDANCE, MAX_AUTOGUIDANCE = 0.0, 10.0  # 1: the model alone; 0: the guide alone; >1: away from the guide
EDIT_MODES = ("img2img", "inpaint", "instruct", "outpaint")
OUTPAINT_FILLS = ("edge", "noise")  # engine/sampling/outpaint.py
MAX_FEATHER = 256
PREDICTION_TYPES = ("auto", "epsilon", "v_prediction")  # auto: the model's own (an SD 2.x file's: detected)
MAX_CLIP_SKIP = 4  # A1111's "Clip skip": 1 is the text encoder's last layer, 2 the one before, …
MAX_GUIDANCE = 50.0  # classifier-free guidance and InstructPix2Pix's image guidance: 0 … 50
MIN_HIRES_SCALE, MAX_HIRES_SCALE = 1.0, 4.0  # a hires fix's enlargement (1: no hires fix; the panel's box starts above)
MAX_LORA_WEIGHT = 10.0  # either sign: a negative weight pushes away from what the LoRA learnt, as in A1111


class JobError(ValueError):
    """A job's parameters are invalid; the message is meant for the user."""

    kind = USER  # said as it is, no traceback (engine/errors.py)


def check_int(label: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise JobError(f"The {label} must be a whole number, not {value!r}.")
    if not low <= value <= high:
        raise JobError(f"The {label} must be between {low} and {high}; got {value}.")


def check_float(label: str, value: Any, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise JobError(f"The {label} must be a number, not {value!r}.")
    if not low <= value <= high:
        raise JobError(f"The {label} must be between {low} and {high}; got {value}.")
