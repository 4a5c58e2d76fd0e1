"""A finished race as files, as ``ddpm-studio race`` writes them. No torch, no Qt.

- ``<lane>.png``: each lane's final image (``ddim.png``, ``steps-25.png``, ``guidance-7.5.png``) with the metadata
  of a normal run, so it restores like any of our images;
- ``race.gif`` and ``race.webp``: the lanes side by side (x_t beside x̂0, the lane's name above), stepped together by
  fraction of the run, so a 25-step and a 50-step lane line up at 50 %; the last frame is every lane's result;
- ``contact-sheet.png``: a row per lane, x̂0 at evenly spaced fractions of its run and its result;
- ``race.csv``: per lane and step, the timestep, the noise level and the distance of x̂0 to the lane's final image.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ddpm_studio.engine.events import StepEvent
from ddpm_studio.engine.output.metadata import png_info
from ddpm_studio.engine.output.step_export import frame_image, save_gif, save_webp
from ddpm_studio.engine.series.race import Lane, RaceResult

LABEL_HEIGHT = 14
SHEET_COLUMNS = 6  # fractions of each run on the contact sheet, besides its result
CSV_FIELDS = ("lane", "step", "steps", "timestep", "noise_level", "distance_to_final")


def at_fraction(lane: Lane, fraction: float) -> StepEvent:
    """The lane's kept step nearest to ``fraction`` of its run (1: its result)."""
    if fraction >= 1.0 and lane.steps[-1].final:
        return lane.steps[-1]
    steps = [e for e in lane.steps if not e.final] or lane.steps
    wanted = fraction * steps[0].total - 1
    return min(steps, key=lambda e: (abs(e.index - wanted), e.index))


def labelled(picture: np.ndarray, text: str) -> np.ndarray:
    canvas = Image.new("RGB", (picture.shape[1], picture.shape[0] + LABEL_HEIGHT), (45, 45, 60))
    canvas.paste(Image.fromarray(picture), (0, LABEL_HEIGHT))
    ImageDraw.Draw(canvas).text((3, 1), text, fill=(255, 230, 150))
    return np.asarray(canvas)


def side_by_side(pictures: list[np.ndarray], gap: int = 6) -> np.ndarray:
    height = max(p.shape[0] for p in pictures)
    padded = [np.pad(p, ((0, height - p.shape[0]), (0, 0), (0, 0)), constant_values=20) for p in pictures]
    spacer = np.full((height, gap, 3), 20, np.uint8)
    return np.concatenate([x for p in padded for x in (p, spacer)][:-1], axis=1)


def _width(lanes: list[Lane]) -> int:
    return frame_image(lanes[0].steps[0]).shape[1]


def race_frames(race: RaceResult, count: int = 0) -> list[np.ndarray]:
    """The animation: ``count`` frames (default: the longest lane's kept steps), then every lane's result."""
    lanes = race.lanes
    count = count or max(sum(not e.final for e in lane.steps) for lane in lanes)
    width = _width(lanes)
    out = []
    for k in range(1, count + 1):
        fraction = k / count if k < count else 0.999  # the last step before the results
        out.append(side_by_side([labelled(frame_image(at_fraction(lane, fraction), width=width), lane.label)
                                 for lane in lanes]))
    out.append(side_by_side([labelled(frame_image(at_fraction(lane, 1.0), width=width), lane.label)
                             for lane in lanes]))
    return _same_size(out)


def _same_size(pictures: list[np.ndarray]) -> list[np.ndarray]:
    height = max(p.shape[0] for p in pictures)
    width = max(p.shape[1] for p in pictures)
    return [np.pad(p, ((0, height - p.shape[0]), (0, width - p.shape[1]), (0, 0)), constant_values=20)
            for p in pictures]


def contact_sheet(race: RaceResult, columns: int = SHEET_COLUMNS) -> np.ndarray:
    """A row per lane: x̂0 at 1/columns … columns/columns of its run, then its result."""
    width = frame_image(race.lanes[0].steps[0], "x0").shape[1]
    rows = []
    for lane in race.lanes:
        tiles = [frame_image(at_fraction(lane, min(k / columns, 0.999)), "x0", width=width)
                 for k in range(1, columns + 1)]
        tiles.append(frame_image(at_fraction(lane, 1.0), "x0", width=width))
        rows.append(labelled(side_by_side(tiles, gap=4), f"{lane.label}: x0 at 1/{columns}, 2/{columns} ... of the "
                                                          "run, then the result x_0"))
    rows = _same_size(rows)
    return np.concatenate([x for r in rows for x in (r, np.full((6, r.shape[1], 3), 20, np.uint8))][:-1], axis=0)


def write_table(path: Path, race: RaceResult) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for lane in race.lanes:
            for row in lane.rows():
                writer.writerow({k: "" if row[k] is None else row[k] for k in CSV_FIELDS})
    return path


def export_race(folder: str | Path, race: RaceResult, device: str) -> dict[str, Path]:
    """Every file above into ``folder``; returns them by kind (``lanes`` maps each label to its PNG)."""
    folder = Path(folder).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    written: dict = {"lanes": {}}
    for lane in race.lanes:
        image = lane.result.images[0]
        info = png_info(lane.job, index=0, width=image.shape[1], height=image.shape[0],
                        model_name=lane.result.model_name, device=device,
                        extra=lane.result.family_fields)  # Flux's Distilled CFG Scale, SD 3.5's Shift
        path = folder / f"{_file_name(lane.label)}.png"
        Image.fromarray(image, "RGB").save(path, pnginfo=info)
        written["lanes"][lane.label] = path
    from ddpm_studio.engine.gallery.index import index_saved

    index_saved([str(p) for p in written["lanes"].values()])  # each lane is a normal image: the gallery has it
    frames = race_frames(race)
    written["gif"] = save_gif(folder / "race.gif", frames, fps=max(4.0, math.ceil(len(frames) / 4)))
    written["webp"] = save_webp(folder / "race.webp", frames, fps=max(4.0, math.ceil(len(frames) / 4)))
    sheet = folder / "contact-sheet.png"
    Image.fromarray(contact_sheet(race)).save(sheet)
    written["contact_sheet"] = sheet
    written["table"] = write_table(folder / "race.csv", race)
    return written


def _file_name(label: str) -> str:
    return "".join(c if c.isalnum() or c in "+-._" else "_" for c in label)
