"""Reading the pictures a job names (an edit's input, a mask, a control image), with errors that name the file."""

from __future__ import annotations

from PIL import Image

from ddpm_studio.engine.errors import ModelError


def open_rgb(path: str, label: str) -> Image.Image:
    try:
        with Image.open(path) as image:
            image.load()
            return image.convert("RGB")
    except FileNotFoundError:
        raise ModelError(f"The {label} {path} does not exist.") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ModelError(f"The {label} {path} cannot be read: {exc}") from None
