"""numpy uint8 images to Qt images, and batches to grids."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtGui import QImage


def grid(batch: np.ndarray, pad: int = 2, background: int = 40) -> np.ndarray:
    """(B, H, W, 3) -> one (rows·H, cols·W, 3) mosaic, near-square."""
    count, height, width, _ = batch.shape
    cols = math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    out = np.full((rows * height + (rows - 1) * pad, cols * width + (cols - 1) * pad, 3), background, np.uint8)
    for i in range(count):
        r, c = divmod(i, cols)
        out[r * (height + pad) : r * (height + pad) + height, c * (width + pad) : c * (width + pad) + width] = batch[i]
    return out


def to_qimage(array: np.ndarray) -> QImage:
    """An (H, W, 3) uint8 array as a QImage that owns its pixels (safe to keep and to pass between threads)."""
    array = np.ascontiguousarray(array)
    height, width, _ = array.shape
    return QImage(array.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()
