"""Outpainting: the canvas grown left, right, top and bottom by chosen pixels, the new area filled (the edge pixels
stretched outwards, or noise around the picture's mean colour) and inpainted — by an inpainting model, or by a
normal one as masked img2img (diffusers' inpaint pipelines take a 4-channel UNet too and keep the unmasked latents
at each step). The inpaint mask reaches ``feather`` pixels into the picture (at most a quarter of its side), so
the model blends the seam; the result is put back over the original with a soft edge over that band, and every
original pixel outside the band is kept exactly, not as the VAE's copy of it (mask_blend.py, as inpainting). The working canvas is padded to the
VAE's 8-pixel grid and cropped back, so any growth in pixels is exact. With an inpainting model at strength 1 the
fill does not matter (its UNet sees the new area masked out); it does with a normal model, or below strength 1.
No Qt.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ddpm_studio.engine.sampling.mask_blend import MaskedCanvas, soft_edge

FILLS = ("edge", "noise")


def grown_size(width: int, height: int, extend: tuple[int, int, int, int]) -> tuple[int, int]:
    left, right, top, bottom = extend
    return width + left + right, height + top + bottom


def make_canvas(picture: Image.Image, extend: tuple[int, int, int, int], fill: str, feather: int, seed: int,
                grid: int = 8) -> MaskedCanvas:
    """The grown picture, filled; its mask over the new area and a band of the picture along each grown side."""
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
    return MaskedCanvas(image=Image.fromarray(filled, "RGB"), mask=mask, alpha=soft_edge(kept, feather),
                        original=original, size=(width, height), left=left, top=top)

