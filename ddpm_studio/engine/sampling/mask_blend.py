"""Putting a masked generation back over its input (A1111 and InvokeAI do the same): the pipeline repaints a masked
canvas, and the result takes the generated pixels over the mask, the input's own pixels everywhere else — exactly,
not as the VAE's copy of them — with a soft edge in between. Outpainting (outpaint.py) and inpainting (inpaint.py)
make the canvas; both are put back by ``composite``. No Qt.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass
class MaskedCanvas:
    image: Image.Image  # the picture the pipeline starts from, padded to the VAE's grid
    mask: Image.Image  # L: white (repaint) where the result may take generated pixels, black elsewhere
    alpha: np.ndarray  # float32 H × W in [0, 1]: how much of the generated picture the result takes, per pixel
    original: np.ndarray  # uint8 h × w × 3: the input picture, placed at (left, top)
    size: tuple[int, int]  # (width, height) of the result
    left: int = 0
    top: int = 0


def soft_edge(kept: np.ndarray, feather: int) -> np.ndarray:
    """0 over what is kept, rising linearly across the band to 1 ``feather`` pixels away, 1 beyond."""
    if feather <= 0 or kept.all() or not kept.any():
        return np.where(kept, 0.0, 1.0).astype(np.float32)
    from scipy.ndimage import distance_transform_edt

    return np.clip(distance_transform_edt(~kept) / feather, 0.0, 1.0).astype(np.float32)


def grid_cover(repaint: np.ndarray, grid: int) -> np.ndarray:
    """``repaint`` (bool H × W, both multiples of ``grid``) grown to whole ``grid`` × ``grid`` cells: the pipeline
    samples its mask once per latent cell, so a cell the blend takes anything from is repainted whole."""
    height, width = repaint.shape
    cells = repaint.reshape(height // grid, grid, width // grid, grid).any(axis=(1, 3))
    return np.repeat(np.repeat(cells, grid, axis=0), grid, axis=1)


def composite(canvas: MaskedCanvas, generated: np.ndarray) -> np.ndarray:
    """The result (uint8 H × W × 3 at ``canvas.size``): the generated picture where ``alpha`` is 1, the original
    where it is 0, exactly, and the two blended in between."""
    width, height = canvas.size
    generated = generated[:height, :width].astype(np.float32)
    alpha = canvas.alpha[:height, :width, None]
    base = generated.copy()
    h, w = canvas.original.shape[:2]
    base[canvas.top:canvas.top + h, canvas.left:canvas.left + w] = canvas.original
    out = np.round(alpha * generated + (1.0 - alpha) * base)
    return np.clip(out, 0, 255).astype(np.uint8)
