"""Control images for ControlNet. The preprocessors that need no model, computed here, as the ControlNet papers and
A1111's extension prepare them (their names, and the checks of a job's ControlNet fields: ``jobs/control_fields.py``):

- ``canny``: OpenCV's Canny edge detector (the one lllyasviel's annotator and A1111's extension call) with a low and
  a high threshold, as white edges on black — deterministic;
- ``scribble``: a picture thresholded into white lines on black (dark strokes on a light page become the lines), for
  scribble ControlNets — a drawing made in the app, a photo of a sketch;
- ``invert``: black lines on white turned into white on black (lineart ControlNets expect those);
- ``none``: the picture as it is (a depth or pose map made elsewhere).

No Qt.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

SCRIBBLE_THRESHOLD = 128  # a pixel darker than this (of 255) is a stroke


def canny(picture: Image.Image, low: int = 100, high: int = 200) -> Image.Image:
    import cv2

    edges = cv2.Canny(np.asarray(picture.convert("RGB")), low, high)
    return Image.fromarray(edges).convert("RGB")


def scribble(picture: Image.Image) -> Image.Image:
    gray = np.asarray(picture.convert("L"))
    return Image.fromarray(np.where(gray < SCRIBBLE_THRESHOLD, 255, 0).astype(np.uint8)).convert("RGB")


def invert(picture: Image.Image) -> Image.Image:
    return Image.fromarray(255 - np.asarray(picture.convert("RGB")))


def preprocess(picture: Image.Image, name: str, thresholds: tuple[int, int] = (100, 200)) -> Image.Image:
    """The control image from ``picture`` by the preprocessor ``name`` (RGB)."""
    if name == "canny":
        return canny(picture, *thresholds)
    if name == "scribble":
        return scribble(picture)
    if name == "invert":
        return invert(picture)
    return picture.convert("RGB")
