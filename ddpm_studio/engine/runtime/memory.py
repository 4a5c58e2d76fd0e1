"""Memory savers for latent pipelines, applied when a pipeline is placed on its device: attention slicing, VAE
tiling, model CPU offload (GPUs), and the VAE in float32 inside a half-precision pipeline (the fix for black images).
"""

from __future__ import annotations

import functools

import torch

from ddpm_studio.engine.runtime.options import MemoryOptions


def apply_memory_options(pipe, memory: MemoryOptions, device) -> None:
    """Place the pipeline on ``device``, with the memory savers asked for."""
    if memory.attention_slicing:
        pipe.enable_attention_slicing()
    if memory.vae_tiling:
        pipe.vae.enable_tiling()
    if memory.cpu_offload and torch.device(device).type == "cuda":
        pipe.enable_model_cpu_offload(device=device)  # each model moves to the GPU only while it runs
    else:
        pipe.to(device)  # offload only helps when there is a GPU to move to
    if memory.vae_fp32 and pipe.vae.dtype != torch.float32:
        upcast_vae(pipe.vae)


def upcast_vae(vae) -> None:
    """Run the VAE in float32 inside a half-precision pipeline: its inputs are cast up, its outputs back down."""
    half = vae.dtype
    vae.to(torch.float32)
    encode, decode = vae.encode, vae.decode
    vae.encode = functools.wraps(encode)(lambda x, *a, **k: _cast(encode(x.to(torch.float32), *a, **k), half))
    vae.decode = functools.wraps(decode)(lambda z, *a, **k: _cast(decode(z.to(torch.float32), *a, **k), half))


def _cast(output, dtype):
    """A VAE's output (tensor, tuple, DecoderOutput, encoder output or its Gaussian) in ``dtype``."""
    if isinstance(output, torch.Tensor):
        return output.to(dtype)
    if isinstance(output, tuple):
        return tuple(_cast(item, dtype) for item in output)
    if isinstance(getattr(output, "sample", None), torch.Tensor):
        output.sample = output.sample.to(dtype)
    if getattr(output, "latent_dist", None) is not None:
        _cast(output.latent_dist, dtype)
    for name in ("parameters", "mean", "logvar", "std", "var"):  # a DiagonalGaussianDistribution
        if isinstance(getattr(output, name, None), torch.Tensor):
            setattr(output, name, getattr(output, name).to(dtype))
    return output
