"""Per-word attention maps over the canvas's x̂0 view (DAAM, recorded by engine/inspect/attention_maps.py): a combo to pick a
word of the prompt, and that word's map at the shown step laid over the picture in heat colours. The result (x_0,
after the last step) gets the mean of the kept steps' maps, as ``--attention-maps`` draws it. Hidden for runs without
maps. Pictures are made here on the GUI thread, only when the step or the word changes."""

from __future__ import annotations

from typing import Callable

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from ddpm_studio.engine.inspect.attention_export import overlay, stretched

OPACITY = 0.55
WORD_TIP = (
    "Where the model looked for this word of the prompt at the shown step (DAAM: its cross-attention summed over "
    "layers and heads), laid over the first image in heat colours, stretched from the least to the most attended "
    "place. On the result: the mean over the run. A random test model's maps look like noise."
)


def word_map(event, word: int, frames: Callable[[], list]) -> np.ndarray | None:
    """``word``'s map (latent size, uint8) at ``event``, stretched; for the result, the mean over the kept steps."""
    if event.attention is not None:
        return stretched(event.attention[word])
    if not event.final:
        return None
    steps = [f.attention[word].astype(np.float32) for f in frames()
             if f.attention is not None and word < len(f.attention)]
    return stretched(np.mean(steps, axis=0)) if steps else None


class AttentionOverlay(QWidget):
    """"Attention [none | red | cat]". ``laid_over`` draws the picked word's map over a batch of x̂0 previews."""

    changed = Signal()  # another word picked: redraw

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel("Attention")
        self.combo = QComboBox()
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.combo.setToolTip(WORD_TIP)
        self.label.setToolTip(WORD_TIP)
        self.combo.currentIndexChanged.connect(self._picked)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.combo, 1)
        self.words: tuple[str, ...] = ()
        self._cache: tuple = (None, None, None)  # (event, word, its map): made once per step and word
        self._wanted = ""  # the word last picked, picked again in the next runs that have it
        self.combo.addItem("none", None)
        self.setVisible(False)

    def clear(self) -> None:
        """A new run: no words until its first step with maps."""
        self.set_words(())

    def set_words(self, words: tuple[str, ...]) -> None:
        """The shown run's words; the word last picked is picked again when they have it."""
        if tuple(words) == self.words:
            return
        self.words = tuple(words)
        self._cache = (None, None, None)
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItem("none", None)
        for number, word in enumerate(self.words):
            repeat = self.words[:number].count(word)
            self.combo.addItem(word if not repeat else f"{word} ({repeat + 1})", number)
        self.combo.setCurrentIndex(max(0, self.combo.findText(self._wanted)) if self._wanted else 0)
        self.combo.blockSignals(False)
        self.setVisible(bool(self.words))

    def _picked(self) -> None:
        self._wanted = self.combo.currentText() if self.picked() is not None else ""
        self.changed.emit()

    def picked(self) -> int | None:
        """The picked word's position in the prompt; None for "none"."""
        return self.combo.currentData()

    def pick(self, word: str) -> None:
        self.combo.setCurrentIndex(max(0, self.combo.findText(word)))

    def shown_map(self) -> np.ndarray | None:
        """The map last laid over the picture (latent size, stretched), None when there was none."""
        return self._cache[2] if self.picked() is not None else None

    def laid_over(self, event, x0: np.ndarray, frames: Callable[[], list]) -> np.ndarray:
        """``x0`` (batch × H × W × 3) with the picked word's map over its first image; as it was when none is picked
        or this step has no map."""
        word = self.picked()
        if word is None or not self.words:
            return x0
        if self._cache[0] is not event or self._cache[1] != word:
            self._cache = (event, word, word_map(event, word, frames))
        heat = self._cache[2]
        if heat is None:
            return x0
        shown = x0.copy()
        shown[0] = overlay(heat, x0[0], OPACITY)
        return shown
