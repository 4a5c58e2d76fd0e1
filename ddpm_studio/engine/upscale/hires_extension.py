"""The hires fix as an extension of a latent run's stages (sampling/stages.py): the first pass hands on latents or
pictures, they are enlarged (latent, Lanczos, or a diffusion upscaler whose steps count in the same progress), and
a second img2img pass runs on them with the first pass's prompt, add-ons and seeds, its steps numbered on from the
first pass's (hires_fix.py)."""

from __future__ import annotations

import inspect

from ddpm_studio.engine.jobs.schedule_types import combined_name
from ddpm_studio.engine.sampling.schedulers import seeded_steps
from ddpm_studio.engine.sampling.stages import Cancelled, Extension, LatentRun
from ddpm_studio.engine.upscale import hires_fix


class HiresFix(Extension):
    def __init__(self) -> None:
        self.upscaler = None
        self.upscale_total = 0  # the diffusion upscaler's model calls, counted between the passes

    def prepare(self, run: LatentRun) -> None:
        job, config = run.job, run.config
        name = combined_name(job.scheduler, job.schedule)  # its schedule type too
        run.args["output_type"] = hires_fix.first_pass_output(job)
        if hires_fix.uses_model(job):
            self.upscaler = hires_fix.upscaler_for(run.loaded, job, run.allow_pickle)
            self.upscale_total = hires_fix.upscale_calls(job, self.upscaler)
        run.total = (hires_fix.pass_calls(name, config, job.steps) + self.upscale_total +
                     hires_fix.pass_calls(name, config, hires_fix.second_pass_steps(job), job.hires_strength))

    def after_denoise(self, run: LatentRun) -> None:
        job = run.job
        second = hires_fix.img2img_pipeline(run.loaded)
        second.scheduler, replaced = hires_fix.second_pass_scheduler(combined_name(job.scheduler, job.schedule),
                                                                     run.config)
        seeded_steps(second.scheduler, run.generators)
        if replaced:
            run.notes.append("the hires pass ran with Euler: a flow model's img2img starts from its picture with it")
        if self.upscaler is None:  # a packed family's latents unpacked first (the img2img pipeline packs them again)
            first = run.latents(run.out.images) if job.hires_upscaler == "latent" else run.out.images
            image = hires_fix.enlarge(job, first, run.pipe.vae_scale_factor)
        else:  # a diffusion upscaler's steps, numbered on from the first pass's
            image = hires_fix.enlarge_with_model(job, self.upscaler, run.out.images, run.device, run.on_step,
                                                 run.should_stop, run.calls, run.total)
            if image is None:
                raise Cancelled
            run.calls += self.upscale_total
        run.offset, run.second_pass = run.calls, True
        sized = "height" in inspect.signature(second.__call__).parameters  # SD 3.5's and Flux's img2img take it
        run.out = run.denoise(second, hires_fix.second_pass_arguments(run.args, job, image, sized))
