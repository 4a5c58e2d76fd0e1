"""Latent diffusion (the Stable Diffusion family) through diffusers pipelines, emitting the same step events.

Each mode runs the pipeline made for it: text-to-image and img2img on a 4-channel UNet, inpaint and outpaint on a
9-channel one or a 4-channel one (masked img2img), instruct (InstructPix2Pix) on an 8-channel one. In- and outpainting
put the result back over the input (mask_blend.py): pixels outside the mask and its feathered edge stay exact.
Steps are watched through ``callback_on_step_end``; x_t and x0 come from a recorder around ``scheduler.step`` (the
callback only sees the next latents), shown through a linear latent→RGB map. Cancel raises from the callback, which
stops every pipeline at once, with no VAE decode.
"""

from __future__ import annotations

import contextlib
import time

import numpy as np
import torch
from PIL import Image

from ddpm_studio.engine.events import SampleOutput, StepCallback, StepEvent, StopCheck
from ddpm_studio.engine.inputs import open_rgb
from ddpm_studio.engine.jobs.types import EditJob, PromptJob, Text2ImageJob
from ddpm_studio.engine.models.catalogue import ModelError
from ddpm_studio.engine.preview import PREVIEW_MAX_IMAGES, unit_to_uint8
from ddpm_studio.engine.prompts.encoding import prompt_arguments
from ddpm_studio.engine.sampling import non_finite, variation
from ddpm_studio.engine.sampling.latent_preview import LatentToRGB, StepRecorder
from ddpm_studio.engine.sampling.pipelines import LoadedPipeline
from ddpm_studio.engine.sampling.schedulers import build_scheduler


class _Cancelled(Exception):
    """Raised from the step callback to stop a pipeline between steps."""


def prepare_addons(loaded: LoadedPipeline, job: PromptJob, folders, allow_pickle: bool):
    """Make the pipeline what ``job`` asks for — its LoRAs, embeddings and VAE — without reloading the model;
    returns what was used (``adapters.UsedAddons``)."""
    from ddpm_studio.engine.addons.adapters import PipelineAddons
    from ddpm_studio.engine.addons.vae import VaeSlot, find_vae

    if job.vae or loaded.vae_slot is not None:
        if loaded.vae_slot is None:
            loaded.vae_slot = VaeSlot(loaded.pipe)
        if loaded.vae_slot.use(find_vae(job.vae, folders.vaes) if job.vae else None):
            loaded.to_rgb = LatentToRGB.for_vae(loaded.pipe.vae)
    if loaded.addons is None:
        loaded.addons = PipelineAddons(loaded.pipe)
    return loaded.addons.apply(job, folders, allow_pickle)


def job_mode(job: PromptJob) -> str:
    return job.mode if isinstance(job, EditJob) else "txt2img"


