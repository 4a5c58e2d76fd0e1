"""Latent diffusion (the Stable Diffusion family) through diffusers pipelines: what a run's stages (stages.py) call.

Each mode runs the pipeline made for it (the family table, models/families.py): text-to-image and img2img on a
4-channel UNet, inpaint and outpaint on a 9-channel one or a 4-channel one (masked img2img), instruct
(InstructPix2Pix) on an 8-channel one, or a flow model's instruction editing (instruct.py). Here: the add-ons put
in place, the pipeline call's arguments (the canvases of in- and outpainting, which mask_blend.py puts back over the
result: pixels outside the mask and its feathered edge stay exact), a varied x_T, and the x0 previews through the VAE
or TAESD.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from ddpm_studio.engine.inputs import open_rgb
from ddpm_studio.engine.jobs.types import EditJob, PromptJob, Text2ImageJob
from ddpm_studio.engine.models.catalogue import ModelError
from ddpm_studio.engine.models.families import family_of_info
from ddpm_studio.engine.preview import PREVIEW_MAX_IMAGES
from ddpm_studio.engine.prompts.encoding import prompt_arguments
from ddpm_studio.engine.prompts.syntax import plain_text
from ddpm_studio.engine.sampling import variation
from ddpm_studio.engine.sampling.flow_edit import is_flow_family, picture_grid, takes_size
from ddpm_studio.engine.sampling.instruct import check_references, instruct_arguments
from ddpm_studio.engine.sampling.latent_preview import (
    LatentToRGB,
    patch_norm,
    takes_frames,
    vae_latents,
)
from ddpm_studio.engine.sampling.pipelines import LoadedPipeline


def prepare_addons(loaded: LoadedPipeline, job: PromptJob, folders, allow_pickle: bool):
    """Make the pipeline what ``job`` asks for — its LoRAs, embeddings and VAE — without reloading the model;
    returns what was used (``adapters.UsedAddons``)."""
    from ddpm_studio.engine.addons.adapters import PipelineAddons, UsedAddons
    from ddpm_studio.engine.addons.vae import VaeSlot, find_vae

    family = family_of_info(loaded.info)
    if family is not None and not {"lora", "embedding", "vae"} & family.addons:  # none of them: left as loaded
        return UsedAddons(prompt=job.prompt, negative_prompt=job.negative_prompt)
    if (family is None or "vae" in family.addons) and (job.vae or loaded.vae_slot is not None):  # a split model's
        # VAE file is one of its parts, not an add-on
        if loaded.vae_slot is None:
            loaded.vae_slot = VaeSlot(loaded.pipe)
        if loaded.vae_slot.use(find_vae(job.vae, folders.vaes) if job.vae else None):
            loaded.to_rgb = LatentToRGB.for_vae(loaded.pipe.vae)
    if loaded.addons is None:
        loaded.addons = PipelineAddons(loaded.pipe, family)
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
    family = family_of_info(loaded.info)
    multiple = picture_grid(loaded.pipe, family)  # a flow family's pictures are whole 2×2 patches of latents
    args = dict(**_prompts(loaded, family, prompt, negative, job.clip_skip, job.true_cfg_scale),
                num_inference_steps=job.steps, num_images_per_prompt=job.batch_size, output_type="np")
    args.update(_guidance(family, job.guidance_scale, args.get("negative_prompt")))
    if family is not None and family.negative_embeds:  # Klein: the text's embeddings, where a CFG pass reads them
        text = args.pop("negative_prompt", None)
        if text and family.uses_negative(flavour=loaded.info.flavour) and job.guidance_scale > family.cfg_above:
            args["negative_prompt_embeds"] = _negative_embeds(loaded.pipe, text)
    if isinstance(job, Text2ImageJob):
        args.update(height=job.height, width=job.width)
        return args
    check_references(loaded.info, family, job)  # reference pictures: instruct mode, on a model that takes them
    if job.mode in ("outpaint", "inpaint"):  # the canvas rides along for run_prompt_job to put the original back
        canvas = outpaint_canvas(job, multiple) if job.mode == "outpaint" else inpaint_canvas(job, multiple)
        args.update(image=canvas.image, mask_image=canvas.mask, height=canvas.image.height,
                    width=canvas.image.width, strength=job.strength, masked_canvas=canvas)
        return args
    image = _fit_to_latent_grid(open_rgb(job.image, "input image"), multiple)
    args["image"] = image
    if job.mode == "img2img":
        args["strength"] = job.strength
        if takes_size(loaded.pipe):  # a flow img2img pipeline otherwise makes its model's default size
            args.update(height=image.height, width=image.width)
    if job.mode == "instruct" and is_flow_family(family):  # its pictures and size (instruct.py)
        args.update(instruct_arguments(loaded.pipe, job, image))
    elif job.mode == "instruct":  # InstructPix2Pix: how closely to keep the picture
        args["image_guidance_scale"] = job.image_guidance_scale
    return args


def _prompts(loaded: LoadedPipeline, family, prompt: str, negative: str, clip_skip: int,
             true_cfg_scale: float = 1.0) -> dict:
    """The prompt arguments: A1111-weighted where the family takes weights, else the plain words (the load's note
    says the weights are not applied), clip skip N as diffusers' N − 1. Flux's true CFG (``true_cfg_scale`` above 1)
    takes the negative prompt, even an empty one (then its unconditional pass is the empty prompt's). ``family``:
    the model's row (None for a model of none)."""
    if family is None or family.prompt_weights:
        return prompt_arguments(loaded.pipe, prompt, negative, clip_skip)
    args = dict(prompt=plain_text(prompt), negative_prompt=plain_text(negative) or None)
    if family.true_cfg and true_cfg_scale > 1.0:
        args.update(negative_prompt=plain_text(negative), true_cfg_scale=true_cfg_scale)
    elif not family.negative_prompt:  # Flux's distilled guidance: no unconditional pass to take it (the run says so)
        del args["negative_prompt"]
    return {**args, "clip_skip": clip_skip - 1} if clip_skip > 1 and family.clip_skip else args


def _negative_embeds(pipe, text: str) -> torch.Tensor:
    """``text`` encoded by the pipeline's own ``encode_prompt`` (one copy: the pipeline repeats it per image)."""
    with torch.no_grad():
        return pipe.encode_prompt(prompt=[text], device=pipe._execution_device, num_images_per_prompt=1)[0]


def _guidance(family, scale: float, negative: str | None) -> dict:
    """The job's guidance scale as the pipeline takes it: ``guidance_scale``, or for a true-CFG family (Qwen-Image)
    ``true_cfg_scale``, which guides only with a negative prompt: above 1, an empty one is sent as " ", as its model
    card does; at 1 or below the pipeline runs one pass and no negative is sent (the run's note says so)."""
    if family is None or family.guidance_argument != "true_cfg_scale":
        return {"guidance_scale": scale}
    return {"true_cfg_scale": scale, "negative_prompt": (negative or " ") if scale > 1 else None}


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


def varied_latents(pipe, job: Text2ImageJob, packed: int = 1,
                   dtype: torch.dtype | None = None) -> tuple[torch.Tensor, list[torch.Generator]]:
    """A Text to Image job's x_T with its variation seed, drawn per image with the pipeline's own shape and dtype
    (so strength 0 would be the pipeline's own x_T), and the seeds' generators for the sampler to go on with. A
    packed family's (Flux's, ``packed`` its row's) is drawn as its VAE's latents, then packed, as its pipeline draws it;
    ``dtype``: the one its pipeline draws in where not the denoiser's (Z-Image's float32); one whose VAE normalises
    patches (Flux.2's) as the grid of its tokens (C·p² × h/p × w/p), which its pipeline takes and packs itself."""
    factor = pipe.vae_scale_factor
    denoiser = getattr(pipe, "unet", None) or pipe.transformer  # SD 3.5's and Flux's is a transformer
    channels = denoiser.config.in_channels
    patches = packed > 1 and patch_norm(pipe.vae) is not None
    if packed > 1:  # its latents' sides are whole numbers of packs
        side = factor * packed
        rows, cols = job.height // side, job.width // side
        shape = (channels, rows, cols) if patches else (channels // packed**2, rows * packed, cols * packed)
    else:
        shape = (channels, job.height // factor, job.width // factor)
    noise, generators = variation.initial_noise(job.seed, job.variation_seed, job.variation_strength,
                                                job.batch_size, shape, dtype=dtype or denoiser.dtype)
    return (pack_latents(noise, packed) if packed > 1 and not patches else noise), generators


def pack_latents(latents: torch.Tensor, packed: int) -> torch.Tensor:
    """(B, C, h, w) → (B, h/p · w/p, C·p²): each p×p patch of every channel one token, row by row (Flux's order:
    a token's features run channel by channel, each channel's patch row by row)."""
    b, c, h, w = latents.shape
    patches = latents.reshape(b, c, h // packed, packed, w // packed, packed)
    return patches.permute(0, 2, 4, 1, 3, 5).reshape(b, (h // packed) * (w // packed), c * packed * packed)


def unpack_latents(tokens: torch.Tensor, packed: int, height: int, width: int, vae_scale_factor: int) -> torch.Tensor:
    """The inverse of ``pack_latents`` for a picture of ``height`` × ``width`` pixels: (B, tokens, C·p²) →
    (B, C, h, w), h and w its latents' sides (whole packs)."""
    b, _, features = tokens.shape
    side = vae_scale_factor * packed
    rows, cols, channels = height // side, width // side, features // (packed * packed)
    patches = tokens.reshape(b, rows, cols, channels, packed, packed)
    return patches.permute(0, 3, 1, 4, 2, 5).reshape(b, channels, rows * packed, cols * packed)


def decode_preview(vae, latents: torch.Tensor) -> np.ndarray:
    """The full VAE decode of model-space latents (B, C, h, w): exact, and far slower than the linear map. The VAE's
    config says how its latents are normalised (latent_preview.vae_latents); a VAE of frames decodes the picture as
    one frame."""
    from ddpm_studio.engine.preview import preview

    latents = vae_latents(vae, latents[:PREVIEW_MAX_IMAGES].to(vae.dtype))
    if not takes_frames(vae):
        return preview(vae.decode(latents).sample)
    return preview(vae.decode(latents.unsqueeze(2)).sample[:, :, 0])


def taesd_preview(taesd, latents: torch.Tensor) -> np.ndarray:
    """x0 through TAESD: a full-resolution preview for a few ms (it takes the latents the UNet sees, unscaled)."""
    from ddpm_studio.engine.preview import preview

    return preview(taesd.decode(latents[:PREVIEW_MAX_IMAGES].to(taesd.dtype)).sample)
