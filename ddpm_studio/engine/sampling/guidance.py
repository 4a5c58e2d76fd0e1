"""Autoguidance for unconditional DDPMs: steer a model away from a weaker version of itself.

Karras et al., "Guiding a Diffusion Model with a Bad Version of Itself" (NeurIPS 2024, arXiv:2406.02507): with the
main model D and a guide model D_g — the same kind of model, smaller and/or trained for less time — sampling uses

    D_w(x_t, t) = D_g(x_t, t) + w · (D(x_t, t) − D_g(x_t, t))

at every step. w = 1 is the main model alone. The guide errs where the main model errs, only more, so stepping away
from it pulls samples out of the low-probability regions a small model fills with blends, without the loss of
variety of classifier-free guidance; the paper shows it works for unconditional models too. Their guide was trained
for 1/16 of the main model's time, at about one size smaller.

The combination is linear, so it holds for any linear parametrisation (ε, v, x0): the sampler combines the raw UNet
outputs and never needs to know.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ddpm_studio.engine.models.catalogue import ModelError
from ddpm_studio.engine.models.pixel_ddpm import LoadedDDPM

# scheduler config entries that fix the noise schedule and what the UNet predicts, which a guide must share, with
# diffusers' DDPMScheduler defaults for a config that leaves one out
SCHEDULE_DEFAULTS = {"num_train_timesteps": 1000, "beta_start": 0.0001, "beta_end": 0.02, "beta_schedule": "linear",
                     "trained_betas": None, "prediction_type": "epsilon"}


@dataclass
class UNetOutput:
    sample: torch.Tensor


def check_guide(main: LoadedDDPM, guide: LoadedDDPM) -> None:
    """Refuse a guide that predicts something else, on another schedule, or for other image shapes."""
    problems = []
    for key in ("in_channels", "out_channels", "sample_size"):
        ours, theirs = main.unet.config.get(key), guide.unet.config.get(key)
        if _norm(ours) != _norm(theirs):
            problems.append(f"UNet {key} {theirs} (the model's is {ours})")
    for key, default in SCHEDULE_DEFAULTS.items():
        ours, theirs = main.scheduler_config.get(key, default), guide.scheduler_config.get(key, default)
        if _norm(ours) != _norm(theirs):
            problems.append(f"scheduler {key} {theirs} (the model's is {ours})")
    if problems:
        raise ModelError(
            f"{guide.info.path} cannot guide {main.info.path}: a guide must be a weaker version of the same kind of "
            f"model, but it has {'; '.join(problems)}."
        )


def _norm(value: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple)) else value


class GuidedUNet:
    """Looks like the main UNet to the sampler (``config``, ``unet(x, t).sample``); returns the guided prediction."""

    def __init__(self, unet, guide_unet, scale: float) -> None:
        self.unet, self.guide_unet, self.scale = unet, guide_unet, float(scale)
        self.config = unet.config

    def __call__(self, x: torch.Tensor, t) -> UNetOutput:
        out = self.unet(x, t).sample
        weak = self.guide_unet(x.to(self.guide_unet.dtype), t).sample.to(out.dtype)
        channels = x.shape[1]  # a learned-variance model's extra channels are the main model's own
        guided = weak[:, :channels] + self.scale * (out[:, :channels] - weak[:, :channels])
        return UNetOutput(sample=torch.cat([guided, out[:, channels:]], dim=1) if out.shape[1] > channels else guided)
