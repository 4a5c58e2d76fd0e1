"""A race's lanes side by side: per lane its name (after a swatch of its plot colour), which step is shown, x_t
above and the predicted x0 below. The panel says what to show (a live step, a scrubbed one, or a lane's state)."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QWidget

from ddpm_studio.engine.events import StepEvent
from ddpm_studio.ui.canvas.step_canvas import ImageView
from ddpm_studio.ui.series.race_plot import lane_colour
from ddpm_studio.ui.widgets.images import to_qimage

EMPTY_NOTE = "Choose two or more lanes and run the race: each lane appears here, side by side"


def step_text(event: StepEvent) -> str:
    if event.final:
        return f"the result, after {event.total} steps"
    noise = "" if event.noise_level is None else \
        f" · {'ᾱ_t' if event.noise_kind == 'alpha_bar' else 'σ_t'}={event.noise_level:.2g}"
    return f"step {event.index + 1}/{event.total}{noise}"


class LanesView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setHorizontalSpacing(6)
        self.titles: list[QLabel] = []
        self.step_labels: list[QLabel] = []
        self.x_t_views: list[ImageView] = []
        self.x0_views: list[ImageView] = []
        self.shown: list[StepEvent | None] = []  # the event each lane shows now
        self.note = QLabel(EMPTY_NOTE)
        self.note.setWordWrap(True)
        self.note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        x_t, x0 = QLabel("x_t"), QLabel("predicted\nx0")
        x_t.setToolTip("The noisy sample the model was given at this step")
        x0.setToolTip("The model's guess at the clean image, from this step")
        self.captions = (x_t, x0)
        self.grid.addWidget(x_t, 2, 0)
        self.grid.addWidget(x0, 3, 0)
        self.grid.addWidget(self.note, 0, 1, 4, 1)
        self.grid.setRowStretch(2, 1)
        self.grid.setRowStretch(3, 1)

    def set_lanes(self, labels: list[str]) -> None:
        """New columns, one per lane, each waiting for its run."""
        for widget in self.titles + self.step_labels + self.x_t_views + self.x0_views:
            self.grid.removeWidget(widget)
            widget.setParent(None)  # gone now, not at the next turn of the event loop
            widget.deleteLater()
        for column in range(1, self.grid.columnCount()):
            self.grid.setColumnStretch(column, 0)
        self.titles, self.step_labels, self.x_t_views, self.x0_views = [], [], [], []
        self.note.setVisible(not labels)
        for number, label in enumerate(labels):
            # the name in the palette's text colour, readable in either theme; the lane's colour (its line in the
            # plot) in a swatch before it
            title = QLabel(f'<span style="color: {lane_colour(number).name()}">■</span> <b>{escape(label)}</b>',
                           textFormat=Qt.TextFormat.RichText)
            title.setWordWrap(True)  # narrow columns wrap their name rather than clip it
            step = QLabel("waiting")
            step.setWordWrap(True)
            views = ImageView(), ImageView()
            for view in views:
                view.setMinimumSize(40, 40)  # eight lanes still fit a small window
            for row, widget in enumerate((title, step, *views)):
                self.grid.addWidget(widget, row, number + 1)
            self.grid.setColumnStretch(number + 1, 1)
            self.titles.append(title)
            self.step_labels.append(step)
            self.x_t_views.append(views[0])
            self.x0_views.append(views[1])
        self.shown = [None] * len(labels)

    def show_event(self, number: int, event: StepEvent, prefix: str = "") -> None:
        """Show ``event`` (a live step or a kept one) in lane ``number``."""
        if not 0 <= number < len(self.shown):
            return
        self.shown[number] = event
        if event.x_t is not None:
            self.x_t_views[number].set_image(to_qimage(event.x_t[0]))
        if event.x0 is not None:
            self.x0_views[number].set_image(to_qimage(event.x0[0]))
        self.step_labels[number].setText(prefix + step_text(event))

    def set_state(self, number: int, text: str) -> None:
        if 0 <= number < len(self.step_labels):
            self.step_labels[number].setText(text)

    def clear_lane(self, number: int, text: str) -> None:
        """Lane ``number`` shows nothing, and says why (cancelled, failed)."""
        if 0 <= number < len(self.shown):
            self.shown[number] = None
            self.x_t_views[number].set_image(None)
            self.x0_views[number].set_image(None)
            self.step_labels[number].setText(text)
