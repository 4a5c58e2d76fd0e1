"""Inpainting's canvas: the painted mask grown by ``feather`` pixels (A1111's mask blur) is what the pipeline
repaints — by an inpainting model, or by a normal one as masked img2img — and the result is put back over the input
(mask_blend.py): the generated pixels over the painted stroke, a linear blend across the band around it, and every
pixel further out kept exactly as in the input, not as the VAE's copy of it. The input is padded to the VAE's grid
(its edge pixels stretched) and the result cropped back, so it keeps the input's size. No Qt.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ddpm_studio.engine.sampling.mask_blend import MaskedCanvas, grid_cover, soft_edge


def painted_area(mask: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """Where ``mask`` asks for repainting (bool, at ``size``): white, or grey above the middle, as diffusers reads a
    mask."""
    mask = mask.convert("L")
    if mask.size != size:
        mask = mask.resize(size, Image.Resampling.NEAREST)
    return np.asarray(mask) >= 128


def make_canvas(picture: Image.Image, mask: Image.Image, feather: int, grid: int = 8) -> MaskedCanvas:
    """``picture`` padded to the grid; the pipeline's mask over the grown stroke, whole latent cells (the padding
    is cropped away afterwards, so it may be repainted too); the blend's alpha, 1 over the stroke itself."""
    original = np.asarray(picture.convert("RGB"))
    h, w = original.shape[:2]
    padded_w, padded_h = -(-w // grid) * grid, -(-h // grid) * grid
    painted = np.zeros((padded_h, padded_w), dtype=bool)
    painted[:h, :w] = painted_area(mask, (w, h))
    repaint = painted
    if feather > 0 and painted.any():
        from scipy.ndimage import distance_transform_edt

        repaint = distance_transform_edt(~painted) <= feather  # the stroke and a band of ``feather`` px around it
    filled = np.pad(original, ((0, padded_h - h), (0, padded_w - w), (0, 0)), mode="edge")
    pipeline_mask = np.where(grid_cover(repaint, grid), 255, 0).astype(np.uint8)
    return MaskedCanvas(image=Image.fromarray(filled, "RGB"), mask=Image.fromarray(pipeline_mask, "L"),
                        alpha=soft_edge(~repaint, feather), original=original, size=(w, h))
