"""The engine's front door: ``Engine.run(job, on_step, should_stop) -> Result``.

GUI, CLI, tests and benchmarks all call this. It loads (and keeps) the model, picks the device, runs the
sampling loop and writes the PNGs — only for runs that finished, so a cancelled run leaves no file behind.
"""

from __future__ import annotations

import time

import torch

from ddpm_studio.engine.addons.resources import AddonFolders
from ddpm_studio.engine.events import (
    Result,
    StageCallback,
    StepCallback,
    StopCheck,
    final_event,
    ignore_stage,
    ignore_step,
    never_stop,
)
from ddpm_studio.engine.jobs.types import GenerateJob, PromptJob
from ddpm_studio.engine.jobs.upscale_job import UpscaleJob
from ddpm_studio.engine.models.catalogue import resolve
from ddpm_studio.engine.models.pixel_ddpm import LoadedDDPM, load_ddpm
from ddpm_studio.engine.output.family_metadata import family_fields
from ddpm_studio.engine.output.save import save_result_images
from ddpm_studio.engine.runtime.device import DeviceChoice, pick_device
from ddpm_studio.engine.runtime.options import MemoryOptions
from ddpm_studio.engine.sampling.guidance import GuidedUNet, check_guide
from ddpm_studio.engine.sampling.pixel import sample_ddpm


