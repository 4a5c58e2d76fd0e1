"""Engine options the GUI's settings hold; importable without torch (the window opens before torch loads)."""

from __future__ import annotations

from dataclasses import dataclass

# Where a pipeline's weights live between uses; at most one (diffusers refuses model or sequential offload on a
# pipeline with group offload, and each of the three replaces the others' hooks). Each means something on a CUDA GPU
# only: on the CPU there is nothing to move to, and Apple GPUs share the CPU's memory.
OFFLOADS = ("cpu_offload", "sequential_offload", "group_offload")
OFFLOAD_NAMES = {"cpu_offload": "model CPU offload", "sequential_offload": "sequential CPU offload",
                 "group_offload": "group offload"}


@dataclass(frozen=True)
class MemoryOptions:
    """Trade speed for memory in latent pipelines (they change no pixel except through VAE tiling's seams)."""

    attention_slicing: bool = False  # attention computed in slices: less peak memory, a little slower
    vae_tiling: bool = False  # decode large images tile by tile
    cpu_offload: bool = False  # keep each model on the CPU until it runs (GPUs only)
    vae_fp32: bool = False  # the VAE in float32 while the rest runs in fp16/bf16: the fix for black (NaN) images
    sequential_offload: bool = False  # each layer's weights on the GPU only while it runs: least memory, slowest
    group_offload: bool = False  # the denoiser's and text encoders' blocks moved in turn, the next one prefetched
    vae_slicing: bool = False  # a batch decoded one image at a time

    def __post_init__(self) -> None:
        chosen = [OFFLOAD_NAMES[name] for name in OFFLOADS if getattr(self, name)]
        if len(chosen) > 1:
            raise ValueError(f"Choose one offload at a time, not {' and '.join(chosen)}.")

    @property
    def offload(self) -> str:
        """The offload asked for (one of ``OFFLOADS``), or ""."""
        return next((name for name in OFFLOADS if getattr(self, name)), "")

    @classmethod
    def from_dict(cls, values) -> MemoryOptions:
        """The options in a saved dict (unknown keys dropped); a hand-edited file with two offloads keeps none."""
        known = {k: bool(v) for k, v in (values if isinstance(values, dict) else {}).items()
                 if k in cls.__dataclass_fields__}
        try:
            return cls(**known)
        except ValueError:
            return cls(**{k: v for k, v in known.items() if k not in OFFLOADS})
