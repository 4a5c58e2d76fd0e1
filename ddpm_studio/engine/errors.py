"""Turning a library's exception into a line the user can read."""

from __future__ import annotations


def first_line(exc: BaseException, limit: int = 300) -> str:
    """An exception's first line (or its type's name), cut to ``limit``: enough to tell the user what went wrong."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:limit]
