"""Real image folders for training tests: solid colours, shapes, and a hostile mix of broken and odd files."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image


def solid_folder(path: Path, colour=(200, 40, 40), count: int = 8, size: int = 20) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.new("RGB", (size, size), colour).save(path / f"solid-{i}.png")
    return path


def shapes_folder(path: Path, count: int = 16, size: int = 24) -> Path:
    """Coloured discs and squares on white: enough structure that the loss has something to learn."""
    path.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size]
    for i in range(count):
        image = np.full((size, size, 3), 255, np.uint8)
        cx, cy, r = rng.integers(6, size - 6, 2).tolist() + [int(rng.integers(3, 6))]
        mask = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r if i % 2 else (abs(xx - cx) <= r) & (abs(yy - cy) <= r)
        image[mask] = rng.integers(0, 256, 3)
        Image.fromarray(image).save(path / f"shape-{i:02d}.png")
    return path


def hostile_folder(path: Path) -> tuple[Path, set[str], set[str]]:
    """(folder, names that must train, names that must be reported bad)."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "sub").mkdir()
    good = set()
    for i in range(3):
        Image.new("RGB", (24, 24), (30 * i, 100, 200)).save(path / f"good-{i}.png")
        good.add(f"good-{i}.png")
    Image.new("CMYK", (24, 24), (0, 255, 255, 0)).save(path / "cmyk.jpg")  # red in CMYK
    good.add("cmyk.jpg")
    Image.fromarray(np.linspace(0, 65535, 24 * 24).reshape(24, 24).astype(np.uint16)).save(path / "sixteen-bit.png")
    good.add("sixteen-bit.png")
    palette = Image.new("P", (24, 24), 1)
    palette.putpalette([0, 0, 0, 0, 200, 0] + [0] * 762)
    palette.paste(0, (0, 0, 12, 24))  # left half index 0 = transparent
    palette.save(path / "sub" / "palette-transparent.png", transparency=0)
    good.add("palette-transparent.png")
    Image.new("RGBA", (24, 24), (0, 0, 255, 0)).save(path / "sub" / "clear-rgba.png")
    good.add("clear-rgba.png")
    Image.new("RGB", (24, 24), (9, 9, 9)).save(path / "frames.gif", save_all=True,
                                                 append_images=[Image.new("RGB", (24, 24), (250, 250, 250))])
    good.add("frames.gif")

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(buffer, "PNG")
    (path / "truncated.png").write_bytes(buffer.getvalue()[:60])
    Image.new("RGB", (1, 1), (0, 0, 0)).save(path / "one-pixel.png")
    (path / "notes.png").write_text("this is a text file, not an image\n")
    (path / "empty.png").write_bytes(b"")
    (path / "readme.txt").write_text("ignored: not an image extension")
    bad = {"truncated.png", "one-pixel.png", "notes.png", "empty.png"}
    if _can_link(path):
        os.symlink("missing.png", path / "gone.png")  # points nowhere
        os.symlink("loop.png", path / "loop.png")  # points at itself
        os.symlink("cycle-b.png", path / "sub" / "cycle-a.png")  # two links that point at each other
        os.symlink("cycle-a.png", path / "sub" / "cycle-b.png")
        os.symlink("missing.txt", path / "gone.txt")  # no image name: ignored like readme.txt
        os.symlink("sub", path / "linked-folder")  # linked folders are not followed
        os.symlink("missing.png", path / ".hidden-gone.png")  # hidden: skipped silently
        bad |= {"gone.png", "loop.png", "cycle-a.png", "cycle-b.png"}
    return path, good, bad


def _can_link(folder: Path) -> bool:
    """Whether symbolic links can be made here (Windows needs a privilege for them)."""
    try:
        os.symlink("probe-target", folder / ".link-probe")
    except (OSError, NotImplementedError):
        return False
    (folder / ".link-probe").unlink()
    return True


def captioned_folder(folder: Path, count: int = 4) -> Path:
    """Striped pictures (one twice as wide as high), some with caption files."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        width, height = (64, 32) if i == 0 else (32, 32)
        picture = np.full((height, width, 3), (200, 40 * i, 30), np.uint8)
        picture[::4] = 20
        Image.fromarray(picture).save(folder / f"stripes-{i}.png")
    (folder / "stripes-1.txt").write_text("red stripes, shiny, flat\n", encoding="utf-8")
    return folder
