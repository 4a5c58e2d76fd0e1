"""Memory savers for latent pipelines, applied when a pipeline is placed on its device: attention slicing, VAE
tiling and slicing, the VAE in float32 inside a half-precision pipeline (the fix for black images), and one of the
offloads (``offload.py``; CUDA GPUs only). What does not apply to a model or a device is said in the load's note.
"""

from __future__ import annotations

import functools

import torch

from ddpm_studio.engine.runtime import offload
from ddpm_studio.engine.runtime.options import MemoryOptions


def apply_memory_options(pipe, memory: MemoryOptions, device) -> str:
    """Place the pipeline on ``device``, with the memory savers asked for; returns a note on those that do not
    apply here ("" when all do)."""
    notes = []
    if memory.attention_slicing:
        if not any(hasattr(module, "set_attention_slice") for module in _modules(pipe)):
            notes.append("attention slicing does not apply to this model: its attention runs in PyTorch's fused "
                         "kernel, which already keeps memory low")
        pipe.enable_attention_slicing()
    vae = getattr(pipe, "vae", None)
    for wanted, method, name in ((memory.vae_tiling, "enable_tiling", "VAE tiling"),
                                 (memory.vae_slicing, "enable_slicing", "VAE slicing")):
        if wanted and hasattr(vae, method):
            getattr(vae, method)()
        elif wanted:
            notes.append(f"{name} does not apply to this model's {type(vae).__name__}")
    if memory.vae_fp32 and vae is not None and vae.dtype != torch.float32:
        upcast_vae(vae)  # before any offload, which keeps the weights as they are when it starts
    wanted = memory.offload
    if wanted and not offload.offload_applies(device):
        notes.append(offload.not_applied_note(wanted, device))
        wanted = ""
    offload.place(pipe, wanted, device)
    return "; ".join(notes)


def _modules(pipe):
    return [module for module in pipe.components.values() if isinstance(module, torch.nn.Module)]


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
