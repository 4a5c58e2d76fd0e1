"""Variation seeds (A1111's "Variation seed" and "Variation seed strength"): the initial noise x_T of image i is
the spherical interpolation (slerp) of the noise of seed + i and of variation seed + i, at the strength. Slerp,
unlike a plain blend, keeps the noise's norm (two independent Gaussian noises are nearly orthogonal), so every
strength gives noise the model was trained on. Strength 0 is the seed's x_T exactly, 1 the variation seed's; the
sampler's own per-step noise (ancestral schedulers) still follows the seed's generator. No Qt.
"""

from __future__ import annotations

import torch

PARALLEL = 0.9995  # above this cosine the two noises are nearly the same direction: a plain blend is exact enough


def slerp(strength: float, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation from ``a`` (0) to ``b`` (1), over each tensor as one vector; ``a`` and ``b``
    themselves at the ends, bit for bit."""
    if strength <= 0:
        return a
    if strength >= 1:
        return b
    a32, b32 = a.double().flatten(), b.double().flatten()
    cos = torch.dot(a32, b32) / (a32.norm() * b32.norm())
    if cos.abs() > PARALLEL:
        mixed = (1 - strength) * a32 + strength * b32
    else:
        omega = torch.arccos(cos.clamp(-1, 1))
        mixed = (torch.sin((1 - strength) * omega) * a32 + torch.sin(strength * omega) * b32) / torch.sin(omega)
    return mixed.reshape(a.shape).to(a.dtype)


def initial_noise(seed: int, variation_seed: int, strength: float, batch: int, shape: tuple[int, ...],
                  dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, list[torch.Generator]]:
    """x_T for a batch on the CPU (image i from seed + i, varied towards variation seed + i) and the seeds'
    generators, advanced past x_T as drawing it advanced them: the sampler goes on drawing from them."""
    generators = [torch.Generator(device="cpu").manual_seed(seed + i) for i in range(batch)]
    noise = [torch.randn(shape, generator=g, dtype=dtype) for g in generators]
    if strength > 0:
        other = [torch.randn(shape, generator=torch.Generator(device="cpu").manual_seed(variation_seed + i),
                             dtype=dtype) for i in range(batch)]
        noise = [slerp(strength, a, b) for a, b in zip(noise, other)]
    return torch.stack(noise), generators
