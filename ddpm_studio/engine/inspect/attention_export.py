"""Per-word attention maps as pictures, as ``--attention-maps DIR`` writes them. No torch, no Qt.

``DIR/<word>.png``: the word's map over the whole run (the mean of its per-step maps), as a heat map laid over the
result; ``DIR/steps/<word>-NNNN.png``: the map of step NNNN in heat colours alone. Each picture is stretched from its
own least to its most attended pixel, so that where a word looks shows however evenly it spreads (a random test
model's maps are nearly flat, and then show noise). A word that comes twice gets ``-2``, ``-3``… Heat colours:
black → red → yellow → white.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ddpm_studio.engine.events import StepEvent

HEAT = np.array([[0, 0, 0], [128, 0, 32], [230, 40, 0], [255, 200, 0], [255, 255, 255]], np.float32)


def heat_colours(values: np.ndarray) -> np.ndarray:
    """uint8 (h, w) → uint8 (h, w, 3) along the heat colours."""
    position = values.astype(np.float32) / 255.0 * (len(HEAT) - 1)
    low = np.clip(np.floor(position).astype(int), 0, len(HEAT) - 2)
    part = (position - low)[..., None]
    return np.round(HEAT[low] * (1 - part) + HEAT[low + 1] * part).astype(np.uint8)


def stretched(values: np.ndarray) -> np.ndarray:
    """A map from its minimum (0) to its maximum (255); a flat map stays 0."""
    values = values.astype(np.float32)
    low, span = float(values.min()), float(values.max() - values.min())
    return np.round((values - low) / span * 255).astype(np.uint8) if span > 0 else np.zeros(values.shape, np.uint8)


def overlay(word_map: np.ndarray, image: np.ndarray, opacity: float = 0.6) -> np.ndarray:
    """A map (latent size) enlarged to ``image``'s size and blended over it as heat colours."""
    height, width = image.shape[:2]
    big = np.asarray(Image.fromarray(word_map).resize((width, height), Image.Resampling.BILINEAR))
    return np.round(image * (1 - opacity) + heat_colours(big) * opacity).astype(np.uint8)


def file_names(words: tuple[str, ...]) -> list[str]:
    seen: dict[str, int] = {}
    names = []
    for word in words:
        safe = "".join(c if c.isalnum() or c in "-_'" else "_" for c in word) or "word"
        seen[safe] = seen.get(safe, 0) + 1
        names.append(safe if seen[safe] == 1 else f"{safe}-{seen[safe]}")
    return names


def export_attention(folder: str | Path, events: list[StepEvent], image: np.ndarray) -> list[Path]:
    """The files above for a finished run; ``image`` is its result (H, W, 3). Returns the per-word maps written."""
    steps = [e for e in events if e.attention is not None]
    if not steps:
        raise ValueError("the run recorded no attention maps")
    folder = Path(folder).expanduser()
    (folder / "steps").mkdir(parents=True, exist_ok=True)
    names = file_names(steps[0].attention_words)
    mean = np.mean([e.attention.astype(np.float32) for e in steps], axis=0)
    written = []
    for number, name in enumerate(names):
        path = folder / f"{name}.png"
        Image.fromarray(overlay(stretched(mean[number]), image)).save(path)
        written.append(path)
        for event in steps:
            step_map = np.asarray(Image.fromarray(stretched(event.attention[number])).resize(
                (image.shape[1] // 2, image.shape[0] // 2), Image.Resampling.BILINEAR))
            Image.fromarray(heat_colours(step_map)).save(folder / "steps" / f"{name}-{event.index + 1:04d}.png")
    return written
