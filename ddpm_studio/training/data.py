"""Image-folder data for training: every image becomes RGB the same documented way, bad files are skipped and named.

Conversion to RGB (in this order):
1. EXIF orientation is applied (a phone photo stands the way it was shot).
2. GIFs and other animations: the first frame.
3. 16-bit and 32-bit greyscale (I;16, I, F): scaled from the image's own range to 0–255.
4. Transparency (RGBA, LA, P or L with a transparent colour): composited over white.
5. Everything else (L, P, CMYK, YCbCr, 1): PIL's convert("RGB").

Then: resize so the shorter side is the training resolution (Lanczos), centre or random crop to a square, optional
horizontal flip, scale to [-1, 1] (``dataset.py``). No torch here: the GUI scans folders before torch is loaded.
"""

from __future__ import annotations

import errno
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
MIN_SIDE = 8


class DataError(ValueError):
    """The folder cannot be trained on; the message names it and says why."""


@dataclass
class DataReport:
    folder: Path
    good: list[Path] = field(default_factory=list)
    bad: list[tuple[Path, str]] = field(default_factory=list)

    def summary(self) -> str:
        text = f"{len(self.good)} usable image(s) in {self.folder}"
        if self.bad:
            text += f"; {len(self.bad)} skipped"
        return text

    def details(self) -> str:
        return "\n".join(f"skipped {path}: {reason}" for path, reason in self.bad)


def find_images(folder: Path) -> list[Path]:
    """The files under ``folder`` named like images, hidden names left out, linked folders not followed.

    A symbolic link named like an image that points nowhere or loops is kept, for ``load_rgb`` to name as bad. Broken
    links with other names are left out like any other file with those names: the link's own name decides, as it does
    for a link that works.
    """
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in EXTENSIONS and not p.name.startswith(".")
                  and (p.is_file() or _is_broken_link(p)))


def _is_broken_link(path: Path) -> bool:
    return path.is_symlink() and not path.exists()  # exists() follows the link: False if it points nowhere or loops


def link_problem(path: Path) -> str | None:
    """Why the symbolic link ``path`` cannot be followed (it points nowhere, or loops); None if it can or is no link."""
    if not path.is_symlink():
        return None
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link that loops back on itself"
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return f"a symbolic link to a missing file ({os.readlink(path)})"
        return f"a symbolic link that cannot be followed ({exc.strerror})"
    return None


def to_rgb(image: Image.Image) -> Image.Image:
    """The documented conversion (see the module docstring); ``image`` must already be loaded."""
    image = ImageOps.exif_transpose(image)
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        low, high = float(array.min()), float(array.max())
        scaled = (array - low) / (high - low) * 255.0 if high > low else np.zeros_like(array)
        image = Image.fromarray(scaled.round().astype(np.uint8), "L")
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode in ("P", "L", "RGB") and "transparency" in image.info)
    if has_alpha:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def load_rgb(path: Path) -> Image.Image:
    """Open, fully decode and convert one file; raises ValueError with a plain reason for any bad file."""
    problem = link_problem(path)
    if problem:
        raise ValueError(problem)
    if path.stat().st_size == 0:
        raise ValueError("empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.load()
                rgb = to_rgb(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValueError(f"too large to decode safely ({exc})") from None
    except Image.UnidentifiedImageError:
        raise ValueError("not an image file PIL can read") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ValueError(f"cannot be decoded: {exc}") from None
    if min(rgb.size) < MIN_SIDE:
        raise ValueError(f"too small ({rgb.width}×{rgb.height}; at least {MIN_SIDE} px a side)")
    return rgb


def resize_short_side(image: Image.Image, resolution: int) -> Image.Image:
    scale = resolution / min(image.size)
    size = (max(resolution, round(image.width * scale)), max(resolution, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS) if size != image.size else image


def scan(folder: str | Path, resolution: int, keep_budget: int | None = None) -> tuple[DataReport, list[np.ndarray]]:
    """Decode every image once: the report of good and bad files, and the good ones resized (uint8 HWC), in order,
    as many as fit in ``keep_budget`` bytes (all of them when it is None)."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DataError(f"Training folder not found: {folder}")
    report = DataReport(folder)
    arrays: list[np.ndarray] = []
    kept = 0
    for path in find_images(folder):
        try:
            array = np.array(resize_short_side(load_rgb(path), resolution))
        except (ValueError, OSError) as exc:
            report.bad.append((path, str(exc)))
            continue
        report.good.append(path)
        kept += array.nbytes
        if keep_budget is None or kept <= keep_budget:
            arrays.append(array)
    if not report.good:
        bad = f" ({len(report.bad)} file(s) could not be used)" if report.bad else ""
        raise DataError(f"No usable image in {folder}{bad}. Supported: {', '.join(sorted(EXTENSIONS))}.")
    return report, arrays
