"""A model upscaler (ESRGAN, SwinIR, DAT, …: ``model_upscale.py``) between the hires fix's passes, as A1111 uses
them — they are its default hires upscalers. The first pass's pictures go through the model, again while they are
smaller than the hires size, at most three times (AUTOMATIC1111, modules/upscaler.py, ``Upscaler.upscale``), and are
then brought to the hires size exactly with Lanczos. Every tile counts as one model call in the job's progress,
marked ``upscaling``, so one bar runs over the first pass, the upscaler and the second pass. No Qt.
"""

from __future__ import annotations

import time

from PIL import Image

from ddpm_studio.engine.events import StepEvent
from ddpm_studio.engine.jobs.types import Text2ImageJob
from ddpm_studio.engine.preview import unit_to_uint8
from ddpm_studio.engine.upscale.model_upscale import LoadedModelUpscaler, model_boxes, upscale_pixels

MAX_PASSES = 3  # A1111's loop in Upscaler.upscale


def pass_sizes(job: Text2ImageJob, scale: int) -> list[tuple[int, int]]:
    """The picture's size before each run of the model: the first pass's, ×``scale`` each time, until it reaches
    the hires size."""
    width, height = job.width, job.height
    target_w, target_h = job.output_size
    sizes = []
    while len(sizes) < MAX_PASSES and (width < target_w or height < target_h):
        sizes.append((width, height))
        width, height = width * scale, height * scale
    return sizes


def model_calls(job: Text2ImageJob, upscaler: LoadedModelUpscaler) -> int:
    """Tiles the model runs for the whole batch."""
    per_image = sum(len(model_boxes(upscaler, w, h)) for w, h in pass_sizes(job, upscaler.scale))
    return per_image * job.batch_size


def enlarge(job: Text2ImageJob, upscaler: LoadedModelUpscaler, first, device, on_step, should_stop, offset: int,
            total: int) -> list[Image.Image] | None:
    """The first pass's pictures (B × H × W × 3 in 0 … 1) at the hires size; None when cancelled."""
    start = time.perf_counter()
    count = offset

    def on_tile(number, boxes, mosaic) -> None:
        nonlocal count
        picture = mosaic.picture[None] if job.preview_every else None
        on_step(StepEvent(index=count, total=total, timestep=0.0, elapsed=time.perf_counter() - start, x_t=picture,
                          x0=picture, upscaling=True))
        count += 1

    enlarged = []
    for pixels in unit_to_uint8(first):
        for _ in pass_sizes(job, upscaler.scale):
            out = upscale_pixels(upscaler, pixels, device, on_tile=on_tile, should_stop=should_stop)
            if out is None:
                return None
            pixels = unit_to_uint8(out)
        enlarged.append(Image.fromarray(pixels).resize(job.output_size, Image.Resampling.LANCZOS))
    return enlarged
