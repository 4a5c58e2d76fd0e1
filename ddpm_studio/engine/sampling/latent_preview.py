"""Cheap previews for latent diffusion: a linear map from latent channels to RGB, and a scheduler-step recorder
that captures x_t and the predicted x0 (latents) at every model call of any diffusers pipeline.

Linear factors (4 channels → RGB, applied to model-space latents, i.e. after the VAE scaling factor) are the ones
ComfyUI publishes (`comfy/latent_formats.py`): each family's in its row of the family table, the x4 upscaler's
(class SD_X4) here. For any other VAE (custom, fine-tuned with another scaling factor) the map is fitted by least
squares from the loaded VAE itself: a few synthetic images are encoded, and the latents are regressed onto the
images downsampled to latent resolution.

Model-space latents x are what the denoiser works on; a VAE's own latents z follow from its config, read the same
way for every VAE (``vae_latents``, ``model_latents``): x = (z − m)·s/σ with m its ``latents_mean`` or shift factor
(SD3, Flux), σ its ``latents_std`` and s its scaling factor (each 0 or 1 where it has none) — SD's scale, SD3's scale
and shift, Qwen-Image's (Wan's) per-channel mean and std; Flux.2's m and σ are its batch norm's running statistics,
one per value of a 2×2 patch of its 32 channels (``patch_norm``). A VAE of video frames (Qwen-Image's, Wan's: 3-D
convolutions) encodes and decodes (B, C, 1, h, w); a picture's latents are its one frame (``takes_frames``).
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from ddpm_studio.engine.models.families import FAMILIES
from ddpm_studio.engine.preview import PREVIEW_MAX_IMAGES
from ddpm_studio.engine.runtime.offload import execution_device
from ddpm_studio.engine.sampling.pixel import predicted_x0

SD_X4_FACTORS = [[-0.2340, -0.3863, -0.3257], [0.0994, 0.0885, -0.0908], [-0.2833, -0.2349, -0.3741], [0.2523, -0.0055, -0.1651]]
SD_X4_SCALING = 0.08333  # the SD x4 upscaler's VAE


class LatentToRGB:
    """latents (B, C, h, w) in model space → uint8 (B, h, w, 3)."""

    def __init__(self, weights: torch.Tensor, bias: torch.Tensor, source: str) -> None:
        self.weights, self.bias, self.source = weights.float(), bias.float(), source

    def __call__(self, latents: torch.Tensor) -> np.ndarray:
        x = latents[:PREVIEW_MAX_IMAGES].detach().float()
        if x.ndim == 5:  # a frame VAE's (B, C, 1, h, w): the picture is its one frame
            x = x[:, :, 0]
        rgb = torch.einsum("bchw,cr->bhwr", x, self.weights.to(x.device)) + self.bias.to(x.device)
        return rgb.clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8).cpu().numpy()

    @classmethod
    def for_vae(cls, vae) -> "LatentToRGB":
        config = vae.config
        for family in FAMILIES:  # the families' published maps (models/families.py), known by their VAE
            rgb = family.latent_rgb
            if _channels(config) == family.latent_channels and _is_full_size(config) and _normalised_as(config, rgb):
                return cls(torch.tensor(rgb.factors), torch.tensor(rgb.bias), rgb.source)
        if _channels(config) == 4 and abs(_scale(config) - SD_X4_SCALING) < 1e-5 and \
                tuple(getattr(config, "block_out_channels", ())) == (128, 256, 512):
            return cls(torch.tensor(SD_X4_FACTORS), torch.zeros(3), "SD x4 upscaler factors (published by ComfyUI)")
        return cls.fitted(vae)

    @classmethod
    def fitted(cls, vae, size: int = 64, encode=None) -> "LatentToRGB":
        """Least squares from latents to the images they encode; ``encode`` (images → model-space latents) defaults
        to a KL VAE's posterior mean in model space (``model_latents``)."""
        images = _probe_images(size).to(device=execution_device(vae), dtype=vae.dtype)  # an offloaded VAE's, too
        with torch.inference_mode():
            if encode is None:
                frames = takes_frames(vae)
                mean = vae.encode(images.unsqueeze(2) if frames else images).latent_dist.mean.float()
                latents = model_latents(vae, mean[:, :, 0] if frames else mean)
            else:
                latents = encode(images).float()
        h, w = latents.shape[-2:]
        target = torch.nn.functional.adaptive_avg_pool2d(images.float(), (h, w))
        lat = latents.permute(0, 2, 3, 1).reshape(-1, latents.shape[1]).cpu().numpy()
        rgb = target.permute(0, 2, 3, 1).reshape(-1, 3).cpu().numpy()
        design = np.concatenate([lat, np.ones((lat.shape[0], 1), np.float32)], axis=1)
        solution, *_ = np.linalg.lstsq(design, rgb, rcond=None)
        return cls(torch.from_numpy(solution[:-1]), torch.from_numpy(solution[-1]), "fitted to this VAE")


