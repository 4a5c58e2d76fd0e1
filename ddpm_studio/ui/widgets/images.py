"""numpy uint8 images to Qt images, and batches to grids."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PySide6.QtGui import QImage

from ddpm_studio.engine.output.grid import image_grid


def grid(batch: np.ndarray) -> np.ndarray:
    """A batch of previews as one mosaic on a dark background."""
    return image_grid(batch, pad=2, background=40)


def to_qimage(array: np.ndarray) -> QImage:
    """An (H, W, 3) uint8 array as a QImage that owns its pixels (safe to keep and to pass between threads)."""
    array = np.ascontiguousarray(array)
    height, width, _ = array.shape
    return QImage(array.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


def store_image(image: QImage, root: str, folder: str, prefix: str, write: bool = True) -> Path | None:
    """Save a pasted or painted ``image`` under ``root/folder``, named by its content (the same image is stored once),
    so that a job's parameters always point at a real file. ``write`` False (settings being saved, no run): the path
    only if that file is there already, else None — nothing is written for a picture no job has used."""
    data = bytes(image.constBits())
    target = Path(root or ".").expanduser() / folder
    path = target / f"{prefix}-{hashlib.sha1(data).hexdigest()[:12]}.png"
    if not write:
        return path if path.is_file() else None
    target.mkdir(parents=True, exist_ok=True)
    if not path.exists() and not image.save(str(path)):
        raise OSError(f"Could not save {path}.")
    return path
