"""Tiles for upscaling a picture too large for one pass: overlapping boxes, and a feathered blend of the results.

Each tile is upscaled on its own, so neighbours disagree a little (another brightness, another texture). Inside an
overlap the two results are mixed with weights that fall linearly from 1 to 0 across it, so the handover is spread
over the whole overlap instead of landing on one row of pixels. Image borders get full weight. No torch here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Box:
    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    """As few tiles as give every neighbour pair at least ``overlap``, spread evenly: first at 0, last on the border."""
    if length <= tile:
        return [0]
    count = math.ceil((length - overlap) / (tile - overlap))
    return sorted({round(i * (length - tile) / (count - 1)) for i in range(count)})


def tile_boxes(width: int, height: int, tile: int, overlap: int) -> list[Box]:
    """Boxes of at most ``tile``×``tile`` covering the image, neighbours overlapping by at least ``overlap``."""
    if tile <= overlap:
        raise ValueError("the tile must be larger than the overlap")
    return [Box(x, y, min(x + tile, width), min(y + tile, height))
            for y in _starts(height, tile, overlap) for x in _starts(width, tile, overlap)]


def _ramp(length: int, start_overlap: int, end_overlap: int) -> np.ndarray:
    """1 in the middle, falling linearly to ~0 over the overlaps at either end (0 overlap: no fall)."""
    weight = np.ones(length, np.float64)
    if start_overlap > 0:
        weight[:start_overlap] = (np.arange(start_overlap) + 0.5) / start_overlap
    if end_overlap > 0:
        weight[length - end_overlap :] = np.minimum(weight[length - end_overlap :], (np.arange(end_overlap)[::-1] + 0.5) / end_overlap)
    return weight


def feather(box: Box, boxes: list[Box], scale: int) -> np.ndarray:
    """The blend weight (h×w, output pixels) of ``box``: it falls off only where a neighbour overlaps it."""
    left = max((b.x1 - box.x0 for b in boxes if b.x0 < box.x0 < b.x1 and _overlaps_y(b, box)), default=0)
    right = max((box.x1 - b.x0 for b in boxes if b.x0 < box.x1 < b.x1 and _overlaps_y(b, box)), default=0)
    top = max((b.y1 - box.y0 for b in boxes if b.y0 < box.y0 < b.y1 and _overlaps_x(b, box)), default=0)
    bottom = max((box.y1 - b.y0 for b in boxes if b.y0 < box.y1 < b.y1 and _overlaps_x(b, box)), default=0)
    across = _ramp(box.width * scale, left * scale, right * scale)
    down = _ramp(box.height * scale, top * scale, bottom * scale)
    return down[:, None] * across[None, :]


def _overlaps_x(a: Box, b: Box) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1


def _overlaps_y(a: Box, b: Box) -> bool:
    return a.y0 < b.y1 and b.y0 < a.y1


class Blender:
    """Accumulates upscaled tiles (float RGB, h×w×3) into one picture, weighted by their feathers."""

    def __init__(self, width: int, height: int, boxes: list[Box], scale: int) -> None:
        self.boxes, self.scale = boxes, scale
        self.total = np.zeros((height * scale, width * scale, 3), np.float64)
        self.weight = np.zeros((height * scale, width * scale, 1), np.float64)

    def add(self, box: Box, tile: np.ndarray) -> None:
        s = self.scale
        expected = (box.height * s, box.width * s)
        if tile.shape[:2] != expected:
            raise ValueError(f"an upscaled tile is {tile.shape[1]}×{tile.shape[0]}, expected {expected[1]}×{expected[0]}")
        w = feather(box, self.boxes, s)[..., None]
        self.total[box.y0 * s : box.y1 * s, box.x0 * s : box.x1 * s] += tile * w
        self.weight[box.y0 * s : box.y1 * s, box.x0 * s : box.x1 * s] += w

    def result(self) -> np.ndarray:
        return self.total / np.maximum(self.weight, 1e-12)


class PreviewMosaic:
    """The whole picture while its tiles are upscaled one after another, at the input's resolution (where the
    upscalers denoise): the input where no tile is finished yet, the finished tiles blended and shrunk back by
    ``scale``, and the running tile's preview over its own box. So a tiled run is watched as one picture filling in."""

    def __init__(self, pixels: np.ndarray, boxes: list[Box], scale: int) -> None:
        height, width = pixels.shape[:2]
        self.scale = scale
        self.blender = Blender(width, height, boxes, 1)
        self.picture = pixels.astype(np.uint8).copy()

    def add(self, box: Box, tile: np.ndarray) -> None:
        """A finished tile (float RGB in 0…1 at ``scale``× the box)."""
        s = self.scale
        small = tile.reshape(box.height, s, box.width, s, 3).mean(axis=(1, 3))
        self.blender.add(box, small)
        done = self.blender.weight[..., 0] > 0
        self.picture[done] = np.clip(np.round(self.blender.result()[done] * 255.0), 0, 255).astype(np.uint8)

    def compose(self, box: Box, preview: np.ndarray | None) -> np.ndarray | None:
        """The mosaic with ``preview`` ((1, h, w, 3) uint8, the running tile at 1×, maybe padded) over ``box``."""
        if preview is None:
            return None
        out = self.picture.copy()
        out[box.y0 : box.y1, box.x0 : box.x1] = preview[0, : box.height, : box.width]
        return out[None]