def _shift(config) -> float:
    """A VAE's shift factor (SD3's latents are (z − shift) · scale), 0 where it has none."""
    return float(getattr(config, "shift_factor", None) or 0.0)


def _scale(config) -> float:
    """A VAE's scaling factor, 1 where it has none (Qwen-Image's normalises by its mean and std alone)."""
    return float(getattr(config, "scaling_factor", None) or 1.0)


def _channels(config) -> int:
    """A VAE's latent channels: ``latent_channels`` (AutoencoderKL), ``z_dim`` (the Wan-style frame VAEs)."""
    return int(getattr(config, "latent_channels", None) or getattr(config, "z_dim", None) or 0)


def _statistics(config, channels: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """m and σ of x = (z − m)·s/σ, shaped to broadcast over (B, C, …) latents like ``like``: the VAE's
    per-channel ``latents_mean`` and ``latents_std`` where it has them, else its shift factor and 1."""
    mean, std = getattr(config, "latents_mean", None), getattr(config, "latents_std", None)
    shape = (1, channels) + (1,) * (like.ndim - 2)
    if mean is not None and std is not None:
        return (torch.tensor(mean, dtype=like.dtype, device=like.device).view(shape),
                torch.tensor(std, dtype=like.dtype, device=like.device).view(shape))
    return torch.full(shape, _shift(config), dtype=like.dtype, device=like.device), torch.ones((), dtype=like.dtype)


def vae_latents(vae, x: torch.Tensor) -> torch.Tensor:
    """Model-space latents → the VAE's own, z = x·σ/s + m (the module docstring), whatever the VAE's kind (Flux.2's
    m and σ are its batch norm's, per value of a 2×2 patch)."""
    norm = patch_norm(vae)
    if norm is not None:
        return _by_patch(norm, x, inverse=False)
    mean, std = _statistics(vae.config, x.shape[1], x)
    return x * (std.to(x.device) / _scale(vae.config)) + mean


def model_latents(vae, z: torch.Tensor) -> torch.Tensor:
    """The VAE's latents → model space, x = (z − m)·s/σ."""
    norm = patch_norm(vae)
    if norm is not None:
        return _by_patch(norm, z, inverse=True)
    mean, std = _statistics(vae.config, z.shape[1], z)
    return (z - mean) * (_scale(vae.config) / std.to(z.device))


def takes_frames(vae) -> bool:
    """Whether a VAE works on video frames, (B, C, T, h, w) (Qwen-Image's and Wan's: its decoder's first
    convolution is a 3-D one), rather than on pictures."""
    weight = getattr(getattr(getattr(vae, "decoder", None), "conv_in", None), "weight", None)
    return isinstance(weight, torch.Tensor) and weight.ndim == 5


def _normalised_as(config, rgb) -> bool:
    """Whether a VAE normalises its latents as a published map's family does (its scale and shift, or its
    per-channel mean and std)."""
    if rgb.latents_mean:
        mean, std = getattr(config, "latents_mean", None), getattr(config, "latents_std", None)
        return mean is not None and std is not None and len(mean) == len(rgb.latents_mean) and \
            np.allclose(mean, rgb.latents_mean, atol=1e-4) and np.allclose(std, rgb.latents_std, atol=1e-4)
    return abs(_scale(config) - rgb.scaling_factor) < 1e-6 and abs(_shift(config) - rgb.shift_factor) < 1e-6


def _is_full_size(config) -> bool:
    """The full-size VAEs the published maps were made on: SD's KL VAE and Wan 2.1's (Qwen-Image's) frame VAE."""
    return tuple(getattr(config, "block_out_channels", ())) == (128, 256, 512, 512) or \
        (getattr(config, "base_dim", None) == 96 and tuple(getattr(config, "dim_mult", ())) == (1, 2, 4, 4))


def patch_norm(vae):
    """A VAE that normalises its latents patch by patch (Flux.2's ``AutoencoderKLFlux2``): the mean and standard
    deviation of each of the C·p² values of a p×p patch (its batch norm's running statistics, as its pipeline reads
    them) and p; else None."""
    norm = getattr(vae, "bn", None)
    if not isinstance(norm, torch.nn.modules.batchnorm._BatchNorm) or norm.running_mean is None:
        return None
    patch = int(tuple(getattr(vae.config, "patch_size", (2, 2)))[0])
    std = torch.sqrt(norm.running_var + getattr(vae.config, "batch_norm_eps", norm.eps))
    return norm.running_mean, std, patch


def _patchify(latents: torch.Tensor, p: int) -> torch.Tensor:
    """(B, C, H, W) → (B, C·p², H/p, W/p): each channel's p×p patch row by row (Flux.2's order)."""
    b, c, h, w = latents.shape
    patches = latents.reshape(b, c, h // p, p, w // p, p).permute(0, 1, 3, 5, 2, 4)
    return patches.reshape(b, c * p * p, h // p, w // p)


def _unpatchify(patches: torch.Tensor, p: int) -> torch.Tensor:
    """The inverse of ``_patchify``."""
    b, cpp, h, w = patches.shape
    latents = patches.reshape(b, cpp // (p * p), p, p, h, w).permute(0, 1, 4, 2, 5, 3)
    return latents.reshape(b, cpp // (p * p), h * p, w * p)


def _by_patch(norm, x: torch.Tensor, inverse: bool) -> torch.Tensor:
    """Flux.2's normalisation of each patch's values (``patch_norm``): z = x·σ + m, or, ``inverse``, x = (z − m)/σ."""
    mean, std, p = norm
    mean, std = (value.to(x.device, x.dtype).view(1, -1, 1, 1) for value in (mean, std))
    patches = _patchify(x, p)
    return _unpatchify((patches - mean) / std if inverse else patches * std + mean, p)


def _probe_images(size: int) -> torch.Tensor:
    """Colour ramps and blocks in [-1, 1]: enough variety to pin a 4→3 linear map."""
    ramp = torch.linspace(-1, 1, size)
    yy, xx = torch.meshgrid(ramp, ramp, indexing="ij")
    images = [torch.stack([xx, yy, -xx]), torch.stack([yy, -xx, xx * yy]), torch.stack([-yy, xx * 0.5, yy])]
    for colour in ([1, -1, -1], [-1, 1, -1], [-1, -1, 1], [1, 1, 1], [-1, -1, -1], [1, 1, -1]):
        images.append(torch.tensor(colour, dtype=torch.float32)[:, None, None].expand(3, size, size))
    return torch.stack(images)


class StepRecorder:
    """Wraps ``scheduler.step`` to keep the latest x_t and x0 latents; restores the scheduler when closed."""

    def __init__(self, scheduler) -> None:
        self.scheduler = scheduler
        self._step = scheduler.step
        self.x_t: torch.Tensor | None = None
        self.x0: torch.Tensor | None = None
        self.alpha_bar: float | None = None  # ᾱ_t of the step (a variance-preserving scheduler's)
        self.sigma: float | None = None  # σ_t of the step (a flow scheduler's: x_t = (1 − σ)·x0 + σ·ε)
        self.wanted = True
        prediction_type = scheduler.config.get("prediction_type", "epsilon")
        alphas = getattr(scheduler, "alphas_cumprod", None)

        flow = is_flow(scheduler)
        self.noise_kind = "flow" if flow else "alpha_bar"  # what the steps' noise level is (StepEvent.noise_kind)
        # x_t is carried as x0 + σ·ε: show it as the model sees it
        karras = not flow and float(getattr(scheduler, "init_noise_sigma", 1.0)) > 1.0

        @functools.wraps(self._step)  # pipelines read step()'s signature to decide whether to pass generator/eta
        def step(model_output, timestep, sample, *args, return_dict: bool = True, **kwargs):
            sigma = None
            if karras and self.wanted and getattr(scheduler, "step_index", None) is not None:
                sigma = float(scheduler.sigmas[scheduler.step_index])
            out = self._step(model_output, timestep, sample, *args, return_dict=True, **kwargs)
            if self.wanted and flow:  # the step counted itself: its σ is the one before (its first index is set then)
                index = getattr(scheduler, "step_index", None)
                self._flow_step(model_output, sample, float(scheduler.sigmas[index - 1]) if index else None)
            elif self.wanted:
                x0 = getattr(out, "pred_original_sample", None)
                t_index = int(round(float(timestep)))
                if alphas is not None:
                    t_index = min(max(t_index, 0), len(alphas) - 1)
                    self.alpha_bar = float(alphas[t_index])
                if x0 is None and alphas is not None:
                    x0 = predicted_x0(sample, model_output, alphas[t_index], prediction_type)
                self.x_t = sample / (sigma**2 + 1) ** 0.5 if sigma is not None else sample
                self.x0 = x0
            return out if return_dict else out.to_tuple()

        scheduler.step = step

    def _flow_step(self, velocity: torch.Tensor, sample: torch.Tensor, sigma: float | None) -> None:
        """A flow model's step: x_t = (1 − σ)·x0 + σ·ε and the model predicts v = ε − x0, so x̂0 = x_t − σ·v̂ (the
        flow Euler step is x_next = x_t + (σ_next − σ)·v̂, which at σ_next = 0 is x̂0). x_t is the sample itself; its
        noise level is σ itself (1: all noise, 0: the picture)."""
        self.x_t = sample
        self.sigma = sigma
        self.x0 = None if sigma is None else sample - sigma * velocity

    @property
    def noise_level(self) -> float | None:
        """The step's noise level as ``noise_kind`` says: σ_t for a flow model, else ᾱ_t."""
        return self.sigma if self.noise_kind == "flow" else self.alpha_bar

    def close(self) -> None:
        self.scheduler.step = self._step


def is_flow(scheduler) -> bool:
    """Whether a scheduler runs a flow-matching model: the flow Euler one, or a solver on flow sigmas."""
    config = scheduler.config
    return type(scheduler).__name__.startswith("FlowMatch") or bool(config.get("use_flow_sigmas")) or \
        config.get("prediction_type") == "flow_prediction"
