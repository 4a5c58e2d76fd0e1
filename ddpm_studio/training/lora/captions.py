"""Captions for LoRA training, read as kohya's sd-scripts reads them: each image's caption is the text file beside it
with the same stem (``cat.png`` → ``cat.txt``). An image without one gets the caption template with the trigger
word (``a photo of {trigger}``); a sidecar caption that does not name the trigger gets it in front, as its first tag.
A caption file without an image, an empty or unreadable one, or a folder named like one, is reported by name (its
image falls back to the template, so nothing is lost).

Per step a caption may be dropped (kohya's ``caption_dropout_rate``: the empty prompt, which keeps the model's
unconditional output in shape) or have its comma-separated tags shuffled with the first ``keep_tags`` left in place
(``shuffle_caption`` / ``keep_tokens``). No torch here.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ddpm_studio.training.data import EXTENSIONS, DataError

CAPTION_SUFFIX = ".txt"
DEFAULT_TEMPLATE = "a photo of {trigger}"


@dataclass(frozen=True)
class CaptionOptions:
    template: str = DEFAULT_TEMPLATE
    trigger: str = ""
    dropout: float = 0.0  # the chance that a step trains an image with the empty caption
    shuffle_tags: bool = False
    keep_tags: int = 0  # with shuffling: how many leading tags stay where they are


def sidecar(image: Path) -> Path:
    return image.with_suffix(CAPTION_SUFFIX)


def template_caption(options: CaptionOptions) -> str:
    if "{trigger}" in options.template and not options.trigger.strip():
        raise DataError(f"The caption template '{options.template}' needs a trigger word: set one, or give every "
                        "image a caption file.")
    return options.template.replace("{trigger}", options.trigger.strip()).strip()


def read_captions(images: list[Path], options: CaptionOptions) -> tuple[list[str], list[tuple[Path, str]]]:
    """Each image's caption, and the problems found (an empty caption file), each with the file it is about."""
    captions, problems = [], []
    fallback = None
    trigger = options.trigger.strip()
    for image in images:
        path = sidecar(image)
        text = None
        if path.is_file():
            try:
                text = _read_text(path)
            except OSError as exc:
                problems.append((path, f"cannot be read ({exc.strerror or exc}); the image is trained with the "
                                       "template caption instead"))
        elif path.exists():
            problems.append((path, "a folder, not a caption file; the image is trained with the template caption "
                                   "instead"))
        if text is not None and not text:
            problems.append((path, "an empty caption file; the image is trained with the template caption instead"))
        if not text:
            fallback = template_caption(options) if fallback is None else fallback
            captions.append(fallback)
            continue
        if trigger and trigger.lower() not in (t.strip().lower() for t in text.split(",")):
            text = f"{trigger}, {text}"
        captions.append(text)
    return captions, problems


def _read_text(path: Path) -> str:
    """A caption file's text on one line; a file that is not UTF-8 is read as Latin-1 rather than refused."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return " ".join(text.split())


def orphan_captions(folder: Path) -> list[tuple[Path, str]]:
    """Caption files under ``folder`` with no image of the same stem beside them."""
    orphans = []
    for path in sorted(folder.rglob(f"*{CAPTION_SUFFIX}")):
        if path.name.startswith(".") or path.is_dir():  # a folder named like one (beside its picture: read_captions)
            continue
        if not any(path.with_suffix(ext).exists() or path.with_suffix(ext.upper()).exists() for ext in EXTENSIONS):
            orphans.append((path, "a caption file without an image of the same name"))
    return orphans


def tags(caption: str) -> list[str]:
    return [t.strip() for t in caption.split(",") if t.strip()]


def tag_frequency(folder: Path, captions: list[str]) -> str:
    """kohya's ``ss_tag_frequency``: JSON of the folder's name → tag → how many captions have it."""
    counts = Counter(tag for caption in captions for tag in dict.fromkeys(tags(caption)))
    return json.dumps({folder.name: dict(counts.most_common())}, ensure_ascii=False)


def step_caption(caption: str, options: CaptionOptions, rng: random.Random) -> str:
    """The caption one step trains with: maybe dropped, maybe its tags shuffled (the first ``keep_tags`` kept)."""
    if options.dropout and rng.random() < options.dropout:
        return ""
    if not options.shuffle_tags:
        return caption
    parts = tags(caption)
    kept, rest = parts[:options.keep_tags], parts[options.keep_tags:]
    rng.shuffle(rest)
    return ", ".join(kept + rest)
