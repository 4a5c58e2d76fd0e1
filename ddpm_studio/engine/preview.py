"""Tensors in model space ([-1, 1], NCHW) to small uint8 RGB arrays (NHWC) for display."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

PREVIEW_MAX_IMAGES = 16
PREVIEW_MAX_SIDE = 256


def unit_to_uint8(pictures) -> np.ndarray:
    """Pictures with values in 0 … 1 (as diffusers' ``output_type="np"`` gives them) to uint8, rounded."""
    return np.clip(np.round(np.asarray(pictures) * 255.0), 0, 255).astype(np.uint8)


def to_uint8(x: torch.Tensor, max_images: int | None = None, max_side: int | None = None) -> np.ndarray:
    """[-1, 1] NCHW tensor -> uint8 NHWC numpy array with 3 channels; optionally fewer images, smaller sides."""
    if max_images is not None:
        x = x[:max_images]
    x = x.detach().float()
    if max_side is not None and max(x.shape[-2:]) > max_side:
        factor = math.ceil(max(x.shape[-2:]) / max_side)
        x = F.avg_pool2d(x, factor)
    channels = x.shape[1]
    if channels == 1:
        x = x.expand(-1, 3, -1, -1)
    elif channels != 3:
        x = x[:, :3]
    x = x.clamp(-1.0, 1.0).add(1.0).mul(127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).contiguous().cpu().numpy()


def preview(x: torch.Tensor) -> np.ndarray:
    return to_uint8(x, PREVIEW_MAX_IMAGES, PREVIEW_MAX_SIDE)


def preview_uint8(images: np.ndarray) -> np.ndarray:
    """Finished uint8 images (NHWC) within the same limits as ``preview``: as many images, sides as long at most."""
    images = images[:PREVIEW_MAX_IMAGES]
    height, width = images.shape[1:3]
    if max(height, width) <= PREVIEW_MAX_SIDE:
        return np.ascontiguousarray(images)
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    x = F.avg_pool2d(x, math.ceil(max(height, width) / PREVIEW_MAX_SIDE))
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()
