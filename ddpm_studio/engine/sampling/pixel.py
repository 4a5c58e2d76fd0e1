"""The denoising loop for pixel-space DDPMs, written out like the paper's algorithm, with two hooks.

    x_T ~ N(0, I) · init_noise_sigma
    for each timestep t:  ε̂ = unet(scale(x_t), t);  x_{t-1}, x̂0 = scheduler.step(ε̂, t, x_t)
                          on_step(t, x_t, x̂0);  stop if asked

We do not call ``DDPMPipeline.__call__``: it has no step hook and never applies ``init_noise_sigma`` or
``scale_model_input``, which Euler-family schedulers need.
"""

from __future__ import annotations

import inspect
import time

import torch

from ddpm_studio.engine.events import SampleOutput, StepCallback, StepEvent, StopCheck
from ddpm_studio.engine.jobs.types import GenerateJob
from ddpm_studio.engine.preview import preview, to_uint8
from ddpm_studio.engine.sampling import variation
from ddpm_studio.engine.sampling.schedulers import build_scheduler


def initial_noise(job: GenerateJob, shape: tuple[int, int, int]) -> tuple[torch.Tensor, list[torch.Generator]]:
    """x_T on the CPU, image i drawn from seed + i (varied towards variation seed + i, ``variation.py``), so that
    every image of a batch can be re-made alone."""
    return variation.initial_noise(job.seed, job.variation_seed, job.variation_strength, job.batch_size, shape)


def sample_hw(unet) -> tuple[int, int]:
    """(height, width) of the samples a UNet2DModel makes: its config's sample_size, an int or a pair."""
    size = unet.config.sample_size
    return (size, size) if isinstance(size, int) else tuple(size)


def predicted_x0(x_t: torch.Tensor, model_output: torch.Tensor, alpha_bar: torch.Tensor, prediction_type: str) -> torch.Tensor:
    """x̂0 in closed form for variance-preserving x_t: ε → (x_t − √(1−ᾱ)ε)/√ᾱ, v → √ᾱ·x_t − √(1−ᾱ)·v."""
    channels = x_t.shape[1]
    out = model_output[:, :channels]  # learned-variance models put the variance after the prediction
    a = alpha_bar.to(device=x_t.device, dtype=torch.float32)
    x_t = x_t.float()
    out = out.float()
    if prediction_type == "epsilon":
        return (x_t - (1 - a).sqrt() * out) / a.sqrt()
    if prediction_type == "v_prediction":
        return a.sqrt() * x_t - (1 - a).sqrt() * out
    return out  # "sample": the model predicts x0 itself


def sample_ddpm(
    unet,
    scheduler_config: dict,
    job: GenerateJob,
    device: torch.device,
    dtype: torch.dtype,
    on_step: StepCallback,
    should_stop: StopCheck,
) -> SampleOutput:
    scheduler = build_scheduler(job.scheduler, scheduler_config, job.schedule)
    scheduler.set_timesteps(job.steps, device=device)
    timesteps = scheduler.timesteps
    total = len(timesteps)
    prediction_type = scheduler.config.get("prediction_type", "epsilon")
    alphas_cumprod = scheduler.alphas_cumprod.cpu()
    last_train_t = len(alphas_cumprod) - 1

    height, width = sample_hw(unet)
    noise, generators = initial_noise(job, (unet.config.in_channels, height, width))
    x = noise.to(device=device, dtype=dtype) * scheduler.init_noise_sigma
    step_kwargs = {"generator": generators} if "generator" in inspect.signature(scheduler.step).parameters else {}
    preview_every = job.preview_every

    start = time.perf_counter()
    with torch.inference_mode():
        for i, t in enumerate(timesteps):
            if should_stop():
                return SampleOutput(images=None, steps_run=i, cancelled=True)
            x_in = scheduler.scale_model_input(x, t)
            model_output = unet(x_in, t).sample
            t_index = min(max(int(round(float(t))), 0), last_train_t)
            alpha_bar = alphas_cumprod[t_index]
            step = scheduler.step(model_output, t, x, **step_kwargs)
            x = step.prev_sample

            x_t_preview = x0_preview = None
            if preview_every and (i % preview_every == 0 or i == total - 1):
                x0 = getattr(step, "pred_original_sample", None)
                if x0 is None:
                    x0 = predicted_x0(x_in, model_output, alpha_bar, prediction_type)
                x_t_preview, x0_preview = preview(x_in), preview(x0)
            on_step(
                StepEvent(
                    index=i,
                    total=total,
                    timestep=float(t),
                    elapsed=time.perf_counter() - start,
                    x_t=x_t_preview,
                    x0=x0_preview,
                    noise_level=float(alpha_bar),
                )
            )
    return SampleOutput(images=to_uint8(x), steps_run=total, cancelled=False)
