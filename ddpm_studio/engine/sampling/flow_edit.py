"""Image to image, inpaint and outpaint on the flow families (SD 3.5, Flux.1, Chroma, Z-Image, Qwen-Image, Flux.2
Klein) through their own diffusers pipelines (the family table names them per mode): what differs from Stable
Diffusion's img2img and inpaint pipelines, and nothing else (latent.py builds the call, stages.py runs it).

- Their pictures are whole 2×2 patches of latents: the VAE's 8 px × 2 = 16 px a side (the image processors of
  FluxImg2ImgPipeline, ZImageImg2ImgPipeline, QwenImageImg2ImgPipeline and Flux2KleinInpaintPipeline are built with
  ``vae_scale_factor * 2``; StableDiffusion3Img2ImgPipeline.check_inputs asks for ``vae_scale_factor * patch_size``).
- Without ``height`` and ``width`` their img2img pipelines make the model's default size (``default_sample_size *
  vae_scale_factor``, 1024² for Flux.1), not the input's: the call names the input's size.
- They noise the input with the flow Euler scheduler's ``scale_noise`` (in ``prepare_latents``, and the inpaint
  pipelines again every step, to put the unmasked latents back), which the flow forms of DPM++ 2M and UniPC lack:
  those run with Euler, and the run's note says so (as the hires fix's second pass does).
- Strength as A1111's and diffusers' img2img: of ``steps``, the last ``steps − int(steps − steps × strength)`` run
  (``get_timesteps`` in those pipelines).
No Qt.
"""

from __future__ import annotations

import inspect

from ddpm_studio.engine.sampling.schedulers import build_scheduler, is_flow_config

EDIT_MODES = ("img2img", "inpaint", "outpaint")  # the modes that start from the input picture's latents


def is_flow_family(family) -> bool:
    """A flow family's row: its denoiser is a transformer (families.py's ``_FLOW``)."""
    return family is not None and family.denoiser == "transformer"


def picture_grid(pipe, family) -> int:
    """The multiple of pixels a picture's sides must be for ``pipe``: the VAE's factor, twice it for a flow family
    (2×2 latent patches)."""
    return pipe.vae_scale_factor * (2 if is_flow_family(family) else 1)


def takes_size(pipe) -> bool:
    """Whether ``pipe``'s call takes ``height`` and ``width`` (the flow img2img pipelines do, SD's do not)."""
    return "height" in inspect.signature(type(pipe).__call__).parameters


def steps_run(steps: int, strength: float) -> int:
    """The steps a flow img2img or inpaint pipeline runs at ``strength`` (``get_timesteps``: it skips
    ``int(steps − steps × strength)`` of them)."""
    return steps if strength >= 1.0 else steps - int(max(steps - steps * strength, 0))


def edit_scheduler(run, mode: str):
    """The scheduler of a run in ``mode``: the job's, except a flow solver without ``scale_noise`` in a mode that
    noises the input picture, which runs with Euler (``run.notes`` says so)."""
    scheduler = run.scheduler()
    if mode == "instruct":  # Kontext's and Qwen-Image-Edit's pipelines pass sigmas (instruct.py)
        from ddpm_studio.engine.sampling.instruct import instruct_scheduler

        return instruct_scheduler(run, scheduler)
    if mode not in EDIT_MODES or hasattr(scheduler, "scale_noise") or not is_flow_config(run.config):
        return scheduler
    run.notes.append(f"{mode} on a flow-matching model noises the picture with Euler's scale_noise, which "
                     f"{run.job.scheduler} lacks: it ran with Euler")
    return build_scheduler("euler", run.config)


def edit_schedulers(family) -> tuple[str, ...]:
    """The schedulers a flow family's edit modes run with as asked (the rest run with Euler): Euler alone."""
    return ("euler",) if is_flow_family(family) else ()


def fit_pipeline(pipe):
    """``pipe`` made to run where its diffusers class trips over its own model: ChromaInpaintPipeline (diffusers
    0.42.1, pipeline_chroma_inpainting.py, "handle guidance") reads ``transformer.config.guidance_embeds``, a key of
    Flux's transformer config that Chroma's lacks, for a guidance tensor it never passes on: Chroma has no guidance
    embedding, so the key is set to what it is, False."""
    transformer = getattr(pipe, "transformer", None)
    if type(pipe).__name__ == "ChromaInpaintPipeline" and "guidance_embeds" not in transformer.config:
        transformer.register_to_config(guidance_embeds=False)
    return pipe
