"""4× diffusion upscaling: Stable Diffusion x4 (text-guided, noise level) and LDM 4× super-resolution, tile by tile.

Both denoise latents at the input's own resolution, conditioned on the input, and decode them 4× larger; so the
input is cut into overlapping tiles when it is large (``tiling``), each tile padded to what the UNet needs, and the
results blended with feathered edges. One noise field for the whole picture is drawn from the seed and each tile takes
its own window of it, so overlapping tiles start from the same noise where they overlap.

The x4 pipeline only has the legacy per-step ``callback``; it is used for previews and cancel (by raising). The LDM
pipeline has no callback at all, so its loop is run here, step for step as diffusers writes it. Previews show the
whole picture: the running tile over the finished ones (``PreviewMosaic``). A Lanczos 4× of the input comes with
every result, for comparison.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from ddpm_studio.engine.errors import first_line
from ddpm_studio.engine.events import SampleOutput, StepCallback, StepEvent, StopCheck
from ddpm_studio.engine.inputs import open_rgb
from ddpm_studio.engine.jobs.upscale_job import UPSCALE_FACTOR, UpscaleJob, upscale_input_problem
from ddpm_studio.engine.models.catalogue import ModelError, ModelInfo, check_weights_safe, inspect_model, require_mode
from ddpm_studio.engine.preview import unit_to_uint8
from ddpm_studio.engine.runtime.memory import apply_memory_options
from ddpm_studio.engine.runtime.options import MemoryOptions
from ddpm_studio.engine.sampling.latent_preview import LatentToRGB, StepRecorder
from ddpm_studio.engine.sampling.non_finite import NonFiniteError, VaeWatch, decode_cause
from ddpm_studio.engine.sampling.schedulers import build_scheduler
from ddpm_studio.engine.upscale.tiling import Blender, PreviewMosaic, tile_boxes

SCALE = UPSCALE_FACTOR
AUTO_LIMIT = 192  # inputs up to this many pixels a side go in one pass when the tile size is automatic
AUTO_TILE = 128
PIPELINES = {"sd-x4-upscaler": "StableDiffusionUpscalePipeline", "ldm-super-resolution": "LDMSuperResolutionPipeline"}


class _Cancelled(Exception):
    pass


@dataclass
class LoadedUpscaler:
    info: ModelInfo
    pipe: object
    to_rgb: LatentToRGB
    scheduler_config: dict
    multiple: int  # tiles are padded to a multiple of this (the UNet's downsampling)
    note: str = ""  # the memory savers that do not apply here (memory.apply_memory_options)

    @property
    def text_guided(self) -> bool:
        return self.info.family == "sd-x4-upscaler"


def load_upscaler(ref: str, device, dtype, allow_pickle: bool = False, memory: MemoryOptions = MemoryOptions()) -> LoadedUpscaler:
    import diffusers

    info = inspect_model(ref, allow_pickle)
    require_mode(info, "upscale")
    for component in info.path.iterdir():
        check_weights_safe(component, allow_pickle)
    extra = {}
    if '"safety_checker"' in (info.path / "model_index.json").read_text(encoding="utf-8"):
        extra["safety_checker"] = None
    try:
        pipe = getattr(diffusers, PIPELINES[info.family]).from_pretrained(
            info.path, dtype=dtype, local_files_only=True, use_safetensors=None if allow_pickle else True, **extra)
    except Exception as exc:
        raise ModelError(f"Could not load the upscaler in {info.path}: {first_line(exc)}") from None
    note = ""
    if info.family == "sd-x4-upscaler":
        note = apply_memory_options(pipe, memory, device)
        to_rgb = LatentToRGB.for_vae(pipe.vae)
    else:
        pipe.to(device)
        to_rgb = LatentToRGB.fitted(pipe.vqvae, encode=lambda images: pipe.vqvae.encode(images).latents)
    pipe.set_progress_bar_config(disable=True)
    multiple = 2 ** (len(pipe.unet.config.down_block_types) - 1)
    return LoadedUpscaler(info=info, pipe=pipe, to_rgb=to_rgb, scheduler_config=dict(pipe.scheduler.config), multiple=multiple,
                          note=note)


def tile_size(job: UpscaleJob, width: int, height: int, multiple: int) -> int:
    """The tile side in input pixels, a multiple of the UNet's; the whole picture when it is small enough."""
    if job.tile:
        return max(multiple, job.tile // multiple * multiple)
    if max(width, height) <= AUTO_LIMIT:
        return _round_up(max(width, height), multiple)
    return AUTO_TILE // multiple * multiple or multiple


def upscale_boxes(job: UpscaleJob, width: int, height: int, multiple: int):
    """The tiles an input of ``width`` × ``height`` is cut into (one when it is small enough)."""
    tile = tile_size(job, width, height, multiple)
    overlap = min(job.overlap, tile // 2) if tile < max(width, height) else 0
    return tile_boxes(width, height, tile, overlap)


def run_upscale_job(loaded: LoadedUpscaler, job: UpscaleJob, device, on_step: StepCallback, should_stop: StopCheck) -> SampleOutput:
    image = open_rgb(job.image, "input image")
    width, height = image.size
    problem = upscale_input_problem(width, height)
    if problem:
        raise ModelError(f"The input image {job.image} is {width}×{height}; {problem}.")
    m = loaded.multiple
    boxes = upscale_boxes(job, width, height, m)
    channels = _latent_channels(loaded)
    noise = torch.randn((1, channels, _round_up(height, m), _round_up(width, m)),
                        generator=torch.Generator(device="cpu").manual_seed(job.seed))
    pixels = np.asarray(image, dtype=np.uint8)
    blender = Blender(width, height, boxes, SCALE)
    mosaic = PreviewMosaic(pixels, boxes, SCALE)
    start = time.perf_counter()
    steps_done = 0
    for number, box in enumerate(boxes):
        crop = _pad(pixels[box.y0 : box.y1, box.x0 : box.x1], m)
        # only a tile spanning a whole side is padded, and the noise field is padded alike: the window always fits
        window = noise[:, :, box.y0 : box.y0 + crop.shape[0], box.x0 : box.x0 + crop.shape[1]]

        def step_event(index: int, timestep, recorder: StepRecorder) -> None:
            nonlocal steps_done
            if should_stop():
                raise _Cancelled
            total = len(boxes) * job.steps
            previewed = job.preview_every and (index % job.preview_every == 0 or index == job.steps - 1)
            x_t = x0 = None
            if previewed and recorder.x_t is not None:
                x_t = mosaic.compose(box, loaded.to_rgb(recorder.x_t))
                x0 = mosaic.compose(box, loaded.to_rgb(recorder.x0) if recorder.x0 is not None else None)
            on_step(StepEvent(index=min(number * job.steps + index, total - 1), total=total, timestep=float(timestep),
                              elapsed=time.perf_counter() - start, x_t=x_t, x0=x0, noise_level=recorder.alpha_bar))
            steps_done = number * job.steps + index + 1

        watch = VaeWatch(getattr(loaded.pipe, "vae", None) or loaded.pipe.vqvae)  # one check a decode
        try:
            run = _run_x4_tile if loaded.text_guided else _run_ldm_tile
            with watch:
                out = run(loaded, job, crop, window, device, step_event)
        except _Cancelled:
            return SampleOutput(images=None, steps_run=steps_done, cancelled=True, tiles=len(boxes))
        if not np.isfinite(out).all():  # a half-precision VAE offers the VAE in fp32; otherwise the UNet is said
            dtype = str(loaded.pipe.unet.dtype).removeprefix("torch.")
            raise decode_cause(watch, f"the one in {loaded.info.path}") or NonFiniteError(
                f"The upscaler {loaded.info.path} produced NaN values during sampling in {dtype} (a black image): "
                "try a lower noise level, or run in fp32 (Precision in Settings → Preferences, or --precision).",
                "sampling")
        h, w = box.height * SCALE, box.width * SCALE
        blender.add(box, out[:h, :w])
        mosaic.add(box, out[:h, :w])
    result = unit_to_uint8(blender.result())[None]
    reference = np.asarray(image.resize((width * SCALE, height * SCALE), Image.Resampling.LANCZOS))
    return SampleOutput(images=result, steps_run=steps_done, cancelled=False, reference=reference, tiles=len(boxes))


def _latent_channels(loaded: LoadedUpscaler) -> int:
    pipe = loaded.pipe
    return pipe.vae.config.latent_channels if loaded.text_guided else pipe.unet.config.in_channels // 2


def _round_up(value: int, multiple: int) -> int:
    return int(math.ceil(value / multiple) * multiple)


def _pad(pixels: np.ndarray, multiple: int) -> np.ndarray:
    """Edge-pad an (h, w, 3) crop to multiples of ``multiple``: the UNet halves it that many times."""
    h, w = pixels.shape[:2]
    return np.pad(pixels, ((0, _round_up(h, multiple) - h), (0, _round_up(w, multiple) - w), (0, 0)), mode="edge")


def _run_x4_tile(loaded: LoadedUpscaler, job: UpscaleJob, crop: np.ndarray, noise: torch.Tensor, device, step_event) -> np.ndarray:
    pipe = loaded.pipe
    pipe.scheduler = build_scheduler(job.scheduler, loaded.scheduler_config, job.schedule)
    recorder = StepRecorder(pipe.scheduler)
    recorder.wanted = job.preview_every > 0
    try:
        with torch.inference_mode():
            out = pipe(prompt=job.prompt, negative_prompt=job.negative_prompt or None, image=Image.fromarray(crop),
                       num_inference_steps=job.steps, guidance_scale=job.guidance_scale, noise_level=job.noise_level,
                       generator=torch.Generator(device="cpu").manual_seed(job.seed), latents=noise.to(device, pipe.unet.dtype),
                       output_type="np", callback=lambda i, t, _latents: step_event(i, t, recorder), callback_steps=1)
    finally:
        recorder.close()
    return out.images[0].astype(np.float64)


def _run_ldm_tile(loaded: LoadedUpscaler, job: UpscaleJob, crop: np.ndarray, noise: torch.Tensor, device, step_event) -> np.ndarray:
    """LDMSuperResolutionPipeline's loop, with a step event after every model call."""
    import inspect

    pipe = loaded.pipe
    scheduler = build_scheduler(job.scheduler, loaded.scheduler_config, job.schedule)
    recorder = StepRecorder(scheduler)
    recorder.wanted = job.preview_every > 0
    dtype = pipe.unet.dtype
    image = torch.from_numpy(crop).permute(2, 0, 1)[None].to(device, dtype) / 127.5 - 1.0
    scheduler.set_timesteps(job.steps, device=device)
    latents = noise.to(device, dtype) * scheduler.init_noise_sigma
    generator = torch.Generator(device="cpu").manual_seed(job.seed)
    takes_generator = "generator" in inspect.signature(scheduler.step).parameters
    try:
        with torch.inference_mode():
            for index, t in enumerate(scheduler.timesteps):
                model_input = scheduler.scale_model_input(torch.cat([latents, image], dim=1), t)
                noise_pred = pipe.unet(model_input, t).sample
                kwargs = {"generator": generator} if takes_generator else {}
                latents = scheduler.step(noise_pred, t, latents, **kwargs).prev_sample
                step_event(index, t, recorder)
            decoded = pipe.vqvae.decode(latents).sample
    finally:
        recorder.close()
    decoded = torch.clamp(decoded.float(), -1.0, 1.0) / 2 + 0.5
    return decoded[0].permute(1, 2, 0).cpu().numpy().astype(np.float64)

