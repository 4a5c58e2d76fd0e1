"""The Gallery tab's side: the chosen image large with its parameters, its stars and tags (kept in the index), and
what can be done with it — restore its parameters into its panel, send it to Edit, Upscale or the forward-process
explorer, make it again with a new seed, open its folder, copy it, move it to the trash — or, with two chosen,
compare them. The chosen picture and its parameters are read on a thread (a 2048² PNG takes a tenth of a second
to decode), as the thumbnails are; the GUI thread only shows them when they are ready."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ddpm_studio.engine.output.metadata import MetadataError, read_png_text
from ddpm_studio.engine.png.chunks import PARAMETERS_KEY
from ddpm_studio.ui.canvas.step_canvas import ImageView

ACTIONS = (("restore", "Restore parameters"), ("rerun", "Again, new seed"), ("edit", "Send to Edit"),
           ("upscale", "Send to Upscale"), ("explorer", "Forward process"), ("folder", "Open folder"),
           ("copy", "Copy image"), ("trash", "Move to trash"))


PREVIEW_MAX = 1024  # a larger picture is shown scaled to this (made on the thread, not at every paint)
SOURCES = {"a1111": "A1111", "comfyui": "ComfyUI", "invokeai": "InvokeAI", "ddpm-studio": "DDPM Studio"}


def indexed_text(row: dict) -> str:
    """What the index read from a picture without A1111's parameters text (ComfyUI's graph, InvokeAI's metadata)."""
    if not row.get("source") or row["source"] == "file":
        return "(no parameters in this file)"
    lines = [row.get("prompt") or ""]
    if row.get("negative"):
        lines.append(f"Negative prompt: {row['negative']}")
    fields = [f"{label}: {row[key]}" for key, label in (("steps", "Steps"), ("scheduler", "Sampler"),
                                                        ("guidance", "CFG scale"), ("seed", "Seed"),
                                                        ("model", "Model")) if row.get(key) not in (None, "")]
    lines.append(", ".join(fields) + f" (read from {SOURCES.get(row['source'], row['source'])}'s metadata)")
    return "\n".join(line for line in lines if line)


def load_preview(row: dict) -> tuple[QImage, str]:
    """The chosen picture (scaled down when large) and its parameters text; run off the GUI thread."""
    image = QImage(row["path"])
    if not image.isNull() and max(image.width(), image.height()) > PREVIEW_MAX:
        image = image.scaled(QSize(PREVIEW_MAX, PREVIEW_MAX), Qt.AspectRatioMode.KeepAspectRatio,
                             Qt.TransformationMode.SmoothTransformation)
    try:
        text = read_png_text(row["path"], (PARAMETERS_KEY,)).get(PARAMETERS_KEY) or indexed_text(row)
    except MetadataError as exc:
        text = f"{indexed_text(row)}\n({exc})"
    return image, text


class _PreviewSignals(QObject):
    ready = Signal(int, QImage, str)  # (which choice, the picture, its parameters)


class _PreviewJob(QRunnable):
    def __init__(self, number: int, row: dict, latest, signals: _PreviewSignals) -> None:
        super().__init__()
        self.number, self.row, self.latest, self.signals = number, row, latest, signals

    def run(self) -> None:
        if self.number != self.latest():  # chosen and left before its turn came (arrow keys held down)
            return
        image, text = load_preview(self.row)
        self.signals.ready.emit(self.number, image, text)