class Engine:
    """Runs jobs one at a time; keeps the last loaded model so repeated runs start at once."""

    def __init__(self, device: str = "auto", allow_pickle: bool = False, precision: str = "auto",
                 memory: MemoryOptions = MemoryOptions(), taesd: str = "", folders: AddonFolders | None = None) -> None:
        self.device: DeviceChoice = pick_device(device, precision)
        self.allow_pickle = allow_pickle
        self.memory = memory
        self.taesd = taesd  # "" (linear previews), "auto" (TAESD from the HF cache if present) or a folder
        self.folders = folders or AddonFolders()  # where LoRAs, embeddings and VAEs named by name are looked for
        self._model: LoadedDDPM | None = None
        self._model_key: tuple | None = None
        self._guide: LoadedDDPM | None = None  # autoguidance's weaker model, for GenerateJobs that name one
        self._guide_key: tuple | None = None

    def unload(self) -> None:
        """Drop the loaded model and give its memory back (after an out-of-memory error, or a settings change)."""
        import gc

        self._model = self._model_key = self._guide = self._guide_key = None
        gc.collect()
        if self.device.device.type == "cuda":
            torch.cuda.empty_cache()

    @staticmethod
    def warm_up() -> None:
        """Import the heavy modules now (diffusers pulls in torch._dynamo), not at the first run."""
        import diffusers.models.unets.unet_2d  # noqa: F401
        import diffusers.schedulers  # noqa: F401 (imported for its side effect: loaded now)

    def load(self, ref: str, mode: str = "generate", parts: tuple = ((), "")):
        """The pixel DDPM (mode 'generate') or the latent pipeline for ``mode``; kept until another is asked for.
        ``parts``: (text-encoder files, VAE file) a flow family's diffusion-model file is paired with."""
        path = resolve(ref)
        key = (str(path), _stamp(path), mode, self.device.label, self.allow_pickle, self.memory, self.taesd, parts)
        if self._model is None or self._model_key != key:
            self._model = None  # free the old one before loading the next
            if mode != "generate":
                from ddpm_studio.engine.runtime.library_progress import hide_library_progress

                hide_library_progress()
            if mode == "generate":
                self._model = load_ddpm(ref, self.device.device, self.device.dtype, allow_pickle=self.allow_pickle)
            elif mode == "upscale" and path.is_file():  # a model upscaler (ESRGAN, SwinIR, …): a single file
                from ddpm_studio.engine.upscale.model_upscale import load_model_upscaler

                self._model = load_model_upscaler(ref, self.device.device, self.device.dtype)
            elif mode == "upscale":
                from ddpm_studio.engine.upscale.upscalers import load_upscaler

                self._model = load_upscaler(ref, self.device.device, self.device.dtype, self.allow_pickle, self.memory)
            else:
                from ddpm_studio.engine.output.file_hashes import prefetch
                from ddpm_studio.engine.sampling.pipelines import load_pipeline

                self._model = load_pipeline(ref, mode, self.device.device, self.device.dtype, allow_pickle=self.allow_pickle,
                                            memory=self.memory, taesd=self.taesd, text_encoders=parts[0], vae=parts[1])
                if self._model.info.single_file:
                    prefetch(self._model.info.path)  # its Model hash, for the parameters of the first image
            self._model_key = key
        return self._model

    def load_guide(self, model: LoadedDDPM, ref: str) -> LoadedDDPM:
        """The autoguidance guide for ``model``, checked to be compatible; kept beside it, like the model itself."""
        path = resolve(ref)
        key = (str(path), _stamp(path), self.device.label, self.allow_pickle)
        if self._guide is None or self._guide_key != key:
            self._guide = None
            self._guide = load_ddpm(ref, self.device.device, self.device.dtype, allow_pickle=self.allow_pickle)
            self._guide_key = key
        check_guide(model, self._guide)
        return self._guide

    def run(self, job, on_step: StepCallback = ignore_step, should_stop: StopCheck = never_stop, save: bool = True,
            on_stage: StageCallback = ignore_stage) -> Result:
        """Run ``job``; ``on_step`` gets every model call's event and then, for a finished run with previews on, the
        result as a ``final`` event (``events.final_event``). ``on_stage`` hears "sampling" once the model is loaded
        and the first step runs, and "decoding" when a latent run's VAE decodes (``inside_step.STAGES``)."""
        started = time.perf_counter()
        last_event = None
        user_on_step = on_step

        def on_step(event):
            nonlocal last_event
            last_event = event
            user_on_step(event)

        run_kind = self._runner_for(job)
        model, out = run_kind(job, on_step, should_stop, on_stage)
        result = Result(
            job=job,
            images=out.images,
            cancelled=out.cancelled,
            steps_run=out.steps_run,
            device=self.device.device.type,
            dtype=str(self.device.dtype).removeprefix("torch."),
            model_name=model.info.name,
            reference=out.reference,
            tiles=out.tiles,
            # what a loaded pipeline says about how it was loaded, and what the run says about the job
            note="; ".join(filter(None, (getattr(model, "note", ""), getattr(out, "note", "")))),
            addons=out.addons,
            family_fields=family_fields(model.info, job, getattr(model, "scheduler_config", None)),
            prompts=getattr(out, "prompts", None),
        )
        if not out.cancelled and last_event is not None and job.preview_every:
            user_on_step(final_event(last_event, out.images))
        if save and not out.cancelled and job.output_dir:
            from ddpm_studio.engine.gallery.index import index_saved
            from ddpm_studio.engine.output.addon_metadata import addon_fields

            extra = addon_fields(model.info, job, result.addons, getattr(model, "vae_slot", None))
            extra.update(result.family_fields)
            if result.prompts:  # each image's resolved wildcards, written as its prompt (addon_metadata.prompt_line)
                from ddpm_studio.engine.output.addon_metadata import prompt_line

                extra["prompts"] = [(prompt_line(p, result.addons), n) for p, n in result.prompts]
            result.saved_paths = save_result_images(
                job, out.images, job.output_dir, model_name=model.info.name, device=self.device.label, extra=extra
            )
            index_saved(result.saved_paths)  # the gallery finds them at once (engine/gallery/index.py)
        result.seconds = time.perf_counter() - started
        return result


    # ---- one runner per kind of job: (job, on_step, should_stop, on_stage) → (the loaded model, SampleOutput) ----
    def _runner_for(self, job):
        runners = {GenerateJob: self._run_pixel, UpscaleJob: self._run_upscale, PromptJob: self._run_latent}
        for kind in type(job).__mro__:  # a Text to Image or Edit job is a PromptJob
            if kind in runners:
                return runners[kind]
        raise TypeError(f"The engine cannot run a {type(job).__name__}.")

    def _run_pixel(self, job: GenerateJob, on_step, should_stop, on_stage):
        model = self.load(job.model)
        unet = model.unet
        if job.guided:
            unet = GuidedUNet(unet, self.load_guide(model, job.guide_model).unet, job.guidance_scale)
        on_stage("sampling")
        return model, sample_ddpm(unet, model.scheduler_config, job, self.device.device, self.device.dtype, on_step,
                                  should_stop)

    def _run_upscale(self, job: UpscaleJob, on_step, should_stop, on_stage):
        from ddpm_studio.engine.upscale.upscalers import run_upscale_job

        from ddpm_studio.engine.upscale.lanczos import LANCZOS
        from ddpm_studio.engine.upscale.model_upscale import lanczos_upscaler

        if job.redraw:
            return self._run_redraw(job, on_step, should_stop, on_stage)
        model = lanczos_upscaler() if job.model == LANCZOS else self.load(job.model, "upscale")
        on_stage("sampling")
        if getattr(model, "scale", None):  # a model upscaler: one forward pass a tile
            from ddpm_studio.engine.upscale.model_upscale import run_model_upscale

            return model, run_model_upscale(model, job, self.device.device, on_step, should_stop)
        return model, run_upscale_job(model, job, self.device.device, on_step, should_stop)

    def _run_redraw(self, job: UpscaleJob, on_step, should_stop, on_stage):
        """A model upscaler's (or Lanczos') result redrawn tile by tile with img2img (upscale/redraw.py), the
        upscaler's tiles and the redraw's steps in one progress. The img2img model is kept as any model is; the
        upscaler is loaded for this run only."""
        import numpy as np
        from PIL import Image

        from ddpm_studio.engine.events import SampleOutput, StepEvent
        from ddpm_studio.engine.inputs import open_rgb
        from ddpm_studio.engine.preview import unit_to_uint8
        from ddpm_studio.engine.sampling import stages
        from ddpm_studio.engine.upscale import model_upscale, redraw
        from ddpm_studio.engine.upscale.lanczos import LANCZOS

        device = self.device.device
        image = open_rgb(job.image, "input image")
        loaded = self.load(job.redraw, "img2img")
        upscaler = (model_upscale.lanczos_upscaler() if job.model == LANCZOS
                    else model_upscale.load_model_upscaler(job.model, device, self.device.dtype))
        s = upscaler.scale
        first = len(model_upscale.model_boxes(upscaler, image.width, image.height, job.tile, job.overlap))
        total = first + redraw.redraw_calls(loaded, job, image.width * s, image.height * s)
        on_stage("sampling")

        def on_tile(number, boxes, mosaic) -> None:
            picture = mosaic.picture[None] if job.preview_every else None
            on_step(StepEvent(index=number, total=total, timestep=0.0, elapsed=0.0, x_t=picture, x0=picture,
                              upscaling=True))

        upscaled = model_upscale.upscale_pixels(upscaler, np.asarray(image, dtype=np.uint8), device, job.tile,
                                                job.overlap, on_tile, should_stop)
        upscaler.model = None  # its weights go; the result is still named after it
        if upscaled is None:
            return upscaler, SampleOutput(images=None, steps_run=0, cancelled=True)
        out = redraw.redraw(unit_to_uint8(upscaled), job, loaded,
                            lambda edit, step: stages.run_prompt_job(loaded, edit, device, step, should_stop,
                                                                     self.folders, self.allow_pickle),
                            on_step, should_stop, before=first)
        out.reference = np.asarray(image.resize((image.width * s, image.height * s), Image.Resampling.LANCZOS))
        return upscaler, out

    def _run_latent(self, job: PromptJob, on_step, should_stop, on_stage):
        from ddpm_studio.engine.sampling import stages
        from ddpm_studio.engine.sampling.latent import job_mode

        from ddpm_studio.engine.sampling.wildcard_runs import run_resolved, wants_resolving

        model = self.load(job.model, job_mode(job), self._split_parts(job))

        def run_one(one, on_one_step):
            return stages.run_prompt_job(model, one, self.device.device, on_one_step, should_stop, self.folders,
                                         self.allow_pickle, on_stage, latent_extensions(one))

        if wants_resolving(job):  # each image's prompt from its seed (sampling/wildcard_runs.py)
            return model, run_resolved(job, run_one, on_step, getattr(self.folders, "wildcards", []))
        return model, run_one(job, on_step)


    def _split_parts(self, job: PromptJob) -> tuple:
        """(text-encoder files, VAE file) of a job whose model is a flow family's diffusion-model file: parts of the
        model, loaded with it; for any other model the job's VAE is an add-on and nothing is paired."""
        if not resolve(job.model).is_file():
            return (), ""
        from ddpm_studio.engine.models.catalogue import inspect_model

        if not inspect_model(job.model, self.allow_pickle).split:
            return (), ""
        from pathlib import Path

        def full(path: str) -> str:
            return str(Path(path).expanduser().resolve())

        return tuple(full(path) for path in job.text_encoders), full(job.vae) if job.vae else ""


