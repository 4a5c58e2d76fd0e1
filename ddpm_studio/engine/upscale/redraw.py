"""Tiled diffusion upscaling, the "Ultimate SD Upscale" way: the picture enlarged by a model upscaler
(``model_upscale.py``), then redrawn tile by tile with img2img of a diffusion model at a low denoising strength, so
the model adds detail at a size it could never draw in one piece.

Tiles (``redraw_tile`` output pixels, overlapping by an eighth of that) are cut as the upscalers' are (``tiling``);
each is padded to the model's latent grid, redrawn with the job's prompt, steps, scheduler and seed, and the results
are blended across their overlaps with the feathered weights, so no seam shows where two redrawn tiles meet.
Progress counts every tile's model calls in one bar; previews show the whole picture, the running tile's preview over
the tiles finished; cancel is checked between steps as in any img2img run. No Qt.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from ddpm_studio.engine.events import SampleOutput
from ddpm_studio.engine.jobs.types import EditJob
from ddpm_studio.engine.jobs.upscale_job import UpscaleJob
from ddpm_studio.engine.preview import unit_to_uint8
from ddpm_studio.engine.upscale.tiling import Blender, Box, tile_boxes

GRID = 16  # tiles are padded to this multiple: 8 for the SD families' VAE, 16 for a flow family's 2×2 patches


def redraw_boxes(width: int, height: int, tile: int) -> list[Box]:
    overlap = max(tile // 8, GRID)
    return tile_boxes(width, height, tile, overlap) if max(width, height) > tile else [Box(0, 0, width, height)]


def tile_job(job: UpscaleJob, image: str) -> EditJob:
    """One tile's img2img: the job's prompt, sampling and seed, no previews of its own beyond the job's."""
    return EditJob(model=job.redraw, mode="img2img", image=image, strength=job.strength, prompt=job.prompt,
                   negative_prompt=job.negative_prompt, guidance_scale=job.guidance_scale, scheduler=job.scheduler,
                   schedule=job.schedule, steps=job.steps, seed=job.seed, preview_every=job.preview_every,
                   output_dir="")


def tile_calls(loaded, job: UpscaleJob) -> int:
    """Model calls of one tile's img2img, as the pipelines count them (``hires_fix.pass_calls``)."""
    from ddpm_studio.engine.jobs.schedule_types import combined_name
    from ddpm_studio.engine.upscale.hires_fix import pass_calls

    return pass_calls(combined_name(job.scheduler, job.schedule), loaded.scheduler_config, job.steps, job.strength)


def redraw_calls(loaded, job: UpscaleJob, width: int, height: int) -> int:
    """Model calls of the whole redraw of a ``width`` × ``height`` (upscaled) picture."""
    return tile_calls(loaded, job) * len(redraw_boxes(width, height, job.redraw_tile))


def redraw(pixels: np.ndarray, job: UpscaleJob, loaded, run_tile, on_step, should_stop, before: int = 0
           ) -> SampleOutput:
    """``pixels`` (the model upscaler's result, H × W × 3 uint8) redrawn tile by tile. ``run_tile(edit_job,
    on_step)`` runs one img2img on ``loaded`` (the engine's ``stages.run_prompt_job``) and returns its SampleOutput.
    ``before``: the upscaler's tiles, counted first in the same progress."""
    height, width = pixels.shape[:2]
    boxes = redraw_boxes(width, height, job.redraw_tile)
    per_tile = tile_calls(loaded, job)
    total = before + per_tile * len(boxes)
    blender = Blender(width, height, boxes, 1)
    picture = pixels.copy()  # the whole picture as it stands: redrawn tiles blended over the upscaled one
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ddpm-studio-redraw-") as folder:
        for number, box in enumerate(boxes):
            if should_stop():
                return SampleOutput(images=None, steps_run=before + number * per_tile, cancelled=True,
                                    tiles=len(boxes))
            crop = _pad(pixels[box.y0 : box.y1, box.x0 : box.x1])
            path = Path(folder) / f"{number}.png"
            Image.fromarray(crop).save(path)

            def step(event, number=number, box=box) -> None:
                on_step(dataclasses.replace(event, index=before + number * per_tile + event.index, total=total,
                                            elapsed=time.perf_counter() - start,
                                            x_t=_over(picture, box, event.x_t), x0=_over(picture, box, event.x0)))

            out = run_tile(tile_job(job, str(path)), step)
            if out.cancelled:
                return SampleOutput(images=None, steps_run=before + number * per_tile + out.steps_run,
                                    cancelled=True, tiles=len(boxes))
            tile = out.images[0][: box.height, : box.width].astype(np.float64) / 255.0
            blender.add(box, tile)
            done = blender.weight[..., 0] > 0
            picture[done] = unit_to_uint8(blender.result()[done])
    return SampleOutput(images=picture[None], steps_run=total, cancelled=False, tiles=len(boxes),
                        addons=out.addons, note=out.note)


def _pad(crop: np.ndarray) -> np.ndarray:
    h, w = crop.shape[:2]
    return np.pad(crop, ((0, -h % GRID), (0, -w % GRID), (0, 0)), mode="edge")


def _over(picture: np.ndarray, box: Box, preview: np.ndarray | None) -> np.ndarray | None:
    """The whole picture with a tile's preview ((1, h, w, 3) uint8, at any size) over its box."""
    if preview is None:
        return None
    padded_h, padded_w = _round(box.height), _round(box.width)
    tile = Image.fromarray(preview[0]).resize((padded_w, padded_h), Image.Resampling.BILINEAR)
    out = picture.copy()
    out[box.y0 : box.y1, box.x0 : box.x1] = np.asarray(tile)[: box.height, : box.width]
    return out[None]


def _round(value: int) -> int:
    return value + (-value % GRID)
