"""Outpainting: the canvas grown left, right, top and bottom by chosen pixels, the new area filled (the edge pixels
stretched outwards, or noise around the picture's mean colour) and inpainted — by an inpainting model, or by a
normal one as masked img2img (diffusers' inpaint pipelines take a 4-channel UNet too and keep the unmasked latents
at each step). The inpaint mask reaches ``feather`` pixels into the picture (at most a quarter of its side), so
the model blends the seam; the result is put back over the original with a soft edge over that band, and every
original pixel outside the band is kept exactly, not as the VAE's copy of it. The working canvas is padded to the
VAE's 8-pixel grid and cropped back, so any growth in pixels is exact. With an inpainting model at strength 1 the
fill does not matter (its UNet sees the new area masked out); it does with a normal model, or below strength 1.
No Qt.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

FILLS = ("edge", "noise")


@dataclass
class OutpaintCanvas:
    image: Image.Image  # the grown picture, filled, padded to the grid: what the pipeline starts from
    mask: Image.Image  # L: white (repaint) over the new area and the seam band, black elsewhere
    alpha: np.ndarray  # float32 H × W in [0, 1]: how much of the generated picture the result takes, per pixel
    original: np.ndarray  # uint8 h × w × 3: the input picture, placed at (left, top)
    size: tuple[int, int]  # (width, height) of the result: the input grown by the requested pixels
    left: int
    top: int


def grown_size(width: int, height: int, extend: tuple[int, int, int, int]) -> tuple[int, int]:
    left, right, top, bottom = extend
    return width + left + right, height + top + bottom


def make_canvas(picture: Image.Image, extend: tuple[int, int, int, int], fill: str, feather: int, seed: int,
                grid: int = 8) -> OutpaintCanvas:
    left, right, top, bottom = extend
    original = np.asarray(picture.convert("RGB"))
    h, w = original.shape[:2]
    width, height = grown_size(w, h, extend)
    padded_w, padded_h = -(-width // grid) * grid, -(-height // grid) * grid
    pad = ((top, bottom + padded_h - height), (left, right + padded_w - width), (0, 0))
    if fill == "edge":
        filled = np.pad(original, pad, mode="edge")
    else:
        rng = np.random.default_rng(seed)
        mean = original.reshape(-1, 3).mean(axis=0)
        filled = np.clip(rng.normal(mean, 48.0, (padded_h, padded_w, 3)), 0, 255).astype(np.uint8)
        filled[top:top + h, left:left + w] = original
    kept = np.zeros((padded_h, padded_w), dtype=bool)  # the picture less a band along each grown side
    feather = min(feather, w // 4, h // 4)  # a small picture keeps at least half of each side unblended
    band = {side: feather if amount else 0 for side, amount in zip(("left", "right", "top", "bottom"), extend)}
    kept[top + band["top"]:top + h - band["bottom"], left + band["left"]:left + w - band["right"]] = True
    mask = Image.fromarray(np.where(kept, 0, 255).astype(np.uint8), "L")
    return OutpaintCanvas(image=Image.fromarray(filled, "RGB"), mask=mask, alpha=soft_edge(kept, feather),
                          original=original, size=(width, height), left=left, top=top)


def soft_edge(kept: np.ndarray, feather: int) -> np.ndarray:
    """0 over what is kept, rising linearly across the band to 1 ``feather`` pixels away, 1 beyond."""
    if feather <= 0 or kept.all() or not kept.any():
        return np.where(kept, 0.0, 1.0).astype(np.float32)
    from scipy.ndimage import distance_transform_edt

    return np.clip(distance_transform_edt(~kept) / feather, 0.0, 1.0).astype(np.float32)


def composite(canvas: OutpaintCanvas, generated: np.ndarray) -> np.ndarray:
    """The result (uint8 H × W × 3 at the grown size): the generated picture over the new area and the band, the
    original everywhere else, exactly."""
    width, height = canvas.size
    generated = generated[:height, :width].astype(np.float32)
    alpha = canvas.alpha[:height, :width, None]
    base = generated.copy()
    h, w = canvas.original.shape[:2]
    base[canvas.top:canvas.top + h, canvas.left:canvas.left + w] = canvas.original
    out = np.round(alpha * generated + (1.0 - alpha) * base)
    return np.clip(out, 0, 255).astype(np.uint8)
