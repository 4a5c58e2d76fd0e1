"""The forward process, made visible: q(x_t | x_0) = √ᾱ_t·x_0 + √(1−ᾱ_t)·ε for a model's schedule or a named one,
the curves that describe a schedule, and the DDPM training step on one picture (add noise, ask the model for it).

Timesteps here are diffusers' (and the rest of the app's): t = 0 … T − 1, T = num_train_timesteps, ᾱ_t is
``alphas_cumprod[t]`` and the model is called with t. Even t = 0 holds a little noise (ᾱ_0 = 1 − β_0 < 1); the clean
picture x_0 is not one of the timesteps.

The schedule math is numpy (the panel draws it before torch is loaded); the beta schedules are the standard ones:
linear and scaled_linear (linear in √β) between beta_start and beta_end, and squaredcos_cap_v2 from
ᾱ(s) = cos²((s + 0.008)/1.008 · π/2) with β capped at 0.999 (Nichol & Dhariwal, 2021).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

BETA_SCHEDULES = ("linear", "scaled_linear", "squaredcos_cap_v2")


@dataclass(frozen=True)
class Schedule:
    name: str
    betas: np.ndarray  # β_0 … β_{T−1}

    @property
    def steps(self) -> int:
        return len(self.betas)

    @property
    def alphas_cumprod(self) -> np.ndarray:
        return np.cumprod(1.0 - self.betas)

    def alpha_bar(self, t: int) -> float:
        """ᾱ_t = ∏_{s ≤ t} (1 − β_s), for t = 0 … T − 1."""
        if not 0 <= t < self.steps:
            raise ValueError(f"t must be between 0 and {self.steps - 1}; got {t}")
        return float(self.alphas_cumprod[t])

    def curves(self) -> dict[str, np.ndarray]:
        """Per t = 0 … T − 1: ᾱ_t, β_t, and log10 of the signal-to-noise ratio ᾱ_t / (1 − ᾱ_t)."""
        ab = self.alphas_cumprod
        return {"alpha_bar": ab, "beta": self.betas, "log10_snr": np.log10(ab / np.maximum(1.0 - ab, 1e-20))}


def named_schedule(name: str, steps: int = 1000, beta_start: float = 0.0001, beta_end: float = 0.02) -> Schedule:
    if name == "linear":
        betas = np.linspace(beta_start, beta_end, steps, dtype=np.float64)
    elif name == "scaled_linear":
        betas = np.linspace(beta_start**0.5, beta_end**0.5, steps, dtype=np.float64) ** 2
    elif name == "squaredcos_cap_v2":
        def alpha_bar(s: float) -> float:
            return math.cos((s + 0.008) / 1.008 * math.pi / 2) ** 2

        betas = np.array([min(1 - alpha_bar((i + 1) / steps) / alpha_bar(i / steps), 0.999) for i in range(steps)])
    else:
        raise ValueError(f"Unknown beta schedule '{name}': one of {', '.join(BETA_SCHEDULES)}.")
    return Schedule(name, betas)


def schedule_from_config(config: dict) -> Schedule:
    """The schedule a model was trained with, from its scheduler config."""
    trained = config.get("trained_betas")
    if trained is not None:
        return Schedule("trained betas", np.asarray(trained, np.float64))
    name = config.get("beta_schedule", "linear")
    if name not in BETA_SCHEDULES:
        raise ValueError(f"The model's beta schedule '{name}' is not one the explorer knows "
                         f"({', '.join(BETA_SCHEDULES)}).")
    return named_schedule(name, int(config.get("num_train_timesteps", 1000)), float(config.get("beta_start", 0.0001)),
                          float(config.get("beta_end", 0.02)))


def fixed_noise(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """ε ~ N(0, I), the same for a seed and a shape."""
    return np.random.default_rng(seed).standard_normal(shape)


def to_model_space(image: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) → float [−1, 1]."""
    return image.astype(np.float64) / 127.5 - 1.0


def to_uint8(x: np.ndarray, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    return np.clip(np.round((x - low) / (high - low) * 255.0), 0, 255).astype(np.uint8)


def q_sample(x0: np.ndarray, t: int, schedule: Schedule, eps: np.ndarray) -> np.ndarray:
    """x_t = √ᾱ_t·x_0 + √(1−ᾱ_t)·ε (model space), t = 0 … T − 1."""
    ab = schedule.alpha_bar(t)
    return math.sqrt(ab) * x0 + math.sqrt(1.0 - ab) * eps


@dataclass(frozen=True)
class NoiseCheck:
    """The training step on one picture: the noise that was added, the noise the model sees in x_t, their error."""

    t: int
    x_t: np.ndarray
    eps: np.ndarray
    eps_pred: np.ndarray
    mse: float


def model_noise_check(unet, prediction_type: str, x0: np.ndarray, t: int, schedule: Schedule,
                      eps: np.ndarray) -> NoiseCheck:
    """Noise ``x0`` to t (0 … T − 1) with ``eps``, ask the model at t, and turn its output (ε, v or x0) into its
    estimate of ε."""
    import torch

    if not 0 <= t < schedule.steps:
        raise ValueError(f"The model is asked at t = 0 … {schedule.steps - 1}; got {t}.")
    ab = schedule.alpha_bar(t)
    x_t = q_sample(x0, t, schedule, eps)
    param = next(unet.parameters())
    sample = torch.from_numpy(x_t.transpose(2, 0, 1)[None].copy()).to(param.device, param.dtype)
    with torch.inference_mode():
        out = unet(sample, t).sample[0].float().cpu().numpy().transpose(1, 2, 0).astype(np.float64)
    if prediction_type == "epsilon":
        eps_pred = out
    elif prediction_type == "v_prediction":  # v = √ᾱ·ε − √(1−ᾱ)·x0  ⇒  ε = √ᾱ·v + √(1−ᾱ)·x_t
        eps_pred = math.sqrt(ab) * out + math.sqrt(1 - ab) * x_t
    elif prediction_type == "sample":  # the model predicts x0
        eps_pred = (x_t - math.sqrt(ab) * out) / math.sqrt(max(1 - ab, 1e-12))
    else:
        raise ValueError(f"Unknown prediction type '{prediction_type}'.")
    return NoiseCheck(t=t, x_t=x_t, eps=eps, eps_pred=eps_pred, mse=float(np.mean((eps_pred - eps) ** 2)))
