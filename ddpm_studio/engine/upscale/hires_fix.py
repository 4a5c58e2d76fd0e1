"""The hires fix (A1111's two-pass "Hires. fix"): render at the base size, enlarge, then img2img at a denoising
strength with the same prompt, LoRAs and seeds, so the model adds detail at the large size without the doubled
limbs a direct large render gives. One job: one progress bar over both passes (the second pass's steps numbered on
from the first's, ``StepEvent.second_pass`` set), previews and step history for both.

Upscalers, as A1111 names them: ``latent`` enlarges the first pass's latents (bilinear, A1111's "Latent"; no VAE
decode between the passes), ``lanczos`` decodes, enlarges the picture with Lanczos and encodes it again; any other
value names one of the Upscale panel's diffusion upscalers (SD x4, LDM 4×), which makes the first pass 4× as
large, tile by tile, with its own steps counted in the same progress (then Lanczos to the hires size when the
factor is not 4), or a model upscaler file (ESRGAN, …: A1111's default kind, ``hires_model_upscaler.py``). The second pass runs ``int(steps × strength)`` of its steps, as diffusers' and A1111's img2img
do. No Qt.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ddpm_studio.engine.jobs.types import HIRES_UPSCALERS, Text2ImageJob
from ddpm_studio.engine.jobs.upscale_job import UpscaleJob
from ddpm_studio.engine.preview import unit_to_uint8
from ddpm_studio.engine.runtime.offload import execution_device
from ddpm_studio.engine.sampling.schedulers import build_scheduler, is_flow_config

UPSCALER_STEPS = 20  # a diffusion upscaler's steps in a hires fix (the Upscale panel's own runs choose theirs)

# the second pass takes its size from the enlarged picture; ControlNet steers the first pass only (A1111's
# ControlNet "Low res only")
FIRST_PASS_ONLY = ("height", "width", "latents", "control_image", "controlnet_conditioning_scale",
                   "control_guidance_start", "control_guidance_end")


def first_pass_output(job: Text2ImageJob) -> str:
    """What the first pass hands on: latents for the latent upscaler (no decode), pictures for the others."""
    return "latent" if job.hires_upscaler == "latent" else "np"


def pass_calls(scheduler_name: str, config: dict, steps: int, strength: float = 1.0) -> int:
    """Model calls of a pass, as the pipelines count them: all of ``steps``' timesteps for text to image, the last
    ``int(steps × strength)`` steps' for img2img (``get_timesteps`` in diffusers' img2img pipelines; the flow ones
    skip ``int(steps − steps × strength)`` and run the rest)."""
    if is_flow_config(config):
        if strength >= 1.0:  # one call per step for the flow schedulers (all first order)
            return steps
        return steps - int(max(steps - steps * strength, 0))
    scheduler = build_scheduler(scheduler_name, config)
    scheduler.set_timesteps(steps)
    timesteps = scheduler.timesteps
    if strength >= 1.0:
        return len(timesteps)
    kept = min(int(steps * strength), steps)
    start = max(steps - kept, 0)
    return len(timesteps[start * scheduler.order:])


def second_pass_scheduler(scheduler_name: str, config: dict) -> tuple[object, bool]:
    """The second pass's scheduler, and whether it is not the job's: the job's, except on a flow model, whose
    img2img pipelines noise the picture with the flow Euler scheduler's ``scale_noise`` and so run with it (the note
    says so)."""
    scheduler = build_scheduler(scheduler_name, config)
    if is_flow_config(config) and not hasattr(scheduler, "scale_noise"):
        return build_scheduler("euler", config), True
    return scheduler, False


def uses_model(job: Text2ImageJob) -> bool:
    """Whether the hires upscaler is a diffusion upscaler (a model reference) rather than latent or Lanczos."""
    return job.hires_upscaler not in HIRES_UPSCALERS


def upscaler_for(loaded, job: Text2ImageJob, allow_pickle: bool = False):
    """The job's upscaler — a diffusion upscaler (a folder), or a model upscaler (a file: ESRGAN, …,
    ``hires_model_upscaler.py``) — loaded once and kept with the model (on its device, in its dtype)."""
    from ddpm_studio.engine.models.catalogue import resolve
    from ddpm_studio.engine.upscale.model_upscale import load_model_upscaler
    from ddpm_studio.engine.upscale.upscalers import load_upscaler

    if loaded.hires_upscaler is None or loaded.hires_upscaler[0] != job.hires_upscaler:
        loaded.hires_upscaler = None  # free the old one first
        denoiser = getattr(loaded.pipe, "unet", None) or loaded.pipe.transformer  # SD 3.5's and Flux's: a transformer
        device = execution_device(denoiser)
        if resolve(job.hires_upscaler).is_file():
            upscaler = load_model_upscaler(job.hires_upscaler, device, denoiser.dtype)
        else:
            upscaler = load_upscaler(job.hires_upscaler, device, denoiser.dtype, allow_pickle)
        loaded.hires_upscaler = (job.hires_upscaler, upscaler)
    return loaded.hires_upscaler[1]


def is_model_upscaler(upscaler) -> bool:
    return bool(getattr(upscaler, "scale", 0))


def upscale_job(job: Text2ImageJob, upscaler, image: str, index: int) -> UpscaleJob:
    text = dict(prompt=job.prompt, negative_prompt=job.negative_prompt) if upscaler.text_guided else {}
    return UpscaleJob(model=job.hires_upscaler, image=image, seed=job.seed + index, steps=UPSCALER_STEPS,
                      preview_every=job.preview_every, **text)


def upscale_calls(job: Text2ImageJob, upscaler) -> int:
    """The upscaler's model calls for the whole batch: its steps for every tile of every first-pass picture."""
    from ddpm_studio.engine.upscale.upscalers import upscale_boxes

    if is_model_upscaler(upscaler):  # one call a tile
        from ddpm_studio.engine.upscale.hires_model_upscaler import model_calls

        return model_calls(job, upscaler)
    boxes = upscale_boxes(upscale_job(job, upscaler, "first-pass.png", 0), job.width, job.height, upscaler.multiple)
    return len(boxes) * UPSCALER_STEPS * job.batch_size


