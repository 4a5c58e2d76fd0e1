"""A latent picture's sides: the nearest a model takes, what is wrong with one, and the size a hires fix makes (the
size fields read these as the jobs check them). No torch, no Qt."""

from __future__ import annotations

from ddpm_studio.engine.jobs.checks import MAX_SIDE, MIN_SIDE, SIDE_STEP


def snap_side(value: int) -> int:
    """The side a latent model takes nearest to ``value``: a multiple of SIDE_STEP from MIN_SIDE to MAX_SIDE."""
    return min(MAX_SIDE, max(MIN_SIDE, int(value / SIDE_STEP + 0.5) * SIDE_STEP))


def side_problem(value: int) -> str | None:
    """Why ``value`` is not a side a latent model takes, in a few words; None when it is one."""
    if value < MIN_SIDE:
        return f"at least {MIN_SIDE} px"
    if value > MAX_SIDE:
        return f"at most {MAX_SIDE} px"
    return f"sizes go by {SIDE_STEP} px" if value % SIDE_STEP else None


def hires_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """A hires fix's result: the first pass's size × ``scale``, down to the sides' step."""
    return int(width * scale) // SIDE_STEP * SIDE_STEP, int(height * scale) // SIDE_STEP * SIDE_STEP


def hires_problem(width: int, height: int, scale: float) -> str | None:
    """Why a hires fix of ``scale`` from ``width`` × ``height`` cannot run, in a sentence; None when it can."""
    result = hires_size(width, height, scale)
    if result == (width, height):
        return (f"A hires fix of ×{scale:g} leaves {width}×{height} as it is (sizes go by {SIDE_STEP} pixels); "
                "choose a larger factor.")
    if max(result) > MAX_SIDE:
        return f"The hires fix would make {result[0]}×{result[1]}; at most {MAX_SIDE} a side."
    return None
