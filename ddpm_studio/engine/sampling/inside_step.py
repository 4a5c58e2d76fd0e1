"""Cancel inside a step, and say what the model is doing, with forward pre-hooks between the model's blocks.

A pipeline's step callback runs between steps, so a Cancel waits for the step that is running. On a CPU a 2048² SD
step takes minutes, and the VAE decode at the end about as long. So the denoiser's and the VAE decoder's blocks
(ResNet blocks, transformer blocks, down- and upsamplers) each get a pre-hook that checks ``should_stop`` and raises
the caller's exception: a run stops within one block, a fraction of a step. The hooks also tell ``on_stage`` when the
denoiser is first called ("sampling": the model is loaded, the prompt encoded, step 1 runs) and when the VAE starts
decoding ("decoding"). A hook is a Python call and an ``Event.is_set()``, a few microseconds a block
(``bench/inside_step.py`` measures the whole step).
"""

from __future__ import annotations

import contextlib
from typing import Callable

import torch

# the blocks a check sits before: small enough that one block is a small part of a step, big enough to cost nothing
# (ResidualBlock: the Wan-style frame VAE's, Qwen-Image's)
_BLOCK_SUFFIXES = ("ResnetBlock2D", "TransformerBlock", "Transformer2DModel", "Downsample2D", "Upsample2D",
                   "ResidualBlock")

STAGES = {
    "sampling": "the model is loaded and the prompt encoded: the first step runs",
    "decoding": "the last step is done: the VAE decodes the picture",
}


def _blocks(module: torch.nn.Module) -> list[torch.nn.Module]:
    return [m for m in module.modules() if type(m).__name__.endswith(_BLOCK_SUFFIXES)]


def _denoiser(pipe) -> torch.nn.Module | None:
    return getattr(pipe, "unet", None) or getattr(pipe, "transformer", None)


@contextlib.contextmanager
def watch_inside_steps(pipe, should_stop: Callable[[], bool], stop: type[BaseException],
                       on_stage: Callable[[str], None] | None = None):
    """While inside: ``stop`` is raised before any block of the denoiser or the VAE decoder once ``should_stop()``
    is true, and ``on_stage`` hears "sampling" at the denoiser's first call and "decoding" at each decode."""
    handles = []
    said: set[str] = set()

    def check(_module, _inputs):
        if should_stop():
            raise stop

    def stage(name: str, once: bool):
        def hook(_module, _inputs):
            if should_stop():
                raise stop
            if on_stage is not None and not (once and name in said):
                said.add(name)
                on_stage(name)

        return hook

    try:
        denoiser = _denoiser(pipe)
        if denoiser is not None:
            handles.append(denoiser.register_forward_pre_hook(stage("sampling", once=True)))
            handles += [block.register_forward_pre_hook(check) for block in _blocks(denoiser)]
        decoder = getattr(getattr(pipe, "vae", None), "decoder", None)
        if isinstance(decoder, torch.nn.Module):
            handles.append(decoder.register_forward_pre_hook(stage("decoding", once=False)))
            handles += [block.register_forward_pre_hook(check) for block in _blocks(decoder)]
        yield
    finally:
        for handle in handles:
            handle.remove()
