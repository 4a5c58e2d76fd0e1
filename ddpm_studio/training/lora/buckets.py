"""Aspect-ratio buckets for LoRA training (NovelAI's bucketing, as kohya's sd-scripts does it): instead of cropping
every picture to a square, each one is trained at the bucket size nearest its own aspect ratio. Buckets are sizes in
steps of 64 px (8 px below 256: the VAE's factor, for tiny test models), between half and twice the training
resolution a side, with at most resolution² pixels. A picture is scaled to cover its bucket and only the sliver
left over is cut from its middle (under one step); pictures are batched with others of the same bucket. No torch.
"""

from __future__ import annotations

import math

from PIL import Image


def bucket_step(resolution: int) -> int:
    return 64 if resolution >= 256 else 8


def bucket_sizes(resolution: int) -> list[tuple[int, int]]:
    """(width, height) of every bucket, widest first; the square one is always there."""
    step = bucket_step(resolution)
    low, high, area = max(step, resolution // 2), resolution * 2, resolution * resolution
    sizes = {(resolution - resolution % step,) * 2}
    for width in range(low - low % step or step, high + 1, step):
        height = min(high, area // width)
        height -= height % step
        if height >= low:
            sizes.add((width, height))
            sizes.add((height, width))
    return sorted(sizes, key=lambda s: (-s[0] / s[1], s[0]))


def nearest_bucket(width: int, height: int, sizes: list[tuple[int, int]]) -> tuple[int, int]:
    """The bucket whose aspect ratio is nearest the picture's (by log ratio; a tie goes to the larger bucket)."""
    aspect = math.log(width / height)
    return min(sizes, key=lambda s: (abs(math.log(s[0] / s[1]) - aspect), -s[0] * s[1]))


def fit_to_bucket(image: Image.Image, size: tuple[int, int]) -> tuple[Image.Image, tuple[int, int]]:
    """``image`` scaled (Lanczos) to cover ``size`` and cut to it from the middle; also where the cut began
    (top, left), which SDXL is told as its crop conditioning."""
    width, height = size
    scale = max(width / image.width, height / image.height)
    scaled = (max(width, round(image.width * scale)), max(height, round(image.height * scale)))
    resized = image.resize(scaled, Image.Resampling.LANCZOS) if scaled != image.size else image
    top, left = (scaled[1] - height) // 2, (scaled[0] - width) // 2
    return resized.crop((left, top, left + width, top + height)), (top, left)


def square_size(resolution: int) -> tuple[int, int]:
    """Without bucketing: every picture a centred square at the resolution."""
    return resolution, resolution