class GalleryDetails(QWidget):
    action_requested = Signal(str)  # one of ACTIONS' keys, for the chosen image
    rating_changed = Signal(int)
    tags_changed = Signal(list)
    compare_requested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.row: dict | None = None
        self._choice = 0  # counts the choices: a picture read for an earlier one is not shown
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._signals = _PreviewSignals(self)
        self._signals.ready.connect(self._preview_ready)
        self.view = ImageView()
        self.view.setMinimumSize(240, 240)
        self.name = QLabel("Choose an image")
        self.name.setWordWrap(True)
        self.parameters = QPlainTextEdit(readOnly=True)
        self.parameters.setMaximumHeight(120)
        self.stars = []
        stars_row = QHBoxLayout()
        stars_row.addWidget(QLabel("Stars"))
        for number in range(1, 6):
            star = QToolButton(text="☆")
            star.setToolTip(f"{number} star(s); click the highest again for none")
            star.clicked.connect(lambda _=False, n=number: self._star(n))
            self.stars.append(star)
            stars_row.addWidget(star)
        stars_row.addStretch(1)
        self.tags = QLineEdit(placeholderText="tags, comma-separated (search with tag:…)")
        self.tags.editingFinished.connect(self._tags_edited)
        self.buttons: dict[str, QPushButton] = {}
        grid = QGridLayout()
        for number, (key, text) in enumerate(ACTIONS):
            button = QPushButton(text)
            button.clicked.connect(lambda _=False, k=key: self.action_requested.emit(k))
            self.buttons[key] = button
            grid.addWidget(button, number // 2, number % 2)
        self.compare = QPushButton("Compare the two chosen")
        self.compare.clicked.connect(self.compare_requested.emit)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.name)
        layout.addWidget(self.parameters)
        layout.addLayout(stars_row)
        layout.addWidget(self.tags)
        layout.addLayout(grid)
        layout.addWidget(self.compare)
        self.show_row(None, chosen=0)

    def show_row(self, row: dict | None, chosen: int = 1) -> None:
        self.row = row
        self._choice += 1
        for button in self.buttons.values():
            button.setEnabled(row is not None)
        self.compare.setEnabled(chosen == 2)
        self.buttons["trash"].setEnabled(row is not None or chosen > 1)  # several go to the trash together
        self.buttons["trash"].setText(f"Move {chosen} to trash" if row is None and chosen > 1 else "Move to trash")
        self.tags.setEnabled(row is not None)
        if row is None:
            self.view.set_image(QImage())
            self.name.setText("Choose an image" if chosen == 0 else f"{chosen} images chosen")
            self.parameters.setPlainText("")
            self._show_stars(0)
            self.tags.setText("")
            return
        self.view.set_image(QImage())  # until the thread has read it
        self.name.setText(f"{Path(row['path']).name} — {row.get('width')}×{row.get('height')}")
        self.name.setToolTip(row["path"])
        self.parameters.setPlainText(indexed_text(row) if row.get("source") not in (None, "file") else "")
        self.pool.start(_PreviewJob(self._choice, row, lambda: self._choice, self._signals))
        ours = row.get("source") == "ddpm-studio"
        for key in ("restore", "rerun"):
            self.buttons[key].setEnabled(ours)
            self.buttons[key].setToolTip("" if ours else "Only pictures made by DDPM Studio carry the job that made "
                                                         "them; this one's parameters are shown above")
        self._show_stars(row.get("rating") or 0)
        self.tags.setText(row.get("tags") or "")

    def _preview_ready(self, number: int, image: QImage, text: str) -> None:
        if number == self._choice and self.row is not None:
            self.view.set_image(image)
            self.parameters.setPlainText(text)

    def wait(self, msecs: int = 30000) -> bool:
        """Let a picture being read finish (before the window closes)."""
        return self.pool.waitForDone(msecs)

    def _show_stars(self, rating: int) -> None:
        for number, star in enumerate(self.stars, 1):
            star.setText("★" if number <= rating else "☆")
            star.setEnabled(self.row is not None)

    def _star(self, number: int) -> None:
        if self.row is None:
            return
        rating = 0 if (self.row.get("rating") or 0) == number else number
        self.row = {**self.row, "rating": rating}
        self._show_stars(rating)
        self.rating_changed.emit(rating)

    def _tags_edited(self) -> None:
        if self.row is not None and self.tags.text() != (self.row.get("tags") or ""):
            tags = [t.strip() for t in self.tags.text().split(",") if t.strip()]
            self.row = {**self.row, "tags": ", ".join(tags)}
            self.tags_changed.emit(tags)
