"""Values read from a picture's metadata as the gallery index stores them: a whole number SQLite can hold, a number,
else None (the value is dropped, the picture still indexed). No Qt."""

from __future__ import annotations

MAX_SQLITE_INT, MIN_SQLITE_INT = 2**63 - 1, -(2**63)  # what an INTEGER column holds


def as_int(value) -> int | None:
    """A whole number SQLite can store (64 bits), else None."""
    try:
        number = int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(float("inf"))
        return None
    return number if number is None or MIN_SQLITE_INT <= number <= MAX_SQLITE_INT else None


def as_float(value) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError, OverflowError):  # OverflowError: an integer past 1e308
        return None
