"""ControlNet as an extension of a latent run's stages (sampling/stages.py): the family's ControlNet pipeline on
the loaded model's modules, and the control images, weights and start/end fractions in its call."""

from __future__ import annotations

from ddpm_studio.engine.control import controlnet
from ddpm_studio.engine.sampling.latent import job_mode
from ddpm_studio.engine.sampling.stages import Extension, LatentRun


class ControlNets(Extension):
    def prepare(self, run: LatentRun) -> None:
        nets = controlnet.controlnets_for(run.loaded, run.job, run.folders, run.allow_pickle)
        mode = job_mode(run.job)
        run.pipe = controlnet.control_pipeline(run.loaded, mode, nets)
        args = run.args
        size = (args["width"], args["height"]) if "width" in args else args["image"].size
        args.update(controlnet.control_arguments(run.job, mode, size))
