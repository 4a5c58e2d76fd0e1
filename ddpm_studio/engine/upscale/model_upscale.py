"""Model upscalers (ESRGAN, SwinIR, DAT, …: ``models/upscaler_files.py``) run tile by tile: one forward pass a tile,
no steps, 2×, 4× or 8× as the model is made.

Any picture size in bounded memory: the picture is cut into the tiles the diffusion upscalers use (``tiling``), and each
tile is run with a margin of the picture around it (``overlap`` input pixels each side, as Real-ESRGAN's ``tile_pad``
does) that is cut off again, so a tile's border pixels see their neighbours. Where the model's receptive field is no
wider than the margin a tiled run equals an untiled one; what differs further out is blended across the overlap
with the feathered weights. A model that tiles internally (spandrel's ``ModelTiling.INTERNAL``) is run whole. fp16 on
CUDA where spandrel says the architecture supports it, fp32 elsewhere. No Qt.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ddpm_studio.engine.errors import ModelError
from ddpm_studio.engine.events import SampleOutput, StepCallback, StepEvent, StopCheck
from ddpm_studio.engine.inputs import open_rgb
from ddpm_studio.engine.jobs.upscale_job import UpscaleJob, upscale_input_problem
from ddpm_studio.engine.models.catalogue import ModelInfo, inspect_model, require_mode, resolve
from ddpm_studio.engine.models.upscaler_files import FAMILY, build, is_upscaler_suffix
from ddpm_studio.engine.preview import unit_to_uint8
from ddpm_studio.engine.upscale.lanczos import LANCZOS_SCALE, lanczos_info
from ddpm_studio.engine.upscale.tiling import Blender, Box, PreviewMosaic, tile_boxes

class ModelTiling(Enum):  # spandrel's names (its own enum is imported only with spandrel)
    SUPPORTED = "SUPPORTED"
    DISCOURAGED = "DISCOURAGED"
    INTERNAL = "INTERNAL"


AUTO_LIMIT = 512  # inputs up to this many pixels a side go in one pass when the tile size is automatic
AUTO_TILE = 256  # Real-ESRGAN's inference script suggests tiles of a few hundred pixels for limited memory


@dataclass
class LoadedModelUpscaler:
    info: ModelInfo
    model: object  # spandrel's ImageModelDescriptor, on the device
    scale: int
    note: str = ""
    text_guided = False  # what the hires fix asks of an upscaler: no prompt
    multiple = 1  # tiles need no padding of ours (spandrel pads to the model's size requirements)

    @property
    def tiled_inside(self) -> bool:
        return self.model.tiling.name == "INTERNAL"  # spandrel's ModelTiling, or ours


def is_model_upscaler(info: ModelInfo) -> bool:
    return info.family == FAMILY


class _Lanczos:
    """Lanczos in the place of a spandrel model (its call, dtype and tiling): the whole picture at once."""

    dtype = torch.float32
    tiling = ModelTiling.INTERNAL

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        pixels = unit_to_uint8(image[0].permute(1, 2, 0).cpu().numpy())
        height, width = pixels.shape[:2]
        size = (width * LANCZOS_SCALE, height * LANCZOS_SCALE)
        out = np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.LANCZOS), dtype=np.float32) / 255.0
        return torch.from_numpy(out).permute(2, 0, 1)[None]


def lanczos_upscaler() -> LoadedModelUpscaler:
    return LoadedModelUpscaler(info=lanczos_info(), model=_Lanczos(), scale=LANCZOS_SCALE)


def load_model_upscaler(ref: str, device, dtype) -> LoadedModelUpscaler:
    """The model upscaler file ``ref``, built by spandrel and moved to ``device``: fp16 on CUDA where the architecture
    supports it (``supports_half``), fp32 otherwise."""
    try:
        info = inspect_model(ref)
    except ModelError:
        path = resolve(ref)
        if is_upscaler_suffix(path):
            build(path)  # says what keeps the file from being a model upscaler (more than weights, no architecture)
        raise
    if info.family != FAMILY:
        require_mode(info, "upscale")
        raise ModelError(f"{info.path} is not a model upscaler.")
    descriptor = build(info.path)
    note = ""
    device = torch.device(device)
    if device.type == "cuda" and dtype == torch.float16:
        if descriptor.supports_half:
            descriptor.half()
        else:
            note = f"{info.name} ran in fp32: spandrel's {descriptor.architecture.name} does not run in fp16"
    descriptor.to(device).eval()
    return LoadedModelUpscaler(info=info, model=descriptor, scale=int(descriptor.scale), note=note)


def model_boxes(loaded: LoadedModelUpscaler, width: int, height: int, tile: int = 0, overlap: int = 16) -> list[Box]:
    """The tiles of a ``width`` × ``height`` input (``tile``: input pixels, 0 automatic): one when it is small enough
    (or the model tiles inside)."""
    if loaded.tiled_inside:
        return [Box(0, 0, width, height)]
    tile = tile or (max(width, height) if max(width, height) <= AUTO_LIMIT else AUTO_TILE)
    overlap = min(overlap, tile // 2) if tile < max(width, height) else 0
    return tile_boxes(width, height, tile, overlap)


def upscale_pixels(loaded: LoadedModelUpscaler, pixels: np.ndarray, device, tile: int = 0, overlap: int = 16,
                   on_tile=None, should_stop=lambda: False) -> np.ndarray | None:
    """(h, w, 3) uint8 → (h·s, w·s, 3) float in 0 … 1, tile by tile; ``on_tile(number, boxes, mosaic)`` after each
    tile; None when ``should_stop`` says so before a tile."""
    height, width = pixels.shape[:2]
    boxes = model_boxes(loaded, width, height, tile, overlap)
    margin = 0 if len(boxes) == 1 else overlap
    scale = loaded.scale
    blender = Blender(width, height, boxes, scale)
    mosaic = PreviewMosaic(pixels, boxes, scale)
    for number, box in enumerate(boxes):
        if should_stop():
            return None
        x0, y0 = max(box.x0 - margin, 0), max(box.y0 - margin, 0)
        x1, y1 = min(box.x1 + margin, width), min(box.y1 + margin, height)
        out = _forward(loaded, pixels[y0:y1, x0:x1], device)
        top, left = (box.y0 - y0) * scale, (box.x0 - x0) * scale
        core = out[top : top + box.height * scale, left : left + box.width * scale]
        blender.add(box, core)
        mosaic.add(box, core)
        if on_tile is not None:
            on_tile(number, boxes, mosaic)
    return blender.result()


def _forward(loaded: LoadedModelUpscaler, crop: np.ndarray, device) -> np.ndarray:
    model = loaded.model
    image = torch.from_numpy(np.array(crop)).permute(2, 0, 1)[None].to(device, model.dtype) / 255.0
    with torch.inference_mode():
        out = model(image)
    out = out[0].permute(1, 2, 0).float().cpu().numpy().astype(np.float64)
    if not np.isfinite(out).all():
        raise ModelError(f"The upscaler {loaded.info.path} produced NaN values in {str(model.dtype)[6:]}; run it in "
                         "fp32 (Precision in Settings → Preferences, or --precision).")
    return out


def run_model_upscale(loaded: LoadedModelUpscaler, job: UpscaleJob, device, on_step: StepCallback,
                      should_stop: StopCheck) -> SampleOutput:
    image = open_rgb(job.image, "input image")
    width, height = image.size
    problem = upscale_input_problem(width, height)
    if problem:
        raise ModelError(f"The input image {job.image} is {width}×{height}; {problem}.")
    start = time.perf_counter()
    done = 0

    def on_tile(number: int, boxes, mosaic: PreviewMosaic) -> None:
        nonlocal done
        done = number + 1
        picture = mosaic.picture[None] if job.preview_every else None
        on_step(StepEvent(index=number, total=len(boxes), timestep=0.0, elapsed=time.perf_counter() - start,
                          x_t=picture, x0=picture))

    pixels = np.asarray(image, dtype=np.uint8)
    result = upscale_pixels(loaded, pixels, device, job.tile, job.overlap, on_tile, should_stop)
    tiles = len(model_boxes(loaded, width, height, job.tile, job.overlap))
    if result is None:
        return SampleOutput(images=None, steps_run=done, cancelled=True, tiles=tiles)
    s = loaded.scale
    reference = np.asarray(image.resize((width * s, height * s), Image.Resampling.LANCZOS))
    return SampleOutput(images=unit_to_uint8(result)[None], steps_run=done, cancelled=False, reference=reference,
                        tiles=tiles)
