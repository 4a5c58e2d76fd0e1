"""A parameter grid (A1111's X/Y/Z plot): one to three job parameters on axes, every combination an ordinary run
through ``Engine.run`` with its normal PNG and metadata, and one labelled sheet whose own PNG names the axes.

Axes, written ``NAME=V1,V2,…`` (values in CSV quoting, so a value may hold a comma: ``prompt="a cat, red",dog``):

- ``scheduler``, ``steps``, ``seed``, ``clip_skip``;
- ``guidance``: the classifier-free guidance scale (a pixel model's: its autoguidance scale, as ``autoguidance``);
- ``strength``: an edit's denoising strength;
- ``prompt``: A1111's "Prompt S/R" — the first value is searched for in the prompt, and each value in turn replaces
  it (the first cell is the prompt as written);
- ``lora:NAME``: that LoRA's weight (the LoRA is added to the job's LoRAs, or its weight changed).

The seed is the same in every cell unless it is an axis, as in A1111. No Qt.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, PngImagePlugin

from ddpm_studio.engine.events import Result, StopCheck, never_stop
from ddpm_studio.engine.jobs.checks import JobError
from ddpm_studio.engine.jobs.schedule_types import scheduler_fields, split_name
from ddpm_studio.engine.jobs.scheduler_table import SCHEDULERS
from ddpm_studio.engine.jobs.types import EditJob, GenerateJob, Job, PromptJob
from ddpm_studio.engine.output.metadata import a1111_parameters
from ddpm_studio.engine.series.runner import run_series

AXIS_KINDS = {"scheduler": str, "steps": int, "seed": int, "clip_skip": int, "guidance": float,
              "autoguidance": float, "strength": float, "prompt": str}
MAX_CELLS = 100
MIN_CELL = 128  # cells are enlarged (nearest) to at least this many pixels a side, so a 32 px model's grid reads
GRID_KEY = "ddpm_studio_grid"


@dataclass(frozen=True)
class Axis:
    name: str
    values: tuple

    @property
    def lora(self) -> str:
        return self.name.split(":", 1)[1] if self.name.startswith("lora:") else ""

    def label(self, value) -> str:
        if self.name == "prompt":
            return str(value)
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        return f"{self.lora or self.name}: {shown}"

    def apply(self, job: Job, value) -> Job:
        """``job`` with this axis at ``value``; a JobError when the job has no such parameter."""
        if self.lora:
            if not isinstance(job, PromptJob):
                raise JobError(f"A LoRA axis needs a Stable Diffusion model; {job.model} takes no LoRAs.")
            kept = [(ref, w) for ref, w in job.loras if Path(ref).stem != self.lora and ref != self.lora]
            return job.replace(loras=tuple(kept) + ((self.lora, float(value)),))
        if self.name == "prompt":
            if not isinstance(job, PromptJob):
                raise JobError("A prompt axis needs a model that takes a prompt.")
            if self.values[0] not in job.prompt:
                raise JobError(f"The prompt axis replaces '{self.values[0]}' (its first value), which the prompt "
                               f"'{job.prompt}' does not contain.")
            return job.replace(prompt=job.prompt.replace(self.values[0], value))
        if self.name == "scheduler":  # a combined name (euler-karras) sets the schedule type too
            return job.replace(**scheduler_fields(value, job.schedule))
        name = {"guidance": "guidance_scale", "autoguidance": "guidance_scale"}.get(self.name, self.name)
        if self.name == "autoguidance" and not isinstance(job, GenerateJob):
            raise JobError("Autoguidance is for pixel models (the Generate panel); for a prompt, use 'guidance'.")
        if name == "strength" and not isinstance(job, EditJob):
            raise JobError("Strength is an edit's; this job is not an edit.")
        if name == "clip_skip" and not isinstance(job, PromptJob):
            raise JobError("Clip skip is for Stable Diffusion models.")
        return job.replace(**{name: value})


def scheduler_name(text: str) -> str:
    """A scheduler by its name (``euler-a``) or as the lists show it (``Euler a``), in any case."""
    wanted = text.strip().lower()
    for name, spec in SCHEDULERS.items():
        if wanted in (name, spec.label.lower()):
            return name
    base, schedule = split_name(wanted)
    if schedule and base in SCHEDULERS:
        return wanted
    raise JobError(f"'{text}' is not a scheduler; use one of: {', '.join(SCHEDULERS)} (or one with a schedule type, "
                   f"as euler-karras).")


def parse_axis(text: str) -> Axis:
    """``NAME=V1,V2,…`` → an Axis with its values typed; a JobError that says what is wrong."""
    name, equals, values_text = text.partition("=")
    name = name.strip()
    if not equals or not values_text.strip():
        raise JobError(f"'{text}': write an axis as NAME=V1,V2,… (for example steps=10,25).")
    kind = float if name.startswith("lora:") and name[5:] else AXIS_KINDS.get(name)
    if kind is None:
        raise JobError(f"'{name}' is not a grid axis; use one of: {', '.join(AXIS_KINDS)}, lora:NAME.")
    raw = [v.strip() for v in next(csv.reader([values_text], skipinitialspace=True))]
    try:
        values = tuple(kind(v) for v in raw if v)
    except ValueError:
        what = {int: "whole numbers", float: "numbers"}[kind]
        raise JobError(f"The {name} axis takes {what}, separated by commas; got '{values_text}'.") from None
    if name == "scheduler":
        values = tuple(scheduler_name(v) for v in values)
    if len(values) < 1 or len(set(values)) != len(values):
        raise JobError(f"The {name} axis needs one or more different values; got {', '.join(raw)}.")
    return Axis(name, values)


@dataclass
class Cell:
    coords: tuple[int, ...]  # (x, y, z) indices
    job: Job
    result: Result


@dataclass
class GridResult:
    base: Job
    axes: list[Axis]
    cells: list[Cell] = field(default_factory=list)
    cancelled: bool = False


def cell_jobs(base: Job, axes: list[Axis]) -> list[tuple[tuple[int, ...], Job]]:
    """Every combination, x fastest, as (indices, job); each job validated as it is made."""
    if not 1 <= len(axes) <= 3:
        raise JobError("A grid has one to three axes (x, y, z).")
    if len({a.name for a in axes}) != len(axes):
        raise JobError("Each grid axis must be a different parameter.")
    if base.batch_size != 1:
        raise JobError("Each grid cell is one picture: set the batch size to 1.")
    sizes = [len(a.values) for a in axes] + [1] * (3 - len(axes))
    if sizes[0] * sizes[1] * sizes[2] > MAX_CELLS:
        raise JobError(f"A grid of {sizes[0] * sizes[1] * sizes[2]} cells is more than {MAX_CELLS}; use fewer values.")
    cells = []
    for z in range(sizes[2]):
        for y in range(sizes[1]):
            for x in range(sizes[0]):
                job = base
                for label, axis, index in zip("XYZ", axes, (x, y, z)):
                    try:
                        job = axis.apply(job, axis.values[index])
                    except JobError as exc:
                        raise JobError(f"The {label} axis ({axis.name} {axis.values[index]}): {exc}") from None
                cells.append(((x, y, z), job))
    return cells


def run_grid(engine, base: Job, axes: list[Axis], out: str | Path, on_step=None,
             should_stop: StopCheck = never_stop) -> GridResult:
    """Run every cell, each saved into ``out`` as a normal image; on cancel (within one step) the cells written so
    far are removed again and nothing else is written."""
    cells = cell_jobs(base, axes)
    results = run_series(engine, [job.replace(output_dir=str(out)) for _, job in cells], on_step, should_stop)
    if results is None:
        return GridResult(base=base, axes=axes, cancelled=True)
    return GridResult(base=base, axes=axes, cells=[Cell(coords=coords, job=job, result=result)
                                                   for (coords, job), result in zip(cells, results)])


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # a Pillow without FreeType: its small bitmap font
        return ImageFont.load_default()


def sheet(grid: GridResult) -> Image.Image:
    """The labelled sheet: x labels above, y labels at the left, a block per z value side by side under its label."""
    axes = grid.axes + [Axis("", ("",))] * (3 - len(grid.axes))
    first = grid.cells[0].result.images[0]
    scale = max(1, -(-MIN_CELL // max(first.shape[:2])))
    cell_h, cell_w = first.shape[0] * scale, first.shape[1] * scale
    font = _font(max(14, cell_w // 10))
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))

    def text_width(text: str) -> int:
        return int(measure.textlength(text, font=font))

    line = int(font.size * 1.4) if hasattr(font, "size") else 14
    left = max([text_width(axes[1].label(v)) for v in axes[1].values] + [0]) + 16 if axes[1].name else 8
    top = line + 8 if axes[0].name else 8
    title = line + 8 if axes[2].name else 0
    gap = 6
    block_w = left + len(axes[0].values) * (cell_w + gap)
    block_h = title + top + len(axes[1].values) * (cell_h + gap)
    canvas = Image.new("RGB", (block_w * len(axes[2].values) + gap, block_h + gap), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for cell in grid.cells:
        x, y, z = cell.coords
        image = Image.fromarray(cell.result.images[0]).resize((cell_w, cell_h), Image.Resampling.NEAREST)
        canvas.paste(image, (z * block_w + left + x * (cell_w + gap), title + top + y * (cell_h + gap)))
    for z, z_value in enumerate(axes[2].values):
        origin = z * block_w
        if axes[2].name:
            draw.text((origin + left, 4), axes[2].label(z_value), fill=(0, 0, 0), font=font)
        for x, value in enumerate(axes[0].values if axes[0].name else ()):
            label = axes[0].label(value)
            centre = origin + left + x * (cell_w + gap) + (cell_w - text_width(label)) // 2
            draw.text((max(origin + left + x * (cell_w + gap), centre), title + 4), label, fill=(0, 0, 0), font=font)
        for y, value in enumerate(axes[1].values if axes[1].name else ()):
            middle = title + top + y * (cell_h + gap) + (cell_h - line) // 2
            draw.text((origin + 8, middle), axes[1].label(value), fill=(0, 0, 0), font=font)
    return canvas


def save_sheet(grid: GridResult, out: str | Path) -> Path:
    """``grid.png`` in ``out``, its metadata naming the axes, the base job and each cell's file."""
    folder = Path(out).expanduser()
    info = PngImagePlugin.PngInfo()
    payload = {"base": grid.base.to_dict(), "axes": [{"name": a.name, "values": list(a.values)} for a in grid.axes],
               "cells": [{"coords": list(c.coords), "file": Path(c.result.saved_paths[0]).name} for c in grid.cells]}
    info.add_itxt(GRID_KEY, json.dumps(payload))
    first = grid.cells[0]
    height, width = first.result.images[0].shape[:2]
    info.add_itxt("parameters", a1111_parameters(first.job, seed=first.job.seed, width=width, height=height,
                                                 model_name=first.result.model_name, device=first.result.device,
                                                 extra=first.result.family_fields))
    path, number = folder / "grid.png", 1
    while path.exists():  # an earlier grid in the same folder stays
        number += 1
        path = folder / f"grid-{number}.png"
    sheet(grid).save(path, pnginfo=info)
    return path
