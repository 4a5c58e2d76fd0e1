"""Turning a library's exception into a line the user can read, and the fixes an error offers as data.

An engine error may carry a ``remedy``: a fix the UI can offer as an action (a button that applies it and runs the
job again). The UI reads the remedy, never the wording of the message.
"""

from __future__ import annotations

VAE_FP32 = "vae-fp32"  # the fix for a half-precision VAE that overflows into NaN: the VAE in float32
REMEDIES = {VAE_FP32: "the VAE in fp32 (Settings → Preferences, or --vae-fp32)"}


def first_line(exc: BaseException, limit: int = 300) -> str:
    """An exception's first line (or its type's name), cut to ``limit``: enough to tell the user what went wrong."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:limit]


def remedy(exc: BaseException) -> str:
    """The fix ``exc`` offers as an action (one of ``REMEDIES``), or "" when it offers none."""
    value = getattr(exc, "remedy", "")
    return value if value in REMEDIES else ""