def enlarge_with_model(job: Text2ImageJob, upscaler, first: np.ndarray, device, on_step, should_stop,
                       offset: int, total: int) -> list[Image.Image] | None:
    """The first pass's pictures through the diffusion upscaler, each at the hires size; its steps reported as
    steps ``offset`` … of ``total``. None when cancelled."""
    from ddpm_studio.engine.upscale.upscalers import run_upscale_job

    if is_model_upscaler(upscaler):
        from ddpm_studio.engine.upscale import hires_model_upscaler

        return hires_model_upscaler.enlarge(job, upscaler, first, device, on_step, should_stop, offset, total)
    per_image = upscale_calls(job, upscaler) // job.batch_size
    enlarged = []
    with tempfile.TemporaryDirectory(prefix="ddpm-studio-hires-") as folder:
        for index, picture in enumerate(unit_to_uint8(first)):
            path = Path(folder) / f"{index}.png"
            Image.fromarray(picture).save(path)
            start = offset + index * per_image

            def step(event, start=start) -> None:
                on_step(dataclasses.replace(event, index=start + event.index, total=total, upscaling=True))

            out = run_upscale_job(upscaler, upscale_job(job, upscaler, str(path), index), device, step, should_stop)
            if out.cancelled:
                return None
            enlarged.append(Image.fromarray(out.images[0]).resize(job.output_size, Image.Resampling.LANCZOS))
    return enlarged


def second_pass_steps(job: Text2ImageJob) -> int:
    return job.hires_steps or job.steps


def enlarge(job: Text2ImageJob, first, vae_scale_factor: int):
    """The first pass's output at the hires size: latents (B × C × h × w) or a list of PIL pictures."""
    width, height = job.output_size
    if job.hires_upscaler == "latent":
        size = (height // vae_scale_factor, width // vae_scale_factor)
        return torch.nn.functional.interpolate(first, size=size, mode="bilinear", antialias=False)
    return [Image.fromarray(p).resize((width, height), Image.Resampling.LANCZOS) for p in unit_to_uint8(first)]


def img2img_pipeline(loaded):
    """The family's img2img pipeline on the loaded model's own modules (``pipelines.pipeline_on``), made once per
    loaded model and given the first pass's modules again each time (a VAE swapped in since by ``vae.VaeSlot``)."""
    from ddpm_studio.engine.models.families import family_of_info
    from ddpm_studio.engine.sampling.pipelines import pipeline_on

    if loaded.hires_pipe is None:
        loaded.hires_pipe = _takes_latents(pipeline_on(loaded, family_of_info(loaded.info).img2img))
    else:
        pipe = loaded.hires_pipe
        pipe.register_modules(**{name: module for name, module in loaded.pipe.components.items()
                                 if name in pipe.components})
    return loaded.hires_pipe


def _takes_latents(pipe):
    """``pipe`` with an image processor that passes the VAE's latents through (the latent upscaler's output) rather
    than normalising them as a picture: ChromaImg2ImgPipeline builds its VaeImageProcessor without the VAE's latent
    channels (its default, 4), where FluxImg2ImgPipeline gives it 16."""
    from diffusers.image_processor import VaeImageProcessor

    processor, vae = getattr(pipe, "image_processor", None), getattr(pipe, "vae", None)
    channels = getattr(getattr(vae, "config", None), "latent_channels", None)
    if type(processor) is VaeImageProcessor and channels and processor.config.vae_latent_channels != channels:
        pipe.image_processor = VaeImageProcessor(**{**processor.config, "vae_latent_channels": channels})
    return pipe


def second_pass_arguments(first_args: dict, job: Text2ImageJob, image, sized: bool = False) -> dict:
    """The img2img call: the first pass's prompt embeddings and guidance, the enlarged picture, the strength;
    ``sized``: the hires size too, for a pipeline that does not take it from the picture (SD 3.5's and Flux's
    img2img fall back on their model's default size)."""
    args = {key: value for key, value in first_args.items() if key not in FIRST_PASS_ONLY}
    args.update(image=image, strength=job.hires_strength, num_inference_steps=second_pass_steps(job),
                output_type="np")
    if sized:
        args["width"], args["height"] = job.output_size
    return args
