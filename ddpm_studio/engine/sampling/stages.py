"""A latent run in named stages, with the capabilities that change it plugged in as extensions.

The stages, in order: ``prepare`` (add-ons, the scheduler, the seeds' generators and a varied x_T, the pipeline's
arguments), each extension's ``prepare`` (ControlNet swaps in its pipeline, attention maps hook the UNet, a hires fix
asks the first pass for latents), ``denoise`` (the pipeline's loop, every step an event), each
extension's ``after_denoise`` (a hires fix's second pass), ``check`` (a picture with NaN values says where they came
from) and ``finish`` (to uint8, an in- or outpainted picture put back over its input). InvokeAI's denoise extensions
are the model: the stages know no capability, so a new family reuses them and a new capability is an extension.
Extensions are chosen by the engine's front door (``runner.py``) from the job; none of them is imported here.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ddpm_studio.engine.events import SampleOutput, StepCallback, StepEvent, StopCheck
from ddpm_studio.engine.preview import unit_to_uint8
from ddpm_studio.engine.sampling import non_finite
from ddpm_studio.engine.sampling.flow_edit import edit_scheduler
from ddpm_studio.engine.sampling.latent import (
    decode_preview,
    job_mode,
    pipeline_arguments,
    prepare_addons,
    taesd_preview,
    unpack_latents,
    varied_latents,
)
from ddpm_studio.engine.sampling.latent_preview import StepRecorder
from ddpm_studio.engine.sampling.pipelines import LoadedPipeline
from ddpm_studio.engine.sampling.schedulers import build_scheduler, seeded_steps, step_arguments


class Cancelled(Exception):
    """Raised inside a run (from the step callback, or by an extension) to stop it between steps."""


class Extension:
    """A capability plugged into a latent run's stages; every hook does nothing unless overridden."""

    def prepare(self, run: "LatentRun") -> None:
        """Before denoising: change ``run.pipe``, ``run.args``, ``run.generators`` or ``run.total``."""

    def context(self) -> contextlib.AbstractContextManager:
        """Entered around denoising (and every pass after it)."""
        return contextlib.nullcontext()

    def step_end(self, run: "LatentRun", index: int, callback_kwargs: dict) -> None:
        """At the end of the pass's step ``index``: may replace the tensors the pipeline hands its next step."""

    def step_fields(self) -> dict:
        """Fields this extension adds to each step's event (asked after ``step_end``)."""
        return {}

    def after_denoise(self, run: "LatentRun") -> None:
        """After the first pass: a further pass over ``run.out`` (raise ``Cancelled`` to stop)."""


@dataclass
class LatentRun:
    """One run's state as it passes through the stages."""

    loaded: LoadedPipeline
    job: object  # a PromptJob
    device: object
    on_step: StepCallback
    should_stop: StopCheck
    folders: object = None
    allow_pickle: bool = False
    extensions: list = field(default_factory=list)
    pipe: object = None  # the pipeline denoising now (ControlNet's, a hires fix's img2img)
    config: dict = field(default_factory=dict)  # the scheduler's config for this run
    args: dict = field(default_factory=dict)  # the first pass's pipeline call
    size: tuple = ()  # (height, width) of the pass denoising now, in pixels: a packed family's previews unpack by it
    generators: list = field(default_factory=list)
    used: object = None  # adapters.UsedAddons
    canvas: object = None  # an in- or outpainting's canvas, to put the input back over the result
    recorder: StepRecorder | None = None
    offset: int = 0  # the first step number of this pass (a hires fix numbers its second pass on)
    total: int | None = None  # the model calls of all passes, when more than the pipeline's own
    second_pass: bool = False
    calls: int = 0  # steps run so far
    out: object = None  # the last pass's pipeline output
    started: float = 0.0  # when denoising began: step events' elapsed time counts from here
    watch: non_finite.VaeWatch | None = None
    packed: int = 1  # the family's latent packing (Flux's 2×2 tokens): previews unpack the scheduler's latents
    latent_dtype: object = None  # the dtype its pipeline draws x_T in, where not the denoiser's (Z-Image: float32)
    notes: list = field(default_factory=list)  # what this run tells the user about the job (the result's note)

    @property
    def previews_wanted(self) -> bool:
        return self.job.preview_every > 0 or self.job.full_decode_every > 0

    def scheduler(self):
        """A fresh scheduler of the job's kind on the model's config (each pass has its own)."""
        return build_scheduler(self.job.scheduler, self.config, self.job.schedule)

    def denoise(self, pipe, args: dict):
        """One pass of ``pipe`` with the step callback, x_t and x0 recorded from its scheduler."""
        if self.recorder is not None:
            self.recorder.close()
        self.recorder = StepRecorder(pipe.scheduler)
        self.recorder.wanted = self.previews_wanted
        self.size = (args.get("height"), args.get("width"))
        return pipe(**args, generator=self.generators, callback_on_step_end=self._on_step_end)

    def latents(self, x):
        """The scheduler's latents as the VAE's (B, C, h, w): a packed family's tokens unpacked (x̂0 = x_t − σ·v̂
        holds for packed latents too, elementwise)."""
        if x is None or self.packed == 1:
            return x
        return unpack_latents(x, self.packed, *self.size, self.pipe.vae_scale_factor)

    def _on_step_end(self, pipe, index, timestep, callback_kwargs):
        if self.should_stop():
            raise Cancelled
        job, recorder = self.job, self.recorder
        own_total = getattr(pipe, "_num_timesteps", None) or len(pipe.scheduler.timesteps)
        previewed = job.preview_every and (index % job.preview_every == 0 or index == own_total - 1)
        x_t = x0 = None
        decoded = bool(job.full_decode_every) and index % job.full_decode_every == 0
        latent_x0 = self.latents(recorder.x0) if previewed or decoded else None  # unpacked only when shown
        if previewed and recorder.x_t is not None:
            x_t = self.loaded.to_rgb(self.latents(recorder.x_t))
            if latent_x0 is not None:
                x0 = (taesd_preview(self.loaded.taesd, latent_x0) if self.loaded.taesd is not None
                      else self.loaded.to_rgb(latent_x0))
        if decoded and latent_x0 is not None:
            x0 = decode_preview(pipe.vae, latent_x0)
        extra = {}
        for extension in self.extensions:
            extension.step_end(self, index, callback_kwargs)
            extra.update(extension.step_fields())
        self.watch.step_done(self.offset + index, callback_kwargs.get("latents"))
        self.on_step(StepEvent(index=self.offset + index, total=self.total or own_total, timestep=float(timestep),
                               elapsed=time.perf_counter() - self.started, x_t=x_t, x0=x0,
                               noise_level=recorder.noise_level, noise_kind=recorder.noise_kind,
                               second_pass=self.second_pass, **extra))
        self.calls = self.offset + index + 1
        return callback_kwargs


