"""A parameter grid's cells as the grid they are: the X values across the top, the Y values down the left, one
page per Z value (a chooser above). Each cell shows its run's predicted x0 (or x_t) at the step the panel says —
live while it runs, then wherever the scrubber is — with the step under it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QGridLayout, QHBoxLayout, QLabel, QStackedWidget, QVBoxLayout, QWidget

from ddpm_studio.engine.events import StepEvent
from ddpm_studio.engine.series.xyz_grid import Axis
from ddpm_studio.ui.canvas.step_canvas import ImageView
from ddpm_studio.ui.series.race_lanes import step_text
from ddpm_studio.ui.widgets.images import to_qimage

EMPTY_NOTE = "Choose a parameter and its values for X (and Y, Z) and run the grid: its cells appear here"
SHOWN = {"x0": "predicted x0", "x_t": "x_t"}


class GridCells(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.z_box = QComboBox()
        self.z_box.setToolTip("The Z value whose cells are shown")
        self.z_box.currentIndexChanged.connect(lambda i: self.pages.setCurrentIndex(max(0, i)))
        self.show_box = QComboBox()
        for key, label in SHOWN.items():
            self.show_box.addItem(label, key)
        self.show_box.setToolTip("Show each cell's prediction of the clean image, or the noisy sample itself")
        self.show_box.currentIndexChanged.connect(self._redraw)
        top = QHBoxLayout()
        top.addWidget(self.z_box)
        top.addStretch(1)
        top.addWidget(QLabel("Show"))
        top.addWidget(self.show_box)
        self.pages = QStackedWidget()
        self.note = QLabel(EMPTY_NOTE)
        self.note.setWordWrap(True)
        self.note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.pages.addWidget(self.note)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.pages, 1)
        self.views: list[ImageView] = []
        self.step_labels: list[QLabel] = []
        self.shown: list[StepEvent | None] = []  # the event each cell shows now
        self.z_box.setVisible(False)

    def set_grid(self, axes: list[Axis], coords: list[tuple[int, int, int]]) -> None:
        """New cells, one per run in ``coords`` order, each waiting for its run."""
        while self.pages.count():
            page = self.pages.widget(0)
            self.pages.removeWidget(page)
            if page is not self.note:
                page.setParent(None)
                page.deleteLater()
        axes = list(axes) + [Axis("", ("",))] * (3 - len(axes))
        self.z_box.blockSignals(True)
        self.z_box.clear()
        for value in axes[2].values if axes[2].name else ():
            self.z_box.addItem(axes[2].label(value))
        self.z_box.blockSignals(False)
        self.z_box.setVisible(bool(axes[2].name))
        grids = []
        for _ in axes[2].values:
            page = QWidget()
            grid = QGridLayout(page)
            grid.setContentsMargins(0, 0, 0, 0)
            grid.setSpacing(4)
            for x, value in enumerate(axes[0].values):
                grid.addWidget(_header(axes[0].label(value) if axes[0].name else ""), 0, x + 1)
                grid.setColumnStretch(x + 1, 1)
            for y, value in enumerate(axes[1].values):
                grid.addWidget(_header(axes[1].label(value) if axes[1].name else ""), 2 * y + 1, 0)
                grid.setRowStretch(2 * y + 1, 1)
            self.pages.addWidget(page)
            grids.append(grid)
        self.views, self.step_labels = [], []
        for x, y, z in coords:
            view, step = ImageView(), QLabel("waiting")
            view.setMinimumSize(48, 48)
            step.setStyleSheet("font-size: 9pt;")
            grids[z].addWidget(view, 2 * y + 1, x + 1)
            grids[z].addWidget(step, 2 * y + 2, x + 1)
            self.views.append(view)
            self.step_labels.append(step)
        self.shown = [None] * len(coords)
        self.pages.setCurrentIndex(0)

    def show_event(self, number: int, event: StepEvent, prefix: str = "") -> None:
        """Show ``event`` (a live step or a kept one) in cell ``number``."""
        if not 0 <= number < len(self.shown):
            return
        self.shown[number] = event
        self._draw(number)
        self.step_labels[number].setText(prefix + step_text(event))

    def _draw(self, number: int) -> None:
        event = self.shown[number]
        picture = None if event is None else getattr(event, self.show_box.currentData())
        if picture is None and event is not None:
            picture = event.x0 if event.x0 is not None else event.x_t
        if picture is not None:
            self.views[number].set_image(to_qimage(picture[0]))

    def _redraw(self, *_) -> None:
        for number in range(len(self.shown)):
            self._draw(number)

    def set_state(self, number: int, text: str) -> None:
        if 0 <= number < len(self.step_labels):
            self.step_labels[number].setText(text)

    def clear_lane(self, number: int, text: str) -> None:
        """Cell ``number`` shows nothing, and says why (cancelled, failed)."""
        if 0 <= number < len(self.shown):
            self.shown[number] = None
            self.views[number].set_image(None)
            self.step_labels[number].setText(text)


def _header(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setStyleSheet("font-weight: bold;")
    return label
