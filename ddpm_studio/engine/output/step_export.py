"""A run's steps as files: an animated GIF and WebP, a contact sheet, and a folder of frames. No torch, no Qt.

A frame shows one kept step: x_t and the predicted x0 side by side (each a grid of the batch), enlarged with nearest
neighbour so small previews stay crisp, over a caption line with the step, the timestep and the noise level. The last
frame of a finished run is its result x_0 (``StepEvent.final``), scaled to the width of the other frames (a latent
model's previews are smaller than its result), so that every frame of an animation has one size.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ddpm_studio.engine.events import StepEvent
from ddpm_studio.engine.output.grid import image_grid

VIEWS = ("both", "x_t", "x0", "change")
CAPTION_HEIGHT = 14
MIN_FRAME_SIDE = 256  # frames are enlarged by whole factors until the picture is at least this wide


def caption(event: StepEvent) -> str:
    if event.final:
        return f"x_0: the result, after {event.total} steps"
    level = ""
    if event.noise_level is not None:
        symbol = "alpha_bar" if event.noise_kind == "alpha_bar" else "sigma"  # ASCII: Pillow's built-in font has no Greek
        level = f"  {symbol}={event.noise_level:.3g}"
    return f"step {event.index + 1}/{event.total}  t={event.timestep:.0f}{level}"


def change_image(event: StepEvent, previous: StepEvent | None) -> np.ndarray | None:
    """What a step changed: |x_t − x_t of the step before| per pixel, stretched so the largest change is white."""
    if event.x_t is None:
        return None
    if previous is None or previous.x_t is None or previous.x_t.shape != event.x_t.shape:
        return np.zeros_like(event.x_t)
    diff = np.abs(event.x_t.astype(np.int16) - previous.x_t.astype(np.int16)).astype(np.float32)
    peak = float(diff.max())
    return (diff * (255.0 / peak)).round().astype(np.uint8) if peak > 0 else diff.astype(np.uint8)


def frame_image(event: StepEvent, view: str = "both", previous: StepEvent | None = None,
                width: int | None = None) -> np.ndarray:
    """One step as an (H, W, 3) uint8 picture: the chosen view(s), enlarged (or to ``width``), with a caption above."""
    if view not in VIEWS:
        raise ValueError(f"unknown view '{view}': one of {', '.join(VIEWS)}")
    parts = {"x_t": event.x_t, "x0": event.x0, "change": change_image(event, previous)}
    chosen = ["x_t", "x0"] if view == "both" else [view]
    grids = [image_grid(parts[name], pad=2, background=40) for name in chosen if parts[name] is not None]
    if not grids:
        raise ValueError(f"step {event.index + 1} has no {view} preview")
    height = max(g.shape[0] for g in grids)
    grids = [np.pad(g, ((0, height - g.shape[0]), (0, 0), (0, 0)), constant_values=40) for g in grids]
    gap = np.full((height, 4, 3), 40, np.uint8)
    body = np.concatenate([x for g in grids for x in (g, gap)][:-1], axis=1)
    scale = max(1, math.ceil(MIN_FRAME_SIDE / body.shape[1]))
    body = body.repeat(scale, axis=0).repeat(scale, axis=1)
    if width is not None and width != body.shape[1]:
        height = max(1, round(body.shape[0] * width / body.shape[1]))
        shrink = Image.Resampling.LANCZOS if width < body.shape[1] else Image.Resampling.NEAREST
        body = np.asarray(Image.fromarray(body).resize((width, height), shrink))
    picture = Image.new("RGB", (body.shape[1], body.shape[0] + CAPTION_HEIGHT), (20, 20, 20))
    picture.paste(Image.fromarray(body), (0, CAPTION_HEIGHT))
    ImageDraw.Draw(picture).text((3, 1), caption(event), fill=(230, 230, 230))
    return np.asarray(picture)


def frames(events: list[StepEvent], view: str = "both") -> list[np.ndarray]:
    """Every event as a frame, all of one size (the first frame's; taller ones are cut, shorter ones padded)."""
    rendered = [frame_image(events[0], view)] if events else []
    width = rendered[0].shape[1] if rendered else None
    rendered += [frame_image(e, view, events[i], width) for i, e in enumerate(events[1:])]
    return _same_height(rendered)


def _same_height(pictures: list[np.ndarray]) -> list[np.ndarray]:
    if not pictures:
        return pictures
    height = pictures[0].shape[0]
    return [p[:height] if p.shape[0] >= height else np.pad(p, ((0, height - p.shape[0]), (0, 0), (0, 0)),
                                                           constant_values=20) for p in pictures]


def _pil(frames_: list[np.ndarray]) -> list[Image.Image]:
    if not frames_:
        raise ValueError("there are no steps to export (previews were off for this run)")
    return [Image.fromarray(f) for f in frames_]


def save_gif(path: str | Path, frames_: list[np.ndarray], fps: float = 12.0, hold_last_ms: int = 1500) -> Path:
    """One GIF frame per kept step, the last held a little longer."""
    images = _pil(frames_)
    durations = [int(1000 / fps)] * len(images)
    durations[-1] = max(durations[-1], hold_last_ms)
    images[0].save(path, save_all=True, append_images=images[1:], duration=durations, loop=0, optimize=False, disposal=1)
    return Path(path)


def save_webp(path: str | Path, frames_: list[np.ndarray], fps: float = 12.0, hold_last_ms: int = 1500) -> Path:
    images = _pil(frames_)
    durations = [int(1000 / fps)] * len(images)
    durations[-1] = max(durations[-1], hold_last_ms)
    images[0].save(path, save_all=True, append_images=images[1:], duration=durations, loop=0, lossless=True)
    return Path(path)


def contact_sheet(events: list[StepEvent], every: int = 0, columns: int = 5, view: str = "x0") -> np.ndarray:
    """Every ``every``-th kept step (0: about 20 in all, always with the last), each labelled, on one sheet."""
    if not events:
        raise ValueError("there are no steps to export (previews were off for this run)")
    every = every or max(1, math.ceil(len(events) / 20))
    picked = list(range(0, len(events), every))
    if picked[-1] != len(events) - 1:
        picked.append(len(events) - 1)
    first = frame_image(events[picked[0]], view)
    tiles = [first] + [frame_image(events[i], view, events[i - 1], first.shape[1]) for i in picked[1:]]
    height = max(t.shape[0] for t in tiles)
    width = max(t.shape[1] for t in tiles)
    tiles = [np.pad(t, ((0, height - t.shape[0]), (0, width - t.shape[1]), (0, 0)), constant_values=20) for t in tiles]
    return image_grid(np.stack(tiles), pad=6, background=20, border=True)


def save_frames(folder: str | Path, frames_: list[np.ndarray], events: list[StepEvent]) -> list[Path]:
    """frame-NNNN-tTTTT.png per kept step (NNNN: the model call, TTTT: the timestep)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for frame, event in zip(frames_, events):
        when = "result" if event.final else f"t{int(round(event.timestep)):04d}"
        path = folder / f"frame-{event.index + 1:04d}-{when}.png"
        Image.fromarray(frame).save(path)
        paths.append(path)
    return paths


def export_run(folder: str | Path, events: list[StepEvent], view: str = "both") -> dict[str, Path]:
    """Everything at once, as ``--save-steps`` writes it: frames/, steps.gif, steps.webp, contact-sheet.png."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rendered = frames(events, view)
    out = {"gif": save_gif(folder / "steps.gif", rendered), "webp": save_webp(folder / "steps.webp", rendered)}
    sheet = folder / "contact-sheet.png"
    Image.fromarray(contact_sheet(events)).save(sheet)
    out["contact_sheet"] = sheet
    save_frames(folder / "frames", rendered, events)
    out["frames"] = folder / "frames"
    return out
