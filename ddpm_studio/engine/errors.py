"""Turning an exception into what the user is told, as data: its kind, its message, and a fix it offers.

The kinds are defined here, once, and every consumer (the GUI's sampler thread, the CLI) reads them, never the wording
of a message:

- ``user``: the job or a file cannot be used as asked (a JobError, a ModelError and the errors built on them carry
  ``kind = USER``); the message says what to change, and no traceback is printed;
- ``non-finite``: the run gave NaN values; the message says where they began, and ``remedy`` may offer a fix;
- ``out-of-memory``: the device ran out of memory (the one place that recognises it: torch's error type, or the
  allocators' own words on devices whose errors are plain RuntimeErrors); the model is unloaded and the advice given;
- ``unexpected``: anything else, a bug: its type and message, and a traceback where it can be read.

An error may carry a ``remedy``: a fix the UI can offer as an action (a button that applies it and runs the job
again). Cancelling is not a failure: a cancelled run ends with a result marked cancelled.
"""

from __future__ import annotations

from dataclasses import dataclass

USER, NON_FINITE, OUT_OF_MEMORY, UNEXPECTED = "user", "non-finite", "out-of-memory", "unexpected"

VAE_FP32 = "vae-fp32"  # the fix for a half-precision VAE that overflows into NaN: the VAE in float32
REMEDIES = {VAE_FP32: "the VAE in fp32 (Settings → Preferences, or --vae-fp32)"}


class ModelError(Exception):
    """A model (or a file given as input) cannot be used; the message is for the user and names the path."""

    kind = USER  # said as it is, no traceback


def first_line(exc: BaseException, limit: int = 300) -> str:
    """An exception's first line (or its type's name), cut to ``limit``: enough to tell the user what went wrong."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:limit]


def remedy(exc: BaseException) -> str:
    """The fix ``exc`` offers as an action (one of ``REMEDIES``), or "" when it offers none."""
    value = getattr(exc, "remedy", "")
    return value if value in REMEDIES else ""


OUT_OF_MEMORY_ADVICE = (
    "The device ({device}) ran out of memory; the model was unloaded to free it. Try, in this order: a smaller batch "
    "or image size; VAE tiling and VAE slicing; on a CUDA GPU one offload: model CPU offload, else group offload, "
    "else sequential CPU offload (the least memory, the slowest); attention slicing (Stable Diffusion's UNet); fp16 "
    "precision; or close other programs that use the GPU. They are in Settings → Preferences → Memory, and on the "
    "command line --vae-tiling, --vae-slicing, --cpu-offload, --group-offload, --sequential-offload, "
    "--attention-slicing."
)
_OUT_OF_MEMORY_WORDS = ("out of memory", "can't allocate memory", "cannot allocate memory")  # CUDA, MPS; the CPU's


@dataclass(frozen=True)
class Failure:
    """A failed run as the user is told it: ``kind`` (one of the kinds above), ``message``, ``remedy`` ("" for none)."""

    kind: str
    message: str
    remedy: str = ""


def failure_kind(exc: BaseException) -> str:
    kind = getattr(exc, "kind", "")
    if kind in (USER, NON_FINITE):
        return kind
    if type(exc).__name__ == "OutOfMemoryError" or (isinstance(exc, (RuntimeError, MemoryError)) and any(
            words in str(exc).lower() for words in _OUT_OF_MEMORY_WORDS)):
        return OUT_OF_MEMORY
    return UNEXPECTED


def describe_failure(exc: BaseException, device: str = "") -> Failure:
    """What to tell the user about ``exc``, which ended a run on ``device``."""
    kind = failure_kind(exc)
    if kind == OUT_OF_MEMORY:
        return Failure(kind, OUT_OF_MEMORY_ADVICE.format(device=device or "GPU"))
    if kind == UNEXPECTED:
        return Failure(kind, f"Unexpected error ({type(exc).__name__}): {exc}")
    return Failure(kind, str(exc), remedy(exc))