def asked_addons(job) -> set[str]:
    """The add-ons (families.ADDONS) a job asks for by itself (embeddings are only words of its prompt)."""
    from ddpm_studio.engine.prompts.syntax import lora_tags

    asked = {"lora"} if job.loras or lora_tags(job.prompt)[1] else set()
    asked |= {"vae"} if job.vae else set()
    asked |= {"controlnet"} if job.controlnets else set()
    asked |= {"attention"} if getattr(job, "attention_maps", False) else set()
    return asked | ({"hires"} if getattr(job, "hires", False) else set())


def check_family(run: LatentRun) -> None:
    """A job asks only for add-ons and a scheduler the model's family takes (its row in models/families.py); a
    negative prompt it cannot use is left out, and the run's note says so."""
    from ddpm_studio.engine.jobs.scheduler_table import FLOW_SCHEDULERS, SCHEDULERS
    from ddpm_studio.engine.models.catalogue import ModelError
    from ddpm_studio.engine.models.families import family_of_info, unsupported_addons

    family, job = family_of_info(run.loaded.info), run.job
    if family is None:
        return
    asked = asked_addons(job) - ({"vae"} if run.loaded.info.split else set())  # a diffusion model's VAE file: a part
    missing = unsupported_addons(family, asked)
    if missing:
        raise ModelError(f"{run.loaded.info.name} is a {family.name} model, which does not take "
                         f"{' or '.join(missing)}; run it without.")
    if family.schedulers and job.scheduler not in family.schedulers:  # its row's: those its pipeline takes
        works = ", ".join(f"{key} ({FLOW_SCHEDULERS[key].label})" for key in family.schedulers)
        label = (FLOW_SCHEDULERS.get(job.scheduler) or SCHEDULERS[job.scheduler]).label
        raise ModelError(f"{run.loaded.info.name} is a flow-matching model ({family.name}): the {label} scheduler "
                         f"does not take its schedule; choose one of {works}.")
    true_cfg = getattr(job, "true_cfg_scale", 1.0)
    if true_cfg > 1.0 and not family.true_cfg:
        raise ModelError(f"{run.loaded.info.name} is a {family.name} model, whose guidance scale is its classifier-"
                         f"free guidance already: a true CFG scale is for Flux.1; set it to 1.")
    check_side(run, family)
    run.packed = family.packed
    run.latent_dtype = torch.float32 if family.float32_latents else None
    flavour = run.loaded.info.flavour
    if job.negative_prompt.strip() and not family.uses_negative(true_cfg, flavour):
        how = " (a true CFG scale above 1 uses it, at twice the time per step)" if family.true_cfg else ""
        why = family.unguided_why(flavour) or family.negative_why
        why = f" ({why})" if why else ""
        run.notes.append(f"{family.name} takes no negative prompt{why}: the negative prompt was not used{how}")
    elif job.negative_prompt.strip() and family.negative_prompt and job.guidance_scale <= family.cfg_above:
        run.notes.append(f"at guidance {job.guidance_scale:g} {family.name} runs no unconditional pass: the negative "
                         f"prompt was not used (it is, above {family.cfg_above:g})")
    if job.clip_skip != 1 and not family.clip_skip:
        run.notes.append(f"{family.name} does not read its prompt through CLIP's layers: clip skip was not used")