def latent_extensions(job: PromptJob) -> list:
    """The capabilities a latent job plugs into the run's stages (sampling/stages.py), in the order they act:
    ControlNet swaps in its pipeline before the attention maps hook the one that runs; the hires fix's second pass
    comes last."""
    extensions = []
    if job.controlnets:
        from ddpm_studio.engine.control.extension import ControlNets

        extensions.append(ControlNets())
    from ddpm_studio.engine.sampling.prompt_editing import PromptEditing, wants_prompt_editing

    if wants_prompt_editing(job.prompt, job.negative_prompt):  # after ControlNet's pipeline is in place
        extensions.append(PromptEditing())
    if job.attention_maps:
        from ddpm_studio.engine.inspect.attention_extension import AttentionMaps

        extensions.append(AttentionMaps())
    if getattr(job, "hires", False):  # a Text to Image job's
        from ddpm_studio.engine.upscale.hires_extension import HiresFix

        extensions.append(HiresFix())
    return extensions


def _stamp(path) -> float:
    """Changes when the denoiser's weights change (e.g. a trainer exported over the same folder): a UNet's, or a
    transformer's (SD 3.5)."""
    try:
        if path.is_file():  # a checkpoint, and the A1111-style yaml beside it that may say its prediction type
            from ddpm_studio.engine.models.prediction import sidecar

            config = sidecar(path)
            return max(path.stat().st_mtime, config.stat().st_mtime if config else 0.0)
        denoiser = next((path / name for name in ("unet", "transformer") if (path / name).is_dir()), path / "unet")
        return max((p.stat().st_mtime for p in denoiser.iterdir()), default=0.0)
    except OSError:
        return 0.0


def torch_threads() -> int:
    return torch.get_num_threads()
