"""Reading what a PNG says about itself — its text chunks and its size — from files anyone may have written: the
readers behind the gallery index, restoring parameters and ``info``. A hostile or damaged file gives an
``UnreadablePng`` whose message names the file and the problem in one sentence, never another exception:

- a header claiming more pixels than Pillow opens safely (a decompression bomb: 50,000×50,000 in a 68-byte file)
  is refused from the header alone; a large picture's pixels are not decoded just to find text after them;
- text nested deeper than Python's JSON reader goes (``[[[…`` 100,000 levels: a RecursionError) is damaged text.

No Qt, no torch.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class UnreadablePng(ValueError):
    """The file cannot be read as a picture, or one of its texts cannot be read; the message names the file."""


class NestedTooDeeply(UnreadablePng):
    """A JSON text nested deeper than Python's reader goes: crafted or damaged, never written by a tool."""


def claimed_size(path: str | Path) -> tuple[int, int] | None:
    """The width and height a PNG's header claims, read from its first 24 bytes; None if it is not a PNG."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(24)
    except OSError:
        return None
    if len(head) < 24 or not head.startswith(PNG_SIGNATURE) or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])


def _too_large(path: Path, exc: Exception) -> UnreadablePng:
    size = claimed_size(path)
    claim = f"its header claims {size[0]:,}×{size[1]:,} pixels" if size else f"it is too large ({exc})"
    return UnreadablePng(f"{path} was not read: {claim}, more than the {Image.MAX_IMAGE_PIXELS * 2:,} pixels "
                         "that are opened safely (a damaged file or a decompression bomb).")


def read_text(path: str | Path, keys: tuple[str, ...] = (),
              after_pixels: bool = True) -> tuple[dict[str, str], tuple[int, int]]:
    """The text chunks of the PNG at ``path`` and its size. The text before the pixels (where DDPM Studio, A1111,
    ComfyUI and InvokeAI write theirs) is read without decoding them; with ``after_pixels``, the pixels are decoded
    for the text after them when one of ``keys`` (any text, when none are named) is not found before, and the
    picture is not larger than Pillow reads without a warning."""
    path = Path(path)
    try:
        with Image.open(path) as image:
            text = {str(k): str(v) for k, v in image.info.items() if isinstance(v, str)}
            size = image.size
            wanted = after_pixels and not (keys and all(key in text for key in keys))
            limit = Image.MAX_IMAGE_PIXELS
            if wanted and image.format == "PNG" and (limit is None or size[0] * size[1] <= limit):
                image.load()  # text chunks after the image data come with the pixels
                text.update({str(k): str(v) for k, v in getattr(image, "text", {}).items()})
            return text, size
    except FileNotFoundError:
        raise UnreadablePng(f"{path}: no such file.") from None
    except Image.DecompressionBombError as exc:
        raise _too_large(path, exc) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise UnreadablePng(f"{path} is not a readable image: {exc}") from None


def load_json(raw: str, path: str | Path, what: str) -> Any:
    """``raw`` parsed as JSON; ``UnreadablePng`` naming ``path`` and ``what`` (e.g. "the DDPM Studio parameters")
    when it is not JSON, or ``NestedTooDeeply``."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise NestedTooDeeply(f"{path}: {what} could not be read: nested too deeply (damaged or crafted "
                              "text).") from None
    except ValueError as exc:  # JSONDecodeError, and a number of more than 4,300 digits
        raise UnreadablePng(f"{path}: {what} could not be read: damaged ({exc}).") from None
