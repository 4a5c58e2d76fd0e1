"""The one place that picks the device and dtype."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DeviceChoice:
    device: torch.device
    dtype: torch.dtype

    @property
    def label(self) -> str:
        return f"{self.device.type}/{str(self.dtype).removeprefix('torch.')}"


PRECISIONS = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}


def pick_device(preference: str = "auto", precision: str = "auto") -> DeviceChoice:
    """The device and dtype to run on. ``precision`` (fp16, bf16, fp32) overrides the device's default dtype."""
    choice = _pick(preference)
    if precision in ("", "auto"):
        return choice
    if precision not in PRECISIONS:
        raise ValueError(f"Unknown precision '{precision}': use auto, fp16, bf16 or fp32.")
    return DeviceChoice(choice.device, PRECISIONS[precision])


def _pick(preference: str) -> DeviceChoice:
    """CUDA (fp16) when present, then MPS (fp16), then CPU (fp32). ``preference`` forces one ('cuda', 'mps', 'cpu')."""
    pref = (preference or "auto").lower()
    if pref not in {"auto", "cuda", "mps", "cpu"}:
        raise ValueError(f"Unknown device '{preference}': use auto, cuda, mps or cpu.")
    if pref in {"auto", "cuda"} and torch.cuda.is_available():
        return DeviceChoice(torch.device("cuda"), torch.float16)
    if pref == "cuda":
        raise ValueError("CUDA was asked for, but torch sees no CUDA device.")
    mps = getattr(torch.backends, "mps", None)
    if pref in {"auto", "mps"} and mps is not None and mps.is_available():
        return DeviceChoice(torch.device("mps"), torch.float16)
    if pref == "mps":
        raise ValueError("MPS was asked for, but it is not available here.")
    return DeviceChoice(torch.device("cpu"), torch.float32)
