"""Writing result images: unique names, atomic writes (temp file + rename), metadata in every PNG."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
from PIL import Image

from ddpm_studio.engine.output.metadata import png_info
from ddpm_studio.engine.runtime.files import create_exclusive

NAME = re.compile(r"^(\d{5})-")


def next_index(folder: Path) -> int:
    """One past the highest ``NNNNN-`` prefix in ``folder`` (A1111-style numbering)."""
    highest = -1
    if folder.is_dir():
        for entry in folder.iterdir():
            match = NAME.match(entry.name)
            if match:
                highest = max(highest, int(match.group(1)))
    return highest + 1


def write_png_atomic(image: Image.Image, folder: Path, stem: str, pnginfo) -> Path:
    """Write to a temp file in ``folder``, then link it to the first free ``NNNNN-stem.png`` name.

    A reader never sees a half-written PNG, and an existing file is never overwritten
    (``os.link`` fails if the name is taken, so two writers cannot collide). The PNG gets the mode a normal write
    would (0666 less the umask), not mkstemp's owner-only 0600.
    """
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = create_exclusive(folder, ".partial-", ".png")
    try:
        with os.fdopen(fd, "wb") as handle:
            image.save(handle, format="PNG", pnginfo=pnginfo)
            handle.flush()
            os.fsync(handle.fileno())
        index = next_index(folder)
        while True:
            target = folder / f"{index:05d}-{stem}.png"
            try:
                os.link(tmp, target)
                return target
            except FileExistsError:
                index += 1
            except OSError:  # file systems without hard links: rename if the name is still free
                if target.exists():
                    index += 1
                    continue
                os.replace(tmp, target)
                return target
    finally:
        tmp.unlink(missing_ok=True)


def save_result_images(job, images: np.ndarray, folder: str | Path, *, model_name: str, device: str,
                       extra: dict | None = None) -> list[str]:
    """Save each image of a batch with its own seed in the name and full metadata. (The gallery is told of them by
    the caller: ``runner.Engine.run`` hands the paths to ``gallery/index.index_saved``.)"""
    folder = Path(folder).expanduser()
    paths = []
    for index, array in enumerate(images):
        height, width = array.shape[:2]
        info = png_info(job, index=index, width=width, height=height, model_name=model_name, device=device, extra=extra)
        path = write_png_atomic(Image.fromarray(array, "RGB"), folder, f"{job.seed + index}", info)
        paths.append(str(path))
    return paths
