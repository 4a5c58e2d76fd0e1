"""A noise schedule as curves over t = 0 … T − 1 (diffusers' timesteps): ᾱ_t (0 … 1), β_t (scaled to its maximum)
and log₁₀ SNR (its own range), with a dashed marker at the t being looked at and that t written above it."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from ddpm_studio.ui.widgets.plot_frame import framed

COLOURS = {"alpha_bar": QColor(40, 120, 220), "beta": QColor(220, 120, 30), "log10_snr": QColor(60, 160, 80)}
LABELS = {"alpha_bar": "ᾱ_t", "beta": "β_t (÷ max)", "log10_snr": "log₁₀ SNR"}
LEGEND_HEIGHT = 18  # the legend row at the top
MARKER_ROW = 18  # the row between the legend and the plot where the current t is written
AXIS_HEIGHT = 20  # the row under the plot for its end labels


class SchedulePlot(QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.curves: dict[str, np.ndarray] = {}
        self.t = 0
        self.setMinimumSize(240, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def sizeHint(self) -> QSize:
        return QSize(480, 196)

    def set_curves(self, curves: dict[str, np.ndarray]) -> None:
        self.curves = curves
        self.update()

    def set_t(self, t: int) -> None:
        self.t = t
        self.update()

    def steps(self) -> int:
        """T, the number of timesteps the curves cover (t = 0 … T − 1); 0 without curves."""
        return len(next(iter(self.curves.values()))) if self.curves else 0

    def plot_area(self) -> QRectF:
        return QRectF(self.rect()).adjusted(10, 4 + LEGEND_HEIGHT + MARKER_ROW, -10, -AXIS_HEIGHT)

    def x_of(self, t: float) -> float:
        """The x of timestep t: t = 0 at the area's left edge, t = T − 1 at its right edge."""
        area = self.plot_area()
        return area.left() + t / max(self.steps() - 1, 1) * area.width()

    def end_labels(self) -> tuple[str, str]:
        """What the axis says at its two ends: the first and the last timestep."""
        return "t = 0", f"t = {self.steps() - 1}"

    def marker_label(self) -> str:
        return f"t = {self.t}"

    def marker_label_rect(self) -> QRectF:
        """Where the current t is written: just above the plot area, centred on the marker, kept inside the widget."""
        width = self.fontMetrics().horizontalAdvance(self.marker_label()) + 8
        left = min(max(self.x_of(self.t) - width / 2, 0.0), self.width() - width)
        return QRectF(left, self.plot_area().top() - MARKER_ROW, width, MARKER_ROW)

    def normalised(self, name: str) -> tuple[np.ndarray, float, float]:
        values = self.curves[name]
        low, high = (0.0, 1.0) if name == "alpha_bar" else (float(values.min()), float(values.max()))
        if name == "beta":
            low = 0.0
        span = high - low if high > low else 1.0
        return (values - low) / span, low, high

    def paintEvent(self, _event) -> None:
        area = self.plot_area()
        painter, text = framed(self, area)
        if not self.curves:
            return
        self._draw_curves(painter, area)
        self._draw_marker(painter, area, text)
        axis = QRectF(area.left(), area.bottom() + 2, area.width(), AXIS_HEIGHT - 4)
        painter.setPen(text)
        first, last = self.end_labels()
        painter.drawText(axis, Qt.AlignmentFlag.AlignLeft, first)
        painter.drawText(axis, Qt.AlignmentFlag.AlignRight, last)

    def _draw_curves(self, painter: QPainter, area: QRectF) -> None:
        legend_x = area.left()
        for name in self.curves:
            scaled, low, high = self.normalised(name)
            path = QPainterPath()
            for t, v in enumerate(scaled):
                point = QPointF(self.x_of(t), area.bottom() - v * area.height())
                path.moveTo(point) if t == 0 else path.lineTo(point)
            painter.setPen(QPen(COLOURS[name], 2))
            painter.drawPath(path)
            label = f"{LABELS[name]} {low:.3g} … {high:.3g}" if name == "log10_snr" else LABELS[name]
            painter.drawText(QRectF(legend_x, 2, 200, LEGEND_HEIGHT), Qt.AlignmentFlag.AlignLeft, label)
            legend_x += 150

    def _draw_marker(self, painter: QPainter, area: QRectF, text: QColor) -> None:
        x = self.x_of(self.t)
        painter.setPen(QPen(text, 1, Qt.PenStyle.DashLine))
        painter.drawLine(QPointF(x, area.top()), QPointF(x, area.bottom()))
        painter.setPen(text)
        painter.drawText(self.marker_label_rect(), Qt.AlignmentFlag.AlignCenter, self.marker_label())
