"""Batches of images as one mosaic (numpy only: the GUI uses it before torch is loaded)."""

from __future__ import annotations

import math

import numpy as np


def image_grid(batch: np.ndarray, pad: int = 2, background: int = 40, border: bool = False) -> np.ndarray:
    """(B, H, W, 3) uint8 -> one near-square mosaic, ``pad`` pixels of ``background`` between (and around) images."""
    count, height, width, _ = batch.shape
    cols = math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    edge = pad if border else 0
    out = np.full((rows * (height + pad) - pad + 2 * edge, cols * (width + pad) - pad + 2 * edge, 3), background, np.uint8)
    for i in range(count):
        r, c = divmod(i, cols)
        top, left = edge + r * (height + pad), edge + c * (width + pad)
        out[top : top + height, left : left + width] = batch[i]
    return out
