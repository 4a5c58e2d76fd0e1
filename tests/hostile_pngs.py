"""Hostile PNGs, built for real: what anyone can put in a folder of pictures (a crafted header, crafted text chunks,
symbolic links that loop). Each is small; none is a valid reason to stop reading the others."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

from PIL import Image, PngImagePlugin

DEEP = "[" * 100_000 + "]" * 100_000  # JSON nested past what Python's reader goes (RecursionError)
HUGE_SEED = 10**26  # A1111 writes any digits; SQLite stores 64 bits


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(path: Path, width: int = 50_000, height: int = 50_000) -> Path:
    """A 70-byte PNG whose header claims ``width``×``height`` RGB pixels (Pillow: DecompressionBombError)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"\0" * 16))
                           + _chunk(b"IEND", b""))
    return Path(path)


def text_png(path: Path, **chunks: str) -> Path:
    """A small real picture with these iTXt chunks."""
    info = PngImagePlugin.PngInfo()
    for key, value in chunks.items():
        info.add_itxt(key, value)
    Image.new("RGB", (16, 16), (200, 120, 40)).save(path, pnginfo=info)
    return Path(path)


def a1111_text(prompt: str, seed, negative: str = "") -> str:
    negative_line = f"\nNegative prompt: {negative}" if negative else ""
    return f"{prompt}{negative_line}\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: {seed}, Size: 16x16, Model: sd15"


def hostile_folder(folder: Path) -> dict[str, Path]:
    """A folder holding one of each hostile file, and two good pictures; their paths by name."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "bomb": bomb_png(folder / "bomb.png"),
        "deep": text_png(folder / "deep.png", ddpm_studio=DEEP),
        "deep_comfy": text_png(folder / "deep_comfy.png", prompt=DEEP),
        "big_seed": text_png(folder / "big_seed.png", parameters=a1111_text("a red barn", HUGE_SEED)),
        "good": text_png(folder / "good.png", parameters=a1111_text("a lighthouse at dusk", 99, "fog")),
        "also_good": text_png(folder / "zz_also_good.png", parameters=a1111_text("a windmill", 7)),
    }
    os.symlink("loop_b.png", folder / "loop_a.png")
    os.symlink("loop_a.png", folder / "loop_b.png")
    os.symlink(".", folder / "here")  # a link to the folder it is in
    files.update(loop_a=folder / "loop_a.png", loop_b=folder / "loop_b.png", here=folder / "here")
    return files