def check_side(run: LatentRun, family) -> None:
    """A Text to Image picture's sides are whole multiples of what its pipeline's image processor works in (the VAE's
    8 px, 16 where the denoiser reads 2×2 patches of latents): Z-Image's pipeline refuses others with an error."""
    from ddpm_studio.engine.models.catalogue import ModelError

    processor = getattr(getattr(run.loaded, "pipe", None), "image_processor", None)
    multiple = int(getattr(getattr(processor, "config", None), "vae_scale_factor", 0) or 0)
    width, height = getattr(run.job, "width", 0), getattr(run.job, "height", 0)
    if multiple > 1 and width and height and (width % multiple or height % multiple):
        raise ModelError(f"{run.loaded.info.name} is a {family.name} model: its pictures' sides are multiples of "
                         f"{multiple} px, and {width}×{height} is not; choose "
                         f"{width // multiple * multiple or multiple}×{height // multiple * multiple or multiple}.")


def prepare(run: LatentRun) -> None:
    """Add-ons in place, a fresh scheduler, a generator per image (and a varied x_T), the pipeline's arguments."""
    check_family(run)
    loaded, job = run.loaded, run.job
    run.used = prepare_addons(loaded, job, run.folders, run.allow_pickle)
    run.pipe = loaded.pipe
    run.config = loaded.scheduler_config
    if job.prediction_type != "auto":  # the user's choice over the model's (or the probe's)
        run.config = {**run.config, "prediction_type": job.prediction_type}
    run.pipe.scheduler = edit_scheduler(run, job_mode(job))  # a flow model's img2img noises with Euler
    run.generators = [torch.Generator(device="cpu").manual_seed(job.seed + i) for i in range(job.batch_size)]
    run.args = pipeline_arguments(loaded, job, run.used.prompt, run.used.negative_prompt)
    run.canvas = run.args.pop("masked_canvas", None)
    if job.variation_strength:  # x_T made here, as the pipeline would draw it, then varied (variation.py)
        run.args["latents"], run.generators = varied_latents(run.pipe, job, run.packed, run.latent_dtype)
    seeded_steps(run.pipe.scheduler, run.generators)  # a flow LCM's fresh noise from the seeds
    run.args.update(step_arguments(run.pipe.scheduler, run.pipe))  # TCD's eta


def check(run: LatentRun) -> None:
    """A picture that is not finite is an error saying where its NaN values came from (non_finite.py)."""
    if not np.isfinite(run.out.images).all():
        raise non_finite.explain(run.loaded, run.job, run.used, run.args, run.watch)


def finish(run: LatentRun) -> np.ndarray:
    """The pictures as uint8; an in- or outpainted one put back over its input outside the mask."""
    images = unit_to_uint8(run.out.images)
    if run.canvas is not None:
        from ddpm_studio.engine.sampling.mask_blend import composite

        images = np.stack([composite(run.canvas, image) for image in images])
    return images


def run_prompt_job(loaded: LoadedPipeline, job, device, on_step: StepCallback, should_stop: StopCheck,
                   folders=None, allow_pickle: bool = False, on_stage=None, extensions=()) -> SampleOutput:
    """Run ``job`` on the loaded pipeline through the stages, with ``extensions`` plugged in. Cancel is checked
    between steps and, through hooks, between the model's blocks (inside_step.py); ``on_stage`` hears when sampling
    and decoding begin."""
    from ddpm_studio.engine.addons.resources import AddonFolders
    from ddpm_studio.engine.sampling.inside_step import watch_inside_steps

    run = LatentRun(loaded=loaded, job=job, device=device, on_step=on_step, should_stop=should_stop,
                    folders=folders or AddonFolders(), allow_pickle=allow_pickle, extensions=list(extensions))
    prepare(run)
    for extension in run.extensions:
        extension.prepare(run)
    run.watch = non_finite.VaeWatch(run.pipe.vae)  # whether the latents the VAE decodes are finite: one check each
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(torch.inference_mode())
            for extension in run.extensions:
                stack.enter_context(extension.context())
            stack.enter_context(watch_inside_steps(run.pipe, should_stop, Cancelled, on_stage))
            stack.enter_context(run.watch)
            run.started = time.perf_counter()
            run.out = run.denoise(run.pipe, run.args)
            for extension in run.extensions:
                extension.after_denoise(run)
    except Cancelled:
        return SampleOutput(images=None, steps_run=run.calls, cancelled=True, addons=run.used)
    finally:
        if run.recorder is not None:
            run.recorder.close()
    check(run)
    return SampleOutput(images=finish(run), steps_run=run.calls, cancelled=False, addons=run.used,
                        note="; ".join(run.notes))