def _fit_to_latent_grid(image: Image.Image, multiple: int) -> Image.Image:
    width, height = (image.width // multiple) * multiple, (image.height // multiple) * multiple
    if width < multiple or height < multiple:
        raise ModelError(f"The input image is {image.width}×{image.height}; it must be at least {multiple} px a side.")
    return image if (width, height) == image.size else image.resize((width, height), Image.Resampling.LANCZOS)


def pipeline_arguments(loaded: LoadedPipeline, job: PromptJob, prompt: str, negative: str) -> dict:
    """The pipeline call for ``job``; ``prompt`` and ``negative`` are the texts for the encoder (tags taken out)."""
    multiple = loaded.pipe.vae_scale_factor
    args = dict(**prompt_arguments(loaded.pipe, prompt, negative, job.clip_skip),
                guidance_scale=job.guidance_scale, num_inference_steps=job.steps, num_images_per_prompt=job.batch_size,
                output_type="np")
    if isinstance(job, Text2ImageJob):
        args.update(height=job.height, width=job.width)
        return args
    if job.mode in ("outpaint", "inpaint"):  # the canvas rides along for run_prompt_job to put the original back
        canvas = outpaint_canvas(job, multiple) if job.mode == "outpaint" else inpaint_canvas(job, multiple)
        args.update(image=canvas.image, mask_image=canvas.mask, height=canvas.image.height,
                    width=canvas.image.width, strength=job.strength, masked_canvas=canvas)
        return args
    image = _fit_to_latent_grid(open_rgb(job.image, "input image"), multiple)
    args["image"] = image
    if job.mode == "img2img":
        args["strength"] = job.strength
    if job.mode == "instruct":
        args["image_guidance_scale"] = job.image_guidance_scale
    return args


def outpaint_canvas(job: EditJob, multiple: int):
    from ddpm_studio.engine.jobs.checks import MAX_SIDE
    from ddpm_studio.engine.sampling.outpaint import grown_size, make_canvas

    picture = open_rgb(job.image, "input image")
    width, height = grown_size(picture.width, picture.height, job.extend)
    if max(width, height) > MAX_SIDE:
        raise ModelError(f"{job.image} ({picture.width}×{picture.height}) grown by {job.extend} would be "
                         f"{width}×{height}; at most {MAX_SIDE} a side.")
    return make_canvas(picture, job.extend, job.outpaint_fill, job.feather, job.seed, multiple)


def inpaint_canvas(job: EditJob, multiple: int):
    from ddpm_studio.engine.sampling import inpaint

    picture = open_rgb(job.image, "input image")
    mask = open_rgb(job.mask, "mask")
    canvas = inpaint.make_canvas(picture, mask, job.feather, multiple)
    if not canvas.alpha.any():
        raise ModelError(f"The mask {job.mask} is black everywhere: paint white where the picture should be "
                         "repainted.")
    return canvas


def varied_latents(pipe, job: Text2ImageJob) -> tuple[torch.Tensor, list[torch.Generator]]:
    """A Text to Image job's x_T with its variation seed, drawn per image with the pipeline's own shape and dtype
    (so strength 0 would be the pipeline's own x_T), and the seeds' generators for the sampler to go on with."""
    factor = pipe.vae_scale_factor
    shape = (pipe.unet.config.in_channels, job.height // factor, job.width // factor)
    return variation.initial_noise(job.seed, job.variation_seed, job.variation_strength, job.batch_size, shape,
                                   dtype=pipe.unet.dtype)


def decode_preview(vae, latents: torch.Tensor) -> np.ndarray:
    """The full VAE decode of model-space latents: exact, and far slower than the linear map."""
    from ddpm_studio.engine.preview import preview

    latents = latents[:PREVIEW_MAX_IMAGES].to(vae.dtype) / vae.config.scaling_factor
    return preview(vae.decode(latents).sample)


def taesd_preview(taesd, latents: torch.Tensor) -> np.ndarray:
    """x0 through TAESD: a full-resolution preview for a few ms (it takes the latents the UNet sees, unscaled)."""
    from ddpm_studio.engine.preview import preview

    return preview(taesd.decode(latents[:PREVIEW_MAX_IMAGES].to(taesd.dtype)).sample)


def attention_recorder(loaded: LoadedPipeline, job: PromptJob, args: dict, prompt: str):
    """The per-word attention recorder for this run (``attention_maps``), sized to its latents."""
    from ddpm_studio.engine.inspect.attention_maps import AttentionRecorder, word_positions

    pipe = loaded.pipe
    factor = pipe.vae_scale_factor
    height, width = (args["height"], args["width"]) if "height" in args else (args["image"].height, args["image"].width)

    def prompt_row(batch: int) -> int:
        """Which row of the UNet's batch is image 0 with the prompt: the second half under classifier-free
        guidance (the negative prompt's first), the first for InstructPix2Pix (prompt, image, negative)."""
        if job_mode(job) == "instruct" or not getattr(pipe, "do_classifier_free_guidance", False):
            return 0
        return batch // 2

    return AttentionRecorder(pipe.unet, word_positions(pipe, prompt), (height // factor, width // factor), prompt_row)


def run_prompt_job(loaded: LoadedPipeline, job: PromptJob, device, on_step: StepCallback, should_stop: StopCheck,
                   folders=None, allow_pickle: bool = False, on_stage=None) -> SampleOutput:
    """Run ``job`` on the loaded pipeline. Cancel is checked between steps and, through hooks, between the model's
    blocks (inside_step.py); ``on_stage`` hears when sampling and decoding begin."""
    from ddpm_studio.engine.addons.resources import AddonFolders
    from ddpm_studio.engine.sampling.inside_step import watch_inside_steps

    used = prepare_addons(loaded, job, folders or AddonFolders(), allow_pickle)
    pipe = loaded.pipe
    config = loaded.scheduler_config
    if job.prediction_type != "auto":  # the user's choice over the model's (or the probe's)
        config = {**config, "prediction_type": job.prediction_type}
    pipe.scheduler = build_scheduler(job.scheduler, config)
    recorder = StepRecorder(pipe.scheduler)
    recorder.wanted = job.preview_every > 0 or job.full_decode_every > 0
    generators = [torch.Generator(device="cpu").manual_seed(job.seed + i) for i in range(job.batch_size)]
    args = pipeline_arguments(loaded, job, used.prompt, used.negative_prompt)
    canvas = args.pop("masked_canvas", None)
    if job.controlnets:  # the ControlNet pipeline on the same modules and scheduler (controlnet.py)
        from ddpm_studio.engine.control import controlnet

        nets = controlnet.controlnets_for(loaded, job, folders or AddonFolders(), allow_pickle)
        pipe = controlnet.control_pipeline(loaded, job_mode(job), nets)
        size = (args["width"], args["height"]) if "width" in args else args["image"].size
        args.update(controlnet.control_arguments(job, job_mode(job), size))
    if job.variation_strength:  # x_T made here, as the pipeline would draw it, then varied (variation.py)
        args["latents"], generators = varied_latents(pipe, job)
    attention = attention_recorder(loaded, job, args, used.prompt) if job.attention_maps else None
    hires = isinstance(job, Text2ImageJob) and job.hires
    phase = {"offset": 0, "total": None, "second": False}  # a hires fix numbers its second pass on from the first
    upscaler, upscale_total = None, 0
    if hires:
        from ddpm_studio.engine.upscale import hires_fix

        args["output_type"] = hires_fix.first_pass_output(job)
        if hires_fix.uses_model(job):
            upscaler = hires_fix.upscaler_for(loaded, job, allow_pickle)
            upscale_total = hires_fix.upscale_calls(job, upscaler)
        phase["total"] = (hires_fix.pass_calls(job.scheduler, config, job.steps) + upscale_total +
                          hires_fix.pass_calls(job.scheduler, config, hires_fix.second_pass_steps(job),
                                               job.hires_strength))
    start = time.perf_counter()
    calls = 0
    vae_watch = non_finite.VaeWatch(pipe.vae)  # whether the latents the VAE decodes are finite: one check a decode

    def on_step_end(_pipe, index, timestep, callback_kwargs):
        nonlocal calls
        if should_stop():
            raise _Cancelled
        own_total = getattr(_pipe, "_num_timesteps", None) or len(_pipe.scheduler.timesteps)
        total = phase["total"] or own_total
        previewed = job.preview_every and (index % job.preview_every == 0 or index == own_total - 1)
        x_t = x0 = None
        if previewed and recorder.x_t is not None:
            x_t = loaded.to_rgb(recorder.x_t)
            if recorder.x0 is not None:
                x0 = taesd_preview(loaded.taesd, recorder.x0) if loaded.taesd is not None else loaded.to_rgb(recorder.x0)
        if job.full_decode_every and index % job.full_decode_every == 0 and recorder.x0 is not None:
            x0 = decode_preview(_pipe.vae, recorder.x0)
        maps = attention.take() if attention is not None else None
        vae_watch.step_done(phase["offset"] + index, callback_kwargs.get("latents"))
        on_step(StepEvent(index=phase["offset"] + index, total=total, timestep=float(timestep),
                          elapsed=time.perf_counter() - start, x_t=x_t, x0=x0, noise_level=recorder.alpha_bar,
                          attention=maps, attention_words=attention.names if attention is not None else (),
                          second_pass=phase["second"]))
        calls = phase["offset"] + index + 1
        return callback_kwargs

    try:
        with torch.inference_mode(), attention if attention is not None else contextlib.nullcontext(), \
                watch_inside_steps(pipe, should_stop, _Cancelled, on_stage), vae_watch:
            out = pipe(**args, generator=generators, callback_on_step_end=on_step_end)
            if hires:  # the second pass: the same seeds' generators, numbered on from the first pass
                recorder.close()
                second = hires_fix.img2img_pipeline(loaded)
                second.scheduler = build_scheduler(job.scheduler, config)
                recorder = StepRecorder(second.scheduler)
                recorder.wanted = job.preview_every > 0 or job.full_decode_every > 0
                if upscaler is None:
                    image = hires_fix.enlarge(job, out.images, pipe.vae_scale_factor)
                else:  # a diffusion upscaler's steps, numbered on from the first pass's
                    image = hires_fix.enlarge_with_model(job, upscaler, out.images, device, on_step, should_stop,
                                                         calls, phase["total"])
                    if image is None:
                        raise _Cancelled
                    calls += upscale_total
                phase.update(offset=calls, second=True)
                out = second(**hires_fix.second_pass_arguments(args, job, image), generator=generators,
                             callback_on_step_end=on_step_end)
    except _Cancelled:
        return SampleOutput(images=None, steps_run=calls, cancelled=True, addons=used)
    finally:
        recorder.close()
    if not np.isfinite(out.images).all():  # a black image: say where its NaN values came from (non_finite.py)
        raise non_finite.explain(loaded, job, used, args, vae_watch)
    images = unit_to_uint8(out.images)
    if canvas is not None:
        from ddpm_studio.engine.sampling.mask_blend import composite

        images = np.stack([composite(canvas, image) for image in images])
    return SampleOutput(images=images, steps_run=calls, cancelled=False, addons=used)
